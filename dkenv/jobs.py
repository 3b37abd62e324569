"""Whole jobs that commands run: discover every datakit first, then deploy/validate in order.

Discovery happens before any database or container is touched, so a wrong path or a
broken module costs nothing and leaves nothing behind.  A job opens the target's runtime
itself (:func:`dkenv.servers.runtime.open_runtime`), hands it to every step and closes it: the caller's
Target is only read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dkenv import hooks
from dkenv.config import Target
from dkenv.datakit import Datakit, load_datakits
from dkenv.deploy import deploy_data_objects, precompile
from dkenv.deploy.deployed import cleanup_test_target, validate_deployment
from dkenv.results import DeployResult, ValidationResult
from dkenv.servers.runtime import TargetRuntime, open_runtime

if TYPE_CHECKING:
    from dkenv.data import LoadResult


@dataclass
class Outcome:
    """The result of a deploy/validate job, ready for JSON or a human summary."""

    target: str
    datakits: list[str]
    deploys: list[DeployResult] = field(default_factory=list)
    validation: ValidationResult | None = None
    url: str | None = None
    kept: bool = False
    skipped: list[dict[str, Any]] = field(default_factory=list)  # modules discovery did not import
    load: Any = None  # dkenv.data.LoadResult when data was loaded

    @property
    def success(self) -> bool:
        return all(d.success for d in self.deploys) and (self.validation is None or self.validation.success)

    @property
    def tables(self) -> list[str]:
        return [t for d in self.deploys for t in d.tables] or (self.validation.tables if self.validation else [])

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "success": self.success,
            "target": self.target,
            "datakits": self.datakits,
            "tables": self.tables,
            "skipped": self.skipped,
        }
        if self.deploys:
            doc["created"] = [t for d in self.deploys for t in d.created]
            doc["existing"] = [t for d in self.deploys for t in d.existing]
        if self.validation is not None:
            doc["validation"] = {
                "success": self.validation.success,
                "problems": [p.to_dict() for p in self.validation.problems],
            }
        if self.load is not None:
            doc["data"] = self.load.to_dict()
        if self.url:
            doc["url"] = self.url
            doc["kept"] = self.kept
        return doc

    def summary(self) -> str:
        lines = []
        for d in self.deploys:
            line = f"deployed {', '.join(d.datakits)} to {self.target}: {len(d.created)} table(s) created"
            if d.existing:
                line += f", {len(d.existing)} already existed (left as they were: {', '.join(d.existing[:5])}"
                line += ", ...)" if len(d.existing) > 5 else ")"
            lines.append(line)
        if self.load is not None:
            lines.append(self.load.summary())
        if self.validation is not None:
            v = self.validation
            if v.success:
                lines.append(f"validated {len(v.tables)} table(s) on {self.target}: no problems")
            else:
                lines.append(f"validation failed on {self.target}: {len(v.problems)} problem(s)")
                lines.extend(f"  {p.table}: {p.kind}: {p.detail}" for p in v.problems)
        if self.url and self.kept:
            lines.append(f"kept: {self.url}")
        return "\n".join(lines)


def skipped_of(kits: Sequence[Datakit]) -> list[dict[str, Any]]:
    """Every module discovery did not import, with the datakit it belongs to (for --json/--verbose)."""
    return [{"datakit": kit.name, **s.to_dict()} for kit in kits for s in kit.skipped]


def report_skipped(kits: Sequence[Datakit], show: Callable[[str], None], *, verbose: bool) -> None:
    """With --verbose, why each module was imported or skipped; a skipped file that declares a
    table is always shown."""
    for kit in kits:
        if verbose:
            for module, why in getattr(kit, "imported", []):
                show(f"dkenv: {kit.name}: imported {module}: {why}")
        for s in kit.skipped:
            if verbose or s.declares_tables:
                show(f"dkenv: {kit.name}: skipped {s.module}: {s.reason}")


def _builder(build: str, kits: Sequence[Datakit]) -> Callable[[Datakit, TargetRuntime], Any] | None:
    """None for ``models``; for ``migrations``, the function that runs a datakit's history
    (every datakit's history is loaded first: a broken one fails before anything starts)."""
    from dkenv.errors import UsageError

    if build == "models":
        return None
    if build != "migrations":
        raise UsageError(f"unknown build {build!r}", "build from 'models' (create_all) or 'migrations' (Alembic)")
    from dkenv.migrations import history_of, migrate_target

    for kit in kits:
        history = history_of(kit)
        history.one_head(history.script())
    return migrate_target


def deploy_paths(
    paths: Sequence[str],
    target: Target,
    *,
    validate: bool = False,
    cleanup: bool = False,
    keep: bool = False,
    data: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
    pythonpath: Sequence[str] = (),
    verbose: bool = False,
    warn: Callable[[str], None] | None = None,
    encoding: str | None = None,
    build: str = "models",
) -> Outcome:
    """Deploy the datakits at ``paths`` in order, load their data, optionally validate, then
    clean up or keep.

    Every datakit is compiled for the target's engine before anything starts (no container
    for a datakit that cannot be created there); ``warn`` gets one line per warning.

    Data: each datakit's own ``data`` directories, then ``data`` (``--data``), in one load after
    every deploy.  The load is all or nothing; a failed load leaves the tables deployed and
    empty of its rows (a container target is removed anyway unless ``keep``).  ``encoding`` is
    the data files' (default UTF-8).

    ``build="migrations"`` runs each datakit's Alembic history instead of ``create_all``.
    """
    from dkenv.data import PreparedLoad, data_dirs_of, read_data

    kits = load_datakits(paths, pythonpath=pythonpath, progress=progress)  # before anything starts
    if progress:
        report_skipped(kits, progress, verbose=verbose)
    migrate = _builder(build, kits)
    # Each datakit is compiled once per job: here, before anything starts; the deploy reuses it.
    compiled = {id(kit): precompile(kit, target) for kit in kits} if migrate is None else {}
    for warning in dict.fromkeys(w for found in compiled.values() for w in found):
        (warn or progress or (lambda _line: None))(f"dkenv: {warning}")
    dirs = [*data_dirs_of(kits), *data]
    # Read and validate the rows before anything starts: a bad row costs no container.
    prepared: PreparedLoad | None = read_data(target, dirs, kits, encoding=encoding) if dirs else None
    outcome = Outcome(target=target.name, datakits=[k.name for k in kits], skipped=skipped_of(kits))
    rt: TargetRuntime | None = None  # opened at the first deploy (after its progress line)
    interrupted = True  # until the try below ends or raises an ordinary error
    try:
        for kit in kits:
            if progress:
                how = " by its migrations" if migrate is not None else ""
                progress(f"dkenv: deploying {kit.name} ({len(kit.tables)} tables) to {target.name}{how}")
            if rt is None:
                rt = open_runtime(target, keep=keep)  # a container target starts here
            outcome.deploys.append(deploy_data_objects(kit, rt, precompiled=compiled[id(kit)])
                                   if migrate is None else migrate(kit, rt))
        assert rt is not None  # every job has a datakit
        if prepared is not None:
            outcome.load = prepared.write(progress, into=rt)
            if progress and outcome.load.note:
                progress(f"dkenv: {outcome.load.note}")
        if validate:
            outcome.validation = validate_deployment(kits, rt)
        if keep:
            outcome.url = rt.url
            outcome.kept = True
        hooks.gate("deployed")
        interrupted = False
    except Exception:
        interrupted = False  # a failed deploy with --keep is kept for inspection, as before
        raise
    finally:
        if prepared is not None:
            prepared.close()
        if rt is not None:
            _finish(rt, kits[:len(outcome.deploys)], migrated=migrate is not None, cleanup=cleanup,
                    keep=keep and not interrupted)  # Ctrl-C or SIGTERM: nothing is left behind
    return outcome


def _finish(rt: TargetRuntime, deployed: Sequence[Datakit], *, migrated: bool, cleanup: bool, keep: bool) -> None:
    """The end of a deploy job: undo it (``--cleanup``), keep it (``--keep``), or just close."""
    if cleanup and migrated:
        from dkenv.migrations.run import unmigrate_target

        for kit in reversed(deployed):
            unmigrate_target(kit, rt)  # downgrade base: what the migrations built goes
    if cleanup:
        cleanup_test_target(rt)
    else:
        rt.close(keep=keep)


def validate_paths(paths: Sequence[str], target: Target, *, pythonpath: Sequence[str] = (),
                   progress: Callable[[str], None] | None = None, verbose: bool = False,
                   strict: bool = False) -> Outcome:
    """Validate the live target against the datakits at ``paths``, deploying nothing.

    ``strict``: also report what the database has beyond the models (extra tables, columns,
    uniques, indexes, foreign keys, CHECKs, longer strings), for a database that should hold
    exactly these datakits (a migrated or hand-kept one).
    """
    from dkenv.errors import UsageError

    if target.kind in ("container", "memory") or (target.kind == "file" and not target.database):
        raise UsageError(f"target {target.name} starts out empty, so there is nothing to validate",
                         "point dkenv validate at a live database: --url, a *_local target, or dkenv up + dkenv url")
    kits = load_datakits(paths, pythonpath=pythonpath, progress=progress)
    if progress:
        report_skipped(kits, progress, verbose=verbose)
    outcome = Outcome(target=target.name, datakits=[k.name for k in kits], skipped=skipped_of(kits))
    rt = open_runtime(target)
    try:
        outcome.validation = validate_deployment(kits, rt)
        if strict:
            _add_extras(outcome.validation, kits, rt)
    finally:
        rt.close()
    return outcome


def _add_extras(result: ValidationResult, kits: Sequence[Datakit], rt: TargetRuntime) -> None:
    from dkenv.migrations.compare import beyond_models

    tables = [t for kit in kits for t in kit.tables]
    with rt.connect() as conn:
        extras = beyond_models(tables, conn, result.problems)
    result.problems.extend(extras)
    result.success = result.success and not extras


# ---------------------------------------------------------------------------
# `dkenv load`: paths in, one load, the target released
# ---------------------------------------------------------------------------
def is_datakit_dir(path: str | Path) -> bool:
    """Whether a directory argument is a datakit (Python code) rather than a data directory."""
    p = Path(path)
    if not p.is_dir():
        return True  # let discovery say what is wrong with it
    if (p / "__init__.py").is_file() or (p / "pyproject.toml").is_file() or (p / "src").is_dir():
        return True
    return any(child.suffix == ".py" or (child / "__init__.py").is_file() for child in p.iterdir())


def load_paths(args: Sequence[str | Path], target: Target, *, data: Sequence[str | Path] = (),
               pythonpath: Sequence[str] | None = None,
               progress: Callable[[str], None] | None = None, encoding: str | None = None) -> LoadResult:
    """``dkenv load DIR... PATH...``: data directories and datakit paths in one list, told apart by
    their content (a datakit holds Python code); no directory at all loads the datakits' own data.
    The job opens the target's runtime after reading every file, and closes it."""
    from dkenv.data import data_dirs_of, read_data
    from dkenv.errors import UsageError

    if target.kind in ("container", "memory") or (target.kind == "file" and not target.database):
        raise UsageError(f"target {target.name} starts out empty, so there is nothing to load into",
                         "load into a live deployment (--url, a *_local target), or use "
                         "`dkenv deploy PATH --data DIR`")
    dirs = [*[a for a in args if not is_datakit_dir(a)], *data]
    paths = [a for a in args if is_datakit_dir(a)]
    if not paths:
        raise UsageError("which datakits are deployed there? give their paths after the data directories",
                         "dkenv load data/ --url URL ./bronze-pagila")
    kits = load_datakits(paths, pythonpath=pythonpath or (), requires=False)
    if not dirs:
        dirs = data_dirs_of(kits)
        if not dirs:
            raise UsageError("no data directory given, and the datakits declare none",
                             "dkenv load DIR... --url URL PATH..., or [tool.dkenv] data = [...] in the datakit")
    with read_data(target, dirs, kits, encoding=encoding) as prepared:
        if not prepared.plans:
            return prepared.write(progress)  # nothing to write: the note says so
        rt = open_runtime(target)
        try:
            return prepared.write(progress, into=rt)
        finally:
            rt.close()
