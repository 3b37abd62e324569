"""Isolated databases on real PostgreSQL and MariaDB containers (dkenv's local images).

Each engine's server is started once for the module in a ``DKENV_SCOPE`` of its own; the
module's finalizer fails if a container of that scope is left.  Every test checks the
server's catalog afterwards: no ``dk_*`` database and no half-built template is left behind.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select, text

from dkenv.databases import (
    DatabaseFactory,
    IsolatedDatabase,
    close_server_databases,
    server_database,
)
from dkenv.datakit import load_datakits
from dkenv.errors import DeployError
from tests.integration.conftest import module_servers

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[2]
BRONZE = ROOT / "examples" / "bronze-pagila"
SILVER = ROOT / "examples" / "silver-pagila"
KITS = [BRONZE, SILVER]
ENGINES = [pytest.param("postgres", marks=pytest.mark.postgres),
           pytest.param("mysql", marks=pytest.mark.mysql)]


@pytest.fixture(scope="module")
def servers(client, local_images):
    with module_servers(client, "databases") as started:
        yield started


@pytest.fixture
def server(servers, engine):
    """The module's server for ``engine`` (started on first use)."""
    from dkenv.servers.lifecycle import start

    if engine not in servers:
        servers[engine] = start(engine, progress=False)
    srv = servers[engine]
    yield srv
    close_server_databases(srv)
    assert leftovers(srv) == [], "isolated databases left on the server"


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    return request.param


def catalog(server) -> list[str]:
    sql = ("SELECT datname FROM pg_database" if server.engine == "postgres"
           else "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
    eng = create_engine(server.url)
    try:
        with eng.connect() as conn:
            return sorted(r[0] for r in conn.execute(text(sql)))
    finally:
        eng.dispose()


def leftovers(server) -> list[str]:
    return [n for n in catalog(server) if n.startswith(("dk_", "dkenv_bld_"))]


def table(db: IsolatedDatabase, fullname: str):
    for kit in db.datakits:
        if fullname in kit.metadata.tables:
            return kit.metadata.tables[fullname]
    raise KeyError(fullname)


def count(db: IsolatedDatabase, fullname: str) -> int:
    eng = db.create_engine()
    with eng.connect() as conn:
        return conn.execute(select(func.count()).select_from(table(db, fullname))).scalar()


# ---------------------------------------------------------------------------
# Both engines
# ---------------------------------------------------------------------------
def test_a_handed_out_database_holds_the_datakits(server):
    with server_database(server, datakits=KITS) as db:
        assert db.engine == server.engine
        assert db.validate().success
        assert count(db, "br__pagila__public.actor") == 0
        assert count(db, "sv__pagila.customer_profile") == 0


def test_target_works_with_validate_deployment(server):
    from dkenv.deploy.deployed import validate_deployment

    with server_database(server, datakits=KITS) as db:
        kit = load_datakits([BRONZE], requires=False)[0]
        result = validate_deployment(kit, db.target)
        assert result.success, result.problems


def test_databases_are_isolated_from_each_other(server):
    with server_database(server, datakits=KITS) as one, server_database(server, datakits=KITS) as two:
        assert one.name != two.name
        actor = table(one, "br__pagila__public.actor")
        with one.create_engine().begin() as conn:
            conn.execute(insert(actor).values(actor_id=1, first_name="Ada", last_name="L"))
        assert count(one, "br__pagila__public.actor") == 1
        assert count(two, "br__pagila__public.actor") == 0


def test_dropped_on_exit_and_everything_dropped_on_close(server):
    factory = DatabaseFactory(server.url, engine=server.engine, ready=2, recycle="drop")
    try:
        with factory.database(KITS) as db:
            name = db.name
            assert name in catalog(server)
        assert factory.pool(KITS).wait_for_drops(timeout=120)
        assert name not in catalog(server)
        kept = factory.database(KITS)  # handed out and never returned
        assert kept.name in catalog(server)
    finally:
        factory.close()
    assert leftovers(server) == []


def test_returned_databases_are_recycled_empty(server, monkeypatch):
    """With recycle="reset" (the default) a returned database comes back emptied, not rebuilt.

    The pool keeps a recycled database only while fewer than ``ready`` are ready; whether the
    background build of a fresh one or the recycling finishes first is up to the machine's
    load.  So the test holds the builder after its first database (a gate on ``create``): the
    returned database is then the only way to refill, every time, on any machine.
    """
    factory = DatabaseFactory(server.url, engine=server.engine, ready=1)
    pool = factory.pool(KITS)
    builds = threading.Semaphore(1)  # the first build passes; the rest wait for the gate
    real_create = pool.builder.create

    def gated_create(name: str) -> None:
        builds.acquire()
        real_create(name)

    monkeypatch.setattr(pool.builder, "create", gated_create)
    try:
        seen: list[str] = []
        for _ in range(4):
            with factory.database(KITS) as db:
                seen.append(db.name)
                assert count(db, "br__pagila__public.actor") == 0  # emptied by the recycling
                with db.create_engine().begin() as conn:
                    conn.execute(insert(table(db, "br__pagila__public.actor")).values(first_name="A", last_name="B"))
            assert pool.wait_for_drops(timeout=120), "the returned database was never recycled"
        assert seen == [seen[0]] * 4 and pool.recycled == 4  # each return recycled
    finally:
        for _ in range(8):
            builds.release()  # let the held builder finish so close() can drop what it built
        factory.close()
    assert leftovers(server) == []


def test_concurrent_requests_neither_fail_nor_collide(server):
    factory = DatabaseFactory(server.url, engine=server.engine, ready=2)
    got: list[IsolatedDatabase] = []
    errors: list[BaseException] = []

    def take() -> None:
        try:
            got.append(factory.database(KITS))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=take) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        assert errors == []
        assert len({db.name for db in got}) == 6
        assert all(db.validate().success for db in got)
    finally:
        factory.close()


def test_names_carry_the_xdist_worker_id(server, monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    with DatabaseFactory(server.url, engine=server.engine, ready=0) as factory:
        with factory.database(KITS) as db:
            assert db.name.startswith("dk_gw3_")


def test_a_failing_deploy_says_why_and_leaves_nothing(server):
    with DatabaseFactory(server.url, engine=server.engine, ready=1) as factory:
        with pytest.raises(DeployError, match="br__pagila__public"):
            factory.database([SILVER])  # silver without bronze
    assert leftovers(server) == []


# ---------------------------------------------------------------------------
# PostgreSQL: templates
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("engine", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_postgres_template_is_closed_and_reused_across_factories(server):
    with DatabaseFactory(server.url, engine="postgres") as first:
        first.warm(KITS)
        template = first.pool(KITS).builder.template
    eng = create_engine(server.url)
    with eng.connect() as conn:
        row = conn.execute(text("SELECT datistemplate, datallowconn FROM pg_database WHERE datname = :n"),
                           {"n": template}).one()
    eng.dispose()
    assert tuple(row) == (True, False)
    before = [n for n in catalog(server) if n.startswith("dkenv_tpl_")]
    with DatabaseFactory(server.url, engine="postgres") as second:  # a later run on a reused server
        second.warm(KITS)
        builder = second.pool(KITS).builder
        assert builder.template == template and builder.template_reused
    assert [n for n in catalog(server) if n.startswith("dkenv_tpl_")] == before
    with DatabaseFactory(server.url, engine="postgres") as bronze_only:  # another datakit set
        bronze_only.warm([BRONZE])
        assert bronze_only.pool([BRONZE]).builder.template != template


@pytest.mark.parametrize("engine", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_postgres_copy_waits_for_a_session_on_the_template(server):
    """'source database is being accessed by other users' is retried, not raised.

    PostgreSQL itself waits 5 s for other sessions before refusing; the intruder stays
    longer, so dkenv's retry is what makes the copy succeed.
    """
    with DatabaseFactory(server.url, engine="postgres", ready=0) as factory:
        factory.warm(KITS)
        template = factory.pool(KITS).builder.template
        admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{template}" WITH ALLOW_CONNECTIONS true'))
        intruder_engine = create_engine(factory.pool(KITS).builder.url(template))
        intruder = intruder_engine.connect()
        intruder.execute(text("SELECT 1"))

        def leave() -> None:
            intruder.close()
            intruder_engine.dispose()

        timer = threading.Timer(6.0, leave)
        timer.start()
        try:
            started = time.monotonic()
            with factory.database(KITS) as db:
                assert db.validate().success
            assert time.monotonic() - started >= 5.5
        finally:
            timer.join()
            with admin.connect() as conn:
                conn.execute(text(f'ALTER DATABASE "{template}" WITH ALLOW_CONNECTIONS false'))
            admin.dispose()


# ---------------------------------------------------------------------------
# MySQL: a schema is a database, so each isolated database gets its own copies
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("engine", [pytest.param("mysql", marks=pytest.mark.mysql)])
def test_mysql_schemas_live_in_databases_of_their_own(server):
    with server_database(server, datakits=KITS) as db:
        assert db.schema_map == {"br__pagila__public": f"{db.name}__br__pagila__public",
                                 "sv__pagila": f"{db.name}__sv__pagila"}
        names = catalog(server)
        assert set(db.schema_map.values()) <= set(names)
        assert "br__pagila__public" not in names  # the model's own name is never created
        assert db.target.options["schema_map"] == db.schema_map


@pytest.mark.parametrize("engine", [pytest.param("mysql", marks=pytest.mark.mysql)])
def test_mysql_drop_ends_sessions_left_open(server):
    factory = DatabaseFactory(server.url, engine="mysql", ready=0)
    db = factory.database(KITS)
    eng = create_engine(db.url)
    conn = eng.connect()
    conn.begin()
    conn.execute(insert(table(db, "br__pagila__public.actor")).values(
        actor_id=1, first_name="A", last_name="B").execution_options(schema_translate_map=db.schema_map))
    db.drop()  # the open transaction holds metadata locks; the drop must not hang on them
    assert factory.pool(KITS).wait_for_drops(timeout=120)
    try:
        assert db.name not in catalog(server)
    finally:
        conn.invalidate()
        eng.dispose()
        factory.close()


def test_recycling_resets_rows_and_counters_but_refuses_a_changed_schema(server):
    with DatabaseFactory(server.url, engine=server.engine, ready=0) as factory:
        db = factory.database(KITS)
        builder = factory.pool(KITS).builder
        actor = table(db, "br__pagila__public.actor")
        eng = db.create_engine()
        with eng.begin() as conn:
            conn.execute(insert(actor).values(first_name="A", last_name="B"))
            conn.execute(insert(actor).values(first_name="C", last_name="D"))
        left_open = eng.connect()  # a session the test forgot, mid-transaction: recycling ends it
        left_open.execute(insert(actor).values(first_name="E", last_name="F"))
        assert builder.recycle(db.name)
        assert count(db, "br__pagila__public.actor") == 0
        with db.create_engine().begin() as conn:
            conn.execute(insert(actor).values(first_name="G", last_name="H"))
            assert conn.execute(select(actor.c.actor_id)).scalar() == 1  # counters restarted
        schema = db.schema_map.get("sv__pagila", "sv__pagila")
        quote = "`" if server.engine == "mysql" else '"'
        with db.create_engine().begin() as conn:
            conn.execute(text(f"CREATE TABLE {quote}{schema}{quote}.extra (id INT PRIMARY KEY)"))
        assert not builder.recycle(db.name)  # a changed schema is dropped and rebuilt instead
        left_open.invalidate()
        eng.dispose()
        db.drop()


def test_a_failing_table_is_named_as_the_model_names_it(server):
    """Internal names (``dk_…__shop``) never reach the user; MySQL errors read as a sentence."""
    kit = ROOT / "tests" / "fixtures" / "datakits" / "fk_not_unique"
    with DatabaseFactory(server.url, engine=server.engine, ready=0) as factory:
        with pytest.raises(DeployError) as info:
            factory.database([kit])
    message = str(info.value)
    assert "shop.purchase" in message and "dk_" not in message, message
    if server.engine == "mysql":
        assert "MySQL error 1005:" in message and "(1005," not in message, message
    else:
        assert "no unique constraint" in message, message
    assert leftovers(server) == []
