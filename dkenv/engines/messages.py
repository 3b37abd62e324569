"""Database errors as one sentence a user can act on.

Each driver words its errors differently: PyMySQL raises ``(1005, "Can't create table …")``
tuples, psycopg2 appends ``LINE 1: …`` and a caret, SQLAlchemy wraps everything in
``(driver.Error) … [SQL: …] (Background on this error at: …)``. dkenv prints one line:
``MySQL error 1005: Can't create table …``, ``relation "staff" does not exist``.
"""

from __future__ import annotations

import re

#: Longest message kept; database messages past this are SQL echoes, not explanations.
MAX_LENGTH = 300

_SA_NOISE = re.compile(r"\s*(\[SQL:.*|\[parameters:.*|\(Background on this error at:.*)$", re.DOTALL)
_SA_PREFIX = re.compile(r"^\((?:[\w.]+)\)\s*")  # "(pymysql.err.OperationalError) "


def describe_db_error(exc: BaseException) -> str:
    """The database's own message for ``exc`` as one line (MySQL errors with their number).

    Accepts SQLAlchemy's wrappers (``DBAPIError``: the driver's exception is ``exc.orig``),
    driver exceptions, and any other exception (its first line).
    """
    orig = getattr(exc, "orig", None) or exc
    args = getattr(orig, "args", ())
    if len(args) >= 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return _clip(f"MySQL error {args[0]}: {_first_line(args[1])}")  # PyMySQL / mysqlclient
    text = _SA_NOISE.sub("", str(orig)).strip()
    text = _SA_PREFIX.sub("", text)
    mysql = re.match(r"^\((\d{4}),\s*['\"](.*)['\"]\)$", _first_line(text), re.DOTALL)
    if mysql:  # a tuple that reached us as text (a re-raised SQLAlchemy message)
        return _clip(f"MySQL error {mysql.group(1)}: {mysql.group(2)}")
    line = _first_line(text)
    line = re.sub(r"^(ERROR|FATAL):\s+", "", line)  # libpq's severity prefix
    return _clip(line or type(orig).__name__)


def _first_line(text: str) -> str:
    for line in str(text).strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LENGTH else text[: MAX_LENGTH - 1] + "…"
