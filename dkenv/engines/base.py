"""The engine seam: one small object per database engine."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Column, Connection

# Server defaults that mean "the current timestamp" in PostgreSQL spellings, with an
# optional cast.  They are rewritten to CURRENT_TIMESTAMP on engines that do not speak them.
_NOW = re.compile(
    r"""^\(?\s*(
        now\(\) | current_timestamp(\(\s*\d*\s*\))? | localtimestamp(\(\))? |
        transaction_timestamp\(\) | statement_timestamp\(\) | clock_timestamp\(\) |
        timezone\(\s*'utc'\s*,\s*now\(\)\s*\) | now\(\)\s+at\s+time\s+zone\s+'utc' |
        \(now\(\)\s+at\s+time\s+zone\s+'utc'\) | utc_timestamp(\(\))? | sysdate\(\)
    )\s*\)?\s*(::\s*[a-z ]+(\(\d+\))?(\s+with(out)?\s+time\s+zone)?)?$""",
    re.IGNORECASE | re.VERBOSE,
)
_TODAY = re.compile(r"^\(?\s*(current_date|curdate\(\)|now\(\)\s*::\s*date)\s*\)?$", re.IGNORECASE)
_CAST_LITERAL = re.compile(r"^\(?\s*('(?:[^']|'')*')\s*\)?\s*::\s*[\w .\[\]\"]+$")
_PG_ONLY_FUNCS = re.compile(
    r"\b(gen_random_uuid|uuid_generate_v[1-5]|nextval|txid_current|pg_\w+)\s*\(", re.IGNORECASE
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
    driver: str = ""
    default_image: str | None = None
    image_env: str | None = None
    container_port: int | None = None
    default_user: str | None = None
    default_database: str | None = None
    data_dir: str | None = None
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
        """Carry a textual server default to this engine (identity on PostgreSQL)."""
        text = sql.strip()
        if _NOW.match(text):
            return DefaultRewrite(self.current_timestamp_default(column))
        if _TODAY.match(text):
            return DefaultRewrite(self.current_date_default(column))
        cast = _CAST_LITERAL.match(text)
        if cast:
            return DefaultRewrite(cast.group(1))
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

    def current_timestamp_default(self, column: Column) -> str:
        return "CURRENT_TIMESTAMP"

    def current_date_default(self, column: Column) -> str:
        return "CURRENT_DATE"
