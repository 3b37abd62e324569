"""The live catalog, normalised across engines, and what every engine's reader shares.

Each engine's reader reads its catalog in a fixed number of queries whatever the table count:
SQLite (`reflect_sqlite`: the table-valued ``pragma_*`` functions over every table at once, plus
``sqlite_master`` for what only the DDL text holds), MySQL/MariaDB (`reflect_mysql`:
``information_schema`` with ``TABLE_SCHEMA IN (...)``), PostgreSQL (`reflect_postgres`:
SQLAlchemy 2's ``Inspector.get_multi_*`` plus two ``pg_catalog`` queries). SQLAlchemy's own
per-table reflection (`reflect_generic`, for other dialects) costs queries per table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dkenv.engines import Engine, rules_for_dialect
from dkenv.type_families import classify

# --------------------------------------------------------------------------------------------
# The live catalog, normalised across engines


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


# --------------------------------------------------------------------------------------------
# The readers, one per engine, registered by the module that holds it (as Alembic's dialect
# implementations register by ``__dialect__``): this module sits below them in the layers.

#: (conn, wanted tables by model schema, folded effective schemas, default schema) ->
#: (catalog, objects, the schemas present or None when the reader cannot tell)
Reader = Callable[
    [Connection, dict[str | None, list[str]], set[str], str],
    tuple["Catalog", "LiveObjects", set[str] | None],
]
_READERS: dict[str, Reader] = {}


def catalog_reader(engine: Engine) -> Callable[[Reader], Reader]:
    """Register the decorated function as ``engine``'s catalog reader."""

    def register(reader: Reader) -> Reader:
        _READERS[engine.dialect] = reader
        return reader

    return register


def reader_for(engine: Engine) -> Reader:
    """The reader registered for ``engine``, else SQLAlchemy's per-table reflection."""
    found = _READERS.get(engine.dialect)
    if found is not None:
        return found

    def generic(conn: Connection, wanted: dict[str | None, list[str]], schemas: set[str],
                default_schema: str) -> tuple[Catalog, LiveObjects, set[str] | None]:
        return (*reflect_generic(conn, wanted, default_schema, engine.dialect), None)

    return generic


def text_of(value: Any) -> Any:
    return value.decode() if isinstance(value, (bytes, bytearray)) else value


def column_from_reflection(col: dict[str, Any]) -> LiveColumn:
    """A LiveColumn from one entry of `Inspector.get_columns` / `get_multi_columns`."""
    type_ = col["type"]
    family, width, length, labels = classify(type_)
    default = col.get("default")
    computed = col.get("computed")
    identity = bool(col.get("identity"))
    return LiveColumn(
        name=col["name"],
        type_=type_,
        families=frozenset({family}) if family else frozenset(),
        nullable=bool(col["nullable"]),
        has_default=bool(default is not None or identity or computed),
        int_width=width,
        length=length,
        enum_labels=labels,
        default=default,
        generated=computed["sqltext"] if computed else None,
        persisted=computed.get("persisted") if computed else None,
        autoincrement=identity or str(default or "").startswith("nextval("),
        identity=identity,
        identity_options=dict(col.get("identity") or {}),
        comment=col.get("comment"),
        precision=getattr(type_, "precision", None) if family == "numeric" else None,
        scale=getattr(type_, "scale", None) if family == "numeric" else None,
        timezone=getattr(type_, "timezone", None) if family in ("datetime", "time") else None,
        collation=col.get("collation") or getattr(type_, "collation", None),
    )


def reflect_generic(
    conn: Connection, wanted: dict[str | None, list[str]], default_schema: str, dialect: str
) -> tuple[Catalog, LiveObjects]:
    """Any other dialect: SQLAlchemy's per-table reflection (query count grows with tables)."""
    catalog: Catalog = defaultdict(LiveTable)
    inspector = sa.inspect(conn)
    for schema, names in wanted.items():
        existing = set(inspector.get_table_names(schema=schema))
        folded_schema = fold(dialect, schema or default_schema)
        for table in names:
            if table not in existing:
                continue
            live = catalog[(folded_schema, fold(dialect, table))]
            for col in inspector.get_columns(table, schema=schema):
                live.columns[fold(dialect, col["name"])] = column_from_reflection(col)
            pk = inspector.get_pk_constraint(table, schema=schema)
            live.primary_key = frozenset(fold(dialect, c) for c in pk["constrained_columns"])
            for fk in inspector.get_foreign_keys(table, schema=schema):
                live.foreign_keys.append(foreign_key_from_reflection(fk, folded_schema, dialect))
            for uc in inspector.get_unique_constraints(table, schema=schema):
                cols = tuple(fold(dialect, c) for c in uc["column_names"])
                live.indexes.append(LiveIndex(uc.get("name"), cols, True))
            for ix in inspector.get_indexes(table, schema=schema):
                live.indexes.append(index_from_reflection(ix, dialect))
    return catalog, LiveObjects()


def foreign_key_from_reflection(
    fk: dict[str, Any], folded_schema: str, dialect: str
) -> LiveForeignKey:
    options = fk.get("options") or {}
    return LiveForeignKey(
        name=fk.get("name"),
        ref_schema=fold(dialect, fk.get("referred_schema") or folded_schema),
        ref_table=fold(dialect, fk["referred_table"]),
        pairs=frozenset(
            (fold(dialect, a), fold(dialect, b))
            for a, b in zip(fk["constrained_columns"], fk["referred_columns"])
        ),
        ondelete=options.get("ondelete"),
        onupdate=options.get("onupdate"),
        deferrable=options.get("deferrable"),
        initially=options.get("initially"),
    )


def index_from_reflection(ix: dict[str, Any], dialect: str) -> LiveIndex:
    options = ix.get("dialect_options") or {}
    expressions = ix.get("expressions") or []
    columns = tuple(fold(dialect, c) if c else None for c in ix["column_names"])
    return LiveIndex(
        name=ix.get("name"),
        columns=columns,
        unique=bool(ix.get("unique")),
        expressions=tuple(
            e for e, c in zip(expressions, columns) if c is None
        ) if expressions else (),
        where=options.get("postgresql_where") or options.get("sqlite_where"),
        method=options.get("postgresql_using"),
    )
