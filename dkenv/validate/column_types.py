"""Comparing a column's type with the live column's: the type family (boolean, integer,
string, ...; `type_families`), narrower integers, shorter strings, enum labels, numeric
precision and scale, PostgreSQL `timestamptz` vs `timestamp`, and extension types (CITEXT,
HSTORE) by name. What the model leaves to the engine is not compared."""

from __future__ import annotations

import sqlalchemy as sa

from dkenv.validate.context import TableContext
from dkenv.validate.live import LiveColumn
from dkenv.validate.type_families import (
    accepted_families,
    base_type_name,
    classify,
    extension_type_name,
    type_text,
)


def compare_type(ctx: TableContext, column: sa.Column, type_: sa.types.TypeEngine,
                 found: LiveColumn) -> None:
    """`column`'s type (`type_`, as the dialect sees it) against the live column's."""
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
    elif (family == "integer" and ctx.rules.compares_integer_width and width and found.int_width
          and found.int_width < width and "integer" in found.families):
        mismatch = f"model says {model_text}, database has the narrower {live_text}"
    elif (family == "string" and ctx.rules.compares_string_length and length and found.length
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
    elif family in ("datetime", "time") and ctx.rules.stores_timezone and (
        found.timezone is not None
    ):
        if bool(getattr(type_, "timezone", False)) != bool(found.timezone):
            mismatch = f"model says {model_text}, database has {live_text}"
    if mismatch:
        ctx.report("type_mismatch", f'column "{column.name}": {mismatch}')
