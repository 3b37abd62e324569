"""How many drifts `validate_tables` catches, per engine: the battery of tests/drift_battery.py
is built with plain `create_all` in a fresh database, validated (false positives are counted),
then each drift is applied to its own fresh copy and counted as caught when a problem of the
expected kind is reported on the expected table.

    python benchmarks/validate_drift.py                   # SQLite only
    python benchmarks/validate_drift.py --native          # + PostgreSQL and MariaDB from the
                                                          #   host's packages (tests/native_servers.py)
    python benchmarks/validate_drift.py --postgres-url postgresql+psycopg2://... \\
        --mysql-url mysql+pymysql://...                   # + existing servers (scratch databases
                                                          #   are created and dropped)

Prints figures; asserts nothing (the tests assert every drift).
"""

from __future__ import annotations

import argparse
import sys
import uuid
import warnings
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.drift_battery import DRIFTS, apply, battery, caught, create_all, problems_of  # noqa: E402


@contextmanager
def fresh(engine_name: str, url: str | None) -> Iterator[tuple[list[sa.MetaData], sa.Engine]]:
    metadatas = battery(engine_name)
    if url is None:
        engine = sa.create_engine("sqlite://", poolclass=StaticPool)
        create_all(metadatas, engine)
        yield metadatas, engine
        engine.dispose()
        return
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"dkenv_drift_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine = sa.create_engine(sa.make_url(url).set(database=name))
    try:
        create_all(metadatas, engine)
        yield metadatas, engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            force = " WITH (FORCE)" if admin.dialect.name == "postgresql" else ""
            conn.exec_driver_sql(f"DROP DATABASE {name}{force}")
        admin.dispose()


def run(engine_name: str, url: str | None) -> None:
    with fresh(engine_name, url) as (metadatas, engine):
        false_positives = problems_of(metadatas, engine)
    n_caught, missed = 0, []
    for drift in DRIFTS[engine_name]:
        with fresh(engine_name, url) as (metadatas, engine):
            apply(engine, drift.ddl)
            found = problems_of(metadatas, engine)
        if caught(drift, found):
            n_caught += 1
        else:
            missed.append(drift.name)
    label = {"sqlite": "SQLite", "postgres": "PostgreSQL", "mysql": "MariaDB/MySQL"}[engine_name]
    print(f"{label:<14} drifts caught {n_caught:>2} / {len(DRIFTS[engine_name]):<2}"
          f"  false positives on the create_all database: {len(false_positives)}"
          + (f"  missed: {', '.join(missed)}" if missed else ""), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--native", action="store_true",
                        help="start PostgreSQL and MariaDB from the host's packages")
    parser.add_argument("--postgres-url")
    parser.add_argument("--mysql-url")
    args = parser.parse_args()
    warnings.simplefilter("ignore", sa.exc.SAWarning)
    with ExitStack() as stack:
        pg_url, mysql_url = args.postgres_url, args.mysql_url
        if args.native:
            from tests.native_servers import native_mariadb, native_postgres

            pg_url = pg_url or stack.enter_context(native_postgres()).url()
            mysql_url = mysql_url or stack.enter_context(native_mariadb()).url()
        run("sqlite", None)
        if pg_url:
            run("postgres", pg_url)
        if mysql_url:
            run("mysql", mysql_url)


if __name__ == "__main__":
    main()
