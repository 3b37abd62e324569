"""Comparing a model table's keys, indexes and CHECK constraints with the live table.

Matching is by content (columns, expressions, predicate), never by name: engines name unnamed
constraints differently. Names are compared only when the model's MetaData has a
`naming_convention` (then the kit relies on them, e.g. for Alembic migrations), and then only
where the engine keeps the name (not MySQL's PRIMARY, not SQLite's automatic indexes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import UnaryExpression, _textual_label_reference
from sqlalchemy.sql.schema import DEFAULT_NAMING_CONVENTION

from dkenv.engines import Engine
from dkenv.reflect import LiveForeignKey, LiveIndex, LiveTable, fold
from dkenv.sql_normalize import engine_rewrites, normalize, render, same_sql


@dataclass
class TableContext:
    """Everything one table's comparison needs."""

    table: sa.Table
    live: LiveTable
    sa_dialect: sa.engine.Dialect
    dialect: str  # "sqlite", "postgresql", "mysql", or another dialect's name
    schema: str  # folded effective schema
    effective: Callable[[str | None], str]
    ddl: Any  # the dialect's DDL compiler
    report: Callable[[str, str], None]
    engine: Engine  # the rules of what this engine keeps (dkenv.engines)
    missing: set[str] = field(default_factory=set)  # folded columns reported missing

    @property
    def rewrites(self) -> Any:
        """What this engine rewrites in the fragments it stores (dkenv.sql_normalize)."""
        return engine_rewrites(self.dialect, self.schema)

    @property
    def named(self) -> bool:
        convention = self.table.metadata.naming_convention if self.table.metadata else None
        return bool(convention) and dict(convention) != dict(DEFAULT_NAMING_CONVENTION)

    def cols(self, columns: Iterable[Any]) -> frozenset[str]:
        return frozenset(fold(self.dialect, c.name) for c in columns)

    def name_of(self, item: Any) -> str | None:
        """The name `create_all` gives `item` on this dialect (conventions, truncation)."""
        if item.name is None:
            return None
        try:
            name = self.sa_dialect.identifier_preparer.format_constraint(
                item, _alembic_quote=False
            )
        except Exception:
            name = str(item.name)
        return fold(self.dialect, str(name)) if name else None

    def check_name(self, item: Any, live_name: str | None, what: str) -> None:
        if not self.named or live_name is None or live_name.startswith("sqlite_autoindex"):
            return
        if live_name == self.engine.fixed_primary_key_name:
            return
        want = self.name_of(item)
        if want and want != fold(self.dialect, live_name):
            self.report("name", f'{what} is named "{live_name}", the naming convention says "{want}"')


def _show(columns: Iterable[str]) -> str:
    return ", ".join(sorted(columns))


def compare_primary_key(ctx: TableContext) -> None:
    model_pk = ctx.cols(ctx.table.primary_key.columns)
    if model_pk != ctx.live.primary_key and not model_pk & ctx.missing:
        ctx.report(
            "primary_key",
            f"model primary key ({_show(model_pk) or 'none'}), database has"
            f" ({_show(ctx.live.primary_key) or 'none'})",
        )
    elif model_pk and ctx.engine.names_primary_key:
        ctx.check_name(ctx.table.primary_key, ctx.live.pk_name, "the primary key")


def _rule(value: str | None, engine: Engine) -> str:
    """The rule as the engine enforces it (MySQL: RESTRICT is NO ACTION), for comparing."""
    return engine.enforced_fk_rule((value or "NO ACTION").upper())


def _said(value: str | None) -> str:
    """The rule as the model or the catalog spells it, for quoting in a message."""
    return (value or "NO ACTION").upper()


def compare_foreign_keys(ctx: TableContext) -> None:
    for fk in sorted(
        ctx.table.foreign_key_constraints, key=lambda c: [e.parent.name for e in c.elements]
    ):
        ref_schema, ref_table, pairs = model_fk(fk, ctx.dialect, ctx.effective)
        if not ctx.engine.cross_schema_foreign_keys and ref_schema != ctx.schema:
            continue  # SQLite cannot declare FKs across attached databases; SQLAlchemy omits them
        if any(local in ctx.missing for local, _ in pairs):
            continue
        local = ", ".join(local for local, _ in sorted(pairs))
        remote = ", ".join(remote for _, remote in sorted(pairs))
        label = f"foreign key ({local}) -> {ref_schema}.{ref_table}({remote})"
        found = [
            f for f in ctx.live.foreign_keys
            if (f.ref_schema, f.ref_table, f.pairs) == (ref_schema, ref_table, pairs)
        ]
        if not found:
            ctx.report("foreign_key", f"{label} is missing")
            continue
        diffs = [_fk_diffs(fk, f, ctx.engine) for f in found]
        if all(diffs):
            ctx.report("foreign_key", f"{label}: {'; '.join(diffs[0])}")
            continue
        live_fk = found[diffs.index([])]
        if ctx.engine.names_foreign_keys:
            ctx.check_name(fk, live_fk.name, label)


def _fk_diffs(fk: sa.ForeignKeyConstraint, live: LiveForeignKey, engine: Engine) -> list[str]:
    diffs = []
    for what, model, found in (
        ("ON DELETE", fk.ondelete, live.ondelete),
        ("ON UPDATE", fk.onupdate, live.onupdate),
    ):
        if _rule(model, engine) != _rule(found, engine):
            diffs.append(f"model says {what} {_said(model)}, database has {_said(found)}")
    if engine.has_deferrable:
        model_deferrable = bool(fk.deferrable)
        if model_deferrable != bool(live.deferrable):
            diffs.append(
                f"model says {'' if model_deferrable else 'NOT '}DEFERRABLE, database has"
                f" {'' if live.deferrable else 'NOT '}DEFERRABLE"
            )
        elif model_deferrable:
            want = (fk.initially or "IMMEDIATE").upper()
            has = (live.initially or "IMMEDIATE").upper()
            if want != has:
                diffs.append(f"model says INITIALLY {want}, database has INITIALLY {has}")
    return diffs


def model_fk(
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


# --------------------------------------------------------------------------------------------
# Unique constraints and indexes


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
    if ctx.engine.has_partial_indexes:
        predicate = opts[ctx.dialect].get("where") if ctx.dialect in opts else None
        where = render(predicate, ctx.ddl) if predicate is not None else None
    if ctx.engine.has_index_methods and isinstance(item, sa.Index):
        method = opts[ctx.dialect].get("using")
    if ctx.engine.has_index_prefixes and isinstance(item, sa.Index):
        for prefix in ctx.engine.dialects:  # mysql_length=, mariadb_length=
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


# --------------------------------------------------------------------------------------------
# CHECK constraints


def model_checks(table: sa.Table) -> list[sa.CheckConstraint]:
    """The CHECKs `create_all` writes: table- and column-level, and the ones SQLAlchemy adds
    for a non-native Boolean/Enum with `create_constraint=True` (each carries the rule that
    says whether the engine gets it: a native ENUM or BOOLEAN needs none)."""
    found = [c for c in table.constraints if isinstance(c, sa.CheckConstraint)]
    for column in table.columns:
        found += [c for c in column.constraints if isinstance(c, sa.CheckConstraint)]
    unique = {id(c): c for c in found}
    return sorted(unique.values(), key=lambda c: str(c.name or ""))


def compare_checks(ctx: TableContext) -> None:
    live = list(ctx.live.checks)
    for check in model_checks(ctx.table):
        if check._create_rule is not None and not check._create_rule(ctx.ddl):
            continue
        text = render(check.sqltext, ctx.ddl)
        want = ctx.name_of(check)
        by_name = [c for c in live if want and c[0] and fold(ctx.dialect, c[0]) == want]
        if by_name:
            if not any(same_sql(text, expr, ctx.rewrites) for _, expr in by_name):
                ctx.report("check", f'CHECK "{want}": model says ({text}), database has'
                           f" ({by_name[0][1]})")
            continue
        same = [c for c in live if same_sql(text, c[1], ctx.rewrites)]
        if not same:
            label = f'CHECK "{want}" ({text})' if want else f"CHECK ({text})"
            ctx.report("check", f"{label} is missing")
        elif want:
            ctx.check_name(check, same[0][0], f"CHECK ({normalize(text)})")
