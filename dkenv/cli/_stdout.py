"""Stdout is the user's: while a command runs, everything else written there goes to stderr.

Why: a datakit's table modules run while dkenv imports them.  They ``print("loading models")``,
build ``create_engine(..., echo=True)`` engines whose ``logging.StreamHandler(sys.stdout)`` is
bound at engine creation and logs every statement later, and C code or a subprocess may write
on file descriptor 1.  ``--json`` promises exactly one document on stdout, and a plain result
(``dkenv url``, a check matrix) is something a script reads.

So for the run of a command's callback (after click parsed it: ``--help`` and ``--version``
still print on stdout), :func:`protected` points ``sys.stdout`` at stderr and, when stdout is
file descriptor 1, duplicates fd 1 for dkenv and points fd 1 itself at stderr.  The CLI writes
its own output with :func:`out` (or on :func:`stream`), the only way onto the real stdout.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TextIO

import click

#: The real stdout while a command runs (None outside one: then it is sys.stdout).
_user: TextIO | None = None


def stream() -> TextIO:
    """Where the user's output goes: the real stdout, also while it is protected."""
    return _user if _user is not None else sys.stdout


def out(message: str, *, nl: bool = True, color: bool | None = None) -> None:
    """A result line on the real stdout."""
    click.echo(message, file=stream(), nl=nl, color=color)


def _fd_of(file: Any) -> int | None:
    try:
        return file.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return None


@contextmanager
def protected() -> Iterator[None]:
    """Send whatever is written to stdout inside the block to stderr, except :func:`out`."""
    global _user
    if _user is not None:  # nested (a group's callback, then its subcommand's)
        yield
        return
    real, err_stream = sys.stdout, sys.stderr
    for f in (real, err_stream):
        try:
            f.flush()
        except (OSError, ValueError):
            pass
    saved: int | None = None
    if _fd_of(real) == 1 and _fd_of(err_stream) is not None:
        try:
            saved = os.dup(1)
        except OSError:
            saved = None
        if saved is not None:
            try:
                os.dup2(_fd_of(err_stream), 1)  # C code, subprocesses, handlers bound to the old object
            except OSError:
                os.close(saved)
                saved = None
    if saved is not None:
        raw = io.FileIO(saved, "w", closefd=False)
        _user = io.TextIOWrapper(raw, encoding=real.encoding, errors=real.errors,
                                 line_buffering=True, write_through=True)  # isatty(): the real stdout's
    else:
        _user = real
    sys.stdout = err_stream
    try:
        yield
    finally:
        user, _user = _user, None
        try:
            user.flush()
        except (OSError, ValueError):
            pass
        sys.stdout = real
        if saved is not None:
            user.close()  # the wrapper only: closefd=False
            try:
                err_stream.flush()
            except (OSError, ValueError):
                pass
            os.dup2(saved, 1)
            os.close(saved)


def guard(callback: Callable[..., Any]) -> Callable[..., Any]:
    """``callback`` run inside :func:`protected` (idempotent)."""
    if getattr(callback, "_dkenv_protected", False):
        return callback

    @wraps(callback)
    def run(*args: Any, **kwargs: Any) -> Any:
        with protected():
            return callback(*args, **kwargs)

    run._dkenv_protected = True  # type: ignore[attr-defined]
    return run


def guard_command(command: click.Command) -> click.Command:
    """Protect stdout in ``command``'s callback and in its subcommands' (a group's)."""
    if command.callback is not None:
        command.callback = guard(command.callback)
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            guard_command(sub)
    return command


__all__ = ["guard_command", "out", "protected", "stream"]
