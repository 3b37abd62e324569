"""Compare a live database with the tables a datakit declares, and list what differs.

`validate_tables` reads the catalog of the live database in a fixed number of queries — the
count does not grow with the number of tables — and compares it with the SQLAlchemy `Table`s:

* every table exists (in its schema: a PostgreSQL schema, a MySQL database, an attached SQLite
  database; `schema=None` means the connection's default);
* every column exists, with a compatible type *family* and the same nullability;
* the primary key has the same columns;
* every foreign key, unique constraint and index of the model exists.

Constraints and indexes are matched by their column sets, never by name: engines name unnamed
constraints differently. Each engine's representation of the same model is accepted — a unique
constraint may appear as a unique index (MySQL, SQLite) and vice versa, a model index is satisfied
by any index (or unique constraint, or primary key) on the same columns, a boolean may be a
TINYINT(1), JSON may be MariaDB's LONGTEXT, a UUID may be CHAR(32), an enum may be a VARCHAR.

Deliberately not reported, to keep every report actionable:

* extra tables, indexes and constraints in the database;
* extra columns, unless they are NOT NULL without a default — inserts through the model would then
  fail, so those are reported as `extra_column`;
* integer widths, except a narrower integer on PostgreSQL/MySQL (a BIGINT model deployed as INT
  overflows); SQLite integers are all 64-bit;
* string lengths, except a VARCHAR/CHAR shorter than the model's on PostgreSQL/MySQL;
* numeric precision/scale, defaults, FK actions (ON DELETE ...), index order and expression
  indexes; foreign keys between two attached SQLite databases (SQLite cannot declare them, so
  SQLAlchemy does not emit them); JSON vs JSONB;
* constraints and indexes on a column that is itself reported as `missing_column`.

Enum labels are compared where the database stores them (PostgreSQL types, MySQL ENUM).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql import sqltypes

PROBLEM_KINDS = (
    "missing_table",
    "missing_column",
    "extra_column",
    "type_mismatch",
    "nullability",
    "primary_key",
    "foreign_key",
    "unique",
    "index",
)


@dataclass(frozen=True)
class Problem:
    """One difference between a model table and the live database."""

    table: str  # schema-qualified name as in the model ("schema.name" or "name")
    kind: str  # one of PROBLEM_KINDS
    detail: str  # one human line: what the model says vs what the database has

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


# --------------------------------------------------------------------------------------------
# The live catalog, normalised across engines


@dataclass
class _LiveColumn:
    name: str
    type_: str | sa.types.TypeEngine  # as the catalog spells it, or a reflected type object
    families: frozenset[str]  # empty: a type we do not understand, never reported
    nullable: bool
    has_default: bool
    int_width: int | None = None
    length: int | None = None
    enum_labels: frozenset[str] | None = None


@dataclass
class _LiveTable:
    columns: dict[str, _LiveColumn] = field(default_factory=dict)  # by folded name
    primary_key: frozenset[str] = frozenset()
    # (folded referred schema, folded referred table, frozenset of (local, remote) column pairs)
    foreign_keys: set[tuple[str, str, frozenset[tuple[str, str]]]] = field(default_factory=set)
    unique_sets: set[frozenset[str]] = field(default_factory=set)  # constraints + unique indexes
    index_sets: set[frozenset[str]] = field(default_factory=set)  # every index


_Catalog = dict[tuple[str, str], _LiveTable]  # (folded schema, folded table) -> table


# --------------------------------------------------------------------------------------------
# Type families

_INT_WIDTHS = {
    "tinyint": 1,
    "smallint": 2,
    "int2": 2,
    "mediumint": 3,
    "int": 4,
    "integer": 4,
    "int4": 4,
    "bigint": 8,
    "int8": 8,
}

_TEXT_FAMILIES: dict[str, str] = {
    **{name: "integer" for name in _INT_WIDTHS},
    "boolean": "boolean",
    "bool": "boolean",
    "varchar": "string",
    "char": "string",
    "text": "string",
    "tinytext": "string",
    "mediumtext": "string",
    "longtext": "string",
    "clob": "string",
    "nvarchar": "string",
    "nchar": "string",
    "character": "string",
    "character varying": "string",
    "varchar2": "string",
    "string": "string",
    "float": "float",
    "double": "float",
    "double precision": "float",
    "real": "float",
    "numeric": "numeric",
    "decimal": "numeric",
    "dec": "numeric",
    "fixed": "numeric",
    "datetime": "datetime",
    "timestamp": "datetime",
    "datetime2": "datetime",
    "date": "date",
    "time": "time",
    "interval": "interval",
    "blob": "binary",
    "tinyblob": "binary",
    "mediumblob": "binary",
    "longblob": "binary",
    "binary": "binary",
    "varbinary": "binary",
    "bytea": "binary",
    "json": "json",
    "jsonb": "json",
    "uuid": "uuid",
    "enum": "enum",
}


def _classify(
    type_: sa.types.TypeEngine,
) -> tuple[str | None, int | None, int | None, frozenset[str] | None]:
    """(family, integer width, string length, enum labels) of a SQLAlchemy type; family None
    when the type is outside the families we compare (custom, geometric, network, ...)."""
    if type(type_).__name__ == "DOMAIN" and getattr(type_, "data_type", None) is not None:
        return _classify(type_.data_type)  # PostgreSQL domain: compare its base type
    if isinstance(type_, sqltypes.NullType):
        return None, None, None, None
    if isinstance(type_, sqltypes.Boolean):
        return "boolean", None, None, None
    if isinstance(type_, sqltypes.Enum):
        return "enum", None, None, frozenset(type_.enums) if type_.enums else None
    if isinstance(type_, sqltypes.Uuid):
        return "uuid", None, None, None
    if isinstance(type_, sqltypes.JSON):
        return "json", None, None, None
    if isinstance(type_, sqltypes.ARRAY):
        return "array", None, None, None
    if isinstance(type_, sqltypes._AbstractInterval):
        return "interval", None, None, None
    if isinstance(type_, sqltypes.DateTime):
        return "datetime", None, None, None
    if isinstance(type_, sqltypes.Date):
        return "date", None, None, None
    if isinstance(type_, sqltypes.Time):
        return "time", None, None, None
    if isinstance(type_, sqltypes.Float):
        return "float", None, None, None
    if isinstance(type_, sqltypes.Numeric):
        return "numeric", None, None, None
    if isinstance(type_, sqltypes.Integer):
        if isinstance(type_, sqltypes.BigInteger):
            width = 8
        elif isinstance(type_, sqltypes.SmallInteger):
            width = 2
        else:
            width = _INT_WIDTHS.get(type(type_).__name__.lower(), 4)
        return "integer", width, None, None
    if isinstance(type_, sqltypes._Binary):
        return "binary", None, None, None
    if isinstance(type_, sqltypes.String):
        return "string", None, type_.length, None
    return None, None, None, None


def _classify_text(declared: str, dialect: str) -> tuple[frozenset[str], int | None, int | None]:
    """(families, integer width, length) of a type as the catalog spells it (SQLite, MySQL)."""
    text = declared.strip().lower()
    base = re.sub(r"\s+", " ", text.split("(", 1)[0].replace("unsigned", "").strip())
    match = re.search(r"\((\d+)", text)
    length = int(match.group(1)) if match else None
    family = _TEXT_FAMILIES.get(base)
    if family is None:  # SQLite's affinity rules, loosely, for declared types we do not know
        if "int" in base:
            family = "integer"
        elif any(word in base for word in ("char", "clob", "text")):
            family = "string"
        elif "blob" in base:
            family = "binary"
        elif any(word in base for word in ("real", "floa", "doub")):
            family = "float"
        elif base.startswith("timestamp"):
            family = "datetime"
    if family is None:
        return frozenset(), None, None
    families = {family}
    width = None
    if family == "integer":
        width = 8 if "big" in base else _INT_WIDTHS.get(base, 4)
        if base == "tinyint" and dialect == "mysql":
            families.add("boolean")  # BOOLEAN is TINYINT(1) on MySQL/MariaDB
    return frozenset(families), width, length if family == "string" else None


def _accepted_families(model_family: str, dialect: str) -> set[str]:
    """The live families that count as the same type as `model_family` on `dialect`."""
    accepted = {model_family}
    if model_family in ("enum", "uuid"):  # non-native: VARCHAR / CHAR(32)
        accepted.add("string")
    if model_family == "json" and dialect in ("mysql", "sqlite"):  # MariaDB: LONGTEXT
        accepted.add("string")
    if model_family == "interval" and dialect != "postgresql":  # emulated as epoch DATETIME
        accepted.add("datetime")
    if model_family == "boolean" and dialect == "sqlite":
        accepted.add("integer")
    return accepted


def _model_type(column: sa.Column, dialect: sa.engine.Dialect) -> sa.types.TypeEngine:
    """The type `column` is deployed with on `dialect` (variants and TypeDecorators resolved)."""
    type_ = column.type
    type_ = getattr(type_, "_variant_mapping", {}).get(dialect.name, type_)
    for _ in range(10):
        if not isinstance(type_, sa.types.TypeDecorator) or isinstance(
            type_, sqltypes._AbstractInterval
        ):  # Interval: native on PG, emulated elsewhere
            break
        type_ = type_.load_dialect_impl(dialect)
    return type_


def _type_text(type_: str | sa.types.TypeEngine, dialect: sa.engine.Dialect) -> str:
    """How `dialect` spells `type_`; rendered only for reports (compiling is not free)."""
    if isinstance(type_, str):
        return type_
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:
        return type(type_).__name__


# --------------------------------------------------------------------------------------------
# Reading the catalog, one bulk query per property


def _dialect_family(dialect: sa.engine.Dialect) -> str:
    return "mysql" if dialect.name in ("mysql", "mariadb") else dialect.name


def _fold(dialect: str, name: str) -> str:
    """Compare identifiers as the engine does: case-insensitively on SQLite and MySQL."""
    return name if dialect == "postgresql" else name.lower()


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, (bytes, bytearray)) else value


def _reflect_sqlite(conn: Connection, schemas: set[str]) -> tuple[_Catalog, set[str]]:
    attached = {row[1].lower() for row in conn.exec_driver_sql("PRAGMA database_list")}
    present = sorted(s for s in schemas if s in attached)
    catalog: _Catalog = defaultdict(_LiveTable)
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
        families, width, length = _classify_text(declared or "", "sqlite")
        rowid = bool(pk) and (declared or "").strip().upper() == "INTEGER"
        catalog[key].columns[name.lower()] = _LiveColumn(
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
            referred_pk = sorted(catalog.get((schema, referred), _LiveTable()).primary_key)
            pairs = [(local, remote) for (local, _), remote in zip(pairs, referred_pk)]
        catalog[(schema, table)].foreign_keys.add((schema, referred, frozenset(pairs)))
    return catalog, set(attached)


def _reflect_mysql(conn: Connection, schemas: set[str]) -> _Catalog:
    catalog: _Catalog = defaultdict(_LiveTable)
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
        families, width, _ = _classify_text(str(data_type), "mysql")
        labels = None
        if str(data_type).lower() in ("enum", "set"):
            labels = frozenset(
                v.replace("''", "'") for v in re.findall(r"'((?:[^']|'')*)'", str(column_type))
            )
        extra = str(extra or "").lower()
        catalog[(schema.lower(), table.lower())].columns[name.lower()] = _LiveColumn(
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


def _reflect_postgresql(
    conn: Connection, wanted: dict[str | None, list[str]], default_schema: str
) -> _Catalog:
    """SQLAlchemy's bulk reflection: a fixed number of queries per schema involved."""
    catalog: _Catalog = defaultdict(_LiveTable)
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
                family, width, length, labels = _classify(col["type"])
                live.columns[col["name"]] = _LiveColumn(
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


def _reflect_generic(
    conn: Connection, wanted: dict[str | None, list[str]], default_schema: str, dialect: str
) -> _Catalog:
    """Any other dialect: SQLAlchemy's per-table reflection (query count grows with tables)."""
    catalog: _Catalog = defaultdict(_LiveTable)
    inspector = sa.inspect(conn)
    for schema, names in wanted.items():
        existing = set(inspector.get_table_names(schema=schema))
        folded_schema = _fold(dialect, schema or default_schema)
        for table in names:
            if table not in existing:
                continue
            live = catalog[(folded_schema, _fold(dialect, table))]
            for col in inspector.get_columns(table, schema=schema):
                family, width, length, labels = _classify(col["type"])
                live.columns[_fold(dialect, col["name"])] = _LiveColumn(
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
            live.primary_key = frozenset(_fold(dialect, c) for c in pk["constrained_columns"])
            for fk in inspector.get_foreign_keys(table, schema=schema):
                pairs = frozenset(
                    (_fold(dialect, a), _fold(dialect, b))
                    for a, b in zip(fk["constrained_columns"], fk["referred_columns"])
                )
                live.foreign_keys.add(
                    (
                        _fold(dialect, fk.get("referred_schema") or folded_schema),
                        _fold(dialect, fk["referred_table"]),
                        pairs,
                    )
                )
            for uc in inspector.get_unique_constraints(table, schema=schema):
                _add_index(live, [_fold(dialect, c) for c in uc["column_names"]], True)
            for ix in inspector.get_indexes(table, schema=schema):
                _add_index(
                    live,
                    [_fold(dialect, c) if c else None for c in ix["column_names"]],
                    bool(ix.get("unique")),
                )
    return catalog


def _add_index(live: _LiveTable, columns: list[str | None], unique: bool) -> None:
    if not columns or any(c is None for c in columns):
        return  # expression index: never matched against plain column sets
    cols = frozenset(c for c in columns if c)
    live.index_sets.add(cols)
    if unique:
        live.unique_sets.add(cols)


# --------------------------------------------------------------------------------------------
# Comparison


def validate_tables(tables: Sequence[sa.Table], engine: Engine | Connection) -> list[Problem]:
    """Compare the live database behind `engine` with `tables`; return the differences.

    Uses one connection and a fixed number of catalog queries (independent of how many tables:
    4 on SQLite, 3 on MySQL/MariaDB, 7 per schema involved on PostgreSQL, plus one that
    SQLAlchemy caches per dialect on first use). An empty list means the database matches the
    models. A `Connection` may be passed instead of an `Engine`; it is used as is.
    """
    if isinstance(engine, Connection):
        return _validate(tables, engine)
    with engine.connect() as conn:
        return _validate(tables, conn)


def _validate(tables: Sequence[sa.Table], conn: Connection) -> list[Problem]:
    dialect = _dialect_family(conn.dialect)
    default_schema = conn.dialect.default_schema_name or ""
    if dialect == "sqlite":
        default_schema = "main"

    def effective(schema: str | None) -> str:
        return _fold(dialect, schema or default_schema)

    wanted: dict[str | None, list[str]] = defaultdict(list)
    for table in tables:
        wanted[table.schema].append(table.name)
    schemas = {effective(s) for s in wanted}
    present_schemas: set[str] | None = None
    if dialect == "sqlite":
        catalog, present_schemas = _reflect_sqlite(conn, schemas)
    elif dialect == "mysql":
        catalog = _reflect_mysql(conn, {s for s in schemas if s})
    elif dialect == "postgresql":
        catalog = _reflect_postgresql(conn, dict(wanted), default_schema)
    else:
        catalog = _reflect_generic(conn, dict(wanted), default_schema, dialect)

    problems: list[Problem] = []
    for table in tables:
        schema = effective(table.schema)
        live = catalog.get((schema, _fold(dialect, table.name)))
        if live is None or not live.columns:
            where = f'schema "{schema}"' if schema else "the default schema (none selected)"
            if present_schemas is not None and schema not in present_schemas:
                where += " (not attached)"
            problems.append(Problem(table.fullname, "missing_table", f"table not found in {where}"))
            continue
        problems.extend(_compare_table(table, live, conn.dialect, dialect, schema, effective))
    return problems


def _cols(columns: Iterable[Any], dialect: str) -> frozenset[str]:
    return frozenset(_fold(dialect, c.name) for c in columns)


def _show(columns: Iterable[str]) -> str:
    return ", ".join(sorted(columns))


def _compare_table(
    table: sa.Table,
    live: _LiveTable,
    sa_dialect: sa.engine.Dialect,
    dialect: str,
    schema: str,
    effective: Callable[[str | None], str],
) -> list[Problem]:
    problems: list[Problem] = []

    def report(kind: str, detail: str) -> None:
        problems.append(Problem(table.fullname, kind, detail))

    model_names = set()
    missing: set[str] = set()  # reported once; constraints on them are not reported again
    for column in table.columns:
        folded = _fold(dialect, column.name)
        model_names.add(folded)
        type_ = _model_type(column, sa_dialect)
        found = live.columns.get(folded)
        if found is None:
            report(
                "missing_column",
                f'column "{column.name}" ({_type_text(type_, sa_dialect)}) is missing',
            )
            missing.add(folded)
            continue
        family, width, length, labels = _classify(type_)
        if family and found.families:
            if not _accepted_families(family, dialect) & found.families:
                report(
                    "type_mismatch",
                    f'column "{column.name}": model says '
                    f"{_type_text(type_, sa_dialect)},"
                    f" database has {_type_text(found.type_, sa_dialect)}",
                )
            elif (
                family == "integer"
                and dialect != "sqlite"
                and width
                and found.int_width
                and found.int_width < width
                and "integer" in found.families
            ):
                report(
                    "type_mismatch",
                    f'column "{column.name}": model says '
                    f"{_type_text(type_, sa_dialect)},"
                    f" database has the narrower {_type_text(found.type_, sa_dialect)}",
                )
            elif (
                family == "string"
                and dialect != "sqlite"
                and length
                and found.length
                and found.length < length
            ):
                report(
                    "type_mismatch",
                    f'column "{column.name}": model says '
                    f"{_type_text(type_, sa_dialect)},"
                    f" database has the shorter {_type_text(found.type_, sa_dialect)}",
                )
            elif labels and found.enum_labels is not None and labels != found.enum_labels:
                report(
                    "type_mismatch",
                    f'column "{column.name}": model enum labels'
                    f" ({_show(labels)}), database has"
                    f" ({_show(found.enum_labels)})",
                )
        live_nullable = found.nullable and folded not in live.primary_key
        if column.nullable != live_nullable:
            said, has = ("NOT NULL", "allows NULL") if live_nullable else ("NULL", "is NOT NULL")
            report("nullability", f'column "{column.name}": model says {said}, database {has}')
    for folded, found in live.columns.items():
        if (
            folded not in model_names
            and not found.nullable
            and not found.has_default
            and folded not in live.primary_key
        ):
            report(
                "extra_column",
                f'column "{found.name}" ({_type_text(found.type_, sa_dialect)}, NOT NULL, no'
                " default) is not in the model: inserts through the model fail",
            )

    model_pk = _cols(table.primary_key.columns, dialect)
    if model_pk != live.primary_key and not model_pk & missing:
        report(
            "primary_key",
            f"model primary key ({_show(model_pk) or 'none'}), database has"
            f" ({_show(live.primary_key) or 'none'})",
        )

    for fk in sorted(
        table.foreign_key_constraints, key=lambda c: [e.parent.name for e in c.elements]
    ):
        ref_schema, ref_table, pairs = _model_fk(fk, dialect, effective)
        if dialect == "sqlite" and ref_schema != schema:
            continue  # SQLite cannot declare FKs across attached databases; SQLAlchemy omits them
        if (ref_schema, ref_table, pairs) not in live.foreign_keys and not any(
            local in missing for local, _ in pairs
        ):
            local = ", ".join(local for local, _ in sorted(pairs))
            remote = ", ".join(remote for _, remote in sorted(pairs))
            report(
                "foreign_key",
                f"foreign key ({local}) -> {ref_schema}.{ref_table}({remote}) is missing",
            )

    satisfies_unique = live.unique_sets | {live.primary_key}
    satisfies_index = live.index_sets | satisfies_unique
    for constraint in sorted(
        (c for c in table.constraints if isinstance(c, sa.UniqueConstraint)),
        key=lambda c: sorted(col.name for col in c.columns),
    ):
        cols = _cols(constraint.columns, dialect)
        if cols and cols not in satisfies_unique and not cols & missing:
            report("unique", f"unique constraint on ({_show(cols)}) is missing")
    for index in sorted(table.indexes, key=lambda i: sorted(col.name for col in i.columns)):
        if len(index.columns) != len(index.expressions):
            continue  # expression index: not compared
        cols = _cols(index.columns, dialect)
        if cols & missing:
            continue
        if index.unique and cols not in satisfies_unique:
            report("unique", f"unique index on ({_show(cols)}) is missing")
        elif not index.unique and cols not in satisfies_index:
            report("index", f"index on ({_show(cols)}) is missing")
    return problems


def _model_fk(
    fk: sa.ForeignKeyConstraint, dialect: str, effective: Callable[[str | None], str]
) -> tuple[str, str, frozenset[tuple[str, str]]]:
    """(referred schema, referred table, (local, remote) pairs), folded, without needing the
    referred table to be in the same MetaData."""
    pairs = []
    ref_schema = ref_table = ""
    for element in fk.elements:
        try:
            target = element.column  # resolved through the MetaData when the table is there
            schema, table, column = target.table.schema, target.table.name, target.name
        except Exception:
            parts = element.target_fullname.split(".")
            schema, table, column = (
                (None, *parts) if len(parts) == 2 else (".".join(parts[:-2]), parts[-2], parts[-1])
            )
            schema = schema or (fk.table.metadata.schema if fk.table is not None else None)
        ref_schema, ref_table = effective(schema), _fold(dialect, table)
        pairs.append((_fold(dialect, element.parent.name), _fold(dialect, column)))
    return ref_schema, ref_table, frozenset(pairs)
