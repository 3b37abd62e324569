"""Throwaway database servers in containers: start, wait until ready, and always remove.

    with dkenv.ephemeral("postgres") as db:          # gone when the block exits, whatever happens
        deploy_data_objects(tables, db.target)

What "always" covers: the block's exceptions and KeyboardInterrupt (also during the readiness
wait), SIGTERM/SIGHUP (turned into SystemExit when their handler is the default, so ``finally``
blocks run), and interpreter exit (atexit).  SIGKILL cannot be caught: the next dkenv command
reaps such containers (:mod:`dkenv.docker.reaper`), as every container carries its owner's pid.

Servers from ``dkenv up`` (``persistent=True``) and ``reuse=True`` outlive the process that
started them, until ``dkenv down`` or their time-to-live -- but only once kept: until then
(Docker name ``NAME.starting``) they belong to their starter like any other, so an ``up``
interrupted anywhere, even by SIGKILL, leaves nothing the reaper would not remove.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dkenv import hooks
from dkenv.config import Target, image_for, parse_port
from dkenv.docker import containers as C
from dkenv.docker import labels as L
from dkenv.docker.client import endpoint_of, get_client
from dkenv.docker.labels import parse_ttl
from dkenv.docker.readiness import wait_for_server
from dkenv.docker.reaper import reap
from dkenv.engines import SERVER_ENGINES, get_engine
from dkenv.engines.side_door import close_door, open_door, remove_socket_folder, socket_folder
from dkenv.errors import UsageError
from dkenv.servers.server import (  # noqa: F401 - Server, DatabaseName and install_signal_handlers are imported from here too
    _LOCK,
    _OWNED,
    DatabaseName,
    Server,
    install_signal_handlers,
)

if TYPE_CHECKING:
    import docker

# ---------------------------------------------------------------------------
# Starting
# ---------------------------------------------------------------------------
def start(
    engine: str,
    *,
    name: str | None = None,
    image: str | None = None,
    port: int | str | None = None,
    user: str | None = None,
    password: str | None = None,
    database: str | None = None,
    env: dict[str, str] | None = None,
    command: list[str] | None = None,
    timeout: float = 60.0,
    ttl: float | str | None = None,
    reuse: bool = False,
    persistent: bool = False,
    keep: bool = True,
    progress: Callable[[str], None] | bool | None = None,
    client: docker.DockerClient | None = None,
    owner_pid: int | None = None,
    labels: dict[str, str] | None = None,
) -> Server:
    """Start a database container and return once ``SELECT 1`` succeeds through the driver.

    ``port``: host port (default: Docker picks a free one on 127.0.0.1); taken → UsageError
    (exit 2, naming the holder).  ``ttl``: seconds or "30m"/"2h"; reaped afterwards.
    ``reuse``: return a running unowned server with the same configuration, or start one that
    outlives this process.  ``persistent``: not removed at this process's exit -- once kept:
    ``keep=False`` returns it still owned by this process (removed at exit, reaped if this
    process dies) until ``server.keep()``, for callers with more to do before it may outlive them.
    ``command``: the image's command (e.g. ``["postgres", "-c", "log_statement=all"]``).
    ``progress``: a line printer (default stderr; False for silence).
    ``owner_pid``: the process of this host that owns the container (default: this one).
    ``labels``: extra labels (``dkenv.*``), e.g. the xdist run a shared server belongs to.

    ``reuse`` adopts only a server that ``reuse=True`` started (a ``dkenv up`` dev server only
    when asked for by ``name``), with the same configuration and ``$DKENV_SCOPE``; processes
    racing to reuse start exactly one (a file lock per configuration).
    """
    spec = get_engine(engine)
    if spec.embedded:  # no container: a temp directory with the same surface
        return hooks.call("start_local_server", spec.name, **({"name": name} if name else {}))
    if spec.name not in SERVER_ENGINES:
        raise UsageError(f"{spec.name} does not run in a container", "use postgres or mysql")
    show: Callable[[str], None] = (C.stderr_progress if progress is None or progress is True
                                   else (lambda line: None) if progress is False else progress)
    image = image_for(spec.name, explicit=image)
    user = user or spec.default_user or "root"
    database = database or spec.default_database or "dkenv"
    host_port = parse_port(port) if port is not None else None
    ttl_s = parse_ttl(ttl)
    client = client or get_client()
    endpoint = endpoint_of(client)
    reap_abandoned(client, note=show, once=True)

    digest = L.config_hash(engine=spec.name, image=image, user=user, database=database,
                           env=env or {}, command=command, port=host_port,
                           publish=endpoint.publish_host, scope=L.current_scope())
    if reuse:
        with reuse_lock(digest):
            found = _find_reusable(client, digest, name)
            if found is not None:
                wait_for_server(client, found, timeout)
                return found
            return _start_new(spec, client, endpoint, show, image=image, user=user, password=password,
                              database=database, env=env, command=command, timeout=timeout,
                              ttl_s=ttl_s, reuse=True, persistent=True, name=name, host_port=host_port,
                              digest=digest, owner_pid=owner_pid, labels=labels)
    return _start_new(spec, client, endpoint, show, image=image, user=user, password=password,
                      database=database, env=env, command=command, timeout=timeout, ttl_s=ttl_s,
                      reuse=False, persistent=persistent, name=name, host_port=host_port,
                      digest=digest, owner_pid=owner_pid, labels=labels, keep=keep)


def reuse_lock(digest: str) -> Any:
    """An inter-process lock per reusable configuration: find-or-start happens once at a time."""
    from filelock import FileLock

    from dkenv.state import state_dir

    folder = state_dir("locks")  # private to this user: no one else can hold or plant the lock
    return FileLock(str(folder / f"reuse-{digest}.lock"))


def _start_new(spec: Any, client: Any, endpoint: Any, show: Callable[[str], None], *, image: str,
               user: str, password: str | None, database: str, env: dict[str, str] | None,
               command: list[str] | None, timeout: float, ttl_s: int, reuse: bool,
               persistent: bool, name: str | None, host_port: int | None, digest: str,
               owner_pid: int | None, labels: dict[str, str] | None, keep: bool = True) -> Server:
    """Run a new container and wait until it answers; removed again if it never does."""
    password = password or secrets.token_urlsafe(18)
    environment = {**spec.container_environment(user=user, password=password, database=database),
                   **(env or {})}
    if endpoint.exposes_beyond_loopback:
        show(f"dkenv: warning: the Docker engine {endpoint.describe()} is remote; the database "
             f"port is published on {endpoint.publish_host} of that host, reachable beyond loopback")
    install_signal_handlers()  # even for `dkenv up`: SIGTERM while waiting must remove it too

    sockets: list[Path | None] = []  # the container's socket folder, made once for every name tried

    def container_spec(cname: str) -> C.ContainerSpec:
        extra = {**(labels or {}), **({L.REUSE: "true"} if reuse else {})}
        mounts: dict[str, Any] = {}
        if spec.data_dir and not persistent:
            # Its data dies with it anyway: in memory, a CREATE DATABASE on PostgreSQL takes ~5 ms
            # instead of ~90 ms and a MariaDB TRUNCATE ~0.4 ms instead of ~0.6 ms.  (dkenv's
            # images copy their initialised data directory in; official ones initialise it.)
            mounts["tmpfs"] = {spec.data_dir: "rw"}
        if not sockets:
            sockets.append(_socket_folder(spec, endpoint, persistent=persistent))
        folder = sockets[0]
        if folder is not None:
            extra[L.SOCKET] = str(folder)
            mounts["binds"] = {str(folder): {"bind": spec.socket_dir, "mode": "rw"}}
        all_labels = L.build(name=cname, engine=spec.name, user=user, database=database,
                             container_port=spec.container_port, ttl=ttl_s, persistent=persistent,
                             digest=digest, owner_pid=owner_pid, extra=extra)
        return C.ContainerSpec(name=L.starting_name(cname) if persistent else cname, image=image,
                               env=environment, labels=all_labels, container_port=spec.container_port,
                               publish_host=endpoint.publish_host, host_port=host_port,
                               command=command, extra=mounts)

    made: list[str] = []  # the container id, as soon as it exists
    try:
        attrs, made_labels = C.run_named(client, container_spec, name=name,
                                         prefix=f"dkenv-{spec.name}", progress=show, made=made)
        server = _server_from(attrs, made_labels, client, endpoint, password=password, image=image)
        server.remove_on_stop = not reuse
        with _LOCK:  # owned until kept, persistent or not: removed at exit, reaped if we die
            _OWNED[server.container] = server
        hooks.gate("container-started")
        wait_for_server(client, server, timeout, attrs.get("State"))
        hooks.gate("server-ready")
        if persistent and (keep or reuse):
            server.keep()
    except BaseException:
        for cid in made:
            with _LOCK:
                _OWNED.pop(cid, None)
            C.remove(client, cid)
        for folder in sockets:
            remove_socket_folder(str(folder) if folder else None)
        raise
    return server


def _socket_folder(spec: Any, endpoint: Any, *, persistent: bool) -> Path | None:
    """A folder of this machine for the server's Unix socket (:mod:`dkenv.engines.side_door`):
    for a local engine only (a remote one's containers cannot mount this machine's folders).
    A server that outlives its process gets one in dkenv's state directory, which a reboot or
    a temporary-files cleaner leaves alone: Docker would not start the container again
    without its mount's folder."""
    if endpoint.remote or not spec.socket_dir or not spec.socket_file:
        return None
    from dkenv.errors import DkenvError
    from dkenv.state import state_dir

    try:
        return socket_folder(state_dir("sockets") if persistent else None)
    except (OSError, DkenvError):  # no folder of our own for it: the port alone, as before
        return None


@contextmanager
def ephemeral(engine: str, **options: Any) -> Iterator[Server]:
    """A server for the duration of a ``with`` block; removed when it exits, whatever happened."""
    server = start(engine, **options)
    try:
        yield server
    finally:
        server.stop()


def start_for_target(target: Target, *, keep: bool = False) -> Server:
    """The container behind a ``*_container`` target (used by the runtime; removed at release).

    ``target.options`` may hold ``timeout``, ``ttl``, ``env``, ``command``, ``name``, ``reuse``,
    ``keep``; ``keep`` (``deploy --keep``) starts it persistent as the option does.
    """
    opts = dict(target.options or {})
    return start(target.db_type, name=opts.get("name"), image=target.image, port=target.port,
                 user=target.user, password=target.password, database=target.database,
                 env=opts.get("env"), command=opts.get("command"),
                 timeout=float(opts.get("timeout", 60.0)), ttl=opts.get("ttl"),
                 reuse=bool(opts.get("reuse")), persistent=keep or bool(opts.get("keep")),
                 keep=False)  # a kept deploy keeps it at its release (runtime.release)


def _server_from(attrs: dict, labels: dict[str, str], client: Any, endpoint: Any, *,
                 password: str | None, image: str) -> Server:
    engine = labels[L.ENGINE]
    container_port = L.as_int(labels, L.PORT) or get_engine(engine).container_port
    bound = C.published(attrs, container_port)
    state = attrs.get("State") or {}
    return _make_server(labels, client, endpoint, container=attrs["Id"], image=image,
                        bound=bound, password=password, status=state.get("Status", "running"),
                        docker_name=attrs.get("Name"))


def _make_server(labels: dict[str, str], client: Any, endpoint: Any, *, container: str, image: str,
                 bound: tuple[str, int] | None, password: str | None, status: str,
                 docker_name: str | None) -> Server:
    ip, port = bound or ("", 0)
    if endpoint.remote:
        host = endpoint.host
    else:
        host = "127.0.0.1" if ip in ("", "0.0.0.0", "::") else ip
    folder = "" if endpoint.remote else labels.get(L.SOCKET, "")
    spec = get_engine(labels[L.ENGINE])
    if folder and port and spec.socket_file:
        open_door(host, port, os.path.join(folder, spec.socket_file))
    kept = L.is_kept(labels, docker_name)
    pending = labels.get(L.PERSISTENT) == "true" and not kept
    pid = L.as_int(labels, L.STARTER_PID if pending else L.OWNER_PID)
    return Server(
        name=labels.get(L.NAME, container[:12]), engine=labels[L.ENGINE], host=host, port=port,
        container=container, image=image, user=labels.get(L.USER, ""),
        database_name=labels.get(L.DATABASE, ""), created=L.as_float(labels, L.CREATED),
        ttl=L.as_int(labels, L.TTL), owner_pid=pid, owner_host=labels.get(L.OWNER_HOST, ""),
        persistent=labels.get(L.PERSISTENT) == "true", pending=pending, status=status,
        socket_folder=folder, _password=password,
        _client=client,
    )


def _find_reusable(client: Any, digest: str, name: str | None) -> Server | None:
    """A running server with this configuration (the digest covers the scope) that reuse=True
    started -- or, asked for by ``name``, any persistent one (a ``dkenv up`` dev server)."""
    extra = [f"{L.CONFIG_HASH}={digest}", f"{L.PERSISTENT}=true"]
    if name is None:
        extra.append(f"{L.REUSE}=true")
    for row in C.list_dkenv(client, all=False, extra_labels=extra):
        labels = row.get("Labels") or {}
        if name is not None and labels.get(L.NAME) != name:
            continue
        server = server_from_row(row, client)
        if server.pending:  # another process is still starting it
            continue
        server.remove_on_stop = False
        return server
    return None


def refresh(server: Server, *, start_stopped: bool = False, timeout: float = 60.0) -> str:
    """Follow ``server``'s container: ``"running"`` (host and port re-read: ``docker restart``
    publishes on a new host port), ``"started"`` (was stopped, started again), ``"stopped"``
    or ``"gone"``.

    ``start_stopped``: start a stopped container again (a killed one, or one a restarted
    engine did not bring back) and wait until it answers.
    """
    from docker.errors import NotFound

    client = server._docker()
    try:
        attrs = client.api.inspect_container(server.container)
    except NotFound:
        return "gone"
    state = attrs.get("State") or {}
    result = "running"
    if not state.get("Running"):
        if not start_stopped:
            return "stopped"
        client.api.start(server.container)
        attrs = client.api.inspect_container(server.container)
        result = "started"
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    fresh = _server_from(attrs, labels, client, endpoint_of(client), password=server._password,
                         image=server.image)
    if (fresh.host, fresh.port) != (server.host, server.port):
        close_door(server.host, server.port)  # that port may soon be another container's
    server.host, server.port, server.status = fresh.host, fresh.port, fresh.status
    server.__dict__.pop("target", None)  # cached with the old port
    wait_for_server(client, server, timeout, attrs.get("State"))
    return result


def server_from_row(row: dict, client: Any) -> Server:
    labels = row.get("Labels") or {}
    port = L.as_int(labels, L.PORT) or get_engine(labels[L.ENGINE]).container_port
    return _make_server(labels, client, endpoint_of(client), container=row["Id"],
                        image=row.get("Image", ""), bound=C.published_from_list(row, port),
                        password=None, status=row.get("State", ""),
                        docker_name=(row.get("Names") or [None])[0])


_REAPED_IN: set[int] = set()


def reap_abandoned(client: docker.DockerClient | None = None, *,
                   note: Callable[[str], None] | None = C.stderr_progress,
                   once: bool = False) -> list[str]:
    """Reap containers whose owner is gone or whose TTL passed (see :mod:`dkenv.docker.reaper`)."""
    import os

    if once and os.getpid() in _REAPED_IN:
        return []
    _REAPED_IN.add(os.getpid())
    return reap(client or get_client(), note=note)
