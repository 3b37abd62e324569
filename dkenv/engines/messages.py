"""Database errors as one sentence a user can act on.

Each driver words its errors differently: PyMySQL raises ``(1005, "Can't create table …")``
tuples (recognised by the exception's class, never by the shape of its arguments: an
``OSError(28, "No space left on device")`` has the same shape and says what the OS said), psycopg2 appends ``LINE 1: …`` and a caret, SQLAlchemy wraps everything in
``(driver.Error) … [SQL: …] (Background on this error at: …)``. dkenv prints one line:
``MySQL error 1005: Can't create table …``, ``relation "staff" does not exist``.
"""

from __future__ import annotations

import re

#: Longest message kept; database messages past this are SQL echoes, not explanations.
MAX_LENGTH = 300

_SA_NOISE = re.compile(r"\s*(\[SQL:.*|\[parameters:.*|\(Background on this error at:.*)$", re.DOTALL)
_SA_PREFIX = re.compile(r"^\((?:[\w.]+)\)\s*")  # "(pymysql.err.OperationalError) "


def describe_db_error(exc: BaseException, *, detail: bool = False) -> str:
    """The database's own message for ``exc`` as one line (MySQL errors with their number).

    Accepts SQLAlchemy's wrappers (``DBAPIError``: the driver's exception is ``exc.orig``),
    driver exceptions, and any other exception (its first line). With ``detail``, PostgreSQL's
    ``DETAIL:`` line (which row or key a constraint refused) follows in parentheses.
    """
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    if _is_mysql_error(orig) and len(args) >= 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return _clip(f"MySQL error {args[0]}: {_first_line(args[1])}")  # PyMySQL / mysqlclient
    if isinstance(orig, OSError) and orig.strerror:
        where = orig.filename if orig.filename is not None else None
        return _clip(orig.strerror + (f": {where}" if where is not None else ""))
    text = _SA_NOISE.sub("", str(orig)).strip()
    text = _SA_PREFIX.sub("", text)
    mysql = re.match(r"^\((\d{4}),\s*['\"](.*)['\"]\)$", _first_line(text), re.DOTALL)
    if mysql:  # a tuple that reached us as text (a re-raised SQLAlchemy message)
        return _clip(f"MySQL error {mysql.group(1)}: {mysql.group(2)}")
    line = _first_line(text)
    line = re.sub(r"^(ERROR|FATAL):\s+", "", line)  # libpq's severity prefix
    more = [part.strip() for part in text.splitlines()[1:] if part.strip().startswith("DETAIL")] if detail else []
    return _clip(line or type(orig).__name__) + (f" ({more[0][:200]})" if more else "")


#: Modules whose exceptions carry MySQL's ``(errno, message)`` pair.
_MYSQL_MODULES = frozenset({"pymysql", "MySQLdb", "mysql"})


def _is_mysql_error(exc: BaseException) -> bool:
    """Whether ``exc`` comes from a MySQL driver (by its class's module, not its arguments)."""
    return any(cls.__module__.split(".")[0] in _MYSQL_MODULES for cls in type(exc).__mro__)


def _first_line(text: str) -> str:
    for line in str(text).strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1] + "…"
