"""Per-test hand-out of an isolated database built from migrations vs one built from the models.

    python benchmarks/migrations_handout.py                          # sqlite, postgres, mysql; 200 each
    python benchmarks/migrations_handout.py --engines postgres --n 100 --hold-ms 50 --json

For examples/migrations-shop (three Alembic revisions), per engine: one factory, two pools
(``build="models"`` and ``build="migrations"``), warmed first (their one-time build is shown
apart).  Then ``--n`` rounds, each taking one database from each pool in alternating order,
timed from ``factory.database(...)`` to a connection that answered ``SELECT 1``; each is held
``--hold-ms`` with one row written (what a test does), then returned (recycled or dropped in
the background).  Printed: median and p95 of each, and the ratio migrations / models.
Goal (issue 20): the same figure within 10 %.  Figures, never asserted.
Container images: set DKENV_POSTGRES_IMAGE / DKENV_MYSQL_IMAGE (e.g. dkenv's local images).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SHOP = ROOT / "examples" / "migrations-shop"
BUILDS = ("models", "migrations")


def _handout(factory: Any, build: str, hold_s: float) -> float:
    started = time.perf_counter()
    db = factory.database([SHOP], build=build)
    engine = db.create_engine()
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
        elapsed = time.perf_counter() - started
        conn.exec_driver_sql("INSERT INTO customers (email, name) VALUES ('a@example.com', 'A')")
        conn.commit()
    engine.dispose()
    if hold_s:
        time.sleep(hold_s)  # the test body
    db.drop()
    return elapsed


def run_engine(engine: str, n: int, hold_s: float) -> dict[str, Any]:
    import dkenv
    from dkenv.databases import factory_for

    with dkenv.ephemeral(engine) as server:
        factory = factory_for(server)
        built = {build: factory.warm([SHOP], build=build) for build in BUILDS}
        for build in BUILDS:  # one untimed round each: connections, caches
            _handout(factory, build, hold_s)
        times: dict[str, list[float]] = {build: [] for build in BUILDS}
        for i in range(n):
            order = BUILDS if i % 2 == 0 else BUILDS[::-1]
            for build in order:
                times[build].append(_handout(factory, build, hold_s))
    result: dict[str, Any] = {"engine": engine, "n": n, "hold_ms": hold_s * 1000}
    for build in BUILDS:
        ms = sorted(t * 1000 for t in times[build])
        result[build] = {"build_s": round(built[build], 3), "p50_ms": round(statistics.median(ms), 2),
                         "p95_ms": round(ms[int(len(ms) * 0.95) - 1], 2)}
    result["ratio_p50"] = round(result["migrations"]["p50_ms"] / result["models"]["p50_ms"], 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default="sqlite,postgres,mysql")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--hold-ms", type=float, default=20.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = [run_engine(e.strip(), args.n, args.hold_ms / 1000) for e in args.engines.split(",") if e.strip()]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"{'engine':<9} {'build':<11} {'one-time build':>15} {'p50 ms':>8} {'p95 ms':>8}")
    for r in results:
        for build in BUILDS:
            f = r[build]
            print(f"{r['engine']:<9} {build:<11} {f['build_s']:>13.3f} s {f['p50_ms']:>8.2f} {f['p95_ms']:>8.2f}")
        print(f"{r['engine']:<9} migrations / models, median: {r['ratio_p50']:.2f}")


if __name__ == "__main__":
    main()
