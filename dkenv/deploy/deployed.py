"""Validate what was deployed, check rows across datakits, and leave a target as it was found.

The framework functions ``validate_deployment``, ``validate_pipeline_flow``,
``create_engine_for_target`` and ``cleanup_test_target``: each works on a target's live
runtime (:mod:`dkenv.servers.runtime`: a Target's, or the TargetRuntime a job holds) and on what
:mod:`dkenv.deploy` recorded there.
"""

from __future__ import annotations

import time
from typing import Any

from dkenv.deploy.deploy import undo
from dkenv.errors import UsageError
from dkenv.results import ValidationResult
from dkenv.schema import model_table_name, tables_for_target, tables_of
from dkenv.servers.runtime import TargetRuntime, Where, release, runtime_for, target_of


# ---------------------------------------------------------------------------
# Validate
# ---------------------------------------------------------------------------
def validate_deployment(table_classes: Any, target_config: Where) -> ValidationResult:
    """Compare the live target with the models; ``success`` is True when there are no problems."""
    from dkenv.problems import Problem
    from dkenv.validate import validate_tables

    started = time.perf_counter()
    target = target_of(target_config)
    tables, _names = tables_of(table_classes)
    tables = tables_for_target(tables, target)  # an isolated MySQL database renames schemas
    rt = runtime_for(target_config)
    rt.attach_schemas([t.schema for t in tables if t.schema], create=False)
    with rt.lock, rt.connect() as conn:  # a refused connection is ConnectionFailed (exit 3)
        found = validate_tables(tables, conn)
    problems = [Problem(model_table_name(p.table, target), p.kind, p.detail) for p in found]
    return ValidationResult(
        success=not problems,
        target=target.name,
        tables=[model_table_name(t.fullname, target) for t in tables],
        problems=problems,
        duration_s=time.perf_counter() - started,
    )


def validate_pipeline_flow(target_config: Where) -> ValidationResult:
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
        raise UsageError(f"nothing has been deployed to target {rt.target.name} in this process",
                         "deploy the datakits first with deploy_data_objects")
    result = validate_deployment(tables, target_config)
    _check_rows(rt, tables, result, rt.target)
    return result


def _check_rows(rt: TargetRuntime, tables: list[Any], result: ValidationResult, target: Any) -> None:
    """Rows per table, and ``orphan_rows`` problems for keys across datakits (dkenv.validate.rows)."""
    from sqlalchemy.exc import DBAPIError

    from dkenv.schema import model_table_name
    from dkenv.validate.rows import cross_keys, orphan_problems, row_counts

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
def create_engine_for_target(target_config: Where):
    """The SQLAlchemy engine behind a target (shared by every call with the same target)."""
    return runtime_for(target_config).engine


def cleanup_test_target(target_config: Where) -> None:
    """Leave the target as it was found: drop what dkenv deployed, remove temp files and containers."""
    from dkenv.servers.runtime import existing_runtime

    rt = existing_runtime(target_config)
    if rt is None:
        return
    try:
        for deployment in reversed(rt.deployments):
            undo(rt, deployment)
        rt.deployments.clear()
        rt.detach_all()
        for path in rt.attached_created:
            path.unlink(missing_ok=True)
    finally:
        release(target_config)
