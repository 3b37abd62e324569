"""Data loading speed and memory: dkenv.data.load_data against plain SQLAlchemy inserts.

    python benchmarks/data_load.py                       # sqlite, postgres, mysql; 100k rows
    python benchmarks/data_load.py --engines postgres --rows 100000 --json
    python benchmarks/data_load.py --engines sqlite --rss-mb 500   # peak RSS on a 500 MB CSV

Per engine, for ``--rows`` rows of an 8-column table (int key, strings, a unique code,
decimal, boolean, date, timezone-aware timestamp, a nullable note) in one CSV file:

* ``dkenv``: ``load_data`` end to end — read the file, validate every row through the model,
  check keys, write (PostgreSQL ``COPY``, others executemany) in one transaction;
* ``baseline``: the same rows, already parsed into Python values (so the baseline does no
  reading or validation at all), written with ``insert().values(list)`` in statements of
  ``--batch`` rows, one transaction: what a hand-written loader does.

Both are rows/s; the ratio is dkenv / baseline.  Goal (issue 12): ≥ 5× on PostgreSQL.

``--rss-mb N`` also generates CSVs of 1 MB, N/4 MB and N MB in a temp dir (each deleted after
its run) and loads each into SQLite in a subprocess, printing that process's peak RSS: the
same figure for N/4 and N means memory does not grow with the file (bounded: up to 50,000 rows
in memory per file and 200,000 remembered keys per constraint, whatever the size).
Container images: DKENV_POSTGRES_IMAGE / DKENV_MYSQL_IMAGE (e.g. dkenv's local images).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KIT = '''
from datetime import date, datetime
from decimal import Decimal
from sqlalchemy import Column, DateTime
from sqlmodel import Field, SQLModel


class Item(SQLModel, table=True):
    __tablename__ = "item"
    id: int = Field(primary_key=True)
    name: str = Field(max_length=100)
    code: str = Field(max_length=20, unique=True)
    amount: Decimal = Field(max_digits=12, decimal_places=2)
    active: bool
    born: date | None = None
    created_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    note: str | None = Field(default=None, max_length=255)
'''
COLUMNS = ["id", "name", "code", "amount", "active", "born", "created_at", "note"]
EPOCH = datetime(2024, 1, 1, tzinfo=UTC)


def write_kit(root: Path) -> Path:
    pkg = root / "benchkit"
    pkg.mkdir(parents=True, exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text(KIT)
    return pkg


def row(i: int) -> list[Any]:
    return [i, f"name {i}", f"C{i:09d}", Decimal(i % 100000) / 100, i % 2 == 0,
            date(1950, 1, 1) + timedelta(days=i % 20000), EPOCH + timedelta(seconds=i),
            None if i % 3 else f"note, \"quoted\" {i}"]


def write_csv(path: Path, rows: int, start: int = 1) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(COLUMNS)
        for i in range(start, start + rows):
            values = row(i)
            values[4] = "true" if values[4] else "false"
            values[6] = values[6].isoformat()
            writer.writerow(["" if v is None else v for v in values])


def bench_engine(engine: str, kit: Any, data_dir: Path, rows: int, batch: int) -> dict[str, Any]:
    from sqlalchemy import delete

    from dkenv.config import Target
    from dkenv.data import load_data
    from dkenv.deploy import deploy_data_objects
    from dkenv.servers.lifecycle import start
    from dkenv.servers.runtime import release, runtime_for

    tmp = None
    server = None
    if engine == "sqlite":
        tmp = tempfile.TemporaryDirectory(prefix="dkenv-bench-sqlite-")
        url = f"sqlite:///{tmp.name}/bench.db"
    else:
        server = start(engine, progress=False)
        url = server.url
    target = Target(name=f"bench-{engine}", db_type=engine, kind="url", url=url)
    table = kit.tables[0]
    out: dict[str, Any] = {"engine": engine, "rows": rows}
    try:
        deploy_data_objects(kit, target, probe_defaults=False)
        rt = runtime_for(target)

        def empty() -> None:
            with rt.begin() as conn:
                conn.execute(delete(table))

        started = time.perf_counter()
        result = load_data(target, [data_dir], [kit])
        dkenv_s = time.perf_counter() - started
        assert result.rows == rows, result.rows
        empty()

        values = [dict(zip(COLUMNS, row(i))) for i in range(1, rows + 1)]
        started = time.perf_counter()
        with rt.begin() as conn:
            for i in range(0, rows, batch):
                conn.execute(table.insert().values(values[i:i + batch]))
        baseline_s = time.perf_counter() - started
        empty()
        out.update({
            "dkenv_rows_per_s": round(rows / dkenv_s), "dkenv_s": round(dkenv_s, 3),
            "baseline_rows_per_s": round(rows / baseline_s), "baseline_s": round(baseline_s, 3),
            "baseline_batch": batch, "ratio": round(baseline_s / dkenv_s, 2),
        })
    finally:
        release(target)
        if server is not None:
            server.stop()
        if tmp is not None:
            tmp.cleanup()
    return out


RSS_CHILD = '''
import sys
sys.path.insert(0, sys.argv[1])
from dkenv.config import Target
from dkenv.data import load_data
from dkenv.deploy import deploy_data_objects
from dkenv.datakit import load_datakit
kit = load_datakit(sys.argv[2])
target = Target(name="rss", db_type="sqlite", kind="url", url="sqlite:///" + sys.argv[4])
deploy_data_objects(kit, target, probe_defaults=False)
result = load_data(target, [sys.argv[3]], [kit])
# VmHWM: this process's own peak (ru_maxrss would carry the parent's peak across fork+exec)
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(result.rows, peak)
'''


def rss_run(kit_path: Path, data_dir: Path, db: Path) -> tuple[int, float]:
    out = subprocess.run([sys.executable, "-c", RSS_CHILD, str(ROOT), str(kit_path), str(data_dir), str(db)],
                         check=True, capture_output=True, text=True).stdout.split()
    return int(out[0]), int(out[1]) / 1024  # VmHWM is in kB


def bench_rss(kit_path: Path, size_mb: int) -> dict[str, Any]:
    per_row = 110  # bytes per CSV line, about
    with tempfile.TemporaryDirectory(prefix="dkenv-bench-rss-") as tmp:
        out: dict[str, Any] = {}
        for label, mb in (("small", 1), ("quarter", max(1, size_mb // 4)), ("large", size_mb)):
            d = Path(tmp) / label
            d.mkdir()
            write_csv(d / "item.csv", max(1, mb * (1 << 20) // per_row))
            size = (d / "item.csv").stat().st_size / (1 << 20)
            started = time.perf_counter()
            rows, rss = rss_run(kit_path, d, Path(tmp) / f"{label}.db")
            out[label] = {"file_mb": round(size, 1), "rows": rows, "peak_rss_mb": round(rss, 1),
                          "load_s": round(time.perf_counter() - started, 1)}
            (d / "item.csv").unlink()
            (Path(tmp) / f"{label}.db").unlink()
        return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgres,mysql")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000, help="rows per baseline INSERT statement")
    parser.add_argument("--rss-mb", type=int, default=0, help="also measure peak RSS loading a CSV this big")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from dkenv.datakit import load_datakit

    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="dkenv-bench-data-") as tmp:
        kit_path = write_kit(Path(tmp) / "kit")
        kit = load_datakit(kit_path)
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        write_csv(data_dir / "item.csv", args.rows)
        for engine in [e.strip() for e in args.engines.split(",") if e.strip()]:
            result = bench_engine(engine, kit, data_dir, args.rows, args.batch)
            results.append(result)
            if not args.json:
                print(f"{engine:8} {args.rows:,} rows: dkenv {result['dkenv_rows_per_s']:>9,} rows/s "
                      f"({result['dkenv_s']:.2f} s)  baseline insert().values(list) "
                      f"{result['baseline_rows_per_s']:>9,} rows/s ({result['baseline_s']:.2f} s)  "
                      f"ratio {result['ratio']:.1f}x", flush=True)
        if args.rss_mb:
            rss = bench_rss(kit_path, args.rss_mb)
            results.append({"rss": rss})
            if not args.json:
                for label, r in rss.items():
                    print(f"peak RSS, {label:7} CSV {r['file_mb']:>7.1f} MB ({r['rows']:,} rows, SQLite, "
                          f"{r['load_s']} s): {r['peak_rss_mb']:.0f} MB", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DKENV_POSTGRES_IMAGE", "dkenv/postgres:15")
    os.environ.setdefault("DKENV_MYSQL_IMAGE", "dkenv/mysql:mariadb-10.11")
    sys.exit(main())
