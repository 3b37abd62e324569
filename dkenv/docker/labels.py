"""The labels dkenv puts on every container it creates, and the filter that finds only those.

Labels are the whole registry: there is no state file.  Any process (``dkenv ls`` in another
shell, the reaper after a SIGKILL) can rebuild a server from them.  The password is *not* a
label (``docker ps --format {{.Labels}}`` would show it); it is read back from the container's
environment, where the image needs it anyway.

Why two labels in :data:`FILTER`: Docker copies an image's labels onto its containers, so an
image labelled ``dkenv.managed=true`` would make every container run from it (by testcontainers,
by hand) look like dkenv's.  ``dkenv.created`` is only ever set by :func:`build`, at run time.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
from collections.abc import Mapping
from functools import cache

from dkenv.errors import UsageError

PREFIX = "dkenv."
MANAGED = "dkenv.managed"
NAME = "dkenv.name"
ENGINE = "dkenv.engine"
OWNER_PID = "dkenv.owner.pid"  # "0" = nobody: persistent (dkenv up) or reusable
OWNER_HOST = "dkenv.owner.host"
OWNER_START = "dkenv.owner.start"  # the owner's start time, so a recycled pid is not mistaken for it
# The process that created a persistent container: its owner until the container is kept.
# (Not OWNER_PID: older dkenv versions reap any container whose OWNER_PID is gone.)
STARTER_PID = "dkenv.starter.pid"
STARTER_START = "dkenv.starter.start"
CREATED = "dkenv.created"  # epoch seconds
TTL = "dkenv.ttl"  # seconds; "0" = no time-to-live
CONFIG_HASH = "dkenv.config-hash"
PERSISTENT = "dkenv.persistent"  # outlives its owner, once kept (see :func:`is_kept`)
USER = "dkenv.user"
DATABASE = "dkenv.database"
PORT = "dkenv.port"  # the container port that serves the database
SCOPE = "dkenv.scope"  # from $DKENV_SCOPE: keeps CI jobs / test sessions sharing an engine apart
SCOPE_ENV = "DKENV_SCOPE"
REUSE = "dkenv.reuse"  # "true": started by reuse=True, so another reuse=True may adopt it
RUN = "dkenv.run"  # a pytest-xdist run's testrunuid: the server its workers share
SHARE = "dkenv.share"  # which session server of that run (fixture name + configuration)
SOCKET = "dkenv.socket"  # the folder of this machine where the server puts its Unix socket

#: Docker filter for dkenv's own containers (both labels must be present; see the module doc).
FILTER: dict[str, list[str]] = {"label": [f"{MANAGED}=true", CREATED]}


def is_dkenv(labels: Mapping[str, str] | None) -> bool:
    """The same test as :data:`FILTER`, for containers already in hand."""
    return bool(labels) and labels.get(MANAGED) == "true" and CREATED in labels


def current_scope() -> str | None:
    """``$DKENV_SCOPE``: when set, new containers carry it and ls/down/reuse see only them."""
    return os.environ.get(SCOPE_ENV) or None


def this_host() -> str:
    return socket.gethostname()


@cache
def process_start(pid: int) -> str:
    """Start time of ``pid`` in clock ticks since boot (Linux), or "" where unknown."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return ""
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def config_hash(**config: object) -> str:
    """A stable digest of what makes two servers interchangeable (for ``reuse=True``)."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def build(
    *,
    name: str,
    engine: str,
    user: str,
    database: str,
    container_port: int,
    ttl: float | None,
    persistent: bool,
    digest: str,
    now: float | None = None,
    owner_pid: int | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The labels of a new container, owned by this process from its first moment.

    A persistent one has no owner (it outlives its starter), but it names its starter: until
    that process has finished with it (``Server.keep()`` renames it from
    :func:`starting_name` to ``name``), a starter that dies leaves a reapable container.
    ``owner_pid``: another process of this host that owns it (an xdist worker starts the
    server its controller owns, so killing the controller gets it reaped); default: this one.
    """
    pid = 0 if persistent else (owner_pid or os.getpid())
    starter = os.getpid()
    scope = current_scope()
    return ({SCOPE: scope} if scope else {}) | dict(extra or {}) | {
        MANAGED: "true",
        NAME: name,
        ENGINE: engine,
        OWNER_PID: str(pid),
        OWNER_HOST: this_host(),
        OWNER_START: process_start(pid) if pid else "",
        STARTER_PID: str(starter),
        STARTER_START: process_start(starter),
        CREATED: f"{time.time() if now is None else now:.3f}",
        TTL: str(int(ttl or 0)),
        CONFIG_HASH: digest,
        PERSISTENT: "true" if persistent else "false",
        USER: user,
        DATABASE: database,
        PORT: str(container_port),
    }


#: A persistent container's Docker name while its start is not finished (``NAME.starting``).
STARTING_SUFFIX = ".starting"


def starting_name(name: str) -> str:
    """The Docker name a persistent container has until it is kept."""
    return f"{name}{STARTING_SUFFIX}"


def is_kept(labels: Mapping[str, str], docker_name: str | None) -> bool:
    """A persistent container its starter has finished with: its Docker name is its dkenv name.

    Why the name: labels cannot change after ``create``, and a container must carry its owner
    from that very call (a signal can land while it is in flight).  The Docker name is the one
    thing dkenv can change afterwards, atomically (``rename``), and every process can read it.
    """
    if labels.get(PERSISTENT) != "true":
        return False
    return docker_name is None or docker_name.lstrip("/") == labels.get(NAME)


def as_int(labels: Mapping[str, str], key: str, default: int = 0) -> int:
    try:
        return int(float(labels.get(key, default)))
    except (TypeError, ValueError):
        return default


def as_float(labels: Mapping[str, str], key: str, default: float = 0.0) -> float:
    try:
        return float(labels.get(key, default))
    except (TypeError, ValueError):
        return default


_TTL = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)", re.IGNORECASE)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_ttl(ttl: float | str | None) -> int:
    """Seconds from 90, "90s", "30m", "2h", "1d", "1h30m" (0 or None: no time-to-live)."""
    if ttl is None or ttl == "":
        return 0
    if isinstance(ttl, int | float):
        seconds = float(ttl)
    else:
        text = str(ttl).strip().replace(" ", "")
        parts = _TTL.findall(text)
        if not parts or "".join(n + u for n, u in parts).lower() != text.lower():
            raise UsageError(f"--ttl: {ttl!r} is not a duration", "use seconds or e.g. 90s, 30m, 2h, 1d")
        seconds = sum(float(n) * _UNITS[u.lower()] for n, u in parts)
    if seconds < 0:
        raise UsageError(f"--ttl: {ttl!r} is negative", "use a positive duration, or 0 for none")
    return int(round(seconds))
