"""What a datakit declares beside its tables — views, triggers, sequences, extensions, enum
types and partitions (PostgreSQL: `CREATE TABLE ... PARTITION OF` in its DDL) — and the table
options its tables set (MySQL engine, charset, collation; PostgreSQL UNLOGGED, INHERITS,
PARTITION BY; SQLite WITHOUT ROWID, STRICT).

Views and triggers usually come from DDL events (`event.listen(table, "after_create",
DDL("CREATE VIEW ..."))`): the objects a `CREATE VIEW / TRIGGER / SEQUENCE / EXTENSION`
statement names are expected, for the events that run on the engine
(`execute_if(dialect=...)` honoured). The DDL text is not compared, only the object's presence.
MetaData-level events and standalone `Sequence(metadata=...)` objects are checked only when
every table of that MetaData is being validated (a per-table check must not report them).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from dkenv.engines import Engine, rules_for_dialect
from dkenv.engines.mysql import MYSQL
from dkenv.engines.postgres import POSTGRES
from dkenv.engines.sqlite import SQLITE
from dkenv.reflect import LiveObjects, LiveTable, fold
from dkenv.sql_normalize import normalize

_NAME = r'(?:"[^"]+"|`[^`]+`|[\w$]+)(?:\.(?:"[^"]+"|`[^`]+`|[\w$]+))?'
_PARTITION = re.compile(
    rf"\bCREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?({_NAME})\s+PARTITION\s+OF\s+"
    rf"({_NAME})",
    re.IGNORECASE,
)
_CREATE = re.compile(
    r"\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:TEMP(?:ORARY)?\s+)?(?:MATERIALIZED\s+)?"
    r"(?:CONSTRAINT\s+)?(VIEW|TRIGGER|SEQUENCE|EXTENSION)\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r'((?:"[^"]+"|`[^`]+`|[\w$]+)(?:\.(?:"[^"]+"|`[^`]+`|[\w$]+))?)',
    re.IGNORECASE,
)


def _runs_on(ddl: Any, target: Any, compiler: Any) -> bool:
    condition = getattr(ddl, "_ddl_if", None)
    if condition is None:
        return True
    if condition.dialect is not None:
        names = {condition.dialect} if isinstance(condition.dialect, str) else set(
            condition.dialect
        )
        if not names & set(rules_for_dialect(compiler.dialect.name).dialects):
            return False  # mysql_ and mariadb_ conditions both run on either
    if condition.callable_ is not None:
        try:
            return bool(condition._should_execute(ddl, target, None, compiler=compiler))
        except Exception:
            return True  # a condition that needs a connection: expect the object
    return True


def _declared(target: Any, events: Iterable[Any], compiler: Any) -> list[tuple[str, str | None,
                                                                                  str]]:
    """(kind, schema or None, name) of the objects the DDL listeners on `target` create."""
    found = []
    for listener in events:
        if not isinstance(listener, sa.schema.ExecutableDDLElement) or not hasattr(
            listener, "statement"
        ):
            continue
        if not _runs_on(listener, target, compiler):
            continue
        statement = str(listener.statement)
        if isinstance(target, sa.Table):
            statement = statement.replace("%(table)s", target.name).replace(
                "%(schema)s", target.schema or ""
            ).replace("%(fullname)s", target.fullname)
        for kind, qualified in _CREATE.findall(statement):
            found.append((kind.lower(), *_split(qualified)))
        for qualified, _parent in _PARTITION.findall(statement):
            found.append(("partition", *_split(qualified)))
    return found


def _split(qualified: str) -> tuple[str | None, str]:
    parts = [p.strip('"`') for p in qualified.split(".")]
    return (parts[0], parts[1]) if len(parts) == 2 else (None, parts[0])


def table_objects(table: sa.Table, compiler: Any) -> list[tuple[str, str | None, str]]:
    return _declared(
        table, list(table.dispatch.before_create) + list(table.dispatch.after_create), compiler
    )


def metadata_objects(metadata: sa.MetaData, compiler: Any) -> list[tuple[str, str | None, str]]:
    found = _declared(
        metadata,
        list(metadata.dispatch.before_create) + list(metadata.dispatch.after_create),
        compiler,
    )
    # Enum types no column uses (`Enum(metadata=)`); a column's enum is compared as its type,
    # wherever the deploy put it
    used = {getattr(c.type, "name", None) for t in metadata.tables.values() for c in t.columns}
    for listener in list(metadata.dispatch.before_create):
        owner = getattr(getattr(listener, "func", listener), "__self__", None)
        if isinstance(owner, sa.Enum) and owner.native_enum and owner.name not in used | {None}:
            found.append(("enum", owner.schema or metadata.schema, owner.name))
    if compiler.dialect.supports_sequences:
        sequences = list(metadata._sequences.values())
        for table in metadata.tables.values():
            sequences += [
                c.default for c in table.columns if isinstance(c.default, sa.Sequence)
            ]
        for seq in sequences:
            if not getattr(seq, "optional", False) or not compiler.dialect.sequences_optional:
                found.append(("sequence", seq.schema, seq.name))
    return found


def compare_objects(
    tables: Sequence[sa.Table], live: LiveObjects, compiler: Any, dialect: str, effective: Any
) -> list[tuple[str, str, str]]:
    """(problem table, kind, detail) for every declared object the database lacks."""
    problems = []
    wanted: list[tuple[str, tuple[str, str | None, str]]] = []
    for table in tables:
        wanted += [(table.fullname, obj) for obj in table_objects(table, compiler)]
    names = {t.fullname for t in tables}
    for metadata in {id(t.metadata): t.metadata for t in tables}.values():
        if set(metadata.tables) <= names:
            wanted += [(obj[2], obj) for obj in metadata_objects(metadata, compiler)]
    holders = {
        "view": live.views, "trigger": live.triggers, "sequence": live.sequences,
        "enum": live.enums, "partition": set(live.partitions),
    }
    seen = set()
    for owner, (kind, schema, name) in wanted:
        if kind not in live.supports or (owner, kind, schema, name) in seen:
            continue
        seen.add((owner, kind, schema, name))
        if kind == "extension":
            if name.lower() not in {e.lower() for e in live.extensions}:
                problems.append((owner, "extension", f'extension "{name}" is not installed'))
            continue
        key = (effective(schema), fold(dialect, name))
        if key not in holders[kind]:
            where = f' in schema "{key[0]}"' if key[0] else ""
            problems.append((owner, kind, f'{kind} "{name}"{where} is missing'))
    return problems


#: The table options each engine keeps, by the engine's dialect name.
_TABLE_OPTIONS: dict[str, Callable[[sa.Table, LiveTable], list[tuple[str, str]]]] = {}


def _table_options(engine: Engine) -> Callable[[Any], Any]:
    def register(compare: Any) -> Any:
        _TABLE_OPTIONS[engine.dialect] = compare
        return compare

    return register


def _charset(collation: str) -> str:
    return collation.split("_", 1)[0].lower()


def _alias(charset: str) -> str:
    return {"utf8": "utf8mb3"}.get(charset.lower(), charset.lower())


def _postgres_options(table: sa.Table, live: LiveTable) -> list[tuple[str, str]]:
    """INHERITS parents and the PARTITION BY key, compared when the model sets them."""
    problems = []
    options = table.dialect_options["postgresql"]
    inherits = options.get("inherits")
    if inherits:
        wanted = [inherits] if isinstance(inherits, str) else list(inherits)
        parents = [p for p in live.options.get("inherits", "").split(",") if p]
        for parent in wanted:
            name = str(getattr(parent, "fullname", parent))
            if not any(_same_relation(name, p, table.schema) for p in parents):
                has = ", ".join(p.split(".", 1)[1] for p in parents) or "no parent"
                problems.append(("table_option", f"the table inherits from {has}, the model"
                                 f" says INHERITS ({name})"))
    partition_by = options.get("partition_by")
    if partition_by:
        has_key = live.options.get("partition_by")
        if has_key is None:
            problems.append(("table_option", "the table is not partitioned, the model says"
                             f" PARTITION BY {partition_by}"))
        elif normalize(has_key) != normalize(partition_by):
            problems.append(("table_option", f"the table is partitioned by {has_key}, the model"
                             f" says PARTITION BY {partition_by}"))
    return problems


def _same_relation(model: str, live: str, schema: str | None) -> bool:
    """`model` (as written: "parent" or "schema.parent") names the live "schema.name"."""
    live_schema, live_name = live.split(".", 1)
    parts = [p.strip('"') for p in model.split(".")]
    if len(parts) == 2:
        return (parts[0], parts[1]) == (live_schema, live_name)
    return parts[0] == live_name


@_table_options(SQLITE)
def _sqlite_options(table: sa.Table, live: LiveTable) -> list[tuple[str, str]]:
    """WITHOUT ROWID and STRICT, compared when the model sets them."""
    problems = []
    options = table.dialect_options["sqlite"]
    if options.get("with_rowid", True) is False and live.options.get("with_rowid") != "false":
        problems.append(("table_option", "the table has a rowid, the model says WITHOUT ROWID"))
    if options.get("strict") and live.options.get("strict") != "true":
        problems.append(("table_option", "the table is not STRICT, the model says STRICT"))
    return problems


def compare_table_options(
    table: sa.Table, live: LiveTable, dialect: str
) -> list[tuple[str, str]]:
    """MySQL/MariaDB engine, default charset and collation, where the model sets them;
    PostgreSQL UNLOGGED (a table prefix), INHERITS and PARTITION BY; SQLite WITHOUT ROWID
    and STRICT. Nothing on other dialects."""
    compare = _TABLE_OPTIONS.get(rules_for_dialect(dialect).dialect)
    return compare(table, live) if compare is not None else []


@_table_options(POSTGRES)
def _postgres_table_options(table: sa.Table, live: LiveTable) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    want = "UNLOGGED" in (p.upper() for p in table._prefixes)
    has = live.options.get("persistence") == "unlogged"
    if want != has:
        problems.append(("table_option", f"the table is {'UNLOGGED' if has else 'logged'},"
                         f" the model says {'UNLOGGED' if want else 'logged'}"))
    return problems + _postgres_options(table, live)


@_table_options(MYSQL)
def _mysql_options(table: sa.Table, live: LiveTable) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    kw = {k.split("_", 1)[1].replace(" ", "_"): v for k, v in table.kwargs.items()
          if k.startswith(("mysql_", "mariadb_"))}
    engine = kw.get("engine")
    if engine and live.options.get("engine", "").lower() != str(engine).lower():
        problems.append(("table_option", f"engine {live.options.get('engine')}, the model says"
                         f" {engine}"))
    collation = live.options.get("collation", "")
    charset = kw.get("charset") or kw.get("default_charset")
    if charset and collation and _alias(_charset(collation)) != _alias(str(charset)):
        problems.append(("table_option", f"default charset {_charset(collation)}, the model"
                         f" says {charset}"))
    collate = kw.get("collate")
    if collate and collation and collation.lower() != str(collate).lower():
        problems.append(("table_option", f"collation {collation}, the model says {collate}"))
    return problems
