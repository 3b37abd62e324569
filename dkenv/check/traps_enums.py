"""Enum traps: one PostgreSQL type shared by tables that disagree, names versus values, SQLite.

PostgreSQL turns each ``sa.Enum`` into a named ``CREATE TYPE`` in one schema (the default
schema unless the type or its MetaData names one), MySQL into an inline ``ENUM(...)`` per column, SQLite
into a ``VARCHAR(n)`` with no check unless ``create_constraint=True``. SQLAlchemy — and so
SQLModel — stores the Python member *names*, not their values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import Column, Table
from sqlalchemy import types as sqltypes
from sqlalchemy.orm import mapperlib

from dkenv.check.context import CheckContext
from dkenv.check.findings import ERROR, WARNING
from dkenv.engines import get_engine
from dkenv.engines.registry import LABELS

PG_MAX_LABEL_BYTES = 63

def model_style(table: Table) -> str:
    """How the model owning ``table`` is written: ``"sqlmodel"``, ``"declarative"`` (a
    mapped class of any other base) or ``"table"`` (a Core ``Table``), so a fix can be
    pasted as is."""
    for registry in list(mapperlib._mapper_registries):
        for mapper in registry.mappers:
            if mapper.local_table is table:
                if any(c.__name__ == "SQLModel" and c.__module__.startswith("sqlmodel")
                       for c in mapper.class_.__mro__):
                    return "sqlmodel"
                return "declarative"
    return "table"


def enum_fix(table: Table, column: Column, real: sqltypes.Enum, option: str) -> str:
    """``Enum(TheEnum, <option>)`` in the model's own style, naming its enum class."""
    name = real.enum_class.__name__ if real.enum_class is not None else "MyEnum"
    enum = f"Enum({name}, {option})"
    style = model_style(table)
    if style == "sqlmodel":
        return f"sa_column=Column({enum})"
    if style == "declarative":
        return f"mapped_column({enum})"
    return f'Column("{column.name}", {enum})'


def check_enums(ctx: CheckContext, tables: Sequence[Table]) -> None:
    """Enum traps across all tables (a PostgreSQL type is shared by every table using it)."""
    usages: dict[tuple[str | None, str], list[tuple[Table, Column, tuple[str, ...]]]] = (
        defaultdict(list)
    )
    table_names = {(t.schema, t.name.lower()) for t in tables}
    for table in tables:
        for column in table.columns:
            for engine in ctx.engines:
                real = ctx.effective(column.type, engine)
                if not isinstance(real, sqltypes.Enum):
                    continue
                rules = get_engine(engine)
                if rules.named_enum_types and real.native_enum and real.name:
                    usages[(real.schema, real.name)].append((table, column, tuple(real.enums)))
                    _check_pg_enum(ctx, table, column, real, table_names, engine)
                elif not rules.enforces_enum_labels and not real.create_constraint:
                    ctx.add(
                        table, column.name, engine, WARNING, "enum-type",
                        f"SQLite stores this enum as VARCHAR({real.length}) with no CHECK: any "
                        "text is accepted, while PostgreSQL and MySQL reject unknown labels",
                        enum_fix(table, column, real, "create_constraint=True"),
                    )
                _check_names_vs_values(ctx, table, column, engine, real)
    _check_shared_types(ctx, usages)


def _check_pg_enum(
    ctx: CheckContext,
    table: Table,
    column: Column,
    real: sqltypes.Enum,
    table_names: set[tuple[str | None, str]],
    engine: str,
) -> None:
    # SQLAlchemy has already set ``schema`` when the type was attached to its table
    if (real.schema, real.name.lower()) in table_names:
        ctx.add(
            table, column.name, engine, ERROR, "enum-type",
            f"the enum type {real.name!r} has the name of a table, and PostgreSQL gives every "
            "table a type of the same name: CREATE TYPE fails",
            f'sa_column=Column(sa.Enum(MyEnum, name="{real.name}_kind"))',
        )
    long = [label for label in real.enums if len(label.encode()) > PG_MAX_LABEL_BYTES]
    if long:
        ctx.add(
            table, column.name, engine, ERROR, "enum-type",
            f"enum label {long[0][:20]!r}… is over PostgreSQL's {PG_MAX_LABEL_BYTES}-byte limit "
            "for enum labels: CREATE TYPE fails",
            "shorter member names (or values with values_callable)",
        )


def _check_names_vs_values(
    ctx: CheckContext, table: Table, column: Column, engine: str, real: sqltypes.Enum
) -> None:
    enum_class = real.enum_class
    if enum_class is None or real.values_callable is not None:
        return
    differ = [m for m in enum_class if str(m.value) != m.name]
    if get_engine(engine).enum_labels_fold_case:
        # MySQL compares ENUM labels case-insensitively: 'pending' is stored as 'PENDING'
        differ = [m for m in differ if str(m.value).lower() != m.name.lower()]
    if not differ:
        return
    member = differ[0]
    ctx.add(
        table, column.name, engine, WARNING, "enum-labels",
        f"{LABELS[engine]} stores the member names ({member.name!r}), not the values "
        f"({member.value!r}): rows loaded with the values by other tools "
        + ("are stored unchecked and unreadable by SQLAlchemy"
           if not get_engine(engine).enforces_enum_labels and not real.create_constraint
           else "are rejected"),
        enum_fix(table, column, real, "values_callable=lambda e: [m.value for m in e]"),
    )


def _check_shared_types(
    ctx: CheckContext,
    usages: dict[tuple[str | None, str], list[tuple[Table, Column, tuple[str, ...]]]],
) -> None:
    """One PostgreSQL type name declared with different labels: the first one wins."""
    for (schema, name), uses in usages.items():
        label_sets = {labels for _, _, labels in uses}
        if len(label_sets) < 2:
            continue
        first_table, first_column, first_labels = uses[0]
        for table, column, labels in uses:
            if labels == first_labels:
                continue
            where = f"{first_table.fullname}.{first_column.name}"
            ctx.add(
                table, column.name, "postgres", ERROR, "enum-type",
                f"PostgreSQL has one enum type {(schema + '.') if schema else ''}{name!r} per "
                f"schema, already created with other labels by {where}: this column's labels "
                f"{_preview(labels)} are rejected",
                f'sa_column=Column(sa.Enum(MyEnum, name="{table.name}_{column.name}"))',
            )


def _preview(labels: tuple[str, ...]) -> str:
    shown = ", ".join(repr(label) for label in labels[:3])
    return f"({shown}{', …' if len(labels) > 3 else ''})"
