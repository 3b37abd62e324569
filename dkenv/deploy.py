"""Deploy datakits to a target, validate them, and clean up after them.

Only the datakit's own tables are deployed (copies in a MetaData of their own, never
``SQLModel.metadata``).  Server defaults are carried to each engine (``now()`` becomes
``CURRENT_TIMESTAMP`` on SQLite and MySQL), schemas are created the way each engine holds
them, foreign keys into tables outside the datakit resolve against the live target, and
everything a deploy creates is recorded so that cleanup can undo exactly that.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dkenv.config import Target
from dkenv.datakit import Datakit, datakit_of
from dkenv.engines import describe_db_error
from dkenv.errors import DeployError, UsageError
from dkenv.runtime import Deployment, TargetRuntime, release, runtime_for
from dkenv.schema import (
    copy_for_engine,
    engine_spec_of,
    model_table_name,
    sql_of_default,
    tables_for_target,
)


class _Result:
    """Attribute access and ``result["key"]`` access, as the framework's dict results had."""

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and hasattr(self, key)


@dataclass
class DeployResult(_Result):
    success: bool
    target: str
    datakits: list[str]
    tables: list[str]
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    schemas_created: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success, "target": self.target, "datakits": self.datakits,
            "tables": self.tables, "created": self.created, "existing": self.existing,
            "schemas_created": self.schemas_created, "errors": self.errors,
            "duration_s": round(self.duration_s, 4),
        }


@dataclass
class ValidationResult(_Result):
    success: bool
    target: str
    tables: list[str]
    problems: list[Any] = field(default_factory=list)  # dkenv.validate.Problem
    duration_s: float = 0.0
    row_counts: dict[str, int] = field(default_factory=dict)  # validate_pipeline_flow: rows per table

    def __bool__(self) -> bool:
        return self.success

    def __repr__(self) -> str:
        """Readable in assertion messages: one ``table: kind: detail`` line per problem."""
        if self.success:
            return f"<ValidationResult {self.target}: {len(self.tables)} table(s), no problems>"
        lines = [f"<ValidationResult {self.target}: {len(self.problems)} problem(s)"]
        lines += [f"  {p.table}: {p.kind}: {p.detail}" for p in self.problems]
        return "\n".join(lines) + ">"

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success, "target": self.target, "tables": self.tables,
            "problems": [p.to_dict() for p in self.problems],
            "duration_s": round(self.duration_s, 4),
        } | ({"row_counts": self.row_counts} if self.row_counts else {})


# ---------------------------------------------------------------------------
# Inputs: table classes, Table objects, Datakits or paths
# ---------------------------------------------------------------------------
def _tables_of(items: Any) -> tuple[list[Any], list[str]]:
    """(Table objects, datakit names) from classes, Tables, Datakits, paths or a mix."""
    from sqlalchemy import Table

    if isinstance(items, (Datakit, str)) or not isinstance(items, Iterable):
        items = [items]
    tables: list[Any] = []
    names: list[str] = []
    modules: set[str] = set()
    for item in items:
        if isinstance(item, Table):
            tables.append(item)
        elif isinstance(item, type) and getattr(item, "__table__", None) is not None:
            tables.append(item.__table__)
            modules.add(item.__module__)
        elif isinstance(item, (Datakit, str)) or hasattr(item, "__fspath__"):
            kit = datakit_of(item)
            tables.extend(kit.tables)
            names.append(kit.name)
        else:
            raise UsageError(f"cannot deploy {item!r}: expected table classes, a Datakit or a path")
    if not tables:
        raise UsageError("nothing to deploy: no table classes given")
    if not names:  # bare classes: name them by their top-level packages
        names = sorted({m.split(".")[0] for m in modules}) or ["(tables)"]
    return unique_tables(tables), names


def unique_tables(tables: Iterable[Any]) -> list[Any]:
    """Each table once, in order; two different tables with one schema-qualified name is an error."""
    seen: dict[str, Any] = {}
    for table in tables:
        other = seen.get(table.fullname)
        if other is not None and other is not table:
            raise UsageError(f"two table classes claim table {table.fullname!r}",
                             "give one of them another __tablename__ or schema")
        seen[table.fullname] = table
    return list(seen.values())


# ---------------------------------------------------------------------------
# Deploy
# ---------------------------------------------------------------------------
def deploy_data_objects(table_classes: Any, target_config: Target, *, probe_defaults: bool = True) -> DeployResult:
    """Create the tables of ``table_classes`` (classes, a Datakit or a path) in the target.

    Tables that already exist are reported in ``existing`` and left alone.  A failure
    removes what this call created and raises :class:`DeployError`.
    """

    started = time.perf_counter()
    tables, names = _tables_of(table_classes)
    tables = tables_for_target(tables, target_config)  # an isolated MySQL database renames schemas
    rt = runtime_for(target_config)
    deployment = _deploy(rt, tables, names, probe_defaults=probe_defaults)
    rt.deployments.append(deployment)
    deployed = [model_table_name(t.fullname, target_config) for t in deployment.tables]
    created = [model_table_name(t.fullname, target_config) for t in deployment.created]
    return DeployResult(
        success=True,
        target=target_config.name,
        datakits=names,
        tables=deployed,
        created=created,
        existing=[n for n in deployed if n not in created],
        schemas_created=list(deployment.schemas_created),
        duration_s=time.perf_counter() - started,
    )


def deploy_datakits(datakits: Sequence[Any], target_config: Target, **kw: Any) -> list[DeployResult]:
    """Deploy several datakits in the order given (bronze before silver)."""
    return [deploy_data_objects(kit, target_config, **kw) for kit in datakits]


def _deploy(rt: TargetRuntime, tables: list[Any], names: list[str], *, probe_defaults: bool) -> Deployment:
    from sqlalchemy import Table, inspect
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError
    from sqlalchemy.schema import sort_tables

    engine_spec = engine_spec_of(rt)
    metadata, copies = copy_for_engine(tables, rt)
    schemas = sorted({t.schema for t in copies if t.schema} | _external_schemas(copies))
    deployment = Deployment(datakits=names, metadata=metadata, tables=[])
    if engine_spec.name == "sqlite":  # an attached database per schema; detached again by _undo
        deployment.schemas_created = rt.attach_schemas(schemas, create=True)
    with rt.lock, rt.connect() as conn:
        try:
            # Schemas (PostgreSQL schemas, MySQL databases); SQLite attached them above.
            if engine_spec.name != "sqlite":
                for schema in schemas:
                    if not engine_spec.schema_exists(conn, schema):
                        engine_spec.create_schema(conn, schema)
                        deployment.schemas_created.append(schema)
                conn.commit()
            inspector = inspect(conn)
            present = _existing_tables(inspector, [None, *schemas])
            # Foreign keys into tables outside the datakit: they must already be in the target.
            own = {t.fullname for t in copies}
            for table in copies:
                for fk in table.foreign_keys:
                    ref = fk_target(fk, table)
                    if ref in own or ref in metadata.tables:
                        continue
                    schema, _, name = ref.rpartition(".")
                    if (schema or None, name) not in present:
                        raise DeployError(
                            f"table {table.fullname} has a foreign key ({fk.parent.name}) into {ref}, "
                            f"which is neither in this datakit nor in the target",
                            f"deploy the datakit that defines {ref} first (Layer 3 order: bronze before silver)",
                        )
                    Table(name, metadata, schema=schema or None, autoload_with=conn, resolve_fks=False)
            ordered = [t for t in sort_tables(copies) if t.fullname in own]
            deployment.tables = ordered
            if engine_spec.name == "postgres":
                deployment.enums_before = _pg_enum_names(conn)
            for table in ordered:
                if (table.schema, table.name) in present:
                    continue
                try:
                    table.create(conn, checkfirst=engine_spec.name == "postgres")
                except DBAPIError as exc:
                    raise DeployError(
                        f"table {table.fullname} failed to deploy on {engine_spec.name}: {_db_message(exc)}",
                        "run `dkenv check` on the datakit for the portable spelling",
                    ) from None
                deployment.created.append(table)
                if len(deployment.created) % _BATCH == 0:
                    conn.commit()  # bounded locks per transaction (PostgreSQL max_locks_per_transaction)
            if engine_spec.name == "postgres":
                deployment.enums_created = sorted(_pg_enum_names(conn) - deployment.enums_before)
            conn.commit()
            if probe_defaults and deployment.created:
                _probe_defaults(conn, deployment.created, engine_spec.name)
        except (DeployError, SQLAlchemyError, KeyboardInterrupt) as exc:
            conn.rollback()
            _undo(rt, deployment)
            if isinstance(exc, SQLAlchemyError):
                raise DeployError(f"deploy to {rt.target.name} failed: {_db_message(exc)}") from None
            raise
    return deployment


#: Tables created per transaction; a failure still undoes every batch (see _undo).
_BATCH = 100


def _external_schemas(copies: Sequence[Any]) -> set[str]:
    out = set()
    for table in copies:
        for fk in table.foreign_keys:
            schema = fk_target(fk, table).rpartition(".")[0]
            if schema:
                out.add(schema)
    return out


def fk_target(fk: Any, table: Any) -> str:
    """Schema-qualified name of the table a ForeignKey points to, without resolving it."""
    spec = fk.target_fullname  # "schema.table.column" or "table.column"
    parts = spec.split(".")
    return ".".join(parts[:-1])


def _existing_tables(inspector: Any, schemas: Iterable[str | None]) -> set[tuple[str | None, str]]:
    present: set[tuple[str | None, str]] = set()
    for schema in schemas:
        try:
            names = inspector.get_table_names(schema=schema)
        except Exception:  # noqa: BLE001 - a schema that does not exist holds nothing
            continue
        present.update((schema, n) for n in names)
    return present


def _pg_enum_names(conn: Any) -> set[str]:
    from sqlalchemy import text

    rows = conn.execute(text(
        "SELECT n.nspname || '.' || t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE t.typtype = 'e'"
    ))
    return {r[0] for r in rows}


def _db_message(exc: BaseException) -> str:
    return describe_db_error(exc)


def _probe_defaults(conn: Any, created: Sequence[Any], engine_name: str) -> None:
    """Evaluate every distinct server-default expression once, so defaults that only fail on INSERT fail now.

    SQLite accepts ``DEFAULT (now())`` in CREATE TABLE and fails on the first INSERT; a
    ``SELECT <expression>`` fails the same way, at one query per distinct expression rather
    than one insert per table.  (``dkenv check`` inserts whole smoke rows per table.)
    """
    from sqlalchemy.exc import DBAPIError

    expressions: dict[str, tuple[str, str]] = {}
    for table in created:
        for column in table.columns:
            sql = sql_of_default(column.server_default, conn.dialect) if column.server_default else None
            if sql and sql.upper() not in _CONSTANT_DEFAULTS:
                expressions.setdefault(sql, (table.fullname, column.name))
    for sql, (table, column) in expressions.items():
        probe = conn.begin_nested() if conn.in_transaction() else conn.begin()
        try:
            conn.exec_driver_sql(f"SELECT {sql if sql.startswith('(') else f'({sql})'}")
        except DBAPIError as exc:
            probe.rollback()
            raise DeployError(
                f"table {table}.{column} deployed on {engine_name} but its server default {sql} fails "
                f"on insert: {_db_message(exc)}",
                "use a default this engine evaluates (CURRENT_TIMESTAMP), or a client-side default_factory",
            ) from None
        probe.rollback()


#: Defaults that every engine evaluates; no need to probe them.
_CONSTANT_DEFAULTS = {"CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "TRUE", "FALSE", "NULL"}


def _undo(rt: TargetRuntime, deployment: Deployment) -> None:
    """Drop what ``deployment`` created (tables, enum types, schemas), newest first."""
    from sqlalchemy import text

    engine_spec = engine_spec_of(rt)
    with rt.connect() as conn:
        for table in reversed(deployment.created):
            table.drop(conn, checkfirst=True)
        if engine_spec.name == "postgres":
            enums = deployment.enums_created
            if deployment.enums_before is not None and not enums:  # failed part-way
                enums = sorted(_pg_enum_names(conn) - deployment.enums_before)
            for enum in enums:
                schema, _, name = enum.partition(".")
                prep = conn.dialect.identifier_preparer
                conn.execute(text(f"DROP TYPE IF EXISTS {prep.quote_identifier(schema)}.{prep.quote_identifier(name)}"))
        if engine_spec.name != "sqlite":
            for schema in reversed(deployment.schemas_created):
                engine_spec.drop_schema(conn, schema)
        conn.commit()
    if engine_spec.name == "sqlite":
        rt.detach(deployment.schemas_created)
    deployment.created.clear()


# ---------------------------------------------------------------------------
# Validate
# ---------------------------------------------------------------------------
def validate_deployment(table_classes: Any, target_config: Target) -> ValidationResult:
    """Compare the live target with the models; ``success`` is True when there are no problems."""
    from dkenv.validate import Problem, validate_tables

    started = time.perf_counter()
    tables, _names = _tables_of(table_classes)
    tables = tables_for_target(tables, target_config)  # an isolated MySQL database renames schemas
    rt = runtime_for(target_config)
    rt.attach_schemas([t.schema for t in tables if t.schema], create=False)
    with rt.lock, rt.connect() as conn:  # a refused connection is ConnectionFailed (exit 3)
        found = validate_tables(tables, conn)
    problems = [Problem(model_table_name(p.table, target_config), p.kind, p.detail) for p in found]
    return ValidationResult(
        success=not problems,
        target=target_config.name,
        tables=[model_table_name(t.fullname, target_config) for t in tables],
        problems=problems,
        duration_s=time.perf_counter() - started,
    )


def validate_pipeline_flow(target_config: Target) -> ValidationResult:
    """Re-validate every datakit deployed into ``target_config`` in this process, together.

    Validating all deployed tables at once also checks the foreign keys between datakits
    (silver into bronze) against the live database.
    """
    rt = runtime_for(target_config)
    tables: list[Any] = []
    seen: set[str] = set()
    for deployment in rt.deployments:
        for table in deployment.tables:
            if table.fullname not in seen:
                seen.add(table.fullname)
                tables.append(table)
    if not tables:
        raise UsageError(f"nothing has been deployed to target {target_config.name} in this process",
                         "deploy the datakits first with deploy_data_objects")
    result = validate_deployment(tables, target_config)
    _check_rows(rt, tables, result, target_config)
    return result


def _check_rows(rt: TargetRuntime, tables: list[Any], result: ValidationResult, target: Target) -> None:
    """Rows per table, and ``orphan_rows`` problems for keys across datakits (dkenv.validate_rows)."""
    from sqlalchemy.exc import DBAPIError

    from dkenv.schema import model_table_name
    from dkenv.validate_rows import cross_keys, orphan_problems, row_counts

    missing = {p.table for p in result.problems if p.kind == "missing_table"}
    present = [t for t in tables if model_table_name(t.fullname, target) not in missing]
    groups = [[t for t in d.tables if t in present] for d in rt.deployments]
    try:
        with rt.connect() as conn:
            counts = row_counts(conn, present)
            orphans = orphan_problems(conn, cross_keys(groups), lambda n: model_table_name(n, target))
    except DBAPIError:
        return  # the schema problems above already say why the tables cannot be read
    result.row_counts = {model_table_name(n, target): c for n, c in counts.items()}
    if orphans:
        result.problems.extend(orphans)
        result.success = False


# ---------------------------------------------------------------------------
# Engines and cleanup
# ---------------------------------------------------------------------------
def create_engine_for_target(target_config: Target):
    """The SQLAlchemy engine behind a target (shared by every call with the same target)."""
    return runtime_for(target_config).engine


def cleanup_test_target(target_config: Target) -> None:
    """Leave the target as it was found: drop what dkenv deployed, remove temp files and containers."""
    from dkenv.runtime import existing_runtime

    rt = existing_runtime(target_config)
    if rt is None:
        return
    try:
        for deployment in reversed(rt.deployments):
            _undo(rt, deployment)
        rt.deployments.clear()
        rt.detach_all()
        for path in rt.attached_created:
            path.unlink(missing_ok=True)
    finally:
        release(target_config)
