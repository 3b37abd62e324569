"""dkenv's servers as any process sees them: listed, looked up, removed and reaped by their labels.

Nothing here needs the process that started a server: every fact comes from the container's
labels (:mod:`dkenv.docker.labels`), so ``dkenv ls``/``down`` work on servers other commands,
tests or crashed processes left behind.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from dkenv.docker import containers as C
from dkenv.docker.client import get_client
from dkenv.errors import UsageError
from dkenv.servers.lifecycle import Server, server_from_row

if TYPE_CHECKING:
    import docker


def list_servers(client: docker.DockerClient | None = None) -> list[Server]:
    """dkenv's containers (running or not), oldest first; never anyone else's."""
    client = client or get_client()
    servers = [server_from_row(row, client) for row in C.list_dkenv(client, all=True)]
    return sorted(servers, key=lambda s: (s.created, s.name))


def get_server(name: str, client: docker.DockerClient | None = None) -> Server:
    """The dkenv server called ``name`` (or whose container id starts with it)."""
    return _select([name], list_servers(client))[0]


def remove_servers(names: list[str] | None = None, all: bool = False,  # noqa: A002
                   client: docker.DockerClient | None = None) -> list[str]:
    """Remove the named dkenv servers (or all of them); unknown names remove nothing (exit 2)."""
    if not names and not all:
        raise UsageError("name the servers to remove, or pass --all", "see `dkenv ls`")
    servers = list_servers(client)
    chosen = servers if all else _select(list(names or []), servers)
    for server in chosen:
        server.remove()
    return [s.name for s in chosen]


def _select(names: list[str], servers: list[Server]) -> list[Server]:
    chosen, unknown = [], []
    for wanted in names:
        match = [s for s in servers if s.name == wanted] or (
            [s for s in servers if s.container.startswith(wanted)] if len(wanted) >= 6 else [])
        (chosen.extend(match) if match else unknown.append(wanted))
    if unknown:
        known = ", ".join(s.name for s in servers) or "none (nothing is running)"
        raise UsageError(f"no dkenv server named {', '.join(map(repr, unknown))}",
                         f"known servers: {known}")
    return chosen
