"""Datakit core benchmark: discover, deploy and validate generated datakits on sqlite_memory.

Generates real datakit packages of 30, 300 and 1000 tables (with foreign keys and
indexes), then times each phase (median of several runs) and ``dkenv --help``.  ``scan`` is
the table-first source scan (layout + ``ast`` pass over every module, no import) that
discovery runs before importing; ``scan %`` is its share of discovery (goal: under 5%).  Deploy is
also set against the bare execution of its own compiled DDL on a fresh database (the
statements ``dkenv.schema.compile_units`` gives, run one by one on one connection), and
the time per table at 1000 tables against the time per table at 300.  ``--engines postgres
mysql`` does the same on a throwaway server of each engine (a fresh database per run).

    python benchmarks/datakit_core.py [--runs 5] [--engines postgres mysql] [--server-runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SIZES = (30, 300, 1000)
PER_MODULE = 25


def generate(root: Path, n: int) -> Path:
    """A package ``gen_kit_<n>`` with n tables across modules; every table after the first
    has a foreign key to the previous one, an indexed column and a unique column."""
    pkg = root / f"kit{n}" / f"gen_kit_{n}"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    for start in range(0, n, PER_MODULE):
        lines = [
            "from datetime import datetime",
            "from sqlalchemy import text",
            "from sqlmodel import Field, SQLModel",
            "",
        ]
        for i in range(start, min(n, start + PER_MODULE)):
            fk = f'Field(foreign_key="gen.t{i - 1}.id", index=True)' if i else "Field(default=None, index=True)"
            lines += [
                f"class T{i}(SQLModel, table=True):",
                f'    __tablename__ = "t{i}"',
                '    __table_args__ = {"schema": "gen"}',
                "    id: int = Field(primary_key=True)",
                "    name: str = Field(max_length=80, index=True)",
                "    code: str = Field(max_length=20, unique=True)",
                "    amount: float | None = None",
                f"    parent_id: int | None = {fk}",
                '    created_at: datetime = Field(sa_column_kwargs={"server_default": text("now()")})',
                "",
            ]
        (pkg / f"m{start // PER_MODULE:03d}.py").write_text("\n".join(lines))
    return pkg.parent


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return time.perf_counter() - started, value


def bare_ddl(kit, url: str, spec_name: str) -> float:
    """Seconds to execute the deploy's own compiled DDL on the fresh database at ``url``."""
    import sqlalchemy as sa

    from dkenv.engines import get_engine
    from dkenv.schema import compile_units, kit_units

    engine = sa.create_engine(url)
    if spec_name == "sqlite":
        sa.event.listen(engine, "connect", lambda c, _r: c.execute("ATTACH DATABASE ':memory:' AS gen"))
    try:
        with engine.connect() as conn:
            statements = compile_units(kit_units(kit), conn.dialect, get_engine(spec_name))
            if spec_name != "sqlite":
                conn.exec_driver_sql("CREATE SCHEMA gen" if spec_name == "postgres" else "CREATE DATABASE gen")
                conn.commit()
            started = time.perf_counter()
            for sql in statements:
                conn.exec_driver_sql(sql)
            conn.commit()
            return time.perf_counter() - started
    finally:
        engine.dispose()


def run_once(path: Path) -> tuple[float, float, float, int]:
    import dkenv

    t_discover, kit = timed(lambda: dkenv.load_datakit(path))
    target = dkenv.get_target_config("sqlite_memory")
    t_deploy, _ = timed(lambda: dkenv.deploy_data_objects(kit, target))
    t_validate, result = timed(lambda: dkenv.validate_deployment(kit, target))
    assert result.success, result.problems[:3]
    dkenv.cleanup_test_target(target)
    return t_discover, t_deploy, t_validate, len(kit.tables)


_FLOOR = """
import importlib, pkgutil, sys, time
import sqlmodel
sys.path.insert(0, sys.argv[1])
started = time.perf_counter()
pkg = importlib.import_module(sys.argv[2])
for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
    importlib.import_module(f"{sys.argv[2]}.{info.name}")
print(time.perf_counter() - started)
"""


def scan_time(path: Path) -> float:
    """The source scan discovery runs before any import: layout, ast pass, declarative bases."""
    from dkenv.datakit.layout import find_layout
    from dkenv.datakit.resolve import resolve_bases
    from dkenv.datakit.scan import scan_source

    started = time.perf_counter()
    layout = find_layout(path.resolve())
    scans = [scan_source(m.path) for m in layout.modules]
    resolve_bases(scans)
    assert sum(len(s.declarations) for s in scans) == int(path.name.removeprefix("kit"))
    return time.perf_counter() - started


def import_floor(path: Path, runs: int) -> float:
    """Plain ``import`` of the same package in a fresh interpreter: what discovery cannot beat."""
    package = next(p.name for p in path.iterdir() if p.is_dir())
    times = [float(subprocess.run([sys.executable, "-c", _FLOOR, str(path), package], check=True,
                                  capture_output=True, text=True).stdout) for _ in range(runs)]
    return statistics.median(times)


def help_time(runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "dkenv", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def deploy_vs_bare(label: str, deploys: dict[int, float], bares: dict[int, float]) -> None:
    """Print deploy/bare per size and the per-table growth from 300 to 1000 tables."""
    for n in sorted(deploys):
        print(f"  {label} {n:>5} tables: deploy {deploys[n]:.3f} s, bare DDL {bares[n]:.3f} s, "
              f"deploy/bare {deploys[n] / bares[n]:.2f}x (goal <= 3x)")
    if 300 in deploys and 1000 in deploys:
        growth = (deploys[1000] / 1000) / (deploys[300] / 300)
        bare_growth = (bares[1000] / 1000) / (bares[300] / 300)
        own = ((deploys[1000] - bares[1000]) / 1000) / ((deploys[300] - bares[300]) / 300)
        print(f"  {label} time per table at 1000 / at 300: {growth:.2f}x (goal <= 1.3x); the bare DDL's own: "
              f"{bare_growth:.2f}x; dkenv's share (deploy minus bare DDL): {own:.2f}x")


def server_figures(root: Path, engine: str, runs: int) -> None:
    """Deploy against bare DDL on a throwaway ``engine`` server, a fresh database per run."""
    import uuid

    import sqlalchemy as sa

    import dkenv
    from dkenv.config import Target
    from dkenv.servers.runtime import release

    deploys: dict[int, float] = {}
    bares: dict[int, float] = {}
    with dkenv.ephemeral(engine) as server:
        admin = sa.create_engine(server.url, isolation_level="AUTOCOMMIT")

        def fresh() -> str:
            name = f"bench_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                if engine == "mysql":
                    conn.exec_driver_sql("DROP DATABASE IF EXISTS gen")
                conn.exec_driver_sql(f"CREATE DATABASE {name}")
            return sa.engine.make_url(server.url).set(database=name).render_as_string(hide_password=False)

        for n in (300, 1000):
            kit = dkenv.load_datakit(generate(root, n) if not (root / f"kit{n}").exists() else root / f"kit{n}")
            times, bare = [], []
            for _ in range(runs):
                target = Target(name="bench", db_type=engine, kind="url", url=fresh())
                t, _ = timed(lambda: dkenv.deploy_data_objects(kit, target))  # noqa: B023
                times.append(t)
                dkenv.cleanup_test_target(target)
                release(target)
                bare.append(bare_ddl(kit, fresh(), engine))
            deploys[n], bares[n] = statistics.median(times), statistics.median(bare)
        admin.dispose()
    deploy_vs_bare(engine, deploys, bares)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--engines", nargs="*", default=[], choices=["postgres", "mysql"])
    parser.add_argument("--server-runs", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES), help="sqlite_memory sizes")
    args = parser.parse_args()
    import dkenv

    with tempfile.TemporaryDirectory(prefix="dkenv-bench-") as tmp:
        root = Path(tmp)
        print(f"{'tables':>7} {'import floor':>13} {'discover':>10} {'scan':>8} {'scan %':>7} {'deploy':>10}"
              f" {'validate':>10} {'total':>10}  (median of {args.runs}, s)")
        deploys: dict[int, float] = {}
        bares: dict[int, float] = {}
        for n in args.sizes:
            path = generate(root, n)
            rows = [run_once(path) for _ in range(args.runs)]
            d, p, v = (statistics.median(r[i] for r in rows) for i in range(3))
            floor = import_floor(path, args.runs)
            scan = statistics.median(scan_time(path) for _ in range(args.runs))
            print(f"{n:>7} {floor:>13.3f} {d:>10.3f} {scan:>8.3f} {100 * scan / d:>6.1f}% {p:>10.3f}"
                  f" {v:>10.3f} {d + p + v:>10.3f}")
            kit = dkenv.load_datakit(path)
            deploys[n] = p
            bares[n] = statistics.median(bare_ddl(kit, "sqlite://", "sqlite") for _ in range(args.runs))
        deploy_vs_bare("sqlite_memory", deploys, bares)
        for engine in args.engines:
            server_figures(root, engine, args.server_runs)
    print(f"dkenv --help: {help_time(args.runs):.3f} s (median of {args.runs}, python -m dkenv)")


if __name__ == "__main__":
    main()
