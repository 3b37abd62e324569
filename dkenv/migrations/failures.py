"""Alembic's failures as dkenv errors: one or two lines naming the file, line or revision at fault.

* the history itself (a cycle, a ``down_revision`` that names no revision, a revision file
  that does not parse) is bad input (exit 2);
* env.py or a module it imports raising while loaded is bad input too, reported as
  ``file:line: error`` like a datakit module that fails to import;
* a revision whose DDL the database refuses is a failed deploy (exit 1): its id, its file and
  the database's one-line error.
"""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

from dkenv.errors import DatakitError, DeployError, DkenvError

History = Any  # dkenv.migrations.source.History (which imports this module)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _frames_in(exc: BaseException, roots: tuple[Path, ...]) -> list[traceback.FrameSummary]:
    """The traceback frames that ran the project's own files (env.py, revisions, its app)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return [f for f in frames if any(Path(f.filename).is_relative_to(r) for r in roots)]


def history_error(exc: BaseException, history: History, warned: list[str] | None = None) -> DkenvError:
    """A history Alembic cannot load: a syntax error, a cycle, a missing down_revision."""
    if isinstance(exc, DkenvError):
        return exc
    if isinstance(exc, SyntaxError):
        return DatakitError(f"{exc.filename}:{exc.lineno}: syntax error in a revision: {exc.msg}",
                            "fix the revision file")
    roots = (history.scripts, *history.roots)
    frames = _frames_in(exc, roots)
    if frames:
        where = f"{frames[-1].filename}:{frames[-1].lineno}"
        return DatakitError(f"{where}: loading the revisions failed: {_first_line(exc)}", "fix that file")
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    missing = [w for w in warned or [] if "is not present" in w]
    if isinstance(exc, KeyError) and missing:
        message = missing[0]
    hint = "give every revision a down_revision that names an existing revision (None for the first)"
    if "cycle" in message.lower() or "loop" in message.lower():
        hint = "break the cycle: the first revision has down_revision = None, each other names its parent"
    return DatakitError(f"{history.kit_name}: the migration history in {history.scripts} is broken: {message}",
                        hint)


def run_error(exc: BaseException, history: History, script: Any, engine: str) -> DkenvError:
    """A failure while env.py or a revision ran against the target."""
    from alembic.util import CommandError
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    from dkenv.engines import describe_db_error

    if isinstance(exc, DkenvError):
        return exc
    if isinstance(exc, CommandError):  # Alembic refusing the command itself, not env.py's fault
        return DatakitError(f"{history.kit_name}: alembic: {str(exc).splitlines()[0]}",
                            "fix the history (alembic heads, alembic history show what it holds)")
    roots = (history.scripts, *history.roots)
    frames = _frames_in(exc, roots)
    revision = _revision_of(frames, script)
    if isinstance(exc, (DBAPIError, SQLAlchemyError)) and revision is not None:
        return DeployError(
            f"{history.kit_name}: revision {revision.revision} ({revision.path}) failed on {engine}: "
            f"{describe_db_error(exc)}",
            "fix the revision for this engine (op.get_bind().dialect.name tells which one runs it)")
    if isinstance(exc, SyntaxError) and exc.filename:
        return DatakitError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}", "fix that file")
    if frames:
        where = f"{frames[-1].filename}:{frames[-1].lineno}"
        what = "revision " + revision.revision if revision is not None else "env.py"
        cls = DeployError if revision is not None else DatakitError
        return cls(f"{where}: {what} failed: {_first_line(exc)}",
                   "fix that line (env.py and the revisions run with the datakit's folder on sys.path)")
    if isinstance(exc, DBAPIError):
        return DeployError(f"{history.kit_name}: the migrations failed on {engine}: {describe_db_error(exc)}")
    raise exc


def _revision_of(frames: list[traceback.FrameSummary], script: Any) -> Any:
    """The revision whose file appears deepest in the traceback, if any."""
    if script is None:
        return None
    by_file = {str(Path(s.path).resolve()): s for s in script.walk_revisions()}
    for frame in reversed(frames):
        found = by_file.get(str(Path(frame.filename).resolve()))
        if found is not None:
            return found
    return None
