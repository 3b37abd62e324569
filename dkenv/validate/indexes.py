"""Comparing a model table's unique constraints and indexes with the live table.

Matching is by shape (columns or expressions, in order for expressions), never by name; then
the properties the model sets: unique, partial-index predicate, method, MySQL prefix lengths
and FULLTEXT. Names are compared only under a naming convention, and not for SQLite's
automatic indexes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import UnaryExpression, _textual_label_reference

from dkenv.validate.context import TableContext
from dkenv.validate.live import LiveIndex, fold
from dkenv.validate.normalize import render, same_sql


@dataclass
class ModelIndex:
    item: Any  # the UniqueConstraint or Index
    columns: tuple[str | None, ...]  # folded; None for an expression
    expressions: tuple[str, ...]  # rendered expressions, in order
    unique: bool
    where: str | None
    method: str | None
    lengths: dict[str, int]
    kind: str | None


def _model_index(item: Any, ctx: TableContext) -> ModelIndex:
    columns: list[str | None] = []
    expressions: list[str] = []
    elements = item.expressions if isinstance(item, sa.Index) else list(item.columns)
    for element in elements:
        if isinstance(element, str):
            element = ctx.table.c[element]
        while isinstance(element, UnaryExpression):  # DESC / NULLS FIRST: engines list
            inner = element.element  # the column itself
            if isinstance(inner, _textual_label_reference) and inner.element in ctx.table.c:
                inner = ctx.table.c[inner.element]  # desc("name")
            if not isinstance(inner, (sa.Column, UnaryExpression)):
                break
            element = inner
        if isinstance(element, sa.Column):
            columns.append(fold(ctx.dialect, element.name))
        else:
            columns.append(None)
            expressions.append(render(element, ctx.ddl))
    opts = item.dialect_options
    where = None
    method = None
    lengths: dict[str, int] = {}
    kind = None
    if ctx.rules.has_partial_indexes:
        predicate = opts[ctx.dialect].get("where") if ctx.dialect in opts else None
        where = render(predicate, ctx.ddl) if predicate is not None else None
    if ctx.rules.has_index_methods and isinstance(item, sa.Index):
        method = opts[ctx.dialect].get("using")
    if ctx.rules.has_index_prefixes and isinstance(item, sa.Index):
        for prefix in ctx.rules.dialects:  # mysql_length=, mariadb_length=
            length = opts[prefix].get("length") if prefix in opts else None
            if isinstance(length, int):
                lengths = {c: length for c in columns if c}
            elif isinstance(length, dict):
                lengths = {fold(ctx.dialect, k): v for k, v in length.items()}
            kind = (opts[prefix].get("prefix") if prefix in opts else None) or kind
    return ModelIndex(
        item, tuple(columns), tuple(expressions), bool(getattr(item, "unique", True)), where,
        method, lengths, kind.upper() if kind else None,
    )


def _same_shape(model: ModelIndex, live: LiveIndex, rewrites: Any = ()) -> bool:
    if None in model.columns:
        if len(model.columns) != len(live.columns):
            return False
        if [c is None for c in model.columns] != [c is None for c in live.columns]:
            return False
        if [c for c in model.columns if c] != [c for c in live.columns if c]:
            return False
        return len(model.expressions) == len(live.expressions) and all(
            same_sql(m, lv, rewrites) for m, lv in zip(model.expressions, live.expressions)
        )
    return None not in live.columns and frozenset(model.columns) == frozenset(live.columns)


def _index_diffs(model: ModelIndex, live: LiveIndex, rewrites: Any = ()) -> list[str]:
    diffs = []
    if model.unique and not live.unique:
        diffs.append("it is not unique")
    if model.where is None and live.where is not None:
        diffs.append(f"it is partial (WHERE {live.where})")
    elif model.where is not None and live.where is None:
        diffs.append(f"it has no WHERE {model.where}")
    elif model.where is not None and not same_sql(model.where, live.where, rewrites):
        diffs.append(f"its predicate is WHERE {live.where}, the model says WHERE {model.where}")
    if (model.method or "btree").lower() != (live.method or "btree").lower():
        diffs.append(f"it uses {live.method or 'btree'}, the model says {model.method or 'btree'}")
    if (model.kind or "") != (live.kind or ""):
        diffs.append(f"it is {live.kind or 'a plain index'}, the model says {model.kind or 'plain'}")
    elif model.kind != "FULLTEXT" and model.lengths and model.lengths != live.lengths:
        diffs.append(f"prefix lengths {live.lengths or 'none'}, the model says"
                     f" {model.lengths or 'none'}")
    return diffs


def compare_indexes(ctx: TableContext) -> None:
    """Unique constraints and indexes: each must be matched by a live index of the same shape
    (columns or expressions) and properties (unique, predicate, method, prefix lengths)."""
    pk = LiveIndex(None, tuple(sorted(ctx.live.primary_key)), True)
    items: list[Any] = sorted(
        (c for c in ctx.table.constraints if isinstance(c, sa.UniqueConstraint)),
        key=lambda c: sorted(col.name for col in c.columns),
    ) + sorted(ctx.table.indexes, key=lambda i: [str(e) for e in i.expressions])
    for item in items:
        model = _model_index(item, ctx)
        if {c for c in model.columns if c} & ctx.missing or not model.columns:
            continue
        what = "unique constraint" if isinstance(item, sa.UniqueConstraint) else (
            "unique index" if model.unique else "index")
        shape = (
            ", ".join(c or e for c, e in zip(model.columns, _pad(model)))
        )
        kind = "unique" if model.unique else "index"
        candidates = [ix for ix in ctx.live.indexes if _same_shape(model, ix, ctx.rewrites)]
        plain = None not in model.columns and model.where is None and not model.kind
        if plain and not model.lengths and (model.method or "btree") == "btree" and (
            _same_shape(model, pk)
        ):
            continue  # the primary key serves it
        if not candidates:
            ctx.report(kind, f"{what} on ({shape}) is missing")
            continue
        diffs = [_index_diffs(model, ix, ctx.rewrites) for ix in candidates]
        if not model.unique and plain:  # any unique index on the columns serves a plain one
            diffs = [[d for d in ds if d != "it is not unique"] for ds in diffs]
        if all(diffs):
            best = next(
                (i for i, ix in enumerate(candidates)
                 if ix.name and ctx.name_of(item) == fold(ctx.dialect, ix.name)), 0,
            )
            ctx.report(kind, f"{what} on ({shape}): {'; '.join(diffs[best])}")
            continue
        matched = [ix for ix, ds in zip(candidates, diffs) if not ds]
        want = ctx.name_of(item)
        if ctx.named and want and not any(
            ix.name and fold(ctx.dialect, ix.name) == want for ix in matched
        ):
            ctx.check_name(item, matched[0].name, f"{what} on ({shape})")


def _pad(model: ModelIndex) -> list[str]:
    expressions = iter(model.expressions)
    return [next(expressions, "?") if c is None else "" for c in model.columns]
