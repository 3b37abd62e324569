"""How fast do dkenv's database images start?

For each image: the median over N runs of the time from ``client.containers.run(..., detach=True)``
to the first successful ``SELECT 1`` from the host (psycopg2 / PyMySQL with the password, retried
every 20 ms), and of the time ``container.remove(force=True)`` takes. The images are built first
if missing (``dkenv.docker.images.build_image``, cached).

    python benchmarks/image_startup.py [--runs 7] [--engine postgres|mysql] [--image ENGINE=TAG]

Prints a table on stdout (progress on stderr). Every container started is removed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import docker  # noqa: E402

from dkenv.docker.images import LOCAL_TAGS, build_image  # noqa: E402

PASSWORD = "bench-pw"
POLL = 0.02
TIMEOUT = 30.0

SPECS = {
    "postgres": {
        "port": "5432/tcp",
        "env": {"POSTGRES_USER": "bench", "POSTGRES_PASSWORD": PASSWORD, "POSTGRES_DB": "bench_db"},
    },
    "mysql": {
        "port": "3306/tcp",
        "env": {
            "MYSQL_ROOT_PASSWORD": PASSWORD,
            "MYSQL_DATABASE": "bench_db",
            "MYSQL_USER": "bench",
            "MYSQL_PASSWORD": PASSWORD,
        },
    },
}


def _query(engine: str, port: int) -> None:
    if engine == "postgres":
        import psycopg2

        conn = psycopg2.connect(
            host="127.0.0.1",
            port=port,
            user="bench",
            password=PASSWORD,
            dbname="bench_db",
            connect_timeout=2,
        )
    else:
        import pymysql

        conn = pymysql.connect(
            host="127.0.0.1",
            port=port,
            user="bench",
            password=PASSWORD,
            database="bench_db",
            connect_timeout=2,
        )
    try:
        cur = conn.cursor()
        cur.execute("SELECT 1")
        assert cur.fetchone()[0] == 1
    finally:
        conn.close()


def one_run(client: docker.DockerClient, engine: str, image: str) -> tuple[float, float, float]:
    """Returns (seconds in containers.run, seconds to the first SELECT 1, seconds to remove)."""
    spec = SPECS[engine]
    container = None
    try:
        t0 = time.perf_counter()
        container = client.containers.run(
            image,
            detach=True,
            environment=spec["env"],
            ports={spec["port"]: ("127.0.0.1", None)},
            labels={"dkenv.benchmark": "image_startup"},
        )
        t_run = time.perf_counter() - t0
        container.reload()
        port = int(container.ports[spec["port"]][0]["HostPort"])
        last: Exception | None = None
        while True:
            try:
                _query(engine, port)
                break
            except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
                last = exc
                if time.perf_counter() - t0 > TIMEOUT:
                    logs = container.logs(tail=30).decode(errors="replace")
                    raise RuntimeError(
                        f"{image} not ready after {TIMEOUT} s: {last}\n{logs}"
                    ) from exc
                time.sleep(POLL)
        t_ready = time.perf_counter() - t0
        t1 = time.perf_counter()
        container.remove(force=True)
        container = None
        t_remove = time.perf_counter() - t1
        return t_run, t_ready, t_remove
    finally:
        if container is not None:
            container.remove(force=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--engine", choices=sorted(SPECS), action="append")
    parser.add_argument("--image", action="append", default=[], metavar="ENGINE=TAG")
    args = parser.parse_args(argv)

    client = docker.from_env()
    images = dict(LOCAL_TAGS)
    for item in args.image:
        engine, _, tag = item.partition("=")
        images[engine] = tag
    engines = args.engine or ["postgres", "mysql"]

    rows = []
    for engine in engines:
        image = images[engine]
        if image == LOCAL_TAGS[engine]:
            build_image(client, engine, progress=lambda line: print(line, file=sys.stderr))
        one_run(client, engine, image)  # warm-up (page cache, first use of the image)
        runs = []
        for i in range(args.runs):
            r = one_run(client, engine, image)
            print(
                f"{image} run {i + 1}: run() {r[0]:.3f} s, ready {r[1]:.3f} s, remove {r[2]:.3f} s",
                file=sys.stderr,
            )
            runs.append(r)
        ready = [r[1] for r in runs]
        rows.append(
            (
                image,
                statistics.median(r[0] for r in runs),
                statistics.median(ready),
                min(ready),
                max(ready),
                statistics.median(r[2] for r in runs),
            )
        )

    print(
        f"{'image':32} {'run()':>7} {'ready med':>10} {'min':>7} {'max':>7} {'remove':>7}   (seconds, {args.runs} runs)"
    )
    for image, t_run, med, lo, hi, rem in rows:
        print(f"{image:32} {t_run:7.3f} {med:10.3f} {lo:7.3f} {hi:7.3f} {rem:7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
