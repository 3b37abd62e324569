"""A Docker SDK client that finds the engine as ``docker`` does, and fails fast when none answers.

Why not just ``docker.from_env()``: it ignores Docker *contexts* (``docker context use``), and
with its default 60 s timeout an unreachable ``tcp://`` engine hangs a command for a minute.
Here the first API call (the server-version handshake, which doubles as the ping) gets a short
timeout; later calls get a long one, since pulls and container starts can be slow.

The :class:`Endpoint` also answers the question the lifecycle needs: where must a client
connect to reach a published port?  On a local engine that is ``127.0.0.1``; on a ``tcp://``
or ``ssh://`` engine it is the engine's host, never ``127.0.0.1``.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from dkenv.docker.hints import start_hint
from dkenv.errors import DockerUnavailable

if TYPE_CHECKING:
    import docker

#: Seconds the first call (version handshake = ping) may take before we give up.
PING_TIMEOUT_S = 4.0
#: Timeout of every later API call (a container start under load, a large log).
API_TIMEOUT_S = 120
#: Overrides the address ports are published on (for example a VPN address of a remote engine).
PUBLISH_HOST_ENV = "DKENV_PUBLISH_HOST"


_REMOTE_SCHEMES = {"tcp", "http", "https", "ssh"}


@dataclass(frozen=True)
class Endpoint:
    """Where the engine is, and what that means for the URLs of the databases it runs."""

    base_url: str  # as configured: unix:///var/run/docker.sock, tcp://host:2375, ssh://user@host
    context: str | None = None  # the docker context it came from, if any
    tls: Any = None

    @property
    def scheme(self) -> str:
        return urlparse(self.base_url).scheme or "unix"

    @property
    def remote(self) -> bool:
        """True for tcp/ssh engines: published ports live on *that* host, not on this one."""
        return self.scheme in _REMOTE_SCHEMES

    @property
    def host(self) -> str:
        """The host users connect to for a published port."""
        if not self.remote:
            return "127.0.0.1"
        return urlparse(self.base_url).hostname or "127.0.0.1"

    @property
    def publish_host(self) -> str:
        """The address ports are published on, on the engine's host.

        Local engine: ``127.0.0.1`` (nothing is reachable from other machines).  A remote engine
        reached through a loopback address (``tcp://127.0.0.2:2375``) runs on this machine too,
        so publishing on that very address keeps the port on loopback.  Any other remote engine:
        ``0.0.0.0``, since we cannot know which of its addresses we reach it by
        (see :attr:`exposes_beyond_loopback`).  ``DKENV_PUBLISH_HOST`` overrides.
        """
        override = os.environ.get(PUBLISH_HOST_ENV)
        if override:
            return override
        if not self.remote:
            return "127.0.0.1"
        return self.host if _is_loopback(self.host) else "0.0.0.0"

    @property
    def exposes_beyond_loopback(self) -> bool:
        return not _is_loopback(self.publish_host)

    def describe(self) -> str:
        where = self.base_url
        return f"{where} (context {self.context})" if self.context else where


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_endpoint(environ: Mapping[str, str] | None = None) -> Endpoint:
    """``DOCKER_HOST``, else ``DOCKER_CONTEXT`` / the current docker context, else the local socket.

    The same precedence as the docker CLI: an explicit ``DOCKER_HOST`` wins over any context.
    """
    env = os.environ if environ is None else environ
    if env.get("DOCKER_HOST"):
        return Endpoint(env["DOCKER_HOST"])
    name = env.get("DOCKER_CONTEXT")
    if not name:
        from docker.context.config import get_current_context_name

        name = get_current_context_name()
    if name and name != "default":
        from docker.context import ContextAPI
        from docker.errors import ContextNotFound

        try:
            ctx = ContextAPI.get_context(name)
        except ContextNotFound:
            ctx = None
        if ctx is None:
            raise DockerUnavailable(
                f"docker context {name!r} does not exist",
                "run `docker context ls`, or `docker context use default`",
            )
        if ctx.Host:
            return Endpoint(ctx.Host, context=name, tls=ctx.TLSConfig or None)
    return Endpoint("unix:///var/run/docker.sock")


_CLIENTS: dict[tuple[int, Endpoint], docker.DockerClient] = {}
_LOCK = threading.Lock()


def get_client(*, ping_timeout: float = PING_TIMEOUT_S, cached: bool = True) -> docker.DockerClient:
    """A client for the current engine, shared per process (the SDK's pool is thread-safe).

    Raises :class:`DockerUnavailable` within ``ping_timeout`` seconds when no engine answers.
    """
    endpoint = resolve_endpoint()
    key = (os.getpid(), endpoint)  # a forked child must not share the parent's sockets
    if cached:
        with _LOCK:
            client = _CLIENTS.get(key)
        if client is not None:
            return client
    client = _connect(endpoint, ping_timeout)
    if cached:
        with _LOCK:
            client = _CLIENTS.setdefault(key, client)
    return client


def _connect(endpoint: Endpoint, ping_timeout: float) -> docker.DockerClient:
    import docker
    from docker.errors import DockerException

    use_ssh_client = endpoint.scheme == "ssh" and not _has_paramiko()
    try:
        if endpoint.context is None and "DOCKER_HOST" in os.environ:
            client = docker.from_env(version="auto", timeout=ping_timeout, max_pool_size=32,
                                     use_ssh_client=use_ssh_client)
        else:
            client = docker.DockerClient(base_url=endpoint.base_url, tls=endpoint.tls or False,
                                         version="auto", timeout=ping_timeout, max_pool_size=32,
                                         use_ssh_client=use_ssh_client)
    except DockerException as exc:
        raise DockerUnavailable(
            f"no Docker engine answers at {endpoint.describe()}: {_reason(exc)}", start_hint()
        ) from None
    client.api.timeout = API_TIMEOUT_S
    client.dkenv_endpoint = endpoint  # type: ignore[attr-defined]
    _explain_a_lost_engine(client, endpoint)
    return client


LOST_HINT = ("start the engine again (or point DOCKER_HOST at one that runs); then `dkenv ls` "
             "and `dkenv down` tidy up what was started there")


def _explain_a_lost_engine(client: docker.DockerClient, endpoint: Endpoint) -> None:
    """An engine that stops answering after the handshake is :class:`DockerUnavailable` too.

    Why: an engine killed mid-command (a Podman service stopped, dockerd restarted) otherwise
    surfaces as a raw ``requests`` ``ConnectionError`` from whichever call came next -- an
    "internal error" with exit 1 instead of an environment failure (exit 3) that says where.
    Every API call goes through the session's ``send``, so that is the one place to translate.
    """
    import requests

    send = client.api.send

    def send_or_explain(request: Any, **kwargs: Any) -> Any:
        try:
            return send(request, **kwargs)
        except requests.exceptions.ConnectionError as exc:
            raise DockerUnavailable(
                f"the Docker engine at {endpoint.describe()} stopped answering: {_reason(exc)}",
                LOST_HINT,
            ) from exc

    client.api.send = send_or_explain  # type: ignore[method-assign]


def endpoint_of(client: docker.DockerClient) -> Endpoint:
    """The endpoint a client was made for (clients not made here count as the current one)."""
    return getattr(client, "dkenv_endpoint", None) or resolve_endpoint()


def _has_paramiko() -> bool:
    try:
        import paramiko  # noqa: F401
    except ImportError:
        return False
    return True


def _reason(exc: BaseException) -> str:
    """The innermost useful words of a requests/urllib3 error chain."""
    text = str(exc)
    lowered = text.lower()
    for marker, words in (
        ("filenotfounderror", "the socket does not exist"),
        ("connection refused", "connection refused"),
        ("connection reset", "the connection was reset (the engine went away)"),
        ("connection aborted", "the connection was aborted (the engine went away)"),
        ("permissionerror", "permission denied on the socket (are you in the docker group?)"),
        ("timed out", "timed out"),
        ("name or service not known", "unknown host"),
        ("no route to host", "no route to host"),
        ("network is unreachable", "network is unreachable"),
    ):
        if marker in lowered:
            return words
    text = text.replace("Error while fetching server API version: ", "")
    return text.splitlines()[0][:200] if text else type(exc).__name__
