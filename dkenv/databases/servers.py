"""Building isolated databases on PostgreSQL (template copies) and MySQL/MariaDB (DDL replay).

PostgreSQL copies a database in one statement, so the datakits are deployed once into a
template database and every isolated database is ``CREATE DATABASE x TEMPLATE tpl``.  The
template is named after the hash of the compiled DDL and the server version: a changed datakit
gets a new template, an unchanged one is found again on a reused server and not redeployed.
``STRATEGY FILE_COPY`` is used where the server has it (15+): on dkenv's PostgreSQL 15 image
with the 50-table benchmark datakit it copies in ~55-65 ms against ~135-185 ms for the
default WAL_LOG (see ``benchmarks/handout.py``).

MySQL and MariaDB have no template databases: the DDL is compiled once (with placeholder
schema names) and replayed per database.  A schema ``X`` is a *database* there, so isolated
database ``d`` holds it as database ``d__X`` (see :func:`dkenv.schema.ddl.physical_schema`).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dkenv.config import Target
from dkenv.databases.recycle import (
    PgBaseline,
    mysql_empty,
    mysql_end_sessions,
    mysql_fingerprint,
    pg_baseline,
    pg_empty,
    pg_end_sessions,
    pg_fingerprint,
    pg_restore,
)
from dkenv.datakit import Datakit
from dkenv.engines import describe_db_error
from dkenv.engines.mysql import loopback_args
from dkenv.errors import DeployError
from dkenv.schema import (
    all_tables,
    check_references,
    compile_ddl,
    ddl_key,
    fill_tokens,
    inline_indexes,
    physical_schema,
    schemas_of,
    tokenized,
    user_names,
)

if TYPE_CHECKING:
    import sqlalchemy as sa

#: How long to keep retrying CREATE DATABASE while another session holds the template.
TEMPLATE_BUSY_TIMEOUT_S = 30.0
_BUSY = "is being accessed by other users"


def _admin_engine(url: str) -> sa.Engine:
    """An autocommit engine on the server's own database: CREATE/DROP DATABASE need autocommit."""
    from sqlalchemy import create_engine

    return create_engine(url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=6,
                         pool_pre_ping=False, connect_args={"connect_timeout": 5, **loopback_args(url)})


def _url_for(url: str, database: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=database).render_as_string(hide_password=False)


def _pg_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _my_quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def deploy_into(url: str, engine: str, label: str, kits: Sequence[Any],
                schema_map: Mapping[str, str] | None = None, data: Sequence[Any] = ()) -> None:
    """Deploy ``kits`` in order with dkenv's own deployer (its checks, errors and default probes),
    then load the ``data`` directories into them.

    ``schema_map`` renames schemas (MySQL isolated databases) through ``schema_translate_map``;
    an error names the user's tables, not the renamed ones.
    """
    from dkenv.deploy import deploy_data_objects
    from dkenv.runtime import release

    target = Target(name=label, db_type=engine, kind="url", url=url, description=label,
                    options={"schema_map": dict(schema_map)} if schema_map else {})
    try:
        for kit in kits:
            deploy_data_objects(kit, target)
        if data:
            from dkenv.data import load_data

            load_data(target, data, kits)
    except DeployError as exc:
        if not schema_map:
            raise
        raise DeployError(user_names(exc.message, schema_map) or exc.message,
                          user_names(exc.hint, schema_map)) from None
    finally:
        release(target)  # closes its connections: a template must have none when copied


def data_key(data: Sequence[Any]) -> list[str]:
    """A pseudo-statement that puts the data files' content hash into a template key."""
    if not data:
        return []
    from dkenv.data import content_hash

    return [f"-- data {content_hash(data)}"]


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------
class PostgresBuilder:
    """Template database per datakit set; ``CREATE DATABASE ... TEMPLATE`` per request.

    ``recycle="reset"`` (default): a returned database whose catalog is still the template's
    is emptied and handed out again (see :mod:`dkenv.databases.recycle`); where the template
    holds rows (data files, a snapshot) those tables are kept if no test wrote to them.
    Otherwise, and always with ``recycle="drop"``, it is dropped and a new copy made.
    """

    engine = "postgres"

    def __init__(self, url: str, kits: Sequence[Datakit], *, strategy: str | None = None,
                 recycle: str = "reset", data: Sequence[Any] = ()) -> None:
        if recycle not in ("reset", "drop"):
            raise ValueError(f"recycle must be 'reset' or 'drop', not {recycle!r}")
        self.data = list(data)  # data directories: the template holds their rows
        self.recycle_mode = recycle
        self._template_fingerprint: str | None = None
        self._baseline: PgBaseline | None = None  # the template's rows and sequence positions
        self.admin_url = url
        self.kits = list(kits)
        self.strategy = strategy.upper() if strategy else "FILE_COPY"
        self.template: str | None = None
        self.template_reused = False
        self.version = 0
        self._admin = _admin_engine(url)
        self._create_lock = threading.Lock()  # one CREATE DATABASE from the template at a time

    def prepare(self) -> None:
        tables = all_tables(self.kits)
        check_references(tables, self.kits)
        ddl = compile_ddl(self.kits, self._admin)
        with self._admin.connect() as conn:
            self.version = int(conn.exec_driver_sql("SHOW server_version_num").scalar())
        template = "dkenv_tpl_" + ddl_key(ddl + data_key(self.data), engine="postgres",
                                          server_version=str(self.version))
        if self._exists(template):
            self.template, self.template_reused = template, True
            return
        self._build_template(template)
        self.template = template

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
        self._execute(f"CREATE DATABASE {_pg_quote(building)}")
        try:
            deploy_into(_url_for(self.admin_url, building), "postgres",
                        f"template {template}", self.kits, data=self.data)
            self._execute(f"ALTER DATABASE {_pg_quote(building)} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true")
            try:
                self._execute_retrying(f"ALTER DATABASE {_pg_quote(building)} RENAME TO {_pg_quote(template)}")
            except DBAPIError as exc:
                if "already exists" not in str(exc.orig):
                    raise
                self._drop_template(building)  # another process published it first
        except BaseException:
            self._drop_template(building)
            raise

    def _drop_template(self, name: str) -> None:
        try:
            self._execute(f"ALTER DATABASE {_pg_quote(name)} WITH IS_TEMPLATE false")
        except Exception:  # noqa: BLE001 - it may not be a template (yet), or not exist
            pass
        self.drop(name)

    def create(self, name: str) -> None:
        strategy = f" STRATEGY {self.strategy}" if self.version >= 150000 and self.strategy else ""
        sql = f"CREATE DATABASE {_pg_quote(name)} TEMPLATE {_pg_quote(self.template or '')}{strategy}"
        with self._create_lock:
            self._execute_retrying(sql)
        if self.recycle_mode == "reset" and self._template_fingerprint is None:
            # Copies share the template's catalog, OIDs included: one fingerprint serves all.
            with self._connect(name) as conn, conn.cursor() as cursor:
                self._baseline = pg_baseline(cursor)
                self._template_fingerprint = pg_fingerprint(cursor)

    def recycle(self, name: str) -> bool:
        """Truncate a returned database whose catalog is still the template's; else False."""
        if self.recycle_mode != "reset" or self._template_fingerprint is None:
            return False
        with self._connect(name) as conn:
            with conn.cursor() as cursor:
                pg_end_sessions(cursor)
                cursor.execute("SET lock_timeout = '10s'")  # a session that will not die: drop instead
                if pg_fingerprint(cursor) != self._template_fingerprint:
                    return False
                if self._baseline is None or self._baseline.plain:
                    pg_empty(cursor)
                elif not pg_restore(cursor, self._baseline):
                    return False
            conn.commit()
        return True

    def _connect(self, name: str) -> Any:
        """A plain psycopg2 connection to ``name`` (closed by ``with``; no engine per database)."""
        import contextlib

        import psycopg2
        from sqlalchemy.engine import make_url

        url = make_url(self.url(name))
        conn = psycopg2.connect(host=url.host, port=url.port, user=url.username, password=url.password,
                                dbname=url.database, connect_timeout=5, **dict(url.query))
        return contextlib.closing(conn)

    def drop(self, name: str) -> None:
        force = " WITH (FORCE)" if self.version >= 130000 else ""
        if not force:
            self._execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
        self._execute(f"DROP DATABASE IF EXISTS {_pg_quote(name)}{force}")

    def url(self, name: str) -> str:
        return _url_for(self.admin_url, name)

    def schema_map(self, name: str) -> dict[str, str]:
        return {}  # schemas live inside each database

    def close(self) -> None:
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
                if _BUSY not in str(exc.orig) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


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


# ---------------------------------------------------------------------------
# MySQL / MariaDB
# ---------------------------------------------------------------------------
class MySQLBuilder:
    """DDL compiled once and replayed per database; each schema becomes ``<db>__<schema>``.

    ``recycle="reset"`` (default): a returned database whose schema is unchanged — the same
    tables, columns, indexes, constraints, views, triggers and routines as when it was built,
    compared through ``information_schema`` — is emptied (DELETE, AUTO_INCREMENT back to 1)
    and handed out again: ~60 ms instead of ~300 ms of CREATE TABLE for 50 tables on InnoDB.
    Anything else, and every database with ``recycle="drop"``, is dropped and rebuilt.
    """

    engine = "mysql"

    def __init__(self, url: str, kits: Sequence[Datakit], *, recycle: str = "reset",
                 data: Sequence[Any] = ()) -> None:
        from sqlalchemy.engine import make_url

        if recycle not in ("reset", "drop"):
            raise ValueError(f"recycle must be 'reset' or 'drop', not {recycle!r}")
        self.data = list(data)  # data directories, loaded into every database as it is built
        self.recycle_mode = "drop" if self.data else recycle
        self._fingerprints: dict[str, str] = {}
        self.admin_url = url
        self.admin_database = make_url(url).database or ""
        self.kits = list(kits)
        self.schemas: list[str] = []
        self.ddl: list[str] = []
        self._admin = _admin_engine(url)
        self._deployed_once = False
        self._first_lock = threading.Lock()

    def prepare(self) -> None:
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
                conn.exec_driver_sql(f"CREATE DATABASE {_my_quote(db)}")
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
        except BaseException:
            self.drop(name)
            raise

    def recycle(self, name: str) -> bool:
        """Make a returned database pristine again, if its schema is as built; else False."""
        if self.recycle_mode != "reset" or name not in self._fingerprints:
            return False
        names = self.databases_of(name)
        with self._admin.connect() as conn:
            mysql_end_sessions(conn, names)
            if mysql_fingerprint(conn, names) != self._fingerprints[name]:
                return False
            mysql_empty(conn, names)
        return True

    def _deploy_first(self, name: str) -> None:
        deploy_into(self.url(name), "mysql", f"isolated database {name}", self.kits, self.schema_map(name))

    def _load(self, name: str) -> None:
        """Load the data into a built database (the pool builds ahead, so requests do not wait)."""
        from dkenv.data import load_data
        from dkenv.runtime import release

        target = Target(name=f"isolated database {name}", db_type="mysql", kind="url", url=self.url(name),
                        database=name, options={"schema_map": self.schema_map(name)})
        try:
            load_data(target, self.data, self.kits)
        finally:
            release(target)

    def _replay(self, name: str, names: list[str]) -> None:
        """Run the captured DDL into ``name`` on one pooled admin connection, then give it back clean."""
        statements = fill_tokens(self.ddl, names[1:], _my_quote)
        raw = self._admin.raw_connection()
        healthy = False
        try:
            cursor = raw.cursor()
            cursor.execute(f"USE {_my_quote(name)}")
            for sql in statements:
                try:
                    cursor.execute(sql)  # no parameters: a '%' in a default stays a '%'
                except Exception as exc:  # noqa: BLE001 - reported with the statement
                    first = sql.splitlines()[0][:120]
                    raise DeployError(user_names(
                        f"replaying the datakit DDL into {name} failed at {first!r}: "
                        f"{describe_db_error(exc)}", self.schema_map(name)) or "") from None
            cursor.execute(f"USE {_my_quote(self.admin_database)}")
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
        names = self.databases_of(name)
        with self._admin.connect() as conn:
            mysql_end_sessions(conn, names)
            for db in reversed(names):
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_my_quote(db)}")

    def url(self, name: str) -> str:
        return _url_for(self.admin_url, name)

    def close(self) -> None:
        self._admin.dispose()
