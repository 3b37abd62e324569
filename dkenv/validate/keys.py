"""Comparing a model table's primary key and foreign keys with the live table.

Matching is by content (columns, referred table and columns), never by name: engines name
unnamed constraints differently. Names are compared only when the model's MetaData has a
`naming_convention` (then the kit relies on them, e.g. for Alembic migrations), and then only
where the engine keeps the name (not MySQL's PRIMARY).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import sqlalchemy as sa

from dkenv.engines import Engine
from dkenv.validate.context import TableContext
from dkenv.validate.live import LiveForeignKey, fold


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
    elif model_pk and ctx.rules.names_primary_key:
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
        if not ctx.rules.cross_schema_foreign_keys and ref_schema != ctx.schema:
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
        diffs = [_fk_diffs(fk, f, ctx.rules) for f in found]
        if all(diffs):
            ctx.report("foreign_key", f"{label}: {'; '.join(diffs[0])}")
            continue
        live_fk = found[diffs.index([])]
        if ctx.rules.names_foreign_keys:
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
