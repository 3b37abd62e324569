"""What a deploy created, read from the catalog, and how to drop exactly that again.

A deploy runs the datakit's own DDL, events included, so it can create more than tables:
views, triggers, functions, sequences, enum types, extensions.  Rather than predicting them,
:func:`snapshot` reads the engine's catalog (one query) before and after; undo drops the
difference, newest kind first.  Objects that existed before are never touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: (kind, schema, name); kind is engine-specific ("table", "view", "type", "function", ...).
Obj = tuple[str, str, str]

_PG = """
SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
       WHEN 'f' THEN 'foreign table' ELSE 'table' END, n.nspname, c.relname
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {user}
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
UNION ALL
SELECT 'type', n.nspname, t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
 WHERE (t.typtype IN ('e', 'd', 'r', 'm') OR (t.typtype = 'c' AND NOT EXISTS (
        SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c'))) AND {user}
   AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')
UNION ALL
SELECT 'function', n.nspname, p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
 WHERE {user} AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT 'extension', '', extname FROM pg_extension
"""
_PG_USER = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'"

_MY = """
SELECT CASE TABLE_TYPE WHEN 'VIEW' THEN 'view' WHEN 'SEQUENCE' THEN 'sequence' ELSE 'table' END,
       TABLE_SCHEMA, TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA IN ({schemas})
UNION ALL
SELECT LOWER(ROUTINE_TYPE), ROUTINE_SCHEMA, ROUTINE_NAME FROM information_schema.ROUTINES
 WHERE ROUTINE_SCHEMA IN ({schemas})
UNION ALL
SELECT 'trigger', TRIGGER_SCHEMA, TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA IN ({schemas})
"""

#: Drop order: what depends on others first.
_ORDER = ("trigger", "view", "materialized view", "table", "foreign table", "sequence", "function",
          "procedure", "type", "extension")


def snapshot(conn: Any, schemas: Sequence[str | None] = ()) -> set[Obj]:
    """Every user object the connection's database holds (MySQL: in these schemas and the current one)."""
    name = conn.dialect.name
    if name == "postgresql":
        return {tuple(r) for r in conn.exec_driver_sql(_PG.format(user=_PG_USER))}
    if name in ("mysql", "mariadb"):
        current = conn.exec_driver_sql("SELECT DATABASE()").scalar()
        names = sorted({s for s in (current, *schemas) if s})
        if not names:
            return set()
        quoted = ", ".join("'" + s.replace("'", "''") + "'" for s in names)
        return {tuple(r) for r in conn.exec_driver_sql(_MY.format(schemas=quoted))}
    found: set[Obj] = set()
    for (schema,) in [(r[1],) for r in conn.exec_driver_sql("PRAGMA database_list")]:
        if schema == "temp":
            continue
        rows = conn.exec_driver_sql(
            f"SELECT type, name FROM {_sqlite_q(schema)}.sqlite_master "
            "WHERE type IN ('table', 'view', 'trigger') AND substr(name, 1, 7) <> 'sqlite_'")
        found.update((kind, schema, n) for kind, n in rows)
    return found


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
    name = conn.dialect.name
    prep = conn.dialect.identifier_preparer
    rank = {kind: i for i, kind in enumerate(_ORDER)}
    ordered = sorted(reversed(list(objects)), key=lambda o: rank.get(o[0], len(_ORDER)))
    if conn.in_transaction():
        conn.commit()
    if name == "sqlite":
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
    elif name in ("mysql", "mariadb"):
        conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
    try:
        for i, (kind, schema, obj) in enumerate(ordered, 1):
            sql = _drop_sql(name, prep, kind, schema, obj)
            if sql:
                conn.exec_driver_sql(sql)
            if i % batch == 0:
                conn.commit()
        conn.commit()
    finally:
        if name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        elif name in ("mysql", "mariadb"):
            conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")


def _drop_sql(dialect: str, prep: Any, kind: str, schema: str, name: str) -> str | None:
    if dialect == "postgresql":
        if kind == "extension":
            return f"DROP EXTENSION IF EXISTS {prep.quote_identifier(name)} CASCADE"
        if kind == "function":  # name is the signature: schema-qualified unless on search_path
            qualified = name if "." in name.split("(")[0] else f"{prep.quote_identifier(schema)}.{name}"
            return f"DROP ROUTINE IF EXISTS {qualified} CASCADE"
        return f"DROP {kind.upper()} IF EXISTS {prep.quote_identifier(schema)}.{prep.quote_identifier(name)} CASCADE"
    if dialect in ("mysql", "mariadb"):
        full = f"{prep.quote_identifier(schema)}.{prep.quote_identifier(name)}"
        return f"DROP {kind.upper()} IF EXISTS {full}"
    full = f"{_sqlite_q(schema)}.{_sqlite_q(name)}"
    return f"DROP {kind.upper()} IF EXISTS {full}"


def _sqlite_q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


__all__ = ["Obj", "drop_objects", "snapshot"]
