"""How many statements and how long `validate_tables` takes, for 30 / 300 / 1000 tables.

Each table has a primary key, a unique column, an indexed column, a composite index and a
foreign key to the previous table. The script deploys them with `MetaData.create_all`, validates
once to warm SQLAlchemy's per-dialect caches, then counts statements (`before_cursor_execute`)
and takes the best of a few timed runs. For contrast, `--baseline` also measures SQLAlchemy's
table-by-table Inspector reflection on the same database.

    python benchmarks/validate_queries.py                 # SQLite only
    python benchmarks/validate_queries.py --native        # + PostgreSQL and MariaDB started from
                                                          #   the host's packages (tests/native_servers.py)
    python benchmarks/validate_queries.py --postgres-url postgresql+psycopg2://... \\
        --mysql-url mysql+pymysql://...                   # + existing servers (a scratch database
                                                          #   is created and dropped on each)

Prints figures; asserts nothing (goal: 300 tables on SQLite < 0.25 s, a constant statement count).
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dkenv.validate import validate_tables  # noqa: E402
from dkenv.validate.readers import reflect_generic  # noqa: E402

SIZES = (30, 300, 1000)


def build_tables(n: int, schema: str | None = None) -> sa.MetaData:
    md = sa.MetaData(schema=schema)
    for i in range(n):
        columns: list[sa.Column] = [
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("code", sa.String(20), nullable=False, unique=True),
            sa.Column("label", sa.String(50), index=True),
            sa.Column("amount", sa.Numeric(10, 2)),
            sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("active", sa.Boolean, nullable=False),
        ]
        if i:
            columns.append(sa.Column("parent_id", sa.Integer, sa.ForeignKey(f"t{i - 1}.id")))
        sa.Table(f"t{i}", md, *columns, sa.Index(f"ix_t{i}_label_created", "label", "created_at"))
    return md


def measure(engine: sa.Engine, call: Callable[[], object], runs: int = 3) -> tuple[int, float]:
    """(statements of one call, best wall time over `runs`)."""
    call()  # warm-up: per-dialect caches, first connection
    statements = 0

    def count(*_args) -> None:
        nonlocal statements
        statements += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        call()
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return statements, best


def baseline(engine: sa.Engine, tables: list[sa.Table]) -> Callable[[], object]:
    """SQLAlchemy's per-table reflection of the same facts, for comparison."""
    wanted: dict[str | None, list[str]] = {}
    for table in tables:
        wanted.setdefault(table.schema, []).append(table.name)

    def run() -> object:
        with engine.connect() as conn:
            default = conn.dialect.default_schema_name or "main"
            name = "mysql" if conn.dialect.name in ("mysql", "mariadb") else conn.dialect.name
            return reflect_generic(conn, wanted, default, name)

    return run


@contextmanager
def sqlite_engine() -> Iterator[sa.Engine]:
    engine = sa.create_engine("sqlite://", poolclass=StaticPool)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def scratch_database(url: str) -> Iterator[sa.Engine]:
    """A fresh database on an existing server, dropped afterwards."""
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"dkenv_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine = sa.create_engine(sa.make_url(url).set(database=name))
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            force = " WITH (FORCE)" if admin.dialect.name == "postgresql" else ""
            conn.exec_driver_sql(f"DROP DATABASE {name}{force}")
        admin.dispose()


def run_engine(
    label: str, make_engine: Callable[[], object], sizes: tuple[int, ...], with_baseline: bool
) -> None:
    for n in sizes:
        with make_engine() as engine:
            md = build_tables(n)
            start = time.perf_counter()
            ordered = list(md.sorted_tables)
            for chunk in range(0, n, 200):  # PostgreSQL's lock table is finite per transaction
                md.create_all(engine, tables=ordered[chunk : chunk + 200])
            deploy = time.perf_counter() - start
            tables = list(md.sorted_tables)
            problems = validate_tables(tables, engine)
            statements, best = measure(engine, lambda t=tables: validate_tables(t, engine))
            line = (
                f"{label:<9} {n:>5} tables  validate: {statements:>3} statements"
                f"  {best * 1000:8.1f} ms  problems={len(problems)}"
                f"  (create_all {deploy:6.1f} s)"
            )
            if with_baseline:
                base_statements, base_best = measure(engine, baseline(engine, tables), runs=1)
                line += (
                    f"  | per-table reflection: {base_statements} statements"
                    f" {base_best * 1000:.0f} ms"
                )
            print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument(
        "--native",
        action="store_true",
        help="start PostgreSQL and MariaDB from the host's packages",
    )
    parser.add_argument("--postgres-url")
    parser.add_argument("--mysql-url")
    parser.add_argument(
        "--baseline", action="store_true", help="also time SQLAlchemy's per-table reflection"
    )
    args = parser.parse_args()
    sizes = tuple(args.sizes)
    with ExitStack() as stack:
        pg_url, mysql_url = args.postgres_url, args.mysql_url
        if args.native:
            from tests.native_servers import native_mariadb, native_postgres

            pg_url = pg_url or stack.enter_context(native_postgres()).url()
            mysql_url = mysql_url or stack.enter_context(native_mariadb()).url()
        run_engine("sqlite", sqlite_engine, sizes, args.baseline)
        if pg_url:
            run_engine("postgres", lambda: scratch_database(pg_url), sizes, args.baseline)
        if mysql_url:
            run_engine("mariadb", lambda: scratch_database(mysql_url), sizes, args.baseline)


if __name__ == "__main__":
    main()
