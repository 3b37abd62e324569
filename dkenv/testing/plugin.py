"""dkenv's pytest plugin: servers, isolated databases with datakits deployed, readable diffs.

Installed with dkenv (``pytest11`` entry point); nothing to enable.

    @pytest.mark.dkenv(datakits=["examples/bronze-pagila"])
    def test_actor(dkenv_engine):                   # a fresh database per test, datakits deployed
        with dkenv_engine.connect() as conn: ...

    pytest --dkenv-engines=sqlite,postgres,mysql    # the same test on every engine: test_actor[postgres]

Fixtures: ``dkenv_sqlite``, ``dkenv_postgres``, ``dkenv_mysql`` (session-scoped servers; under
xdist one per run, shared by the workers and owned by the controller, see
:mod:`dkenv.testing.xdist`; followed or replaced when they go away, see
:mod:`dkenv.testing.recovery`); ``dkenv_database`` (function-scoped
:class:`~dkenv.databases.IsolatedDatabase`; its name carries the xdist worker id);
``dkenv_url``, ``dkenv_engine`` (a SQLAlchemy engine, disposed after the test), ``dkenv_target``
(for ``deploy_data_objects``/``validate_deployment``); ``dkenv_engine_name``; ``dkenv_connection``,
``dkenv_session`` (SQLModel), ``dkenv_async_engine`` (:mod:`dkenv.testing.sessions`).  The marker's
``isolation="transaction"`` shares one database and rolls each test back
(:mod:`dkenv.testing.isolation`); ``--dkenv-unavailable=skip`` skips container tests when no
Docker engine answers.  Declare more with
:mod:`dkenv.testing.factories`.  Each option exists as ini key and command-line flag; the
command line wins.

This module imports neither SQLAlchemy nor the Docker SDK at load time: installing dkenv must
not slow down every pytest run.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from dkenv.engines import is_embedded
from dkenv.testing.factories import (
    BUILDS,
    ENGINES,
    SETTINGS_KEY,
    Settings,
    database_fixture,
    server_fixture,
    settings_of,
)
from dkenv.testing.isolation import refuse_in_transaction
from dkenv.testing.sessions import (  # noqa: F401 - a plugin module attribute is a fixture
    dkenv_async_engine,
    dkenv_connection,
    dkenv_session,
)
from dkenv.testing.unavailable import CHOICES, parse_unavailable

if TYPE_CHECKING:
    import sqlalchemy as sa

    from dkenv.config import Target
    from dkenv.databases import IsolatedDatabase
    from dkenv.results import ValidationResult

HELP = {
    "engines": "engines that tests using dkenv_database run on, comma-separated "
               "(sqlite, postgres, mysql; default: sqlite)",
    "datakits": "datakit paths deployed into dkenv_database when a test's dkenv marker names none, "
                "in order (bronze before silver)",
    "pythonpath": "folders put on sys.path while datakits are imported, for helpers that live outside "
                  "them (like dkenv's --pythonpath)",
    "data": "data directories whose rows every dkenv_database holds when a test's dkenv marker names none",
    "build": "how dkenv_database is built when a test's dkenv marker does not say: models (create_all, "
             "default) or migrations (each datakit's Alembic history, [tool.dkenv] migrations)",
    "keep": "leave dkenv's servers and test databases in place after the run and print their URLs",
    "postgres_image": "image for dkenv_postgres (default: $DKENV_POSTGRES_IMAGE, dkenv.toml, postgres:16)",
    "mysql_image": "image for dkenv_mysql (default: $DKENV_MYSQL_IMAGE, dkenv.toml, mysql:8.0)",
    "unavailable": "what tests needing a container engine do when no Docker engine answers: error "
                   "(default) or skip (DKENV_REQUIRE_DOCKER=1 forbids skipping)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dkenv", "dkenv: isolated databases with datakits deployed")
    group.addoption("--dkenv-engines", dest="dkenv_engines", default=None, metavar="LIST",
                    help=HELP["engines"])
    parser.addini("dkenv_engines", HELP["engines"], default="sqlite")
    group.addoption("--dkenv-datakit", dest="dkenv_datakits", action="append", default=None,
                    metavar="PATH", help=HELP["datakits"] + " (repeatable)")
    parser.addini("dkenv_datakits", HELP["datakits"], type="paths", default=[])
    group.addoption("--dkenv-pythonpath", dest="dkenv_pythonpath", action="append", default=None,
                    metavar="DIR", help=HELP["pythonpath"] + " (repeatable)")
    parser.addini("dkenv_pythonpath", HELP["pythonpath"], type="paths", default=[])
    group.addoption("--dkenv-data", dest="dkenv_data", action="append", default=None,
                    metavar="DIR", help=HELP["data"] + " (repeatable)")
    parser.addini("dkenv_data", HELP["data"], type="paths", default=[])
    group.addoption("--dkenv-build", dest="dkenv_build", default=None, choices=BUILDS, help=HELP["build"])
    parser.addini("dkenv_build", HELP["build"], default="models")
    group.addoption("--dkenv-keep", dest="dkenv_keep", action="store_true", default=None,
                    help=HELP["keep"])
    parser.addini("dkenv_keep", HELP["keep"], type="bool", default=False)
    group.addoption("--dkenv-unavailable", dest="dkenv_unavailable", default=None, choices=CHOICES,
                    help=HELP["unavailable"])
    parser.addini("dkenv_unavailable", HELP["unavailable"], default="error")
    for engine in ("postgres", "mysql"):
        key = f"dkenv_{engine}_image"
        group.addoption(f"--dkenv-{engine}-image", dest=key, default=None, metavar="IMAGE",
                        help=HELP[f"{engine}_image"])
        parser.addini(key, HELP[f"{engine}_image"], default="")


def _option(config: pytest.Config, name: str) -> Any:
    """Command line if given, else the ini value."""
    value = config.getoption(name, default=None)
    return value if value is not None else config.getini(name)


def parse_engines(raw: str) -> list[str]:
    """``sqlite,postgres`` → canonical names, deduplicated; an unknown one is a usage error."""
    from dkenv.engines import get_engine
    from dkenv.errors import UsageError

    engines: list[str] = []
    for item in (part.strip() for part in str(raw).split(",")):
        if not item:
            continue
        try:
            name = get_engine(item).name
        except UsageError:
            raise pytest.UsageError(f"--dkenv-engines: unknown engine {item!r}; "
                                    f"use a comma-separated list of {', '.join(ENGINES)}") from None
        if name not in engines:
            engines.append(name)
    if not engines:
        raise pytest.UsageError(f"--dkenv-engines is empty; use a comma-separated list of {', '.join(ENGINES)}")
    return engines


def parse_build(raw: str) -> str:
    """``dkenv_build``: models or migrations; anything else is a usage error."""
    build = str(raw or "models").strip()
    if build not in BUILDS:
        raise pytest.UsageError(f"dkenv_build: unknown build {build!r}; use one of {', '.join(BUILDS)}")
    return build


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "dkenv(datakits=[...], data=[...], snapshot=NAME, build=models|migrations, isolation='database'|'transaction'): "
        "datakits deployed into this test's dkenv_database, in order (from their models or their Alembic migrations), and data directories loaded into it; "
        "or a copy of snapshot NAME; isolation='transaction' shares one database and rolls the test back")
    config.stash[SETTINGS_KEY] = Settings(
        engines=parse_engines(_option(config, "dkenv_engines")),
        datakits_cli=list(config.getoption("dkenv_datakits", default=None) or []),
        datakits_ini=list(config.getini("dkenv_datakits") or []),
        keep=bool(_option(config, "dkenv_keep")),
        data_cli=list(config.getoption("dkenv_data", default=None) or []),
        data_ini=list(config.getini("dkenv_data") or []),
        images={e: _option(config, f"dkenv_{e}_image") or None for e in ("postgres", "mysql")},
        unavailable=parse_unavailable(_option(config, "dkenv_unavailable")),
        build=parse_build(_option(config, "dkenv_build")),
    )
    from dkenv.testing import recovery, xdist

    for module in (xdist, recovery):  # their hooks: shared servers, lost servers
        if not config.pluginmanager.is_registered(module):
            config.pluginmanager.register(module, module.__name__)
    pythonpath = config.getoption("dkenv_pythonpath", default=None) or config.getini("dkenv_pythonpath")
    if pythonpath:
        from dkenv.datakit import set_default_pythonpath

        set_default_pythonpath(list(pythonpath))


def pytest_unconfigure(config: pytest.Config) -> None:
    from dkenv.testing.xdist import wait_for_removal

    wait_for_removal(config)  # xdist controller: its run's servers, removed since sessionfinish
    if config.getoption("dkenv_pythonpath", default=None) or config.getini("dkenv_pythonpath"):
        from dkenv.datakit import set_default_pythonpath

        set_default_pythonpath([])


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run tests that use ``dkenv_database`` (directly or through a fixture) once per engine."""
    if "dkenv_engine_name" not in metafunc.fixturenames:
        return
    if any("dkenv_engine_name" in (m.args[0] if m.args else "") for m in metafunc.definition.iter_markers("parametrize")):
        return  # the test parametrizes it itself
    engines = settings_of(metafunc.config).engines
    metafunc.parametrize("dkenv_engine_name", engines, ids=engines, scope="function")


# ---------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------
dkenv_sqlite = server_fixture("sqlite")
dkenv_postgres = server_fixture("postgres")
dkenv_mysql = server_fixture("mysql")
dkenv_database = database_fixture()


@pytest.fixture
def dkenv_engine_name(request: pytest.FixtureRequest) -> str:
    """The engine of ``dkenv_database`` (parametrized from ``--dkenv-engines``)."""
    return settings_of(request.config).engines[0]


@pytest.fixture
def dkenv_url(request: pytest.FixtureRequest, dkenv_database: IsolatedDatabase) -> str:
    """The isolated database's SQLAlchemy URL (MySQL schemas: prefer ``dkenv_engine``)."""
    refuse_in_transaction(request, "dkenv_url", "dkenv_connection or dkenv_session")
    return dkenv_database.url


@pytest.fixture
def dkenv_engine(request: pytest.FixtureRequest, dkenv_database: IsolatedDatabase) -> Iterator[sa.Engine]:
    """A SQLAlchemy engine on the isolated database that sees the datakits' schemas."""
    refuse_in_transaction(request, "dkenv_engine", "dkenv_connection or dkenv_session")
    engine = dkenv_database.create_engine()
    try:
        yield engine
    finally:
        engine.pool.dispose()  # its connections closed (the database's drop closes them too); no new pool


@pytest.fixture
def dkenv_target(dkenv_database: IsolatedDatabase) -> Target:
    """A target config for ``deploy_data_objects`` / ``validate_deployment`` (framework style)."""
    return dkenv_database.target


# ---------------------------------------------------------------------------
# Readable validation failures
# ---------------------------------------------------------------------------
def format_problems(result: ValidationResult) -> str:
    """``target: N problem(s)`` then one ``table: kind: detail`` line per problem."""
    problems = list(result.problems)
    lines = [f"{result.target}: {len(problems)} validation problem(s)"]
    lines += [f"  {p.table}: {p.kind}: {p.detail}" for p in problems]
    return "\n".join(lines)


def assert_valid(db_or_target: Any, datakits: Any = None) -> ValidationResult:
    """Validate and fail with ``table: kind: detail`` lines instead of a dict dump.

    Takes an IsolatedDatabase (its own datakits by default), a Target (``datakits`` needed),
    or a ValidationResult.
    """
    __tracebackhide__ = True
    from dkenv.config import Target
    from dkenv.databases import IsolatedDatabase
    from dkenv.deploy.deployed import validate_deployment
    from dkenv.results import ValidationResult

    if isinstance(db_or_target, ValidationResult):
        result = db_or_target
    elif isinstance(db_or_target, IsolatedDatabase):
        result = db_or_target.validate(datakits)
    elif isinstance(db_or_target, Target):
        if datakits is None:
            raise TypeError("assert_valid(target, datakits): which datakits should the target hold?")
        from dkenv.datakit import load_datakits
        from dkenv.schema import all_tables

        result = validate_deployment(all_tables(load_datakits(datakits, requires=False)), db_or_target)
    else:
        raise TypeError(f"assert_valid: expected an IsolatedDatabase, Target or ValidationResult, "
                        f"got {type(db_or_target).__name__}")
    if not result.success:
        pytest.fail(format_problems(result), pytrace=False)
    return result


def _is_result(value: object) -> bool:
    cls = type(value)
    return cls.__name__ == "ValidationResult" and cls.__module__ == "dkenv.results"


def _is_problem_list(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(
        type(p).__name__ == "Problem" and type(p).__module__ == "dkenv.problems" for p in value)


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: object, right: object) -> list[str] | None:
    """``assert result == True``, ``assert result.problems == []``: problems as lines."""
    if op != "==":
        return None
    for value, other in ((left, right), (right, left)):
        if _is_result(value) and not value.success:  # type: ignore[attr-defined]
            return format_problems(value).splitlines()  # type: ignore[arg-type]
        if _is_problem_list(value) and other == []:
            return [f"{len(value)} validation problem(s), expected none"] + [  # type: ignore[arg-type]
                f"  {p.table}: {p.kind}: {p.detail}" for p in value]  # type: ignore[attr-defined]
    return None


# ---------------------------------------------------------------------------
# End of run: kept servers, and reaping after crashed xdist workers
# ---------------------------------------------------------------------------
@pytest.hookimpl(tryfirst=True)
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None:
        return
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: report to the controller
        workeroutput["dkenv_kept"] = list(settings.kept)
        workeroutput["dkenv_containers"] = settings.containers_started
        return
    if _xdist_active(config):
        from dkenv.testing.xdist import finish_run

        reap = settings.containers_started or any(not is_embedded(e) for e in settings.engines)
        then = _reap_quietly if reap else None
        # The servers the workers shared, then the reaping, off the main thread (xdist shuts
        # the workers down meanwhile); a kept run removes nothing and reaps here.
        if (settings.keep or not finish_run(config, then=then)) and then is not None:
            then()


def _xdist_active(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "numprocesses", None)) or getattr(config.option, "dist", "no") != "no"


def _reap_quietly() -> None:
    """Remove containers of workers that crashed (their owner pid is gone); never fail the run."""
    try:
        from dkenv.servers.lifecycle import reap_abandoned

        reap_abandoned(note=None)
    except Exception:  # noqa: BLE001 - no Docker engine: nothing can have leaked there
        pass


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """xdist controller: collect the servers a worker kept; note workers that may have left some."""
    output = getattr(node, "workeroutput", None) or {}
    settings = node.config.stash.get(SETTINGS_KEY, None)
    if settings is not None:
        for server in output.get("dkenv_kept") or []:  # workers share servers: one entry each
            same = next((k for k in settings.kept if k["name"] == server["name"]), None)
            if same is None:
                settings.kept.append(server)
            else:
                same["databases"] = [*same.get("databases", []), *server.get("databases", [])]
        # A crashed worker reports nothing: reap at the end in case it had started a container.
        settings.containers_started |= bool(output.get("dkenv_containers")) or error is not None


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    settings = config.stash.get(SETTINGS_KEY, None)
    if settings is None or not settings.kept:
        return
    terminalreporter.section("dkenv: kept servers (--dkenv-keep)")
    for server in settings.kept:
        terminalreporter.write_line(f"{server['engine']} {server['name']}: {server['url']}")
        dbs = server.get("databases") or []
        for url in dbs[:10]:
            terminalreporter.write_line(f"  test database: {url}")
        if len(dbs) > 10:
            terminalreporter.write_line(f"  ... and {len(dbs) - 10} more")
    terminalreporter.write_line("remove them with: dkenv down NAME (containers) or rm -r the SQLite directory")


#: What :mod:`dkenv.pytest_plugin` (the module pytest's entry point names) re-exports: every hook
#: and fixture pytest looks for on the plugin module, and the helpers users import from it.
__all__ = [
    "assert_valid", "format_problems", "parse_build", "parse_engines",
    "dkenv_async_engine", "dkenv_connection", "dkenv_database", "dkenv_engine", "dkenv_engine_name",
    "dkenv_mysql", "dkenv_postgres", "dkenv_session", "dkenv_sqlite", "dkenv_target", "dkenv_url",
    "pytest_addoption", "pytest_assertrepr_compare", "pytest_configure", "pytest_generate_tests",
    "pytest_sessionfinish", "pytest_terminal_summary", "pytest_testnodedown", "pytest_unconfigure",
]
