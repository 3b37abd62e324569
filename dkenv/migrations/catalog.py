"""What a database holds, as plain data, so two states can be compared: after ``upgrade head``,
after ``downgrade base`` (should be nothing), after upgrading again (should be the first).

Read through SQLAlchemy's inspector: tables with their columns, keys, indexes and CHECKs, views,
sequences and PostgreSQL enum types.  Alembic's ``alembic_version`` is left out: it is the
tool's bookkeeping, and it stays behind after ``downgrade base`` by design.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from dkenv.engines import rules_for_dialect
from dkenv.migrations.compare import BOOKKEEPING

Catalog = dict[str, Any]


def _safe(call: Any, *args: Any, **kw: Any) -> Any:
    try:
        return call(*args, **kw)
    except NotImplementedError:
        return []


def read_catalog(conn: sa.Connection) -> Catalog:
    """Every object of the default schema, each as a sorted, comparable description."""
    inspector = sa.inspect(conn)
    catalog: Catalog = {}
    for name in sorted(inspector.get_table_names()):
        if name in BOOKKEEPING:
            continue
        catalog[f"table {name}"] = {
            "columns": [(c["name"], str(c["type"]), c["nullable"], str(c.get("default"))) for c in
                        inspector.get_columns(name)],
            "primary key": sorted(inspector.get_pk_constraint(name).get("constrained_columns") or []),
            "foreign keys": sorted((tuple(f["constrained_columns"]), f["referred_table"], tuple(f["referred_columns"]),
                                    str(sorted((f.get("options") or {}).items()))) for f in
                                   inspector.get_foreign_keys(name)),
            "unique constraints": sorted(tuple(u["column_names"]) for u in inspector.get_unique_constraints(name)),
            "indexes": sorted((i.get("name") or "", tuple(str(c) for c in i["column_names"]), bool(i.get("unique")))
                              for i in inspector.get_indexes(name)),
            "checks": sorted((c.get("name") or "", c.get("sqltext") or "") for c in
                             _safe(inspector.get_check_constraints, name)),
        }
    for name in sorted(_safe(inspector.get_view_names)):
        catalog[f"view {name}"] = {}
    for name in sorted(_safe(inspector.get_sequence_names)):
        catalog[f"sequence {name}"] = {}
    if rules_for_dialect(conn.dialect.name).named_enum_types:
        for enum in inspector.get_enums():
            catalog[f"enum type {enum['name']}"] = {"labels": list(enum["labels"])}
    return catalog


def catalog_differences(first: Catalog, second: Catalog) -> list[str]:
    """One line per object or property that differs between two catalogs."""
    lines = []
    for key in sorted(set(first) | set(second)):
        if key not in second:
            lines.append(f"{key}: gone the second time")
        elif key not in first:
            lines.append(f"{key}: only the second time")
        else:
            for part in sorted(set(first[key]) | set(second[key])):
                if first[key].get(part) != second[key].get(part):
                    lines.append(f"{key}: {part} differ: {first[key].get(part)} vs {second[key].get(part)}")
    return lines
