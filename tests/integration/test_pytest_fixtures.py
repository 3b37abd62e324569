"""The plugin's user-facing fixtures, run for real with pytester (subprocess pytest runs).

``dkenv_session``, ``dkenv_async_engine`` (with schemas: SQLite attachments, MySQL renamed
schemas), ``isolation="transaction"`` with code that commits and code that changes the schema,
``--dkenv-unavailable=skip`` against a Docker socket that does not exist, and the README's
FastAPI recipes.  Container runs use dkenv's local images and a ``DKENV_SCOPE`` of their own
(the ``scope`` fixture fails the test if a container is left).
"""

from __future__ import annotations

import re
import sys

import pytest

from tests.conftest import ROOT

pytest_plugins = ["pytester"]

BRONZE = ROOT / "examples" / "bronze-pagila"
TIMEOUT = 600
ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=[pytest.mark.docker, pytest.mark.postgres]),
    pytest.param("mysql", id="mysql", marks=[pytest.mark.docker, pytest.mark.mysql]),
]


@pytest.fixture
def engine_env(request, engine):
    """Container engines get dkenv's local images and a scope of their own; SQLite needs nothing."""
    if engine != "sqlite":
        request.getfixturevalue("local_images")
        request.getfixturevalue("scope")
    return engine


@pytest.fixture
def engine(request):
    return request.param


def run(pytester: pytest.Pytester, *args: str):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *args, timeout=TIMEOUT)


HEADER = f'''
import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from dkenv.testing.isolation import TransactionIsolationError

KIT = {str(BRONZE)!r}
NAMES = Path(__file__).parent / "names.txt"


def country(db):
    """A table in schema br__pagila__public: attached file on SQLite, renamed database on MySQL."""
    return next(k.metadata.tables["br__pagila__public.country"] for k in db.datakits
                if "br__pagila__public.country" in k.metadata.tables)


def count(conn_or_session, db):
    return conn_or_session.execute(select(func.count()).select_from(country(db))).scalar_one()
'''

# ---------------------------------------------------------------------------
# dkenv_session and dkenv_async_engine: the default isolation (a database per test)
# ---------------------------------------------------------------------------
SESSION_AND_ASYNC = HEADER + '''

@pytest.mark.dkenv(datakits=[KIT])
def test_session_commits_into_the_tests_own_database(dkenv_session, dkenv_database):
    dkenv_session.execute(country(dkenv_database).insert().values(country_id=1, country="Peru"))
    dkenv_session.commit()
    assert count(dkenv_session, dkenv_database) == 1


@pytest.mark.dkenv(datakits=[KIT])
def test_async_engine_sees_the_schemas(dkenv_async_engine, dkenv_database, dkenv_engine):
    table = country(dkenv_database)
    assert dkenv_async_engine.url.drivername in (
        "sqlite+aiosqlite", "postgresql+asyncpg", "mysql+aiomysql")

    async def main(country_id, name):
        async with dkenv_async_engine.begin() as conn:
            await conn.execute(table.insert().values(country_id=country_id, country=name))
        async with dkenv_async_engine.connect() as conn:
            return (await conn.execute(select(table.c.country).order_by(table.c.country_id))).scalars().all()

    assert asyncio.run(main(7, "Chile")) == ["Chile"]
    assert asyncio.run(main(8, "Peru")) == ["Chile", "Peru"]   # a second event loop: no stale connection
    with dkenv_engine.connect() as conn:             # the same database, seen by the sync engine
        assert count(conn, dkenv_database) == 2


@pytest.mark.dkenv(datakits=[KIT])
def test_next_test_starts_empty(dkenv_session, dkenv_database):
    assert count(dkenv_session, dkenv_database) == 0


@pytest.mark.dkenv(datakits=[KIT])
def test_connection_alone_is_on_the_tests_database(dkenv_connection, dkenv_database):
    dkenv_connection.execute(country(dkenv_database).insert().values(country_id=3, country="Chad"))
    assert count(dkenv_connection, dkenv_database) == 1


@pytest.mark.dkenv(datakits=[KIT])
def test_connection_and_engine_are_one_engine(dkenv_connection, dkenv_engine, dkenv_database):
    assert dkenv_connection.engine is dkenv_engine
    assert count(dkenv_connection, dkenv_database) == 0   # nothing of the test before


@pytest.mark.dkenv(datakits=[KIT])
def test_every_installed_driver(dkenv_database):
    """asyncpg and psycopg 3, aiomysql and asyncmy, aiosqlite: each sees the schemas."""
    import importlib.util

    from dkenv.engines import get_engine

    drivers = [d for d in get_engine(dkenv_database.engine).async_drivers if importlib.util.find_spec(d)]
    table = country(dkenv_database)
    for n, driver in enumerate(drivers, start=1):
        engine = dkenv_database.create_async_engine(driver)
        assert engine.url.drivername.endswith("+" + driver)

        async def main():
            async with engine.begin() as conn:
                await conn.execute(table.insert().values(country_id=n, country=driver))
                return (await conn.execute(select(func.count()).select_from(table))).scalar_one()

        assert asyncio.run(main()) == n, driver
    (Path(__file__).parent / "drivers.txt").write_text(" ".join(drivers))
'''


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
def test_session_and_async_engine_on_a_datakit_with_schemas(pytester, engine_env):
    pytester.makepyfile(SESSION_AND_ASYNC)
    result = run(pytester, f"--dkenv-engines={engine_env}")
    result.assert_outcomes(passed=6)  # each sees none of the rows the tests before it committed
    assert (pytester.path / "drivers.txt").read_text()  # at least one async driver ran


def test_async_url_and_a_missing_driver(tmp_path, monkeypatch):
    """The driver chosen is the first installed; a missing one is one line naming the extra."""
    from dkenv.databases import SqliteServer, server_database
    from dkenv.errors import MissingPackage, UsageError

    with SqliteServer() as server, server_database(server, datakits=[BRONZE]) as db:
        assert db.async_url().startswith("sqlite+aiosqlite:///") and db.async_url().endswith(".db")
        with pytest.raises(UsageError, match="'asyncpg' is not an async driver for sqlite"):
            db.async_url("asyncpg")
        monkeypatch.setitem(sys.modules, "aiosqlite", None)  # what an uninstalled package looks like
        with pytest.raises(MissingPackage) as caught:
            db.create_async_engine()
    message = str(caught.value)
    assert message == ("no async driver for sqlite: aiosqlite is not installed; "
                       "pip install aiosqlite, or pip install 'dkenv[async]'")
    assert caught.value.exit_code == 3


def test_async_url_keeps_password_host_and_query():
    from sqlalchemy.engine import make_url

    from dkenv.databases.async_engines import async_url

    pg = "postgresql+psycopg2://postgres:p%40ss@/dk_1?host=/run/pg&port=5433"
    url = make_url(async_url(pg, "postgres", "asyncpg"))
    assert (url.drivername, url.password, url.database) == ("postgresql+asyncpg", "p@ss", "dk_1")
    assert dict(url.query) == {"host": "/run/pg", "port": "5433"}
    my = "mysql+pymysql://root:secret@127.0.0.1:33061/dk_2"
    assert async_url(my, "mysql") == "mysql+aiomysql://root:secret@127.0.0.1:33061/dk_2"


def test_dkenv_async_engine_without_its_driver_fails_in_one_line(pytester):
    pytester.makeconftest("import sys\nsys.modules['aiosqlite'] = None  # not installed\n")
    pytester.makepyfile(HEADER + '''

@pytest.mark.dkenv(datakits=[KIT])
def test_it(dkenv_async_engine):
    pass
''')
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*::test_it?sqlite?: dkenv_async_engine: no async driver for sqlite: "
                                 "aiosqlite is not installed; pip install aiosqlite, or pip install "
                                 "'dkenv?async?'"])
    assert "During handling" not in result.stdout.str()
    assert "Traceback" not in result.stdout.str()


# ---------------------------------------------------------------------------
# isolation="transaction"
# ---------------------------------------------------------------------------
TRANSACTIONS = HEADER + '''
TX = pytest.mark.dkenv(datakits=[KIT], isolation="transaction")


def insert_and_commit(session, db, country_id):
    """Code under test: it commits, as application code does."""
    session.execute(country(db).insert().values(country_id=country_id, country="X"))
    session.commit()


@TX
def test_1_code_that_commits(dkenv_session, dkenv_database):
    insert_and_commit(dkenv_session, dkenv_database, 1)
    insert_and_commit(dkenv_session, dkenv_database, 2)
    assert count(dkenv_session, dkenv_database) == 2
    NAMES.open("a").write(dkenv_database.name + "\\n")


@TX
def test_2_sees_nothing_of_the_first(dkenv_session, dkenv_connection, dkenv_database):
    assert count(dkenv_session, dkenv_database) == 0
    insert_and_commit(dkenv_session, dkenv_database, 1)             # the same key again: no conflict
    assert count(dkenv_connection, dkenv_database) == 1             # the session is on this connection
    NAMES.open("a").write(dkenv_database.name + "\\n")


@TX
def test_3_schema_change_is_refused_before_it_runs(dkenv_connection, dkenv_database):
    dkenv_connection.execute(country(dkenv_database).insert().values(country_id=3, country="Y"))
    with pytest.raises(TransactionIsolationError, match="schema change in isolation=.transaction."):
        dkenv_connection.execute(text("CREATE TABLE dkenv_tx_probe (x INTEGER)"))
    assert count(dkenv_connection, dkenv_database) == 1             # the transaction is intact


@TX
def test_4_uncaught_ddl_fails_the_test(dkenv_connection):
    dkenv_connection.execute(text("  /* migrate */ DROP TABLE br__pagila__public.country"))


@TX
def test_5_commit_on_the_connection_is_refused(dkenv_connection, dkenv_database):
    dkenv_connection.execute(country(dkenv_database).insert().values(country_id=5, country="Z"))
    with pytest.raises(TransactionIsolationError, match="commit through dkenv_session"):
        dkenv_connection.commit()


@TX
def test_6_nothing_leaked(dkenv_connection, dkenv_database):
    assert count(dkenv_connection, dkenv_database) == 0
    assert dkenv_database.validate().success                       # no table added, none dropped


@TX
def test_7_url_is_refused(dkenv_url):
    pass


@TX
def test_8_engine_is_refused(dkenv_engine):
    pass


@TX
def test_9_async_engine_is_refused(dkenv_async_engine):
    pass


@pytest.mark.dkenv(datakits=[KIT], isolation="savepoint")
def test_unknown_isolation(dkenv_database):
    pass
'''


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
def test_transaction_isolation(pytester, engine_env):
    pytester.makepyfile(TRANSACTIONS)
    result = run(pytester, f"--dkenv-engines={engine_env}", "-p", "no:randomly")
    result.assert_outcomes(passed=5, failed=1, errors=4)
    names = (pytester.path / "names.txt").read_text().split()
    assert len(names) == 2 and names[0] == names[1], names       # one database for the session
    out = result.stdout.str()
    assert re.search(r"E +dkenv.testing.isolation.TransactionIsolationError: \S+::test_4_uncaught_ddl_fails_the_test"
                     r"\S+: schema change in isolation=\"transaction\" \(/\* migrate \*/ DROP TABLE", out), out
    assert 'hint: mark the test @pytest.mark.dkenv(isolation="database") (the default)' in out
    for fixture in ("dkenv_url", "dkenv_engine", "dkenv_async_engine"):
        assert (f"{fixture} cannot see the test's transaction (isolation=\"transaction\"); use "
                in out), fixture
    assert "isolation='savepoint'; use 'database' or 'transaction'" in out


# ---------------------------------------------------------------------------
# dkenv_unavailable = skip
# ---------------------------------------------------------------------------
NEEDS_SERVERS = HEADER + '''

@pytest.mark.dkenv(datakits=[KIT])
def test_everywhere(dkenv_database):
    assert dkenv_database.validate().success
'''


@pytest.fixture
def no_docker(monkeypatch, tmp_path):
    """A Docker endpoint that does not exist (what a laptop without an engine looks like)."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-docker.sock")
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)


def test_unavailable_skip_skips_container_tests_with_one_reason(pytester, no_docker):
    pytester.makepyfile(NEEDS_SERVERS)
    result = run(pytester, "--dkenv-engines=sqlite,postgres,mysql", "--dkenv-unavailable=skip")
    result.assert_outcomes(passed=1, skipped=2)
    result.stdout.fnmatch_lines(["SKIPPED [[]2[]] *: no Docker engine: no Docker engine answers at "
                                 "unix://*no-such-docker.sock: the socket does not exist"])


def test_unavailable_from_the_ini_and_the_flag_wins(pytester, no_docker):
    pytester.makepyfile(NEEDS_SERVERS)
    pytester.makeini("[pytest]\ndkenv_unavailable = skip\n")
    run(pytester, "--dkenv-engines=sqlite,postgres").assert_outcomes(passed=1, skipped=1)
    result = run(pytester, "--dkenv-engines=sqlite,postgres", "--dkenv-unavailable=error")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*dkenv could not start postgres for dkenv_postgres: no Docker engine answers*"])


def test_unavailable_default_is_error(pytester, no_docker):
    pytester.makepyfile(NEEDS_SERVERS)
    run(pytester, "--dkenv-engines=postgres").assert_outcomes(errors=1)


def test_require_docker_turns_the_skip_into_a_failure(pytester, no_docker, monkeypatch):
    monkeypatch.setenv("DKENV_REQUIRE_DOCKER", "1")
    pytester.makepyfile(NEEDS_SERVERS)
    result = run(pytester, "--dkenv-engines=sqlite,postgres", "--dkenv-unavailable=skip")
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*no Docker engine: * (postgres tests may not skip: DKENV_REQUIRE_DOCKER=1)"])


def test_unavailable_bad_value_is_a_usage_error(pytester):
    pytester.makeini("[pytest]\ndkenv_unavailable = maybe\n")
    pytester.makepyfile(NEEDS_SERVERS)
    result = run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*dkenv_unavailable / --dkenv-unavailable: 'maybe'; use error or skip*"])


# ---------------------------------------------------------------------------
# The README's recipes work as written (run from the repository root, as a user would)
# ---------------------------------------------------------------------------
def _readme_block(needle: str) -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = [b for b in re.findall(r"```python\n(.*?)```", readme, re.DOTALL) if needle in b]
    assert len(found) == 1, f"expected one python block in the README with {needle!r}"
    return found[0]


@pytest.mark.parametrize("engine", ENGINES, indirect=True)
def test_readme_fastapi_recipes(engine_env, tmp_path, monkeypatch):
    import subprocess

    pytest.importorskip("fastapi", reason="the FastAPI recipes need fastapi (dkenv's dev extra)")
    (tmp_path / "test_sync_recipe.py").write_text(_readme_block("def make_country("))
    (tmp_path / "test_async_recipe.py").write_text(_readme_block("async_sessionmaker"))
    monkeypatch.chdir(ROOT)
    out = subprocess.run([sys.executable, "-m", "pytest", str(tmp_path), "-p", "no:cacheprovider", "-q",
                          f"--dkenv-engines={engine_env}", "--rootdir", str(tmp_path)],
                         capture_output=True, text=True, timeout=TIMEOUT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert "4 passed" in out.stdout, out.stdout[-2000:]


def test_help_shows_the_unavailable_option_and_the_isolation_marker(pytester):
    help_out = pytester.runpytest_subprocess("--help").stdout.str()
    assert "--dkenv-unavailable={error,skip}" in help_out
    assert re.search(r"^\s+dkenv_unavailable \(string\):", help_out, re.MULTILINE), help_out
    markers = pytester.runpytest_subprocess("--markers").stdout.str()
    assert "isolation='database'|'transaction'" in markers
