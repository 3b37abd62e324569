"""One server per engine for a whole pytest-xdist run, shared by its workers.

Without this every worker started its own PostgreSQL and MariaDB, and ``-n 2`` was slower
than ``-n 0``.  Now the first worker that needs a session server starts it, under a file lock
in a directory of the run (keyed by xdist's ``testrunuid``); the others find it by its labels
(``dkenv.run`` = the run, ``dkenv.share`` = which fixture and configuration) and adopt it.
Each worker keeps its own databases on it (their names carry the worker id).

Why workers rather than the controller: the controller does not collect, so it cannot know
which server fixtures (engines, images, options) the tests will ask for; a worker does, at
the moment it needs one.  Ownership stays with the controller all the same: the container's
owner pid is the controller's, so

* the controller removes the run's servers at its ``pytest_sessionfinish``;
* a worker that crashes leaves the server to the others (xdist's replacement adopts it);
* a SIGKILLed controller leaves a container whose owner is gone: the next dkenv command
  (or the next pytest run's first server start) reaps it.

Two runs never share: their testrunuids, hence their ``dkenv.run`` labels, differ.
This module imports neither SQLAlchemy nor the Docker SDK at load time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from dkenv.servers.lifecycle import Server

#: The testrunuid the controller handed its workers (set in ``pytest_configure_node``).
RUN_UID_KEY = pytest.StashKey[str]()
CONTROLLER_PID = "dkenv_controller_pid"


@dataclass(frozen=True)
class Run:
    """The xdist run this worker belongs to."""

    uid: str
    controller_pid: int

    @property
    def folder(self) -> Path:
        """Where the run's locks live (removed by the controller at the end)."""
        return run_folder(self.uid)


def run_folder(uid: str) -> Path:
    """The run's folder in dkenv's private state directory (never a shared, predictable path)."""
    from dkenv.state import state_dir

    return state_dir("xdist") / uid


def current_run(config: pytest.Config) -> Run | None:
    """This worker's run, or None outside an xdist worker."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return None
    uid = workerinput.get("testrunuid") or os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not uid:
        return None
    # The controller says who it is; an older controller without dkenv's hook: the parent.
    pid = int(workerinput.get(CONTROLLER_PID) or os.getppid())
    return Run(uid=str(uid), controller_pid=pid)


def share_key(fixture: str, engine: str, image: str | None, options: dict[str, Any]) -> str:
    """Which session server of the run: fixture name plus what it was configured with."""
    blob = json.dumps([fixture, engine, image, options], sort_keys=True, default=str).encode()
    return f"{fixture}-{hashlib.sha256(blob).hexdigest()[:12]}"


def start_session_server(config: pytest.Config, fixture: str, engine: str, *, image: str | None,
                         persistent: bool, options: dict[str, Any]) -> Server:
    """The server for session fixture ``fixture``: shared by the run's workers under xdist.

    ``reuse=True`` servers are shared through :func:`dkenv.servers.lifecycle.start`'s own lock.
    """
    from dkenv.servers.lifecycle import start

    run = current_run(config)
    if run is None or options.get("reuse"):
        return start(engine, image=image, persistent=persistent, progress=False, **options)
    key = share_key(fixture, engine, image, {**options, "persistent": persistent})
    return acquire_shared(run, key, lambda labels, owner: start(
        engine, image=image, persistent=persistent, progress=False, labels=labels,
        owner_pid=owner, **options))


def acquire_shared(run: Run, key: str, launch: Any) -> Server:
    """Adopt the run's server ``key`` or, the first to ask, start it (owned by the controller).

    ``launch(labels, owner_pid)`` starts it.  The lock is held across the readiness wait, so a
    server found under it is ready.  A stopped one (killed, engine restarted) is started again.
    """
    from filelock import FileLock

    from dkenv.docker import labels as L
    from dkenv.docker.client import get_client
    from dkenv.docker.containers import list_dkenv
    from dkenv.servers.lifecycle import refresh, server_from_row
    from dkenv.state import private_dir

    private_dir(run.folder)
    with FileLock(str(run.folder / f"{key}.lock")):
        client = get_client()
        rows = list_dkenv(client, all=True, extra_labels=[f"{L.RUN}={run.uid}", f"{L.SHARE}={key}"])
        if rows:
            server = server_from_row(rows[0], client)
            server.remove_on_stop = False
            if rows[0].get("State") != "running":
                refresh(server, start_stopped=True)
            return server
        server = launch({L.RUN: run.uid, L.SHARE: key}, run.controller_pid)
        server.remove_on_stop = False  # a worker's teardown leaves it to the others
        return server


def remove_run(uid: str) -> list[str]:
    """Remove the run's shared servers (not kept ones: those have no owner) and its locks."""
    from dkenv.docker import labels as L
    from dkenv.docker.client import get_client
    from dkenv.docker.containers import list_dkenv, remove

    client = get_client()
    removed = []
    for row in list_dkenv(client, all=True, scoped=False, extra_labels=[f"{L.RUN}={uid}"]):
        labels = row.get("Labels") or {}
        if labels.get(L.PERSISTENT) == "true":
            continue
        if remove(client, row["Id"]):
            removed.append(labels.get(L.NAME) or row["Id"][:12])
    shutil.rmtree(run_folder(uid), ignore_errors=True)
    return removed


# ---------------------------------------------------------------------------
# Controller hooks (registered by dkenv.testing.plugin)
# ---------------------------------------------------------------------------
@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """Tell each worker who owns the run's servers, and remember the run for the cleanup."""
    node.workerinput[CONTROLLER_PID] = os.getpid()
    uid = node.workerinput.get("testrunuid")
    if uid:
        node.config.stash[RUN_UID_KEY] = str(uid)


def finish_run(config: pytest.Config) -> None:
    """Controller, end of run: remove the servers its workers shared; never fail the run."""
    uid = config.stash.get(RUN_UID_KEY, None)
    if uid is None:
        return
    try:
        remove_run(uid)
    except Exception:  # noqa: BLE001 - no engine: nothing to remove; the reaper is the backstop
        pass
