"""What a deploy creates, and its DDL compiled for an engine before anything starts.

A datakit is deployed from its *own* ``MetaData`` (or MetaDatas), through SQLAlchemy's
create machinery, exactly as ``metadata.create_all`` would run it: DDL events of tables and
of the MetaData, standalone sequences and enums, views, naming conventions, prefixes and
dialect options all come with it.  A :class:`Unit` is one MetaData and the tables of the
datakit in it.

A table whose foreign key points into another datakit (silver into bronze) cannot be
compiled on its own: SQLAlchemy resolves the key through the MetaData.  For the time of one
compile or deploy, :func:`external_stubs` puts a minimal stand-in of the referenced table
(its name and referenced columns only) into the MetaData, and takes it out again afterwards;
the stand-in is never created.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dkenv.errors import DeployError
from dkenv.schema.carry import carried_default, carrying
from dkenv.schema.generator import run_generator

if TYPE_CHECKING:
    from dkenv.engines.base import Engine


@dataclass
class Unit:
    """One MetaData and the tables of the datakit in it (views included), in MetaData order."""

    metadata: Any
    tables: list[Any]


def metadatas_of(kit: Any) -> list[Any]:
    """Every MetaData the datakit's tables live in (``Datakit.metadatas`` once discovery has it)."""
    found = list(getattr(kit, "metadatas", None) or ([kit.metadata] if getattr(kit, "metadata", None) is not None else []))
    for table in kit.tables:
        if not any(table.metadata is md for md in found):
            found.append(table.metadata)
    return found


def kit_units(kit: Any) -> list[Unit]:
    """A datakit's units: each of its own MetaDatas, holding the datakit's own tables.

    A table class that a datakit module imports from code outside the datakit lands in the
    datakit's MetaData only because it was imported during discovery; discovery leaves it out
    of ``kit.tables``, so it is left out here too.  Views live in the MetaData as tables and
    come with it.
    """
    own = {id(t) for t in kit.tables}
    return [Unit(md, [t for t in md.tables.values() if id(t) in own or getattr(t, "is_view", False)])
            for md in metadatas_of(kit)]


def table_units(tables: Iterable[Any]) -> list[Unit]:
    """Units for bare tables (classes passed one by one): only those tables of their MetaData.

    Their MetaData may be ``SQLModel.metadata``, shared with whatever else the process
    imported, so nothing else of it is created.
    """
    units: list[Unit] = []
    for table in tables:
        unit = next((u for u in units if u.metadata is table.metadata), None)
        if unit is None:
            units.append(Unit(table.metadata, [table]))
        elif table not in unit.tables:
            unit.tables.append(table)
    return units


def plain_tables(units: Sequence[Unit]) -> list[Any]:
    """The tables (not views) of ``units``: what validation compares."""
    return [t for u in units for t in u.tables if not getattr(t, "is_view", False)]


# ---------------------------------------------------------------------------
# Foreign keys into tables of other datakits
# ---------------------------------------------------------------------------
def fk_parts(fk: Any) -> tuple[str | None, str, str]:
    """(schema, table, column) a ForeignKey points to, without resolving it."""
    parts = fk.target_fullname.split(".")
    column, table = parts[-1], parts[-2]
    schema = ".".join(parts[:-2]) or None
    return schema, table, column


def external_refs(units: Sequence[Unit]) -> dict[tuple[str | None, str], dict[str, Any]]:
    """Tables referenced by foreign keys but not in the referencing table's MetaData.

    ``{(schema, table): {column: type}}``, in first-seen order.
    """
    refs: dict[tuple[str | None, str], dict[str, Any]] = {}
    for unit in units:
        for table in unit.tables:
            for fk in table.foreign_keys:
                schema, name, column = fk_parts(fk)
                key = f"{schema}.{name}" if schema else name
                if key in unit.metadata.tables:
                    continue
                refs.setdefault((schema, name), {}).setdefault(column, fk.parent.type)
    return refs


_STUB_LOCK = threading.RLock()


@contextmanager
def external_stubs(units: Sequence[Unit]) -> Iterator[dict[tuple[str | None, str], dict[str, Any]]]:
    """Stand-ins for externally referenced tables, in each unit's MetaData for the block only."""
    from sqlalchemy import Column, Table

    refs_by_unit = [(unit, external_refs([unit])) for unit in units]
    if not any(refs for _unit, refs in refs_by_unit):
        yield {}
        return
    added: list[tuple[Any, Any]] = []
    with _STUB_LOCK:
        try:
            for unit, refs in refs_by_unit:
                for (schema, name), columns in refs.items():
                    stub = Table(name, unit.metadata, *(Column(c, t) for c, t in columns.items()), schema=schema)
                    added.append((unit, stub))
            yield {k: v for _u, refs in refs_by_unit for k, v in refs.items()}
        finally:
            for unit, stub in added:
                unit.metadata.remove(stub)
            stubs = {id(stub) for _u, stub in added}
            for unit, _stub in added:
                for table in unit.tables:
                    for fk in table.foreign_keys:
                        column = fk.__dict__.get("column")
                        if column is not None and id(column.table) in stubs:
                            del fk.__dict__["column"]  # resolve again against the real MetaData later


# ---------------------------------------------------------------------------
# Compiling before anything starts
# ---------------------------------------------------------------------------
def compile_dialect(engine_name: str, url: str | None = None) -> Any:
    """A dialect to compile with, without connecting (the URL's, or the engine's default)."""
    if url:
        from sqlalchemy.engine import make_url

        return make_url(url).get_dialect()()
    from dkenv.engines.registry import offline_dialect

    return offline_dialect(engine_name)


def compile_units(units: Sequence[Unit], dialect: Any, spec: Engine, *,
                  schema_map: dict[str, str] | None = None, sequences: bool | None = None) -> list[str]:
    """The statements ``create_all`` would run for ``units`` on ``dialect``, defaults carried.

    Raises :class:`DeployError` naming ``table.column`` for a type the engine cannot render
    and for a server default that cannot be carried.  ``sequences``: whether the engine has
    sequences (None: as the dialect says; an unconnected MySQL dialect cannot know MariaDB's).
    """
    from sqlalchemy.engine.mock import MockConnection
    from sqlalchemy.exc import CompileError, IdentifierError

    statements: list[str] = []

    def capture(sql: Any, *_args: Any, **_kw: Any) -> None:
        if isinstance(sql, str):
            statements.append(sql.strip())
            return
        statements.append(str(sql.compile(dialect=dialect, schema_translate_map=schema_map or None,
                                          render_schema_translate=bool(schema_map))).strip())

    with carrying(spec, sequences=sequences) as carry, external_stubs(units):
        for unit in units:
            if not unit.tables:
                continue
            try:
                run_generator(MockConnection(dialect, capture), unit.metadata, unit.tables, checkfirst=False)
            except (CompileError, NotImplementedError) as exc:  # a type, or a sequence on SQLite
                raise uncompilable(unit.tables, dialect, spec, exc) from None
            except IdentifierError as exc:
                raise DeployError(f"{exc} on {spec.name}",
                                  "give the table, constraint or index a shorter name") from None
    if carry.errors:
        lines = [f"{where}: {why}" for where, why in sorted(carry.errors.items())]
        raise DeployError(lines[0] if len(lines) == 1 else f"{len(lines)} server defaults cannot be carried to "
                          f"{spec.name}:\n  " + "\n  ".join(lines))
    return statements


def check_compiles(units: Sequence[Unit], dialect: Any, spec: Engine, *, sequences: bool | None = None) -> None:
    """The cheap half of :func:`compile_units`: every column's type and server default, per column.

    What makes a datakit impossible on an engine is nearly always a column: a type the
    engine lacks (ARRAY on MySQL), a default that cannot be carried (``gen_random_uuid()``
    on SQLite), a sequence where there are none.  Checking those column by column costs a
    small fraction of compiling every CREATE TABLE, which the deploy does anyway.
    """
    from sqlalchemy.exc import CompileError

    with carrying(spec, sequences=sequences) as carry:
        for unit in units:
            for table in unit.tables:
                for column in table.columns:
                    if column.type._isnull and column.foreign_keys:
                        continue  # typed from the referenced column when the key resolves
                    try:
                        dialect.type_compiler_instance.process(column.type, type_expression=column)
                        arg = getattr(column.server_default, "arg", None)
                        if arg is not None and not isinstance(arg, str):
                            arg.compile(dialect=dialect)
                    except (CompileError, NotImplementedError) as exc:
                        raise uncompilable([table], dialect, spec, exc) from None
                    if column.server_default is not None:
                        _sql, error = carried_default(column, dialect, spec, carry.sequences)
                        if error:
                            carry.errors.setdefault(f"{table.fullname}.{column.name}", error)
    if carry.errors:
        lines = [f"{where}: {why}" for where, why in sorted(carry.errors.items())]
        raise DeployError(lines[0] if len(lines) == 1 else f"{len(lines)} server defaults cannot be carried to "
                          f"{spec.name}:\n  " + "\n  ".join(lines))


def uncompilable(tables: Sequence[Any], dialect: Any, spec: Engine, exc: BaseException) -> DeployError:
    """A one-line error for the first column whose type ``dialect`` cannot render."""
    from sqlalchemy.exc import CompileError

    from dkenv.engines.compat import uncompilable_columns

    found = uncompilable_columns(tables, spec)
    if found:
        first = found[0]
        more = f" (and {len(found) - 1} more column(s))" if len(found) > 1 else ""
        return DeployError(f"cannot deploy to {spec.name}: column {first.table}.{first.column}: "
                           f"{first.message}{more}", first.fix)
    for table in tables:  # a server default the engine cannot render (a sequence on SQLite)
        for column in table.columns:
            arg = getattr(column.server_default, "arg", None)
            try:
                if arg is not None and not isinstance(arg, str):
                    arg.compile(dialect=dialect)
            except (CompileError, NotImplementedError) as error:
                return DeployError(f"column {table.fullname}.{column.name}: its server default does not compile for "
                                   f"{spec.name}: {error}", "use an autoincrement primary key or a client-side "
                                   "default_factory on engines without sequences")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DeployError(f"the datakit does not compile for {spec.name}: {first}",
                       "run `dkenv check` on the datakit for the portable spelling")


def client_side_warnings(units: Sequence[Unit], dialect: Any, spec: Engine) -> list[str]:
    """Client-side SQL defaults (``Column(default=text(...))``) this engine cannot evaluate.

    SQLAlchemy writes them into every INSERT, so they fail on the first row, not on deploy.
    """
    from dkenv.engines.compat import client_side_sql_defaults

    found = client_side_sql_defaults([t for u in units for t in u.tables], spec)
    return [*long_name_warnings(units, dialect, spec), *(f"warning: {f}" for f in found)]


def long_name_warnings(units: Sequence[Unit], dialect: Any, spec: Engine) -> list[str]:
    """Names a ``naming_convention`` made longer than the engine allows (SQLAlchemy shortens them, as
    ``create_all`` does, with a hash suffix: the database then holds a name the model does not spell)."""
    from sqlalchemy import Index
    from sqlalchemy.sql.elements import conv

    out: list[str] = []
    for unit in units:
        for table in unit.tables:
            for item in [*table.constraints, *getattr(table, "indexes", ())]:
                name = item.name
                limit = (getattr(dialect, "max_index_name_length" if isinstance(item, Index) else
                                 "max_constraint_name_length", None) or dialect.max_identifier_length)
                if isinstance(name, conv) and limit and len(name) > limit:
                    out.append(f"warning: {table.fullname}: the naming convention names {name} ({len(name)} "
                               f"characters), longer than {spec.name} allows ({limit}); SQLAlchemy shortens it "
                               f"with a hash suffix; set a shorter convention or name it explicitly")
    return out


__all__ = ["Unit", "check_compiles", "client_side_warnings", "compile_units", "compile_dialect", "external_refs", "external_stubs",
           "fk_parts", "kit_units", "metadatas_of", "plain_tables", "table_units", "uncompilable"]
