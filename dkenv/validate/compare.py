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
  column uses (`view`, `trigger`, `sequence`, `extension`, `enum`; see `objects`).

Each aspect is a module of this package (`columns`, `column_types`, `defaults`, `keys`,
`indexes`, `checks`, `table_options`) called from `_validate` with the table's `TableContext`,
then `objects` once for all the tables; each engine's catalog reader registers itself
(`readers.catalog_reader`).
SQL fragments are compared after normalising each engine's spelling (`normalize`).
Only what the model sets is compared: extra tables, indexes, constraints and defaults in the
database are not reported, nor properties the model leaves to the engine.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from dkenv.engines import rules_for_dialect
from dkenv.problems import Problem

# Imported for their registration: each reader module registers itself with `readers`.
from dkenv.validate import reader_mysql, reader_postgres, reader_sqlite  # noqa: F401
from dkenv.validate.checks import compare_checks
from dkenv.validate.columns import compare_columns
from dkenv.validate.context import TableContext
from dkenv.validate.indexes import compare_indexes
from dkenv.validate.keys import compare_foreign_keys, compare_primary_key
from dkenv.validate.live import dialect_family, fold
from dkenv.validate.normalize import compiler
from dkenv.validate.objects import compare_objects
from dkenv.validate.readers import reader_for
from dkenv.validate.table_options import compare_table_options


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
        compare_columns(ctx)
        compare_primary_key(ctx)
        compare_foreign_keys(ctx)
        compare_indexes(ctx)
        compare_checks(ctx)
        compare_table_options(ctx)
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
