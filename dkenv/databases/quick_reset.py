"""MariaDB's quick reset: a returned database emptied in one round trip, on the server.

The careful reset (:mod:`dkenv.databases.recycle_mysql`, driven by
:meth:`~dkenv.databases.mysql.MySQLBuilder.recycle`) ends other sessions, reads the server's
schema-write count, then the counters, then which tables hold rows, and empties them: one
round trip each, on a pooled admin connection.  Here one compound statement (``BEGIN NOT
ATOMIC ... END``, :func:`quick_reset_sql`) does all of it on the server and answers with one
row: no result set per question for PyMySQL to parse in Python, in the thread that shares the
interpreter with the test.  It empties only when no session but dkenv's own is on the
database (listed only when a connection or ``USE`` came since the database was ready: see
:data:`_COUNTERS`) and nothing can have changed its schema: the server's schema-write count is the one
taken when the database was last ready (no statement anywhere could have changed a schema),
or, when that count moved (another database built, DDL elsewhere), a second statement finds
the databases' fingerprint still the one taken at build.  Anything else -- and any error (a
dropped table, a lock still held, a server without ``GLOBAL_STATUS`` or
``INNODB_SYS_TABLESTATS`` such as MySQL 8) -- is left to the careful path.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from typing import Any

from dkenv.databases.build import my_quote
from dkenv.databases.recycle_mysql import (
    _MYSQL_FINGERPRINT_ONCE,
    _MYSQL_SCHEMA_WRITE_COUNTER,
    _literal,
)

_COM = "'COM$_%' ESCAPE '$'"
_WRITE_COUNTER = _MYSQL_SCHEMA_WRITE_COUNTER.replace(":com", _COM).replace(":show", "'COM$_SHOW$_%' ESCAPE '$'")
#: One read of the server's counters: the schema-write count (as
#: :func:`~dkenv.databases.recycle_mysql.mysql_schema_writes` counts it) and the "comings":
#: connections made plus ``USE`` (``COM_INIT_DB``) statements run, the only ways a session
#: gets onto a database.  Unchanged since the database was last ready, no session can be on it
#: but those that were (none but dkenv's own): the sessions need not be listed (~0.25 ms).
_COUNTERS = (
    f"SELECT SUM(IF({_WRITE_COUNTER}, VARIABLE_VALUE, 0)), "
    "SUM(IF(VARIABLE_NAME IN ('CONNECTIONS', 'COM_CHANGE_DB'), VARIABLE_VALUE, 0)) INTO writes, comings "
    f"FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME LIKE {_COM} OR VARIABLE_NAME = 'CONNECTIONS'")


def quick_reset_sql(names: Sequence[str], tables: Sequence[tuple[str, str]], mark: Mark,
                    keep: Sequence[int], rows: Sequence[str] = (), fingerprint: str | None = None) -> str:
    """See :func:`_quick_reset_sql`: built once per database, the marks and sessions filled in."""
    writes, comings = mark
    sql = _quick_reset_sql(tuple(names), tuple(tables), writes is not None, tuple(rows), fingerprint)
    return (sql.replace(_MARK, str(int(writes)) if writes is not None else "NULL")
            .replace(_COMINGS, str(int(comings)) if comings is not None else "-1")
            .replace(_KEEP, ", ".join(str(int(pid)) for pid in keep) or "0"))


#: The server's counters when a database was last ready: (schema writes, comings); None: unknown.
Mark = tuple[int | None, int | None]
_MARK, _COMINGS, _KEEP = "/*dkenv:mark*/", "/*dkenv:comings*/", "/*dkenv:keep*/"
_PLACEHOLDERS = (_MARK, _COMINGS, _KEEP)


@functools.lru_cache(maxsize=256)
def _quick_reset_sql(names: tuple[str, ...], tables: tuple[tuple[str, str], ...], marked: bool,
                     rows: tuple[str, ...], fingerprint: str | None) -> str:
    """One compound statement that empties the MySQL databases ``names`` (whose base tables
    were ``tables`` when built) if nothing but rows can have changed, then runs ``rows``
    (INSERTs putting back what the build wrote).  Its one row: the server's schema-write
    count and comings (:data:`_COUNTERS`) read first, and 1 if it emptied, 2 if it did not
    only because that count moved since the mark, 0 if it refused (another session, a table
    missing).  Other sessions are looked for only when the comings moved since the mark.

    Nothing but rows changed when the server ran no statement that can change a schema
    since the mark was read; given the databases' ``fingerprint`` instead
    (:func:`~dkenv.databases.recycle_mysql.mysql_fingerprint`, as built), when it is still
    theirs (computed on the server: another database built, another test's DDL, moved the
    count).  The fingerprint's text is sent only then: parsing it costs ~0.3 ms.

    Each table is truncated where its ``AUTO_INCREMENT`` moved (InnoDB's table cache holds
    the counters: ~0.35 ms less than ``information_schema.TABLES``, which opens every table),
    deleted from where it only holds rows, and left alone otherwise.
    """
    within = ", ".join(_literal(n) for n in names)
    listed = ", ".join(_literal(f"{schema}/{table}") for schema, table in tables)
    mine = f"CONNECTION_ID(), {_KEEP}"
    empty = [f"IF FIND_IN_SET({_literal(f'{s}/{t}')}, moved) THEN TRUNCATE TABLE {my_quote(s)}.{my_quote(t)}; "
             f"ELSEIF EXISTS (SELECT 1 FROM {my_quote(s)}.{my_quote(t)}) THEN DELETE FROM {my_quote(s)}.{my_quote(t)}; "
             "END IF;" for s, t in tables]
    if fingerprint is not None:  # asked only after the count moved: parsing it costs ~0.3 ms
        now = _MYSQL_FINGERPRINT_ONCE.replace(":names", f"({within})")
        same = f"({now}) = {_literal(fingerprint)}"
    else:
        same = f"writes = {_MARK}" if marked else "FALSE"
    return "\n".join([
        "BEGIN NOT ATOMIC",
        "DECLARE others INT DEFAULT 0; DECLARE writes, comings BIGINT; DECLARE found INT; DECLARE moved TEXT;",
        f"{_COUNTERS};",
        f"IF comings IS NULL OR comings <> {_COMINGS} THEN",
        f"SELECT COUNT(*) INTO others FROM information_schema.PROCESSLIST WHERE DB IN ({within}) AND ID NOT IN ({mine});",
        "END IF;",
        "SELECT COUNT(*), IFNULL(GROUP_CONCAT(IF(AUTOINC > 1, NAME, NULL)), '') INTO found, moved "
        f"FROM information_schema.INNODB_SYS_TABLESTATS WHERE NAME IN ({listed or 'NULL'});",
        f"IF others = 0 AND found = {len(tables)} AND {same} THEN",
        "SET SESSION foreign_key_checks = 0;", *empty, "SET SESSION foreign_key_checks = 1;",
        *(f"{sql};" for sql in rows),
        "SELECT writes, comings, 1;",
        f"ELSEIF others = 0 AND found = {len(tables)} THEN SELECT writes, comings, 2;",  # only the count moved
        "ELSE SELECT writes, comings, 0; END IF;",
        "END",
    ])


def _run(cursor: Any, sql: str) -> tuple[Mark, int]:
    """Run a :func:`quick_reset_sql` statement (or its ``EXECUTE``): (the counters read,
    1 emptied / 2 only the count moved / 0 refused)."""
    cursor.execute(sql)
    writes, comings, done = cursor.fetchone()
    while cursor.nextset():
        pass
    return (None if writes is None else int(writes), None if comings is None else int(comings)), int(done)


class _Prepared:
    """One connection's prepared resets: MariaDB prepares a compound statement like any other,
    so the ~0.25 ms of parsing one per reset is paid once per database and connection.  The
    marks and dkenv's own session are its parameters; the oldest are deallocated past ``KEEP``
    (a database's statement outlives it otherwise: its name is never used again)."""

    KEEP = 32

    def __init__(self) -> None:
        self.names: dict[str, str] = {}  # the statement's text -> its prepared name
        self.made = 0

    def execute(self, cursor: Any, names: Sequence[str], tables: Sequence[tuple[str, str]], mark: Mark,
                keep: Sequence[int], rows: Sequence[str]) -> tuple[Mark, int]:
        writes, comings = mark
        text = _quick_reset_sql(tuple(names), tuple(tables), writes is not None, tuple(rows), None)
        values = {_MARK: writes, _COMINGS: -1 if comings is None else comings, _KEEP: keep[0] if keep else 0}
        # The parameters in the order their placeholders appear in the text.
        order = sorted((at, holder) for holder in _PLACEHOLDERS for at in _positions(text, holder))
        args = [int(values[holder]) for _, holder in order]  # type: ignore[arg-type]
        for holder in _PLACEHOLDERS:
            text = text.replace(holder, "?")
        name = self.names.get(text)
        if name is None:
            self.made += 1
            name = f"dkenv_reset_{self.made}"
            # As hex: no escaping to get wrong, whatever the server's sql_mode (NO_BACKSLASH_ESCAPES).
            cursor.execute(f"SET @dkenv_reset = CONVERT(X'{text.encode().hex()}' USING utf8mb4); "
                           f"PREPARE {name} FROM @dkenv_reset; SET @dkenv_reset = NULL")
            while cursor.nextset():
                pass
            self.names[text] = name
            while len(self.names) > self.KEEP:
                cursor.execute(f"DEALLOCATE PREPARE {self.names.pop(next(iter(self.names)))}")
        return _run(cursor, f"EXECUTE {name} USING {', '.join(map(str, args))}")


def _positions(text: str, holder: str) -> list[int]:
    """Where ``holder`` appears in ``text``."""
    found, at = [], text.find(holder)
    while at >= 0:
        found.append(at)
        at = text.find(holder, at + 1)
    return found


class QuickReset:
    """Quick resets on the server at ``admin_url`` (PyMySQL), one connection per thread."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self._local = threading.local()  # each returner thread: its own multi-statement connection
        self._opened: list[Any] = []
        self._lock = threading.Lock()

    def reset(self, names: list[str], tables: Sequence[tuple[str, str]], mark: Mark, keep: Sequence[int],
              rows: Sequence[str] = (), fingerprint: str | None = None) -> Mark | None:
        """Empty the MySQL databases ``names`` whose base tables were ``tables`` when built,
        then run ``rows`` (INSERTs that put back what the build wrote).  Returns the server's
        counters read before (the next reset's mark), or None when the careful path must do it
        (nothing done then but, after an error, possibly part of the emptying: it is done again)."""
        if any("," in f"{s}/{t}" for s, t in tables):
            return None  # FIND_IN_SET cannot tell such a name from two
        conn = self._connection()
        if conn is None:
            return None
        try:
            with conn.cursor() as cursor:
                if len(keep) <= 1:
                    counters, done = self._prepared(conn).execute(cursor, names, tables, mark, keep, rows)
                else:
                    counters, done = _run(cursor, quick_reset_sql(names, tables, mark, keep, rows))
                if done == 2 and fingerprint is not None:  # the count moved: compare the fingerprint
                    counters, done = _run(cursor, quick_reset_sql(names, tables, mark, keep, rows, fingerprint))
        except Exception:  # noqa: BLE001 - a dropped table, a lock timeout, a gone server: careful path
            self._discard()
            return None
        return counters if done == 1 and counters[0] is not None else None

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            _quiet_close(conn)

    def _prepared(self, conn: Any) -> _Prepared:
        """The prepared resets of this thread's connection ``conn`` (new with a new connection)."""
        prepared = getattr(self._local, "prepared", None)
        if prepared is None or getattr(self._local, "prepared_for", None) is not conn:
            prepared = self._local.prepared = _Prepared()
            self._local.prepared_for = conn
        return prepared

    def _connection(self) -> Any:
        """This thread's connection to the server's own database: multi-statements, autocommit,
        short lock waits (a lock left behind sends the reset to the careful path, never hangs it)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None and conn.open:
            return conn
        import pymysql
        from pymysql.constants import CLIENT
        from sqlalchemy.dialects.mysql.pymysql import MySQLDialect_pymysql
        from sqlalchemy.engine import make_url

        from dkenv.engines.mysql import loopback_args

        cargs, cparams = MySQLDialect_pymysql().create_connect_args(make_url(self.admin_url))
        cparams = {**cparams, **loopback_args(self.admin_url, side_door=True), "autocommit": True, "connect_timeout": 5,
                   "client_flag": cparams.get("client_flag", 0) | CLIENT.MULTI_STATEMENTS}
        try:
            conn = pymysql.connect(*cargs, **cparams)
            with conn.cursor() as cursor:
                cursor.execute("SET SESSION lock_wait_timeout = 5, innodb_lock_wait_timeout = 5, "
                               "group_concat_max_len = 1073741824")  # a fingerprint never cut short
        except Exception:  # noqa: BLE001 - the careful path connects through the admin engine
            return None
        self._local.conn = conn
        with self._lock:
            self._opened.append(conn)
        return conn

    def _discard(self) -> None:
        conn, self._local.conn = getattr(self._local, "conn", None), None
        if conn is not None:
            with self._lock:
                if conn in self._opened:
                    self._opened.remove(conn)
            _quiet_close(conn)


def _quiet_close(conn: Any) -> None:
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - the server is gone: drop the socket
        conn._force_close()
