"""The engine seam: one small object per database engine."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dkenv.engines.defaults import classify

if TYPE_CHECKING:
    from sqlalchemy import Column, Connection

_PG_ONLY_FUNCS = re.compile(
    r"\b(gen_random_uuid|uuid_generate_v[1-5]|nextval|txid_current|pg_\w+)\s*\(", re.IGNORECASE
)

#: The fix for PostgreSQL's infinite timestamps on engines without them.
INFINITY_FIX = (
    "use NULL for 'no end' (server_default=None, nullable) or a far-future literal such as "
    "server_default='9999-12-31 23:59:59'"
)


@dataclass(frozen=True)
class DefaultRewrite:
    """A server default carried to another engine, or why it cannot be."""

    sql: str | None
    error: str | None = None
    fix: str | None = None


@dataclass(frozen=True)
class Engine:
    """What dkenv needs to know about one database engine."""

    name: str
    dialects: tuple[str, ...]
    #: How messages name the engine.
    label: str = ""
    driver: str = ""
    #: SQLAlchemy async drivers for this engine, in order of preference; each is also the
    #: name of the module to import and of the PyPI package that provides it.
    async_drivers: tuple[str, ...] = ()
    default_image: str | None = None
    image_env: str | None = None
    container_port: int | None = None
    default_user: str | None = None
    default_database: str | None = None
    data_dir: str | None = None
    #: Whether a database can become a named template that isolated databases are copied from
    #: (PostgreSQL's template databases, SQLite's files; MySQL has no such thing).
    snapshots: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    # -- URLs ---------------------------------------------------------------
    def url(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
    ) -> str:
        """A SQLAlchemy URL string; a ``host`` starting with ``/`` is a Unix socket directory/path."""
        raise NotImplementedError

    def container_environment(self, *, user: str, password: str, database: str) -> dict[str, str]:
        """Environment for the official image (and dkenv's own images, which honour it)."""
        raise NotImplementedError

    # -- schemas ------------------------------------------------------------
    def schema_exists(self, conn: Connection, schema: str) -> bool:
        raise NotImplementedError

    def create_schema(self, conn: Connection, schema: str) -> None:
        raise NotImplementedError

    def drop_schema(self, conn: Connection, schema: str) -> None:
        raise NotImplementedError

    # -- defaults -----------------------------------------------------------
    def rewrite_server_default(self, column: Column, sql: str) -> DefaultRewrite:
        """Carry a textual server default to this engine (identity on PostgreSQL).

        The current time or date in any PostgreSQL spelling (``now()``, ``('now'::text)::date``,
        ``now()::date``, ``'now'::timestamp``) becomes this engine's CURRENT_TIMESTAMP /
        CURRENT_DATE / CURRENT_TIME; a constant under casts (``'G'::mpaa_rating``) loses the
        casts; PostgreSQL-only functions and ``'infinity'`` are errors with the portable fix.
        """
        text = sql.strip()
        kind, literal = classify(text, column)
        if kind == "timestamp":
            return DefaultRewrite(self.current_timestamp_default(column))
        if kind == "date":
            return DefaultRewrite(self.current_date_default(column))
        if kind == "time":
            return DefaultRewrite(self.current_time_default(column))
        if kind == "infinity":
            return self.infinity_default(column, literal or text)
        if kind == "literal":
            return DefaultRewrite(literal)
        func = _PG_ONLY_FUNCS.search(text)
        if func:
            name = func.group(1)
            fix = (
                "default_factory=uuid.uuid4 (set client-side, works on every engine)"
                if "uuid" in name.lower()
                else "an autoincrement primary key or a client-side default_factory"
            )
            return DefaultRewrite(
                None,
                error=f"server default {text!r} is PostgreSQL-only and does not exist on {self.name}",
                fix=f"use {fix}",
            )
        return DefaultRewrite(text)

    def check_literal_default(self, column: Column, value: str) -> DefaultRewrite:
        """A plain string ``server_default`` (SQLAlchemy quotes it): valid here, or why not.

        Only ``'infinity'`` on a date/time column is refused today (MySQL/MariaDB reject it
        with error 1067); every other string is carried as written.
        """
        from dkenv.engines.defaults import is_infinity

        quoted = "'" + value.replace("'", "''") + "'"
        if is_infinity(value) and classify(quoted, column)[0] == "infinity":
            return self.infinity_default(column, quoted)
        return DefaultRewrite(quoted)

    def infinity_default(self, column: Column, literal: str) -> DefaultRewrite:
        """PostgreSQL's infinite timestamp: carried as the string (SQLite keeps any text)."""
        return DefaultRewrite(literal)

    def current_time_default(self, column: Column) -> str:
        return "CURRENT_TIME"

    def current_timestamp_default(self, column: Column) -> str:
        return "CURRENT_TIMESTAMP"

    def current_date_default(self, column: Column) -> str:
        return "CURRENT_DATE"
