"""A session server that goes away mid-session: noticed at the next hand-out, brought back.

``docker restart`` publishes the container on a new host port; ``docker kill`` or an engine
restart leaves it stopped; ``docker rm -f`` leaves nothing.  Before, the plugin kept the old
URL and every later test failed with a raw ``OperationalError``.  Now:

* each database handed out is checked before the test gets it: the connection dkenv keeps
  to it (the warm one) must not have been ended by the server, which a look at its socket
  tells without a round trip; a database without one has the server's port tried with a TCP
  connection instead (which costs the server a process or a thread per hand-out);
* when it does not, the server object follows its container (new port; a stopped one is
  started again) or, with the container gone, is re-pointed at a replacement started with
  the same options (under xdist: shared by the run's workers again).  The old database
  factory is discarded (its databases went with the server, or are unreachable) and a new
  one rebuilds templates and pools on first use.  The user is told in one line (a pytest
  warning, which xdist forwards to the controller);
* a test that was running when the server went away fails with one line naming the server,
  not a driver traceback.

This module imports neither SQLAlchemy nor the Docker SDK at load time.
"""

from __future__ import annotations

import dataclasses
import itertools
import socket
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from dkenv.engines.messages import describe_db_error


class DkenvServerWarning(pytest.PytestWarning):
    """A session server went away and dkenv brought it back."""


@dataclass
class Watched:
    """A session server and how to bring it back."""

    server: Any
    relaunch: Callable[[], Any]  # a replacement with the same options
    factory_options: dict[str, Any] = field(default_factory=dict)


_WATCHED: dict[int, Watched] = {}
_LOCK = threading.Lock()


def watch(server: Any, relaunch: Callable[[], Any], factory_options: dict[str, Any]) -> None:
    """Check ``server`` at every hand-out from now on (container servers only)."""
    with _LOCK:
        _WATCHED[id(server)] = Watched(server, relaunch, dict(factory_options))


def unwatch(server: Any) -> None:
    with _LOCK:
        _WATCHED.pop(id(server), None)


def reachable(server: Any, timeout: float = 1.0) -> bool:
    """Does the server's published port accept a TCP connection?"""
    try:
        with socket.create_connection((server.host, server.port), timeout=timeout):
            return True
    except OSError:
        return False


def ensure_alive(server: Any) -> None:
    """Before a hand-out: bring a watched server back if its port went dead.

    Raises :class:`~dkenv.errors.DkenvError` (one line) when it cannot be brought back.
    """
    watched = _WATCHED.get(id(server))
    if watched is None or reachable(server):
        return
    with _LOCK:  # one recovery at a time per process; a second caller finds it done
        if reachable(server):
            return
        _recover(watched)


#: Driver errors that say "the connection is gone", as opposed to errors in SQL or data.
_CONNECTION_ERRORS = frozenset({"OperationalError", "InterfaceError", "DisconnectionError"})
_ATTEMPTS = 3


def hand_out(server: Any, open_database: Callable[[], Any], *, timeout: float = 60.0) -> Any:
    """``open_database()`` on a server that may be going away under it.

    The database handed out from a watched server is checked before the test gets it
    (:func:`_usable`): when the server ended the connection dkenv keeps to it, or its port
    went dead, it is given back, the server recovered and another one handed out.  When the
    hand-out itself fails with a driver error -- the server went down between the check and
    the hand-out, e.g. while ``docker restart`` was stopping it -- the server is recovered
    and the hand-out tried again (three attempts within ``timeout``); then one
    :class:`~dkenv.errors.DkenvError` line.
    """
    import time

    from dkenv.errors import EnvironmentFailure

    watched = _WATCHED.get(id(server))
    deadline = time.monotonic() + timeout
    for attempt in itertools.count(1):
        try:
            db = open_database()
        except Exception as exc:
            error = _driver_error(exc)
            if watched is None or error is None or type(error).__name__ not in _CONNECTION_ERRORS:
                raise  # the datakit's or the test's own error, not a server going away
            if attempt >= _ATTEMPTS or time.monotonic() > deadline:
                raise EnvironmentFailure(f"the {server.engine} server {server.name} keeps failing: "
                                         f"{_one_line(error)}", "check the server's logs (`docker logs`)") from None
        else:
            if watched is None or _usable(server, db):
                return db
            db.drop()  # its server is gone or ended its connection: never handed to a test
            if attempt >= _ATTEMPTS or time.monotonic() > deadline:
                raise EnvironmentFailure(f"the {server.engine} server {server.name} keeps dropping its "
                                         "connections", "check the server's logs (`docker logs`)")
        with _LOCK:
            _recover(watched)


def _usable(server: Any, db: Any) -> bool:
    """Is ``db`` on a live server?  The connection dkenv keeps to it answers without a round
    trip (:meth:`~dkenv.databases.IsolatedDatabase.connection_lost`); only without one is the
    server's port asked, by a TCP connection (which costs the server a process or a thread)."""
    lost = getattr(db, "connection_lost", lambda: None)()
    return not lost if lost is not None else reachable(server)


def _one_line(error: BaseException) -> str:
    return f"{type(error).__name__}: {describe_db_error(error)}"


def _recover(watched: Watched) -> None:
    from dkenv.databases import factory_for
    from dkenv.databases.factory import detach_server_databases
    from dkenv.errors import DkenvError, EnvironmentFailure

    server = watched.server
    before = f"{server.engine} server {server.name} (port {server.port})"
    port_before = server.port
    # Its databases went with the server or cannot be reached: forget them, drop nothing.  The
    # old factory's threads may be stuck on the old address (a server half-way through its
    # shutdown accepts, then answers nothing): closed in the background, never waited for.
    old = detach_server_databases(server)
    if old is not None:
        threading.Thread(target=old.close, kwargs={"keep": True}, name="dkenv-recovery-close",
                         daemon=True).start()
    try:
        state = _follow(server)
        if state == "running" and server.port == port_before:
            what = "dropped its connections: reconnecting"
        elif state == "running":
            what = f"was restarted: following it to port {server.port}"
        elif state == "started":
            what = f"had stopped: started it again, now on port {server.port}"
        else:
            replacement = watched.relaunch()
            _take_over(server, replacement)
            what = f"is gone: started {server.name} on port {server.port} instead"
    except DkenvError as exc:
        first = (exc.message.strip().splitlines() or [""])[0]  # not the container's last log lines
        raise EnvironmentFailure(f"the {before} went away and could not be brought back: {first}",
                                "check the Docker engine (`docker ps`)") from None
    except Exception as exc:  # noqa: BLE001 - Docker SDK errors: one line, not a traceback
        raise EnvironmentFailure(f"the {before} went away and could not be brought back: "
                                f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                                "check the Docker engine (`docker ps`)") from None
    factory_for(server, **watched.factory_options)
    warnings.warn(DkenvServerWarning(f"dkenv: the {before} {what}; its test databases are rebuilt"),
                  stacklevel=2)


def _follow(server: Any, timeout: float = 60.0, attempt_s: float = 5.0) -> str:
    """:func:`~dkenv.servers.lifecycle.refresh` in short attempts, each re-reading the container: one
    caught half-way through ``docker restart`` looks running on its old port at first, then
    exits under the wait, or comes back on a port the first look could not know."""
    import time

    from docker.errors import APIError

    from dkenv.errors import NotReady
    from dkenv.servers.lifecycle import refresh

    deadline = time.monotonic() + timeout
    while True:
        try:
            return refresh(server, start_stopped=True, timeout=attempt_s)
        except (NotReady, APIError):  # APIError: started while Docker was restarting it
            if time.monotonic() > deadline:
                raise


def _take_over(server: Any, replacement: Any) -> None:
    """Point the fixture's server object (which tests hold) at the replacement container."""
    for f in dataclasses.fields(server):
        setattr(server, f.name, getattr(replacement, f.name))
    server.__dict__.pop("target", None)


# ---------------------------------------------------------------------------
# A test that was running when its server went away: one line, not a driver traceback
# ---------------------------------------------------------------------------
_DRIVER_MODULES = ("sqlalchemy", "psycopg2", "psycopg", "pymysql", "MySQLdb", "mysql", "asyncpg",
                   "aiomysql", "asyncmy", "mariadb")


def _driver_error(exc: BaseException | None) -> BaseException | None:
    """The database driver error in ``exc``'s chain, if any."""
    seen = 0
    while exc is not None and seen < 10:
        module = type(exc).__module__.split(".")[0]
        if module in _DRIVER_MODULES and "Error" in type(exc).__name__:
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def lost_server_message(exc: BaseException | None) -> str | None:
    """One line when ``exc`` is a driver error and a watched server is unreachable now."""
    error = _driver_error(exc)
    if error is None:
        return None
    with _LOCK:
        servers = [w.server for w in _WATCHED.values()]
    lost = [s for s in servers if not reachable(s, timeout=0.5)]
    if not lost:
        return None
    names = ", ".join(f"{s.engine} server {s.name}" for s in lost)
    return (f"dkenv: the {names} went away during this test (restarted, killed or its Docker "
            f"engine stopped): {_one_line(error)}; dkenv brings it back at the next hand-out")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[Any]) -> Any:
    outcome = yield
    report = outcome.get_result()
    if not report.failed or call.excinfo is None or not _WATCHED:
        return
    message = lost_server_message(call.excinfo.value)
    if message is not None:
        report.longrepr = message
