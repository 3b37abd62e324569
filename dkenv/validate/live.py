"""The live schema as validation compares it, normalised across engines: tables with their
columns, keys, indexes and CHECKs, and the objects beside them, keyed by folded names.

Each engine's reader (`readers`, `reader_sqlite`, `reader_postgres`, `reader_mysql`) fills these
from the engine's catalog; the comparisons (`columns`, `keys`, `indexes`, ...) read them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from dkenv.engines import rules_for_dialect


@dataclass
class LiveColumn:
    name: str
    type_: str | sa.types.TypeEngine  # as the catalog spells it, or a reflected type object
    families: frozenset[str]  # empty: a type we do not understand, never reported
    nullable: bool
    has_default: bool
    int_width: int | None = None
    length: int | None = None
    enum_labels: frozenset[str] | None = None
    default: str | None = None  # the DEFAULT text as the catalog holds it
    generated: str | None = None  # generation expression ("" when the engine hides it)
    persisted: bool | None = None  # STORED (True) / VIRTUAL (False) generated column
    autoincrement: bool = False  # identity, serial nextval(), AUTO_INCREMENT, rowid alias
    identity: bool = False  # PostgreSQL GENERATED ... AS IDENTITY
    identity_options: dict[str, Any] = field(default_factory=dict)  # always, start, increment
    comment: str | None = None
    precision: int | None = None
    scale: int | None = None
    timezone: bool | None = None  # PostgreSQL timestamptz / timetz
    collation: str | None = None
    type_name: str | None = None  # PostgreSQL: the name of a type that is not built in


@dataclass
class LiveIndex:
    """An index or a unique/primary constraint, as far as comparisons care."""

    name: str | None
    columns: tuple[str | None, ...]  # folded names; None for an expression
    unique: bool
    expressions: tuple[str, ...] = ()  # the expression texts, in order (expression indexes)
    where: str | None = None  # partial-index predicate
    method: str | None = None  # PostgreSQL access method (btree when not given)
    lengths: dict[str, int] = field(default_factory=dict)  # MySQL prefix lengths
    kind: str | None = None  # MySQL FULLTEXT / SPATIAL


@dataclass
class LiveForeignKey:
    name: str | None
    ref_schema: str
    ref_table: str
    pairs: frozenset[tuple[str, str]]
    ondelete: str | None = None
    onupdate: str | None = None
    deferrable: bool | None = None
    initially: str | None = None


@dataclass
class LiveTable:
    columns: dict[str, LiveColumn] = field(default_factory=dict)  # by folded name
    primary_key: frozenset[str] = frozenset()
    pk_name: str | None = None
    foreign_keys: list[LiveForeignKey] = field(default_factory=list)
    indexes: list[LiveIndex] = field(default_factory=list)  # + unique constraints
    checks: list[tuple[str | None, str]] = field(default_factory=list)  # (name, expression)
    comment: str | None = None
    # MySQL engine / collation; PostgreSQL persistence, inherits, partition_by; SQLite
    # with_rowid, strict
    options: dict[str, str] = field(default_factory=dict)
    sql: str | None = None  # SQLite: the CREATE TABLE text


@dataclass
class LiveObjects:
    """Schema objects outside tables, as (folded schema, folded name)."""

    views: set[tuple[str, str]] = field(default_factory=set)
    triggers: set[tuple[str, str]] = field(default_factory=set)
    sequences: set[tuple[str, str]] = field(default_factory=set)
    extensions: set[str] = field(default_factory=set)
    enums: set[tuple[str, str]] = field(default_factory=set)  # PostgreSQL enum types
    # PostgreSQL partitions: (schema, name) -> (parent's schema, parent's name)
    partitions: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    supports: frozenset[str] = frozenset()  # which kinds this engine can report


Catalog = dict[tuple[str, str], LiveTable]  # (folded schema, folded table) -> table


def dialect_family(dialect: sa.engine.Dialect) -> str:
    """The dialect name the engine is known by (``mariadb`` reads as ``mysql``)."""
    return rules_for_dialect(dialect.name).dialect


def fold(dialect: str, name: str) -> str:
    """Compare identifiers as the engine does: case-insensitively on SQLite and MySQL."""
    return rules_for_dialect(dialect).fold(name)
