"""Warm hand-outs: databases handed out already connected, returned off the test's path.

On real PostgreSQL and MariaDB containers and real SQLite files.  What a test commits, the
schema changes it makes and the sequences it advances never reach the next test, whether the
next one gets a recycled database or a new one; and closing the factory (the session's end)
leaves no database, no connection and no pool thread behind.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, inspect, select, text

from dkenv.databases import DatabaseFactory, IsolatedDatabase, SqliteServer
from tests.integration.conftest import module_scope

ROOT = Path(__file__).resolve().parents[2]
KITS = [ROOT / "examples" / "bronze-pagila"]
ACTOR = "br__pagila__public.actor"
SCHEMA = "br__pagila__public"
ENGINES = [pytest.param("postgres", marks=[pytest.mark.docker, pytest.mark.postgres]),
           pytest.param("mysql", marks=[pytest.mark.docker, pytest.mark.mysql]),
           "sqlite"]


@pytest.fixture(scope="module")
def container_scope(client, local_images):
    with module_scope(client, "warm") as name:
        yield name


@pytest.fixture(scope="module")
def postgres_server(container_scope):
    from dkenv.servers.lifecycle import start

    srv = start("postgres", progress=False)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def mysql_server(container_scope):
    from dkenv.servers.lifecycle import start

    srv = start("mysql", progress=False)
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def sqlite_server():
    with SqliteServer() as srv:
        yield srv


@pytest.fixture
def server(request, engine):
    """The module's server for ``engine`` (containers in a DKENV_SCOPE of the module's own)."""
    return request.getfixturevalue(f"{engine}_server")


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    return request.param


def actor(db: IsolatedDatabase):
    return db.datakits[0].metadata.tables[ACTOR]


def leftovers(server) -> list[str]:
    """Isolated databases (or their files) still on the server."""
    if server.engine == "sqlite":
        return sorted(p.name for p in Path(server.directory).glob("dk_*"))
    sql = ("SELECT datname FROM pg_database" if server.engine == "postgres"
           else "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
    eng = create_engine(server.url)
    try:
        with eng.connect() as conn:
            return sorted(n for (n,) in conn.execute(text(sql)) if n.startswith(("dk_", "dkenv_bld_")))
    finally:
        eng.dispose()


def sessions_on_test_databases(server) -> int:
    """Connections still open to isolated databases (PostgreSQL, MariaDB)."""
    sql = ("SELECT count(*) FROM pg_stat_activity WHERE datname LIKE 'dk\\_%'" if server.engine == "postgres"
           else "SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB LIKE 'dk\\_%'")
    eng = create_engine(server.url)
    try:
        with eng.connect() as conn:
            return int(conn.execute(text(sql)).scalar())
    finally:
        eng.dispose()


def open_the_gate_and_close(builds: threading.Semaphore, factory: DatabaseFactory) -> None:
    """The end of a gated test: let the builder go (it may be waiting), then close everything."""
    for _ in range(8):
        builds.release()
    factory.close()


def wait_until_only_dkenv_is_on(server, builder, name: str, timeout: float = 30.0) -> None:
    """Wait until the connections a test closed have left MariaDB (a client's QUIT is not
    waited for: the server may still list the session a moment), so that only dkenv's own
    connection is on the database when the reset looks."""
    import time

    service = builder._services.get(name)
    mine = service.thread_id() if service is not None else 0
    names = ", ".join(f"'{n}'" for n in builder.databases_of(name))
    sql = f"SELECT count(*) FROM information_schema.PROCESSLIST WHERE DB IN ({names}) AND ID <> {mine}"
    eng = create_engine(server.url)
    deadline = time.monotonic() + timeout
    try:
        with eng.connect() as conn:
            while conn.execute(text(sql)).scalar():
                assert time.monotonic() < deadline, "a closed connection never left the server"
                time.sleep(0.01)  # polling a condition, with a deadline
    finally:
        eng.dispose()


def gate_builds(pool, monkeypatch) -> threading.Semaphore:
    """Let the builder make one database, then hold it: refills come from recycling."""
    builds = threading.Semaphore(1)
    real_create = pool.builder.create

    def gated_create(name: str) -> None:
        builds.acquire()
        real_create(name)

    monkeypatch.setattr(pool.builder, "create", gated_create)
    return builds


def test_a_handed_out_database_is_already_connected(server):
    with DatabaseFactory(server.url, engine=server.engine, ready=2) as factory:
        with factory.database(KITS) as db:
            eng = db.create_engine()
            assert eng.pool.checkedin() == 1  # connected by the pool before the hand-out
            with eng.connect() as conn:
                assert conn.execute(select(func.count()).select_from(actor(db))).scalar() == 0
            assert db.create_engine() is not eng  # only the first call gets the warm engine
            assert db.create_engine(pool_pre_ping=True).pool.checkedin() == 0


def test_warm_engines_share_one_dialect_and_still_reach_their_own_database(server):
    """Later databases of a pool are connected on the first one's set-up dialect (no SQLAlchemy
    first-connect checks per database); each engine still writes to its own database only."""
    with DatabaseFactory(server.url, engine=server.engine, ready=3) as factory:
        dbs = [factory.database(KITS) for _ in range(3)]
        engines = [db.create_engine() for db in dbs]
        if server.engine == "mysql":  # the default schema is the database: a copy each, set up once
            assert len({e.dialect.server_version_info for e in engines}) == 1
            # reflection's default schema is each engine's own database, not the first one's
            assert [inspect(e).default_schema_name for e in engines] == [db.name for db in dbs]
        else:
            assert len({id(e.dialect) for e in engines}) == 1
        for n, eng in enumerate(engines):
            with eng.begin() as conn:
                for i in range(n):
                    conn.execute(insert(actor(dbs[0])).values(actor_id=i + 1, first_name="A", last_name="B"))
        for n, eng in enumerate(engines):
            with eng.connect() as conn:
                assert conn.execute(select(func.count()).select_from(actor(dbs[0]))).scalar() == n


def test_commits_ddl_and_sequences_never_reach_the_next_test(server, monkeypatch):
    factory = DatabaseFactory(server.url, engine=server.engine, ready=1)
    pool = factory.pool(KITS)
    # SQLite copies files and never recycles: its builder is not held.
    builds = gate_builds(pool, monkeypatch) if server.engine != "sqlite" else threading.Semaphore(99)
    try:
        # Test 1: commits on two connections and advances the actor sequence.
        with factory.database(KITS) as first:
            table = actor(first)
            eng = first.create_engine()
            with eng.begin() as conn:
                conn.execute(insert(table).values(first_name="A", last_name="B"))
            other = first.create_engine()
            with other.begin() as conn:
                conn.execute(insert(table).values(first_name="C", last_name="D"))
            left_open = other.connect()  # a session the test forgot, mid-transaction
            left_open.execute(insert(table).values(first_name="E", last_name="F"))
        assert pool.wait_for_drops(timeout=120)
        # Test 2: nothing of test 1; then it changes the schema.
        with factory.database(KITS) as second:
            if server.engine != "sqlite":
                assert second.name == first.name and pool.recycled == 1  # the recycled database
            eng = second.create_engine()
            with eng.begin() as conn:
                assert conn.execute(select(func.count()).select_from(table)).scalar() == 0
                conn.execute(insert(table).values(first_name="G", last_name="H"))
                assert conn.execute(select(table.c.actor_id)).scalar() == 1  # the sequence starts over
                schema = q(server, second.schema_map.get(SCHEMA, SCHEMA))
                conn.execute(text(f"CREATE TABLE {schema}.extra (id INT PRIMARY KEY)"))
        left_open.invalidate()
        builds.release()  # a changed schema is never recycled: let the builder make a new one
        assert pool.wait_for_drops(timeout=120)
        # Test 3: a database without test 2's table, rows or sequence position.
        with factory.database(KITS) as third:
            assert third.name != second.name
            eng = third.create_engine()
            names = inspect(eng).get_table_names(schema=third.schema_map.get(SCHEMA, SCHEMA))
            assert "extra" not in names and "actor" in names
            with eng.begin() as conn:
                assert conn.execute(select(func.count()).select_from(table)).scalar() == 0
                conn.execute(insert(table).values(first_name="I", last_name="J"))
                assert conn.execute(select(table.c.actor_id)).scalar() == 1
    finally:
        open_the_gate_and_close(builds, factory)
    assert leftovers(server) == []


def test_closing_the_factory_leaves_no_database_connection_or_thread(server):
    factory = DatabaseFactory(server.url, engine=server.engine, ready=3)
    pool = factory.pool(KITS)
    returned = [factory.database(KITS) for _ in range(3)]
    held = factory.database(KITS)  # still out when the session ends
    held_engine = held.create_engine()
    with held_engine.connect() as conn:
        conn.execute(insert(actor(held)).values(first_name="A", last_name="B"))
    for db in returned:
        db.drop()  # handed to the returner threads; close() must not wait for nothing or skip them
    factory.close()
    threads = [pool._builder_thread, *pool._returners]  # noqa: SLF001
    assert not any(t is not None and t.is_alive() for t in threads)
    assert held_engine.pool.checkedin() == 0  # the warm connection was closed
    assert pool._warm == {}  # noqa: SLF001 - every ready database's connection closed too
    assert leftovers(server) == []
    if server.engine != "sqlite":
        assert sessions_on_test_databases(server) == 0


def q(server, name: str) -> str:
    return f"`{name}`" if server.engine == "mysql" else f'"{name}"'


@pytest.mark.parametrize("engine", [pytest.param("postgres", marks=[pytest.mark.docker, pytest.mark.postgres])])
def test_postgres_lends_its_connection_and_resets_the_session_between_tests(server, monkeypatch):
    """The connection a test's first engine got comes back to the next test, its session as new."""
    factory = DatabaseFactory(server.url, engine="postgres", ready=1)
    pool = factory.pool(KITS)
    builds = gate_builds(pool, monkeypatch)
    try:
        with factory.database(KITS) as first:
            eng = first.create_engine()
            with eng.connect() as conn:
                pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
                conn.execute(text("SET statement_timeout = '1234ms'"))
                conn.execute(text("SELECT pg_advisory_lock(42)"))
                conn.execute(text("PREPARE leftover AS SELECT 1"))
                conn.commit()
            eng.dispose()
        assert pool.wait_for_drops(timeout=120)
        with factory.database(KITS) as second:
            assert second.name == first.name  # recycled
            with second.create_engine().connect() as conn:
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar() == pid  # no new handshake
                assert conn.execute(text("SHOW statement_timeout")).scalar() == "0"
                assert conn.execute(text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")).scalar() == 0
                assert conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar() == 0
                assert conn.execute(text("SHOW synchronous_commit")).scalar() == "off"
    finally:
        open_the_gate_and_close(builds, factory)
    assert leftovers(server) == []
    assert sessions_on_test_databases(server) == 0


@pytest.mark.parametrize("engine", [pytest.param("postgres", marks=[pytest.mark.docker, pytest.mark.postgres])])
def test_a_warm_database_can_be_snapshotted(server):
    """A snapshot needs a quiet database: the connection the pool keeps per database is closed first."""
    from dkenv.data.snapshots import rm
    from dkenv.databases.factory import server_snapshot

    with DatabaseFactory(server.url, engine="postgres", ready=1) as factory:
        with factory.database(KITS) as db:
            with db.create_engine().begin() as conn:
                conn.execute(insert(actor(db)).values(first_name="A", last_name="B"))
            made = server_snapshot(server, db, "warm-step")
        try:
            assert made.where == "dkenv_snap_warm-step"
            with factory.database(snapshot="warm-step", datakits=KITS) as copy:
                with copy.create_engine().connect() as conn:
                    assert conn.execute(select(func.count()).select_from(actor(copy))).scalar() == 1
        finally:
            rm(server.url, "warm-step")
    assert leftovers(server) == []


@pytest.mark.parametrize("engine", [pytest.param("mysql", marks=[pytest.mark.docker, pytest.mark.mysql])])
def test_mariadb_quick_reset_misses_no_write_path(server, monkeypatch):
    """The one-statement reset (no fingerprint while the server ran nothing that can change a
    schema) still undoes each way a test leaves a trace: a rolled-back insert that only moved
    AUTO_INCREMENT, a commit on a second connection of its own, a commit with explicit keys,
    and the lent session's settings and locks (``LOCK TABLES`` would block the emptying)."""
    factory = DatabaseFactory(server.url, engine="mysql", ready=1)
    pool = factory.pool(KITS)
    builds = gate_builds(pool, monkeypatch)
    name = None

    def next_test() -> IsolatedDatabase:
        assert pool.wait_for_drops(timeout=120)
        db = factory.database(KITS)
        assert name is None or db.name == name  # recycled, not rebuilt
        return db

    def pristine(db: IsolatedDatabase) -> None:
        with db.create_engine().begin() as conn:
            assert conn.execute(select(func.count()).select_from(actor(db))).scalar() == 0
            assert conn.execute(text("SELECT @leftover")).scalar() is None
            conn.execute(insert(actor(db)).values(first_name="Z", last_name="Z"))
            assert conn.execute(select(actor(db).c.actor_id)).scalar() == 1  # the counter starts over
            conn.rollback()

    try:
        with next_test() as db:  # only AUTO_INCREMENT moves: the insert is rolled back
            name = db.name
            with db.create_engine().connect() as conn:
                for _ in range(3):
                    conn.execute(insert(actor(db)).values(first_name="A", last_name="B"))
                conn.rollback()
        with next_test() as db:
            pristine(db)  # its own insert is rolled back too, yet moved the counter again
        with next_test() as db:  # rows only through a second connection of the test's own
            pristine(db)
            other = create_engine(db.url, **db.engine_options({}))
            with other.begin() as conn:
                conn.execute(insert(actor(db)).values(actor_id=40, first_name="C", last_name="D"))
            other.dispose()
        with next_test() as db:  # the lent session: a variable, a table lock, an open transaction
            pristine(db)
            conn = db.create_engine().connect()
            conn.execute(text("SET @leftover = 1"))
            conn.execute(text(f"LOCK TABLES {q(server, db.schema_map[SCHEMA])}.actor WRITE"))
            conn.execute(text(f"INSERT INTO {q(server, db.schema_map[SCHEMA])}.actor "
                              "(actor_id, first_name, last_name) VALUES (7, 'E', 'F')"))
            conn.close()
        with next_test() as db:
            pristine(db)
        assert pool.builder.quick_recycles >= 4  # the shortcut is what reset them
    finally:
        open_the_gate_and_close(builds, factory)
    assert leftovers(server) == []
    assert sessions_on_test_databases(server) == 0


@pytest.mark.parametrize("engine", [pytest.param("mysql", marks=[pytest.mark.docker, pytest.mark.mysql])])
def test_mariadb_quick_reset_compares_the_fingerprint_once_the_server_ran_ddl(server):
    """Another database built, another test's DDL: the server's schema-write count moved, so
    the one-statement reset compares the fingerprint on the server instead of giving up; an
    unchanged database is still emptied there, a changed one never."""
    with DatabaseFactory(server.url, engine="mysql", ready=0) as factory:
        db = factory.database(KITS)
        builder = factory.pool(KITS).builder
        schema = q(server, db.schema_map[SCHEMA])
        admin = create_engine(server.url)
        try:
            for ddl_elsewhere in (True, False):
                eng = db.create_engine()  # disposed before the reset, as after a test
                with eng.begin() as conn:
                    conn.execute(insert(actor(db)).values(first_name="A", last_name="B"))
                eng.dispose()
                if ddl_elsewhere:
                    with admin.begin() as conn:  # moves the count for every database on the server
                        conn.exec_driver_sql("CREATE DATABASE dk_unrelated")
                        conn.exec_driver_sql("DROP DATABASE dk_unrelated")
                wait_until_only_dkenv_is_on(server, builder, db.name)
                quick = builder.quick_recycles
                assert builder.recycle(db.name)
                assert builder.quick_recycles == quick + 1  # emptied by the compound statement
                eng = db.create_engine()
                with eng.connect() as conn:
                    assert conn.execute(select(func.count()).select_from(actor(db))).scalar() == 0
                eng.dispose()
            eng = db.create_engine()
            with eng.begin() as conn:
                conn.execute(text(f"ALTER TABLE {schema}.actor ADD COLUMN extra INT"))
            eng.dispose()
            wait_until_only_dkenv_is_on(server, builder, db.name)
            quick = builder.quick_recycles
            assert not builder.recycle(db.name)  # its schema changed: never reset
            assert builder.quick_recycles == quick
        finally:
            admin.dispose()
            db.drop()


@pytest.mark.parametrize("engine", [pytest.param("mysql", marks=[pytest.mark.docker, pytest.mark.mysql])])
def test_mysql_lent_connections_roll_back_only_what_is_open(server):
    """SQLAlchemy's pool rolls back at every check-in; dkenv's PyMySQL connections skip the
    round trip when the server said no transaction is open, and never skip a real one."""
    with DatabaseFactory(server.url, engine="mysql", ready=1) as factory:
        with factory.database(KITS) as db:
            raw = db.create_engine().raw_connection().dbapi_connection
            assert hasattr(raw, "lent")  # dkenv's own connection, lent to the test's first engine
            rollbacks = "SHOW SESSION STATUS LIKE 'Com_rollback'"
            with raw.cursor() as cursor:
                cursor.execute(f"INSERT INTO {q(server, db.schema_map[SCHEMA])}.actor (first_name, last_name) "
                               "VALUES ('A', 'B')")
                raw.rollback()  # a transaction is open (autocommit off): rolled back on the server
                cursor.execute(f"SELECT COUNT(*) FROM {q(server, db.schema_map[SCHEMA])}.actor")
                assert cursor.fetchone()[0] == 0
                raw.commit()
                cursor.execute(rollbacks)
                before = int(cursor.fetchone()[1])
                raw.commit()  # SHOW opened no transaction worth ending; make sure none is open
                raw.rollback()
                raw.rollback()
                cursor.execute(rollbacks)
                assert int(cursor.fetchone()[1]) == before  # nothing open: nothing sent
                # A failed statement answers with no status, and may have begun a transaction:
                # the rollback after it goes to the server.
                table = f"{q(server, db.schema_map[SCHEMA])}.actor"
                cursor.execute(f"INSERT INTO {table} (actor_id, first_name, last_name) VALUES (1, 'A', 'B')")
                raw.commit()
                with pytest.raises(Exception, match="Duplicate"):
                    cursor.execute(f"INSERT INTO {table} (actor_id, first_name, last_name) VALUES (1, 'A', 'B')")
                raw.rollback()
                cursor.execute(rollbacks)
                assert int(cursor.fetchone()[1]) == before + 1


@pytest.mark.parametrize("engine", [pytest.param("mysql", marks=[pytest.mark.docker, pytest.mark.mysql])])
@pytest.mark.parametrize("how", ["PREPARE s FROM 'CREATE TABLE {schema}.extra (id INT)'\nEXECUTE s",
                                 "EXECUTE IMMEDIATE 'CREATE TABLE {schema}.extra (id INT)'",
                                 "BEGIN NOT ATOMIC CREATE TABLE {schema}.extra (id INT); END"])
def test_mariadb_ddl_through_prepared_or_compound_statements_is_never_reset_away(server, how):
    """The reset counts prepared and compound statements as rows-only wrappers (its own are
    both) because the server counts what they run under its own counter: DDL run through
    them must still stop the reset."""
    with DatabaseFactory(server.url, engine="mysql", ready=1) as factory:
        with factory.database(KITS) as db:
            builder = factory.pool(KITS).builder
            eng = db.create_engine()
            with eng.connect() as conn:
                for statement in how.format(schema=q(server, db.schema_map[SCHEMA])).split("\n"):
                    conn.exec_driver_sql(statement)
            eng.dispose()
            quick = builder.quick_recycles
            assert not builder.recycle(db.name), how
            assert builder.quick_recycles == quick


@pytest.mark.parametrize("engine", [pytest.param("mysql", marks=[pytest.mark.docker, pytest.mark.mysql])])
def test_mariadb_reset_looks_for_sessions_whenever_one_may_have_come_onto_the_database(server):
    """The reset lists the sessions on a database only when a connection was made or a ``USE``
    ran on the server since the database was last ready (otherwise none can be on it but dkenv's
    own).  A session that came on either way is found and ended, and the database emptied all
    the same; a lent session the test moved to another database is on its own again after."""
    with DatabaseFactory(server.url, engine="mysql", ready=0) as factory:
        db = factory.database(KITS)
        builder = factory.pool(KITS).builder
        schema = q(server, db.schema_map[SCHEMA])
        bystander = create_engine(server.url)

        def a_test_writes() -> None:
            eng = db.create_engine()
            with eng.begin() as conn:
                conn.execute(insert(actor(db)).values(first_name="A", last_name="B"))
            eng.dispose()

        def reset_quickly() -> bool:
            quick = builder.quick_recycles
            assert builder.recycle(db.name)  # emptied, one way or the other
            eng = db.create_engine()
            with eng.connect() as conn:
                assert conn.execute(select(func.count()).select_from(actor(db))).scalar() == 0
            eng.dispose()
            return builder.quick_recycles == quick + 1

        try:
            elsewhere = bystander.connect()  # a session on the server's own database, there before
            a_test_writes()
            assert reset_quickly()
            assert builder._marks[db.name][1] is not None  # the comings are known from now on
            a_test_writes()
            assert reset_quickly()  # nothing came: sessions not listed, emptied on the server
            elsewhere.exec_driver_sql(f"USE {q(server, db.name)}")  # an open session moves onto it
            a_test_writes()
            assert not reset_quickly()  # found: the careful path ended it
            with pytest.raises(Exception, match="Lost connection|gone away|Connection was killed"):
                elsewhere.exec_driver_sql("SELECT 1")
            elsewhere.invalidate()
            left_open = create_engine(db.url, **db.engine_options({})).connect()  # a new connection, kept
            left_open.exec_driver_sql(f"SELECT COUNT(*) FROM {schema}.actor")
            a_test_writes()
            assert not reset_quickly()
            left_open.invalidate()
            assert reset_quickly()
            eng = db.create_engine()  # the test moves the lent session to another database
            with eng.connect() as conn:
                conn.exec_driver_sql("USE mysql")
            eng.dispose()
            assert builder.recycle(db.name)
            eng = db.create_engine()
            with eng.connect() as conn:
                assert conn.exec_driver_sql("SELECT DATABASE()").scalar() == db.name
            eng.dispose()
        finally:
            bystander.dispose()
            db.drop()
