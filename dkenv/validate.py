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

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dkenv.reflect import (
    LiveTable,
    dialect_family,
    fold,
    reflect_generic,
    reflect_mysql,
    reflect_postgresql,
    reflect_sqlite,
)
from dkenv.type_families import accepted_families, classify, model_type, type_text

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
    dialect = dialect_family(conn.dialect)
    default_schema = conn.dialect.default_schema_name or ""
    if dialect == "sqlite":
        default_schema = "main"

    def effective(schema: str | None) -> str:
        return fold(dialect, schema or default_schema)

    wanted: dict[str | None, list[str]] = defaultdict(list)
    for table in tables:
        wanted[table.schema].append(table.name)
    schemas = {effective(s) for s in wanted}
    present_schemas: set[str] | None = None
    if dialect == "sqlite":
        catalog, present_schemas = reflect_sqlite(conn, schemas)
    elif dialect == "mysql":
        catalog = reflect_mysql(conn, {s for s in schemas if s})
    elif dialect == "postgresql":
        catalog = reflect_postgresql(conn, dict(wanted), default_schema)
    else:
        catalog = reflect_generic(conn, dict(wanted), default_schema, dialect)

    problems: list[Problem] = []
    for table in tables:
        schema = effective(table.schema)
        live = catalog.get((schema, fold(dialect, table.name)))
        if live is None or not live.columns:
            where = f'schema "{schema}"' if schema else "the default schema (none selected)"
            if present_schemas is not None and schema not in present_schemas:
                where += " (not attached)"
            problems.append(Problem(table.fullname, "missing_table", f"table not found in {where}"))
            continue
        problems.extend(_compare_table(table, live, conn.dialect, dialect, schema, effective))
    return problems


def _cols(columns: Iterable[Any], dialect: str) -> frozenset[str]:
    return frozenset(fold(dialect, c.name) for c in columns)


def _show(columns: Iterable[str]) -> str:
    return ", ".join(sorted(columns))


def _compare_table(
    table: sa.Table,
    live: LiveTable,
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
        folded = fold(dialect, column.name)
        model_names.add(folded)
        type_ = model_type(column, sa_dialect)
        found = live.columns.get(folded)
        if found is None:
            report(
                "missing_column",
                f'column "{column.name}" ({type_text(type_, sa_dialect)}) is missing',
            )
            missing.add(folded)
            continue
        family, width, length, labels = classify(type_)
        if family and found.families:
            if not accepted_families(family, dialect) & found.families:
                report(
                    "type_mismatch",
                    f'column "{column.name}": model says '
                    f"{type_text(type_, sa_dialect)},"
                    f" database has {type_text(found.type_, sa_dialect)}",
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
                    f"{type_text(type_, sa_dialect)},"
                    f" database has the narrower {type_text(found.type_, sa_dialect)}",
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
                    f"{type_text(type_, sa_dialect)},"
                    f" database has the shorter {type_text(found.type_, sa_dialect)}",
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
                f'column "{found.name}" ({type_text(found.type_, sa_dialect)}, NOT NULL, no'
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
        ref_schema, ref_table = effective(schema), fold(dialect, table)
        pairs.append((fold(dialect, element.parent.name), fold(dialect, column)))
    return ref_schema, ref_table, frozenset(pairs)
