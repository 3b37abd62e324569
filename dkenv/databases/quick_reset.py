"""MariaDB's quick reset: a returned database emptied in two round trips, no fingerprint.

The careful reset (:mod:`dkenv.databases.recycle_mysql`, driven by
:meth:`~dkenv.databases.mysql.MySQLBuilder.recycle`) ends other sessions, reads the server's
schema-write count, then the counters, then which tables hold rows, and empties them: one
round trip each, on a pooled admin connection.  Here one multi-statement round trip reads all
of that (:func:`~dkenv.databases.recycle_mysql.mysql_survey`) and, when it allows, a second
empties the tables (:func:`~dkenv.databases.recycle_mysql.mysql_empty_sql`).  It allows when
no session but dkenv's own is on the database and the server's schema-write count is the one
taken when the database was last ready: then no statement anywhere could have changed a
schema, and the tables are those listed when it was built.  Anything else -- and any error (a
dropped table, a lock still held, a server without ``GLOBAL_STATUS`` such as MySQL 8) -- is
left to the careful path.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from dkenv.databases.recycle_mysql import mysql_empty_sql, mysql_survey


class QuickReset:
    """Quick resets on the server at ``admin_url`` (PyMySQL), one connection per thread."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self._local = threading.local()  # each returner thread: its own multi-statement connection
        self._opened: list[Any] = []
        self._lock = threading.Lock()

    def reset(self, names: list[str], tables: Sequence[tuple[str, str]], mark: int, keep: Sequence[int],
              rows: Sequence[str] = ()) -> int | None:
        """Empty the MySQL databases ``names`` whose base tables were ``tables`` when built,
        then run ``rows`` (INSERTs that put back what the build wrote).  Returns the server's
        schema-write count read before, or None when the careful path must do it (nothing
        done then but, after an error, possibly part of the emptying: it is done again)."""
        conn = self._connection()
        if conn is None:
            return None
        try:
            cursor = conn.cursor()
            survey = mysql_survey(cursor, names, tables)
            if (any(pid not in keep for pid in survey.sessions) or survey.schema_writes != mark
                    or set(survey.counters) != set(tables)):
                return None
            dirty = [(s, t, survey.counters[(s, t)]) for s, t in tables
                     if (s, t) in survey.has_rows or survey.counters[(s, t)] > 1]
            sql = mysql_empty_sql(dirty, rows)
            if sql:
                cursor.execute(sql)
                while cursor.nextset():
                    pass
            cursor.close()
        except Exception:  # noqa: BLE001 - a dropped table, a lock timeout, a gone server: careful path
            self._discard()
            return None
        return survey.schema_writes

    def close(self) -> None:
        """Close every thread's connection."""
        with self._lock:
            opened, self._opened = self._opened, []
        for conn in opened:
            _quiet_close(conn)

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
        cparams = {**cparams, **loopback_args(self.admin_url), "autocommit": True, "connect_timeout": 5,
                   "client_flag": cparams.get("client_flag", 0) | CLIENT.MULTI_STATEMENTS}
        try:
            conn = pymysql.connect(*cargs, **cparams)
            with conn.cursor() as cursor:
                cursor.execute("SET SESSION lock_wait_timeout = 5, innodb_lock_wait_timeout = 5")
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
