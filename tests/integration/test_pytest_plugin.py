"""The pytest plugin, run for real with pytester: subprocess pytest runs against real servers.

The plugin is found through dkenv's ``pytest11`` entry point, as it is for users.  Runs with
PostgreSQL/MariaDB use dkenv's local images and a ``DKENV_SCOPE`` of their own; afterwards no
container of that scope may be left — also when an xdist worker is SIGKILLed mid-run.
"""

from __future__ import annotations

import re
import shutil
import uuid
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[2]
BRONZE = ROOT / "examples" / "bronze-pagila"
SILVER = ROOT / "examples" / "silver-pagila"
TIMEOUT = 600

TEST_BODY = f'''
from pathlib import Path

import pytest
from sqlalchemy import func, select

KITS = [{str(BRONZE)!r}, {str(SILVER)!r}]


def _table(db, fullname):
    return next(k.metadata.tables[fullname] for k in db.datakits if fullname in k.metadata.tables)


@pytest.mark.dkenv(datakits=KITS)
def test_fresh_database(dkenv_database, dkenv_engine, dkenv_url, dkenv_target, dkenv_engine_name):
    assert dkenv_database.engine == dkenv_engine_name == dkenv_target.db_type
    assert dkenv_url == dkenv_database.url
    actor = _table(dkenv_database, "br__pagila__public.actor")
    with dkenv_engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(actor)).scalar() == 0
        conn.execute(actor.insert().values(actor_id=1, first_name="A", last_name="B"))
    assert dkenv_database.validate().success
    with open(Path(__file__).parent / "names.txt", "a") as fh:  # xdist workers print nowhere
        fh.write(dkenv_database.name + "\\n")


@pytest.mark.dkenv(datakits=KITS)
def test_isolated_from_the_previous_test(dkenv_database, dkenv_engine):
    actor = _table(dkenv_database, "br__pagila__public.actor")
    with dkenv_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(actor)).scalar() == 0
    with open(Path(__file__).parent / "names.txt", "a") as fh:  # xdist workers print nowhere
        fh.write(dkenv_database.name + "\\n")
'''


@pytest.fixture
def docker_scope(client, local_images, monkeypatch):
    """A container scope for the inner run (local images via DKENV_*_IMAGE); fails if it left containers."""
    scope = f"dkenv-test-plugin-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("DKENV_SCOPE", scope)

    def left() -> list[dict]:
        return client.api.containers(all=True, filters={"label": [f"dkenv.scope={scope}"]})

    yield left
    leftovers = left()
    for row in leftovers:
        client.api.remove_container(row["Id"], force=True)
    assert not leftovers, f"containers left behind: {[r['Names'] for r in leftovers]}"


def run(pytester: pytest.Pytester, *args: str):
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rA", *args, timeout=TIMEOUT)


# ---------------------------------------------------------------------------
# SQLite (no Docker)
# ---------------------------------------------------------------------------
def test_default_engine_is_sqlite_and_ids_show_it(pytester):
    pytester.makepyfile(TEST_BODY)
    result = run(pytester, "-v")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*test_fresh_database?sqlite? PASSED*",
                                 "*test_isolated_from_the_previous_test?sqlite? PASSED*"])


def test_datakits_from_the_command_line_and_the_ini_file(pytester):
    pytester.makepyfile('''
        def test_holds_both(dkenv_database):
            assert [k.name for k in dkenv_database.datakits] == ["bronze-pagila", "silver-pagila"]
            assert dkenv_database.validate().success
    ''')
    run(pytester, f"--dkenv-datakit={BRONZE}", f"--dkenv-datakit={SILVER}").assert_outcomes(passed=1)
    kits = pytester.mkdir("kits")
    shutil.copytree(BRONZE, kits / "bronze-pagila")
    shutil.copytree(SILVER, kits / "silver-pagila")
    pytester.makeini("[pytest]\ndkenv_datakits =\n    kits/bronze-pagila\n    kits/silver-pagila\n")
    run(pytester).assert_outcomes(passed=1)


def test_command_line_wins_over_the_ini_file(pytester):
    pytester.makeini("[pytest]\ndkenv_engines = postgres\n")
    pytester.makepyfile(TEST_BODY)
    result = run(pytester, "--dkenv-engines=sqlite", "-v")
    result.assert_outcomes(passed=2)
    assert "[postgres]" not in result.stdout.str()


def test_unknown_engine_is_a_usage_error(pytester):
    pytester.makepyfile(TEST_BODY)
    result = run(pytester, "--dkenv-engines=sqlite,oracle")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--dkenv-engines: unknown engine 'oracle'; use a comma-separated list of "
                                 "sqlite, postgres, mysql*"])


def test_a_marker_naming_a_missing_datakit_errors_that_test_only(pytester):
    pytester.makepyfile(f'''
        import pytest

        @pytest.mark.dkenv(datakits=["datakits/nope"])
        def test_broken(dkenv_database):
            pass

        @pytest.mark.dkenv(datakits=[{str(BRONZE)!r}])
        def test_fine(dkenv_database):
            pass
    ''')
    result = run(pytester)
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*@pytest.mark.dkenv on test_a_marker*::test_broken?sqlite?: datakit path "
                                 "'datakits/nope' does not exist (looked for *datakits/nope*"])
    assert "Traceback" not in result.stdout.str()


def test_no_datakits_anywhere_says_where_to_put_them(pytester):
    pytester.makepyfile("def test_x(dkenv_database):\n    pass\n")
    result = run(pytester)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*no datakits for dkenv_database; add @pytest.mark.dkenv(datakits=?...?), "
                                 "pass --dkenv-datakit PATH, or set dkenv_datakits in the ini file*"])


def test_failed_validation_reads_as_table_kind_detail(pytester):
    pytester.makepyfile(f'''
        import pytest
        from sqlalchemy import text
        from dkenv.testing.plugin import assert_valid

        @pytest.mark.dkenv(datakits=[{str(BRONZE)!r}])
        def test_helper(dkenv_database, dkenv_engine):
            with dkenv_engine.begin() as conn:
                conn.execute(text('DROP TABLE "br__pagila__public"."actor"'))
            assert_valid(dkenv_database)

        @pytest.mark.dkenv(datakits=[{str(BRONZE)!r}])
        def test_plain_assert(dkenv_database, dkenv_engine):
            with dkenv_engine.begin() as conn:
                conn.execute(text('DROP TABLE "br__pagila__public"."actor"'))
            assert dkenv_database.validate().problems == []
    ''')
    result = run(pytester)
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert out.count("br__pagila__public.actor: missing_table:") >= 2
    assert "Problem(" not in out.split("short test summary")[0].split("test_plain_assert")[0]


def test_factories_declare_servers_and_databases(pytester):
    pytester.makeconftest(f'''
        from dkenv.testing import database_fixture, server_fixture

        lite = server_fixture("sqlite")
        bronze_db = database_fixture("lite", datakits=[{str(BRONZE)!r}])
    ''')
    pytester.makepyfile('''
        def test_it(bronze_db, lite):
            assert bronze_db.engine == "sqlite" and bronze_db.url.startswith(lite.url.rsplit("/", 1)[0])
            assert bronze_db.validate().success
    ''')
    run(pytester, "-v").assert_outcomes(passed=1)


def test_help_lists_each_option_once_with_its_help(pytester):
    result = pytester.runpytest_subprocess("--help")
    out = result.stdout.str()
    for flag in ("--dkenv-engines", "--dkenv-datakit", "--dkenv-keep", "--dkenv-postgres-image",
                 "--dkenv-mysql-image"):
        assert flag in out
    for ini in ("dkenv_engines", "dkenv_datakits", "dkenv_keep", "dkenv_postgres_image", "dkenv_mysql_image"):
        assert re.search(rf"^\s+{ini} \(", out, re.MULTILINE), ini


def test_keep_leaves_the_sqlite_directory_and_prints_it(pytester):
    pytester.makepyfile(TEST_BODY)
    result = run(pytester, "--dkenv-keep")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*dkenv: kept servers (--dkenv-keep)*", "sqlite dkenv-sqlite-*: sqlite:///*",
                                 "  test database: sqlite:///*dk_*.db"])
    url = re.search(r"sqlite dkenv-sqlite-\S+: sqlite:///(\S+)", result.stdout.str()).group(1)
    directory = Path(url).parent
    assert directory.is_dir() and any(directory.glob("dk_*.db"))
    shutil.rmtree(directory)


# ---------------------------------------------------------------------------
# Real containers
# ---------------------------------------------------------------------------
@pytest.mark.docker
@pytest.mark.postgres
@pytest.mark.mysql
def test_every_engine_runs_the_same_test_body(pytester, docker_scope):
    pytester.makepyfile(TEST_BODY)
    result = run(pytester, "--dkenv-engines=sqlite,postgres,mysql", "-v")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines_random([f"*test_fresh_database?{e}? PASSED*" for e in ("sqlite", "postgres", "mysql")])
    assert docker_scope() == []


@pytest.mark.docker
@pytest.mark.postgres
def test_xdist_workers_get_their_own_databases(pytester, docker_scope):
    pytester.makepyfile(TEST_BODY)
    result = run(pytester, "-n", "2", "--dkenv-engines=sqlite,postgres")
    result.assert_outcomes(passed=4)
    names = (pytester.path / "names.txt").read_text().split()
    assert names and all(re.match(r"dk_gw[01]_", n) for n in names), names
    assert len(set(names)) == len(names)
    assert docker_scope() == []


@pytest.mark.docker
@pytest.mark.postgres
def test_a_crashed_xdist_worker_leaves_no_container(pytester, docker_scope):
    """The worker's server is owned by the worker's pid; the controller reaps it at the end."""
    pytester.makepyfile(f'''
        import os, signal
        import pytest

        @pytest.mark.dkenv(datakits=[{str(BRONZE)!r}])
        def test_crash(dkenv_database):
            os.kill(os.getpid(), signal.SIGKILL)

        def test_other():
            pass
    ''')
    result = run(pytester, "-n", "2", "--dkenv-engines=postgres", "-p", "xdist")
    assert "crashed" in result.stdout.str() or "node down" in result.stdout.str().lower()
    assert docker_scope() == []


@pytest.mark.docker
@pytest.mark.postgres
def test_keep_leaves_the_server_running_and_prints_its_url(pytester, docker_scope):
    from dkenv.servers.inventory import list_servers

    pytester.makepyfile(TEST_BODY)
    result = run(pytester, "--dkenv-keep", "--dkenv-engines=postgres")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*dkenv: kept servers (--dkenv-keep)*",
                                 "postgres dkenv-postgres-*: postgresql+psycopg2://*"])
    kept = docker_scope()
    assert len(kept) == 1
    for server in list_servers():
        if server.container == kept[0]["Id"]:
            server.remove()


def test_marker_and_flag_data_fill_every_database(pytester):
    """``@pytest.mark.dkenv(data=[...])`` and ``--dkenv-data``: each test's copy holds the rows."""
    shop = ROOT / "tests" / "fixtures" / "datakits" / "shop"
    data = ROOT / "tests" / "fixtures" / "data" / "shop"
    pytester.makepyfile(test_data=f'''
import pytest
from sqlalchemy import text


@pytest.mark.dkenv(datakits=[{str(shop)!r}], data=[{str(data)!r}])
def test_marker(dkenv_engine):
    with dkenv_engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM shop.customer")).scalar() == 3
        conn.execute(text("DELETE FROM shop.orders"))


@pytest.mark.dkenv(datakits=[{str(shop)!r}], data=[{str(data)!r}])
def test_marker_again_sees_a_fresh_copy(dkenv_engine):
    with dkenv_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM shop.orders")).scalar() == 3


@pytest.mark.dkenv(datakits=[{str(shop)!r}])
def test_flag(dkenv_engine):
    with dkenv_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM shop.country")).scalar() == 3
''')
    result = run(pytester, f"--dkenv-data={data}")
    result.assert_outcomes(passed=3)


def test_ini_dkenv_data(pytester):
    shop = ROOT / "tests" / "fixtures" / "datakits" / "shop"
    data = ROOT / "tests" / "fixtures" / "data" / "shop"
    pytester.makeini(f"[pytest]\ndkenv_datakits = {shop}\ndkenv_data = {data}\n")
    pytester.makepyfile(test_ini='''
from sqlalchemy import text


def test_rows_from_the_ini(dkenv_engine):
    with dkenv_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM shop.orders")).scalar() == 3
''')
    run(pytester).assert_outcomes(passed=1)
