"""Deploy datakits to a target, and undo a deploy (validate and clean up: :mod:`~dkenv.deploy.deployed`).

A datakit is deployed from its own MetaData through SQLAlchemy's ``create_all`` machinery
(:mod:`dkenv.schema.generator`), so DDL events, sequences, enums, views, naming conventions
and foreign-key cycles come out as ``create_all`` makes them; never ``SQLModel.metadata``'s
other tables.  Server defaults are carried to each engine by a compile hook (``now()``
becomes ``CURRENT_TIMESTAMP`` on SQLite and MySQL), schemas are created the way each engine
holds them (renamed through ``schema_translate_map`` for MySQL isolated databases), foreign
keys into tables outside the datakit resolve against the live target, and what a deploy
created is read from the catalog so that undo and cleanup drop exactly that.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from dkenv.config import Target
from dkenv.deploy.probes import MISSING_TABLE, probe_server_defaults, probe_views
from dkenv.engines import describe_db_error, engine_for_dialect
from dkenv.errors import DeployError
from dkenv.results import DeployResult
from dkenv.schema import (
    Inputs,
    Unit,
    carrying,
    check_compiles,
    check_enums,
    client_side_warnings,
    compile_dialect,
    compile_units,
    drop_objects,
    engine_spec_of,
    ensure_extensions,
    external_refs,
    external_stubs,
    fk_parts,
    inputs_of,
    needed_extensions,
    plain_tables,
    run_generator,
    schema_map_of,
    snapshot,
)
from dkenv.servers.runtime import Deployment, TargetRuntime, Where, runtime_for, target_of


# ---------------------------------------------------------------------------
# Compile first: nothing starts for a datakit that cannot be created on the engine
# ---------------------------------------------------------------------------
def precompile(items: Any, target_config: Target) -> list[str]:
    """Compile every datakit for the target's engine before any server or connection starts.

    A container target gets its whole DDL compiled (no container for a datakit that cannot be
    created); other targets every column's type and default (the deploy compiles the DDL on
    the live dialect anyway, and compiling it twice would double its cost).  Raises :class:`DeployError` (exit 1) for an engine-only type (naming ``table.column``) or
    a server default that cannot be carried; returns warnings for client-side SQL defaults the
    engine cannot evaluate.  Uses the target's URL dialect, or the engine's default one.
    """
    inputs = items if isinstance(items, Inputs) else inputs_of(items)
    spec = target_config.engine
    dialect = compile_dialect(spec.name, target_config.url or None)
    spec = engine_for_dialect(dialect.name)
    # An unconnected MySQL dialect does not know whether the server (MariaDB) has sequences.
    sequences = spec.offline_sequences
    with _gc_paused():
        if target_config.kind == "container":  # all of the DDL: a container costs seconds, this a fraction
            compile_units(inputs.units, dialect, spec, schema_map=schema_map_of(target_config), sequences=sequences)
        else:  # every column; the deploy compiles the rest on the live dialect, and undoes itself on failure
            check_compiles(inputs.units, dialect, spec, sequences=sequences)
        return client_side_warnings(inputs.units, dialect, spec)


# ---------------------------------------------------------------------------
# Deploy
# ---------------------------------------------------------------------------
def deploy_data_objects(table_classes: Any, target_config: Where, *, probe_defaults: bool = True,
                        precompiled: list[str] | None = None) -> DeployResult:
    """Create the tables of ``table_classes`` (classes, a Datakit or a path) in the target
    (a Target, or the TargetRuntime a job holds: :mod:`dkenv.servers.runtime`).

    The datakit's own MetaData is created the way ``create_all`` creates it (DDL events,
    sequences, enums, views, foreign-key cycles as ALTER TABLE).  Tables that already exist
    are reported in ``existing`` and left alone.  A failure removes what this call created,
    and nothing else, and raises :class:`DeployError`.  ``precompiled``: the warnings of a
    :func:`precompile` the caller already ran for this target (a job compiles each datakit once).
    """

    started = time.perf_counter()
    inputs = inputs_of(table_classes)
    target = target_of(target_config)
    warnings = (precompile(inputs, target)  # before any container or connection
                if precompiled is None else list(precompiled))
    rt = runtime_for(target_config)
    with _gc_paused():
        deployment = _deploy(rt, inputs, schema_map_of(target), probe_defaults=probe_defaults)
    rt.deployments.append(deployment)
    deployed = [t.fullname for t in deployment.tables]
    created = [t.fullname for t in deployment.created if not getattr(t, "is_view", False)]
    return DeployResult(
        success=True,
        target=target.name,
        datakits=inputs.names,
        tables=deployed,
        created=created,
        existing=[n for n in deployed if n not in created],
        schemas_created=list(deployment.schemas_created),
        warnings=warnings,
        duration_s=time.perf_counter() - started,
    )


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Compiling DDL allocates a compiler per statement; with a large datakit's objects alive, the
    cyclic GC rescans them over and over (a third of a 1000-table deploy on sqlite_memory).
    SQLAlchemy's warnings while compiling DDL are silenced too (no library noise on stderr)."""
    import warnings

    from sqlalchemy.exc import SAWarning

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        with warnings.catch_warnings():  # SQLAlchemy's DDL notes (Computed STORED...) are not the user's news
            warnings.simplefilter("ignore", SAWarning)
            yield
    finally:
        if was_enabled:
            gc.enable()


def deploy_datakits(datakits: Sequence[Any], target_config: Where, **kw: Any) -> list[DeployResult]:
    """Deploy several datakits in the order given (bronze before silver)."""
    return [deploy_data_objects(kit, target_config, **kw) for kit in datakits]


def _table_error(table: Any, exc: Any, engine_name: str) -> DeployError:
    statement = (getattr(exc, "statement", None) or "").lstrip()
    head = statement.split(None, 3)[:3]
    message = describe_db_error(exc)
    upper = statement.upper()
    own = upper.startswith(("CREATE TABLE", "CREATE INDEX", "CREATE UNIQUE INDEX", "ALTER TABLE", "COMMENT ON"))
    if own or (getattr(table, "is_view", False) and upper.startswith(("CREATE VIEW", "CREATE MATERIALIZED"))):
        if "foreign key" in message.lower() or "no unique constraint" in message.lower() or "errno: 150" in message:
            hint = "a foreign key must point at a primary key or unique column of the referenced table"
        else:
            hint = "run `dkenv check` on the datakit for the portable spelling"
        return DeployError(f"table {table.fullname} failed to deploy on {engine_name}: {message}", hint)
    if MISSING_TABLE.search(message):
        hint = ("it uses a table that is not in the target yet: deploy the datakit that defines it first "
                "(Layer 3 order: bronze before silver)")
    else:
        hint = "limit engine-specific DDL to its engine with DDL(...).execute_if(dialect='postgresql')"
    return DeployError(f"table {table.fullname}: a DDL event ({' '.join(head)} ...) failed on {engine_name}: "
                       f"{message}", hint)



def _deploy(rt: TargetRuntime, inputs: Inputs, schema_map: dict[str, str], *, probe_defaults: bool) -> Deployment:
    from sqlalchemy import inspect
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    engine_spec = engine_spec_of(rt)
    units = inputs.units

    def physical(schema: str | None) -> str | None:
        return schema_map.get(schema, schema) if schema else schema

    units = _units_in_dependency_order(units)
    tables = [t for u in units for t in u.tables]
    own = {(t.schema, t.name) for t in tables}
    refs = {key: cols for key, cols in external_refs(units).items() if key not in own}
    schemas = sorted({physical(t.schema) for t in tables if t.schema} | {physical(s) for s, _n in refs if s})
    deployment = Deployment(datakits=inputs.names, metadata=[u.metadata for u in units], tables=plain_tables(units))
    deployment.schemas = schemas
    if engine_spec.attaches_schemas:  # an attached database per schema; detached again by undo
        deployment.schemas_created = rt.attach_schemas(schemas, create=True)
    failure: BaseException | None = None
    with rt.lock:
        with rt.connect() as conn:
            if schema_map:
                conn = conn.execution_options(schema_translate_map=schema_map)
            try:
                if not engine_spec.attaches_schemas:
                    for schema in schemas:
                        if not engine_spec.schema_exists(conn, schema):
                            engine_spec.create_schema(conn, schema)
                            deployment.schemas_created.append(schema)
                    conn.commit()
                deployment.before = snapshot(conn, schemas)
                present = _existing_tables(inspect(conn), [None, *schemas])
                _check_external(refs, present, physical, units)
                if engine_spec.has_extensions:
                    ensure_extensions(conn, needed_extensions(units, inputs.extensions))
                if engine_spec.named_enum_types:
                    check_enums(conn, units)
                with carrying(engine_spec) as carry, external_stubs(units):
                    for unit in units:
                        todo = [t for t in unit.tables if (physical(t.schema), t.name) not in present]
                        if todo:
                            _create_unit(conn, unit, todo, deployment, engine_spec.name)
                if carry.errors:  # precompile reports these first; a live dialect may still differ
                    where, why = sorted(carry.errors.items())[0]
                    raise DeployError(f"{where}: {why}")
                conn.commit()
                deployment.objects = _new_objects(conn, deployment)
                if probe_defaults and deployment.created:
                    probe_server_defaults(conn, deployment.created, engine_spec)
                if engine_spec.views_checked_lazily:
                    probe_views(conn, deployment)
            except (DeployError, SQLAlchemyError, KeyboardInterrupt) as exc:
                try:
                    conn.rollback()
                except DBAPIError:
                    pass
                failure = exc
        if failure is not None:  # undo on a fresh connection: this one is back in the pool
            undo(rt, deployment)
            if isinstance(failure, SQLAlchemyError):
                raise DeployError(f"deploy to {rt.target.name} failed: {describe_db_error(failure)}") from None
            raise failure
    return deployment


def _units_in_dependency_order(units: list[Unit]) -> list[Unit]:
    """MetaDatas whose tables others point into first (given order otherwise, cycles as given)."""
    if len(units) < 2:
        return units
    where = {(t.schema, t.name): i for i, u in enumerate(units) for t in u.tables}
    needs = [{where[k] for k in external_refs([u]) if k in where and where[k] != i} for i, u in enumerate(units)]
    ordered: list[int] = []

    def visit(i: int, path: set[int]) -> None:
        if i in ordered or i in path:
            return
        for j in sorted(needs[i]):
            visit(j, path | {i})
        ordered.append(i)

    for i in range(len(units)):
        visit(i, set())
    return [units[i] for i in ordered]


def _create_unit(conn: Any, unit: Unit, todo: list[Any], deployment: Deployment, engine_name: str) -> None:
    """Run SQLAlchemy's create machinery for one MetaData, exactly as ``create_all(tables=todo)``.

    Each created table is recorded; every :data:`_BATCH` tables the transaction is committed
    (PostgreSQL's ``max_locks_per_transaction`` bounds the locks one transaction may hold).
    """
    from sqlalchemy.exc import DBAPIError

    def created(table: Any) -> None:
        deployment.created.append(table)
        if len(deployment.created) % _BATCH == 0:
            conn.commit()

    def table_error(table: Any, exc: BaseException) -> None:
        if isinstance(exc, DBAPIError):
            raise _table_error(table, exc, engine_name) from None

    def fk_error(constraint: Any, exc: BaseException) -> None:
        if isinstance(exc, DBAPIError):
            cols = ", ".join(c.name for c in constraint.columns)
            raise DeployError(
                f"table {constraint.table.fullname}: foreign key ({cols}) into {constraint.referred_table.fullname} "
                f"failed to deploy on {engine_name}: {describe_db_error(exc)}",
                "a foreign key must point at a primary key or unique column of the referenced table",
            ) from None

    try:
        run_generator(conn, unit.metadata, todo, checkfirst=True, on_created=created,
                      on_table_error=table_error, on_fk_error=fk_error)
    except DBAPIError as exc:  # a MetaData-level event, sequence or type
        statement = (getattr(exc, "statement", None) or "").strip().splitlines()
        first = statement[0][:80] if statement else "?"
        message = describe_db_error(exc)
        if MISSING_TABLE.search(message):
            hint = ("it uses a table that is not in the target yet: deploy the datakit that defines it first "
                    "(Layer 3 order: bronze before silver)")
        else:
            hint = "limit engine-specific DDL to its engine with DDL(...).execute_if(dialect='postgresql')"
        raise DeployError(f"datakit {', '.join(deployment.datakits)}: {first!r} failed on {engine_name}: {message}",
                          hint) from None


#: Tables created per transaction; a failure still undoes every batch (see undo).
_BATCH = 100


def _check_external(refs: dict[Any, Any], present: set[tuple[str | None, str]], physical: Any,
                    units: Sequence[Unit]) -> None:
    """Foreign keys into tables outside the datakit: those tables must already be in the target."""
    for (schema, name), _columns in refs.items():
        if (physical(schema), name) in present:
            continue
        ref = f"{schema}.{name}" if schema else name
        table, column = next((t, fk.parent.name) for u in units for t in u.tables for fk in t.foreign_keys
                             if fk_parts(fk)[:2] == (schema, name))
        raise DeployError(
            f"table {table.fullname} has a foreign key ({column}) into {ref}, "
            f"which is neither in this datakit nor in the target",
            f"deploy the datakit that defines {ref} first (Layer 3 order: bronze before silver)",
        )


def _existing_tables(inspector: Any, schemas: Iterable[str | None]) -> set[tuple[str | None, str]]:
    present: set[tuple[str | None, str]] = set()
    for schema in schemas:
        try:
            names = [*inspector.get_table_names(schema=schema), *inspector.get_view_names(schema=schema)]
        except Exception:  # noqa: BLE001 - a schema that does not exist holds nothing
            continue
        present.update((schema, n) for n in names)
    return present


def _new_objects(conn: Any, deployment: Deployment) -> list[Any]:
    """What the deploy created, from the catalog: tables in creation order first, then the rest."""
    if deployment.before is None:
        return []
    new = snapshot(conn, deployment.schemas) - deployment.before
    position = {(t.schema, t.name): i for i, t in enumerate(deployment.created)}
    return sorted(new, key=lambda o: (position.get((o[1] if o[1] != "main" else None, o[2]), len(position)), o))


def undo(rt: TargetRuntime, deployment: Deployment) -> None:
    """Drop what ``deployment`` created (all of its objects, then its schemas), and nothing else."""
    engine_spec = engine_spec_of(rt)
    with rt.lock, rt.connect() as conn:
        objects = deployment.objects or _new_objects(conn, deployment)
        # PostgreSQL: drop the objects of a created schema too, in committed batches; one
        # DROP SCHEMA ... CASCADE over 1000 tables passes max_locks_per_transaction.
        keep_for_schema = set() if engine_spec.drops_schema_contents_first else set(
            deployment.schemas_created)
        drop_objects(conn, [o for o in objects if o[1] not in keep_for_schema])
        if not engine_spec.attaches_schemas:
            for schema in reversed(deployment.schemas_created):
                engine_spec.drop_schema(conn, schema)
        conn.commit()
    if engine_spec.attaches_schemas:
        rt.detach(deployment.schemas_created)
    deployment.created.clear()
    deployment.objects = []


def fk_target(fk: Any, table: Any = None) -> str:
    """Schema-qualified name of the table a ForeignKey points to, without resolving it."""
    schema, name, _column = fk_parts(fk)
    return f"{schema}.{name}" if schema else name
