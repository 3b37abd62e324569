"""Isolated databases on PostgreSQL: a template database per datakit set, copied per request.

PostgreSQL copies a database in one statement, so the datakits are deployed once into a
template database and every isolated database is ``CREATE DATABASE x TEMPLATE tpl``.  The
template is named after the hash of the compiled DDL (and of the data files) and the server
version: a changed datakit gets a new template, an unchanged one is found again on a reused
server and not redeployed.  ``STRATEGY FILE_COPY`` is used where the server has it (15+): on
dkenv's PostgreSQL 15 image with the 50-table benchmark datakit it copied in ~55-65 ms against
~135-185 ms for the default WAL_LOG on disk (see ``benchmarks/handout.py``); with a throwaway
server's data directory in memory, the 13-table pagila template copies in ~5 ms (WAL_LOG ~9 ms).

Each database has one connection of dkenv's own, opened once: it resets the database when a
test returns it, and in between it is lent to the test's first engine (:meth:`PostgresBuilder.creator`),
so neither the test nor the reset pays a handshake.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from dkenv.databases import schema_watch
from dkenv.databases.build import (
    admin_engine,
    build_ddl,
    data_key,
    deploy_into,
    hung_up,
    pg_quote,
    url_for,
)
from dkenv.databases.lending import lendable
from dkenv.databases.recycle import (
    PG_DISCARD_SESSION,
    PG_EMPTY_AS_SUPERUSER,
    PG_END_SESSIONS,
    PgBaseline,
    pg_baseline,
    pg_empty,
    pg_empty_statements,
    pg_is_superuser,
    pg_restore,
    pg_schema_check,
)
from dkenv.datakit import Datakit
from dkenv.schema import all_tables, check_references, ddl_key

#: How long to keep retrying CREATE DATABASE while another session holds the template.
TEMPLATE_BUSY_TIMEOUT_S = 30.0
TEMPLATE_BUSY = "is being accessed by other users"


class PostgresBuilder:
    """Template database per datakit set; ``CREATE DATABASE ... TEMPLATE`` per request.

    ``recycle="reset"`` (default): a returned database whose catalog is still the template's
    is emptied and handed out again (see :mod:`dkenv.databases.recycle`); where the template
    holds rows (data files, a snapshot) those tables are kept if no test wrote to them.
    Otherwise, and always with ``recycle="drop"``, it is dropped and a new copy made.
    """

    engine = "postgres"

    def __init__(self, url: str, kits: Sequence[Datakit], *, strategy: str | None = None,
                 recycle: str = "reset", data: Sequence[Any] = (), build: str = "models") -> None:
        self.build = build  # "models" (create_all) or "migrations" (the datakits' Alembic histories)
        if recycle not in ("reset", "drop"):
            raise ValueError(f"recycle must be 'reset' or 'drop', not {recycle!r}")
        self.data = list(data)  # data directories: the template holds their rows
        self.recycle_mode = recycle
        self._schema_check: str | None = None  # "schema changed since the copy?" (recycle.pg_schema_check)
        self._baseline: PgBaseline | None = None  # the template's rows and sequence positions
        self._superuser = False  # dkenv's containers: empty in one statement (recycle.PG_EMPTY_AS_SUPERUSER)
        self._watch = False  # templates built here note their own DDL (dkenv.databases.schema_watch)
        self._reset_sql: str | None = None  # with a watch: a whole reset in one round trip
        self._empty_sql: str | None = None  # superuser, template without rows: recycle.pg_empty_statements
        self.admin_url = url
        self.kits = list(kits)
        self.strategy = strategy.upper() if strategy else "FILE_COPY"
        self.template: str | None = None
        self.template_reused = False
        self.version = 0
        self._admin = admin_engine(url)
        self._create_lock = threading.Lock()  # one CREATE DATABASE from the template at a time
        self._services: dict[str, Any] = {}  # database -> dkenv's recycling connection to it
        self._checkers: dict[str, Any] = {}  # database -> a connection holding the prepared schema check
        self._services_lock = threading.Lock()

    def prepare(self) -> None:
        tables = all_tables(self.kits)
        check_references(tables, self.kits)
        ddl = build_ddl(self.kits, self._admin, self.build)
        with self._admin.connect() as conn:
            self.version = int(conn.exec_driver_sql("SHOW server_version_num").scalar())
            self._watch = bool(conn.exec_driver_sql("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").scalar())
        watch = [schema_watch.KEY] if self._watch else []  # templates of superusers note their DDL
        template = "dkenv_tpl_" + ddl_key(ddl + data_key(self.data) + watch, engine="postgres",
                                          server_version=str(self.version))
        # One build per template on the server: a process (an xdist worker) that finds another
        # building it waits for that build and reuses it instead of deploying the same DDL beside it.
        lock = int(template[len("dkenv_tpl_"):][:15], 16)
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({lock})")
            try:
                if self._exists(template):
                    self.template, self.template_reused = template, True
                    return
                self._build_template(template)
                self.template = template
            finally:
                conn.exec_driver_sql(f"SELECT pg_advisory_unlock({lock})")

    def _exists(self, name: str) -> bool:
        from sqlalchemy import text

        with self._admin.connect() as conn:
            return conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is not None

    def _build_template(self, template: str) -> None:
        """Deploy into a private database, close it to connections, then publish it by renaming.

        The rename is atomic: a template under its final name is always complete, and two
        processes building the same one at once both succeed (the loser drops its copy).
        """
        from sqlalchemy.exc import DBAPIError

        building = f"dkenv_bld_{template[len('dkenv_tpl_'):]}_{secrets.token_hex(3)}"
        # FILE_COPY from template1 as for the copies: PostgreSQL 15's default (WAL_LOG) writes
        # template1's pages to the WAL, ~2x slower on a fresh server.
        self._execute(f"CREATE DATABASE {pg_quote(building)}{self._strategy_clause()}")
        try:
            deploy_into(url_for(self.admin_url, building), "postgres",
                        f"template {template}", self.kits, data=self.data, build=self.build)
            if self._watch:
                with self._connect(building) as conn:
                    schema_watch.install(conn)
            self._execute(f"ALTER DATABASE {pg_quote(building)} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true")
            try:
                self._execute_retrying(f"ALTER DATABASE {pg_quote(building)} RENAME TO {pg_quote(template)}")
            except DBAPIError as exc:
                if "already exists" not in str(exc.orig):
                    raise
                self._drop_template(building)  # another process published it first
        except BaseException:
            self._drop_template(building)
            raise

    def _drop_template(self, name: str) -> None:
        try:
            self._execute(f"ALTER DATABASE {pg_quote(name)} WITH IS_TEMPLATE false")
        except Exception:  # noqa: BLE001 - it may not be a template (yet), or not exist
            pass
        self.drop(name)

    def _strategy_clause(self) -> str:
        """``CREATE DATABASE``'s copy strategy (PostgreSQL 15 and later)."""
        return f" STRATEGY {self.strategy}" if self.version >= 150000 and self.strategy else ""

    def create(self, name: str) -> None:
        sql = f"CREATE DATABASE {pg_quote(name)} TEMPLATE {pg_quote(self.template or '')}{self._strategy_clause()}"
        with self._create_lock:
            self._execute_retrying(sql)
        self._service(name)  # dkenv's own connection, opened here: a test's engine borrows it
        if self.recycle_mode == "reset" and self._schema_check is None:
            # Copies share the template's catalog and its transaction stamps: one schema check serves all.
            with self._connect(name) as conn, conn.cursor() as cursor:
                self._baseline = pg_baseline(cursor)
                self._superuser = pg_is_superuser(cursor)
                watch = schema_watch.state(cursor)
                self._schema_check = (schema_watch.check(watch, self._baseline.next_xid) if watch else
                                      pg_schema_check(cursor, self._baseline.next_xid))
                if self._superuser and self._baseline.plain:
                    self._empty_sql = pg_empty_statements(cursor, self._baseline)
                    if watch:
                        self._reset_sql = (f"{PG_DISCARD_SESSION}; BEGIN; SET LOCAL lock_timeout = '10s'; "
                                           f"{PG_END_SESSIONS}; {self._empty_sql}; COMMIT; {self._schema_check}")

    def recycle(self, name: str) -> bool:
        """Empty a returned database whose catalog is still the template's; else False.

        Runs on the database's service connection (opened once, kept while the database
        lives), so a recycle costs no handshake.  On dkenv's containers (a superuser, a
        template without rows, which then notes its own DDL: :mod:`~dkenv.databases.schema_watch`)
        it is one round trip: the session's reset
        (:data:`~dkenv.databases.recycle.PG_DISCARD_SESSION`), other sessions ended, rows and
        sequences put back and committed, then the watch read.  A superuser's template without
        a watch (a snapshot of a database dkenv did not build) is checked by scanning the
        catalogs, prepared once on a second connection of dkenv's that no test ever gets
        (planning its ~60 scans costs as much as running them).  The emptying commits before
        the check answers; a changed database is dropped whatever it holds.
        """
        if self.recycle_mode != "reset" or self._schema_check is None:
            return False
        conn = self._service(name, reset=False)
        try:
            conn.rollback()  # a transaction the test left open (nothing is sent when there is none)
            conn.autocommit = True  # BEGIN/COMMIT sent with the statements: psycopg2's would be round trips
            with conn.cursor() as cursor:
                # A session that will not die makes the reset wait 10 s at most: then it is dropped.
                if self._reset_sql is not None:
                    cursor.execute(self._reset_sql)
                    same = not cursor.fetchone()[0]
                elif self._empty_sql is not None:
                    checker = self._checker(name)
                    cursor.execute(f"{PG_DISCARD_SESSION}; BEGIN; SET LOCAL lock_timeout = '10s'; {PG_END_SESSIONS} "
                                   f"AND a.pid <> {int(checker.info.backend_pid)}; {self._empty_sql}; COMMIT")
                    with checker.cursor() as checking:
                        checking.execute("EXECUTE dkenv_schema_check")
                        same = not checking.fetchone()[0]
                else:
                    same = self._recycle_in_steps(cursor)
            _session_as_new(conn)
        except BaseException:
            self._close_service(name)
            raise
        return same

    def _checker(self, name: str) -> Any:
        """dkenv's checking connection to ``name``: the schema check prepared on it, never lent."""
        with self._services_lock:
            conn = self._checkers.get(name)
        if conn is None or conn.closed:
            conn = self._connect(name).thing
            conn.autocommit = True
            with conn.cursor() as cursor:
                cursor.execute(f"PREPARE dkenv_schema_check AS {self._schema_check}")
            with self._services_lock:
                self._checkers[name] = conn
        return conn

    def _recycle_in_steps(self, cursor: Any) -> bool:
        """:meth:`recycle` for a template with rows or a role that is not a superuser."""
        cursor.execute(f"{PG_DISCARD_SESSION}; BEGIN; {PG_END_SESSIONS}; SET LOCAL lock_timeout = '10s'; "
                       f"{self._schema_check}")
        same = not cursor.fetchone()[0]
        plain = self._baseline is None or self._baseline.plain
        if same and plain and self._superuser:
            cursor.execute(f"{PG_EMPTY_AS_SUPERUSER}; COMMIT")
            return True
        if same and plain:
            pg_empty(cursor)
        elif same:
            same = pg_restore(cursor, self._baseline)  # type: ignore[arg-type]
        cursor.execute("COMMIT" if same else "ROLLBACK")
        return same

    def creator(self, name: str) -> Callable[[], Any]:
        """A DBAPI ``creator`` for a test's first engine: it lends dkenv's own connection first.

        The connection comes back when that engine closes it (dispose, or the database's
        drop); :meth:`recycle` then resets its session (``DISCARD ALL``) and reuses it, so
        no handshake is paid per test.  Later connections of the engine are new ones.
        """
        first = [True]

        def connect() -> Any:
            if first[0]:
                first[0] = False
                conn = self._service(name)
                conn.lent, conn.fresh = True, False
                return conn
            return self._connect(name).thing

        return connect

    def _service(self, name: str, *, reset: bool = True) -> Any:
        """dkenv's own connection to ``name``, its session as new unless not ``reset`` (a
        recycle resets it along with the database); opened once per database."""
        with self._services_lock:
            conn = self._services.pop(name, None)
        if conn is not None and (conn.closed or conn.lent):
            conn.really_close()  # still out with a test that never closed it: never reused
            conn = None
        if conn is None:
            conn = self._connect(name).thing
        elif reset and not conn.fresh:  # a recycle reset it already: no second DISCARD ALL
            _reset_session(conn)
        with self._services_lock:
            self._services[name] = conn
        return conn

    def connection_lost(self, name: str) -> bool | None:
        """Whether the server ended dkenv's own connection to ``name`` (restarted, killed);
        None when there is none to ask.  A look at its socket: no round trip."""
        with self._services_lock:
            conn = self._services.get(name)
        if conn is None:
            return None
        return bool(conn.closed) or hung_up(conn.fileno())

    def disconnect(self, name: str) -> None:
        """Close dkenv's own connection to ``name`` (a snapshot needs a quiet database)."""
        self._close_service(name)

    def _close_service(self, name: str) -> None:
        with self._services_lock:
            conn = self._services.pop(name, None)
            checker = self._checkers.pop(name, None)
        for each in (conn, checker):
            if each is not None:
                try:
                    each.really_close()
                except Exception:  # noqa: BLE001 - a gone server closed it already
                    pass

    def _connect(self, name: str) -> Any:
        """A psycopg2 connection to ``name`` that dkenv can lend (closed by ``with``).

        Commits need no WAL flush on a test database (``synchronous_commit=off``).  A server
        container dkenv started on this machine is reached through its Unix socket
        (:mod:`dkenv.engines.side_door`: no port proxy; roles are the same either way).
        """
        import contextlib

        import psycopg2
        from sqlalchemy.engine import make_url

        from dkenv.engines.side_door import side_door

        url = make_url(self.url(name))
        query = dict(url.query)
        query.setdefault("options", "-c synchronous_commit=off")
        host, port = url.host, url.port
        door = side_door(host, port) if "host" not in query else None
        if door is not None:  # libpq: a folder for a host, the port naming the socket in it
            host, port = os.path.dirname(door), int(door.rsplit(".", 1)[1])
        conn = psycopg2.connect(host=host, port=port, user=url.username, password=url.password,
                                dbname=url.database, connect_timeout=5, connection_factory=_lendable(),
                                **query)
        return contextlib.closing(conn)

    def drop(self, name: str) -> None:
        self._close_service(name)  # our own connection is gone before DROP DATABASE
        force = " WITH (FORCE)" if self.version >= 130000 else ""
        if not force:
            self._execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        self._execute(f"DROP DATABASE IF EXISTS {pg_quote(name)}{force}")

    def url(self, name: str) -> str:
        return url_for(self.admin_url, name)

    def schema_map(self, name: str) -> dict[str, str]:
        return {}  # schemas live inside each database

    def close(self) -> None:
        with self._services_lock:
            names = {*self._services, *self._checkers}
        for name in names:
            self._close_service(name)
        self._admin.dispose()

    def _execute(self, sql: str) -> None:
        with self._admin.connect() as conn:
            conn.exec_driver_sql(sql)

    def _execute_retrying(self, sql: str) -> None:
        """Run ``sql``, retrying while another session is connected to the source database.

        The template refuses connections, but a session that connected before (or a
        superuser's tool) can still be there for a moment; PostgreSQL then refuses the copy.
        """
        from sqlalchemy.exc import DBAPIError

        deadline = time.monotonic() + TEMPLATE_BUSY_TIMEOUT_S
        pause = 0.005
        while True:
            try:
                self._execute(sql)
                return
            except DBAPIError as exc:
                if TEMPLATE_BUSY not in str(exc.orig) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


def _lendable() -> type:
    import psycopg2.extensions

    return lendable(psycopg2.extensions.connection)


def _reset_session(conn: Any) -> None:
    """Make a connection a test had as new: no transaction, temp table, prepared statement,
    lock, LISTEN or setting of the test's survives (``DISCARD ALL``)."""
    conn.rollback()
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute("DISCARD ALL")
    _session_as_new(conn)


def _session_as_new(conn: Any) -> None:
    """psycopg2's own session state back to its defaults, after the server's was reset."""
    conn.autocommit = False
    conn.set_session(isolation_level="DEFAULT", readonly="DEFAULT", deferrable="DEFAULT")
    conn.fresh = True


class PostgresSnapshotBuilder(PostgresBuilder):
    """Copies of a snapshot: a template database that ``dkenv snapshot`` made (no deploy)."""

    def __init__(self, url: str, template: str, kits: Sequence[Datakit] = ()) -> None:
        super().__init__(url, kits)
        self.snapshot_template = template

    def prepare(self) -> None:
        from dkenv.errors import UsageError

        with self._admin.connect() as conn:
            self.version = int(conn.exec_driver_sql("SHOW server_version_num").scalar())
        if not self._exists(self.snapshot_template):
            name = self.snapshot_template.removeprefix("dkenv_snap_")
            raise UsageError(f"no snapshot named {name!r} on this server",
                             "take it first: server.snapshot(db, NAME) or dkenv snapshot NAME --url URL")
        self.template, self.template_reused = self.snapshot_template, True
