"""Session servers of the pytest plugin: shared across xdist workers, reaped, brought back.

Every inner run is a real ``pytest`` subprocess (pytester or Popen) against real containers
in a ``DKENV_SCOPE`` of the test's own (``scope`` fixture: leftovers fail the test).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.usefixtures("local_images")]

ROOT = Path(__file__).resolve().parents[2]
BRONZE = ROOT / "examples" / "bronze-pagila"
TIMEOUT = 600

#: Each test records which worker ran it, on which server container, in which database.
RECORDING = f'''
import json, os
from pathlib import Path

import docker
import pytest
from sqlalchemy import func, select

KITS = [{str(BRONZE)!r}]


def run_containers():
    """Containers carrying this xdist run's label, seen from inside the run."""
    uid = os.environ["PYTEST_XDIST_TESTRUNUID"]
    return docker.from_env().containers.list(all=True, filters={{"label": [f"dkenv.run={{uid}}"]}})


@pytest.mark.dkenv(datakits=KITS)
@pytest.mark.parametrize("i", range(8))
def test_record(i, dkenv_database, dkenv_engine, dkenv_engine_name, request):
    server = request.getfixturevalue(f"dkenv_{{dkenv_engine_name}}")
    actor = next(k.metadata.tables["br__pagila__public.actor"] for k in dkenv_database.datakits
                 if "br__pagila__public.actor" in k.metadata.tables)
    with dkenv_engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(actor)).scalar() == 0
        conn.execute(actor.insert().values(actor_id=1, first_name="A", last_name="B"))
    row = dict(worker=os.environ.get("PYTEST_XDIST_WORKER"), engine=dkenv_engine_name,
               container=server.container, database=dkenv_database.name,
               run=sorted(c.labels.get("dkenv.engine") for c in run_containers()))
    with open(Path(__file__).parent / "record.jsonl", "a") as fh:
        fh.write(json.dumps(row) + "\\n")
'''


def records(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "record.jsonl").read_text().splitlines()]


def left_in(client, scope: str) -> list[dict]:
    return client.api.containers(all=True, filters={"label": [f"dkenv.scope={scope}"]})


def inner_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    return env


def wait_for(condition, what: str, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> None:
    """Poll ``condition`` until true; fail naming ``what`` (and the inner run's output)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"inner run ended before {what}: {proc.stdout.read() if proc.stdout else ''}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


# ---------------------------------------------------------------------------
# One server per engine for the whole run
# ---------------------------------------------------------------------------
@pytest.mark.mysql
def test_xdist_workers_share_one_server_per_engine_and_leave_nothing(pytester, scope, client):
    pytester.makepyfile(RECORDING)
    assert left_in(client, scope) == []
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2",
                                           "--dkenv-engines=postgres,mysql", timeout=TIMEOUT)
    result.assert_outcomes(passed=16)
    rows = records(pytester.path)
    assert {r["worker"] for r in rows} == {"gw0", "gw1"}, "both workers ran tests"
    for engine in ("postgres", "mysql"):
        assert len({r["container"] for r in rows if r["engine"] == engine}) == 1, engine
    # While the run lasted, the run's label was on at most one container per engine (MariaDB
    # starts when the first MariaDB test asks for it), always on the one the test used.
    assert all(len(r["run"]) == len(set(r["run"])) and r["engine"] in r["run"] for r in rows), rows
    assert rows[-1]["run"] == ["mysql", "postgres"] or rows[0]["run"] == ["mysql", "postgres"]
    # Each worker's databases carry its own id; none is handed to two workers (a worker's
    # own are emptied and handed out again: the empty-table assertion inside proves it).
    assert all(r["database"].startswith(f"dk_{r['worker']}_") for r in rows)
    users: dict[tuple[str, str], set[str]] = {}
    for r in rows:
        users.setdefault((r["container"], r["database"]), set()).add(r["worker"])
    assert all(len(w) == 1 for w in users.values()), users
    assert left_in(client, scope) == []


#: The controller's look at its run's server when every worker is done, before dkenv removes it
#: (a hookwrapper: it runs before every plain pytest_sessionfinish, dkenv's included).
CONTROLLER_LOOKS = """
import json
from pathlib import Path

import pytest
import sqlalchemy as sa


@pytest.hookimpl(hookwrapper=True)
def pytest_sessionfinish(session):
    if not hasattr(session.config, "workerinput"):
        from dkenv.docker.client import get_client
        from dkenv.servers.lifecycle import server_from_row
        from dkenv.testing.xdist import RUN_UID_KEY

        client = get_client()
        uid = session.config.stash[RUN_UID_KEY]
        [row] = client.api.containers(filters={"label": [f"dkenv.run={uid}"]})
        engine = sa.create_engine(server_from_row(row, client).url)
        with engine.connect() as conn:
            names = conn.execute(sa.text("SELECT datname FROM pg_database")).scalars().all()
        engine.dispose()
        (Path(__file__).parent / "at_sessionfinish.json").write_text(json.dumps(names))
    yield
"""


def test_workers_leave_their_databases_to_the_removal_of_the_shared_server(pytester, scope, client):
    """A worker's session end closes its databases on the run's server without dropping them one
    by one: the controller removes the server with all of them right after, and nothing is left."""
    pytester.makeconftest(CONTROLLER_LOOKS)
    pytester.makepyfile(RECORDING)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--dkenv-engines=postgres",
                                           timeout=TIMEOUT)
    result.assert_outcomes(passed=8)
    rows = records(pytester.path)
    assert {r["worker"] for r in rows} == {"gw0", "gw1"}, "both workers ran tests"
    still_there = set(json.loads((pytester.path / "at_sessionfinish.json").read_text()))
    assert {r["database"] for r in rows} <= still_there, "the workers dropped databases one by one"
    assert all(r["database"].startswith(f"dk_{r['worker']}_") for r in rows)
    assert left_in(client, scope) == []


def test_a_kept_xdist_run_still_keeps_its_databases(pytester, scope, client):
    """--dkenv-keep under xdist: the server and the workers' databases stay, and are listed."""
    pytester.makepyfile(RECORDING)
    try:
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--dkenv-engines=postgres",
                                               "--dkenv-keep", timeout=TIMEOUT)
        result.assert_outcomes(passed=8)
        kept = left_in(client, scope)
        assert len(kept) == 1 and kept[0]["State"] == "running"
        urls = [line.split("test database: ", 1)[1] for line in result.outlines if "test database: " in line]
        assert urls, result.stdout.str()
        import sqlalchemy as sa

        engine = sa.create_engine(urls[0])
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1  # kept: not dropped at the end
        engine.dispose()
    finally:
        from dkenv.docker.containers import remove

        for row in left_in(client, scope):
            remove(client, row["Id"])


def test_a_worker_crash_leaves_the_shared_server_to_the_others(pytester, scope, client):
    """gw0 dies mid-run: the other tests still pass on the same server; nothing is left after."""
    pytester.makepyfile(RECORDING + '''

@pytest.mark.dkenv(datakits=KITS)
def test_crash(dkenv_database):
    os.kill(os.getpid(), 9)
''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--dkenv-engines=postgres",
                                           timeout=TIMEOUT)
    result.assert_outcomes(passed=8, failed=1)
    assert "crashed" in result.stdout.str()
    assert len({r["container"] for r in records(pytester.path)}) == 1
    assert left_in(client, scope) == []


def test_a_sigkilled_controller_is_reaped_by_the_next_dkenv_command(tmp_path, scope, client):
    (tmp_path / "test_block.py").write_text(f'''
import os, time
from pathlib import Path
import pytest

@pytest.mark.dkenv(datakits=[{str(BRONZE)!r}])
@pytest.mark.parametrize("i", range(2))
def test_block(i, dkenv_database):
    here = Path(__file__).parent
    (here / f"started-{{os.environ['PYTEST_XDIST_WORKER']}}").write_text(str(os.getpid()))
    deadline = time.monotonic() + 120
    while not (here / "release").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
''')
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2",
                             "--dkenv-engines=postgres", str(tmp_path / "test_block.py")],
                            cwd=tmp_path, env=inner_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    workers: list[int] = []
    try:
        wait_for(lambda: len(list(tmp_path.glob("started-*"))) == 2, "both workers in a test", proc=proc)
        workers = [int(p.read_text()) for p in tmp_path.glob("started-*")]
        running = left_in(client, scope)
        assert len(running) == 1 and running[0]["Labels"]["dkenv.owner.pid"] == str(proc.pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        ls = subprocess.run([sys.executable, "-m", "dkenv", "ls"], env=inner_env(),
                            capture_output=True, text=True, timeout=120)
        assert ls.returncode == 0, ls.stderr
        assert "abandoned" in ls.stderr
        assert left_in(client, scope) == []
    finally:
        (tmp_path / "release").write_text("")
        for pid in workers:  # the workers the killed controller started (they may already be gone)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_two_concurrent_runs_never_share_servers_or_databases(tmp_path, scope, client):
    """Both runs are inside their tests at the same time; each sees only its own server."""
    procs = {}
    for name, other in (("one", "two"), ("two", "one")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "test_meet.py").write_text(RECORDING + f'''

def test_meet(dkenv_postgres):
    here = Path(__file__).parent
    (here / "arrived").write_text(dkenv_postgres.container)
    other = here.parent / {other!r} / "arrived"
    deadline = __import__("time").monotonic() + 120
    while not other.exists() and __import__("time").monotonic() < deadline:
        __import__("time").sleep(0.1)
    assert other.exists(), "the other run never got here"
''')
        procs[name] = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2",
                                        "--dkenv-engines=postgres", "test_meet.py"],
                                       cwd=folder, env=inner_env(), stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True)
    outputs = {name: proc.communicate(timeout=TIMEOUT)[0] for name, proc in procs.items()}
    for name, proc in procs.items():
        assert proc.returncode == 0, outputs[name]
    one, two = records(tmp_path / "one"), records(tmp_path / "two")
    servers = [{r["container"] for r in rows} for rows in (one, two)]
    assert all(len(s) == 1 for s in servers) and servers[0].isdisjoint(servers[1])
    assert left_in(client, scope) == []


# ---------------------------------------------------------------------------
# A server that goes away mid-session
# ---------------------------------------------------------------------------
GOES_AWAY = f'''
import os
import docker
import pytest
from sqlalchemy import text

pytestmark = pytest.mark.dkenv(datakits=[{str(BRONZE)!r}])


def session_container():
    """The session's server, found by its labels (the inner run's scope holds only it)."""
    client = docker.from_env()
    rows = client.containers.list(all=True, filters={{"label": [f"dkenv.scope={{os.environ['DKENV_SCOPE']}}"]}})
    assert len(rows) == 1, rows
    return rows[0]


def query(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT 1")).scalar()


def test_1_before(dkenv_engine):
    assert query(dkenv_engine) == 1


def test_2_goes_away(dkenv_engine):
    assert query(dkenv_engine) == 1
    ACTION
    query(dkenv_engine)  # the server went away under this test


def test_3_after(dkenv_engine):
    assert query(dkenv_engine) == 1


def test_4_after(dkenv_engine, dkenv_database):
    assert query(dkenv_engine) == 1
    assert dkenv_database.validate().success
'''


@pytest.mark.parametrize(("engine", "action", "told"), [
    ("postgres", "session_container().restart(timeout=0)", "was restarted: following it to port"),
    ("mysql", "session_container().restart(timeout=0)", "was restarted: following it to port"),
    ("postgres", "session_container().kill()", "had stopped: started it again"),
    ("postgres", "session_container().remove(force=True)", "is gone: started dkenv-postgres-"),
], ids=["postgres-restart", "mysql-restart", "postgres-killed", "postgres-removed"])
def test_a_server_that_goes_away_is_followed_and_later_tests_pass(pytester, scope, client, engine, action, told):
    if engine == "mysql":
        pytest.importorskip("pymysql")
    pytester.makepyfile(GOES_AWAY.replace("ACTION", action))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", f"--dkenv-engines={engine}",
                                           "-p", "no:randomly", timeout=TIMEOUT)
    result.assert_outcomes(passed=3, failed=1)
    out = result.stdout.str()
    # The test that was running: dkenv's one line, no driver traceback.
    result.stdout.fnmatch_lines(["*test_2_goes_away*", f"dkenv: the {engine} server dkenv-{engine}-* went away "
                                 "during this test (restarted, killed or its Docker engine stopped): *"])
    assert "Traceback" not in out and "raise " not in out and ".py:" not in out.split("FAILURES")[1].split("warnings summary")[0]
    # The user is told what happened, in one line.
    assert told in out
    assert left_in(client, scope) == []


def test_an_engine_that_stops_answering_fails_tests_in_one_line_and_is_reaped_later(pytester, scope, client):
    """The engine itself cannot be stopped here (it is shared): the session's server is killed
    and the plugin's Docker client pointed at a socket nobody serves, which is what a stopped
    engine looks like from the plugin.  Every later test errors with one line; the container
    left behind is reaped by the next dkenv command."""
    pytester.makepyfile(GOES_AWAY.replace("ACTION", (
        "session_container().kill(); "
        "request.getfixturevalue('dkenv_postgres')._client = docker.DockerClient("
        "base_url='unix:///nonexistent/docker.sock', version='1.41')")).replace(
        "def test_2_goes_away(dkenv_engine):", "def test_2_goes_away(dkenv_engine, request):"))
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--dkenv-engines=postgres", timeout=TIMEOUT)
    result.assert_outcomes(passed=1, failed=1, errors=2)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(["*test_3_after*: no isolated postgres database: the postgres server "
                                 "dkenv-postgres-* (port *) went away and could not be brought back: ConnectionError: *"])
    assert "Traceback" not in out and "could not remove postgres server" in out
    assert "went away during this test" in out
    ls = subprocess.run([sys.executable, "-m", "dkenv", "ls"], env=inner_env(), capture_output=True,
                        text=True, timeout=120)
    assert ls.returncode == 0, ls.stderr
    wait_for(lambda: left_in(client, scope) == [], "the abandoned container to be removed")


def test_a_shared_server_restarted_under_xdist_is_followed_by_every_worker(pytester, scope, client):
    """One worker restarts the run's server; a test running on the other at that moment may fail
    (in one line), every later test on both workers passes on the new port."""
    pytester.makepyfile(f'''
        import json, os
        import docker
        import pytest
        from sqlalchemy import text

        @pytest.mark.dkenv(datakits=[{str(BRONZE)!r}])
        @pytest.mark.parametrize("i", range(30))
        def test_many(i, dkenv_engine, dkenv_postgres):
            if i == 10:
                docker.from_env().containers.get(dkenv_postgres.container).restart(timeout=0)
            with dkenv_engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
            with open("ports.jsonl", "a") as fh:
                fh.write(json.dumps([os.environ["PYTEST_XDIST_WORKER"], i, dkenv_postgres.port]) + "\\n")
    ''')
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--dkenv-engines=postgres",
                                           timeout=TIMEOUT)
    outcomes = result.parseoutcomes()
    assert outcomes.get("errors", 0) == 0 and 1 <= outcomes.get("failed", 0) <= 2, outcomes
    assert outcomes["passed"] == 30 - outcomes["failed"]
    out = result.stdout.str()
    # The short summary repeats the message or cuts it, by terminal width and the CI variable: count
    # the failure reports above it.
    reports = out.split("short test summary info")[0]
    assert "Traceback" not in out and reports.count("went away during this test") == outcomes["failed"]
    rows = [json.loads(line) for line in (pytester.path / "ports.jsonl").read_text().splitlines()]
    last = {worker: port for worker, _, port in rows}  # each worker's port in its last test
    assert len(last) == 2 and len(set(last.values())) == 1, rows
    assert left_in(client, scope) == []
