"""SQLite: a schema is an ATTACHed database (in memory, or a file beside the main one).

Attached databases are per connection, so the target runtime attaches them on every new
connection (see :mod:`dkenv.servers.runtime`); this module only knows names and file paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from sqlalchemy import Connection

from dkenv.engines.base import CatalogObject, Engine


def schema_file(main_db: str | Path, schema: str) -> Path:
    """Where schema ``schema`` of file database ``main_db`` lives: ``<stem>.<schema>.db`` beside it."""
    main = Path(main_db)
    return main.with_name(f"{main.stem}.{schema}.db")


class SQLiteEngine(Engine):
    def defer_foreign_keys(self, conn: Connection, tables: Sequence[Any]) -> Callable[[], None] | None:
        conn.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        return lambda: None

    views_checked_lazily = True
    embedded = True
    attaches_schemas = True
    needs_explicit_begin = True
    dynamic_typing = True
    resolves_default_functions_late = True
    enforces_enum_labels = False
    max_schemas = 10
    checks_fk_target_at_create = False
    jsonb_as_json = True
    exact_numeric = False
    foreign_keys_off = "PRAGMA foreign_keys=OFF"
    foreign_keys_on = "PRAGMA foreign_keys=ON"
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

    def user_objects(self, conn: Connection, schemas: Sequence[str | None]) -> set[CatalogObject]:
        """Tables, views and triggers of every attached database but ``temp``."""
        found: set[CatalogObject] = set()
        for (schema,) in [(r[1],) for r in conn.exec_driver_sql("PRAGMA database_list")]:
            if schema == "temp":
                continue
            rows = conn.exec_driver_sql(
                f"SELECT type, name FROM {_quote(schema)}.sqlite_master "
                "WHERE type IN ('table', 'view', 'trigger') AND substr(name, 1, 7) <> 'sqlite_'")
            found.update((kind, schema, n) for kind, n in rows)
        return found

    def drop_object_sql(self, prep: Any, kind: str, schema: str, name: str) -> str | None:
        return f"DROP {kind.upper()} IF EXISTS {_quote(schema)}.{_quote(name)}"

    def create_schema(self, conn: Connection, schema: str) -> None:  # pragma: no cover - runtime
        raise NotImplementedError("SQLite schemas are attached by the target runtime")

    def drop_schema(self, conn: Connection, schema: str) -> None:  # pragma: no cover - runtime
        raise NotImplementedError("SQLite schemas are detached by the target runtime")


SQLITE = SQLiteEngine(name="sqlite", dialects=("sqlite",), label="SQLite", driver="pysqlite",
                      async_drivers=("aiosqlite",))


def _text(sql: str):
    from sqlalchemy import text

    return text(sql)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
