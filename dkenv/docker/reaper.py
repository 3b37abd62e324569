"""Reaping: remove dkenv containers nobody will ever remove.

A process killed with SIGKILL (or a laptop that slept through a CI timeout) runs no cleanup,
so every docker-touching dkenv command calls :func:`reap` first.  A container is abandoned when

* its owner process ran on *this* host and is gone (or its pid now belongs to another
  process: the owner's start time is in the labels), or
* its time-to-live has passed (wherever its owner is).

Persistent containers (``dkenv up``, ``reuse=True``) have owner pid 0: only their TTL applies.
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


def abandoned_reason(labels: dict[str, str], *, now: float, host: str) -> str | None:
    """Why a container with these labels should be reaped, or None to keep it."""
    ttl = L.as_int(labels, L.TTL)
    created = L.as_float(labels, L.CREATED)
    if ttl > 0 and created and now > created + ttl:
        return f"its time-to-live ({ttl} s) has passed"
    pid = L.as_int(labels, L.OWNER_PID)
    if pid > 0 and labels.get(L.OWNER_HOST) == host and not pid_alive(pid, labels.get(L.OWNER_START, "")):
        return f"its owner process {pid} is gone"
    return None


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
    for row in list_dkenv(client, all=True, scoped=False):
        labels = row.get("Labels") or {}
        if abandoned_reason(labels, now=now, host=host) is None:
            continue
        if remove(client, row["Id"]):
            removed.append(labels.get(L.NAME) or row["Id"][:12])
    if removed and note is not None:
        note(f"dkenv: removed {len(removed)} abandoned container(s) (owner gone or TTL passed): "
             + ", ".join(removed))
    return removed
