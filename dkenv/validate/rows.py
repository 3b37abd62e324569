"""Pipeline checks with rows: how many rows each table holds, and rows whose keys point nowhere.

``validate_pipeline_flow`` runs these after the schema comparison.  An orphan row is a row of
one datakit's table whose foreign key into another datakit's table (silver into bronze)
matches no row there — possible wherever the database does not enforce the key (SQLite
across attached schemas, keys a pipeline declared only in the model, checks switched off
during a load).  Both checks cost one statement per ``_PER_STATEMENT`` tables/keys, however
many rows there are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dkenv.problems import Problem

#: Tables (or foreign keys) per UNION ALL statement (SQLite allows 500 compound terms).
_PER_STATEMENT = 100


def _chunks(items: Sequence[Any], size: int = _PER_STATEMENT) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def row_counts(conn: Any, tables: Sequence[Any]) -> dict[str, int]:
    """Rows per table (schema-qualified name as the tables spell it)."""
    from sqlalchemy import func, literal, select, union_all

    counts: dict[str, int] = {}
    for part in _chunks(list(tables)):
        selects = [select(literal(i).label("i"), func.count().label("n")).select_from(t) for i, t in enumerate(part)]
        query = selects[0] if len(selects) == 1 else union_all(*selects)
        for index, count in conn.execute(query):
            counts[part[int(index)].fullname] = int(count)
    return counts


def cross_keys(groups: Sequence[Sequence[Any]]) -> list[tuple[Any, Any]]:
    """(table, ForeignKeyConstraint) for every key from one group's table into another group's."""
    owner = {t.fullname: i for i, group in enumerate(groups) for t in group}
    found = []
    for i, group in enumerate(groups):
        for table in group:
            for fk in table.foreign_key_constraints:
                parent = fk.elements[0].target_fullname.rsplit(".", 1)[0]
                if owner.get(parent, i) != i:
                    found.append((table, fk))
    return found


def orphan_problems(conn: Any, keys: Sequence[tuple[Any, Any]], name_of: Any = lambda n: n) -> list[Problem]:
    """A problem ``orphan_rows`` per foreign key with child rows that match no parent row."""
    from sqlalchemy import and_, column, exists, func, literal, select, table, union_all

    problems: list[Problem] = []
    for part in _chunks(list(keys)):
        selects = []
        for i, (child, fk) in enumerate(part):
            schema, _, name = fk.elements[0].target_fullname.rsplit(".", 1)[0].rpartition(".")
            parent_cols = [e.target_fullname.rsplit(".", 1)[-1] for e in fk.elements]
            parent = table(name, *(column(c) for c in parent_cols), schema=schema or None).alias("p")
            child_cols = [child.c[c.name] for c in fk.columns]
            match = and_(*(parent.c[p] == c for p, c in zip(parent_cols, child_cols)))
            present = and_(*(c.isnot(None) for c in child_cols))
            selects.append(select(literal(i).label("i"), func.count().label("n")).select_from(child)
                           .where(present, ~exists().where(match)))
        query = selects[0] if len(selects) == 1 else union_all(*selects)
        for index, count in conn.execute(query):
            if not count:
                continue
            child, fk = part[int(index)]
            target = fk.elements[0].target_fullname.rsplit(".", 1)[0]
            cols = ", ".join(c.name for c in fk.columns)
            problems.append(Problem(
                table=name_of(child.fullname), kind="orphan_rows",
                detail=f"{count} row(s) whose {cols} point(s) to no row of {name_of(target)}",
            ))
    return problems
