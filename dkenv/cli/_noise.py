"""Library warnings and log records as a user meets them: one ``dkenv: warning:`` line each.

Why: SQLAlchemy, SQLModel and pydantic speak through :mod:`warnings` and :mod:`logging`.
Left alone, a pool error logged during cleanup prints a full traceback, and an ``SAWarning``
prints a file path and a source line, before dkenv's own message -- noise the user cannot act
on.  The CLI's entry point routes both into one line each (the first line of the message,
once), drops deprecation warnings (they are for dkenv's developers, not its users), and with
``--debug`` leaves everything as the libraries print it.  Causes are fixed at their source;
this is the net under them.
"""

from __future__ import annotations

import logging
import sys
import warnings
from typing import TextIO

_seen: set[str] = set()


def _say(line: str) -> None:
    if line not in _seen:
        _seen.add(line)
        print(line, file=sys.stderr, flush=True)


def _first_line(text: object) -> str:
    return (str(text).strip().splitlines() or [""])[0]


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    _say(f"dkenv: warning: {category.__name__}: {_first_line(message)} (--debug shows where)")


class _OneLineHandler(logging.Handler):
    """A library's log record at WARNING or above, as one line without its traceback."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = _first_line(record.getMessage())
        except Exception:  # noqa: BLE001 - a malformed record must not become a traceback
            text = str(record.msg)
        _say(f"dkenv: warning: {record.name}: {text} (--debug shows details)")


def route_library_noise(debug: bool) -> None:
    """Install the one-line routes for this process (``debug``: show everything, with tracebacks)."""
    if debug:
        if not sys.warnoptions:
            warnings.simplefilter("default")  # deprecations included
        logging.basicConfig(level=logging.WARNING, format="%(name)s: %(levelname)s: %(message)s")
        return
    if not sys.warnoptions:  # the user's own -W / PYTHONWARNINGS settings win
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.showwarning = _show_warning
    root = logging.getLogger()
    if not root.handlers:
        handler = _OneLineHandler(logging.WARNING)
        root.addHandler(handler)


__all__ = ["route_library_noise"]
