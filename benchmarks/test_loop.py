"""The test loop as a suite feels it: a fresh database per test against the rollback pattern and a peer.

    python benchmarks/test_loop.py                          # postgres, mysql, sqlite; 20 and 220 tests
    python benchmarks/test_loop.py --engines postgres --sizes 20 120 --runs 3

One generated test file (each test inserts a row into the 13-table ``examples/bronze-pagila``
datakit and counts it) runs as whole ``pytest`` runs, median of ``--runs`` per size, under:

* ``dkenv (dkenv_engine)``: the plugin's engine on a fresh database per test, the body in
  ``with dkenv_engine.begin() as conn:``;
* ``dkenv (dkenv_connection)``: a connection on the test's own fresh database, the body
  exactly the rollback pattern's (``conn.execute(insert)``, ``assert count == 1``);
* ``rollback``: what teams write by hand — a dkenv-started server used as a plain server,
  ``create_all`` once per session, and per test ``conn.begin()`` ... ``rollback()``;
* ``pytest-postgresql`` (postgres only): the peer tool, its ``postgresql_proc(load=[...])``
  template on a native ``pg_ctl`` and its ``postgresql`` fixture (a psycopg 3 connection on a
  database copied from the template per test), the body in an engine over that connection.
  pip installs it into a private ``--target`` folder in the benchmark's temporary directory,
  on ``PYTHONPATH`` for its runs only, with every package this environment already has pinned
  to the same version.  As root (``pg_ctl`` refuses root) its ``pytest`` runs as ``nobody``,
  with HOME, TMPDIR and its suite in folders nobody owns, the repository's ``dkenv`` and the
  datakit copied there; if nobody cannot run this interpreter (a pyenv under /root), a system
  Python of the same version runs it, with the suite's own requirements in that folder too.
  Where pip or a native PostgreSQL is missing, one skip line says why.

Per pattern it prints the per-test slope between the two sizes, the fixed cost (the
intercept: server, schema, pytest) and the session start as measured (pytest's launch to
its first test's call), then ratios from the same run: dkenv / rollback for both
dkenv bodies and pytest-postgresql / dkenv, and the hand-out p50/p95 of a direct loop over
``server.database(...)`` (request to a first query answered, each database then written to
and returned, like a test).

Goals (issue 17): per test ≤ 1.5× the rollback pattern on PostgreSQL and MySQL (both dkenv
bodies), SQLite ≤ 2 ms per test, session start ≤ the rollback pattern's + 0.3 s, hand-out
p95 ≤ 2 ms.  Figures only, never asserted.  Images: DKENV_POSTGRES_IMAGE / DKENV_MYSQL_IMAGE.
"""

from __future__ import annotations

import argparse
import glob
import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT / "examples" / "bronze-pagila"
sys.path.insert(0, str(ROOT))

# The table every test writes to, found in the datakit as dkenv loads it.
_TABLE = '''
from dkenv.datakit import load_datakits
from dkenv.schema import all_tables

KIT = {kit!r}
TABLES = all_tables(load_datakits([KIT], requires=False))
COUNTRY = next(t for t in TABLES if t.name == "country")
'''

DKENV_CONFTEST = _TABLE
DKENV_TEST = '''
import pytest
import sqlalchemy as sa
from conftest import COUNTRY, KIT

pytestmark = pytest.mark.dkenv(datakits=[KIT])


@pytest.mark.parametrize("i", range({n}))
def test_insert_count(dkenv_engine, i):
    with dkenv_engine.begin() as conn:
        conn.execute(COUNTRY.insert().values(country_id=i + 1, country=f"c{{i}}"))
        assert conn.execute(sa.select(sa.func.count()).select_from(COUNTRY)).scalar() == 1
'''

# The rollback pattern's body, on dkenv's connection to the test's own fresh database.
DKENV_CONNECTION_TEST = '''
import pytest
import sqlalchemy as sa
from conftest import COUNTRY, KIT

pytestmark = pytest.mark.dkenv(datakits=[KIT])


@pytest.mark.parametrize("i", range({n}))
def test_insert_count(dkenv_connection, i):
    dkenv_connection.execute(COUNTRY.insert().values(country_id=i + 1, country=f"c{{i}}"))
    assert dkenv_connection.execute(sa.select(sa.func.count()).select_from(COUNTRY)).scalar() == 1
'''

ROLLBACK_CONFTEST = _TABLE + '''
import pytest
import sqlalchemy as sa
from dkenv.schema import all_tables


@pytest.fixture(scope="session")
def engine():
    """A plain server (dkenv only starts the container), the schema created once."""
    from dkenv.databases import SqliteServer
    from dkenv.servers.lifecycle import start

    engine_name = {engine!r}
    server = SqliteServer() if engine_name == "sqlite" else start(engine_name, progress=False)
    tables = all_tables(load_datakits([KIT], requires=False))
    schemas = sorted({{t.schema for t in tables if t.schema}})
    if engine_name == "sqlite":
        url = server.url.rsplit("/", 1)[0] + "/main.db"
        eng = sa.create_engine(url)

        @sa.event.listens_for(eng, "connect")
        def _attach(dbapi_conn, _record):
            dbapi_conn.create_function("now", 0, lambda: "2024-01-01 00:00:00")  # the models' default
            for s in schemas:
                dbapi_conn.execute(f"ATTACH DATABASE '{{url[10:]}}.{{s}}.db' AS \\"{{s}}\\"")
    else:
        eng = sa.create_engine(server.url)
    with eng.begin() as conn:
        for s in schemas:
            if engine_name == "postgres":
                conn.exec_driver_sql(f'CREATE SCHEMA "{{s}}"')
            elif engine_name == "mysql":
                conn.exec_driver_sql(f"CREATE DATABASE `{{s}}`")
    tables[0].metadata.create_all(eng, tables=tables)
    yield eng
    eng.dispose()
    server.stop()


@pytest.fixture
def conn(engine):
    conn = engine.connect()
    tx = conn.begin()
    yield conn
    tx.rollback()
    conn.close()
'''
ROLLBACK_TEST = '''
import pytest
import sqlalchemy as sa
from conftest import COUNTRY


@pytest.mark.parametrize("i", range({n}))
def test_insert_count(conn, i):
    conn.execute(COUNTRY.insert().values(country_id=i + 1, country=f"c{{i}}"))
    assert conn.execute(sa.select(sa.func.count()).select_from(COUNTRY)).scalar() == 1
'''

# pytest-postgresql 10: psycopg 3 connections; a load callable gets host, port, user, dbname,
# password and autocommit as keywords.
PGPROC_CONFTEST = _TABLE + '''
import sqlalchemy as sa
from pytest_postgresql import factories


def load(host, port, user, dbname, password=None, **_):
    """The template's schemas and tables, created once per session."""
    eng = sa.create_engine(sa.URL.create("postgresql+psycopg", user, password, host, port, dbname))
    with eng.begin() as conn:
        for schema in sorted({{t.schema for t in TABLES if t.schema}}):
            conn.exec_driver_sql(f'CREATE SCHEMA "{{schema}}"')
    COUNTRY.metadata.create_all(eng, tables=TABLES)
    eng.dispose()


postgresql_proc = factories.postgresql_proc(load=[load])
postgresql = factories.postgresql("postgresql_proc")
'''
PGPROC_TEST = '''
import pytest
import sqlalchemy as sa
from conftest import COUNTRY


@pytest.mark.parametrize("i", range({n}))
def test_insert_count(postgresql, i):
    eng = sa.create_engine("postgresql+psycopg://", creator=lambda: postgresql)
    with eng.begin() as conn:
        conn.execute(COUNTRY.insert().values(country_id=i + 1, country=f"c{{i}}"))
        assert conn.execute(sa.select(sa.func.count()).select_from(COUNTRY)).scalar() == 1
'''

# pattern: (printed name, conftest, test file)
PATTERNS = {
    "dkenv": ("dkenv (dkenv_engine)", DKENV_CONFTEST, DKENV_TEST),
    "dkenv-connection": ("dkenv (dkenv_connection)", DKENV_CONFTEST, DKENV_CONNECTION_TEST),
    "rollback": ("rollback", ROLLBACK_CONFTEST, ROLLBACK_TEST),
    "pytest-postgresql": ("pytest-postgresql", PGPROC_CONFTEST, PGPROC_TEST),
}


#: Appended to every pattern's conftest: the session start as the user waits for it, from the
#: interpreter's launch (``DKENV_BENCH_T0``, set by :func:`run_suite`) to the first test's call.
FIRST_TEST_HOOK = '''

def pytest_runtest_call(item):
    import os, time
    mark = os.path.join(os.path.dirname(__file__), "first_test_s")
    if "DKENV_BENCH_T0" in os.environ and not os.path.exists(mark):
        with open(mark, "w") as out:
            out.write(str(time.time() - float(os.environ["DKENV_BENCH_T0"])))
'''


def write_suite(root: Path, pattern: str, engine: str, n: int, kit: Path = KIT) -> Path:
    """A directory with a conftest and ``n`` tests of ``pattern`` on ``engine``."""
    directory = root / f"{pattern}-{engine}-{n}"
    directory.mkdir(parents=True, exist_ok=True)
    _, conftest, test = PATTERNS[pattern]
    (directory / "conftest.py").write_text(conftest.format(kit=str(kit), engine=engine) + FIRST_TEST_HOOK)
    (directory / "test_loop_generated.py").write_text(test.format(n=n))
    return directory


@dataclass
class Peer:
    """How the pytest-postgresql pattern runs: interpreter (and user), environment, where its suites go."""

    argv: list[str]  # e.g. ["setpriv", "--reuid=65534", ..., "/usr/bin/python3.11"]
    env: dict[str, str]
    home: Path  # its suites are written here
    kit: Path  # the datakit as that user reads it
    pg_ctl: str
    owner: tuple[int, int] | None  # (uid, gid) to hand its files to, when root runs it as nobody
    note: str


def _hand_over(path: Path, owner: tuple[int, int] | None) -> None:
    """Give ``path`` and everything under it to ``owner`` (the user running the peer's pytest)."""
    if owner is None:
        return
    for directory, _, files in os.walk(path):
        os.chown(directory, *owner)
        for name in files:
            os.chown(os.path.join(directory, name), *owner)


def _native_pg_ctl() -> str | None:
    """A native PostgreSQL's ``pg_ctl`` (its real path: pytest-postgresql finds initdb next to it)."""
    found = shutil.which("pg_ctl")
    if found:
        return os.path.realpath(found)
    candidates = glob.glob("/usr/lib/postgresql/*/bin/pg_ctl")
    return max(candidates, key=lambda c: int(Path(c).parts[-3])) if candidates else None


def _interpreter_for(prefix: list[str]) -> str | None:
    """This interpreter if ``prefix`` (a user switch) can run it, else a system one of the same version.

    Run as another user, this interpreter may start yet not find its own prefix (a pyenv under
    /root: the binary falls back to /usr's standard library): it counts only if it finds it.
    """
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    for python in [sys.executable, f"/usr/bin/python{version}", f"/usr/local/bin/python{version}"]:
        probe = subprocess.run([*prefix, python, "-c", "import sys; print('%d.%d' % sys.version_info[:2], sys.prefix)"],
                               capture_output=True, text=True, cwd="/")
        found, _, found_prefix = probe.stdout.strip().partition(" ")
        if probe.returncode == 0 and found == version and (python != sys.executable or found_prefix == sys.prefix):
            return python
    return None


def _suite_requirements() -> list[str]:
    """What the generated suite imports besides pytest-postgresql: pytest and dkenv's dependencies."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return ["pytest", *project["dependencies"]]


def setup_pytest_postgresql(tmp: Path) -> Peer | str:
    """Install pytest-postgresql privately and decide how its runs start; a string is a skip reason."""
    pg_ctl = _native_pg_ctl()
    if pg_ctl is None:
        return "no native pg_ctl (apt-get install postgresql; or add /usr/lib/postgresql/N/bin to PATH)"
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:  # pg_ctl refuses root
        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            return "running as root (pg_ctl refuses root) and there is no user 'nobody' to run it as"
        owner = (nobody.pw_uid, nobody.pw_gid)
        prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups"]
        if shutil.which("setpriv") is None:
            prefix = ["runuser", "-u", "nobody", "--"]
    python = _interpreter_for(prefix)
    if python is None:
        return (f"running as root, and neither {sys.executable} nor a system python"
                f"{sys.version_info[0]}.{sys.version_info[1]} can be run by nobody")
    home = tmp / "pytest-postgresql"
    target = home / "peers"
    home.mkdir()
    requirements = ["pytest-postgresql"]
    if importlib.util.find_spec("psycopg_binary") is not None:
        requirements.append("psycopg[binary]")  # as psycopg runs here
    if python != sys.executable:
        requirements += _suite_requirements()
    pins = home / "constraints.txt"  # every package this environment has, at its version here
    pins.write_text("".join(f"{d.metadata['Name']}=={d.version}\n" for d in importlib.metadata.distributions()
                            if d.metadata["Name"] and d.metadata["Name"].lower() != "dkenv"))
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                          "--target", str(target), "-c", str(pins), *requirements],
                         capture_output=True, text=True)
    if pip.returncode != 0:
        errors = [line for line in pip.stderr.splitlines() if line.startswith("ERROR")] or pip.stderr.splitlines()
        return f"pip could not install pytest-postgresql: {(errors or ['exit ' + str(pip.returncode)])[-1]}"
    version = next(importlib.metadata.distributions(name="pytest-postgresql", path=[str(target)])).version
    kit, source = KIT, ROOT
    env = dict(os.environ)
    note = f"pytest-postgresql {version} ({pg_ctl})"
    if owner is not None:
        os.chmod(tmp, 0o711)  # nobody passes through to its own folder, sees nothing else
        source = home / "src"  # the repository may not be readable by nobody: dkenv and the kit copied
        skip = shutil.ignore_patterns("__pycache__")
        shutil.copytree(ROOT / "dkenv", source / "dkenv", ignore=skip)
        kit = source / KIT.relative_to(ROOT)
        shutil.copytree(KIT, kit, ignore=skip)
        for folder in ("home", "tmp"):
            (home / folder).mkdir()
        _hand_over(home, owner)
        env.update(HOME=str(home / "home"), TMPDIR=str(home / "tmp"))
        note += f", run as nobody with {python}"
        if python != sys.executable:
            python_version = subprocess.run([python, "-V"], capture_output=True, text=True).stdout.strip()
            note += f" ({python_version}: nobody cannot run {sys.executable}; same package versions)"
    env["PYTHONPATH"] = os.pathsep.join([str(source), str(target)])
    return Peer([*prefix, python], env, home, kit, pg_ctl, owner, note)


def run_suite(directory: Path, engine: str, pattern: str, peer: Peer | None = None) -> tuple[float, float]:
    """Seconds of one whole ``pytest`` run of the directory, and from its launch to the first
    test's call (a failure aborts the benchmark)."""
    options = ["-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
               "-p", "no:pytest_alembic", str(directory)]
    if pattern == "pytest-postgresql":
        assert peer is not None
        args, env = [*peer.argv, *options, f"--postgresql-exec={peer.pg_ctl}"], peer.env
    else:
        args = [sys.executable, *options]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    if pattern.startswith("dkenv"):
        args.append(f"--dkenv-engines={engine}")
    mark = directory / "first_test_s"
    mark.unlink(missing_ok=True)
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=directory, env={**env, "DKENV_BENCH_T0": repr(time.time())},
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"{pattern} on {engine} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-2000:]}")
    return elapsed, float(mark.read_text())


def measure(root: Path, patterns: list[tuple[str, str]], sizes: list[int], runs: int,
            peer: Peer | None = None) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(per-test seconds, fixed seconds, seconds to the first test) per (pattern, engine),
    from medians at both sizes (the last at both sizes together).

    Runs are interleaved (every pattern and size once, then again) so that a load that
    drifts during the benchmark weighs on every pattern alike.
    """
    small, large = min(sizes), max(sizes)
    dirs = {}
    for p, e in patterns:
        for n in (small, large):
            if p == "pytest-postgresql":
                assert peer is not None
                dirs[(p, e, n)] = write_suite(peer.home / "suites", p, e, n, peer.kit)
                _hand_over(peer.home / "suites", peer.owner)
            else:
                dirs[(p, e, n)] = write_suite(root, p, e, n)
    times: dict[tuple[str, str, int], list[float]] = {key: [] for key in dirs}
    firsts: dict[tuple[str, str], list[float]] = {key: [] for key in patterns}
    for _ in range(runs):
        for (pattern, engine, n), directory in dirs.items():
            wall, first = run_suite(directory, engine, pattern, peer)
            times[(pattern, engine, n)].append(wall)
            firsts[(pattern, engine)].append(first)
    out = {}
    for pattern, engine in patterns:
        at_small = statistics.median(times[(pattern, engine, small)])
        at_large = statistics.median(times[(pattern, engine, large)])
        slope = (at_large - at_small) / (large - small)
        out[(pattern, engine)] = (slope, at_small - slope * small, statistics.median(firsts[(pattern, engine)]))
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def handout_figures(engine: str, n: int, hold_s: float) -> tuple[float, float]:
    """p50/p95 ms from ``server.database(...)`` to a first query answered, over ``n`` hand-outs."""

    from dkenv.databases import SqliteServer
    from dkenv.datakit import load_datakits
    from dkenv.schema import all_tables
    from dkenv.servers.lifecycle import start

    country = next(t for t in all_tables(load_datakits([KIT], requires=False)) if t.name == "country")
    server = SqliteServer() if engine == "sqlite" else start(engine, progress=False)
    try:
        server.database(datakits=[KIT]).drop()  # the template / captured DDL, not timed
        times = []
        for i in range(n):
            started = time.perf_counter()
            db = server.database(datakits=[KIT])
            eng = db.create_engine()
            with eng.begin() as conn:
                conn.exec_driver_sql("SELECT 1")
                times.append(time.perf_counter() - started)
                conn.execute(country.insert().values(country_id=i + 1, country="c"))
            time.sleep(hold_s)  # the rest of a test body
            eng.dispose()
            db.drop()
    finally:
        server.stop()
    return pct(times, 0.5) * 1000, pct(times, 0.95) * 1000


def ratio(numerator: float, denominator: float) -> str:
    """``a / b`` as ``N.NN×``, or why a slope cannot be compared."""
    if numerator > 0 and denominator > 0:
        return f"{numerator / denominator:.2f}×"
    return "n/a (a slope ≤ 0: the load varied more than the tests cost; rerun with more --runs)"


def print_ratios(results: dict[tuple[str, str], tuple[float, float, float]], engines: list[str]) -> None:
    """dkenv / rollback for both dkenv bodies per engine, then pytest-postgresql / dkenv.

    The session start is given twice: the intercept of the two sizes ("fixed", which also
    takes in whatever the first tests cost more than the later ones) and the time from
    pytest's launch to its first test, measured."""
    for engine in engines:
        r_slope, r_fixed, r_first = results[("rollback", engine)]
        for pattern, label in (("dkenv-connection", "same test body, dkenv_connection"),
                               ("dkenv", "engine fixture,  dkenv_engine    ")):
            d_slope, d_fixed, d_first = results[(pattern, engine)]
            goal = f"dkenv {d_slope * 1000:.1f} ms/test, goal ≤ 2 ms" if engine == "sqlite" else "goal ≤ 1.5×"
            print(f"{engine:<9} {label} / rollback per test: {ratio(d_slope, r_slope)} ({goal}); "
                  f"fixed: {d_fixed - r_fixed:+.2f} s, to the first test: {d_first - r_first:+.2f} s "
                  "(goal ≤ +0.30 s)", flush=True)
    if ("pytest-postgresql", "postgres") in results:
        p_slope, p_fixed, _ = results[("pytest-postgresql", "postgres")]
        (e_slope, e_fixed, _), (c_slope, _, _) = results[("dkenv", "postgres")], results[("dkenv-connection", "postgres")]
        print(f"{'postgres':<9} pytest-postgresql / dkenv per test: {ratio(p_slope, e_slope)} vs dkenv_engine "
              f"(both bodies in engine.begin()), {ratio(p_slope, c_slope)} vs dkenv_connection; "
              f"fixed: {p_fixed - e_fixed:+.2f} s vs dkenv", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", nargs="*", default=["postgres", "mysql", "sqlite"],
                        choices=["postgres", "mysql", "sqlite"])
    # 200 tests apart and 5 runs: on a loaded 2-core machine, 100 apart and 3 runs gave negative slopes.
    parser.add_argument("--sizes", type=int, nargs=2, default=[20, 220], metavar=("SMALL", "LARGE"))
    parser.add_argument("--runs", type=int, default=5, help="whole pytest runs per size (median)")
    parser.add_argument("--handouts", type=int, default=200, help="hand-outs timed per engine")
    parser.add_argument("--hold-ms", type=float, default=3.0, help="each hand-out's database is held this long")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    patterns = [(p, e) for e in args.engines for p in ("dkenv", "dkenv-connection", "rollback")]
    with tempfile.TemporaryDirectory(prefix="dkenv-loop-") as tmp:
        peer = setup_pytest_postgresql(Path(tmp)) if "postgres" in args.engines else None
        if isinstance(peer, Peer):
            patterns.append(("pytest-postgresql", "postgres"))
            print(peer.note, flush=True)
        print(f"{'pattern':<36} {'per test':>10} {'fixed':>8} {'to 1st test':>12}   (median of {args.runs} whole pytest runs, "
              f"{min(args.sizes)} and {max(args.sizes)} tests, bronze-pagila)", flush=True)
        results = measure(Path(tmp), patterns, args.sizes, args.runs, peer if isinstance(peer, Peer) else None)
    for (pattern, engine), (slope, fixed, first) in results.items():
        print(f"{PATTERNS[pattern][0] + ', ' + engine:<36} {slope * 1000:>7.1f} ms {fixed:>6.2f} s {first:>10.2f} s",
              flush=True)
    if isinstance(peer, str):
        print(f"{'pytest-postgresql, postgres':<36} skipped: {peer}", flush=True)
    print()
    print_ratios(results, args.engines)
    print()
    for engine in args.engines:
        p50, p95 = handout_figures(engine, args.handouts, args.hold_ms / 1000)
        print(f"{engine:<9} hand-out to first query: p50 {p50:.2f} ms, p95 {p95:.2f} ms "
              f"({args.handouts} hand-outs, {args.hold_ms:g} ms held; goal p95 ≤ 2 ms)", flush=True)


if __name__ == "__main__":
    main()
