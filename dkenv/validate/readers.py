"""The catalog readers, one per engine, and what every reader shares.

Each engine's reader reads its catalog in a fixed number of queries whatever the table count:
SQLite (`reader_sqlite`: the table-valued ``pragma_*`` functions over every table at once, plus
``sqlite_master`` for what only the DDL text holds), MySQL/MariaDB (`reader_mysql`:
``information_schema`` with ``TABLE_SCHEMA IN (...)``), PostgreSQL (`reader_postgres`:
SQLAlchemy 2's ``Inspector.get_multi_*`` plus two ``pg_catalog`` queries). SQLAlchemy's own
per-table reflection (`reflect_generic`, for other dialects) costs queries per table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dkenv.engines import Engine
from dkenv.validate.live import (
    Catalog,
    LiveColumn,
    LiveForeignKey,
    LiveIndex,
    LiveObjects,
    LiveTable,
    fold,
)
from dkenv.validate.type_families import classify

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
