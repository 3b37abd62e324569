"""Calls from a lower layer into a higher one, bound late so that imports only point down;
and the test gates (:func:`gate`) where signal tests stop a command at a named step.

A container :class:`~dkenv.servers.lifecycle.Server` offers ``server.database(datakits=[...])`` and
``dkenv.ephemeral("sqlite")``, yet isolated databases and the SQLite stand-in live in
:mod:`dkenv.databases`, above the lifecycle.  Rather than importing upwards, the lifecycle
calls the functions registered here:

- :func:`provide` is called by ``dkenv/__init__.py`` (the composition root, loaded before any
  ``dkenv.*`` module) with small functions that import the higher layer on first use;
- :func:`on_server_stop` is called by :mod:`dkenv.databases.factory` when it is imported, so
  that stopping a server drops its databases — and costs nothing when none was handed out.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: name -> implementation; see :func:`call` for the names in use.
PROVIDED: dict[str, Callable[..., Any]] = {}
#: run with the server before a server goes away (in registration order)
SERVER_STOP: list[Callable[[Any], None]] = []


def provide(name: str, implementation: Callable[..., Any]) -> None:
    """Bind ``name`` ("hand_out_database", "start_local_server") to its implementation."""
    PROVIDED[name] = implementation


def call(name: str, *args: Any, **kwargs: Any) -> Any:
    """Call what was provided under ``name``; a missing binding is a packaging bug."""
    implementation = PROVIDED.get(name)
    if implementation is None:
        raise RuntimeError(f"dkenv: nothing provides {name!r} (dkenv/__init__.py wires it)")
    return implementation(*args, **kwargs)


def on_server_stop(callback: Callable[[Any], None]) -> None:
    """Run ``callback(server)`` before any server is stopped or removed (once per callback)."""
    if callback not in SERVER_STOP:
        SERVER_STOP.append(callback)


def server_stopping(server: Any) -> None:
    """Tell every registered callback that ``server`` is about to go away."""
    for callback in list(SERVER_STOP):
        callback(server)


# ---------------------------------------------------------------------------
# Test gates: stop at a named step so a test can send a signal exactly there
# ---------------------------------------------------------------------------
#: Comma-separated step names to stop at (unset in normal use: :func:`gate` returns at once).
GATE_ENV = "DKENV_TEST_GATE"
#: The folder where a gate writes ``<step>.reached`` and waits for ``<step>.go``.
GATE_DIR_ENV = "DKENV_TEST_GATE_DIR"


def gate(step: str) -> None:
    """Block at ``step`` when a test asked for it; otherwise return at once.

    Why: "a signal at every point of ``dkenv up``" must be tested without timing luck.  The
    process writes ``<step>.reached`` (its pid inside) and waits until ``<step>.go`` exists;
    the test sends its signal after ``reached`` appears, then writes ``go`` (which releases a
    gate in a worker thread; in the main thread the signal's exception has already left it).
    Steps: ``container-created`` (created, not yet started), ``container-started`` (before the
    readiness wait), ``server-ready`` (ready, not yet kept or used), ``deployed`` (a deploy
    done, before its release) and ``environment-ready`` (every database of ``env up`` done).
    """
    wanted = os.environ.get(GATE_ENV)
    if not wanted or step not in wanted.split(","):
        return
    folder = Path(os.environ.get(GATE_DIR_ENV) or ".")
    (folder / f"{step}.reached").write_text(str(os.getpid()), encoding="ascii")
    go = folder / f"{step}.go"
    while not go.exists():
        time.sleep(0.01)  # a signal interrupts the sleep at once (in the main thread)
