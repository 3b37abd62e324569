"""Foreign keys that form a cycle (Pagila's store.manager_staff_id ↔ staff.store_id).

Not an error: ``dkenv deploy`` (like ``metadata.create_all``) creates the tables first and adds
a cycle's keys with ALTER TABLE on PostgreSQL and MySQL; SQLite accepts them inline. It is
information, because tools that create tables one at a time (and hand-written migrations) fail
on it, and rows must be loaded in an order that satisfies both keys.

The cycles are found on the tables' names with Tarjan's algorithm over sorted nodes and edges,
so the findings never depend on ``PYTHONHASHSEED``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Table

from dkenv.check.context import CheckContext
from dkenv.check.findings import INFO

#: Engines where a one-by-one CREATE TABLE fails on a cycle (SQLite checks keys on insert only).
_ENGINES = ("postgres", "mysql")


def check_cycles(ctx: CheckContext, tables: Sequence[Table]) -> None:
    """One information finding per foreign key that closes a cycle between tables."""
    edges = _edges(tables)
    for component in strongly_connected(edges):
        if len(component) < 2:
            continue  # a self-reference is created inline by every tool
        members = set(component)
        keys = [(table, column, target) for table in component
                for column, target in edges[table] if target in members]
        path = ", ".join(f"{t}.{c} → {r}" for t, c, r in keys)
        names = " and ".join(component) if len(component) == 2 else ", ".join(component)
        for table, column, _ in keys:
            for engine in _ENGINES:
                ctx.add(
                    table, column, engine, INFO, "fk-cycle",
                    f"{names} reference each other ({path}): dkenv deploy adds these keys after "
                    "the tables (ALTER TABLE), but tools that create tables one by one fail, and "
                    "rows must be loaded in an order both keys accept",
                    "nothing for dkenv; for create_all or Alembic, mark one key "
                    "ForeignKey(..., use_alter=True), and keep one side nullable for loading",
                )


def _edges(tables: Sequence[Table]) -> dict[str, list[tuple[str, str]]]:
    """fullname → sorted [(local column, referenced fullname)] among ``tables``."""
    names = {t.fullname for t in tables}
    edges: dict[str, list[tuple[str, str]]] = {}
    for table in sorted(tables, key=lambda t: t.fullname):
        out = set()
        for fk in table.foreign_keys:
            target = fk.target_fullname.rsplit(".", 1)[0]
            if target in names and target != table.fullname:
                out.add((fk.parent.name, target))
        edges[table.fullname] = sorted(out)
    return edges


def strongly_connected(edges: dict[str, list[tuple[str, str]]]) -> list[list[str]]:
    """Tarjan's strongly connected components (iterative), each sorted, the list sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, position = work.pop()
            if position == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = [t for _, t in edges.get(node, ())]
            if position > 0:  # back from targets[position - 1]
                low[node] = min(low[node], low[targets[position - 1]])
            for i in range(position, len(targets)):
                target = targets[i]
                if target not in index:
                    work.append((node, i + 1))
                    work.append((target, 0))
                    break
                if target in on_stack:
                    low[node] = min(low[node], index[target])
            else:
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    components.append(sorted(component))
    return sorted(components)
