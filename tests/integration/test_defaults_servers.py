"""pg_dump-style server defaults deploy on every engine and fill an INSERT.

The table is written as Pagila's DDL writes it (``('now'::text)::date``, ``'G'::mpaa_rating``,
``'x'::character varying``); `dkenv.deploy_data_objects` carries each default to the engine
(rules: dkenv.engines, pinned in tests/unit/test_engines_defaults.py), and a row inserted with
only its key gets every default. Real SQLite, PostgreSQL and MariaDB servers.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa

import dkenv
from dkenv.config import Target
from dkenv.errors import DeployError
from tests.native_servers import NativeServer


def pagila_like(name: str) -> sa.Table:
    md = sa.MetaData()
    return sa.Table(
        name, md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("create_date", sa.Date, nullable=False, server_default=sa.text("('now'::text)::date")),
        sa.Column("day", sa.Date, server_default=sa.text("now()::date")),
        sa.Column("today", sa.Date, server_default=sa.text("CURRENT_DATE")),
        sa.Column("stamped", sa.DateTime, server_default=sa.text("('now'::text)::timestamp without time zone")),
        sa.Column("last_update", sa.DateTime, nullable=False, server_default=sa.text("now()")),
        sa.Column("rating", sa.Enum("G", "PG", "R", name=f"{name}_rating"),
                  server_default=sa.text(f"'G'::{name}_rating")),
        sa.Column("label", sa.String(20), server_default=sa.text("'x'::character varying")),
        sa.Column("rate", sa.Numeric(4, 2), server_default=sa.text("4.99::numeric")),
    )


def deploy_and_insert(table: sa.Table, target: Target) -> sa.Row:
    result = dkenv.deploy_data_objects([table], target)
    try:
        assert result.success and result.created == [table.name]
        engine = dkenv.create_engine_for_target(target)
        with engine.begin() as conn:
            conn.execute(sa.text(f"INSERT INTO {table.name} (id) VALUES (1)"))
            row = conn.execute(sa.select(table)).one()
        return row
    finally:
        dkenv.cleanup_test_target(target)


def assert_defaults(row: sa.Row) -> None:
    today = dt.date.today()
    for value in (row.create_date, row.day, row.today):
        assert abs((_as_date(value) - today).days) <= 1  # the server's clock may be UTC
    assert row.stamped is not None and row.last_update is not None
    assert row.rating == "G" and row.label == "x"
    assert float(row.rate) == 4.99


def _as_date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def test_pg_dump_defaults_on_sqlite() -> None:
    target = dkenv.get_target_config("sqlite_memory")
    assert_defaults(deploy_and_insert(pagila_like("film_sq"), target))


@pytest.mark.postgres
def test_pg_dump_defaults_on_postgres(native_pg: NativeServer) -> None:
    target = Target("url", "postgres", kind="url", url=native_pg.url())
    assert_defaults(deploy_and_insert(pagila_like(f"film_{uuid.uuid4().hex[:6]}"), target))


@pytest.mark.mysql
def test_pg_dump_defaults_on_mariadb(native_mariadb: NativeServer) -> None:
    target = Target("url", "mysql", kind="url", url=native_mariadb.url())
    assert_defaults(deploy_and_insert(pagila_like(f"film_{uuid.uuid4().hex[:6]}"), target))


@pytest.mark.mysql
def test_infinity_default_is_refused_on_mariadb_with_the_fix(native_mariadb: NativeServer) -> None:
    md = sa.MetaData()
    table = sa.Table(
        f"rental_{uuid.uuid4().hex[:6]}", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("valid_to", sa.DateTime, server_default=sa.text("'infinity'::timestamp")),
    )
    target = Target("url", "mysql", kind="url", url=native_mariadb.url())
    try:
        with pytest.raises(DeployError) as info:
            dkenv.deploy_data_objects([table], target)
        message = str(info.value)
        assert f"{table.name}.valid_to" in message and "9999-12-31" in message
        assert not sa.inspect(dkenv.create_engine_for_target(target)).has_table(table.name)
    finally:
        dkenv.cleanup_test_target(target)


@pytest.mark.postgres
def test_enum_colliding_with_an_existing_type_is_one_clear_line(native_pg: NativeServer) -> None:
    """A type left in the database with other labels is named before deploying (issue 9)."""
    from dkenv.engines import get_engine

    name = f"mood_{uuid.uuid4().hex[:6]}"
    engine = sa.create_engine(native_pg.url())
    md = sa.MetaData()
    table = sa.Table("person", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("m", sa.Enum("happy", "grumpy", name=name)))
    same = sa.Table("other", sa.MetaData(), sa.Column("m", sa.Enum("sad", "ok", name=name)))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE TYPE {name} AS ENUM ('sad', 'ok')")
        with engine.connect() as conn:
            lines = get_engine("postgres").enum_conflicts(conn, [table])
            assert lines == [
                f"enum type public.{name} already exists with labels (sad, ok), but person.m "
                f"declares (happy, grumpy): give the enum another name "
                f"(sa.Enum(..., name=\"{name}_v2\")) or drop the old type"]
            assert get_engine("postgres").enum_conflicts(conn, [same]) == []
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TYPE IF EXISTS {name}")
        engine.dispose()


@pytest.mark.postgres
def test_postgres_errors_are_their_first_line(native_pg: NativeServer) -> None:
    from dkenv.engines import describe_db_error

    engine = sa.create_engine(native_pg.url())
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as info:
            conn.exec_driver_sql("SELECT * FROM staff_that_is_not_there")
        assert describe_db_error(info.value) == 'relation "staff_that_is_not_there" does not exist'
    finally:
        engine.dispose()


@pytest.mark.mysql
def test_mariadb_errors_carry_their_number(native_mariadb: NativeServer) -> None:
    from dkenv.engines import describe_db_error

    engine = sa.create_engine(native_mariadb.url())
    try:
        with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError) as info:
            conn.exec_driver_sql("CREATE TABLE t_inf (at DATETIME DEFAULT 'infinity')")
        assert describe_db_error(info.value) == "MySQL error 1067: Invalid default value for 'at'"
    finally:
        engine.dispose()
