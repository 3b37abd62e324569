"""Comparing a model table's CHECK constraints with the live table: by name where both have
one, else by the normalised expression (`normalize.same_sql`)."""

from __future__ import annotations

import sqlalchemy as sa

from dkenv.validate.context import TableContext
from dkenv.validate.live import fold
from dkenv.validate.normalize import normalize, render, same_sql


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
