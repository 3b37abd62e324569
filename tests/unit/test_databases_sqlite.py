"""Isolated SQLite databases: template files copied per request, pooled, dropped, never leaked.

Also the engine-independent pieces (schema renaming for MySQL, inlined indexes, problem
formatting), which need no server.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text

from dkenv.config import Target
from dkenv.databases import DatabaseFactory, IsolatedDatabase, SqliteServer, server_database
from dkenv.databases.pool import Pool
from dkenv.databases.sqlite import TEMPLATES_DIR
from dkenv.datakit import load_datakits
from dkenv.deploy import deploy_data_objects
from dkenv.deploy.deployed import validate_deployment
from dkenv.errors import DatakitError, DeployError
from dkenv.schema import (
    MYSQL_NAME_MAX,
    fill_tokens,
    inline_indexes,
    model_table_name,
    physical_schema,
    tables_for_target,
    translate_tables,
)

ROOT = Path(__file__).resolve().parents[2]
BRONZE = ROOT / "examples" / "bronze-pagila"
SILVER = ROOT / "examples" / "silver-pagila"
KITS = [BRONZE, SILVER]


def _db_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name != TEMPLATES_DIR)


def _table(db: IsolatedDatabase, fullname: str):
    for kit in db.datakits:
        if fullname in kit.metadata.tables:
            return kit.metadata.tables[fullname]
    raise KeyError(fullname)


@pytest.fixture
def server():
    with SqliteServer() as srv:
        yield srv


def test_server_has_a_container_servers_surface(server):
    assert server.engine == "sqlite"
    assert server.name.startswith("dkenv-sqlite-")
    assert server.url.startswith("sqlite:///") and server.url.endswith("main.db")
    assert server.target.db_type == "sqlite" and server.target.kind == "url"
    assert server.database == str(server.directory / "main.db")  # the name, as Server.database
    assert callable(server.database)


def test_stop_removes_the_directory_and_every_database():
    server = SqliteServer()
    db = server.database(datakits=KITS)
    assert Path(db.url.removeprefix("sqlite:///")).is_file()
    server.stop()
    assert not server.directory.exists()
    server.stop()  # idempotent


def test_handed_out_database_holds_the_datakits_and_validates(server):
    with server.database(datakits=KITS) as db:
        assert db.engine == "sqlite"
        assert set(db.attached) == {"br__pagila__public", "sv__pagila"}
        assert all(Path(f).is_file() for f in db.attached.values())
        assert db.validate().success
        engine = db.create_engine()
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(_table(db, "br__pagila__public.actor"))).scalar() == 0
            # foreign keys are enforced on the engine's connections
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_target_works_with_validate_and_deploy(server):
    """db.target is an ordinary url target: validate it, deploy more datakits into it."""
    with server.database(datakits=[BRONZE]) as db:
        assert validate_deployment(load_datakits([BRONZE], requires=False)[0], db.target).success
        result = deploy_data_objects(load_datakits([SILVER], requires=False)[0], db.target)  # FKs into bronze resolve
        assert result.success and len(result.created) == len(load_datakits([SILVER], requires=False)[0].tables)
        assert validate_deployment(load_datakits([SILVER], requires=False)[0], db.target).success


def test_databases_are_isolated(server):
    with server.database(datakits=KITS) as one, server.database(datakits=KITS) as two:
        assert one.name != two.name and one.url != two.url
        actor = _table(one, "br__pagila__public.actor")
        with one.create_engine().begin() as conn:
            conn.execute(insert(actor).values(actor_id=1, first_name="A", last_name="B"))
        with two.create_engine().connect() as conn:
            assert conn.execute(select(func.count()).select_from(actor)).scalar() == 0
        with one.create_engine().connect() as conn:
            assert conn.execute(select(func.count()).select_from(actor)).scalar() == 1


def test_warm_engines_share_one_dialect_and_statement_cache_yet_see_their_own_files(server):
    """Later engines of a pool reuse the first one's set-up dialect (no first-connect checks per
    database) and compiled statements, while each still reads its own database's attached files."""
    dbs = [server.database(datakits=KITS) for _ in range(3)]
    try:
        engines = [db.create_engine() for db in dbs]
        assert len({id(e.dialect) for e in engines}) == 1
        assert len({id(e._compiled_cache) for e in engines}) == 1
        assert len({str(e.url) for e in engines}) == 3
        actor = _table(dbs[0], "br__pagila__public.actor")
        for n, engine in enumerate(engines):  # 0 rows in the first, 1 in the second, 2 in the third
            with engine.begin() as conn:
                for i in range(n):
                    conn.execute(insert(actor).values(actor_id=i + 1, first_name="A", last_name="B"))
        for n, engine in enumerate(engines):
            with engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(actor)).scalar() == n
                assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        for db in dbs:
            db.drop()


def test_returned_databases_are_dropped_and_close_drops_the_rest(tmp_path):
    factory = DatabaseFactory(f"sqlite:///{tmp_path / 'main.db'}", ready=2)
    db = factory.database(KITS)
    files = {Path(db.url.removeprefix("sqlite:///")), *map(Path, db.attached.values())}
    db.drop()
    assert factory.pool(KITS).wait_for_drops(timeout=120)
    assert not any(f.exists() for f in files)
    factory.database(KITS)  # handed out, never returned
    factory.close()
    assert _db_files(tmp_path) == []  # handed-out and ready ones alike


def test_template_is_reused_for_the_same_datakits(tmp_path):
    url = f"sqlite:///{tmp_path / 'main.db'}"
    with DatabaseFactory(url) as first:
        first.warm(KITS)
        assert not first.pool(KITS).builder.template_reused
    with DatabaseFactory(url) as second:
        second.warm(KITS)
        assert second.pool(KITS).builder.template_reused
    assert len(list((tmp_path / TEMPLATES_DIR).iterdir())) == 1


def test_a_changed_datakit_gets_a_new_template(tmp_path):
    kit = tmp_path / "kit" / "mini"
    kit.mkdir(parents=True)
    (kit / "__init__.py").write_text("")
    model = ("from sqlmodel import Field, SQLModel\n\n"
             "class Thing(SQLModel, table=True):\n"
             "    id: int = Field(primary_key=True)\n"
             "    name: str = Field(max_length={n})\n")
    (kit / "models.py").write_text(model.format(n=10))
    url = f"sqlite:///{tmp_path / 'main.db'}"
    from dkenv.datakit import load_datakit

    with DatabaseFactory(url) as factory:
        factory.warm([load_datakit(kit)])
    (kit / "models.py").write_text(model.format(n=20))
    with DatabaseFactory(url) as factory:
        factory.warm([load_datakit(kit)])
        assert not factory.pool([load_datakit(kit)]).builder.template_reused
    assert len(list((tmp_path / TEMPLATES_DIR).iterdir())) == 2


def test_names_carry_the_xdist_worker_id(server, monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw7")
    factory = DatabaseFactory(server.url, ready=0)
    with factory, factory.database(KITS) as db:
        assert db.name.startswith("dk_gw7_")


def test_concurrent_requests_get_distinct_working_databases(server):
    results: list[IsolatedDatabase] = []
    errors: list[BaseException] = []

    def take() -> None:
        try:
            results.append(server.database(datakits=KITS))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len({db.name for db in results}) == 8
    assert all(db.validate().success for db in results)
    for db in results:
        db.drop()


def test_a_failing_deploy_is_reported_and_leaves_nothing(server):
    with pytest.raises(DeployError, match="br__pagila__public"):
        server.database(datakits=[SILVER])  # silver without bronze: its FKs point nowhere
    assert _db_files(server.directory) == []


def test_a_missing_datakit_path_is_a_clear_error(server):
    with pytest.raises(DatakitError, match="does not exist"):
        server.database(datakits=["no/such/datakit"])


def test_server_database_is_the_method_lead_exposes(server):
    with server_database(server, datakits=[BRONZE]) as db:
        assert db.validate().success


def test_build_on_request_without_a_pool(tmp_path):
    with DatabaseFactory(f"sqlite:///{tmp_path / 'main.db'}", ready=0) as factory:
        with factory.database(KITS) as db:
            assert db.validate().success
        assert factory.pool(KITS).wait_for_drops(timeout=120)
        assert _db_files(tmp_path) == []  # ready=0 keeps nothing ahead


def test_validation_problems_name_table_kind_and_detail(server):
    from dkenv.testing.plugin import assert_valid, format_problems, pytest_assertrepr_compare

    with server.database(datakits=[BRONZE]) as db:
        with db.create_engine().begin() as conn:
            conn.execute(text('DROP TABLE "br__pagila__public"."actor"'))
        result = db.validate()
        assert not result.success
        text_ = format_problems(result)
        assert "br__pagila__public.actor: missing_table:" in text_
        with pytest.raises(pytest.fail.Exception, match=r"br__pagila__public\.actor: missing_table"):
            assert_valid(db)
        lines = pytest_assertrepr_compare(None, "==", result.problems, [])
        assert lines and any("br__pagila__public.actor: missing_table" in line for line in lines)


# ---------------------------------------------------------------------------
# Pool behaviour
# ---------------------------------------------------------------------------
class _FlakyBuilder:
    engine = "sqlite"

    def __init__(self) -> None:
        self.fail = True
        self.created: list[str] = []
        self.dropped: list[str] = []

    def prepare(self) -> None:
        pass

    def create(self, name: str) -> None:
        if self.fail:
            raise RuntimeError("server went away")
        self.created.append(name)

    def drop(self, name: str) -> None:
        self.dropped.append(name)

    def url(self, name: str) -> str:
        return name

    def schema_map(self, name: str) -> dict[str, str]:
        return {}

    def close(self) -> None:
        pass


def test_pool_reports_a_build_error_then_recovers():
    counter = iter(range(100))
    builder = _FlakyBuilder()
    pool = Pool(builder, lambda: f"db{next(counter)}", ready=2)
    with pytest.raises(RuntimeError, match="server went away"):
        pool.take(timeout=60)
    builder.fail = False
    name = pool.take(timeout=60)
    assert name in builder.created
    pool.give_back(name)
    pool.close()
    assert set(builder.dropped) >= set(builder.created)  # returned and ready ones are dropped


class _CountedBuilder(_FlakyBuilder):
    """Builds the first ``works`` databases, then fails (a server out of room, say)."""

    def __init__(self, works: int) -> None:
        super().__init__()
        self.fail = False
        self.works = works

    def create(self, name: str) -> None:
        if len(self.created) >= self.works:
            raise RuntimeError("no room for another database")
        self.created.append(name)


def test_a_pool_that_fills_first_hands_out_once_all_are_built():
    """MySQL's pools: the first hand-out waits until every ready database is built, so no
    test waits behind a build later (the builder's DDL would send resets to the fingerprint)."""
    counter = iter(range(100))
    builder = _CountedBuilder(works=10)
    pool = Pool(builder, lambda: f"db{next(counter)}", ready=3, fill_first=True)
    try:
        first = pool.take(timeout=60)
        assert len(builder.created) == 3 and first == "db0"
        second = pool.take(timeout=60)  # no longer waits for a full pool
        assert second == "db1"
    finally:
        pool.close()


def test_a_fill_that_fails_past_the_first_database_still_hands_that_one_out():
    counter = iter(range(100))
    builder = _CountedBuilder(works=1)
    pool = Pool(builder, lambda: f"db{next(counter)}", ready=3, fill_first=True)
    try:
        assert pool.take(timeout=60) == "db0"  # not the second build's error
        with pytest.raises(RuntimeError, match="no room"):
            pool.take(timeout=60)  # nothing ready: the error now
    finally:
        pool.close()


# ---------------------------------------------------------------------------
# MySQL schema renaming and DDL replay helpers (no server needed)
# ---------------------------------------------------------------------------
def test_physical_schema_fits_mysqls_limit():
    assert physical_schema("dk_gw0_abc123_7", "br__pagila__public") == "dk_gw0_abc123_7__br__pagila__public"
    long = physical_schema("dk_gw12_abc123_100000", "s" * 80)
    assert len(long) <= MYSQL_NAME_MAX
    assert long != physical_schema("dk_gw12_abc123_100000", "s" * 79 + "t")


def test_translated_tables_rename_schemas_and_foreign_keys():
    kits = load_datakits(KITS, requires=False)
    tables = [t for kit in kits for t in kit.tables]
    mapping = {"br__pagila__public": "d__br", "sv__pagila": "d__sv"}
    copies = translate_tables(tables, mapping)
    assert {t.schema for t in copies} == {"d__br", "d__sv"}
    fks = {fk.target_fullname.rsplit(".", 2)[0] for t in copies for fk in t.foreign_keys}
    assert fks <= {"d__br", "d__sv"}
    # index names stay those of the model (not derived from the renamed schema)
    original = {ix.name for t in tables for ix in t.indexes}
    assert {ix.name for t in copies for ix in t.indexes} == original


def test_target_hook_renames_and_names_back():
    kit = load_datakits([BRONZE], requires=False)[0]
    plain = Target("t", "mysql", kind="url", url="mysql+pymysql://u@h/d")
    assert tables_for_target(kit.tables, plain) == kit.tables
    mapped = Target("t", "mysql", kind="url", url="mysql+pymysql://u@h/d",
                    options={"schema_map": {"br__pagila__public": "d__br"}})
    renamed = tables_for_target(kit.tables, mapped)
    assert {t.schema for t in renamed} == {"d__br"}
    assert tables_for_target(renamed, mapped)[0].schema == "d__br"  # idempotent
    assert model_table_name("d__br.actor", mapped) == "br__pagila__public.actor"
    assert model_table_name("other.actor", mapped) == "other.actor"


def test_indexes_fold_into_create_table_and_tokens_fill():
    ddl = [
        "CREATE TABLE dkschema0tok.t (\n\tid INTEGER NOT NULL, \n\tPRIMARY KEY (id)\n)",
        "CREATE INDEX ix_t_id ON dkschema0tok.t (id)",
        "CREATE UNIQUE INDEX ux ON dkschema0tok.t (id)",
        "CREATE INDEX ix_other ON elsewhere (x)",
    ]
    folded = inline_indexes(ddl)
    assert len(folded) == 2
    assert "INDEX ix_t_id (id)" in folded[0] and "UNIQUE INDEX ux (id)" in folded[0]
    assert folded[0].endswith("\n)")
    filled = fill_tokens(folded, ["d__s"], lambda n: f"`{n}`")
    assert filled[0].startswith("CREATE TABLE `d__s`.t (")


class _RecyclingBuilder(_FlakyBuilder):
    def __init__(self) -> None:
        super().__init__()
        self.fail = False
        self.clean = True
        self.recycled: list[str] = []

    def recycle(self, name: str) -> bool:
        self.recycled.append(name)
        return self.clean


def test_pool_reuses_recycled_databases_and_drops_the_rest():
    counter = iter(range(100))
    builder = _RecyclingBuilder()
    pool = Pool(builder, lambda: f"db{next(counter)}", ready=1)
    first = pool.take(timeout=60)
    pool.give_back(first)
    assert pool.wait_for_drops(120)
    assert builder.recycled == [first]
    # the pool holds at most `ready` databases: the recycled one, or the one built meanwhile
    assert (first in pool._ready) != (first in builder.dropped)  # noqa: SLF001
    builder.clean = False
    second = pool.take(timeout=60)
    pool.give_back(second)
    assert pool.wait_for_drops(120)
    assert second in builder.dropped  # not clean: dropped, never reused
    pool.close()


class _Warmer:
    """Records what the pool connects and closes (a string stands for a connected engine)."""

    def __init__(self) -> None:
        self.opened: list[str] = []
        self.closed: list[str] = []
        self._lock = threading.Lock()

    def open(self, name: str) -> str:
        with self._lock:
            self.opened.append(f"warm:{name}")
        return f"warm:{name}"

    def close(self, warm: str) -> None:
        with self._lock:
            self.closed.append(warm)


def test_pool_connects_each_ready_database_and_closes_what_nobody_claimed():
    counter = iter(range(100))
    builder = _RecyclingBuilder()
    builder.fail = False
    warmer = _Warmer()
    pool = Pool(builder, lambda: f"db{next(counter)}", ready=2, warmer=warmer)
    first = pool.take(timeout=60)
    assert pool.claim_warm(first) == f"warm:{first}"  # connected before it was handed out
    assert pool.claim_warm(first) is None  # claimed once; the caller owns it now
    pool.give_back(first)
    assert pool.wait_for_drops(120)
    if first in pool._ready:  # noqa: SLF001 - recycled: connected again for its next test
        assert warmer.opened.count(f"warm:{first}") == 2
    pool.close()
    # Everything connected and never claimed was closed (before its drop), exactly once.
    assert Counter(warmer.closed) == Counter(warmer.opened) - Counter([f"warm:{first}"])
    assert set(builder.dropped) >= set(builder.created)


def test_default_ready_databases_follow_the_engine():
    """PostgreSQL keeps DEFAULT_READY, MySQL four (its resets take as long as a short test), SQLite none."""
    from dkenv.databases.factory import DEFAULT_READY, DEFAULT_READY_EMBEDDED, DatabaseFactory

    assert DatabaseFactory("postgresql+psycopg2://u:p@127.0.0.1:1/x").ready == DEFAULT_READY == 2
    assert DatabaseFactory("mysql+pymysql://u:p@127.0.0.1:1/x").ready == 4
    assert DatabaseFactory("sqlite:////tmp/x.db").ready == DEFAULT_READY_EMBEDDED == 0
    assert DatabaseFactory("mysql+pymysql://u:p@127.0.0.1:1/x", ready=1).ready == 1
