"""What an isolated database is built from: the datakits, their compiled DDL, and schema names.

Three jobs, shared by every engine's builder in :mod:`dkenv.databases`:

* name a datakit set (:func:`kits_key`; :func:`dkenv.datakit.load_datakits` maps a path to the
  same :class:`Datakit` every time, so a pool keyed by the set is found again);
* compile the DDL a deploy would run, for one live dialect, so that a template can be keyed
  by its hash (a changed datakit gets a new template, an unchanged one is reused) and MySQL
  can replay it without re-running the deployer;
* rename schemas: MySQL holds a schema as a database of the same name, so two isolated
  databases on one server can only both hold schema ``X`` if each gets its own copy,
  ``<database>__X``.  :func:`tables_for_target` and :func:`model_table_name` are the hook
  deploy/validate call to honour a target's ``options["schema_map"]``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dkenv.datakit import Datakit
from dkenv.errors import DeployError, UsageError

if TYPE_CHECKING:
    import sqlalchemy as sa

#: Bumped when the way dkenv builds isolated databases changes, so old templates are not reused.
LAYOUT_VERSION = "2"  # 2: the datakit's own MetaData through create_all (events, sequences, views)
#: MySQL/MariaDB identifier limit (database names included).
MYSQL_NAME_MAX = 64


# ---------------------------------------------------------------------------
# Datakits (loaded by dkenv.datakit.load_datakits: a path always maps to the same Datakit)
# ---------------------------------------------------------------------------
def kits_key(kits: Sequence[Datakit]) -> tuple[str, ...]:
    """The identity of a datakit set, order included (bronze before silver is part of it)."""
    return tuple(str(kit.path) for kit in kits)


def all_tables(kits: Sequence[Datakit]) -> list[sa.Table]:
    """Every table of every datakit, in datakit order; a table claimed twice is an error."""
    from dkenv.schema.plan import kit_units

    seen: dict[str, Any] = {}
    for kit in kits:
        for table in (t for unit in kit_units(kit) for t in unit.tables):
            if table.fullname in seen and seen[table.fullname] is not table:
                raise UsageError(f"two datakits define table {table.fullname!r}",
                                 "an isolated database holds each table once; drop one datakit")
            seen[table.fullname] = table
    return list(seen.values())


def check_references(tables: Sequence[sa.Table], kits: Sequence[Datakit]) -> None:
    """Every foreign key must point into the datakit set: an isolated database starts empty."""
    own = {t.fullname for t in tables}
    for table in tables:
        for fk in table.foreign_keys:
            ref = ".".join(fk.target_fullname.split(".")[:-1])
            if ref not in own:
                names = ", ".join(kit.name for kit in kits)
                raise DeployError(
                    f"table {table.fullname} has a foreign key ({fk.parent.name}) into {ref}, "
                    f"which none of the datakits ({names}) defines",
                    f"add the datakit that defines {ref} before this one (Layer 3 order: bronze before silver)",
                )


def schemas_of(tables: Sequence[sa.Table]) -> list[str]:
    """Schemas the tables live in or point into with foreign keys."""
    found = {t.schema for t in tables if t.schema}
    for table in tables:
        for fk in table.foreign_keys:
            schema = fk.target_fullname.split(".")
            if len(schema) == 3:
                found.add(schema[0])
    return sorted(found)


# ---------------------------------------------------------------------------
# Schema renaming (MySQL: a schema is a database, so each copy needs its own)
# ---------------------------------------------------------------------------
def physical_schema(database: str, schema: str) -> str:
    """Where schema ``schema`` of isolated database ``database`` lives on MySQL.

    ``<database>__<schema>``; shortened with a hash suffix when it would pass MySQL's
    64-character limit, so any schema name fits.
    """
    name = f"{database}__{schema}"
    if len(name) <= MYSQL_NAME_MAX:
        return name
    digest = hashlib.sha1(schema.encode()).hexdigest()[:8]
    room = MYSQL_NAME_MAX - len(database) - len(digest) - 3
    return f"{database}__{schema[:max(room, 1)]}_{digest}"[:MYSQL_NAME_MAX]


def translate_tables(tables: Sequence[sa.Table], schema_map: Mapping[str, str]) -> list[sa.Table]:
    """Copies of ``tables`` (in a MetaData of their own) with schemas renamed per ``schema_map``.

    Foreign keys are renamed too, so silver's key into ``bronze.actor`` points at the renamed
    bronze.  Tables whose schema is not in the map keep it.
    """
    from sqlalchemy import MetaData

    metadata = MetaData()

    def referred(_table: Any, _to_schema: Any, _constraint: Any, referred_schema: str | None) -> str | None:
        return schema_map.get(referred_schema, referred_schema) if referred_schema else referred_schema

    copies = []
    for table in tables:
        copy = table.to_metadata(metadata, schema=schema_map.get(table.schema, table.schema) if table.schema
                                 else None, referred_schema_fn=referred)
        _keep_index_names(table, copy)
        copies.append(copy)
    return copies


def _keep_index_names(original: sa.Table, copy: sa.Table) -> None:
    """Give ``index=True`` indexes of ``copy`` the names the model gives them.

    Their conventional name embeds the schema (``ix_<schema>_<table>_<column>``); renamed, it
    would differ per database and could pass MySQL's 64-character limit.
    """
    names = {(tuple(c.name for c in ix.columns), bool(ix.unique)): ix.name for ix in original.indexes}
    for index in copy.indexes:
        name = names.get((tuple(c.name for c in index.columns), bool(index.unique)))
        if name is not None and name != index.name:
            index.name = name


def tables_for_target(tables: Sequence[sa.Table], target: Any) -> list[sa.Table]:
    """The tables as ``target`` holds them: renamed when it has a ``schema_map`` (hook for deploy).

    Deploy and validate call this on their input so that a MySQL isolated database — where
    schema ``X`` lives in database ``<db>__X`` — works with ``deploy_data_objects`` and
    ``validate_deployment`` like any other target.  Idempotent: renamed tables stay renamed.
    """
    schema_map = schema_map_of(target)
    if not schema_map:
        return list(tables)
    return translate_tables(tables, schema_map)


def model_table_name(fullname: str, target: Any) -> str:
    """A renamed table's name as the model spells it (``<db>__X.actor`` → ``X.actor``)."""
    schema_map = schema_map_of(target)
    if not schema_map or "." not in fullname:
        return fullname
    schema, _, name = fullname.rpartition(".")
    back = {v: k for k, v in schema_map.items()}
    return f"{back.get(schema, schema)}.{name}"


def user_names(text: str | None, schema_map: Mapping[str, str]) -> str | None:
    """``text`` with internal schema names mapped back (``dk_ab12_7__public.staff`` → ``public.staff``).

    For messages from a deploy into a renamed (MySQL isolated) database: the user knows their
    tables by the model's names. Whole identifiers only, longest first, quoted or not.
    """
    if not text or not schema_map:
        return text
    for user, physical in sorted(schema_map.items(), key=lambda kv: -len(kv[1])):
        text = re.sub(rf"(?<![\w$]){re.escape(physical)}(?![\w$])", lambda _m, u=user: u, text)
    return text


def schema_map_of(target: Any) -> dict[str, str]:
    """The target's schema renaming (``options["schema_map"]``): ``schema_translate_map`` for deploys."""
    options = getattr(target, "options", None) or {}
    return dict(options.get("schema_map") or {})


# ---------------------------------------------------------------------------
# Compiled DDL
# ---------------------------------------------------------------------------
def compile_ddl(kits: Sequence[Any], engine: sa.Engine, *, schema_map: Mapping[str, str] | None = None) -> list[str]:
    """The statements a deploy of ``kits`` (Datakits, or bare tables) runs on ``engine``'s live dialect.

    Each datakit's own MetaData goes through ``create_all``'s machinery (events, sequences,
    enums, cycles as ALTER TABLE), server defaults carried to the engine by the compile hook,
    schemas renamed by ``schema_map`` (SQLAlchemy's ``schema_translate_map``).  The dialect is
    the connected one (server version known), so the text is what this server would receive.
    """
    from dkenv.engines import engine_for_dialect
    from dkenv.schema.plan import compile_units, kit_units, table_units

    with engine.connect():
        pass  # initialise the dialect (server version, MariaDB or MySQL)
    units = [u for item in kits for u in (kit_units(item) if isinstance(item, Datakit) else table_units([item]))]
    spec = engine_for_dialect(engine.dialect.name)
    return compile_units(units, engine.dialect, spec, schema_map=dict(schema_map) if schema_map else None)


def ddl_key(statements: Sequence[str], *, engine: str, server_version: str) -> str:
    """A short stable hash of the DDL for one engine and server version.

    Sorted first: SQLAlchemy emits a table's indexes in set order, which varies per process.
    """
    digest = hashlib.sha256()
    for part in (LAYOUT_VERSION, engine, server_version, *sorted(statements)):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()[:16]


_CREATE_TABLE = re.compile(r"^CREATE TABLE (?P<table>.+?) \(\n")
_CREATE_INDEX = re.compile(
    r"^CREATE (?P<kind>(?:UNIQUE |FULLTEXT |SPATIAL )?)INDEX (?P<name>.+?) ON (?P<table>.+?) (?P<rest>\(.*)$",
    re.DOTALL,
)


def inline_indexes(statements: Sequence[str]) -> list[str]:
    """MySQL: fold each ``CREATE INDEX`` into its table's ``CREATE TABLE``.

    InnoDB runs every CREATE INDEX as an ALTER TABLE; on a 50-table datakit the separate
    statements took ~0.55 s of a ~0.8 s replay, folded into the tables ~0.1 s.
    """
    out: list[str] = []
    where: dict[str, int] = {}
    for sql in statements:
        index = _CREATE_INDEX.match(sql)
        if index and index["table"] in where:
            i = where[index["table"]]
            create = out[i]
            end = create.rfind("\n)")
            out[i] = f"{create[:end]}, \n\t{index['kind']}INDEX {index['name']} {index['rest']}{create[end:]}"
            continue
        table = _CREATE_TABLE.match(sql)
        if table:
            where[table["table"]] = len(out)
        out.append(sql)
    return out


_TOKEN = "dkschema{}tok"
_TOKEN_RE = re.compile(r"`?\bdkschema(\d+)tok\b`?")


def tokenized(schemas: Sequence[str]) -> dict[str, str]:
    """Placeholder schema names for DDL compiled once and replayed per database (MySQL)."""
    return {schema: _TOKEN.format(i) for i, schema in enumerate(schemas)}


def fill_tokens(statements: Sequence[str], names: Sequence[str], quote: Any) -> list[str]:
    """``statements`` with schema placeholder ``i`` replaced by the quoted ``names[i]``."""
    quoted = [quote(n) for n in names]
    return [_TOKEN_RE.sub(lambda m: quoted[int(m.group(1))], s) for s in statements]


__all__ = [
    "all_tables", "check_references", "compile_ddl", "ddl_key", "fill_tokens", "inline_indexes", "kits_key",
    "model_table_name", "physical_schema", "schema_map_of", "schemas_of", "tables_for_target", "tokenized",
    "translate_tables", "user_names",
]
