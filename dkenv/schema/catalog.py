"""What a deploy created, read from the catalog, and how to drop exactly that again.

A deploy runs the datakit's own DDL, events included, so it can create more than tables:
views, triggers, functions, sequences, enum types, extensions.  Rather than predicting them,
:func:`snapshot` reads the engine's catalog (one query) before and after; undo drops the
difference, newest kind first.  Objects that existed before are never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from dkenv.engines import engine_for_dialect
from dkenv.engines.base import CatalogObject

#: (kind, schema, name); kind is engine-specific ("table", "view", "type", "function", ...).
Obj = CatalogObject

#: Drop order: what depends on others first.
_ORDER = ("trigger", "view", "materialized view", "table", "foreign table", "sequence", "function",
          "procedure", "type", "extension")


def snapshot(conn: Any, schemas: Sequence[str | None] = ()) -> set[Obj]:
    """Every user object the connection's database holds (MySQL: in these schemas and the current one)."""
    return engine_for_dialect(conn.dialect.name).user_objects(conn, schemas)


def drop_objects(conn: Any, objects: Sequence[Obj], *, batch: int = 100) -> None:
    """Drop ``objects`` (created by one deploy): dependants first, foreign keys not in the way.

    ``objects`` is in creation order where known; tables are dropped newest first.  PostgreSQL
    drops with CASCADE (only objects created alongside can depend on new ones); MySQL with
    foreign key checks off; SQLite with ``PRAGMA foreign_keys`` off (a cycle of keys or
    rows left by a test would otherwise refuse the drop).  Commits every ``batch`` drops
    (PostgreSQL's lock table) and at the end.
    """
    if not objects:
        return
    engine = engine_for_dialect(conn.dialect.name)
    prep = conn.dialect.identifier_preparer
    rank = {kind: i for i, kind in enumerate(_ORDER)}
    ordered = sorted(reversed(list(objects)), key=lambda o: rank.get(o[0], len(_ORDER)))
    if conn.in_transaction():
        conn.commit()
    if engine.foreign_keys_off:
        conn.exec_driver_sql(engine.foreign_keys_off)
    try:
        for i, (kind, schema, obj) in enumerate(ordered, 1):
            sql = engine.drop_object_sql(prep, kind, schema, obj)
            if sql:
                conn.exec_driver_sql(sql)
            if i % batch == 0:
                conn.commit()
        conn.commit()
    finally:
        if engine.foreign_keys_on:
            conn.exec_driver_sql(engine.foreign_keys_on)


__all__ = ["Obj", "drop_objects", "snapshot"]
