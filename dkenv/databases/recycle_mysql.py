"""Putting a returned MySQL/MariaDB database back to the state it was built in.

One isolated database is several MySQL databases (its own + one per schema).  Its schema is
compared with itself as built through a fingerprint of ``information_schema`` (hashed on the
server), skipped when the server ran no statement that can change a schema since the database
was ready (:func:`mysql_schema_writes`); when nothing differs, its rows are deleted and moved
``AUTO_INCREMENT`` counters put back (:func:`mysql_empty`).  Sessions still connected are
ended first (:func:`mysql_end_sessions`).  The PostgreSQL side is :mod:`dkenv.databases.recycle`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from dkenv.databases.build import my_quote


def _in(sql: str) -> Any:
    from sqlalchemy import bindparam, text

    return text(sql).bindparams(bindparam("names", expanding=True))


_MYSQL_FINGERPRINT = (
    "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION, CREATE_OPTIONS "
    "FROM information_schema.TABLES WHERE TABLE_SCHEMA IN :names ORDER BY 1, 2",
    "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_DEFAULT, IS_NULLABLE, "
    "COLUMN_TYPE, COLLATION_NAME, EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN :names "
    "ORDER BY 1, 2, 4",
    "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE, SUB_PART "
    "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN :names ORDER BY 1, 2, 3, 4",
    "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, UNIQUE_CONSTRAINT_SCHEMA, "
    "REFERENCED_TABLE_NAME, UPDATE_RULE, DELETE_RULE FROM information_schema.REFERENTIAL_CONSTRAINTS "
    "WHERE CONSTRAINT_SCHEMA IN :names ORDER BY 1, 2, 3",
    "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE "
    "FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA IN :names ORDER BY 1, 2, 3",
    "SELECT TRIGGER_SCHEMA, TRIGGER_NAME, ACTION_STATEMENT FROM information_schema.TRIGGERS "
    "WHERE TRIGGER_SCHEMA IN :names ORDER BY 1, 2",
    "SELECT ROUTINE_SCHEMA, ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES "
    "WHERE ROUTINE_SCHEMA IN :names ORDER BY 1, 2",
    "SELECT EVENT_SCHEMA, EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA IN :names ORDER BY 1, 2",
)


def mysql_end_sessions(conn: Any, names: list[str], keep: Sequence[int] = ()) -> None:
    """KILL sessions whose current database is one of ``names`` (their locks block DDL and
    DELETE), but those in ``keep`` (dkenv's own)."""
    rows = conn.execute(_in("SELECT ID FROM information_schema.PROCESSLIST WHERE DB IN :names "
                            "AND ID <> CONNECTION_ID()"), {"names": names}).fetchall()
    for (pid,) in rows:
        if pid in keep:
            continue
        try:
            conn.exec_driver_sql(f"KILL {int(pid)}")
        except Exception:  # noqa: BLE001 - it ended by itself
            pass


def _hashed_on_the_server(queries: tuple[str, ...]) -> str:
    """The fingerprint queries as one row: per view, the MD5 of its rows (each one quoted
    string) in sorted order.  Parsing ~150 rows in PyMySQL cost more than the server's work."""
    parts = []
    for sql in queries:
        columns, rest = sql[len("SELECT "):].split(" FROM ", 1)
        row = "CONCAT_WS(CHAR(31), " + ", ".join(f"QUOTE({c.strip()})" for c in columns.split(",")) + ")"
        parts.append(f"COALESCE((SELECT MD5(GROUP_CONCAT({row} ORDER BY {row} SEPARATOR ';')) "
                     f"FROM {rest.split(' ORDER BY ')[0]}), '-')")
    return "SELECT CONCAT_WS(',', " + ", ".join(parts) + ")"


_MYSQL_FINGERPRINT_ONCE = _hashed_on_the_server(_MYSQL_FINGERPRINT)


def mysql_fingerprint(conn: Any, names: list[str]) -> str:
    """A hash of everything but the rows in the MySQL databases ``names``.

    One round trip where the server has every view asked (hashed there); else a query per
    view, a missing one hashed as ``n/a``.  The two give different hashes, which only costs
    a rebuild should a server answer one way at build time and the other at reset.
    """
    try:
        conn.exec_driver_sql("SET SESSION group_concat_max_len = 1073741824")  # never cut a view's rows
        return str(conn.execute(_in(_MYSQL_FINGERPRINT_ONCE), {"names": names}).scalar())
    except Exception:  # noqa: BLE001 - a view this server lacks (old MySQL): one query each below
        pass
    digest = hashlib.sha256()
    for sql in _MYSQL_FINGERPRINT:
        try:
            rows = conn.execute(_in(sql), {"names": names}).fetchall()
        except Exception:  # noqa: BLE001 - a view this server lacks (old MySQL): same answer each time
            rows = ["n/a"]
        digest.update(repr(rows).encode())
    return digest.hexdigest()


#: Statement counters (``Com_*``) of statements that cannot change a schema: rows, transactions,
#: session settings, KILL, TRUNCATE (rows and counter only), table maintenance, SHOW, and the
#: wrappers that run other statements (compound statements, prepared statements), since the
#: server counts each statement they run under its own counter (tested: ``PREPARE``/``EXECUTE``
#: or ``BEGIN NOT ATOMIC`` of a ``CREATE TABLE`` moves ``Com_create_table``).  Every other
#: counter -- DDL, GRANT, CALL, and any a server adds -- counts as a possible schema change.
_MYSQL_ROW_COMMANDS = (
    "select", "insert", "insert_select", "update", "update_multi", "delete", "delete_multi", "replace",
    "replace_select", "load", "begin", "commit", "rollback", "rollback_to_savepoint", "savepoint",
    "release_savepoint", "set_option", "change_db", "kill", "truncate", "empty_query", "admin_commands",
    "lock_tables", "unlock_tables", "do", "analyze", "check", "checksum", "optimize", "repair", "help",
    "signal", "resignal", "stmt_close", "stmt_reset", "stmt_fetch",
    "compound_sql", "prepare_sql", "execute_sql", "dealloc_sql", "stmt_prepare", "stmt_execute")
#: Which ``GLOBAL_STATUS`` counters count statements that may change a schema (``:com`` and
#: ``:show``: the ``COM\_%`` and ``COM\_SHOW\_%`` patterns, bound or inlined by the caller).
_MYSQL_SCHEMA_WRITE_COUNTER = (
    "VARIABLE_NAME LIKE :com AND VARIABLE_NAME NOT LIKE :show AND VARIABLE_NAME NOT IN ("
    + ", ".join(f"'COM_{c.upper()}'" for c in _MYSQL_ROW_COMMANDS) + ")")
#: The server's count of statements that may change a schema (see :func:`mysql_schema_writes`).
_MYSQL_SCHEMA_WRITES = (
    f"SELECT SUM(VARIABLE_VALUE) FROM information_schema.GLOBAL_STATUS WHERE {_MYSQL_SCHEMA_WRITE_COUNTER}")


def mysql_schema_writes(conn: Any) -> int | None:
    """How many statements that may change a schema the whole server has run (MariaDB's
    ``information_schema.GLOBAL_STATUS``); None where it cannot say (MySQL 8 moved it).

    Not a single one since a database was handed out means its schema is as built: no
    connection, whatever database it was on, ran anything but rows, transactions and
    settings.  Anything else, here or on any database of the server (another worker's
    build), and the caller compares the fingerprint.  ~0.3 ms against ~5 ms for it.
    """
    from sqlalchemy import text

    try:
        value = conn.execute(text(_MYSQL_SCHEMA_WRITES), {"com": "COM\\_%", "show": "COM\\_SHOW\\_%"}).scalar()
    except Exception:  # noqa: BLE001 - no such view: always compare fingerprints
        return None
    return None if value is None else int(value)


def _literal(value: str) -> str:
    """A MySQL string literal (the names here are dkenv's own, but quoted all the same)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def mysql_empty(conn: Any, names: list[str], *, stats_expiry: bool = True) -> bool:
    """Empty every table that has rows and put every moved AUTO_INCREMENT back to 1.

    A table whose counter moved is truncated (one statement: ~2 ms on MariaDB 10.11 against
    ~5-8 ms for DELETE then ``ALTER TABLE ... AUTO_INCREMENT = 1``); one that only holds rows
    is deleted from (a few rows: cheaper than a truncation's new table file).
    ``stats_expiry``: try MySQL 8's statistics cache setting (MariaDB has none). Returns
    whether the server took it, so the caller stops asking.
    """
    if stats_expiry:
        try:
            conn.exec_driver_sql("SET SESSION information_schema_stats_expiry = 0")  # MySQL 8 caches them
        except Exception:  # noqa: BLE001 - MariaDB has no such cache
            stats_expiry = False
    tables = conn.execute(_in(
        "SELECT TABLE_SCHEMA, TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA IN :names AND TABLE_TYPE = 'BASE TABLE'"), {"names": names}).fetchall()
    if not tables:
        return stats_expiry
    any_rows = " UNION ALL ".join(
        f"SELECT {i}, EXISTS(SELECT 1 FROM {my_quote(schema)}.{my_quote(table)})"
        for i, (schema, table, _ai) in enumerate(tables))
    has_rows = {i for i, found in conn.exec_driver_sql(any_rows).fetchall() if found}
    dirty = [t for i, t in enumerate(tables) if i in has_rows or (t[2] or 1) > 1]
    if not dirty:
        return stats_expiry
    conn.exec_driver_sql("SET SESSION foreign_key_checks = 0")  # lets TRUNCATE past referencing tables
    try:
        for schema, table, counter in dirty:
            qualified = f"{my_quote(schema)}.{my_quote(table)}"
            if (counter or 1) > 1:
                conn.exec_driver_sql(f"TRUNCATE TABLE {qualified}")  # rows and counter in one go
            else:
                conn.exec_driver_sql(f"DELETE FROM {qualified}")
    finally:
        conn.exec_driver_sql("SET SESSION foreign_key_checks = 1")
    return stats_expiry
