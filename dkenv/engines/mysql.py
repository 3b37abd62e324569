"""MySQL (and MariaDB): a schema is a database on the same server."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlalchemy import Column, Connection

from dkenv.engines.base import (
    INFINITY_FIX,
    CatalogObject,
    DefaultRewrite,
    Engine,
    answer_select_one,
)

_OBJECTS = """
SELECT CASE TABLE_TYPE WHEN 'VIEW' THEN 'view' WHEN 'SEQUENCE' THEN 'sequence' ELSE 'table' END,
       TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ({schemas})
UNION ALL
SELECT LOWER(ROUTINE_TYPE), ROUTINE_SCHEMA, ROUTINE_NAME FROM information_schema.ROUTINES
 WHERE ROUTINE_SCHEMA IN ({schemas})
UNION ALL
SELECT 'trigger', TRIGGER_SCHEMA, TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN ({schemas})
"""


class MySQLEngine(Engine):
    default_schema_is_database = True
    has_sql_modes = True
    #: A reset takes ~2 ms (PyMySQL, the session's reset, then the emptying), as long as a short
    #: test: four in circulation let three reset side by side while one is out (~6% faster per
    #: test than two in benchmarks/test_loop.py; PostgreSQL's one-round-trip reset is best at two).
    ready_databases = 4
    fills_before_first_hand_out = True

    def defer_foreign_keys(self, conn: Connection, tables: Sequence[Any]) -> Callable[[], None] | None:
        """MySQL cannot defer: checks are off for the session until the load is done."""
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
        return lambda: None if conn.invalidated else conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")

    indexes_foreign_keys = True
    json_check_function = "json_valid"
    local_env_vars = "MYSQL_*"
    offline_sequences = True
    rejects_text_literal_default = True
    enum_labels_fold_case = True
    rejects_identifiers_over = 64
    generated_fk_name = "{table}_ibfk_{number}"
    max_index_key_bytes = 3072
    fk_needs_same_integer_type = True
    max_row_bytes = 65535
    rejects_uuid_type = True
    bare_numeric_is_integer = True
    keeps_fractional_seconds = False
    foreign_keys_off = "SET FOREIGN_KEY_CHECKS=0"
    foreign_keys_on = "SET FOREIGN_KEY_CHECKS=1"
    has_comments = True
    reports_autoincrement = True
    compares_charset = True
    compares_collation = True
    fixed_primary_key_name = "PRIMARY"
    has_index_prefixes = True
    tinyint_is_boolean = True
    json_as_text = True

    def enforced_fk_rule(self, rule: str) -> str:
        """MySQL treats RESTRICT as NO ACTION (both checked at once)."""
        return "NO ACTION" if rule == "RESTRICT" else rule

    def url(self, *, host=None, port=None, user=None, password=None, database=None) -> str:
        user = user or self.default_user or "root"
        auth = quote(user, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        db = quote(database or self.default_database or "", safe="")
        if host and host.startswith("/"):
            return f"mysql+pymysql://{auth}@/{db}?unix_socket={quote(host, safe='/')}&charset=utf8mb4"
        netloc = host or "127.0.0.1"
        if port:
            netloc += f":{port}"
        return f"mysql+pymysql://{auth}@{netloc}/{db}?charset=utf8mb4"

    def container_environment(self, *, user: str, password: str, database: str) -> dict[str, str]:
        env = {"MYSQL_ROOT_PASSWORD": password, "MYSQL_DATABASE": database}
        if user != "root":
            env.update({"MYSQL_USER": user, "MYSQL_PASSWORD": password})
        return env

    def client_environment(self, *, host: str, port: int, user: str, password: str,
                           database: str) -> dict[str, str]:
        return {"MYSQL_HOST": host, "MYSQL_PORT": str(port), "MYSQL_USER": user,
                "MYSQL_PASSWORD": password, "MYSQL_DATABASE": database}

    def not_ready_errors(self) -> tuple[type[BaseException], ...]:
        import pymysql

        return (pymysql.err.OperationalError, pymysql.err.InterfaceError, OSError, EOFError)

    def probe_ready(self, host: str, port: int, user: str, password: str, database: str,
                    timeout: float) -> None:
        import pymysql

        # ssl_disabled: PyMySQL >= 1.2 otherwise builds an SSL context per attempt (~30 ms).
        conn = pymysql.connect(host=host, port=port, user=user, password=password, database=database,
                               ssl_disabled=True,
                               connect_timeout=timeout, read_timeout=timeout, write_timeout=timeout)
        answer_select_one(conn)

    def schema_exists(self, conn: Connection, schema: str) -> bool:
        row = conn.execute(
            _text("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = :s"), {"s": schema}
        ).first()
        return row is not None

    def create_schema(self, conn: Connection, schema: str) -> None:
        quoted = conn.dialect.identifier_preparer.quote_identifier(schema)
        conn.execute(_text(f"CREATE DATABASE IF NOT EXISTS {quoted}"))

    def drop_schema(self, conn: Connection, schema: str) -> None:
        quoted = conn.dialect.identifier_preparer.quote_identifier(schema)
        conn.execute(_text(f"DROP DATABASE IF EXISTS {quoted}"))

    def user_objects(self, conn: Connection, schemas: Sequence[str | None]) -> set[CatalogObject]:
        """Tables, views, sequences, routines and triggers in ``schemas`` and the current one."""
        current = conn.exec_driver_sql("SELECT DATABASE()").scalar()
        names = sorted({s for s in (current, *schemas) if s})
        if not names:
            return set()
        quoted = ", ".join("'" + s.replace("'", "''") + "'" for s in names)
        return {tuple(r) for r in conn.exec_driver_sql(_OBJECTS.format(schemas=quoted))}

    def drop_object_sql(self, prep: Any, kind: str, schema: str, name: str) -> str | None:
        return f"DROP {kind.upper()} IF EXISTS {prep.quote_identifier(schema)}.{prep.quote_identifier(name)}"

    def current_timestamp_default(self, column: Column) -> str:
        # MySQL takes a bare CURRENT_TIMESTAMP only on DATETIME/TIMESTAMP columns;
        # anything else needs an expression default (MySQL 8.0.13+, MariaDB 10.2+).
        from sqlalchemy import DateTime

        if isinstance(column.type, DateTime):
            return "CURRENT_TIMESTAMP"
        return "(CURRENT_TIMESTAMP)"

    def current_date_default(self, column: Column) -> str:
        return "(CURRENT_DATE)"

    def current_time_default(self, column: Column) -> str:
        return "(CURRENT_TIME)"

    def infinity_default(self, column: Column, literal: str) -> DefaultRewrite:
        """MySQL and MariaDB have no infinite timestamps: DEFAULT 'infinity' is error 1067."""
        return DefaultRewrite(
            None,
            error=(f"server default {literal} (PostgreSQL's infinite timestamp) is not a valid "
                   "DATETIME on MySQL/MariaDB (error 1067: Invalid default value)"),
            fix=INFINITY_FIX,
        )


MYSQL = MySQLEngine(
    name="mysql",
    dialects=("mysql", "mariadb"),
    label="MySQL/MariaDB",
    short_label="MySQL",
    snapshots=False,
    driver="pymysql",
    async_drivers=("aiomysql", "asyncmy"),
    default_image="mysql:8.0",
    image_env="DKENV_MYSQL_IMAGE",
    container_port=3306,
    default_user="root",
    default_database="dkenv",
    data_dir="/var/lib/mysql",
    socket_dir="/var/run/mysqld",  # MariaDB's and the official mysql:8 image's
    socket_file="mysqld.sock",
)


def _text(sql: str):
    from sqlalchemy import text

    return text(sql)


def loopback_args(url: str, *, side_door: bool = False) -> dict[str, Any]:
    """Driver arguments that make loopback connections cheaper (none for remote servers).

    PyMySQL 1.1+ builds a default TLS context — loading the system's CA bundle, ~25 ms — for
    every connection unless TLS is disabled; on 127.0.0.1 or a Unix socket TLS protects
    nothing, and that was half of a MySQL hand-out's time.

    ``side_door``: reach a server container dkenv started on this machine through its Unix
    socket (:mod:`dkenv.engines.side_door`).  Only for the test databases' own connections:
    the server takes a socket's root for ``root@localhost``, not ``root@'%'``, and names that
    account as the definer of the views and routines a session creates, so deploys and what
    users connect to keep the port (a deploy is what ``create_all`` over that port builds).
    """
    from sqlalchemy.engine import make_url

    from dkenv.engines import side_door as doors

    parsed = make_url(url)
    if parsed.get_backend_name() not in ("mysql", "mariadb") or parsed.get_driver_name() != "pymysql":
        return {}
    if any(key.startswith("ssl") for key in parsed.query):
        return {}
    if "unix_socket" in parsed.query:
        return {"ssl_disabled": True}
    if parsed.host in (None, "", "127.0.0.1", "localhost", "::1"):
        door = doors.side_door(parsed.host, parsed.port) if side_door else None  # past the port's proxy
        return {"ssl_disabled": True, **({"unix_socket": door} if door else {})}
    return {}
