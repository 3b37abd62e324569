"""What a datakit declares beside its tables — views, triggers, sequences, extensions, enum
types and partitions (PostgreSQL: `CREATE TABLE ... PARTITION OF` in its DDL).

Views and triggers usually come from DDL events (`event.listen(table, "after_create",
DDL("CREATE VIEW ..."))`): the objects a `CREATE VIEW / TRIGGER / SEQUENCE / EXTENSION`
statement names are expected, for the events that run on the engine
(`execute_if(dialect=...)` honoured). The DDL text is not compared, only the object's presence.
MetaData-level events and standalone `Sequence(metadata=...)` objects are checked only when
every table of that MetaData is being validated (a per-table check must not report them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from dkenv.engines import rules_for_dialect
from dkenv.validate.live import LiveObjects, fold

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
