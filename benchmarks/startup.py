"""How fast dkenv gets a throwaway database ready, and gets rid of it (a benchmark, not a test).

For each engine, on the same local image, in alternating order (so drift in the machine's load
hits every method alike), it measures

* floor           -- a bare Docker SDK ``containers.run`` plus a tight connect + ``SELECT 1`` loop
                     (2 ms pause, so the loop does not starve the container of one of two CPUs);
* dkenv           -- ``dkenv.ephemeral(engine)``: labels, reaping, readiness, removal;
* testcontainers  -- ``PostgresContainer`` / ``MySqlContainer`` (ryuk disabled: its image cannot be
                     pulled here; MySqlContainer waits for "ready for connections" once, as
                     dkenv's MariaDB image starts its server only once),

and prints the medians of time-to-ready (call -> first successful query) and time-to-removed
(removal call -> container gone), with the ratios against the goals of issue 3.  Then it
compares ``remove(force=True)`` with ``stop()`` + ``remove()``, and 8 concurrent ``start``s with one
(and with 8 concurrent bare SDK runs: the engine serialises part of every container start).

    python benchmarks/startup.py                      # both engines, 7 rounds
    python benchmarks/startup.py --engines postgres --rounds 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")
os.environ.setdefault("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
os.environ.setdefault("TC_HOST", "127.0.0.1")

IMAGES = {"postgres": "dkenv/postgres:15", "mysql": "dkenv/mysql:mariadb-10.11"}
GOALS = {"dkenv/floor": 1.1, "dkenv/testcontainers": 0.6, "removal_s": 1.0}
Sample = tuple[float, float]  # (seconds to ready, seconds to removed)


def _probe(engine: str) -> Callable[..., None]:
    from dkenv.docker.readiness import probe_for

    return probe_for(engine)


def floor(engine: str, image: str, *, graceful: bool = False) -> Sample:
    """The least any tool can do: run, find the port, connect until SELECT 1 works, remove."""
    from dkenv.docker.client import get_client
    from dkenv.engines import get_engine

    client, spec = get_client(), get_engine(engine)
    user, password, database = spec.default_user, "bench-pw", "dkenv"
    probe = _probe(engine)
    began = time.perf_counter()
    container = client.containers.run(
        image, detach=True,
        environment=spec.container_environment(user=user, password=password, database=database),
        ports={f"{spec.container_port}/tcp": ("127.0.0.1", None)},
    )
    try:
        container.reload()
        port = int(container.ports[f"{spec.container_port}/tcp"][0]["HostPort"])
        while True:
            try:
                probe("127.0.0.1", port, user, password, database, 5.0)
                break
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.002)
        ready = time.perf_counter() - began
    finally:
        began = time.perf_counter()
        if graceful:
            container.stop()
            container.remove(v=True)
        else:
            container.remove(force=True, v=True)
        removed = time.perf_counter() - began
    return ready, removed


def with_dkenv(engine: str, image: str) -> Sample:
    import dkenv

    began = time.perf_counter()
    with dkenv.ephemeral(engine, image=image, progress=False):
        ready = time.perf_counter() - began
        began = time.perf_counter()
    return ready, time.perf_counter() - began


def with_testcontainers(engine: str, image: str) -> Sample:
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    if engine == "postgres":
        from testcontainers.postgres import PostgresContainer

        container = PostgresContainer(image, driver="psycopg2")
    else:
        from testcontainers.mysql import MySqlContainer

        container = MySqlContainer(image, dialect="pymysql",
                                   wait_strategy_check_string=r".*ready for connections.*")
    began = time.perf_counter()
    container.start()
    ready = time.perf_counter() - began
    began = time.perf_counter()
    container.stop()
    return ready, time.perf_counter() - began


METHODS: dict[str, Callable[[str, str], Sample]] = {
    "floor": floor, "dkenv": with_dkenv, "testcontainers": with_testcontainers,
}


def concurrent_starts(engine: str, image: str, n: int = 8) -> float:
    """Wall time until ``n`` servers started at once are all ready (then removed, not timed)."""
    from dkenv.servers.lifecycle import start

    began = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        servers = list(pool.map(lambda _: start(engine, image=image, progress=False), range(n)))
    took = time.perf_counter() - began
    assert len({s.port for s in servers}) == n
    with ThreadPoolExecutor(n) as pool:
        list(pool.map(lambda s: s.stop(), servers))
    return took


def concurrent_floor(engine: str, image: str, n: int = 8) -> float:
    """The same with bare SDK runs: how much of the concurrent time is the engine's own."""
    began = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        list(pool.map(lambda _: floor(engine, image), range(n)))
    return time.perf_counter() - began  # includes the (parallel) removals: an upper bound


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run(engines: list[str], rounds: int, methods: list[str]) -> dict:
    results: dict = {}
    for engine in engines:
        image = IMAGES[engine]
        for name in methods:  # warm-up: imports, client, page cache; not counted
            METHODS[name](engine, image)
        samples: dict[str, list[Sample]] = {name: [] for name in methods}
        for i in range(rounds):
            order = methods[i % len(methods):] + methods[:i % len(methods)]  # rotate the order
            for name in order:
                samples[name].append(METHODS[name](engine, image))
                print(f"  {engine} round {i + 1}/{rounds} {name}: ready {samples[name][-1][0]:.3f} s",
                      file=sys.stderr)
        graceful = [floor(engine, image, graceful=True)[1] for _ in range(3)]
        one = median([s[0] for s in samples["dkenv"]]) if "dkenv" in samples else float("nan")
        eight = concurrent_starts(engine, image)
        eight_floor = concurrent_floor(engine, image)
        results[engine] = {
            name: {"ready_s": median([s[0] for s in rows]), "removed_s": median([s[1] for s in rows]),
                   "runs": len(rows)}
            for name, rows in samples.items()
        } | {"stop_then_remove_s": median(graceful), "eight_concurrent_s": eight, "one_s": one,
           "eight_concurrent_floor_s": eight_floor}
    return results


def report(results: dict) -> str:
    lines = [f"{'engine':9} {'method':15} {'ready p50':>10} {'removed p50':>12}"]
    for engine, r in results.items():
        for name in METHODS:
            if name in r:
                lines.append(f"{engine:9} {name:15} {r[name]['ready_s']:>9.3f}s "
                             f"{r[name]['removed_s']:>11.3f}s")
    lines.append("")
    for engine, r in results.items():
        parts = []
        if "floor" in r and "dkenv" in r:
            ratio = r["dkenv"]["ready_s"] / r["floor"]["ready_s"]
            parts.append(f"dkenv/floor {ratio:.2f} (goal <= {GOALS['dkenv/floor']})")
        if "testcontainers" in r and "dkenv" in r:
            ratio = r["dkenv"]["ready_s"] / r["testcontainers"]["ready_s"]
            parts.append(f"dkenv/testcontainers {ratio:.2f} (goal <= {GOALS['dkenv/testcontainers']})")
        if "dkenv" in r:
            parts.append(f"removal {r['dkenv']['removed_s']:.2f} s (goal < {GOALS['removal_s']:g} s)")
        lines.append(f"{engine}: " + "; ".join(parts))
        lines.append(f"{engine}: remove(force) {r.get('floor', {}).get('removed_s', float('nan')):.2f} s"
                     f" vs stop+remove {r['stop_then_remove_s']:.2f} s; 8 concurrent starts "
                     f"{r['eight_concurrent_s']:.2f} s vs one {r['one_s']:.2f} s "
                     f"({r['eight_concurrent_s'] / r['one_s']:.1f}x; 8 bare SDK runs incl. removal "
                     f"{r['eight_concurrent_floor_s']:.2f} s)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", default="postgres,mysql")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-testcontainers", action="store_true")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    methods = [m for m in METHODS if not (args.no_testcontainers and m == "testcontainers")]
    results = run([e.strip() for e in args.engines.split(",") if e.strip()], args.rounds, methods)
    print(json.dumps(results, indent=2) if args.json else report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
