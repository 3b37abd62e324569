"""Hand-out latency of isolated databases: how long a test waits for a fresh, deployed database.

    python benchmarks/handout.py                       # sqlite, postgres, mysql; 200 hand-outs each
    python benchmarks/handout.py --engines postgres --n 50 --hold-ms 20 --json

For a generated 50-table datakit (one schema, a foreign key chain, unique and composite
indexes, server defaults), per engine:

* cold start: the server's start (container, or SQLite's temp dir) and, separately, the
  one-time build (PostgreSQL template, MySQL first deploy + DDL capture, SQLite template);
* p50/p95 of ``--n`` hand-outs, each timed from ``factory.database(...)`` to a connection that
  answered ``SELECT 1``.  ``back-to-back`` releases each database at once (worst case: the
  pool refills no faster than the server builds); ``--hold-ms`` adds a run where each database
  is held that long, like a test body, so the pool refills ahead of demand;
* the ratio against starting a new container (median of ``--containers`` ``ephemeral`` starts);
* PostgreSQL only: CREATE DATABASE ... TEMPLATE with STRATEGY FILE_COPY vs WAL_LOG.

``--recycle drop`` times the plain design (every returned database dropped, a new one built:
template copy on PostgreSQL, DDL replay on MySQL) instead of resetting unchanged ones in place.

Goals (issue 4): PostgreSQL ≤ 50 ms median (≤ 100 ms p95), MySQL/MariaDB ≤ 200 ms median,
SQLite ≤ 20 ms; at least 20× faster than a new container.  Figures, never asserted.
Container images: set DKENV_POSTGRES_IMAGE / DKENV_MYSQL_IMAGE (e.g. dkenv's local images).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def write_datakit(root: Path, tables: int = 50, schema: str = "bench_wide") -> Path:
    """A datakit package with ``tables`` tables, realistic columns, indexes and a FK chain."""
    pkg = root / "bench_wide"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    lines = [
        "from datetime import datetime",
        "from decimal import Decimal",
        "from typing import Optional",
        "from sqlalchemy import Column, DateTime, Index, text",
        "from sqlmodel import Field, SQLModel",
        "",
    ]
    for i in range(tables):
        fk = (f"    parent_id: Optional[int] = Field(default=None, foreign_key='{schema}.t{i - 1:02d}.id', "
              "index=True)\n") if i else ""
        lines.append(f'''class T{i:02d}(SQLModel, table=True):
    __tablename__ = "t{i:02d}"
    __table_args__ = (Index("ix_t{i:02d}_name_code", "name", "code"), {{"schema": {schema!r}}})
    id: Optional[int] = Field(default=None, primary_key=True)
{fk}    name: str = Field(max_length=100)
    code: str = Field(max_length=20, unique=True)
    amount: Decimal = Field(default=0, max_digits=12, decimal_places=2)
    active: bool = True
    note: Optional[str] = Field(default=None, max_length=255)
    created_at: Optional[datetime] = Field(
        default=None, sa_column=Column(DateTime, server_default=text("CURRENT_TIMESTAMP")))
''')
    (pkg / "tables.py").write_text("\n".join(lines))
    return pkg


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def handouts(factory: Any, kit: Any, n: int, hold_s: float, writes: int, data: Any = None,
             first_table: int = 0, update_data: bool = False) -> list[float]:
    """Seconds from request to a connection that answered SELECT 1, for ``n`` hand-outs.

    Each "test" then writes one row into ``writes`` tables (a FK chain), so returned
    databases are dirty, as a test suite leaves them.
    """
    tables = [kit.metadata.tables[f"bench_wide.t{i:02d}"] for i in range(first_table, first_table + writes)]
    loaded = kit.metadata.tables["bench_wide.t00"]
    times: list[float] = []
    for _ in range(n):
        started = time.perf_counter()
        db = factory.database([kit], data=data)
        engine = db.create_engine()
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            times.append(time.perf_counter() - started)
            for i, table in enumerate(tables, start=first_table):
                row = {"id": 1, "name": "n", "code": f"c{i}", "amount": 1, "active": True}
                conn.execute(table.insert().values(**row, **({"parent_id": 1} if i else {})))
            if update_data:
                conn.execute(loaded.update().where(loaded.c.id == 1).values(note="changed"))
            conn.commit()
            if hold_s:
                time.sleep(hold_s)
        db.drop()
    factory.wait_for_drops()
    return times


def container_starts(engine: str, count: int) -> list[float]:
    import dkenv

    times = []
    for _ in range(count):
        started = time.perf_counter()
        with dkenv.ephemeral(engine, progress=False):
            times.append(time.perf_counter() - started)
    return times


def pg_strategies(builder: Any, count: int) -> dict[str, float]:
    """Median ms of CREATE DATABASE ... TEMPLATE per strategy (created, then all dropped)."""
    out = {}
    original = builder.strategy
    for strategy in ("WAL_LOG", "FILE_COPY"):
        builder.strategy = strategy
        names = [f"dk_strategy_{strategy.lower()}_{i}" for i in range(count)]
        times = []
        for name in names:
            started = time.perf_counter()
            builder.create(name)
            times.append(time.perf_counter() - started)
        for name in names:
            builder.drop(name)
        out[strategy] = statistics.median(times) * 1000
    builder.strategy = original
    return out


def bench_engine(engine: str, kit: Any, args: argparse.Namespace) -> dict[str, Any]:
    from dkenv.databases import DatabaseFactory, SqliteServer
    from dkenv.servers.lifecycle import start

    started = time.perf_counter()
    server = SqliteServer() if engine == "sqlite" else start(engine, progress=False)
    server_start = time.perf_counter() - started
    result: dict[str, Any] = {"engine": engine, "server_start_s": round(server_start, 3)}
    try:
        factory = DatabaseFactory(server.url, engine=engine, ready=args.ready, recycle=args.recycle)
        cold = factory.warm([kit])
        pool = factory.pool([kit])
        result["template_build_s"] = round(cold, 3)
        result["template_reused"] = bool(getattr(pool.builder, "template_reused", False))
        deadline = time.monotonic() + 120
        while len(pool._ready) < pool.ready_target and time.monotonic() < deadline:  # noqa: SLF001
            time.sleep(0.01)
        result["pool_filled_s"] = round(time.perf_counter() - started - server_start, 3)
        if engine != "sqlite":
            result["recycle"] = args.recycle
        runs = {"back_to_back": 0.0}
        if args.hold_ms:
            runs[f"hold_{args.hold_ms}ms"] = args.hold_ms / 1000
        for label, hold in runs.items():
            times = handouts(factory, kit, args.n, hold, args.writes)
            result[label] = {"p50_ms": round(pct(times, 0.5) * 1000, 1),
                             "p95_ms": round(pct(times, 0.95) * 1000, 1),
                             "max_ms": round(max(times) * 1000, 1)}
        result["recycled"] = pool.recycled
        if engine == "postgres" and args.strategies:
            result["pg_create_template_ms"] = {k: round(v, 1) for k, v in
                                               pg_strategies(pool.builder, args.strategies).items()}
        factory.close()
    finally:
        server.stop()
    if engine != "sqlite" and args.containers:
        starts = container_starts(engine, args.containers)
        median = statistics.median(starts)
        result["container_start_median_s"] = round(median, 3)
        best = min(result[k]["p50_ms"] for k in result if isinstance(result[k], dict) and "p50_ms" in result[k])
        result["speedup_vs_container"] = round(median * 1000 / max(best, 0.001), 1)
        result["speedup_vs_container_back_to_back"] = round(
            median * 1000 / max(result["back_to_back"]["p50_ms"], 0.001), 1)
    return result


def write_rows(directory: Path, rows: int) -> Path:
    """``--data-rows`` rows for table t00 as a CSV data file (the id and code keys unique)."""
    import csv

    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "bench_wide.t00.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "name", "code", "amount", "active", "note"])
        for i in range(1, rows + 1):
            writer.writerow([i, f"name {i}", f"c{i}", f"{i % 1000}.{i % 100:02d}", "true" if i % 2 else "false",
                             "" if i % 3 else f"note {i}"])
    return directory


def bench_data(engine: str, kit: Any, data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Hand-outs of databases whose template holds ``--data-rows`` rows (issue 12: <= 80 ms on PostgreSQL)."""
    from dkenv.databases import DatabaseFactory, SqliteServer
    from dkenv.servers.lifecycle import start

    server = SqliteServer() if engine == "sqlite" else start(engine, progress=False)
    result: dict[str, Any] = {"engine": engine, "data_rows": args.data_rows}
    try:
        factory = DatabaseFactory(server.url, engine=engine, ready=args.ready)
        result["build_with_data_s"] = round(factory.warm([kit], data=[data_dir]), 3)
        runs = {"back_to_back": 0.0}
        if args.hold_ms:
            runs[f"hold_{args.hold_ms}ms"] = args.hold_ms / 1000
        # Each test writes rows into tables the data left empty (t01.., a FK to t00's rows), as most
        # tests do; the last run also updates a loaded row, so no returned copy can be kept.
        runs["data_row_updated"] = 0.0
        for label, hold in runs.items():
            times = handouts(factory, kit, args.n, hold, args.writes, data=[data_dir], first_table=1,
                             update_data=label == "data_row_updated")[1:]  # after the first
            result[label] = {"p50_ms": round(pct(times, 0.5) * 1000, 1),
                             "p95_ms": round(pct(times, 0.95) * 1000, 1)}
        result["recycled"] = factory.pool([kit], data=[data_dir]).recycled
        factory.close()
    finally:
        server.stop()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgres,mysql")
    parser.add_argument("--n", type=int, default=200, help="hand-outs per run")
    parser.add_argument("--hold-ms", type=int, default=50,
                        help="also time hand-outs held this long, like a test body (0: skip)")
    parser.add_argument("--ready", type=int, default=3, help="databases kept ready ahead")
    parser.add_argument("--writes", type=int, default=3, help="tables each hand-out writes a row into")
    parser.add_argument("--recycle", default="reset", choices=("reset", "drop"),
                        help="PostgreSQL/MySQL: reset returned databases in place, or drop and rebuild them")
    parser.add_argument("--containers", type=int, default=3, help="container starts to compare with")
    parser.add_argument("--strategies", type=int, default=10,
                        help="PostgreSQL: CREATE DATABASE per strategy to time (0: skip)")
    parser.add_argument("--tables", type=int, default=50)
    parser.add_argument("--data-rows", type=int, default=100_000,
                        help="also time hand-outs whose template holds this many rows (0: skip)")
    parser.add_argument("--data-engines", default="postgres", help="engines for the --data-rows run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from dkenv.datakit import load_datakit

    results = []
    with tempfile.TemporaryDirectory(prefix="dkenv-bench-") as tmp:
        kit = load_datakit(write_datakit(Path(tmp), tables=args.tables))
        for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
            results.append(bench_engine(engine, kit, args))
            if not args.json:
                print(json.dumps(results[-1], indent=2), file=sys.stderr)
        data_results = []
        if args.data_rows:
            data_dir = write_rows(Path(tmp) / "data", args.data_rows)
            for engine in [e.strip() for e in args.data_engines.split(",") if e.strip()]:
                data_results.append(bench_data(engine, kit, data_dir, args))
        results.extend(data_results)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"\n{args.tables}-table datakit, {args.n} hand-outs (request -> SELECT 1 answered), "
              f"ready={args.ready}, {args.writes} tables written per hand-out")
        for r in results[:len(results) - len(data_results)]:
            line = (f"{r['engine'] + ('/' + r['recycle'] if 'recycle' in r else ''):14} cold: server {r['server_start_s']:.2f}s + build {r['template_build_s']:.2f}s | "
                    f"back-to-back p50 {r['back_to_back']['p50_ms']} ms p95 {r['back_to_back']['p95_ms']} ms")
            for key, value in r.items():
                if key.startswith("hold_"):
                    line += f" | {key} p50 {value['p50_ms']} ms p95 {value['p95_ms']} ms"
            if "container_start_median_s" in r:
                line += (f" | container {r['container_start_median_s']:.2f}s -> "
                         f"{r['speedup_vs_container']}x ({r['speedup_vs_container_back_to_back']}x back-to-back)")
            if "pg_create_template_ms" in r:
                line += f" | CREATE DATABASE TEMPLATE ms {r['pg_create_template_ms']}"
            print(line)
        for r in data_results:
            line = (f"{r['engine']:8} with {r['data_rows']:,} rows: build {r['build_with_data_s']:.2f}s | "
                    f"hand-outs after the first: back-to-back p50 {r['back_to_back']['p50_ms']} ms "
                    f"p95 {r['back_to_back']['p95_ms']} ms")
            for key, value in r.items():
                if key.startswith("hold_") or key == "data_row_updated":
                    line += f" | {key} p50 {value['p50_ms']} ms p95 {value['p95_ms']} ms"
            line += f" | {r['recycled']} returned copies reused"
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
