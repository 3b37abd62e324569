"""The test loop as a suite feels it: a fresh database per test against the rollback pattern.

    python benchmarks/test_loop.py                          # postgres, mysql, sqlite; 20 and 220 tests
    python benchmarks/test_loop.py --engines postgres --sizes 20 120 --runs 3

One generated test file (each test inserts a row into the 13-table ``examples/bronze-pagila``
datakit and counts it) runs as whole ``pytest`` runs, median of ``--runs`` per size, under:

* ``dkenv``: the plugin's ``dkenv_engine`` (a fresh database per test) per engine;
* ``rollback``: what teams write by hand — a dkenv-started server used as a plain server,
  ``create_all`` once per session, and per test ``conn.begin()`` ... ``rollback()``;
* ``pytest-postgresql``: its ``postgresql_proc(load=[...])`` template and ``postgresql``
  fixture, where its package and a native ``pg_ctl`` exist and we are not root (``pg_ctl``
  refuses root); otherwise one skip line says why.

Per pattern it prints the per-test slope between the two sizes and the fixed cost (the
intercept: server, schema, pytest), then dkenv / rollback ratios from the same run, and the
hand-out p50/p95 of a direct loop over ``server.database(...)`` (request to a first query
answered, each database then written to and returned, like a test).

Goals (issue 17): per test ≤ 1.5× the rollback pattern on PostgreSQL and MySQL, SQLite
≤ 2 ms per test, session start ≤ the rollback pattern's + 0.3 s, hand-out p95 ≤ 2 ms.
Figures only, never asserted.  Images: DKENV_POSTGRES_IMAGE / DKENV_MYSQL_IMAGE.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "examples" / "bronze-pagila"
sys.path.insert(0, str(ROOT))

# The table every test writes to, found in the datakit as dkenv loads it.
_TABLE = '''
from dkenv.datakit import load_datakits
from dkenv.schema import all_tables

KIT = {kit!r}
COUNTRY = next(t for t in all_tables(load_datakits([KIT], requires=False)) if t.name == "country")
'''

DKENV_CONFTEST = _TABLE
DKENV_TEST = '''
import pytest
import sqlalchemy as sa
from conftest import COUNTRY, KIT

pytestmark = pytest.mark.dkenv(datakits=[KIT])


@pytest.mark.parametrize("i", range({n}))
def test_insert_count(dkenv_engine, i):
    with dkenv_engine.begin() as conn:
        conn.execute(COUNTRY.insert().values(country_id=i + 1, country=f"c{{i}}"))
        assert conn.execute(sa.select(sa.func.count()).select_from(COUNTRY)).scalar() == 1
'''

ROLLBACK_CONFTEST = _TABLE + '''
import pytest
import sqlalchemy as sa
from dkenv.schema import all_tables


@pytest.fixture(scope="session")
def engine():
    """A plain server (dkenv only starts the container), the schema created once."""
    from dkenv.databases import SqliteServer
    from dkenv.servers.lifecycle import start

    engine_name = {engine!r}
    server = SqliteServer() if engine_name == "sqlite" else start(engine_name, progress=False)
    tables = all_tables(load_datakits([KIT], requires=False))
    schemas = sorted({{t.schema for t in tables if t.schema}})
    if engine_name == "sqlite":
        url = server.url.rsplit("/", 1)[0] + "/main.db"
        eng = sa.create_engine(url)

        @sa.event.listens_for(eng, "connect")
        def _attach(dbapi_conn, _record):
            dbapi_conn.create_function("now", 0, lambda: "2024-01-01 00:00:00")  # the models' default
            for s in schemas:
                dbapi_conn.execute(f"ATTACH DATABASE '{{url[10:]}}.{{s}}.db' AS \\"{{s}}\\"")
    else:
        eng = sa.create_engine(server.url)
    with eng.begin() as conn:
        for s in schemas:
            if engine_name == "postgres":
                conn.exec_driver_sql(f'CREATE SCHEMA "{{s}}"')
            elif engine_name == "mysql":
                conn.exec_driver_sql(f"CREATE DATABASE `{{s}}`")
    tables[0].metadata.create_all(eng, tables=tables)
    yield eng
    eng.dispose()
    server.stop()


@pytest.fixture
def conn(engine):
    conn = engine.connect()
    tx = conn.begin()
    yield conn
    tx.rollback()
    conn.close()
'''
ROLLBACK_TEST = '''
import pytest
import sqlalchemy as sa
from conftest import COUNTRY


@pytest.mark.parametrize("i", range({n}))
def test_insert_count(conn, i):
    conn.execute(COUNTRY.insert().values(country_id=i + 1, country=f"c{{i}}"))
    assert conn.execute(sa.select(sa.func.count()).select_from(COUNTRY)).scalar() == 1
'''

PGPROC_CONFTEST = _TABLE + '''
import sqlalchemy as sa
from pytest_postgresql import factories


def load(host, port, user, dbname, password=None, **_):
    eng = sa.create_engine(f"postgresql+psycopg2://{{user}}:{{password or ''}}@{{host}}:{{port}}/{{dbname}}")
    with eng.begin() as conn:
        conn.exec_driver_sql('CREATE SCHEMA "br__pagila__public"')
    COUNTRY.metadata.create_all(eng)
    eng.dispose()


postgresql_proc = factories.postgresql_proc(load=[load])
postgresql = factories.postgresql("postgresql_proc")
'''
PGPROC_TEST = '''
import pytest
import sqlalchemy as sa
from conftest import COUNTRY


@pytest.mark.parametrize("i", range({n}))
def test_insert_count(postgresql, i):
    info = postgresql.info
    eng = sa.create_engine("postgresql+psycopg2://", creator=lambda: postgresql)
    with eng.begin() as conn:
        conn.execute(COUNTRY.insert().values(country_id=i + 1, country=f"c{{i}}"))
        assert conn.execute(sa.select(sa.func.count()).select_from(COUNTRY)).scalar() == 1
    assert info.dbname
'''


def write_suite(root: Path, pattern: str, engine: str, n: int) -> Path:
    """A directory with a conftest and ``n`` tests of ``pattern`` on ``engine``."""
    directory = root / f"{pattern}-{engine}-{n}"
    directory.mkdir(parents=True, exist_ok=True)
    conftest, test = {"dkenv": (DKENV_CONFTEST, DKENV_TEST), "rollback": (ROLLBACK_CONFTEST, ROLLBACK_TEST),
                      "pytest-postgresql": (PGPROC_CONFTEST, PGPROC_TEST)}[pattern]
    (directory / "conftest.py").write_text(conftest.format(kit=str(KIT), engine=engine))
    (directory / "test_loop_generated.py").write_text(test.format(n=n))
    return directory


def run_suite(directory: Path, engine: str, pattern: str) -> float:
    """Seconds of one whole ``pytest`` run of the directory (a failure aborts the benchmark)."""
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            "-p", "no:pytest_alembic", str(directory)]
    if pattern == "dkenv":
        args.append(f"--dkenv-engines={engine}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=directory, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{pattern} on {engine} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return elapsed


def measure(root: Path, patterns: list[tuple[str, str]], sizes: list[int],
            runs: int) -> dict[tuple[str, str], tuple[float, float]]:
    """(per-test seconds, fixed seconds) per (pattern, engine), from medians at both sizes.

    Runs are interleaved (every pattern and size once, then again) so that a load that
    drifts during the benchmark weighs on every pattern alike.
    """
    small, large = min(sizes), max(sizes)
    dirs = {(p, e, n): write_suite(root, p, e, n) for p, e in patterns for n in (small, large)}
    times: dict[tuple[str, str, int], list[float]] = {key: [] for key in dirs}
    for _ in range(runs):
        for (pattern, engine, n), directory in dirs.items():
            times[(pattern, engine, n)].append(run_suite(directory, engine, pattern))
    out = {}
    for pattern, engine in patterns:
        at_small = statistics.median(times[(pattern, engine, small)])
        at_large = statistics.median(times[(pattern, engine, large)])
        slope = (at_large - at_small) / (large - small)
        out[(pattern, engine)] = (slope, at_small - slope * small)
    return out


def pytest_postgresql_skip_reason() -> str | None:
    if importlib.util.find_spec("pytest_postgresql") is None:
        return "pytest-postgresql is not installed (pip install pytest-postgresql)"
    if shutil.which("pg_ctl") is None:
        return "no native pg_ctl on PATH (apt-get install postgresql; add /usr/lib/postgresql/N/bin)"
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return "running as root and pg_ctl refuses root (run the benchmark as a non-root user)"
    return None


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def handout_figures(engine: str, n: int, hold_s: float) -> tuple[float, float]:
    """p50/p95 ms from ``server.database(...)`` to a first query answered, over ``n`` hand-outs."""

    from dkenv.databases import SqliteServer
    from dkenv.datakit import load_datakits
    from dkenv.schema import all_tables
    from dkenv.servers.lifecycle import start

    country = next(t for t in all_tables(load_datakits([KIT], requires=False)) if t.name == "country")
    server = SqliteServer() if engine == "sqlite" else start(engine, progress=False)
    try:
        server.database(datakits=[KIT]).drop()  # the template / captured DDL, not timed
        times = []
        for i in range(n):
            started = time.perf_counter()
            db = server.database(datakits=[KIT])
            eng = db.create_engine()
            with eng.begin() as conn:
                conn.exec_driver_sql("SELECT 1")
                times.append(time.perf_counter() - started)
                conn.execute(country.insert().values(country_id=i + 1, country="c"))
            time.sleep(hold_s)  # the rest of a test body
            eng.dispose()
            db.drop()
    finally:
        server.stop()
    return pct(times, 0.5) * 1000, pct(times, 0.95) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="*", default=["postgres", "mysql", "sqlite"],
                        choices=["postgres", "mysql", "sqlite"])
    # 200 tests apart and 5 runs: on a loaded 2-core machine, 100 apart and 3 runs gave negative slopes.
    parser.add_argument("--sizes", type=int, nargs=2, default=[20, 220], metavar=("SMALL", "LARGE"))
    parser.add_argument("--runs", type=int, default=5, help="whole pytest runs per size (median)")
    parser.add_argument("--handouts", type=int, default=200, help="hand-outs timed per engine")
    parser.add_argument("--hold-ms", type=float, default=3.0, help="each hand-out's database is held this long")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    print(f"{'pattern':<28} {'per test':>10} {'fixed':>8}   (median of {args.runs} whole pytest runs, "
          f"{min(args.sizes)} and {max(args.sizes)} tests, bronze-pagila)", flush=True)
    patterns = [(p, e) for e in args.engines for p in ("dkenv", "rollback")]
    skip = pytest_postgresql_skip_reason() if "postgres" in args.engines else "postgres not selected"
    if skip is None:
        patterns.append(("pytest-postgresql", "postgres"))
    with tempfile.TemporaryDirectory(prefix="dkenv-loop-") as tmp:
        results = measure(Path(tmp), patterns, args.sizes, args.runs)
    for (pattern, engine), (slope, fixed) in results.items():
        print(f"{pattern + ', ' + engine:<28} {slope * 1000:>7.1f} ms {fixed:>6.2f} s", flush=True)
    if skip is not None and "postgres" in args.engines:
        print(f"{'pytest-postgresql, postgres':<28} skipped: {skip}", flush=True)
    print()
    for engine in args.engines:
        (d_slope, d_fixed), (r_slope, r_fixed) = results[("dkenv", engine)], results[("rollback", engine)]
        goal = f"dkenv {d_slope * 1000:.1f} ms/test, goal ≤ 2 ms" if engine == "sqlite" else "goal ≤ 1.5×"
        ratio = f"{d_slope / r_slope:.2f}×" if r_slope > 0 and d_slope > 0 else \
            "n/a (a slope ≤ 0: the load varied more than the tests cost; rerun with more --runs)"
        print(f"{engine:<9} dkenv / rollback per test: {ratio} ({goal}); "
              f"fixed: {d_fixed - r_fixed:+.2f} s (goal ≤ +0.30 s)", flush=True)
    print()
    for engine in args.engines:
        p50, p95 = handout_figures(engine, args.handouts, args.hold_ms / 1000)
        print(f"{engine:<9} hand-out to first query: p50 {p50:.2f} ms, p95 {p95:.2f} ms "
              f"({args.handouts} hand-outs, {args.hold_ms:g} ms held; goal p95 ≤ 2 ms)", flush=True)


if __name__ == "__main__":
    main()
