"""The load's connection: strict on MySQL, and failures of the environment told apart from bad data.

* **Strict mode.**  A MySQL/MariaDB server with a lenient ``sql_mode`` (``''``, common on older
  or hand-configured servers) cuts a too-long string to fit, stores ``0000-00-00`` and rounds
  out-of-range numbers, with a warning nobody reads.  The load's own session runs with
  ``STRICT_ALL_TABLES``, ``NO_ZERO_DATE``, ``NO_ZERO_IN_DATE`` and ``ERROR_FOR_DIVISION_BY_ZERO``
  added to the server's modes (``ANSI_QUOTES``, ``NO_BACKSLASH_ESCAPES``… are kept, since they
  change how SQL reads; ``ALLOW_INVALID_DATES`` is dropped), whatever the server's default, and
  gets its modes back afterwards.  MySQL 8's default already holds all four.
* **The environment.**  A full disk or a server that went away mid-load is not the data's fault:
  :func:`environment_failure` turns it into one line with the container or file, exit 3, instead
  of a driver's exception; :func:`is_environmental` lets the writer pass such errors through.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from typing import Any

from dkenv.engines import describe_db_error, rules_for_dialect
from dkenv.errors import EnvironmentFailure

STRICT_MODES = ("STRICT_ALL_TABLES", "NO_ZERO_DATE", "NO_ZERO_IN_DATE", "ERROR_FOR_DIVISION_BY_ZERO")
#: Modes that let a wrong value in even in strict mode.
_LENIENT_MODES = frozenset({"ALLOW_INVALID_DATES"})
#: Errors that mean "no space": SQLite's SQLITE_FULL, PostgreSQL's disk_full class, MySQL's
#: "table is full" / "disk full", and the OS's ENOSPC/EDQUOT.
_SQLITE_FULL = 13
_PG_DISK_FULL = "53100"
_MYSQL_FULL = frozenset({1021, 1114})


def strict_mode(conn: Any) -> Callable[[], None]:
    """Run ``conn``'s MySQL session in strict mode; returns what restores the server's modes."""
    if not rules_for_dialect(conn.dialect.name).has_sql_modes:
        return lambda: None
    before = conn.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar() or ""
    modes = [m for m in before.split(",") if m and m not in _LENIENT_MODES]
    modes += [m for m in STRICT_MODES if m not in modes]
    conn.exec_driver_sql("SET SESSION sql_mode = %s", (",".join(modes),))

    def restore() -> None:
        if not conn.invalidated:  # a lost connection took its session with it
            conn.exec_driver_sql("SET SESSION sql_mode = %s", (before,))

    return restore


def _driver_error(exc: BaseException) -> BaseException:
    return getattr(exc, "orig", None) or exc


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or quota) is full, on any engine or the OS."""
    orig = _driver_error(exc)
    if isinstance(orig, OSError) and orig.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if getattr(orig, "sqlite_errorcode", None) == _SQLITE_FULL:
        return True
    if getattr(orig, "pgcode", None) == _PG_DISK_FULL or getattr(getattr(orig, "diag", None), "sqlstate", None) == _PG_DISK_FULL:
        return True
    module = type(orig).__module__.split(".")[0]
    args = getattr(orig, "args", ())
    return module in ("pymysql", "MySQLdb") and bool(args) and args[0] in _MYSQL_FULL


def is_disconnect(exc: BaseException, dialect: Any) -> bool:
    """Whether ``exc`` means the connection to the server is gone (the driver's own test)."""
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    orig = _driver_error(exc)
    dbapi_error = getattr(getattr(dialect, "loaded_dbapi", None), "Error", None)
    if dbapi_error is None or not isinstance(orig, dbapi_error):
        return False
    try:
        return bool(dialect.is_disconnect(orig, None, None))
    except Exception:  # noqa: BLE001 - a dialect's check that needs the connection it was not given
        return False


def is_environmental(exc: BaseException, dialect: Any) -> bool:
    """A full disk or a lost server: not something the data files can fix."""
    return is_disk_full(exc) or is_disconnect(exc, dialect)


def environment_failure(exc: BaseException, rt: Any) -> EnvironmentFailure | None:
    """One line for a load that the environment stopped (exit 3), or None for any other error.

    ``rt`` is the target's runtime: its container, or its URL's host, or its SQLite file
    is where the failure happened.
    """
    exc = _cause(exc, rt.engine.dialect)
    if is_disk_full(exc):
        where = _place(rt)
        return EnvironmentFailure(
            f"loading into {where} failed: the disk is full ({describe_db_error(exc)}); nothing was loaded",
            "free space on the disk that holds it (or a quota), then run the load again")
    if is_disconnect(exc, rt.engine.dialect):
        where = _place(rt)
        hint = (f"see `docker logs {rt.server.name}`, then run the load again" if rt.server is not None
                else "check that the server is running, then run the load again")
        return EnvironmentFailure(
            f"lost the connection to {where} during the load ({describe_db_error(exc)}); "
            f"nothing was loaded (not committed)", hint)
    return None


def _cause(exc: BaseException, dialect: Any) -> BaseException:
    """The environmental error behind ``exc``, if one is in its chain: cleanup that ran on a
    dead connection (a rollback, ``PendingRollbackError``) raises its own error over the first."""
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        if is_environmental(link, dialect):
            return link
        seen.add(id(link))
        link = link.__cause__ or link.__context__
    return exc


def _place(rt: Any) -> str:
    """The container, the SQLite file or the server a runtime talks to, for a message."""
    if rt.server is not None:
        return f"container {rt.server.name}"
    url = rt.engine.url
    if rules_for_dialect(url.get_backend_name()).embedded:
        return f"the SQLite file {url.database}"
    port = f":{url.port}" if url.port else ""
    return f"{url.get_backend_name()} at {url.host or 'localhost'}{port}/{url.database or ''}"
