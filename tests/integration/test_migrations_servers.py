"""Migrations as a source of truth on real PostgreSQL and MariaDB containers: databases built by
the Alembic history (deploy, isolated databases, the marker), templates keyed by the history,
`dkenv migrations check` catching every row of issue 20's drift matrix the engine can hold,
a revision that fails on MySQL only, downgrade leftovers, and `validate --strict`."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from dkenv.databases import DatabaseFactory
from dkenv.datakit import load_datakit
from dkenv.migrations.check import check_engine, empty_database
from tests.integration.conftest import module_servers
from tests.migrations_support import DRIFT, SHOP, add_revision, copy_shop, drifted, sample_data

pytest.importorskip("alembic")

pytestmark = pytest.mark.docker
pytest_plugins = ["pytester"]

ENGINES = [pytest.param("postgres", marks=pytest.mark.postgres),
           pytest.param("mysql", marks=pytest.mark.mysql)]


@pytest.fixture(scope="module")
def servers(client, local_images):
    with module_servers(client, "migrations") as started:
        yield started


@pytest.fixture(params=ENGINES)
def engine(request) -> str:
    return request.param


@pytest.fixture
def server(servers, engine):
    from dkenv.servers.lifecycle import start

    if engine not in servers:
        servers[engine] = start(engine, progress=False)
    return servers[engine]


def scalar(url: str, sql: str):
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return conn.exec_driver_sql(sql).scalar()
    finally:
        eng.dispose()


def table_names(url: str) -> set[str]:
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        eng.dispose()


def test_deploy_from_migrations(dk, server, engine):
    with empty_database(engine, server.url) as url:
        result = dk("deploy", SHOP, "--from", "migrations", "--url", url, "--validate", "--json")
        assert result.code == 0, result.err
        assert json.loads(result.out)["validation"]["success"] is True
        assert table_names(url) == {"alembic_version", "customers", "orders"}
        assert scalar(url, "SELECT version_num FROM alembic_version") == "0003"


def test_isolated_databases_from_migrations_keep_their_version_row_across_recycling(server):
    with DatabaseFactory(server.url, engine=server.engine, ready=1) as factory:
        for _ in range(3):  # the second and third are recycled or rebuilt copies
            with factory.database([SHOP], build="migrations") as db:
                assert scalar(db.url, "SELECT version_num FROM alembic_version") == "0003"
                assert db.validate().success
                eng = db.create_engine()
                with eng.begin() as conn:
                    conn.exec_driver_sql("INSERT INTO customers (email, name) VALUES ('a@x', 'A')")
                eng.dispose()
            factory.wait_for_drops()
        with factory.database([SHOP], build="migrations") as db:
            assert scalar(db.url, "SELECT count(*) FROM customers") == 0


def test_templates_follow_the_history(server, tmp_path):
    kit = copy_shop(tmp_path)
    with DatabaseFactory(server.url, engine=server.engine, ready=0) as factory:
        factory.database([kit], build="migrations").drop()
        first = factory.pool([kit], build="migrations").builder
    with DatabaseFactory(server.url, engine=server.engine, ready=0) as factory:
        factory.database([kit], build="migrations").drop()
        same = factory.pool([kit], build="migrations").builder
    add_revision(kit, "0004", "0003", 'op.add_column("orders", sa.Column("note", sa.String(40)))',
                 'op.drop_column("orders", "note")')
    with DatabaseFactory(server.url, engine=server.engine, ready=0) as factory:
        with factory.database([kit], build="migrations") as db:
            assert scalar(db.url, "SELECT version_num FROM alembic_version") == "0004"
            assert "note" in {c["name"] for c in sa.inspect(sa.create_engine(db.url)).get_columns("orders")}
        newer = factory.pool([kit], build="migrations").builder
    if server.engine == "postgres":
        assert same.template_reused and same.template == first.template
        assert not newer.template_reused and newer.template != first.template
    else:  # MySQL replays what the first migrated database held: the new column is in it
        assert any("`note`" in sql for sql in newer.ddl) and not any("`note`" in sql for sql in first.ddl)


MARKED = f'''
import pytest

@pytest.mark.dkenv(datakits=[{str(SHOP)!r}], build="migrations")
def test_marker(dkenv_engine):
    with dkenv_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0003"
'''


def test_marker_builds_from_migrations(pytester, engine, scope):
    pytester.makepyfile(MARKED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--dkenv-engines", engine, timeout=300)
    result.assert_outcomes(passed=1)


def test_check_passes_on_the_example(server, engine):
    report = check_engine(load_datakit(SHOP), engine, server_url=server.url)
    assert report.success, "\n".join(report.lines())


DRIFT_CASES = [pytest.param(engine, row, marks=getattr(pytest.mark, engine), id=f"{engine}-{row}")
               for row, spec in DRIFT.items() for engine in ("postgres", "mysql") if engine in spec[3]]


@pytest.mark.parametrize("engine, row", DRIFT_CASES)
def test_check_catches_each_drift_row(server, engine, tmp_path, row):
    report = check_engine(load_datakit(drifted(tmp_path, row)), engine, server_url=server.url)
    models = report.finding("models")
    assert models is not None and not models.ok, f"{row} not caught on {engine}: " + "\n".join(report.lines())
    assert DRIFT[row][2] in {p.kind for p in models.problems}, models.problems


def test_a_revision_that_fails_on_mysql_only(server, engine, tmp_path):
    kit = copy_shop(tmp_path)
    path = add_revision(kit, "0004", "0003", '''
        if op.get_bind().dialect.name == "mysql":
            op.execute("ALTER TABLE orders ADD COLUMN tags TEXT[]")
        ''')
    report = check_engine(load_datakit(kit), engine, server_url=server.url)
    upgrade = report.finding("upgrade")
    if engine == "postgres":
        assert report.success, "\n".join(report.lines())
    else:
        assert not upgrade.ok
        assert "revision 0004" in upgrade.detail and str(path) in upgrade.detail and "1064" in upgrade.detail
        assert report.finding("downgrade") is None


def test_check_names_what_a_downgrade_leaves(server, engine, tmp_path):
    kit = copy_shop(tmp_path)
    add_revision(kit, "0004", "0003", 'op.create_table("audit", sa.Column("id", sa.Integer, primary_key=True))')
    report = check_engine(load_datakit(kit), engine, server_url=server.url)
    assert not report.finding("downgrade").ok and "table audit" in report.finding("downgrade").detail


def test_validate_strict_reports_an_extra_unique_index(dk, server, engine):
    with empty_database(engine, server.url) as url:
        assert dk("deploy", SHOP, "--from", "migrations", "--url", url).code == 0
        eng = sa.create_engine(url)
        with eng.begin() as conn:
            conn.exec_driver_sql("CREATE UNIQUE INDEX ux_customers_name ON customers (name)")
        eng.dispose()
        assert dk("validate", SHOP, "--url", url).code == 0
        result = dk("validate", SHOP, "--url", url, "--strict", "--json")
        assert result.code == 1
        problems = json.loads(result.out)["validation"]["problems"]
        assert [(p["table"], p["kind"]) for p in problems] == [("customers", "unique")]
        assert "ux_customers_name (name)" in problems[0]["detail"]


def test_a_failing_revision_leaves_the_target_as_found(dk, server, engine, tmp_path):
    kit = copy_shop(tmp_path)
    add_revision(kit, "0004", "0003", 'op.execute("ALTER TABLE nowhere ADD COLUMN x INTEGER")')
    with empty_database(engine, server.url) as url:
        result = dk("deploy", kit, "--from", "migrations", "--url", url)
        assert result.code == 1
        assert "revision 0004" in result.err and "nowhere" in result.err
        assert table_names(url) == set()  # MariaDB committed revisions 1-3: dropped again
        if engine == "postgres":
            assert scalar(url, "SELECT count(*) FROM pg_type WHERE typname = 'orderstatus'") == 0


def test_check_data_reports_rows_a_revision_loses(server, engine, tmp_path):
    from dkenv.cli.migrations import _loader

    kit = copy_shop(tmp_path)
    add_revision(kit, "0004", "0003", 'op.execute("DELETE FROM orders WHERE quantity > 1")')
    datakit = load_datakit(kit)
    report = check_engine(datakit, engine, server_url=server.url, load=_loader(datakit, (str(sample_data(tmp_path)),)))
    data = report.finding("data")
    assert data is not None and not data.ok, "\n".join(report.lines())
    assert [(p.table, p.kind) for p in data.problems] == [("orders", "rows_lost")]


@pytest.mark.parametrize("kits", [["bronze-pagila", "silver-pagila"], ["retail-warehouse"]])
def test_validate_strict_has_no_false_positive_on_the_examples(dk, server, engine, kits):
    paths = [SHOP.parent / k for k in kits]
    with empty_database(engine, server.url) as url:
        assert dk("deploy", *paths, "--url", url).code == 0
        result = dk("validate", *paths, "--url", url, "--strict")
        assert result.code == 0, result.out + result.err


@pytest.mark.parametrize("engine", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_validate_strict_with_models_naming_the_default_schema(dk, server, engine):
    kit = SHOP.parent / "pagila-source"  # every table says schema="public"
    with empty_database(engine, server.url) as url:
        assert dk("deploy", kit, "--url", url).code == 0
        result = dk("validate", kit, "--url", url, "--strict")
        assert result.code == 0, result.out + result.err


def test_environment_database_built_from_migrations(scope, engine, tmp_path):
    import dkenv

    (tmp_path / "dkenv.toml").write_text(
        f'[environments.shop.databases.main]\nengine = "{engine}"\ndatakits = ["{SHOP.as_posix()}"]\n'
        'build = "migrations"\n')
    with dkenv.environment("shop", config=tmp_path / "dkenv.toml") as env:
        url = env["main"].url
        assert scalar(url, "SELECT version_num FROM alembic_version") == "0003"
        assert table_names(url) == {"alembic_version", "customers", "orders"}


@pytest.mark.parametrize("engine", [pytest.param("postgres", marks=pytest.mark.postgres)])
def test_readme_python_example(engine, scope):
    import re
    import subprocess
    import sys

    readme = (SHOP.parents[1] / "README.md").read_text()
    section = readme[readme.index("## Migrations"):readme.index("## Per-test databases")]
    block = next(b for b in re.findall(r"```python\n(.*?)```", section, re.S) if 'build="migrations"' in b)
    done = subprocess.run([sys.executable, "-c", block], cwd=SHOP.parents[1], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr


def test_migrations_check_helper_on_a_running_server(server, engine, tmp_path):
    from dkenv.testing import migrations_check

    assert migrations_check(SHOP, engine, server=server)
    broken = migrations_check(drifted(tmp_path, "varchar_shorter"), engine, server=server)
    assert not broken and "type_mismatch" in repr(broken)
