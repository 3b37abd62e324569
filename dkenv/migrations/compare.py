"""Models vs a live database, both ways: what ``dkenv validate`` compares (the models' side),
plus what the database has and the models do not.

``validate`` looks from the models only, on purpose: a database may hold more than one datakit.
A database the migrations built for *this* datakit should hold exactly the models, so here the
other direction is read too, through SQLAlchemy's inspector (one table at a time: this runs in
checks, not per test): tables, columns, unique constraints and unique indexes, plain indexes,
foreign keys and CHECKs the models lack, and string columns whose length differs either way
(``validate`` reports only a database string *shorter* than the model's).  Every difference is
a :class:`~dkenv.problems.Problem` whose detail says which side has what.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from dkenv.engines import rules_for_dialect
from dkenv.problems import Problem
from dkenv.validate import validate_tables
from dkenv.validate.checks import model_checks
from dkenv.validate.normalize import compiler, render, same_sql

#: Tables a migration tool keeps for itself: never a difference.
BOOKKEEPING = frozenset({"alembic_version"})


def _show(columns: Iterable[Any]) -> str:
    return "(" + ", ".join(str(c) for c in columns) + ")"


def _fold(name: str | None, dialect: str) -> str:
    return rules_for_dialect(dialect).fold(name or "")


class _Model:
    """What one model table declares, as sets of column tuples (names folded like the engine)."""

    def __init__(self, table: sa.Table, dialect: str) -> None:
        self.columns = {_fold(c.name, dialect): c for c in table.columns}
        self.uniques: set[frozenset[str]] = set()
        self.indexes: set[frozenset[str]] = set()
        pk = frozenset(_fold(c.name, dialect) for c in table.primary_key.columns)
        if pk:
            self.uniques.add(pk)
        for constraint in table.constraints:
            if isinstance(constraint, sa.UniqueConstraint):
                self.uniques.add(frozenset(_fold(c.name, dialect) for c in constraint.columns))
        for column in table.columns:
            if column.unique:
                self.uniques.add(frozenset({_fold(column.name, dialect)}))
            if column.index:
                self.indexes.add(frozenset({_fold(column.name, dialect)}))
        for index in table.indexes:
            cols = frozenset(_fold(c.name, dialect) for c in index.columns)
            (self.uniques if index.unique else self.indexes).add(cols)
        self.foreign_keys = {
            (frozenset(_fold(e.parent.name, dialect) for e in fk.elements),
             _fold(fk.elements[0].target_fullname.split(".")[-2], dialect))  # its table may live elsewhere
            for fk in table.foreign_key_constraints
        }
        self.checks = model_checks(table)


def extra_in_database(tables: Sequence[sa.Table], conn: sa.Connection) -> list[Problem]:
    """What the database behind ``conn`` has beyond ``tables`` (default schema and the models' schemas)."""
    dialect = conn.dialect.name
    rules = rules_for_dialect(dialect)
    inspector = sa.inspect(conn)
    ddl = compiler(conn.dialect)
    problems: list[Problem] = []
    default = conn.dialect.default_schema_name
    by_schema: dict[str | None, dict[str, sa.Table]] = {}
    for table in tables:  # a model naming the default schema ("public") lives beside unqualified ones
        schema = None if table.schema in (default, rules.catalog_default_schema or default) else table.schema
        by_schema.setdefault(schema, {})[_fold(table.name, dialect)] = table
    by_schema.setdefault(None, {})
    present = {_fold(s, dialect) for s in inspector.get_schema_names()}
    for schema, models in by_schema.items():
        if schema is not None and _fold(schema, dialect) not in present:
            continue  # validate already reports the models' tables there as missing
        for name in sorted(inspector.get_table_names(schema=schema)):
            if name in BOOKKEEPING:
                continue
            label = f"{schema}.{name}" if schema else name
            table = models.get(_fold(name, dialect))
            if table is None:
                problems.append(Problem(label, "extra_table",
                                        "the database has this table, the models do not"))
                continue
            problems += _table_extras(inspector, table, schema, name, dialect, ddl)
    return problems


def _table_extras(inspector: Any, table: sa.Table, schema: str | None, name: str, dialect: str,
                  ddl: Any) -> list[Problem]:
    model = _Model(table, dialect)
    found: list[Problem] = []

    def report(kind: str, detail: str) -> None:
        found.append(Problem(table.fullname, kind, detail))

    for col in inspector.get_columns(name, schema=schema):
        column = model.columns.get(_fold(col["name"], dialect))
        if column is None:
            report("extra_column", f"the database has column {col['name']} {col['type']}, the models do not")
            continue
        model_type = _underlying(column.type)
        live_length = getattr(col["type"], "length", None)
        model_length = getattr(model_type, "length", None)
        if (isinstance(col["type"], sa.String) and isinstance(model_type, sa.String)
                and not isinstance(model_type, sa.Enum) and live_length and model_length
                and live_length > model_length):
            report("type_mismatch", f"column {column.name}: the database has length {live_length}, "
                   f"the models say {model_length} (longer strings fit the database than the models accept)")
    fk_cols = [frozenset(_fold(c, dialect) for c in fk["constrained_columns"])
               for fk in inspector.get_foreign_keys(name, schema=schema)]
    for fk in inspector.get_foreign_keys(name, schema=schema):
        key = (frozenset(_fold(c, dialect) for c in fk["constrained_columns"]), _fold(fk["referred_table"], dialect))
        if key not in model.foreign_keys:
            report("foreign_key", f"the database has FOREIGN KEY {_show(fk['constrained_columns'])} REFERENCES "
                   f"{fk['referred_table']} {_show(fk['referred_columns'])}, the models do not")
    uniques = [(u.get("name"), u["column_names"]) for u in inspector.get_unique_constraints(name, schema=schema)]
    seen_unique = {frozenset(_fold(c, dialect) for c in cols) for _n, cols in uniques}
    for index in inspector.get_indexes(name, schema=schema):
        cols = [c for c in index["column_names"] if c is not None]
        if not cols or len(cols) != len(index["column_names"]):
            continue  # an expression index: the models' side (validate) compares those
        key = frozenset(_fold(c, dialect) for c in cols)
        if index.get("unique"):
            if key not in seen_unique:
                uniques.append((index.get("name"), cols))
                seen_unique.add(key)
            continue
        if key in model.indexes or key in model.uniques:
            continue
        if rules_for_dialect(dialect).indexes_foreign_keys and any(key == k for k in fk_cols):
            continue  # MySQL adds an index for every foreign key the models declare
        report("index", f"the database has INDEX {index.get('name') or ''} {_show(cols)}, the models do not")
    for constraint_name, cols in uniques:
        key = frozenset(_fold(c, dialect) for c in cols)
        if key not in model.uniques:
            report("unique", f"the database has UNIQUE {constraint_name or ''} {_show(cols)}, the models do not")
    found += _extra_checks(inspector, table, model, schema, name, dialect, ddl)
    return found


def _underlying(type_: Any) -> Any:
    """A TypeDecorator's implementation type (SQLModel's AutoString is one over String)."""
    while isinstance(type_, sa.types.TypeDecorator):
        type_ = type_.impl_instance
    return type_


def _extra_checks(inspector: Any, table: sa.Table, model: _Model, schema: str | None, name: str,
                  dialect: str, ddl: Any) -> list[Problem]:
    try:
        live = inspector.get_check_constraints(name, schema=schema)
    except NotImplementedError:
        return []
    wanted = [(_fold(str(c.name) if c.name else "", dialect), render(c.sqltext, ddl)) for c in model.checks]
    found = []
    for check in live:
        text = check.get("sqltext") or ""
        json_check = rules_for_dialect(dialect).json_check_function
        if json_check and json_check in text.lower():
            continue  # MariaDB's own CHECK behind every JSON column
        check_name = _fold(check.get("name"), dialect)
        if any((check_name and n == check_name) or same_sql(t, text) for n, t in wanted):
            continue
        if _is_type_bound(table, text):
            continue
        found.append(Problem(table.fullname, "check",
                             f"the database has CHECK {check.get('name') or ''} ({text}), the models do not"))
    return found


def _is_type_bound(table: sa.Table, text: str) -> bool:
    """A CHECK SQLAlchemy writes itself for a non-native Enum/Boolean column (``x IN (...)``)."""
    lowered = text.lower()
    return any(isinstance(c.type, (sa.Enum, sa.Boolean)) and c.name.lower() in lowered
               and (" in " in lowered or " in(" in lowered) for c in table.columns)


def compare_both_ways(tables: Sequence[sa.Table], conn: sa.Connection) -> list[Problem]:
    """``validate_tables`` (the models' side) and :func:`extra_in_database` (the database's side)."""
    problems = list(validate_tables(tables, conn))
    return problems + beyond_models(tables, conn, problems)


def beyond_models(tables: Sequence[sa.Table], conn: sa.Connection, reported: Sequence[Problem]) -> list[Problem]:
    """:func:`extra_in_database`, less what ``reported`` (validate's problems) already says."""
    import re

    problems: list[Problem] = []
    seen = {(p.table, p.kind, p.detail) for p in reported}
    # validate already names a NOT NULL column without default the models lack: say it once
    flagged = {(p.table, m.group(1)) for p in reported if p.kind == "extra_column"
               for m in [re.search(r'column "([^"]+)"', p.detail)] if m}
    for problem in extra_in_database(tables, conn):
        if (problem.table, problem.kind, problem.detail) in seen:
            continue
        named = re.search(r"has column (\S+)", problem.detail)
        if problem.kind == "extra_column" and named and (problem.table, named.group(1)) in flagged:
            continue
        problems.append(problem)
    return problems
