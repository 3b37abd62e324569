"""Docker operations the lifecycle needs, each turned into dkenv's errors where users meet them.

Low-level API calls (``client.api``) on purpose: ``containers.run`` is create + inspect + start
+ inspect, and every round trip is time to ready.  Here a start is create + start + one inspect
(for the host port Docker assigned), and a missing image costs nothing until ``create`` says so.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dkenv.docker import labels as L
from dkenv.errors import DockerUnavailable, ImageUnavailable, UsageError

if TYPE_CHECKING:
    import docker

Progress = Callable[[str], None]


def stderr_progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class ContainerSpec:
    """Everything ``docker run`` needs for one database container."""

    name: str
    image: str
    env: dict[str, str]
    labels: dict[str, str]
    container_port: int
    publish_host: str = "127.0.0.1"
    host_port: int | None = None  # None: Docker picks a free port (no probe-then-bind race)
    command: list[str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # more create_host_config() arguments


def run(client: docker.DockerClient, spec: ContainerSpec, progress: Progress | None,
        made: list[str] | None = None) -> dict:
    """Create and start the container; return its inspect document (ports assigned).

    ``made`` gets the container id as soon as it exists, so that the caller can remove it
    whenever an interrupt lands after this function's own protection ends.

    A container that was created but failed to start (port taken) is removed before the error
    propagates, so a failure leaves nothing behind.  So is one whose ``create`` call was cut
    short by Ctrl-C or SIGTERM after the engine made it: it is found by name and labels.
    """
    from docker.errors import APIError, ImageNotFound

    from dkenv.hooks import gate

    api = client.api
    host_config = api.create_host_config(
        port_bindings={f"{spec.container_port}/tcp": (spec.publish_host, spec.host_port)},
        **spec.extra,
    )
    kwargs = dict(image=spec.image, name=spec.name, environment=spec.env, labels=spec.labels,
                  ports=[spec.container_port], host_config=host_config, command=spec.command,
                  detach=True)
    try:
        try:
            created = api.create_container(**kwargs)
        except ImageNotFound:
            pull(client, spec.image, progress)
            created = _create(api, spec, kwargs)
        except APIError as exc:
            raise _create_error(exc, spec) from None
        gate("container-created")
    except BaseException as exc:
        if not isinstance(exc, Exception):  # interrupted: the engine may have made it anyway
            _remove_made(client, spec)
        raise
    cid = created["Id"]
    try:
        if made is not None:
            made.append(cid)
        api.start(cid)
        return api.inspect_container(cid)
    except BaseException as exc:
        remove(client, cid)
        if isinstance(exc, APIError) and spec.host_port and _port_taken(exc):
            holder = port_holder(client, spec.host_port, exclude=cid)
            by = f" (held by {holder})" if holder else ""
            raise UsageError(
                f"port {spec.host_port} on {spec.publish_host} is already in use{by}",
                "choose another --port, or leave it out and Docker picks a free one",
            ) from None
        if isinstance(exc, APIError):
            raise DockerUnavailable(f"Docker could not start container {spec.name}: {_explain(exc)}",
                                    "see `docker info` and the engine's log") from None
        raise


def run_named(client: docker.DockerClient, make: Callable[[str], ContainerSpec], *,
              name: str | None, prefix: str, progress: Progress | None,
              made: list[str]) -> tuple[dict, dict[str, str]]:
    """:func:`run` under ``name``, or a free ``PREFIX-xxxxxx``: (inspect document, labels).

    ``make(name)`` gives the spec; a persistent one is created as ``NAME.starting`` (see
    :func:`labels.is_kept`), after checking that ``NAME`` itself is free.
    """
    import secrets

    for _ in range(5):  # generated names collide only by bad luck
        wanted = name or f"{prefix}-{secrets.token_hex(3)}"
        spec = make(wanted)
        pending = spec.name != wanted
        try:
            if pending and name_taken(client, wanted):
                raise name_conflict(wanted)
            return run(client, spec, progress, made), spec.labels
        except UsageError as exc:
            if "already exists" not in exc.message:
                raise
            if name is not None:
                raise name_conflict(wanted) from None
    raise UsageError("could not find a free container name", "pass --name")  # pragma: no cover


def rename(client: docker.DockerClient, container_id: str, name: str) -> None:
    """Give a container its final Docker name (a name taken meanwhile is a UsageError)."""
    from docker.errors import APIError

    try:
        client.api.rename(container_id, name)
    except APIError as exc:
        if exc.status_code == 409:
            raise name_conflict(name) from None
        raise DockerUnavailable(f"Docker could not rename container {name}: {_explain(exc)}",
                                "see `docker info` and the engine's log") from None


def name_taken(client: docker.DockerClient, name: str) -> bool:
    """Whether a container (any) is named ``name``."""
    return bool(client.api.containers(all=True, filters={"name": f"^/{name}$"}))


def _remove_made(client: docker.DockerClient, spec: ContainerSpec) -> None:
    """Remove the container ``spec`` made, if the engine made it (its name and creation label)."""
    rows = client.api.containers(all=True, filters={
        "name": f"^/{spec.name}$", "label": [f"{L.CREATED}={spec.labels.get(L.CREATED, '')}"]})
    for row in rows:
        remove(client, row["Id"])


def _create(api: Any, spec: ContainerSpec, kwargs: dict) -> dict:
    from docker.errors import APIError

    try:
        return api.create_container(**kwargs)
    except APIError as exc:
        raise _create_error(exc, spec) from None


def name_conflict(name: str) -> UsageError:
    return UsageError(f"a container named {name!r} already exists",
                      f"choose another --name, or remove it first (`dkenv down {name}` if dkenv made it)")


def _create_error(exc: Any, spec: ContainerSpec) -> Exception:
    if exc.status_code == 409:
        return name_conflict(spec.name)
    if exc.status_code == 404:
        return ImageUnavailable(f"image {spec.image!r} not found after pulling it", _IMAGE_HINT)
    return DockerUnavailable(f"Docker could not create container {spec.name}: {_explain(exc)}",
                             "see `docker info` and the engine's log")


_IMAGE_HINT = ("pass another image with --image (or DKENV_POSTGRES_IMAGE / DKENV_MYSQL_IMAGE), "
               "or build one offline with `dkenv image build postgres|mysql`")


def pull(client: docker.DockerClient, image: str, progress: Progress | None) -> None:
    """Pull ``image`` showing per-layer progress; any failure is :class:`ImageUnavailable`."""
    from docker.errors import APIError, DockerException
    from docker.utils import parse_repository_tag

    show = progress or (lambda line: None)
    repo, tag = parse_repository_tag(image)
    show(f"dkenv: pulling {image} ...")
    last: dict[str, tuple[str, float]] = {}
    try:
        for event in client.api.pull(repo, tag=tag or "latest", stream=True, decode=True):
            if "error" in event:
                raise ImageUnavailable(f"cannot pull image {image!r}: {event['error'].strip()}",
                                       _IMAGE_HINT)
            layer, status = event.get("id", ""), event.get("status", "")
            now = time.monotonic()
            previous = last.get(layer)
            # One line per layer and state, plus a byte count at most twice a second.
            if previous and previous[0] == status and now - previous[1] < 0.5:
                continue
            last[layer] = (status, now)
            detail = event.get("progress", "") if status in ("Downloading", "Extracting") else ""
            show(f"  {layer + ': ' if layer else ''}{status} {detail}".rstrip())
    except (APIError, DockerException) as exc:
        raise ImageUnavailable(f"cannot pull image {image!r}: {_explain(exc)}", _IMAGE_HINT) from None


def remove(client: docker.DockerClient, container_id: str, *, socket_folder: str | None = None) -> bool:
    """Kill and remove a container with its anonymous volumes; False if it was already gone.

    ``force=True`` sends SIGKILL: the data is disposable, so waiting for a clean shutdown
    (``docker stop``) would only add time.  ``socket_folder`` (its ``dkenv.socket`` label): the
    folder of this machine it had for its socket, removed with it.
    """
    from docker.errors import APIError, NotFound

    from dkenv.engines.side_door import remove_socket_folder

    try:
        client.api.remove_container(container_id, force=True, v=True)
    except NotFound:
        remove_socket_folder(socket_folder)
        return False
    except APIError as exc:
        if exc.status_code == 409 and "in progress" in _explain(exc):
            _wait_removed(client, container_id)  # another process is removing it right now
            remove_socket_folder(socket_folder)
            return False
        raise
    remove_socket_folder(socket_folder)
    return True


def _wait_removed(client: docker.DockerClient, container_id: str) -> None:
    """Return once another process's removal of the container is done (so lists no longer show it)."""
    from docker.errors import APIError, NotFound

    try:
        client.api.wait(container_id, condition="removed")
    except (NotFound, APIError):
        pass  # already gone (or the engine cannot say): nothing left to wait for


def state(client: docker.DockerClient, container_id: str) -> dict:
    """``State`` of the container's inspect document ({} when it no longer exists)."""
    from docker.errors import NotFound

    try:
        return client.api.inspect_container(container_id).get("State", {})
    except NotFound:
        return {}


def password_from_env(attrs: dict, engine: str, user: str) -> str:
    """The password variable the engine's image contract uses for ``user``."""
    env = dict(item.split("=", 1) for item in (attrs.get("Config") or {}).get("Env") or [] if "=" in item)
    marker = "\x00"
    contract = _engine(engine).container_environment(user=user, password=marker, database="x")
    for key in [k for k, v in contract.items() if v == marker]:
        if env.get(key):
            return env[key]
    return ""


def _engine(name: str) -> Any:
    from dkenv.engines import get_engine

    return get_engine(name)


def last_logs(client: docker.DockerClient, container_id: str, lines: int = 20) -> list[str]:
    from docker.errors import APIError

    try:
        raw = client.api.logs(container_id, stdout=True, stderr=True, tail=lines)
    except APIError:
        return []
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(raw)
    return [line for line in text.splitlines() if line.strip()][-lines:]


def published(attrs: dict, container_port: int) -> tuple[str, int] | None:
    """(host ip, host port) of ``container_port`` from an inspect document, or None."""
    ports = (attrs.get("NetworkSettings") or {}).get("Ports") or {}
    for binding in ports.get(f"{container_port}/tcp") or []:
        if binding.get("HostPort"):
            return binding.get("HostIp") or "0.0.0.0", int(binding["HostPort"])
    return None


def published_from_list(row: dict, container_port: int) -> tuple[str, int] | None:
    """The same from a ``docker ps`` row (no inspect needed)."""
    for port in row.get("Ports") or []:
        if port.get("PrivatePort") == container_port and port.get("PublicPort"):
            return port.get("IP") or "0.0.0.0", int(port["PublicPort"])
    return None


def list_dkenv(client: docker.DockerClient, *, all: bool = True,  # noqa: A002
               extra_labels: list[str] | None = None, scoped: bool = True) -> list[dict]:
    """``docker ps`` rows of dkenv's containers only (see :data:`labels.FILTER`).

    ``scoped``: only those of ``$DKENV_SCOPE`` when it is set (the reaper looks at all).
    """
    scope = L.current_scope() if scoped else None
    scope_filter = [f"{L.SCOPE}={scope}"] if scope else []
    filters = {"label": [*L.FILTER["label"], *scope_filter, *(extra_labels or [])]}
    rows = client.api.containers(all=all, filters=filters)
    return [row for row in rows if L.is_dkenv(row.get("Labels"))]


def _port_taken(exc: Any) -> bool:
    text = _explain(exc).lower()
    return "port is already allocated" in text or "address already in use" in text


def port_holder(client: docker.DockerClient, port: int, *, exclude: str = "") -> str | None:
    """Who publishes ``port``: a container (any, by name) or, on this machine, a process."""
    try:
        for row in client.api.containers():
            if row["Id"] == exclude:
                continue
            for binding in row.get("Ports") or []:
                if binding.get("PublicPort") == port:
                    name = (row.get("Names") or ["?"])[0].lstrip("/")
                    return f"container {name}"
    except Exception:  # noqa: BLE001 - a best-effort detail in an error message
        pass
    return _process_listening(port)


def _process_listening(port: int) -> str | None:
    """``pid NNN (command)`` listening on ``port`` here, from /proc (Linux; best effort)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as fh:
                next(fh, None)
                for line in fh:
                    parts = line.split()
                    if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(parts[9])
        except OSError:
            continue
    if not inodes:
        return None
    targets = {f"socket:[{inode}]" for inode in inodes}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            if any(os.readlink(f"/proc/{pid}/fd/{fd}") in targets for fd in fds):
                with open(f"/proc/{pid}/comm", encoding="utf-8") as fh:
                    return f"pid {pid} ({fh.read().strip()})"
        except OSError:
            continue
    return None


def _explain(exc: Any) -> str:
    text = getattr(exc, "explanation", None) or str(exc)
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return str(text).strip().splitlines()[0] if str(text).strip() else type(exc).__name__
