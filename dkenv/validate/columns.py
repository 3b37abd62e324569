"""Comparing a model table's columns with the live table's, column by column: missing columns,
extra NOT NULL columns without a default (inserts through the model fail), the type
(`column_types`), nullability, what the database fills in (`defaults`), comments, and MySQL
character sets and collations."""

from __future__ import annotations

import sqlalchemy as sa

from dkenv.validate.column_types import compare_type
from dkenv.validate.context import TableContext
from dkenv.validate.defaults import compare_default, compare_generated, compare_identity
from dkenv.validate.live import LiveColumn, fold
from dkenv.validate.type_families import model_type, type_text


def compare_columns(ctx: TableContext) -> None:
    """Every model column against its live counterpart, then the live columns the model lacks."""
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
        compare_type(ctx, column, type_, found)
        live_nullable = found.nullable and folded not in live.primary_key
        if column.nullable != live_nullable and not (
            column.computed is not None and found.generated is not None
        ):
            said, has = ("NOT NULL", "allows NULL") if live_nullable else ("NULL", "is NOT NULL")
            report("nullability", f'column "{column.name}": model says {said}, database {has}')
        compare_generated(ctx, column, found)
        compare_identity(ctx, column, found)
        compare_default(ctx, column, found)
        _compare_comment(ctx, column, found)
        _compare_collation(ctx, column, found)
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


def _compare_comment(ctx: TableContext, column: sa.Column, found: LiveColumn) -> None:
    if column.comment is not None and ctx.rules.has_comments:
        if (found.comment or "") != column.comment:
            ctx.report("comment", f'column "{column.name}": comment {found.comment!r}, the model'
                       f" says {column.comment!r}")


def _compare_collation(ctx: TableContext, column: sa.Column, found: LiveColumn) -> None:
    """MySQL/MariaDB: the character set and the collation the model's type sets."""
    name = column.name
    charset = getattr(model_type(column, ctx.sa_dialect), "charset", None)
    if charset and ctx.rules.compares_charset and found.collation and (
        found.collation.split("_", 1)[0].lower() != {"utf8": "utf8mb3"}.get(charset, charset)
    ):
        ctx.report("collation", f'column "{name}": character set'
                   f" {found.collation.split('_', 1)[0]}, the model says {charset}")
    collation = getattr(column.type, "collation", None)
    if collation and ctx.rules.compares_collation and found.collation and (
        found.collation.lower() != collation.lower()
    ):
        ctx.report("collation", f'column "{name}": collation {found.collation}, the model says'
                   f" {collation}")
