"""SQLite's live catalog: the table-valued ``pragma_*`` functions joined to ``sqlite_master``
read every table at once (one query per property, whatever the table count). What only the
DDL text holds — CHECK constraints, generation expressions, DEFERRABLE, index expressions and
partial-index predicates — is parsed from ``sqlite_master.sql``, which SQLite keeps verbatim."""

from __future__ import annotations

import re
from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dkenv.engines.sqlite import SQLITE
from dkenv.validate.live import (
    Catalog,
    LiveColumn,
    LiveForeignKey,
    LiveIndex,
    LiveObjects,
    LiveTable,
)
from dkenv.validate.readers import catalog_reader
from dkenv.validate.type_families import classify_text


def split_top_level(body: str) -> list[str]:
    """`body` split on the commas outside parentheses and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(body):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`[":
            quote = "]" if ch == "[" else ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(body[start:i].strip())
            start = i + 1
    parts.append(body[start:].strip())
    return [p for p in parts if p]


def balanced(text: str, open_at: int) -> tuple[str, int]:
    """The text inside the parenthesis opening at `open_at`, and the index after it closes."""
    depth, quote = 0, ""
    for i in range(open_at, len(text)):
        ch = text[i]
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i], i + 1
    return text[open_at + 1 :], len(text)


def _unquote(name: str) -> str:
    return name.strip().strip('"`[]').lower()


def parse_table_sql(sql: str, live: LiveTable) -> None:
    """CHECKs, generation expressions, FK deferrability and the table options (WITHOUT ROWID,
    STRICT) from a CREATE TABLE text."""
    start = sql.find("(")
    if start < 0:
        return
    body, end = balanced(sql, start)
    tail = sql[end:].upper()
    live.options["with_rowid"] = "false" if re.search(r"\bWITHOUT\s+ROWID\b", tail) else "true"
    live.options["strict"] = "true" if re.search(r"\bSTRICT\b", tail) else "false"
    for item in split_top_level(body):
        head = item.split(None, 1)[0].upper() if item.split() else ""
        constraint = None
        match = re.match(r'CONSTRAINT\s+("[^"]+"|`[^`]+`|\S+)\s+', item, re.IGNORECASE)
        if match:
            constraint = _unquote(match.group(1))
        is_column = head not in ("CONSTRAINT", "CHECK", "FOREIGN", "PRIMARY", "UNIQUE")
        for found in re.finditer(r"\bCHECK\s*\(", item, re.IGNORECASE):
            expr, _ = balanced(item, found.end() - 1)
            name_match = re.search(
                r'CONSTRAINT\s+("[^"]+"|`[^`]+`|\S+)\s+$', item[: found.start()], re.IGNORECASE
            )
            live.checks.append((_unquote(name_match.group(1)) if name_match else None, expr))
        if is_column:
            column = _unquote(re.match(r'("[^"]+"|`[^`]+`|\[[^\]]+\]|\S+)', item).group(1))
            generated = re.search(r"\bAS\s*\(", item, re.IGNORECASE)
            if generated and column in live.columns and live.columns[column].generated is not None:
                live.columns[column].generated, _ = balanced(item, generated.end() - 1)
            local = frozenset({column})
        else:
            fk = re.search(r"FOREIGN\s+KEY\s*\(([^)]*)\)", item, re.IGNORECASE)
            local = frozenset(_unquote(c) for c in fk.group(1).split(",")) if fk else frozenset()
        if re.search(r"\bREFERENCES\b", item, re.IGNORECASE):
            deferrable = None
            if re.search(r"\bNOT\s+DEFERRABLE\b", item, re.IGNORECASE):
                deferrable = False
            elif re.search(r"\bDEFERRABLE\b", item, re.IGNORECASE):
                deferrable = True
            initially = re.search(r"\bINITIALLY\s+(DEFERRED|IMMEDIATE)\b", item, re.IGNORECASE)
            for fk_entry in live.foreign_keys:
                if {a for a, _ in fk_entry.pairs} == local:
                    fk_entry.deferrable = deferrable
                    fk_entry.initially = initially.group(1).upper() if initially else None
                    if constraint and not fk_entry.name:
                        fk_entry.name = constraint


def parse_index_sql(sql: str, index: LiveIndex) -> None:
    """Expressions and the WHERE predicate from a CREATE INDEX text."""
    match = re.search(r"\bON\s+(\"[^\"]+\"|`[^`]+`|\[[^\]]+\]|\S+?)\s*\(", sql, re.IGNORECASE)
    if not match:
        return
    body, end = balanced(sql, match.end() - 1)
    elements = split_top_level(body)
    if len(elements) == len(index.columns):
        index.expressions = tuple(e for e, c in zip(elements, index.columns) if c is None)
    where = re.match(r"\s*WHERE\s+(.*)$", sql[end:], re.IGNORECASE | re.DOTALL)
    index.where = where.group(1).strip() if where else None


def reflect_sqlite(conn: Connection, schemas: set[str]) -> tuple[Catalog, LiveObjects, set[str]]:
    attached = {row[1].lower() for row in conn.exec_driver_sql("PRAGMA database_list")}
    present = sorted(s for s in schemas if s in attached)
    catalog: Catalog = defaultdict(LiveTable)
    objects = LiveObjects(supports=frozenset({"view", "trigger"}))
    if not present:
        return catalog, objects, set(attached)
    quote = conn.dialect.identifier_preparer.quote_identifier
    params = {f"s{i}": schema for i, schema in enumerate(present)}

    def union(select: str) -> list[tuple]:
        parts = [select.format(p=f":s{i}", q=quote(s)) for i, s in enumerate(present)]
        return conn.execute(sa.text(" UNION ALL ".join(parts)), params).all()

    columns = union(
        'SELECT {p}, m.name, p.name, p.type, p."notnull", p.dflt_value, p.pk, p.hidden'
        " FROM {q}.sqlite_master AS m JOIN pragma_table_xinfo(m.name, {p}) AS p"
        " WHERE m.type = 'table'"
    )
    indexes = union(
        'SELECT {p}, m.name, il.name, il."unique", ii.name, il.origin'
        " FROM {q}.sqlite_master AS m JOIN pragma_index_list(m.name, {p}) AS il"
        " JOIN pragma_index_xinfo(il.name, {p}) AS ii WHERE m.type = 'table' AND ii.key = 1"
    )
    fks = union(
        'SELECT {p}, m.name, f.id, f."table", f."from", f."to", f.on_delete, f.on_update'
        " FROM {q}.sqlite_master AS m JOIN pragma_foreign_key_list(m.name, {p}) AS f"
        " WHERE m.type = 'table'"
    )
    master = union("SELECT {p}, type, name, tbl_name, sql FROM {q}.sqlite_master")

    pks: dict[tuple[str, str], list[tuple[int, str]]] = defaultdict(list)
    for schema, table, name, declared, notnull, default, pk, hidden in columns:
        if hidden == 1:
            continue  # a virtual table's hidden column
        key = (schema, table.lower())
        families, width, length = classify_text(declared or "", "sqlite")
        numeric = re.search(r"\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\)", declared or "")
        rowid = bool(pk) and (declared or "").strip().upper() == "INTEGER"
        catalog[key].columns[name.lower()] = LiveColumn(
            name=name,
            type_=declared or "(none)",
            families=families,
            nullable=not notnull and not pk,
            has_default=default is not None or rowid or hidden in (2, 3),
            int_width=width,
            length=length,
            default=default,
            generated="" if hidden in (2, 3) else None,
            persisted=(hidden == 3) if hidden in (2, 3) else None,
            autoincrement=rowid,
            precision=int(numeric.group(1)) if numeric and "numeric" in families else None,
            scale=int(numeric.group(2) or 0) if numeric and "numeric" in families else None,
        )
        if pk:
            pks[key].append((pk, name.lower()))
    for key, cols in pks.items():
        catalog[key].primary_key = frozenset(name for _, name in sorted(cols))
    grouped: dict[tuple[str, str, str], LiveIndex] = {}
    for schema, table, index, unique, column, origin in indexes:
        key = (schema, table.lower(), index)
        entry = grouped.setdefault(key, LiveIndex(name=index, columns=(), unique=bool(unique)))
        entry.columns += (column.lower() if column else None,)
        if origin == "pk":
            entry.name = None
    fk_pairs: dict[tuple[str, str, int], tuple[str, list, str, str]] = {}
    for schema, table, fk_id, referred, local, remote, on_delete, on_update in fks:
        entry = fk_pairs.setdefault(
            (schema, table.lower(), fk_id), (referred.lower(), [], on_delete, on_update)
        )
        entry[1].append((local.lower(), remote.lower() if remote else None))
    for (schema, table, _), (referred, pairs, on_delete, on_update) in fk_pairs.items():
        if any(remote is None for _, remote in pairs):  # REFERENCES t without columns: its PK
            referred_pk = sorted(catalog.get((schema, referred), LiveTable()).primary_key)
            pairs = [(local, remote) for (local, _), remote in zip(pairs, referred_pk)]
        catalog[(schema, table)].foreign_keys.append(
            LiveForeignKey(None, schema, referred, frozenset(pairs), on_delete, on_update)
        )
    index_sql: dict[tuple[str, str], str] = {}
    for schema, kind, name, table, sql in master:
        if kind == "table" and sql and (schema, table.lower()) in catalog:
            catalog[(schema, table.lower())].sql = sql
            parse_table_sql(sql, catalog[(schema, table.lower())])
        elif kind == "index" and sql:
            index_sql[(schema, name)] = sql
        elif kind == "view":
            objects.views.add((schema, name.lower()))
        elif kind == "trigger":
            objects.triggers.add((schema, name.lower()))
    for (schema, table, index), entry in grouped.items():
        if (schema, index) in index_sql:
            parse_index_sql(index_sql[(schema, index)], entry)
        catalog[(schema, table)].indexes.append(entry)
    for live in catalog.values():  # the rowid alias: the only key, in a table with a rowid
        if len(live.primary_key) != 1 or live.options.get("with_rowid") == "false":
            for column in live.columns.values():
                column.autoincrement = False
    return catalog, objects, set(attached)


@catalog_reader(SQLITE)
def _read(conn: Connection, wanted: dict[str | None, list[str]], schemas: set[str],
          default_schema: str) -> tuple[Catalog, LiveObjects, set[str] | None]:
    return reflect_sqlite(conn, schemas)
