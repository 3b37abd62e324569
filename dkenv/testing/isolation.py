"""Transactional isolation for the pytest plugin: one database, a rolled-back transaction per test.

    @pytest.mark.dkenv(datakits=["examples/bronze-pagila"], isolation="transaction")
    def test_signup(dkenv_session):          # session.commit() in the code under test: a savepoint
        ...

The default (``isolation="database"``) hands each test a database of its own.  Some teams want
the classic pattern instead: one database per datakit set for the whole session, each test
inside a connection-level transaction rolled back at its end.  Its limits are those of the
pattern, and dkenv says so rather than letting a test leak into the next:

- only the test's own connection sees its rows, so ``dkenv_url``/``dkenv_engine`` (which open
  connections of their own) are refused; ``dkenv_connection`` and ``dkenv_session`` are it;
- ``commit()`` on that connection would end the outer transaction: refused with the fix;
  a ``Session``'s ``commit()`` releases a savepoint (``join_transaction_mode="create_savepoint"``);
- schema changes (DDL) are refused before they run: MySQL commits them implicitly (and the
  test's rows with them), and any engine would hand the changed schema to the next test;
- sequences advance for good (PostgreSQL ``nextval`` is never rolled back): compare rows, not ids.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from dkenv.engines import is_embedded
from dkenv.errors import UsageError

if TYPE_CHECKING:
    import sqlalchemy as sa

    from dkenv.databases import IsolatedDatabase

ISOLATIONS = ("database", "transaction")

#: Statements that change the schema (after leading comments): refused in transaction mode.
_DDL = re.compile(r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*(CREATE|ALTER|DROP|TRUNCATE|RENAME|COMMENT\s+ON)\b",
                  re.IGNORECASE | re.DOTALL)


class TransactionIsolationError(UsageError):
    """A test in ``isolation="transaction"`` did what a rolled-back transaction cannot undo."""


def isolation_of(request: pytest.FixtureRequest) -> str:
    """The test's isolation from its ``dkenv`` marker: ``database`` (default) or ``transaction``."""
    marker = request.node.get_closest_marker("dkenv")
    value = marker.kwargs.get("isolation", "database") if marker is not None else "database"
    if value not in ISOLATIONS:
        pytest.fail(f"@pytest.mark.dkenv on {request.node.nodeid}: isolation={value!r}; "
                    f"use {' or '.join(repr(i) for i in ISOLATIONS)}", pytrace=False)
    return str(value)


def refuse_in_transaction(request: pytest.FixtureRequest, fixture: str, instead: str) -> None:
    """Fail the test's setup when ``fixture`` makes no sense in transaction isolation."""
    if isolation_of(request) == "transaction":
        pytest.fail(f"{request.node.nodeid}: {fixture} cannot see the test's transaction "
                    f"(isolation=\"transaction\"); use {instead}, or the default isolation=\"database\"",
                    pytrace=False)


# ---------------------------------------------------------------------------
# One database per (server, datakit set) for the session
# ---------------------------------------------------------------------------
@dataclass
class _Shared:
    databases: dict[tuple[Any, ...], IsolatedDatabase] = field(default_factory=dict)
    engines: dict[str, sa.Engine] = field(default_factory=dict)  # database name -> its engine


_SHARED_KEY = pytest.StashKey[_Shared]()


def _shared(config: pytest.Config) -> _Shared:
    shared = config.stash.get(_SHARED_KEY, None)
    if shared is None:
        shared = config.stash[_SHARED_KEY] = _Shared()
    return shared


def shared_database(config: pytest.Config, key: tuple[Any, ...],
                    make: Callable[[], IsolatedDatabase]) -> IsolatedDatabase:
    """The session's database for ``key`` (server, datakits, data, snapshot), made on first use.

    It belongs to the server's factory like any other: dropped when the server goes away.
    """
    shared = _shared(config)
    db = shared.databases.get(key)
    if db is None or db._dropped:
        db = shared.databases[key] = make()
    return db


def _engine_of(config: pytest.Config, db: IsolatedDatabase) -> sa.Engine:
    """The shared database's engine, made once; SQLite gets real SAVEPOINT support."""
    shared = _shared(config)
    engine = shared.engines.get(db.name)
    if engine is None or db._dropped:
        engine = shared.engines[db.name] = db.create_engine()
        if is_embedded(db.engine):  # Python's sqlite3: BEGIN only before DML
            _sqlite_transactions(engine)
    return engine


def _sqlite_transactions(engine: sa.Engine) -> None:
    """pysqlite begins transactions lazily and breaks SAVEPOINT: let SQLAlchemy emit BEGIN itself
    (SQLAlchemy's documented recipe for serializable isolation / savepoints)."""
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_pysqlite_begin(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN")


# ---------------------------------------------------------------------------
# The test's transaction
# ---------------------------------------------------------------------------
@contextmanager
def transaction(request: pytest.FixtureRequest, db: IsolatedDatabase) -> Iterator[sa.Connection]:
    """The test's connection inside a transaction that is rolled back when the block exits.

    DDL and ``Connection.commit()`` raise :class:`TransactionIsolationError` before they run,
    so even code that swallows the error has changed nothing the next test would see.
    """
    from sqlalchemy import event

    nodeid = request.node.nodeid
    fix = 'mark the test @pytest.mark.dkenv(isolation="database") (the default): a database of its own'

    def _refuse_ddl(conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        match = _DDL.match(statement)
        if match:
            what = " ".join(statement.split())[:80]
            raise TransactionIsolationError(
                f"{nodeid}: schema change in isolation=\"transaction\" ({what}): a rollback cannot "
                f"undo it for the next test (MySQL even commits it at once)", fix)

    def _refuse_commit(conn: Any) -> None:
        raise TransactionIsolationError(
            f"{nodeid}: commit() on the test's connection in isolation=\"transaction\" would keep its rows "
            "for the next tests", "commit through dkenv_session (a savepoint) or conn.begin_nested(); or " + fix)

    conn = _engine_of(request.config, db).connect()
    outer = conn.begin()
    event.listen(conn, "before_cursor_execute", _refuse_ddl)
    event.listen(conn, "commit", _refuse_commit)
    try:
        yield conn
    finally:
        event.remove(conn, "commit", _refuse_commit)
        try:
            outer.rollback()  # also after a refused commit: it left the transaction for a rollback
            if conn.in_transaction():
                conn.rollback()
        finally:
            event.remove(conn, "before_cursor_execute", _refuse_ddl)
            conn.close()


__all__ = ["ISOLATIONS", "TransactionIsolationError", "isolation_of", "refuse_in_transaction",
           "shared_database", "transaction"]
