"""SQLAlchemy declarative models and bare ``Table`` objects are datakits too (issue 8).

The declarative kit (DeclarativeBase + Mapped + mapped_column, a legacy declarative_base(), an
association Table, a standalone MetaData) and the SQLModel kit with an association Table and
factory-built classes go through everything a SQLModel kit goes through: deploy + validate on
PostgreSQL and MariaDB containers, ``dkenv check`` live, isolated databases from a server, and
the pytest plugin (also with ``dkenv_pythonpath`` for a namespace-package kit).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dkenv.databases import server_database
from dkenv.databases.sqlite_server import SqliteServer

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
DECLARATIVE = FIXTURES / "datakits" / "sa_declarative"
TABLES = FIXTURES / "datakits" / "sqlmodel_tables"
MEDALLION = FIXTURES / "medallion_repo"


@pytest.mark.parametrize("kit", [DECLARATIVE, TABLES], ids=["declarative", "tables"])
def test_isolated_databases_from_a_sqlite_server(kit):
    with SqliteServer() as server, server_database(server, datakits=[kit]) as db:
        assert db.validate().success
        tables = [t for k in db.datakits for t in k.tables]
        assert len(tables) in (5, 6)
        with db.create_engine().connect() as conn:
            for table in tables:
                assert conn.execute(select(func.count()).select_from(table)).scalar() == 0


@pytest.mark.docker
@pytest.mark.usefixtures("local_images", "scope")
@pytest.mark.parametrize("target", ["postgres_container", "mysql_container"])
def test_deploy_validate_and_check_live_on_containers(dk, target):
    r = dk("deploy", DECLARATIVE, TABLES, "--target", target, "--validate", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["validation"] == {"success": True, "problems": []}
    assert {"blog.post_tag", "audit_log", "setting", "post_tag", "currency"} <= set(doc["tables"])

    engine = target.split("_")[0]
    r = dk("check", DECLARATIVE, TABLES, "--engines", engine, "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["success"] is True


def test_pytest_plugin_with_declarative_and_namespace_kits(pytester):
    pytester.makeini(f"[pytest]\ndkenv_pythonpath =\n    {MEDALLION}\n")
    pytester.makepyfile(f'''
        import pytest
        from sqlalchemy import func, select

        @pytest.mark.dkenv(datakits=[{str(DECLARATIVE)!r}, {str(TABLES)!r}])
        def test_declarative(dkenv_database, dkenv_engine):
            post_tag = next(t for k in dkenv_database.datakits for t in k.tables if t.fullname == "blog.post_tag")
            with dkenv_engine.connect() as conn:
                assert conn.execute(select(func.count()).select_from(post_tag)).scalar() == 0
            assert dkenv_database.validate().success

        @pytest.mark.dkenv(datakits=[{str(MEDALLION / "datakits" / "sales_kit")!r}])
        def test_namespace_kit_with_repo_root_helpers(dkenv_database):
            assert [t.fullname for k in dkenv_database.datakits for t in k.tables] == [
                "bronze_sales.raw_order", "silver_sales.order_total"]
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", timeout=300)
    result.assert_outcomes(passed=2)


@pytest.mark.docker
@pytest.mark.usefixtures("local_images", "scope")
@pytest.mark.parametrize("engine", [pytest.param("postgres", marks=pytest.mark.postgres),
                                    pytest.param("mysql", marks=pytest.mark.mysql)])
def test_isolated_databases_from_a_container_server(engine):
    from dkenv.databases import close_server_databases
    from dkenv.servers.lifecycle import start

    server = start(engine, progress=False)
    try:
        with server_database(server, datakits=[DECLARATIVE, TABLES]) as db:
            assert db.validate().success
            tables = [t for k in db.datakits for t in k.tables]
            assert {"blog.post_tag", "audit_log", "post_tag", "currency"} <= {t.fullname for t in tables}
            eng = db.create_engine()
            with eng.begin() as conn:
                for table in tables:
                    assert conn.execute(select(func.count()).select_from(table)).scalar() == 0
                author = next(t for t in tables if t.fullname == "blog.author")
                conn.execute(author.insert().values(id=1, name="A"))
    finally:
        close_server_databases(server)
        server.stop()
