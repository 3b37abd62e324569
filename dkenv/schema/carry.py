"""Server defaults carried to an engine by a compile hook, not by copying tables.

``now()`` written for PostgreSQL becomes ``CURRENT_TIMESTAMP`` on SQLite and MySQL, a cast
literal ``'G'::mpaa_rating`` becomes ``'G'``.  dkenv used to copy every table
(``Table.to_metadata``) and replace the copies' defaults; that dropped DDL events, naming
conventions and table prefixes, moved enums, and dominated deploy time.  Instead, a
``@compiles(CreateColumn)`` hook renders the carried default while a CREATE TABLE is compiled,
and only inside :func:`carrying` (a context variable, so per thread and per task): a user's
own ``create_all`` outside dkenv is never touched, and the user's ``Column`` objects are
never modified.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateColumn

if TYPE_CHECKING:
    import sqlalchemy as sa

    from dkenv.engines.base import Engine

#: Sequence calls: never probed (``nextval`` is not rolled back), kept on engines with sequences.
SEQUENCE_CALL = re.compile(r"\b(nextval|currval|setval)\s*\(|\bnext\s+value\s+for\b", re.IGNORECASE)


@dataclass
class Carry:
    """The engine defaults are carried to during one compile or deploy, and what failed."""

    spec: Engine
    sequences: bool | None = None  # the engine has sequences (None: ask the dialect)
    errors: dict[str, str] = field(default_factory=dict)  # "table.column" -> why, with the fix


_ACTIVE: ContextVar[Carry | None] = ContextVar("dkenv_carry", default=None)


@contextmanager
def carrying(spec: Engine, *, sequences: bool | None = None) -> Iterator[Carry]:
    """Within the block, CREATE TABLE compiles with server defaults carried to ``spec``'s engine."""
    carry = Carry(spec, sequences)
    token = _ACTIVE.set(carry)
    try:
        yield carry
    finally:
        _ACTIVE.reset(token)


def sql_of_default(default: Any, dialect: Any) -> str | None:
    """The SQL of a server default as ``dialect`` writes it; None for a plain literal value."""
    from sqlalchemy.sql.elements import ClauseElement

    arg = getattr(default, "arg", None)
    if isinstance(arg, str):
        return None  # a literal string value, quoted by SQLAlchemy: portable
    if isinstance(arg, ClauseElement):
        return str(arg.compile(dialect=dialect))
    return None


def carried_default(column: sa.Column, dialect: Any, spec: Engine,
                    sequences: bool | None = None) -> tuple[str | None, str | None]:
    """``(sql, error)``: the column's server default as ``spec``'s engine takes it.

    ``sql`` is None when the default needs no carrying (a literal, or already right);
    ``error`` says why it cannot be carried, with the fix.
    """
    sql = sql_of_default(column.server_default, dialect) if column.server_default is not None else None
    if sql is None:
        return None, None
    if sequences is None:
        sequences = bool(getattr(dialect, "supports_sequences", False))
    if SEQUENCE_CALL.search(sql) and sequences:
        return None, None  # MariaDB 10.3+ and PostgreSQL have sequences: taken as written
    rewrite = spec.rewrite_server_default(column, sql)
    if rewrite.error:
        return None, f"{rewrite.error}; {rewrite.fix}" if rewrite.fix else rewrite.error
    if rewrite.sql is None or rewrite.sql == sql:
        return None, None
    return rewrite.sql, None


def default_sql(column: sa.Column, dialect: Any, spec: Engine) -> str | None:
    """The default SQL the engine holds for ``column`` after carrying (None: a literal or none)."""
    if column.server_default is None:
        return None
    carried, _error = carried_default(column, dialect, spec)
    return carried or sql_of_default(column.server_default, dialect)


@compiles(CreateColumn)
def _create_column(element: CreateColumn, compiler: Any, **kw: Any) -> Any:
    carry = _ACTIVE.get()
    column = element.element
    if carry is None or column.server_default is None:
        return compiler.visit_create_column(element, **kw)
    sql, error = carried_default(column, compiler.dialect, carry.spec, carry.sequences)
    if error:
        table = column.table.fullname if column.table is not None else "?"
        carry.errors.setdefault(f"{table}.{column.name}", error)
    if sql is None:
        return compiler.visit_create_column(element, **kw)
    original = compiler.get_column_default_string

    def carried(col: Any) -> Any:
        return sql if col is column else original(col)

    compiler.get_column_default_string = carried  # this compiler object lives for one statement
    try:
        return compiler.visit_create_column(element, **kw)
    finally:
        del compiler.get_column_default_string


__all__ = ["SEQUENCE_CALL", "Carry", "carried_default", "carrying", "default_sql", "sql_of_default"]
