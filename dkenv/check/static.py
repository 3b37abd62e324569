"""The static pass of ``dkenv check``: portability traps found without any database.

`static_check` compiles each column's type and server default with each engine's SQLAlchemy
dialect (no connection) and inspects the models for the traps documented in
docs/check-traps.md. It never raises for a bad datakit — every problem becomes a `Finding` —
and it is fast enough to run before every live pass (a 300-table datakit checks in well under a
second; see benchmarks/check_static.py).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import Table

from dkenv.check.context import CheckContext
from dkenv.check.findings import ENGINES, Finding, normalize_engines, sort_findings
from dkenv.check.traps_columns import check_columns
from dkenv.check.traps_cycles import check_cycles
from dkenv.check.traps_defaults import check_client_defaults, check_defaults
from dkenv.check.traps_enums import check_enums
from dkenv.check.traps_keys import check_keys
from dkenv.check.traps_names import check_names, check_schemas


def static_check(
    tables: Sequence[Table],
    engines: Sequence[str] = ENGINES,
    *,
    known_tables: Collection[str] = (),
) -> list[Finding]:
    """Every portability trap in ``tables`` for each of ``engines``, in a stable order.

    ``tables`` are the datakit's own tables (``SQLModel`` classes' ``__table__``).
    ``engines`` accepts ``sqlite``, ``postgres``/``postgresql``, ``mysql``/``mariadb``; an
    unknown name raises ``ValueError``. ``known_tables`` holds the schema-qualified names of
    tables that other datakits in the same run define, so foreign keys into them are fine.

    The result is sorted by (table, column — table-level first, engine in matrix order, code).
    """
    ctx = CheckContext(
        tables=list(tables),
        engines=normalize_engines(engines),
        known_tables=frozenset(known_tables),
    )
    by_name = {table.fullname: table for table in ctx.tables}
    for table in ctx.tables:
        check_names(ctx, table)
        check_columns(ctx, table)
        check_defaults(ctx, table)
        check_client_defaults(ctx, table)
        check_keys(ctx, table, by_name)
    check_enums(ctx, ctx.tables)
    check_schemas(ctx, ctx.tables)
    check_cycles(ctx, ctx.tables)
    return sort_findings(ctx.findings)


def tables_with_errors(findings: Sequence[Finding], engine: str) -> set[str]:
    """Tables that the static pass already knows will not deploy on ``engine``."""
    return {f.table for f in findings if f.engine == engine and f.is_error}
