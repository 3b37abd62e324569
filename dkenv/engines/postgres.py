"""PostgreSQL: schemas are schemas; server defaults are taken as written."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from sqlalchemy import Column, Connection, Table

from dkenv.engines.base import CatalogObject, DefaultRewrite, Engine, answer_select_one

_OBJECTS = """
SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
       WHEN 'f' THEN 'foreign table' ELSE 'table' END, n.nspname, c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {user}
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
UNION ALL
SELECT 'type', n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE (t.typtype IN ('e', 'd', 'r', 'm') OR (t.typtype = 'c' AND NOT EXISTS (
        SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c'))) AND {user}
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')
UNION ALL
SELECT 'function', n.nspname, p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE {user} AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT 'extension', '', extname FROM pg_extension
"""
_USER = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'"


class PostgresEngine(Engine):
    copy_driver = "psycopg2"
    explicit_keys_leave_sequences = True
    error_aborts_transaction = True

    def throwaway_connect_args(self, url: str) -> dict[str, str]:
        if "options=" in url:  # the user's own server options win
            return {}
        return {"options": "-c synchronous_commit=off"}  # commits need no WAL flush

    def defer_foreign_keys(self, conn: Connection, tables: Sequence[Any]) -> Callable[[], None] | None:
        """DEFERRABLE keys wait for COMMIT; others only for a superuser (session_replication_role)."""
        fks = [fk for table in tables for fk in table.foreign_key_constraints]
        if all(fk.deferrable for fk in fks):
            conn.exec_driver_sql("SET CONSTRAINTS ALL DEFERRED")
            return lambda: None
        from sqlalchemy.exc import DBAPIError

        try:
            with conn.begin_nested():
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        except DBAPIError:
            return None
        return lambda: None

    local_env_vars = "PG*"
    drops_schema_contents_first = True
    defaults_as_written = True
    has_double_colon_casts = True
    strict_boolean = True
    has_extensions = True
    named_enum_types = True
    truncates_identifiers_at = 63  # bytes: NAMEDATALEN - 1
    folds_identifiers = False
    has_comments = True
    stores_timezone = True
    reports_autoincrement = True
    has_identity_options = True
    compares_collation = True
    names_primary_key = True
    has_deferrable = True
    has_partial_indexes = True
    has_index_methods = True
    has_extension_types = True
    native_interval = True

    def url(self, *, host=None, port=None, user=None, password=None, database=None) -> str:
        user = user or self.default_user or "postgres"
        auth = quote(user, safe="")
        if password:
            auth += ":" + quote(password, safe="")
        db = quote(database or self.default_database or user, safe="")
        if host and host.startswith("/"):
            query = f"?host={quote(host, safe='/')}" + (f"&port={port}" if port else "")
            return f"postgresql+psycopg2://{auth}@/{db}{query}"
        netloc = host or "localhost"
        if port:
            netloc += f":{port}"
        return f"postgresql+psycopg2://{auth}@{netloc}/{db}"

    def container_environment(self, *, user: str, password: str, database: str) -> dict[str, str]:
        return {"POSTGRES_USER": user, "POSTGRES_PASSWORD": password, "POSTGRES_DB": database}

    def client_environment(self, *, host: str, port: int, user: str, password: str,
                           database: str) -> dict[str, str]:
        return {"PGHOST": host, "PGPORT": str(port), "PGUSER": user, "PGPASSWORD": password,
                "PGDATABASE": database}

    def not_ready_errors(self) -> tuple[type[BaseException], ...]:
        import psycopg2

        return (psycopg2.OperationalError, psycopg2.InterfaceError, OSError)

    def probe_ready(self, host: str, port: int, user: str, password: str, database: str,
                    timeout: float) -> None:
        import math

        import psycopg2

        # libpq rounds connect_timeout to whole seconds, with 2 as its minimum.
        conn = psycopg2.connect(host=host, port=port, user=user, password=password, dbname=database,
                                connect_timeout=max(2, math.ceil(timeout)))
        answer_select_one(conn)

    def schema_exists(self, conn: Connection, schema: str) -> bool:
        row = conn.execute(
            _text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema}
        ).first()
        return row is not None

    def create_schema(self, conn: Connection, schema: str) -> None:
        quoted = conn.dialect.identifier_preparer.quote_identifier(schema)
        conn.execute(_text(f"CREATE SCHEMA IF NOT EXISTS {quoted}"))

    def drop_schema(self, conn: Connection, schema: str) -> None:
        quoted = conn.dialect.identifier_preparer.quote_identifier(schema)
        conn.execute(_text(f"DROP SCHEMA IF EXISTS {quoted} CASCADE"))

    def rewrite_server_default(self, column: Column, sql: str) -> DefaultRewrite:
        return DefaultRewrite(sql)

    def user_objects(self, conn: Connection, schemas: Sequence[str | None]) -> set[CatalogObject]:
        """Relations, types, routines and extensions outside the system schemas (not members
        of an extension)."""
        return {tuple(r) for r in conn.exec_driver_sql(_OBJECTS.format(user=_USER))}

    def drop_object_sql(self, prep: Any, kind: str, schema: str, name: str) -> str | None:
        if kind == "extension":
            return f"DROP EXTENSION IF EXISTS {prep.quote_identifier(name)} CASCADE"
        if kind == "function":  # name is the signature: schema-qualified unless on search_path
            qualified = name if "." in name.split("(")[0] else f"{prep.quote_identifier(schema)}.{name}"
            return f"DROP ROUTINE IF EXISTS {qualified} CASCADE"
        return (f"DROP {kind.upper()} IF EXISTS {prep.quote_identifier(schema)}."
                f"{prep.quote_identifier(name)} CASCADE")

    def end_sessions(self, conn: Connection, database: str) -> None:
        """Sessions a migration's env.py may have left (DROP DATABASE ... FORCE needs 13+)."""
        conn.exec_driver_sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             f"WHERE datname = '{database}' AND pid <> pg_backend_pid()")

    def enum_conflicts(self, conn: Connection, tables: Iterable[Table]) -> list[str]:
        """One line per named enum that already exists in the database with other labels.

        SQLAlchemy creates an enum type only when it is missing (``checkfirst``), so a type
        left by someone else is silently reused and the first INSERT of a new label fails
        later. Asked before deploying: ``table.column``, both label sets and the fix.
        A schema-less enum is looked up where ``create_all`` creates it: the current schema.
        """
        from sqlalchemy import Enum
        from sqlalchemy import text as sql_text

        wanted: dict[tuple[str | None, str], tuple[str, tuple[str, ...]]] = {}
        for table in tables:
            for column in table.columns:
                type_ = column.type
                if isinstance(type_, Enum) and type_.native_enum and type_.name:
                    key = (type_.schema, type_.name)
                    wanted.setdefault(key, (f"{table.fullname}.{column.name}", tuple(type_.enums)))
        if not wanted:
            return []
        default_schema = conn.execute(sql_text("SELECT current_schema()")).scalar()
        rows = conn.execute(sql_text(
            "SELECT n.nspname, t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) "
            "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
            "JOIN pg_enum e ON e.enumtypid = t.oid WHERE t.typname = ANY(:names) GROUP BY 1, 2"
        ), {"names": sorted({name for _, name in wanted})}).all()
        existing = {(schema, name): tuple(labels) for schema, name, labels in rows}
        lines = []
        for (schema, name), (where, labels) in sorted(wanted.items(), key=lambda kv: str(kv[0])):
            qualified = (schema or default_schema, name)
            found = existing.get(qualified)
            if found is not None and found != labels:
                lines.append(
                    f"enum type {'.'.join(qualified)} already exists with labels "
                    f"({', '.join(found)}), but {where} declares ({', '.join(labels)}): give the "
                    f"enum another name (sa.Enum(..., name=\"{name}_v2\")) or drop the old type"
                )
        return lines

    def check_literal_default(self, column: Column, value: str) -> DefaultRewrite:
        return DefaultRewrite("'" + value.replace("'", "''") + "'")


POSTGRES = PostgresEngine(
    name="postgres",
    dialects=("postgresql",),
    label="PostgreSQL",
    driver="psycopg2",
    async_drivers=("asyncpg", "psycopg"),
    default_image="postgres:16",
    image_env="DKENV_POSTGRES_IMAGE",
    container_port=5432,
    default_user="postgres",
    default_database="dkenv",
    data_dir="/var/lib/postgresql/data",
    socket_dir="/var/run/postgresql",  # the official image's and dkenv's
    socket_file=".s.PGSQL.5432",
)


def _text(sql: str):
    from sqlalchemy import text

    return text(sql)
