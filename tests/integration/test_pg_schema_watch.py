"""PostgreSQL's schema watch (dkenv.databases.schema_watch) on a real container.

A returned copy is reset in one round trip only because the template notes its own DDL. Each
case here changes a copy in one way and asks the builder to recycle it: every change of the
schema (whatever the path: DDL, DDL in a function, under ``session_replication_role``, on
the objects DDL events do not see) must be refused; rows, sequence positions, temporary
objects and statistics must not.  The watch itself must stay out of what users inspect.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, inspect, select, text

from dkenv.databases import DatabaseFactory, close_server_databases, schema_watch
from tests.integration.conftest import module_servers

pytestmark = [pytest.mark.docker, pytest.mark.postgres]

KIT = Path(__file__).resolve().parents[2] / "examples" / "bronze-pagila"
S = '"br__pagila__public"'

SCHEMA_CHANGES = {
    "create table": f"CREATE TABLE {S}.extra (id int)",
    "add column": f"ALTER TABLE {S}.actor ADD COLUMN extra int",
    "drop column": f"ALTER TABLE {S}.actor DROP COLUMN last_update",
    "create index": f"CREATE INDEX extra_idx ON {S}.actor (first_name)",
    "drop index": f"DROP INDEX {S}.{{index}}",
    "rename table": f"ALTER TABLE {S}.actor RENAME TO performer",
    "drop table": f"DROP TABLE {S}.film_actor",
    "drop primary key": f"ALTER TABLE {S}.film DROP CONSTRAINT {{pkey}}",
    "grant": f"GRANT SELECT ON {S}.actor TO PUBLIC",
    "comment": f"COMMENT ON TABLE {S}.actor IS 'changed'",
    "view": f"CREATE VIEW {S}.v AS SELECT 1 AS one",
    "function": "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "trigger": (f"CREATE FUNCTION public.t() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'; "
                f"CREATE TRIGGER tr BEFORE INSERT ON {S}.actor FOR EACH ROW EXECUTE FUNCTION public.t()"),
    "extension": "CREATE EXTENSION pg_trgm",
    "alter sequence": f"ALTER SEQUENCE {S}.actor_actor_id_seq INCREMENT BY 5",
    "schema": "CREATE SCHEMA other",
    "ddl in a DO block": f"DO $$ BEGIN EXECUTE 'CREATE TABLE {S}.dyn (id int)'; END $$",
    "ddl as a replica": f"SET session_replication_role = replica; CREATE TABLE {S}.quiet (id int)",
    "rolled back ddl": f"BEGIN; CREATE TABLE {S}.undone (id int); ROLLBACK",
    "large object": "SELECT lo_create(0)",
    "database setting": "ALTER DATABASE {db} SET work_mem = '8MB'",
    "cluster": f"CLUSTER {S}.actor USING actor_pkey",
    "watch disabled": f"ALTER EVENT TRIGGER {schema_watch.TRIGGERS[0]} DISABLE",
    "watch dropped": f"DROP EVENT TRIGGER {schema_watch.TRIGGERS[1]}",
}

ROW_CHANGES = {
    "rows": f"INSERT INTO {S}.actor (first_name, last_name) VALUES ('A', 'B')",
    "sequence": f"SELECT setval('{S}.actor_actor_id_seq', 40)",
    "temporary table": "CREATE TEMP TABLE scratch (id int); INSERT INTO scratch VALUES (1)",
    "temporary table dropped": "CREATE TEMP TABLE scratch (id int); DROP TABLE scratch",
    "truncate": f"TRUNCATE {S}.actor CASCADE",
    "analyze": f"ANALYZE {S}.actor",
}


@pytest.fixture(scope="module")
def server(client, local_images):
    from dkenv.servers.lifecycle import start

    with module_servers(client, "schema-watch") as started:
        started["postgres"] = start("postgres", progress=False)
        yield started["postgres"]


@pytest.fixture
def factory(server):
    with DatabaseFactory(server.url, engine="postgres", ready=0) as made:
        yield made
    close_server_databases(server)


def _run(db, sql: str) -> None:
    eng = create_engine(db.url)
    raw = eng.raw_connection().dbapi_connection
    try:
        raw.autocommit = True  # each statement commits, as a test's would
        with raw.cursor() as cursor:
            cursor.execute("SELECT (SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = "
                           f"'{S}.actor'::regclass AND NOT indisprimary LIMIT 1), (SELECT conname FROM "
                           f"pg_constraint WHERE conrelid = '{S}.film'::regclass AND contype = 'p' LIMIT 1)")
            index, pkey = cursor.fetchone()
            cursor.execute(sql.format(db=f'"{db.name}"', index=index.split(".")[-1], pkey=pkey))
    finally:
        raw.close()
        eng.dispose()


@pytest.mark.parametrize("change", sorted(SCHEMA_CHANGES))
def test_a_schema_change_is_never_reset_away(factory, change):
    db = factory.database([KIT])
    builder = factory.pool([KIT]).builder
    assert builder._reset_sql is not None, "dkenv's container is a superuser: resets take one round trip"
    _run(db, SCHEMA_CHANGES[change])
    # As the pool asks: a reset that fails (a table it empties is gone) counts as refused.
    assert not factory.pool([KIT])._try_recycle(db.name), f"{change}: reset as if its schema were the template's"
    db.drop()


@pytest.mark.parametrize("change", sorted(ROW_CHANGES))
def test_rows_sequences_and_temporary_objects_are_reset(factory, change):
    db = factory.database([KIT])
    builder = factory.pool([KIT]).builder
    _run(db, ROW_CHANGES[change])
    assert builder.recycle(db.name), f"{change}: a copy with its schema unchanged was not reset"
    eng = db.create_engine()
    actor = next(k.metadata.tables["br__pagila__public.actor"] for k in db.datakits
                 if "br__pagila__public.actor" in k.metadata.tables)
    with eng.begin() as conn:
        assert conn.execute(select(func.count()).select_from(actor)).scalar() == 0
        conn.execute(insert(actor).values(first_name="C", last_name="D"))
        assert conn.execute(select(actor.c.actor_id)).scalar() == 1  # the sequence starts over
    eng.dispose()
    db.drop()


def test_the_watch_stays_out_of_what_users_inspect(factory):
    db = factory.database([KIT])
    eng = db.create_engine()
    try:
        found = inspect(eng)
        assert "pg_catalog" not in found.get_schema_names()
        assert not [s for s in found.get_sequence_names(schema="br__pagila__public") if "dkenv" in s]
        assert not [s for schema in found.get_schema_names() for s in found.get_sequence_names(schema=schema)
                    if "dkenv" in s]
        with eng.connect() as conn:
            # It notes DDL and nothing else: a test's rows never move it.
            conn.execute(text(f"INSERT INTO {S}.actor (first_name, last_name) VALUES ('A', 'B')"))
            assert not conn.execute(text(f"SELECT is_called FROM {schema_watch.SEQUENCE}")).scalar()
    finally:
        eng.dispose()
        db.drop()


def test_a_server_that_refuses_the_watch_is_checked_by_scanning_its_catalogs(server):
    """Where the watch cannot be installed (here: template1 already holds an object of its
    name), the template is built all the same and its copies are checked the old way."""
    admin = create_engine(server.url.rsplit("/", 1)[0] + "/template1")
    squatter = (f"SET allow_system_table_mods = on; CREATE SEQUENCE {schema_watch.SEQUENCE}; "
                "RESET allow_system_table_mods")
    with admin.begin() as conn:
        conn.exec_driver_sql(squatter)
    admin.dispose()  # nobody on template1 while databases are made from it
    kits = [KIT, KIT.parent / "silver-pagila"]  # a template of its own, built while the squatter is there
    try:
        with DatabaseFactory(server.url, engine="postgres", ready=0) as factory:
            db = factory.database(kits)
            builder = factory.pool(kits).builder
            assert builder._reset_sql is None and "pg_attribute" in builder._schema_check
            _run(db, ROW_CHANGES["rows"])
            assert builder.recycle(db.name)
            _run(db, 'CREATE TABLE public.extra (id int)')
            assert not builder.recycle(db.name)
            db.drop()
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"SET allow_system_table_mods = on; DROP SEQUENCE {schema_watch.SEQUENCE}")
        admin.dispose()
        close_server_databases(server)
