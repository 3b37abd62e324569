"""Isolated databases on MySQL and MariaDB: the datakit DDL compiled once and replayed per database.

MySQL and MariaDB have no template databases: the DDL is compiled once (with placeholder
schema names) and replayed per database.  A schema ``X`` is a *database* there, so isolated
database ``d`` holds it as database ``d__X`` (see :func:`dkenv.schema.ddl.physical_schema`).

With PyMySQL, each database has one connection of dkenv's own, opened as it is built and lent
to the test's first engine (:meth:`MySQLBuilder.creator`), as on PostgreSQL: a test pays no
handshake (a server thread, authentication, ``SET NAMES``...).  When the test is done the
connection's session is reset (``COM_RESET_CONNECTION``: transaction, temporary tables,
variables, prepared statements and locks go) and it waits for the next test.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Callable, Sequence
from typing import Any

from dkenv.config import Target
from dkenv.databases.build import admin_engine, deploy_into, hung_up, my_quote, url_for
from dkenv.databases.lending import lendable
from dkenv.databases.quick_reset import Mark, QuickReset
from dkenv.databases.recycle_mysql import (
    mysql_empty,
    mysql_end_sessions,
    mysql_fingerprint,
    mysql_schema_writes,
)
from dkenv.datakit import Datakit
from dkenv.engines import describe_db_error
from dkenv.engines.mysql import loopback_args
from dkenv.errors import DeployError
from dkenv.schema import (
    all_tables,
    check_references,
    compile_ddl,
    fill_tokens,
    inline_indexes,
    physical_schema,
    schemas_of,
    tokenized,
    user_names,
)


class MySQLBuilder:
    """DDL compiled once and replayed per database; each schema becomes ``<db>__<schema>``.

    ``recycle="reset"`` (default): a returned database whose schema is unchanged — the same
    tables, columns, indexes, constraints, views, triggers and routines as when it was built,
    compared through ``information_schema`` — is emptied (DELETE, or TRUNCATE where AUTO_INCREMENT moved)
    and handed out again: ~60 ms instead of ~300 ms of CREATE TABLE for 50 tables on InnoDB.
    Anything else, and every database with ``recycle="drop"``, is dropped and rebuilt.
    """

    engine = "mysql"

    def __init__(self, url: str, kits: Sequence[Datakit], *, recycle: str = "reset",
                 data: Sequence[Any] = (), build: str = "models") -> None:
        from sqlalchemy.engine import make_url

        if recycle not in ("reset", "drop"):
            raise ValueError(f"recycle must be 'reset' or 'drop', not {recycle!r}")
        self.data = list(data)  # data directories, loaded into every database as it is built
        self.recycle_mode = "drop" if self.data else recycle
        self.build = build  # "models": DDL compiled from them; "migrations": captured after Alembic ran
        self.rows: list[str] = []  # rows the migrations wrote (alembic_version, seeds): put back on recycle
        self._fingerprints: dict[str, str] = {}
        self._marks: dict[str, Mark] = {}  # database -> the server's counters when it was ready (quick_reset)
        self._stats_expiry = True  # MySQL 8's information_schema cache setting; False once refused
        self.admin_url = url
        self.admin_database = make_url(url).database or ""
        self.kits = list(kits)
        self.schemas: list[str] = []
        self.ddl: list[str] = []
        self._admin = admin_engine(url)
        self._deployed_once = False
        self._first_lock = threading.Lock()
        self._services: dict[str, Any] = {}  # database -> dkenv's own (lendable) PyMySQL connection to it
        self._services_lock = threading.Lock()
        self._lends = make_url(url).get_driver_name() == "pymysql"
        self._tables: dict[str, list[tuple[str, str]]] = {}  # database -> its base tables as built
        self._quick = QuickReset(url) if self._lends else None  # PyMySQL: a reset in one statement
        self.quick_recycles = 0  # recycles done by the quick path (the rest took the careful one)

    def prepare(self) -> None:
        if self.build == "migrations":
            from dkenv.migrations import history_of

            for kit in self.kits:
                history_of(kit).script()  # a broken history fails here, before any database
            return  # the DDL is captured from the first database Alembic builds
        tables = all_tables(self.kits)
        check_references(tables, self.kits)
        self.schemas = schemas_of(tables)
        self.ddl = inline_indexes(compile_ddl(self.kits, self._admin, schema_map=tokenized(self.schemas)))

    def databases_of(self, name: str) -> list[str]:
        """Every MySQL database behind isolated database ``name``: its own, then its schemas'."""
        return [name, *(physical_schema(name, s) for s in self.schemas)]

    def schema_map(self, name: str) -> dict[str, str]:
        return {s: physical_schema(name, s) for s in self.schemas}

    def create(self, name: str) -> None:
        """The first database goes through the deployer (its checks and probes), the rest replay."""
        names = self.databases_of(name)
        with self._admin.connect() as conn:
            for db in names:
                conn.exec_driver_sql(f"CREATE DATABASE {my_quote(db)}")
        try:
            with self._first_lock:
                first = not self._deployed_once
                if first:
                    self._deploy_first(name)
                    self._deployed_once = True
            if not first:
                self._replay(name, names)
            if self.data:
                self._load(name)
            if self.recycle_mode == "reset":
                with self._admin.connect() as conn:
                    self._fingerprints[name] = mysql_fingerprint(conn, names)
                    self._tables[name] = _base_tables(conn, names)
            if self._lends:
                self._service(name)  # opened here, in the pool's thread: a test's engine borrows it
            if self.recycle_mode == "reset":
                with self._admin.connect() as conn:
                    self._marks[name] = (mysql_schema_writes(conn), None)
        except BaseException:
            self.drop(name)
            raise

    def recycle(self, name: str) -> bool:
        """Make a returned database pristine again, if its schema is as built; else False.

        The lent connection's session is reset first (its transaction and locks go).  Then,
        with PyMySQL, one compound statement (:class:`~dkenv.databases.quick_reset.QuickReset`)
        empties it on the server when no other session is on it and nothing can have changed
        its schema: the server ran no statement that can change one since the database was
        ready (:func:`~dkenv.databases.recycle_mysql.mysql_schema_writes`) or, when it did, the
        ``information_schema`` fingerprint is still the one taken at build.  Otherwise (other
        sessions, a changed schema, a server without MariaDB's views) the careful path:
        sessions are ended, the fingerprint compared unless nothing ran, then it is emptied.
        """
        if self.recycle_mode != "reset" or name not in self._fingerprints:
            return False
        names = self.databases_of(name)
        service = self._returned_service(name)
        if service is not None and not self._reset_service(name, service):
            service = None
        keep = [service.thread_id()] if service is not None else []
        mark = self._marks.pop(name, (None, None))
        counters = None
        if self._quick is not None and name in self._tables:
            rows = [sql.replace("INSERT INTO ", f"INSERT INTO {my_quote(name)}.", 1) for sql in self.rows]
            counters = self._quick.reset(names, self._tables[name], mark, keep, rows, self._fingerprints[name])
        if counters is None:
            with self._admin.connect() as conn:
                mysql_end_sessions(conn, names, keep=keep)
                writes = mysql_schema_writes(conn)
                counters = (writes, None)  # the sessions are listed at the next reset
                quiet = mark[0] is not None and writes == mark[0]  # nothing that can change a schema, anywhere
                if not quiet and mysql_fingerprint(conn, names) != self._fingerprints[name]:
                    return False
                self._stats_expiry = mysql_empty(conn, names, stats_expiry=self._stats_expiry)
                for sql in self.rows:
                    conn.exec_driver_sql(sql.replace("INSERT INTO ", f"INSERT INTO {my_quote(name)}.", 1))
        else:
            self.quick_recycles += 1
        # The counters before the reset: what the reset runs moves none of them, and anything run
        # by others meanwhile only makes the next recycle compare the fingerprint (or list sessions).
        self._marks[name] = counters
        return True

    # -- dkenv's own connection per database (PyMySQL), lent to each test's first engine ------
    def creator(self, name: str) -> Callable[[], Any] | None:
        """A DBAPI ``creator`` for a test's first engine that lends dkenv's own connection
        first (later connections of the engine are new ones); None for other drivers."""
        if not self._lends:
            return None
        first = [True]

        def connect() -> Any:
            if first[0]:
                first[0] = False
                conn = self._service(name)
                conn.lent = True
                return conn
            return self._connect(name)

        return connect

    def _connect(self, name: str) -> Any:
        """A new lendable PyMySQL connection to ``name``, as SQLAlchemy's dialect would open it."""
        from sqlalchemy.engine import make_url

        url = self.url(name)
        cargs, cparams = self._admin.dialect.create_connect_args(make_url(url))
        return _lendable()(*cargs, **{**cparams, **loopback_args(url, side_door=True)})

    def _service(self, name: str) -> Any:
        """dkenv's own connection to ``name`` (opened once; a new one if the last never came back)."""
        with self._services_lock:
            conn = self._services.pop(name, None)
        if conn is not None and (not conn.open or conn.lent):
            conn.really_close()  # still out with an engine that never closed it: never reused
            conn = None
        if conn is None:
            conn = self._connect(name)
        with self._services_lock:
            self._services[name] = conn
        return conn

    def _returned_service(self, name: str) -> Any:
        """The service connection of a returned database, if its test gave it back; else none."""
        with self._services_lock:
            conn = self._services.get(name)
        if conn is not None and (conn.lent or not conn.open):
            self._close_service(name)  # kept by an engine the test never closed: its session ends
            return None
        return conn

    def _reset_service(self, name: str, conn: Any) -> bool:
        """The session as new (``COM_RESET_CONNECTION``, then what connecting set: character
        set and autocommit off in one statement), in one round trip: both are sent, then both
        replies read.  The reset keeps the session's database: it is chosen again only when the
        test used another one (no ``COM_INIT_DB`` otherwise, which would count as a session
        coming onto a database: see :data:`~dkenv.databases.quick_reset._COUNTERS`).  A server
        that cannot reset gets a new connection at the next lend (False)."""
        from pymysql.constants import COMMAND

        names = f"SET NAMES {conn.charset}" + (f" COLLATE {conn.collation}" if conn.collation else "")
        try:
            conn._execute_command(_COM_RESET_CONNECTION, b"")
            conn._execute_command(COMMAND.COM_QUERY, f"{names}, autocommit = 0")
            conn._read_ok_packet()
            conn._next_seq_id = 1  # the second reply numbers its packets from 1 again
            conn._read_ok_packet()
            conn.autocommit_mode = False
            if conn.used_another_database:
                conn.select_db(name)
                conn.used_another_database = False
        except Exception:  # noqa: BLE001 - older servers: the next lend opens a new connection
            self._close_service(name)
            return False
        return True

    def connection_lost(self, name: str) -> bool | None:
        """Whether the server ended dkenv's own connection to ``name``; None without one."""
        with self._services_lock:
            conn = self._services.get(name)
        if conn is None:
            return None
        return not conn.open or hung_up(conn._sock.fileno())

    def _close_service(self, name: str) -> None:
        with self._services_lock:
            conn = self._services.pop(name, None)
        if conn is not None:
            try:
                conn.really_close()
            except Exception:  # noqa: BLE001 - a gone server closed it already
                pass

    def _deploy_first(self, name: str) -> None:
        deploy_into(self.url(name), "mysql", f"isolated database {name}", self.kits, self.schema_map(name),
                    build=self.build)
        if self.build == "migrations":
            from dkenv.databases.migrated import capture_mysql

            with self._admin.connect() as conn:
                captured = capture_mysql(conn, name)
            self.ddl, self.rows = captured.ddl, captured.rows

    def _load(self, name: str) -> None:
        """Load the data into a built database (the pool builds ahead, so requests do not wait)."""
        from dkenv.data import load_data
        from dkenv.servers.runtime import open_runtime

        target = Target(name=f"isolated database {name}", db_type="mysql", kind="url", url=self.url(name),
                        database=name, options={"schema_map": self.schema_map(name)})
        with open_runtime(target) as rt:
            load_data(rt, self.data, self.kits)

    def _replay(self, name: str, names: list[str]) -> None:
        """Run the captured DDL into ``name`` on one pooled admin connection, then give it back clean."""
        statements = fill_tokens(self.ddl, names[1:], my_quote)
        raw = self._admin.raw_connection()
        healthy = False
        try:
            cursor = raw.cursor()
            cursor.execute(f"USE {my_quote(name)}")
            for sql in [*statements, *self.rows]:
                try:
                    cursor.execute(sql)  # no parameters: a '%' in a default stays a '%'
                except Exception as exc:  # noqa: BLE001 - reported with the statement
                    first = sql.splitlines()[0][:120]
                    raise DeployError(user_names(
                        f"replaying the datakit DDL into {name} failed at {first!r}: "
                        f"{describe_db_error(exc)}", self.schema_map(name)) or "") from None
            cursor.execute(f"USE {my_quote(self.admin_database)}")
            cursor.close()
            healthy = True
        finally:
            if healthy:
                raw.close()  # back to the pool, on the server's own database again
            else:
                raw.invalidate()  # possibly broken (server gone, statement failed): never reuse it

    def drop(self, name: str) -> None:
        """End sessions still using the database (DROP would wait on their locks), then drop."""
        self._fingerprints.pop(name, None)
        self._marks.pop(name, None)
        self._tables.pop(name, None)
        self._close_service(name)
        names = self.databases_of(name)
        with self._admin.connect() as conn:
            mysql_end_sessions(conn, names)
            for db in reversed(names):
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {my_quote(db)}")

    def url(self, name: str) -> str:
        return url_for(self.admin_url, name)

    def close(self) -> None:
        with self._services_lock:
            names = list(self._services)
        for name in names:
            self._close_service(name)
        if self._quick is not None:
            self._quick.close()
        self._admin.dispose()


def _base_tables(conn: Any, names: list[str]) -> list[tuple[str, str]]:
    """The base tables (schema, name) in the MySQL databases ``names``."""
    from sqlalchemy import bindparam, text

    sql = text("SELECT TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN :names "
               "AND TABLE_TYPE = 'BASE TABLE' ORDER BY 1, 2").bindparams(bindparam("names", expanding=True))
    return [(str(schema), str(table)) for schema, table in conn.execute(sql, {"names": names}).fetchall()]


#: MySQL's protocol command that resets a session without a new handshake (MariaDB 10.2.4+, MySQL 5.7+).
_COM_RESET_CONNECTION = 0x1F


_USE = re.compile(r"\buse\b", re.IGNORECASE)
_USE_BYTES = re.compile(rb"\buse\b", re.IGNORECASE)


@functools.cache
def _lendable() -> type:
    """PyMySQL's connection, lendable, whose ``rollback()`` sends nothing when the server said
    no transaction is open (``SERVER_STATUS_IN_TRANS`` clear in its last reply): every check-in
    to SQLAlchemy's pool rolls back, and PyMySQL, unlike psycopg2, always asked the server.
    It also notes when the session may have moved to another database (``USE``, ``select_db``;
    a statement that merely mentions the word counts too): its reset then chooses its own again."""
    import pymysql.connections
    from pymysql.constants import SERVER_STATUS

    class KnowsItsTransaction(pymysql.connections.Connection):  # type: ignore[misc]
        used_another_database = False

        def select_db(self, db: str) -> None:
            self.used_another_database = True
            super().select_db(db)

        def rollback(self) -> None:
            status = self.server_status
            if status is not None and not status & SERVER_STATUS.SERVER_STATUS_IN_TRANS and self.open:
                return  # nothing to roll back
            super().rollback()

        # An error reply carries no status, yet the failed statement may have begun a
        # transaction (InnoDB's locks of a duplicate-key check): unknown, so the next
        # rollback asks the server.
        def query(self, sql: Any, unbuffered: bool = False) -> Any:
            if not self.used_another_database and (_USE_BYTES if isinstance(sql, bytes) else _USE).search(sql):
                self.used_another_database = True
            try:
                return super().query(sql, unbuffered)
            except BaseException:
                self.server_status = None
                raise

        def next_result(self, unbuffered: bool = False) -> Any:
            try:
                return super().next_result(unbuffered)
            except BaseException:
                self.server_status = None
                raise

    return lendable(KnowsItsTransaction)
