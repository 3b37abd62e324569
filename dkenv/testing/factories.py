"""Fixture factories: declare your own dkenv servers and databases in a conftest.

    from dkenv.testing import database_fixture, server_fixture

    pg16 = server_fixture("postgres", image="postgres:16")             # session-scoped server
    warehouse = database_fixture("pg16", datakits=["datakits/bronze", "datakits/silver"])

    def test_load(warehouse):                                          # a fresh database per test
        engine = warehouse.create_engine()

A fixture's name is the name it is assigned to.  Settings resolve as pytest users expect:
factory argument > command line > ini file > dkenv's own defaults (``DKENV_*`` variables,
``dkenv.toml``).  For the datakits of a database fixture, a test's ``dkenv`` marker wins
over all of them, being the most specific.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dkenv.engines import is_embedded
from dkenv.testing.isolation import isolation_of, shared_database

#: Engines the plugin knows, in the order ids are shown.
ENGINES = ("sqlite", "postgres", "mysql")
#: How an isolated database is built: the models (create_all) or the datakits' Alembic migrations.
BUILDS = ("models", "migrations")
#: Time-to-live of a server ``server_fixture(..., reuse=True)`` starts (it has no owner).
REUSE_TTL = "2h"


@dataclass
class Settings:
    """The plugin's options after command line > ini resolution (kept in ``config.stash``)."""

    engines: list[str]
    datakits_cli: list[str]
    datakits_ini: list[Path]
    keep: bool
    images: dict[str, str | None]
    kept: list[dict[str, Any]] = field(default_factory=list)
    containers_started: bool = False  # this process (or a worker) started a dkenv container
    data_cli: list[str] = field(default_factory=list)
    data_ini: list[Path] = field(default_factory=list)
    unavailable: str = "error"  # no Docker engine: "error" the container tests, or "skip" them
    build: str = "models"  # dkenv_build: "models" (create_all) or "migrations" (Alembic)


SETTINGS_KEY = pytest.StashKey[Settings]()


def settings_of(config: pytest.Config) -> Settings:
    return config.stash[SETTINGS_KEY]


# ---------------------------------------------------------------------------
# Datakits: marker > factory > command line > ini
# ---------------------------------------------------------------------------
def _candidates(raw: str | Path, bases: Sequence[Path]) -> list[Path]:
    path = Path(raw).expanduser()
    return [path] if path.is_absolute() else [base / path for base in bases]


_FOUND: dict[tuple[str, tuple[Path, ...]], Path] = {}  # (path as written, bases) -> the path found


def _resolve(raw: Any, bases: Sequence[Path], where: str) -> Any:
    """A path that exists (first base that has it), a Datakit as is, or a test failure.

    Found paths are kept for the process: every test of a suite names the same datakits, and
    looking for them again is a stat per base per test."""
    if not isinstance(raw, (str, Path)):
        return raw  # a Datakit object
    key = (str(raw), tuple(bases))
    found = _FOUND.get(key)
    if found is not None:
        return found
    tried = _candidates(raw, bases)
    for path in tried:
        if path.exists():
            _FOUND[key] = path
            return path
    looked = ", ".join(str(p) for p in dict.fromkeys(tried))
    pytest.fail(f"{where}: datakit path {str(raw)!r} does not exist (looked for {looked}); "
                "give a path relative to the test file or the rootdir, or an absolute one", pytrace=False)


def resolve_datakits(request: pytest.FixtureRequest, factory_datakits: Sequence[Any] | None = None) -> list[Any]:
    """The datakits for the requesting test, from the most specific source that names any."""
    config = request.config
    settings = settings_of(config)
    rootdir = Path(config.rootpath)
    invoked = Path(config.invocation_params.dir)
    marker = request.node.get_closest_marker("dkenv")
    if marker is not None:
        kits = marker.kwargs.get("datakits", list(marker.args))
        if isinstance(kits, (str, Path)):
            kits = [kits]
        if kits:
            test_dir = Path(str(request.node.path)).parent
            where = f"@pytest.mark.dkenv on {request.node.nodeid}"
            return [_resolve(k, [test_dir, rootdir, invoked], where) for k in kits]
    if factory_datakits:
        return [_resolve(k, [rootdir, invoked], f"fixture {request.fixturename}") for k in factory_datakits]
    if settings.datakits_cli:
        return [_resolve(k, [invoked], "--dkenv-datakit") for k in settings.datakits_cli]
    if settings.datakits_ini:
        return [_resolve(k, [rootdir], "ini option dkenv_datakits") for k in settings.datakits_ini]
    pytest.fail(f"{request.node.nodeid}: no datakits for {request.fixturename}; add "
                "@pytest.mark.dkenv(datakits=[...]), pass --dkenv-datakit PATH, or set dkenv_datakits "
                "in the ini file", pytrace=False)


def resolve_data(request: pytest.FixtureRequest, factory_data: Sequence[Any] | None = None) -> list[Path]:
    """Data directories for the requesting test: marker > factory > command line > ini (none is fine)."""
    config = request.config
    settings = settings_of(config)
    rootdir = Path(config.rootpath)
    invoked = Path(config.invocation_params.dir)
    marker = request.node.get_closest_marker("dkenv")
    sources: list[tuple[Sequence[Any], list[Path], str]] = []
    if marker is not None and marker.kwargs.get("data"):
        raw = marker.kwargs["data"]
        sources.append(([raw] if isinstance(raw, (str, Path)) else raw,
                        [Path(str(request.node.path)).parent, rootdir, invoked],
                        f"@pytest.mark.dkenv on {request.node.nodeid}"))
    sources += [(factory_data or [], [rootdir, invoked], f"fixture {request.fixturename}"),
                (settings.data_cli, [invoked], "--dkenv-data"),
                (settings.data_ini, [rootdir], "ini option dkenv_data")]
    for dirs, bases, where in sources:
        if not dirs:
            continue
        found = []
        for raw in dirs:
            tried = _candidates(raw, bases)
            path = next((p for p in tried if p.is_dir()), None)
            if path is None:
                looked = ", ".join(str(p) for p in dict.fromkeys(tried))
                pytest.fail(f"{where}: data directory {str(raw)!r} does not exist (looked for {looked})",
                            pytrace=False)
            found.append(path)
        return found
    return []


# ---------------------------------------------------------------------------
# Factories
# ---------------------------------------------------------------------------
def server_fixture(engine: str, *, image: str | None = None, scope: str = "session",
                   keep: bool | None = None, ready: int | None = None,
                   **start_options: Any) -> Callable[..., Any]:
    """A fixture yielding a running dkenv server (``lifecycle.Server`` or ``SqliteServer``).

    ``start_options`` go to :func:`dkenv.servers.lifecycle.start` (``env``, ``command``, ``timeout``,
    ``reuse``...).  The server is removed after its scope unless ``keep`` (or ``--dkenv-keep``)
    is on.  Under pytest-xdist the run's workers share one server per fixture, owned by the
    controller (:mod:`dkenv.testing.xdist`).  ``reuse=True`` servers outlive the run, with a
    time-to-live (default :data:`REUSE_TTL`).  A server that goes away mid-session is brought
    back at the next hand-out (:mod:`dkenv.testing.recovery`).
    """
    from dkenv.engines import get_engine

    name = get_engine(engine).name
    options = dict(start_options)
    if options.get("reuse") and options.get("ttl") is None:
        options["ttl"] = REUSE_TTL  # ownerless: without a TTL nothing would ever reap it

    @pytest.fixture(scope=scope)  # type: ignore[misc]
    def _server(request: pytest.FixtureRequest) -> Iterator[Any]:
        from dkenv.databases import close_server_databases, factory_for
        from dkenv.errors import DkenvError
        from dkenv.testing import recovery as pytest_recovery

        settings = settings_of(request.config)
        keep_ = settings.keep if keep is None else keep

        def launch() -> Any:
            if is_embedded(name):
                from dkenv.databases.sqlite_server import SqliteServer

                return SqliteServer(keep=keep_)
            from dkenv.testing.xdist import start_session_server

            settings.containers_started = True
            return start_session_server(request.config, request.fixturename, name,
                                        image=image or settings.images.get(name),
                                        persistent=keep_, options=options)

        failure = None
        try:
            server = launch()
        except DkenvError as exc:
            from dkenv.testing.unavailable import skip_if_unavailable

            skip_if_unavailable(settings.unavailable, name, exc)
            failure = f"dkenv could not start {name} for {request.fixturename}: {exc}"
        if failure is not None:  # outside the except: no "during handling ..." chain in the report
            pytest.fail(failure, pytrace=False)
        factory_options: dict[str, Any] = {"keep": keep_, **({"ready": ready} if ready is not None else {})}
        factory_for(server, **factory_options)
        if getattr(server, "container", None):  # a container can go away; SQLite's directory cannot
            pytest_recovery.watch(server, launch, factory_options)
        try:
            yield server
        finally:
            pytest_recovery.unwatch(server)
            if keep_:
                factory = factory_for(server, **factory_options)  # a recovered server has a new one
                close_server_databases(server, keep=True)
                settings.kept.append({"engine": name, "name": server.name, "url": server.url,
                                      "databases": [db.url for db in factory.kept]})
            else:
                gone_with_it = _removed_with_its_databases(request.config, server)
                _remove(server, close_server_databases, abandon=gone_with_it)

    return _server


def resolve_build(request: pytest.FixtureRequest) -> str:
    """How the test's database is built: the marker's ``build`` > ``--dkenv-build`` > ini ``dkenv_build``."""
    marker = request.node.get_closest_marker("dkenv")
    build = marker.kwargs.get("build") if marker is not None else None
    if build is None:
        return settings_of(request.config).build
    if build not in BUILDS:
        pytest.fail(f"{request.node.nodeid}: dkenv marker: build={build!r}; use one of {', '.join(BUILDS)}",
                    pytrace=False)
    return str(build)


def _remove(server: Any, close_databases: Callable[..., None], *, abandon: bool) -> None:
    """Drop the server's databases (``abandon``: close them, the server goes with them) and
    remove it; an engine that stopped answering is one warning line (the next dkenv command
    reaps the container once its owner is gone)."""
    import warnings

    from dkenv.testing.recovery import DkenvServerWarning

    try:
        try:
            close_databases(server, abandon=abandon)
        finally:
            server.stop()
    except Exception as exc:  # noqa: BLE001 - Docker SDK/requests errors: one line, not a traceback
        first = (str(exc).strip().splitlines() or [""])[0]
        warnings.warn(DkenvServerWarning(
            f"dkenv: could not remove {server.engine} server {server.name} ({type(exc).__name__}: "
            f"{first}); the next dkenv command reaps it"), stacklevel=2)


def _removed_with_its_databases(config: pytest.Config, server: Any) -> bool:
    """Whether ``server`` goes with everything on it once the session is over (a container this
    process removes, a SQLite directory of its own, an xdist run's shared server, which the
    controller removes): then its databases need no DROP first."""
    if is_embedded(server.engine):
        return bool(getattr(server, "_owns_dir", False)) and not getattr(server, "keep", False)
    from dkenv.testing.xdist import removed_with_the_run

    return bool(getattr(server, "remove_on_stop", False)) or removed_with_the_run(
        config, server, run_kept=settings_of(config).keep)


def database_fixture(server: str | None = None, *, datakits: Sequence[Any] | None = None,
                     data: Sequence[Any] | None = None, scope: str = "function") -> Callable[..., Any]:
    """A fixture yielding an :class:`~dkenv.databases.IsolatedDatabase`, dropped after its scope.

    ``server`` names a server fixture; by default the engine comes from ``--dkenv-engines``
    (``dkenv_<engine>``), and tests using the fixture run once per engine.  ``datakits``
    (paths relative to the rootdir) apply unless a test's ``dkenv`` marker names others; so do
    ``data`` directories (rows loaded into the template: every copy holds them).  A test marked
    ``isolation="transaction"`` gets the session's database for its datakit set instead, kept
    until the server goes (:mod:`dkenv.testing.isolation`).
    """

    def _open(request: pytest.FixtureRequest, server_name: str) -> Iterator[Any]:
        from dkenv.databases import server_database
        from dkenv.errors import DkenvError
        from dkenv.testing.recovery import hand_out

        srv = _session_value(request, server_name)
        marker = request.node.get_closest_marker("dkenv")
        snapshot = marker.kwargs.get("snapshot") if marker is not None else None
        if snapshot and not (marker.kwargs.get("datakits") or marker.args):
            kits: list[Any] = []  # a copy of the snapshot; nothing to deploy
        else:
            kits = resolve_datakits(request, datakits)
        dirs = [] if snapshot else resolve_data(request, data)

        build = resolve_build(request)

        def make() -> Any:
            failure = None
            try:  # a restarted, killed or removed server is followed or replaced first
                return hand_out(srv, lambda: server_database(srv, datakits=kits or None, data=dirs or None,
                                                             snapshot=snapshot, build=build))
            except DkenvError as exc:
                failure = f"{request.node.nodeid}: no isolated {srv.engine} database: {exc}"
            pytest.fail(failure, pytrace=False)  # outside the except: no "during handling ..." chain

        if isolation_of(request) == "transaction":  # the session's database, owned by the server
            key = (server_name, id(srv), tuple(map(str, kits)), tuple(map(str, dirs)), snapshot)
            yield shared_database(request.config, key, make)
            return
        with make() as db:
            yield db

    if server is not None:
        @pytest.fixture(scope=scope)  # type: ignore[misc]
        def _database(request: pytest.FixtureRequest) -> Iterator[Any]:
            yield from _open(request, server)

        return _database

    # Requesting dkenv_engine_name by argument puts it in the test's fixture closure, which is
    # what lets pytest_generate_tests parametrize the test over --dkenv-engines.
    @pytest.fixture(scope=scope)  # type: ignore[misc]
    def _database_per_engine(request: pytest.FixtureRequest, dkenv_engine_name: str) -> Iterator[Any]:
        yield from _open(request, f"dkenv_{dkenv_engine_name}")

    return _database_per_engine


def _session_value(request: pytest.FixtureRequest, name: str) -> Any:
    """The value of fixture ``name`` for this test: as pytest holds it when it is a session
    fixture already set up (what ``getfixturevalue`` would return, without its bookkeeping per
    call: ~0.1 ms a test, on the test's path), else through ``getfixturevalue``.  Nothing is
    lost by not registering with it: the test's own fixtures end before the session's."""
    try:
        manager = request._fixturemanager
        try:
            defs = manager.getfixturedefs(name, request.node)
        except (AttributeError, TypeError):  # pytest < 8.1 takes the node's id
            defs = manager.getfixturedefs(name, request.node.nodeid)
        fixturedef = defs[-1] if defs else None
        cached = fixturedef.cached_result if fixturedef is not None and fixturedef.scope == "session" else None
    except (AttributeError, TypeError, IndexError):  # another pytest's internals: the public way
        cached = None
    if cached is not None and cached[2] is None:
        return cached[0]
    return request.getfixturevalue(name)


def worker_id() -> str:
    """``gw0``... under pytest-xdist, ``master`` otherwise (as xdist's own ``worker_id``)."""
    return os.environ.get("PYTEST_XDIST_WORKER", "master")
