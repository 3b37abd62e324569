"""Reading a live catalog in a fixed number of queries, normalised across engines.

SQLite: the table-valued ``pragma_*`` functions over every table at once; MySQL/MariaDB:
``information_schema`` with ``TABLE_SCHEMA IN (...)``; PostgreSQL: SQLAlchemy 2's
``Inspector.get_multi_*``.  SQLAlchemy's own per-table reflection would cost one query (or ten
PRAGMAs) per table per property.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dkenv.type_families import classify, classify_text

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


@dataclass
class LiveTable:
    columns: dict[str, LiveColumn] = field(default_factory=dict)  # by folded name
    primary_key: frozenset[str] = frozenset()
    # (folded referred schema, folded referred table, frozenset of (local, remote) column pairs)
    foreign_keys: set[tuple[str, str, frozenset[tuple[str, str]]]] = field(default_factory=set)
    unique_sets: set[frozenset[str]] = field(default_factory=set)  # constraints + unique indexes
    index_sets: set[frozenset[str]] = field(default_factory=set)  # every index


Catalog = dict[tuple[str, str], LiveTable]  # (folded schema, folded table) -> table



# --------------------------------------------------------------------------------------------
# Reading the catalog, one bulk query per property


def dialect_family(dialect: sa.engine.Dialect) -> str:
    return "mysql" if dialect.name in ("mysql", "mariadb") else dialect.name


def fold(dialect: str, name: str) -> str:
    """Compare identifiers as the engine does: case-insensitively on SQLite and MySQL."""
    return name if dialect == "postgresql" else name.lower()


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, (bytes, bytearray)) else value


def reflect_sqlite(conn: Connection, schemas: set[str]) -> tuple[Catalog, set[str]]:
    attached = {row[1].lower() for row in conn.exec_driver_sql("PRAGMA database_list")}
    present = sorted(s for s in schemas if s in attached)
    catalog: Catalog = defaultdict(LiveTable)
    if not present:
        return catalog, set(attached)
    quote = conn.dialect.identifier_preparer.quote_identifier
    params = {f"s{i}": schema for i, schema in enumerate(present)}

    def union(select: str) -> sa.TextClause:
        parts = [select.format(p=f":s{i}", q=quote(s)) for i, s in enumerate(present)]
        return sa.text(" UNION ALL ".join(parts))

    columns = conn.execute(
        union(
            'SELECT {p}, m.name, p.name, p.type, p."notnull", p.dflt_value, p.pk'
            " FROM {q}.sqlite_master AS m JOIN pragma_table_info(m.name, {p}) AS p"
            " WHERE m.type = 'table'"
        ),
        params,
    ).all()
    indexes = conn.execute(
        union(
            'SELECT {p}, m.name, il.name, il."unique", ii.name'
            " FROM {q}.sqlite_master AS m JOIN pragma_index_list(m.name, {p}) AS il"
            " JOIN pragma_index_info(il.name, {p}) AS ii WHERE m.type = 'table'"
        ),
        params,
    ).all()
    fks = conn.execute(
        union(
            'SELECT {p}, m.name, f.id, f."table", f."from", f."to"'
            " FROM {q}.sqlite_master AS m JOIN pragma_foreign_key_list(m.name, {p}) AS f"
            " WHERE m.type = 'table'"
        ),
        params,
    ).all()

    pks: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for schema, table, name, declared, notnull, default, pk in columns:
        key = (schema, table.lower())
        families, width, length = classify_text(declared or "", "sqlite")
        rowid = bool(pk) and (declared or "").strip().upper() == "INTEGER"
        catalog[key].columns[name.lower()] = LiveColumn(
            name=name,
            type_=declared or "(none)",
            families=families,
            nullable=not notnull and not pk,
            has_default=default is not None or rowid,
            int_width=width,
            length=length,
        )
        if pk:
            pks[key].append((pk, name.lower()))
    for key, cols in pks.items():
        catalog[key].primary_key = frozenset(name for _, name in cols)
    grouped: dict[tuple[str, str, str], tuple[bool, list[str | None]]] = {}
    for schema, table, index, unique, column in indexes:
        entry = grouped.setdefault((schema, table.lower(), index), (bool(unique), []))
        entry[1].append(column.lower() if column else None)
    for (schema, table, _), (unique, cols) in grouped.items():
        _add_index(catalog[(schema, table)], cols, unique)
    fk_pairs: dict[tuple[str, str, int], tuple[str, list[tuple[str, str | None]]]] = {}
    for schema, table, fk_id, referred, local, remote in fks:
        entry = fk_pairs.setdefault((schema, table.lower(), fk_id), (referred.lower(), []))
        entry[1].append((local.lower(), remote.lower() if remote else None))
    for (schema, table, _), (referred, pairs) in fk_pairs.items():
        if any(remote is None for _, remote in pairs):  # REFERENCES t without columns: its PK
            referred_pk = sorted(catalog.get((schema, referred), LiveTable()).primary_key)
            pairs = [(local, remote) for (local, _), remote in zip(pairs, referred_pk)]
        catalog[(schema, table)].foreign_keys.add((schema, referred, frozenset(pairs)))
    return catalog, set(attached)


def reflect_mysql(conn: Connection, schemas: set[str]) -> Catalog:
    catalog: Catalog = defaultdict(LiveTable)
    if not schemas:
        return catalog
    in_schemas = sa.bindparam("schemas", expanding=True)
    params = {"schemas": sorted(schemas)}
    columns = conn.execute(
        sa.text(
            "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE,"
            " COLUMN_DEFAULT, EXTRA, CHARACTER_MAXIMUM_LENGTH FROM information_schema.COLUMNS"
            " WHERE TABLE_SCHEMA IN :schemas ORDER BY ORDINAL_POSITION"
        ).bindparams(in_schemas),
        params,
    ).all()
    stats = conn.execute(
        sa.text(
            "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME"
            " FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN :schemas"
            " ORDER BY SEQ_IN_INDEX"
        ).bindparams(in_schemas),
        params,
    ).all()
    fks = conn.execute(
        sa.text(
            "SELECT TABLE_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, COLUMN_NAME, REFERENCED_TABLE_SCHEMA,"
            " REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE"
            " WHERE TABLE_SCHEMA IN :schemas AND REFERENCED_TABLE_NAME IS NOT NULL"
        ).bindparams(in_schemas),
        params,
    ).all()

    for row in columns:
        schema, table, name, data_type, column_type, nullable, default, extra, max_len = map(
            _text, row
        )
        families, width, _ = classify_text(str(data_type), "mysql")
        labels = None
        if str(data_type).lower() in ("enum", "set"):
            labels = frozenset(
                v.replace("''", "'") for v in re.findall(r"'((?:[^']|'')*)'", str(column_type))
            )
        extra = str(extra or "").lower()
        catalog[(schema.lower(), table.lower())].columns[name.lower()] = LiveColumn(
            name=name,
            type_=str(column_type),
            families=families,
            nullable=str(nullable).upper() == "YES",
            has_default=default is not None
            or "auto_increment" in extra
            or "generated" in extra
            or "virtual" in extra
            or "stored" in extra,
            int_width=width,
            length=int(max_len) if max_len and "string" in families else None,
            enum_labels=labels,
        )
    grouped: dict[tuple[str, str, str], tuple[bool, list[str | None]]] = {}
    for row in stats:
        schema, table, index, non_unique, column = map(_text, row)
        key = (schema.lower(), table.lower(), index)
        entry = grouped.setdefault(key, (not int(non_unique), []))
        entry[1].append(column.lower() if column else None)
    for (schema, table, index), (unique, cols) in grouped.items():
        live = catalog[(schema, table)]
        if index == "PRIMARY":
            live.primary_key = frozenset(c for c in cols if c)
        _add_index(live, cols, unique)
    fk_pairs: dict[tuple[str, str, str], tuple[tuple[str, str], list[tuple[str, str]]]] = {}
    for row in fks:
        schema, table, name, local, ref_schema, ref_table, remote = map(_text, row)
        key = (schema.lower(), table.lower(), name)
        entry = fk_pairs.setdefault(key, ((ref_schema.lower(), ref_table.lower()), []))
        entry[1].append((local.lower(), remote.lower()))
    for (schema, table, _), ((ref_schema, ref_table), pairs) in fk_pairs.items():
        catalog[(schema, table)].foreign_keys.add((ref_schema, ref_table, frozenset(pairs)))
    for live in catalog.values():
        for name in live.primary_key:
            if name in live.columns:
                live.columns[name].nullable = False
    return catalog


def reflect_postgresql(
    conn: Connection, wanted: dict[str | None, list[str]], default_schema: str
) -> Catalog:
    """SQLAlchemy's bulk reflection: a fixed number of queries per schema involved."""
    catalog: Catalog = defaultdict(LiveTable)
    inspector = sa.inspect(conn)
    for schema, names in wanted.items():
        kw = {"schema": schema, "filter_names": names}
        columns = inspector.get_multi_columns(**kw)
        pks = inspector.get_multi_pk_constraint(**kw)
        fks = inspector.get_multi_foreign_keys(**kw)
        uniques = inspector.get_multi_unique_constraints(**kw)
        indexes = inspector.get_multi_indexes(**kw)
        folded_schema = schema or default_schema
        for (_, table), cols in columns.items():
            live = catalog[(folded_schema, table)]
            for col in cols:
                family, width, length, labels = classify(col["type"])
                live.columns[col["name"]] = LiveColumn(
                    name=col["name"],
                    type_=col["type"],
                    families=frozenset({family}) if family else frozenset(),
                    nullable=bool(col["nullable"]),
                    has_default=bool(
                        col.get("default") is not None
                        or col.get("identity")
                        or col.get("computed")
                        or col.get("autoincrement") is True
                    ),
                    int_width=width,
                    length=length,
                    enum_labels=labels,
                )
        for (_, table), pk in pks.items():
            if pk and pk.get("constrained_columns"):
                catalog[(folded_schema, table)].primary_key = frozenset(pk["constrained_columns"])
        for (_, table), fk_list in fks.items():
            for fk in fk_list:
                pairs = frozenset(zip(fk["constrained_columns"], fk["referred_columns"]))
                referred_schema = fk.get("referred_schema") or default_schema
                catalog[(folded_schema, table)].foreign_keys.add(
                    (referred_schema, fk["referred_table"], pairs)
                )
        for (_, table), uc_list in uniques.items():
            for uc in uc_list:
                _add_index(catalog[(folded_schema, table)], list(uc["column_names"]), True)
        for (_, table), ix_list in indexes.items():
            for ix in ix_list:
                _add_index(
                    catalog[(folded_schema, table)],
                    list(ix["column_names"]),
                    bool(ix.get("unique")),
                )
    return catalog


def reflect_generic(
    conn: Connection, wanted: dict[str | None, list[str]], default_schema: str, dialect: str
) -> Catalog:
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
                family, width, length, labels = classify(col["type"])
                live.columns[fold(dialect, col["name"])] = LiveColumn(
                    name=col["name"],
                    type_=col["type"],
                    families=frozenset({family}) if family else frozenset(),
                    nullable=bool(col["nullable"]),
                    has_default=col.get("default") is not None,
                    int_width=width,
                    length=length,
                    enum_labels=labels,
                )
            pk = inspector.get_pk_constraint(table, schema=schema)
            live.primary_key = frozenset(fold(dialect, c) for c in pk["constrained_columns"])
            for fk in inspector.get_foreign_keys(table, schema=schema):
                pairs = frozenset(
                    (fold(dialect, a), fold(dialect, b))
                    for a, b in zip(fk["constrained_columns"], fk["referred_columns"])
                )
                live.foreign_keys.add(
                    (
                        fold(dialect, fk.get("referred_schema") or folded_schema),
                        fold(dialect, fk["referred_table"]),
                        pairs,
                    )
                )
            for uc in inspector.get_unique_constraints(table, schema=schema):
                _add_index(live, [fold(dialect, c) for c in uc["column_names"]], True)
            for ix in inspector.get_indexes(table, schema=schema):
                _add_index(
                    live,
                    [fold(dialect, c) if c else None for c in ix["column_names"]],
                    bool(ix.get("unique")),
                )
    return catalog


def _add_index(live: LiveTable, columns: list[str | None], unique: bool) -> None:
    if not columns or any(c is None for c in columns):
        return  # expression index: never matched against plain column sets
    cols = frozenset(c for c in columns if c)
    live.index_sets.add(cols)
    if unique:
        live.unique_sets.add(cols)


