"""Compare a live database with the tables a datakit declares, and list what differs.

`validate_tables` reads the catalog of the live database in a fixed number of queries — the
count does not grow with the number of tables — and compares it with the SQLAlchemy `Table`s.
Each difference is a `Problem(table, kind, detail)`; the kinds, and what each engine can tell,
are listed in the README ("What validate compares"):

* tables (`missing_table`), columns (`missing_column`, `extra_column` when NOT NULL without a
  default), type family, narrower integers, shorter strings, numeric precision/scale and
  PostgreSQL `timestamptz` vs `timestamp` (`type_mismatch`), `nullability`;
* server defaults (`default`), generated columns (`generated`), identity / serial /
  AUTO_INCREMENT keys (`identity`), comments (`comment`), MySQL column collations (`collation`);
* the primary key, foreign keys with ON DELETE / ON UPDATE / DEFERRABLE (`foreign_key`),
  unique constraints and indexes with their predicate, method, expressions, prefix lengths and
  FULLTEXT (`unique`, `index`), CHECK constraints (`check`), names under a naming convention
  (`name`), MySQL engine / charset / collation (`table_option`);
* views, triggers, sequences and extensions the kit's DDL declares, PostgreSQL enum types no
  column uses (`view`, `trigger`, `sequence`, `extension`, `enum`; see
  dkenv.validate_objects).

SQL fragments are compared after normalising each engine's spelling (dkenv.sql_normalize).
Only what the model sets is compared: extra tables, indexes, constraints and defaults in the
database are not reported, nor properties the model leaves to the engine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

# Imported for their registration: each reader module registers itself with dkenv.reflect.
from dkenv import reflect_mysql, reflect_postgres, reflect_sqlite  # noqa: F401
from dkenv.engines import rules_for_dialect
from dkenv.reflect import LiveColumn, dialect_family, fold, reader_for
from dkenv.sql_normalize import compiler, engine_rewrites, model_default, render, same_sql
from dkenv.type_families import (
    accepted_families,
    base_type_name,
    classify,
    extension_type_name,
    model_type,
    type_text,
)
from dkenv.validate_constraints import (
    TableContext,
    compare_checks,
    compare_foreign_keys,
    compare_indexes,
    compare_primary_key,
)
from dkenv.validate_objects import compare_objects, compare_table_options

PROBLEM_KINDS = (
    "missing_table",
    "missing_column",
    "extra_column",
    "type_mismatch",
    "nullability",
    "default",
    "generated",
    "identity",
    "comment",
    "collation",
    "primary_key",
    "foreign_key",
    "unique",
    "index",
    "check",
    "name",
    "table_option",
    "view",
    "trigger",
    "sequence",
    "extension",
    "enum",
    "partition",
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

    Uses one connection and a fixed number of catalog queries, independent of how many tables:
    5 on SQLite, 6 on MySQL/MariaDB, 9 on PostgreSQL for one schema (the inspector's bulk
    queries repeat per schema involved), plus what SQLAlchemy caches per dialect on first use.
    An empty list means the database matches the models. A `Connection` may be passed instead
    of an `Engine`; it is used as is.
    """
    if isinstance(engine, Connection):
        return _validate(tables, engine)
    with engine.connect() as conn:
        return _validate(tables, conn)


def _validate(tables: Sequence[sa.Table], conn: Connection) -> list[Problem]:
    dialect = dialect_family(conn.dialect)
    rules = rules_for_dialect(conn.dialect.name)
    default_schema = rules.catalog_default_schema or conn.dialect.default_schema_name or ""

    def effective(schema: str | None) -> str:
        return fold(dialect, schema or default_schema)

    wanted: dict[str | None, list[str]] = defaultdict(list)
    for table in tables:
        wanted[table.schema].append(table.name)
    schemas = {effective(s) for s in wanted}
    catalog, objects, present_schemas = reader_for(rules)(conn, dict(wanted), schemas, default_schema)

    ddl = compiler(conn.dialect)
    problems: list[Problem] = []
    for table in tables:
        schema = effective(table.schema)
        if getattr(table, "is_view", False):  # SQLAlchemy 2.1 CreateView(..., metadata=)
            if "view" in objects.supports and (schema, fold(dialect, table.name)) not in (
                objects.views
            ):
                problems.append(Problem(table.fullname, "view", f'view not found in "{schema}"'))
            continue
        live = catalog.get((schema, fold(dialect, table.name)))
        if live is None or not live.columns:
            where = f'schema "{schema}"' if schema else "the default schema (none selected)"
            if present_schemas is not None and schema not in present_schemas:
                where += " (not attached)"
            problems.append(Problem(table.fullname, "missing_table", f"table not found in {where}"))
            continue

        def report(kind: str, detail: str, _table: sa.Table = table) -> None:
            problems.append(Problem(_table.fullname, kind, detail))

        ctx = TableContext(table, live, conn.dialect, dialect, schema, effective, ddl, report,
                           rules)
        _compare_columns(ctx)
        compare_primary_key(ctx)
        compare_foreign_keys(ctx)
        compare_indexes(ctx)
        compare_checks(ctx)
        problems.extend(Problem(table.fullname, k, d)
                        for k, d in compare_table_options(table, live, dialect))
        if table.comment is not None and rules.has_comments:
            if (live.comment or "") != table.comment:
                report("comment", f"table comment {live.comment!r}, the model says"
                       f" {table.comment!r}")
    present = {p.table for p in problems if p.kind == "missing_table"}
    problems.extend(
        Problem(owner, kind, detail)
        for owner, kind, detail in compare_objects(
            [t for t in tables if t.fullname not in present], objects, ddl, dialect, effective
        )
    )
    return problems


def _compare_columns(ctx: TableContext) -> None:
    sa_dialect, dialect, live, report = ctx.sa_dialect, ctx.dialect, ctx.live, ctx.report
    model_names = set()
    for column in ctx.table.columns:
        folded = fold(dialect, column.name)
        model_names.add(folded)
        type_ = model_type(column, sa_dialect)
        found = live.columns.get(folded)
        if found is None:
            report(
                "missing_column",
                f'column "{column.name}" ({type_text(type_, sa_dialect)}) is missing',
            )
            ctx.missing.add(folded)
            continue
        _compare_type(ctx, column, type_, found)
        live_nullable = found.nullable and folded not in live.primary_key
        if column.nullable != live_nullable and not (
            column.computed is not None and found.generated is not None
        ):
            said, has = ("NOT NULL", "allows NULL") if live_nullable else ("NULL", "is NOT NULL")
            report("nullability", f'column "{column.name}": model says {said}, database {has}')
        _compare_column_extras(ctx, column, found)
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


def _compare_type(ctx: TableContext, column: sa.Column, type_: sa.types.TypeEngine,
                  found: LiveColumn) -> None:
    sa_dialect = ctx.sa_dialect
    extension = extension_type_name(type_, sa_dialect)
    if extension is not None:  # compared by name: CITEXT turned into TEXT is drift
        has = found.type_name or type_text(found.type_, sa_dialect)
        if base_type_name(has) != extension:
            ctx.report("type_mismatch", f'column "{column.name}": model says'
                       f" {type_text(type_, sa_dialect)}, database has {has}")
        return
    family, width, length, labels = classify(type_)
    if not family or not found.families:
        return
    model_text = type_text(type_, sa_dialect)
    live_text = type_text(found.type_, sa_dialect)
    mismatch = None
    if not accepted_families(family, ctx.dialect) & found.families:
        mismatch = f"model says {model_text}, database has {live_text}"
    elif (family == "integer" and ctx.engine.compares_integer_width and width and found.int_width
          and found.int_width < width and "integer" in found.families):
        mismatch = f"model says {model_text}, database has the narrower {live_text}"
    elif (family == "string" and ctx.engine.compares_string_length and length and found.length
          and found.length < length):
        mismatch = f"model says {model_text}, database has the shorter {live_text}"
    elif labels and found.enum_labels is not None and labels != found.enum_labels:
        mismatch = (f"model enum labels ({', '.join(sorted(labels))}), database has"
                    f" ({', '.join(sorted(found.enum_labels))})")
    elif family == "numeric" and "numeric" in found.families and type_.precision is not None:
        scale = type_.scale
        if found.precision is not None and (
            found.precision != type_.precision
            or (scale is not None and (found.scale or 0) != scale)
        ):
            mismatch = (f"model says NUMERIC({type_.precision}, {scale or 0}), database has"
                        f" NUMERIC({found.precision}, {found.scale or 0})")
    elif family in ("datetime", "time") and ctx.engine.stores_timezone and (
        found.timezone is not None
    ):
        if bool(getattr(type_, "timezone", False)) != bool(found.timezone):
            mismatch = f"model says {model_text}, database has {live_text}"
    if mismatch:
        ctx.report("type_mismatch", f'column "{column.name}": {mismatch}')


def _is_autoincrement(column: sa.Column, dialect: sa.engine.Dialect) -> bool:
    """Whether `create_all` makes the database generate `column` (identity, SERIAL,
    AUTO_INCREMENT; on SQLite only an INTEGER PRIMARY KEY, the rowid alias — a BIGINT key is
    not one)."""
    table = column.table
    if rules_for_dialect(dialect.name).generates_rowid_alias_only:  # whatever the model asks
        return table is not None and is_rowid_alias(column, dialect) and (
            column.identity is not None or (
                table.autoincrement_column is column and column.server_default is None
                and column.default is None))
    if column.identity is not None:
        return True
    if table is None or table.autoincrement_column is not column:
        return False
    return column.server_default is None and column.default is None


def is_rowid_alias(column: sa.Column, dialect: sa.engine.Dialect) -> bool:
    """SQLite generates a key only for the rowid alias: the table's single INTEGER PRIMARY KEY
    column, in a table with a rowid (an Identity() or a BIGINT key there is a plain column)."""
    table = column.table
    return (
        list(table.primary_key.columns) == [column]
        and table.dialect_options["sqlite"].get("with_rowid", True) is not False
        and type_text(model_type(column, dialect), dialect).upper() == "INTEGER"
    )


def _compare_identity(ctx: TableContext, column: sa.Column, found: LiveColumn) -> None:
    """PostgreSQL identity columns: ALWAYS / BY DEFAULT, START and INCREMENT the model sets."""
    identity = column.identity
    if not found.identity:
        ctx.report("identity", f'column "{column.name}": model says GENERATED AS IDENTITY,'
                   " database has a serial default")
        return
    has = found.identity_options
    want = {"always": bool(identity.always), "start": identity.start,
            "increment": identity.increment}
    for key, value in want.items():
        if value is not None and has.get(key) is not None and has[key] != value:
            ctx.report("identity", f'column "{column.name}": identity {key} is {has[key]},'
                       f" the model says {value}")


def _compare_column_extras(ctx: TableContext, column: sa.Column, found: LiveColumn) -> None:
    """Defaults, generated and identity columns, comments, collations."""
    report, name = ctx.report, column.name
    if column.computed is not None:
        if found.generated is None:
            report("generated", f'column "{name}": model says GENERATED ALWAYS AS'
                   f" ({render(column.computed.sqltext, ctx.ddl)}), database has a plain column")
        else:
            text = render(column.computed.sqltext, ctx.ddl)
            if found.generated and not same_sql(text, found.generated, ctx.rewrites):
                report("generated", f'column "{name}": model says AS ({text}), database has'
                       f" AS ({found.generated})")
            elif column.computed.persisted is not None and found.persisted is not None and (
                bool(column.computed.persisted) != found.persisted
            ):
                report("generated", f'column "{name}": model says'
                       f" {'STORED' if column.computed.persisted else 'VIRTUAL'}, database has"
                       f" {'STORED' if found.persisted else 'VIRTUAL'}")
    elif found.generated is not None:
        report("generated", f'column "{name}": the database generates it, the model does not')
    if ctx.engine.reports_autoincrement and _is_autoincrement(column, ctx.sa_dialect):
        if not found.autoincrement:
            report("identity", f'column "{name}": model says it is generated by the database'
                   " (identity / serial / AUTO_INCREMENT), database has a plain column")
        elif column.identity is not None and ctx.engine.has_identity_options:
            _compare_identity(ctx, column, found)
    want = model_default(column, ctx.ddl)
    if want is not None and column.computed is None:
        if found.default is None:
            report("default", f'column "{name}": model says DEFAULT {want}, database has none')
        elif not same_sql(want, found.default, engine_rewrites(
            ctx.dialect, ctx.schema, classify(model_type(column, ctx.sa_dialect))[0]
        )):
            report("default", f'column "{name}": model says DEFAULT {want}, database has'
                   f" DEFAULT {found.default}")
    if column.comment is not None and ctx.engine.has_comments:
        if (found.comment or "") != column.comment:
            report("comment", f'column "{name}": comment {found.comment!r}, the model says'
                   f" {column.comment!r}")
    charset = getattr(model_type(column, ctx.sa_dialect), "charset", None)
    if charset and ctx.engine.compares_charset and found.collation and (
        found.collation.split("_", 1)[0].lower() != {"utf8": "utf8mb3"}.get(charset, charset)
    ):
        report("collation", f'column "{name}": character set'
               f" {found.collation.split('_', 1)[0]}, the model says {charset}")
    collation = getattr(column.type, "collation", None)
    if collation and ctx.engine.compares_collation and found.collation and (
        found.collation.lower() != collation.lower()
    ):
        report("collation", f'column "{name}": collation {found.collation}, the model says'
               f" {collation}")
