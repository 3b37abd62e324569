"""Data files loaded into PostgreSQL and MariaDB containers: bulk paths, transactions, FK order.

One server per engine for the module (its own ``DKENV_SCOPE``); each test loads into an
isolated database of its own with the ``shop`` fixture datakit deployed.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from dkenv.data import BadRows, LoadFailed, load_data
from dkenv.databases import close_server_databases, server_database
from tests.conftest import FIXTURES, ROOT
from tests.integration.conftest import module_servers

pytestmark = pytest.mark.docker

SHOP = FIXTURES / "shop"
SHOP_DATA = ROOT / "tests" / "fixtures" / "data" / "shop"
ENGINES = [pytest.param("postgres", marks=pytest.mark.postgres),
           pytest.param("mysql", marks=pytest.mark.mysql)]


@pytest.fixture(scope="module")
def servers(client, local_images):
    with module_servers(client, "data") as started:
        yield started


@pytest.fixture(params=ENGINES)
def server(request, servers):
    from dkenv.servers.lifecycle import start

    if request.param not in servers:
        servers[request.param] = start(request.param, progress=False)
    return servers[request.param]


@pytest.fixture
def db(server):
    with server_database(server, datakits=[SHOP], ready=0) as database:
        yield database


def rows(db, table: str) -> list[tuple]:
    kit = db.datakits[0]
    t = kit.metadata.tables[f"shop.{table}"]
    engine = db.create_engine()
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
    finally:
        engine.dispose()


def test_load_every_format(db):
    result = load_data(db.target, [SHOP_DATA], db.datakits)
    assert result.rows == 11
    assert [r[:3] for r in rows(db, "customer")] == [(1, "Ada", "ada@example.com"), (2, "Bob, Jr.", None),
                                                     (3, "Cleo", "")]
    assert [(r[4], r[5] is None) for r in rows(db, "customer")] == [(True, False), (False, True), (True, False)]
    ada = rows(db, "customer")[0]
    if db.engine == "postgres":  # timezone-aware timestamps keep their instant
        assert ada[6] == datetime(2024, 1, 2, 2, 4, 5, tzinfo=UTC)
    assert [(r[1], str(r[2]), r[3]) for r in rows(db, "orders")] == [
        (1, "12.50", "first"), (1, "3.00", None), (3, "99.99", None)]
    assert rows(db, "employee") == [(1, "Boss", None), (2, "Worker", 1)]


def test_missing_parent_loads_nothing(db, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(SHOP_DATA, data)
    (data / "orders.jsonl").write_text('{"customer_id": 1, "amount": 1}\n{"customer_id": 7, "amount": 2}\n')
    with pytest.raises(BadRows) as info:
        load_data(db.target, [data], db.datakits)
    assert f"{data / 'orders.jsonl'}:2: shop.orders.customer_id: foreign key points to no row" in info.value.message
    assert all(rows(db, t) == [] for t in ("country", "customer", "orders", "employee"))


def test_a_refused_load_is_rolled_back_whole(db, tmp_path):
    """The second load's new country goes in first, then the database refuses a duplicate customer:
    the new country must be gone too (one transaction; InnoDB DML on MariaDB)."""
    load_data(db.target, [SHOP_DATA], db.datakits)
    again = tmp_path / "again"
    again.mkdir()
    (again / "country.csv").write_text("code,name\nIT,Italy\n")
    (again / "customer.csv").write_text("id,name,country_code\n1,Again,IT\n")
    with pytest.raises(LoadFailed, match="nothing was loaded"):
        load_data(db.target, [again], db.datakits)
    assert [r[0] for r in rows(db, "country")] == ["DE", "FR", "US"]
    assert len(rows(db, "customer")) == 3


def test_parent_rows_already_in_the_database_count(db, tmp_path):
    load_data(db.target, [SHOP_DATA], db.datakits)
    later = tmp_path / "later"
    later.mkdir()
    (later / "orders.csv").write_text("customer_id,amount\n2,5\n")
    load_data(db.target, [later], db.datakits)
    assert [(r[1], str(r[2])) for r in rows(db, "orders")][-1] == (2, "5.00")


def test_rows_loaded_with_their_keys_leave_room_for_the_next_insert(db):
    """Customers 1-3 come with their ids: a test's own INSERT without an id gets 4, not a
    duplicate key (PostgreSQL's serial sequence is moved past the loaded rows; MariaDB's
    AUTO_INCREMENT follows by itself)."""
    load_data(db.target, [SHOP_DATA], db.datakits)
    customer = db.datakits[0].metadata.tables["shop.customer"]
    engine = db.create_engine()
    try:
        with engine.begin() as conn:
            conn.execute(customer.insert().values(name="New", country_code="DE", active=True))
        assert [r[:2] for r in rows(db, "customer")][-1] == (4, "New")
        assert [r[:2] for r in rows(db, "orders")][-1] == (3, 3)  # orders came without ids: 1..3
    finally:
        engine.dispose()


@pytest.mark.parametrize("server", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_a_role_that_may_not_move_the_sequence_loads_nothing(db, tmp_path):
    """A loading role with INSERT but no UPDATE on the serial sequence: the load fails with the
    GRANT to give, and the rows already copied are rolled back with it."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from dkenv.config import Target
    from dkenv.servers.runtime import release

    data = tmp_path / "data"
    data.mkdir()
    for name in ("country.csv", "shop.customer.csv"):  # customers come with their ids
        shutil.copy(SHOP_DATA / name, data)
    role = f"loader_{uuid.uuid4().hex[:8]}"
    admin = create_engine(db.url)
    with admin.begin() as conn:
        for sql in (f"CREATE ROLE {role} LOGIN PASSWORD 'pw'", f"GRANT USAGE ON SCHEMA shop TO {role}",
                    f"GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA shop TO {role}",
                    f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA shop TO {role}"):
            conn.execute(text(sql))
    url = make_url(db.url).set(username=role, password="pw").render_as_string(hide_password=False)
    target = Target(name="as loader", db_type="postgres", kind="url", url=url)
    try:
        with pytest.raises(LoadFailed) as info:
            load_data(target, [data], db.datakits)
        assert "shop.customer" in info.value.message and "sequence of id" in info.value.message
        assert "nothing was loaded" in info.value.message and "GRANT USAGE, UPDATE" in info.value.hint
        assert rows(db, "country") == [] and rows(db, "customer") == []
    finally:
        release(target)
        with admin.begin() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
        admin.dispose()


# PostgreSQL only: an isolated MySQL database keeps schema shop in another database, which its
# URL alone cannot say (the Python target carries the schema map; the other tests use it).
@pytest.mark.parametrize("server", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_cli_load_into_a_url(db, dk):
    result = dk("load", SHOP_DATA, "--url", db.url, SHOP, "--json")
    assert result.code == 0, result.err
    assert '"rows": 11' in result.out
    assert len(rows(db, "country")) == 3


# ---------------------------------------------------------------------------
# Isolated databases with data: the template holds the rows
# ---------------------------------------------------------------------------
def test_isolated_databases_hold_the_data_and_stay_isolated(server, tmp_path):
    from sqlalchemy import delete

    for _ in range(2):  # the second comes from the same template (or the pool built with data)
        with server_database(server, datakits=[SHOP], data=[SHOP_DATA], ready=0) as db:
            assert len(rows(db, "customer")) == 3 and len(rows(db, "orders")) == 3
            orders = db.datakits[0].metadata.tables["shop.orders"]
            engine = db.create_engine()
            with engine.begin() as conn:
                conn.execute(delete(orders))
            engine.dispose()
    changed = tmp_path / "changed"
    shutil.copytree(SHOP_DATA, changed)
    (changed / "orders.jsonl").write_text('{"customer_id": 2, "amount": 1}\n')
    with server_database(server, datakits=[SHOP], data=[changed], ready=0) as db:
        assert [r[1] for r in rows(db, "orders")] == [2]  # new content hash: a template of its own


def test_isolated_database_with_bad_data_fails_and_leaves_nothing(server, tmp_path):
    from dkenv.errors import DkenvError

    bad = tmp_path / "bad"
    shutil.copytree(SHOP_DATA, bad)
    (bad / "orders.jsonl").write_text('{"customer_id": 99, "amount": 1}\n')
    before = catalog(server)
    with pytest.raises(DkenvError, match="foreign key points to no row"):
        server_database(server, datakits=[SHOP], data=[bad], ready=0)
    assert [n for n in catalog(server) if n not in before] == []  # no half-built template or database


@pytest.mark.parametrize("server", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_returned_copies_keep_untouched_data_and_lose_the_rest(server, tmp_path, monkeypatch):
    """PostgreSQL with data in the template: a returned copy whose data tables nobody wrote is
    emptied of the test's own rows, its sequences set back, and handed out again; one whose
    data table was written is dropped and a fresh copy made.  The builder is held after its
    first copy (a gate on ``create``), so a refill can only come from recycling until the
    test lets it build: no timing decides the outcome."""
    import threading

    from sqlalchemy import text

    from dkenv.databases import DatabaseFactory
    from dkenv.datakit import load_datakit

    data = tmp_path / "data"
    data.mkdir()
    for name in ("country.csv", "shop.customer.csv"):  # orders and employee stay empty
        shutil.copy(SHOP_DATA / name, data)
    kit = load_datakit(SHOP)
    factory = DatabaseFactory(server.url, engine="postgres", ready=1)
    pool = factory.pool([kit], data=[data])
    builds = threading.Semaphore(1)
    real_create = pool.builder.create

    def gated_create(name: str) -> None:
        builds.acquire()
        real_create(name)

    monkeypatch.setattr(pool.builder, "create", gated_create)

    def run(db, *sql: str) -> list:
        engine = db.create_engine()
        try:
            with engine.begin() as conn:
                return [r.all() if (r := conn.execute(text(s))).returns_rows else None for s in sql]
        finally:
            engine.dispose()

    try:
        with factory.database([kit], data=[data]) as first:
            run(first, "INSERT INTO shop.orders (customer_id, amount) VALUES (1, 5)",
                "INSERT INTO shop.orders (customer_id, amount) VALUES (2, 6)")
        assert pool.wait_for_drops(timeout=120)
        with factory.database([kit], data=[data]) as second:
            assert second.name == first.name and pool.recycled == 1
            counts, order_id = run(second, "SELECT (SELECT count(*) FROM shop.customer), "
                                           "(SELECT count(*) FROM shop.orders), (SELECT count(*) FROM shop.country)",
                                   "INSERT INTO shop.orders (customer_id, amount) VALUES (1, 7) RETURNING id")
            assert counts == [(3, 0, 3)] and order_id == [(1,)]  # the orders sequence was set back
            run(second, "UPDATE shop.customer SET name = 'Changed' WHERE id = 1")
        builds.release()  # the written copy cannot be recycled: let the builder make a new one
        assert pool.wait_for_drops(timeout=120)
        assert first.name not in catalog(server) and pool.recycled == 1
        with factory.database([kit], data=[data]) as third:
            names, new_id = run(third, "SELECT name FROM shop.customer ORDER BY id",
                                "INSERT INTO shop.customer (name, country_code, active) VALUES ('New', 'DE', true) "
                                "RETURNING id")
            assert [n for (n,) in names] == ["Ada", "Bob, Jr.", "Cleo"] and new_id == [(4,)]
    finally:
        for _ in range(4):
            builds.release()
        factory.close()


def catalog(server) -> list[str]:
    from sqlalchemy import create_engine, text

    sql = ("SELECT datname FROM pg_database" if server.engine == "postgres"
           else "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
    engine = create_engine(server.url)
    try:
        with engine.connect() as conn:
            return sorted(r[0] for r in conn.execute(text(sql)))
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------
# Snapshots
# ---------------------------------------------------------------------------
def test_snapshot_of_a_database_after_a_step(server, dk):
    from sqlalchemy import delete

    from dkenv.errors import UsageError

    with server_database(server, datakits=[SHOP], data=[SHOP_DATA], ready=0) as db:
        orders = db.datakits[0].metadata.tables["shop.orders"]
        engine = db.create_engine()
        with engine.begin() as conn:  # a pipeline step ran
            conn.execute(delete(orders).where(orders.c.customer_id == 1))
        if server.engine == "mysql":
            with pytest.raises(UsageError, match="not supported on MySQL"):
                server.snapshot(db, "after-step")
            return
        made = server.snapshot(db, "after-step")
        assert made.where == "dkenv_snap_after-step"
    try:
        for _ in range(2):
            with server_database(server, snapshot="after-step", datakits=[SHOP]) as copy:
                assert [r[1] for r in rows(copy, "orders")] == [3]
                assert copy.validate().success
                engine = copy.create_engine()
                with engine.begin() as conn:
                    conn.execute(delete(orders))
                engine.dispose()
        listed = dk("snapshot", "ls", "--url", server.url)
        assert listed.code == 0 and "after-step" in listed.out
    finally:
        close_server_databases(server)
        removed = dk("snapshot", "rm", "after-step", "--url", server.url)
    assert removed.code == 0, removed.err
    assert "dkenv_snap_after-step" not in catalog(server)


def test_foreign_key_cycle_loads_on_both_engines(db):
    """department.head_id -> employee, employee.department_id -> department: neither table can go
    first; the keys are checked by dkenv, and the database's check is postponed for the load."""
    import warnings

    from dkenv.datakit import load_datakit

    cycle = load_datakit(FIXTURES / "cycle")
    engine = db.create_engine()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy warns that the cycle needs ALTER TABLE: it uses it
        cycle.metadata.create_all(engine)
    engine.dispose()
    result = load_data(db.target, [ROOT / "tests" / "fixtures" / "data" / "cycle"], [cycle])
    assert result.tables == {"department": 2, "employee": 2}
    engine = db.create_engine()
    try:
        with engine.connect() as conn:
            heads = conn.execute(select(cycle.metadata.tables["department"].c.head_id)
                                 .order_by(cycle.metadata.tables["department"].c.id)).scalars().all()
            assert heads == [10, None]
            if db.engine == "mysql":  # the load switched the checks off on its own connection only
                assert conn.exec_driver_sql("SELECT @@FOREIGN_KEY_CHECKS").scalar() == 1
    finally:
        engine.dispose()


def test_enum_and_decimal_columns_through_the_bulk_paths(server, tmp_path):
    """silver's tier is a Python enum (a PostgreSQL enum type, MySQL ENUM): COPY and executemany
    must store what SQLAlchemy would store."""
    examples = ROOT / "examples"
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(examples / "bronze-pagila" / "data" / "sample" / "customer.csv", data)
    (data / "sv__pagila.customer_profile.csv").write_text(
        "customer_id,full_name,email,tier,lifetime_value\n1,Mary Smith,,gold,12.5\n2,Pat Jones,p@x.org,bronze,0\n")
    kits = [examples / "bronze-pagila", examples / "silver-pagila"]
    with server_database(server, datakits=kits, data=[data], ready=0) as db:
        profile = db.datakits[1].metadata.tables["sv__pagila.customer_profile"]
        engine = db.create_engine()
        try:
            with engine.connect() as conn:
                got = conn.execute(select(profile.c.customer_id, profile.c.tier, profile.c.lifetime_value,
                                          profile.c.email).order_by(profile.c.customer_id)).all()
        finally:
            engine.dispose()
    assert [(r[0], r[1].value, str(r[2]), r[3]) for r in got] == [(1, "gold", "12.50", None),
                                                                 (2, "bronze", "0.00", "p@x.org")]


def test_silver_rows_whose_parents_are_already_in_bronze(server, tmp_path):
    """A second load into silver finds its bronze parents in the database (on MySQL, in the
    isolated database's own copy of the bronze schema)."""
    examples = ROOT / "examples"
    kits = [examples / "bronze-pagila", examples / "silver-pagila"]
    with server_database(server, datakits=kits, data=[examples / "bronze-pagila" / "data" / "sample"],
                         ready=0) as db:
        silver = tmp_path / "silver"
        silver.mkdir()
        (silver / "customer_profile.csv").write_text("customer_id,full_name\n1,Mary Smith\n")
        assert load_data(db.target, [silver], db.datakits).rows == 1
        (silver / "customer_profile.csv").write_text("customer_id,full_name\n2,Pat\n777,Nobody\n")
        with pytest.raises(BadRows, match=r"customer_profile.csv:3: sv__pagila.customer_profile.customer_id: "
                                          r"foreign key points to no row of br__pagila__public.customer"):
            load_data(db.target, [silver], db.datakits)


@pytest.mark.parametrize("target", [pytest.param("postgres_container", marks=pytest.mark.postgres),
                                    pytest.param("mysql_container", marks=pytest.mark.mysql)])
def test_deploy_with_bad_data_to_a_container_leaves_nothing_running(dk, client, scope, servers, target, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(SHOP_DATA, bad)
    (bad / "orders.jsonl").write_text('{"customer_id": "two", "amount": 1}\n')
    before = {c["Id"] for c in client.api.containers(all=True, filters={"label": [f"dkenv.scope={scope}"]})}
    result = dk("deploy", SHOP, "--target", target, "--data", bad)
    assert result.code == 1
    assert f"{bad / 'orders.jsonl'}:1: shop.orders.customer_id: Input should be a valid integer" in result.err
    assert "deploying" not in result.err  # the rows are read before anything starts
    after = {c["Id"] for c in client.api.containers(all=True, filters={"label": [f"dkenv.scope={scope}"]})}
    assert after == before
