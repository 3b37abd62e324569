"""MySQL/MariaDB's live catalog from ``information_schema``, one query per property over every
schema involved (``TABLE_SCHEMA IN (...)``): columns, indexes, foreign keys with their rules,
CHECK constraints, tables (engine, collation, comment; views and MariaDB sequences are rows
there too) and triggers."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dkenv.engines.mysql import MYSQL
from dkenv.validate.live import (
    Catalog,
    LiveColumn,
    LiveForeignKey,
    LiveIndex,
    LiveObjects,
    LiveTable,
)
from dkenv.validate.readers import catalog_reader, text_of
from dkenv.validate.type_families import classify_text


def _query(conn: Connection, sql: str, schemas: list[str]) -> list[Any]:
    stmt = sa.text(sql).bindparams(sa.bindparam("schemas", expanding=True))
    return [tuple(map(text_of, row)) for row in conn.execute(stmt, {"schemas": schemas})]


def _default(default: Any, extra: str, mariadb: bool) -> str | None:
    """COLUMN_DEFAULT as DDL would write it: MariaDB quotes string literals and spells NULL as
    the word; MySQL 8 does neither (then a literal that is not an expression gets quotes)."""
    if default is None or (mariadb and str(default).upper() == "NULL"):
        text = None
    elif mariadb or "default_generated" in extra or re.fullmatch(r"-?[\d.]+", str(default)):
        text = str(default)
    else:
        text = "'" + str(default).replace("'", "''") + "'"
    match = re.search(r"on update (\S+)", extra)
    if match:
        text = f"{text or ''} on update {match.group(1)}"
    return text


def reflect_mysql(conn: Connection, schema_set: set[str]) -> tuple[Catalog, LiveObjects]:
    catalog: Catalog = defaultdict(LiveTable)
    objects = LiveObjects(supports=frozenset({"view", "trigger", "sequence"}))
    if not schema_set:
        return catalog, objects
    schemas = sorted(schema_set)
    mariadb = bool(getattr(conn.dialect, "is_mariadb", False))
    columns = _query(
        conn,
        "SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE,"
        " COLUMN_DEFAULT, EXTRA, CHARACTER_MAXIMUM_LENGTH, NUMERIC_PRECISION, NUMERIC_SCALE,"
        " COLUMN_COMMENT, COLLATION_NAME, GENERATION_EXPRESSION FROM information_schema.COLUMNS"
        " WHERE TABLE_SCHEMA IN :schemas ORDER BY ORDINAL_POSITION",
        schemas,
    )
    stats = _query(
        conn,
        "SELECT TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE, COLUMN_NAME, SUB_PART,"
        " INDEX_TYPE FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN :schemas"
        " ORDER BY TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX",
        schemas,
    )
    fks = _query(
        conn,
        "SELECT k.TABLE_SCHEMA, k.TABLE_NAME, k.CONSTRAINT_NAME, k.COLUMN_NAME,"
        " k.REFERENCED_TABLE_SCHEMA, k.REFERENCED_TABLE_NAME, k.REFERENCED_COLUMN_NAME,"
        " r.DELETE_RULE, r.UPDATE_RULE FROM information_schema.KEY_COLUMN_USAGE k"
        " JOIN information_schema.REFERENTIAL_CONSTRAINTS r"
        " ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME"
        " AND r.TABLE_NAME = k.TABLE_NAME"
        " WHERE k.TABLE_SCHEMA IN :schemas AND k.REFERENCED_TABLE_NAME IS NOT NULL",
        schemas,
    )
    if mariadb:  # MariaDB names CHECKs per table and lists the table
        check_sql = (
            "SELECT CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME, CHECK_CLAUSE"
            " FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA IN :schemas"
        )
    else:
        check_sql = (
            "SELECT t.TABLE_SCHEMA, t.TABLE_NAME, c.CONSTRAINT_NAME, c.CHECK_CLAUSE"
            " FROM information_schema.TABLE_CONSTRAINTS t JOIN information_schema.CHECK_CONSTRAINTS c"
            " ON c.CONSTRAINT_SCHEMA = t.CONSTRAINT_SCHEMA AND c.CONSTRAINT_NAME = t.CONSTRAINT_NAME"
            " WHERE t.CONSTRAINT_TYPE = 'CHECK' AND t.TABLE_SCHEMA IN :schemas"
        )
    checks = _query(conn, check_sql, schemas)
    tables = _query(
        conn,
        "SELECT TABLE_SCHEMA, TABLE_NAME, TABLE_TYPE, ENGINE, TABLE_COLLATION, TABLE_COMMENT"
        " FROM information_schema.TABLES WHERE TABLE_SCHEMA IN :schemas",
        schemas,
    )
    triggers = _query(
        conn,
        "SELECT TRIGGER_SCHEMA, TRIGGER_NAME FROM information_schema.TRIGGERS"
        " WHERE TRIGGER_SCHEMA IN :schemas",
        schemas,
    )

    for row in columns:
        (schema, table, name, data_type, column_type, nullable, default, extra, max_len,
         precision, scale, comment, collation, generation) = row
        families, width, _ = classify_text(str(data_type), "mysql")
        if str(column_type).lower().startswith("tinyint(1)"):
            families = families | {"boolean"}
        labels = None
        if str(data_type).lower() in ("enum", "set"):
            labels = frozenset(
                v.replace("''", "'") for v in re.findall(r"'((?:[^']|'')*)'", str(column_type))
            )
        extra = str(extra or "").lower()
        generated = "generated" in extra or "virtual" in extra or "stored" in extra
        catalog[(schema.lower(), table.lower())].columns[name.lower()] = LiveColumn(
            name=name,
            type_=str(column_type),
            families=families,
            nullable=str(nullable).upper() == "YES",
            has_default=default is not None or "auto_increment" in extra or generated,
            int_width=width,
            length=int(max_len) if max_len and "string" in families else None,
            enum_labels=labels,
            default=None if generated else _default(default, extra, mariadb),
            generated=(generation or "") if generated else None,
            persisted=("stored" in extra or "persistent" in extra) if generated else None,
            autoincrement="auto_increment" in extra,
            comment=comment or None,
            precision=int(precision) if precision is not None and "numeric" in families else None,
            scale=int(scale) if scale is not None and "numeric" in families else None,
            collation=collation,
        )
    grouped: dict[tuple[str, str, str], LiveIndex] = {}
    for schema, table, index, non_unique, column, sub_part, index_type in stats:
        key = (schema.lower(), table.lower(), index)
        if key not in grouped:
            kind = str(index_type or "").upper()
            grouped[key] = LiveIndex(
                name=index, columns=(), unique=not int(non_unique),
                kind=kind if kind in ("FULLTEXT", "SPATIAL") else None,
            )
        entry = grouped[key]
        entry.columns += (column.lower() if column else None,)
        if sub_part and column:
            entry.lengths[column.lower()] = int(sub_part)
    for (schema, table, index), entry in grouped.items():
        live = catalog[(schema, table)]
        if index == "PRIMARY":
            live.primary_key = frozenset(c for c in entry.columns if c)
            live.pk_name = index
        live.indexes.append(entry)
    fk_entries: dict[tuple[str, str, str], LiveForeignKey] = {}
    for schema, table, name, local, ref_schema, ref_table, remote, on_delete, on_update in fks:
        key = (schema.lower(), table.lower(), name)
        if key not in fk_entries:
            fk_entries[key] = LiveForeignKey(
                name=name, ref_schema=ref_schema.lower(), ref_table=ref_table.lower(),
                pairs=frozenset(), ondelete=on_delete, onupdate=on_update,
            )
        fk_entries[key].pairs = fk_entries[key].pairs | {(local.lower(), remote.lower())}
    for (schema, table, _), fk in fk_entries.items():
        catalog[(schema, table)].foreign_keys.append(fk)
    for schema, table, name, clause in checks:
        catalog[(schema.lower(), table.lower())].checks.append((name, clause))
    for schema, table, table_type, engine, collation, comment in tables:
        kind = str(table_type).upper()
        if kind == "VIEW":
            objects.views.add((schema.lower(), table.lower()))
        elif kind == "SEQUENCE":
            objects.sequences.add((schema.lower(), table.lower()))
        elif (schema.lower(), table.lower()) in catalog:
            live = catalog[(schema.lower(), table.lower())]
            live.comment = comment or None
            live.options = {"engine": str(engine or ""), "collation": str(collation or "")}
    for schema, name in triggers:
        objects.triggers.add((schema.lower(), name.lower()))
    for live in catalog.values():
        for name in live.primary_key:
            if name in live.columns:
                live.columns[name].nullable = False
    return catalog, objects


@catalog_reader(MYSQL)
def _read(conn: Connection, wanted: dict[str | None, list[str]], schemas: set[str],
          default_schema: str) -> tuple[Catalog, LiveObjects, set[str] | None]:
    catalog, objects = reflect_mysql(conn, {s for s in schemas if s})
    return catalog, objects, None
