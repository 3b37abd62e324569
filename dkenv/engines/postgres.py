"""PostgreSQL: schemas are schemas; server defaults are taken as written."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

if TYPE_CHECKING:
    from sqlalchemy import Column, Connection

from dkenv.engines.base import DefaultRewrite, Engine


class PostgresEngine(Engine):
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

    def check_literal_default(self, column: Column, value: str) -> DefaultRewrite:
        return DefaultRewrite("'" + value.replace("'", "''") + "'")


POSTGRES = PostgresEngine(
    name="postgres",
    dialects=("postgresql",),
    driver="psycopg2",
    default_image="postgres:16",
    image_env="DKENV_POSTGRES_IMAGE",
    container_port=5432,
    default_user="postgres",
    default_database="dkenv",
    data_dir="/var/lib/postgresql/data",
)


def _text(sql: str):
    from sqlalchemy import text

    return text(sql)
