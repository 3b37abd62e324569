"""SQLite: a schema is an ATTACHed database (in memory, or a file beside the main one).

Attached databases are per connection, so the target runtime attaches them on every new
connection (see :mod:`dkenv.runtime`); this module only knows names and file paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Connection

from dkenv.engines.base import Engine


def schema_file(main_db: str | Path, schema: str) -> Path:
    """Where schema ``schema`` of file database ``main_db`` lives: ``<stem>.<schema>.db`` beside it."""
    main = Path(main_db)
    return main.with_name(f"{main.stem}.{schema}.db")


class SQLiteEngine(Engine):
    catalog_default_schema = "main"
    compares_integer_width = False
    compares_string_length = False
    generates_rowid_alias_only = True
    reports_autoincrement = True
    names_foreign_keys = False
    cross_schema_foreign_keys = False
    has_deferrable = True
    has_partial_indexes = True
    json_as_text = True
    boolean_as_integer = True

    def url(self, *, host=None, port=None, user=None, password=None, database=None) -> str:
        if not database or database == ":memory:":
            return "sqlite://"
        return f"sqlite:///{database}"

    def container_environment(self, *, user: str, password: str, database: str) -> dict[str, str]:
        return {}

    def schema_exists(self, conn: Connection, schema: str) -> bool:
        rows = conn.execute(_text("PRAGMA database_list")).fetchall()
        return any(row[1] == schema for row in rows)

    def create_schema(self, conn: Connection, schema: str) -> None:  # pragma: no cover - runtime
        raise NotImplementedError("SQLite schemas are attached by the target runtime")

    def drop_schema(self, conn: Connection, schema: str) -> None:  # pragma: no cover - runtime
        raise NotImplementedError("SQLite schemas are detached by the target runtime")


SQLITE = SQLiteEngine(name="sqlite", dialects=("sqlite",), label="SQLite", driver="pysqlite",
                      async_drivers=("aiosqlite",))


def _text(sql: str):
    from sqlalchemy import text

    return text(sql)
