"""Reaping: remove dkenv containers nobody will ever remove.

A process killed with SIGKILL (or a laptop that slept through a CI timeout) runs no cleanup,
so every docker-touching dkenv command calls :func:`reap` first.  A container is abandoned when

* its owner process ran on *this* host and is gone (or its pid now belongs to another
  process: the owner's start time is in the labels), or
* its time-to-live has passed (wherever its owner is).

Persistent containers (``dkenv up``, ``reuse=True``) carry their starter as owner too, but once
kept (renamed to their dkenv name when the start finished, see ``labels.is_kept``) only their
TTL applies; one still named ``NAME.starting`` whose starter is gone was interrupted: reaped.
Containers without dkenv's labels are never looked at (the Docker filter excludes them).
``$DKENV_SCOPE`` does not limit reaping: an abandoned container is abandoned in every scope.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from dkenv.docker import labels as L
from dkenv.docker.containers import list_dkenv, remove
from dkenv.engines.side_door import sweep_socket_folders

if TYPE_CHECKING:
    import docker


def pid_alive(pid: int, start: str = "") -> bool:
    """Is ``pid`` running here, and (when ``start`` is known) still the same process?"""
    if pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    if start:
        current = L.process_start.__wrapped__(pid)  # uncached: the pid may have been recycled
        if current and current != start:
            return False
    return _not_zombie(pid)


def _not_zombie(pid: int) -> bool:
    """A zombie (killed, not yet waited for by its parent) is dead for our purposes."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def _ttl_passed(labels: dict[str, str], now: float) -> bool:
    ttl = L.as_int(labels, L.TTL)
    created = L.as_float(labels, L.CREATED)
    return bool(ttl > 0 and created and now > created + ttl)


def abandoned_reason(labels: dict[str, str], *, now: float, host: str,
                     docker_name: str | None = None) -> str | None:
    """Why a container with these labels (and this Docker name) should be reaped, or None."""
    if _ttl_passed(labels, now):
        return f"its time-to-live ({L.as_int(labels, L.TTL)} s) has passed"
    pid, start = L.as_int(labels, L.OWNER_PID), labels.get(L.OWNER_START, "")
    if labels.get(L.PERSISTENT) == "true":
        if L.is_kept(labels, docker_name):
            return None
        pid, start = L.as_int(labels, L.STARTER_PID), labels.get(L.STARTER_START, "")
        if pid > 0 and labels.get(L.OWNER_HOST) == host and not pid_alive(pid, start):
            return f"the process {pid} that was starting it is gone"
        return None
    if pid > 0 and labels.get(L.OWNER_HOST) == host and not pid_alive(pid, start):
        return f"its owner process {pid} is gone"
    return None


def _kept_since(client: docker.DockerClient, container_id: str, labels: dict[str, str]) -> bool:
    """Whether a persistent container is kept now (its row was read before its owner's exit).

    The owner renames it before exiting, and we found the owner gone after reading the row:
    reading the name again now sees the rename, if there was one.
    """
    from docker.errors import NotFound

    try:
        name = client.api.inspect_container(container_id).get("Name")
    except NotFound:
        return True  # gone already: nothing to do
    return L.is_kept(labels, name)


def reap(
    client: docker.DockerClient,
    *,
    now: float | None = None,
    note: Callable[[str], None] | None = None,
) -> list[str]:
    """Remove abandoned dkenv containers; return their names.

    ``note`` (e.g. a stderr printer) gets one line when anything was removed; nothing otherwise.
    Safe to run from many processes at once: a container removed by another reaper is skipped.
    """
    now = time.time() if now is None else now
    host = L.this_host()
    removed: list[str] = []
    rows = list_dkenv(client, all=True, scoped=False)
    in_use = {(row.get("Labels") or {}).get(L.SOCKET, "") for row in rows}
    for row in rows:
        labels = row.get("Labels") or {}
        docker_name = (row.get("Names") or [""])[0]
        if abandoned_reason(labels, now=now, host=host, docker_name=docker_name) is None:
            continue
        if (labels.get(L.PERSISTENT) == "true" and not _ttl_passed(labels, now)
                and _kept_since(client, row["Id"], labels)):
            continue  # its starter kept it, then exited, while we were looking
        if remove(client, row["Id"], socket_folder=labels.get(L.SOCKET)):
            removed.append(labels.get(L.NAME) or row["Id"][:12])
    if removed and note is not None:
        note(f"dkenv: removed {len(removed)} abandoned container(s) (owner gone or TTL passed): "
             + ", ".join(removed))
    sweep_socket_folders(in_use)  # folders whose container was removed by hand
    return removed
