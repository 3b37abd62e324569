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

* the controller removes the run's servers at its ``pytest_sessionfinish``: all at once, in a
  thread that overlaps xdist's shutdown of the workers and is joined at ``pytest_unconfigure``
  (the run never ends before its servers are gone);
* a worker that crashes leaves the server to the others (xdist's replacement adopts it);
* a SIGKILLed controller leaves a container whose owner is gone: the next dkenv command
  (or the next pytest run's first server start) reaps it.

Since the controller removes a shared server with everything on it, a worker's session end
closes its databases there without dropping them one by one (:func:`removed_with_the_run`).
Two runs never share: their testrunuids, hence their ``dkenv.run`` labels, differ.
This module imports neither SQLAlchemy nor the Docker SDK at load time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from dkenv.servers.lifecycle import Server

#: The testrunuid the controller handed its workers (set in ``pytest_configure_node``).
RUN_UID_KEY = pytest.StashKey[str]()
CONTROLLER_PID = "dkenv_controller_pid"
#: The controller's removal of the run's servers, started at sessionfinish, joined at unconfigure.
REMOVAL_KEY = pytest.StashKey[threading.Thread]()


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
    # Before the lock: a worker waiting there while another starts the server has its Docker
    # SDK imported and its connection open by then, instead of after.
    client = get_client()
    with FileLock(str(run.folder / f"{key}.lock")):
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


def removed_with_the_run(config: pytest.Config, server: Any, *, run_kept: bool) -> bool:
    """Whether ``server`` is a shared server of this worker's run that the controller removes at
    the end, with every database on it: owned by the controller, neither kept nor reused.

    Then the worker's session end need not drop its databases one by one (each a DROP DATABASE
    round trip on the run's last path): they are closed and go with the container.  In a kept
    run (``run_kept``: ``--dkenv-keep``) the controller removes nothing.
    """
    run = current_run(config)
    if run is None or run_kept or getattr(server, "persistent", False):
        return False
    return getattr(server, "owner_pid", None) == run.controller_pid


def remove_run(uid: str) -> list[str]:
    """Remove the run's shared servers (not kept ones: those have no owner) and its locks.

    The containers are removed at the same time (each removal is mostly the engine's wait for
    the killed server to exit), not one after the other.
    """
    from dkenv.docker import labels as L
    from dkenv.docker.client import get_client
    from dkenv.docker.containers import list_dkenv, remove

    client = get_client()
    rows = [row for row in list_dkenv(client, all=True, scoped=False, extra_labels=[f"{L.RUN}={uid}"])
            if (row.get("Labels") or {}).get(L.PERSISTENT) != "true"]
    try:
        if rows:
            with ThreadPoolExecutor(max_workers=len(rows), thread_name_prefix="dkenv-remove") as pool:
                gone = list(pool.map(lambda row: remove(client, row["Id"], socket_folder=(
                    row.get("Labels") or {}).get(L.SOCKET)), rows))
        else:
            gone = []
    finally:
        shutil.rmtree(run_folder(uid), ignore_errors=True)
    return [(row.get("Labels") or {}).get(L.NAME) or row["Id"][:12]
            for row, removed in zip(rows, gone, strict=True) if removed]


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


def finish_run(config: pytest.Config, *, then: Callable[[], None] | None = None) -> bool:
    """Controller, end of run: start removing the servers its workers shared, then call ``then``
    (the plugin's reaping); never fail the run.  False when there is no run to finish.

    Both run in a thread while xdist shuts its workers down; :func:`wait_for_removal`
    (the plugin's ``pytest_unconfigure``) waits for it.  Not a daemon: even a run interrupted
    before ``pytest_unconfigure`` waits for it at interpreter exit.
    """
    uid = config.stash.get(RUN_UID_KEY, None)
    if uid is None or REMOVAL_KEY in config.stash:
        return False
    thread = threading.Thread(target=_remove_quietly, args=(uid, then), name="dkenv-xdist-removal")
    config.stash[REMOVAL_KEY] = thread
    thread.start()
    return True


def wait_for_removal(config: pytest.Config) -> None:
    """Controller: return once :func:`finish_run`'s removal is done (at once if none started)."""
    thread = config.stash.get(REMOVAL_KEY, None)
    if thread is not None:
        thread.join()


def _remove_quietly(uid: str, then: Callable[[], None] | None) -> None:
    try:
        remove_run(uid)
    except Exception:  # noqa: BLE001 - no engine: nothing to remove; the reaper is the backstop
        pass
    if then is not None:
        then()
