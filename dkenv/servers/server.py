"""A running database server as dkenv holds it (:class:`Server`), and the servers this process
owns: removed at interpreter exit, on SIGTERM/SIGHUP (turned into ``SystemExit``), or by the
next dkenv command's reaper after a SIGKILL.  Starting one is :mod:`dkenv.servers.lifecycle`'s job.
"""

from __future__ import annotations

import atexit
import signal
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from dkenv import hooks
from dkenv.config import Target
from dkenv.docker import containers as C
from dkenv.docker.client import get_client
from dkenv.engines import get_engine
from dkenv.engines.side_door import close_door

if TYPE_CHECKING:
    import docker

_MASK = "***"


@dataclass(eq=False)
class Server:
    """A running dkenv database container: where it is and how to log in."""

    name: str
    engine: str
    host: str
    port: int
    container: str
    image: str
    user: str
    database_name: str
    created: float = 0.0
    ttl: int = 0
    owner_pid: int = 0
    owner_host: str = ""
    persistent: bool = False
    pending: bool = False  # persistent but not kept yet: still owned by its starter (see keep())
    status: str = "running"
    remove_on_stop: bool = True
    socket_folder: str = ""  # where the server's Unix socket is, on this machine (side_door)
    _password: str | None = field(default=None, repr=False)
    _client: Any = field(default=None, repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def database(self) -> Any:
        """The server's database name — also callable: ``server.database(datakits=[...])``
        hands out a fresh isolated database with those datakits deployed (dkenv.databases)."""
        return DatabaseName(self.database_name, self)

    def snapshot(self, db: Any, name: str, **kw: Any) -> Any:
        """Freeze isolated database ``db`` as snapshot ``name``; ``server.database(snapshot=name)``
        then hands out copies of it (PostgreSQL; MySQL: not supported)."""
        return hooks.call("snapshot_database", self, db, name, **kw)

    @property
    def password(self) -> str:
        """From the container's environment when this process did not start it (``dkenv url``)."""
        if self._password is None:
            attrs = self._docker().api.inspect_container(self.container)
            self._password = C.password_from_env(attrs, self.engine, self.user)
        return self._password

    @property
    def url(self) -> str:
        """SQLAlchemy URL with the password."""
        return get_engine(self.engine).url(host=self.host, port=self.port, user=self.user,
                                           password=self.password, database=self.database)

    def masked_url(self) -> str:
        token = "dkenvmaskedpassword"
        url = get_engine(self.engine).url(host=self.host, port=self.port, user=self.user,
                                          password=token, database=self.database)
        return url.replace(token, _MASK)

    @cached_property
    def target(self) -> Target:
        """A ``url`` target for deploy/validate; one object, so its runtime and ledger persist."""
        return Target(name=self.name, db_type=self.engine, kind="url", url=self.url, host=self.host,
                      port=self.port, user=self.user, password=self.password,
                      database=self.database, description=f"container {self.name}")

    def stop(self) -> None:
        """Remove the container (killed, with its volumes).  Idempotent.

        A server found by ``reuse=True`` is shared: stop() leaves it running.
        """
        with _LOCK:
            if self._stopped:
                return
            self._stopped = True
            _OWNED.pop(self.container, None)
        _close_databases(self)
        if self.remove_on_stop:
            self.remove()

    def keep(self) -> None:
        """Let a persistent server outlive this process: rename it to its name, stop owning it.

        Call it when whatever started the server has finished (``dkenv up`` once ready,
        ``env up`` once every database is deployed, ``deploy --keep`` at its release).
        """
        if self.pending:
            C.rename(self._docker(), self.container, self.name)
            self.pending = False
        with _LOCK:
            _OWNED.pop(self.container, None)

    def remove(self) -> bool:
        """Remove the container whatever its kind (what ``dkenv down`` does); False if it was gone."""
        _close_databases(self)
        with _LOCK:
            self._stopped = True
            _OWNED.pop(self.container, None)
        removed = C.remove(self._docker(), self.container, socket_folder=self.socket_folder)
        close_door(self.host, self.port)
        return removed

    def to_dict(self, *, show_secrets: bool = True) -> dict[str, Any]:
        expires = self.created + self.ttl if self.ttl and self.created else None
        return {
            "name": self.name,
            "engine": self.engine,
            "url": self.url if show_secrets else self.masked_url(),
            "host": self.host,
            "port": self.port,
            "container": self.container,
            "image": self.image,
            "user": self.user,
            "database": self.database_name,
            "status": self.status,
            "created": _iso(self.created),
            "ttl": self.ttl or None,
            "expires": _iso(expires),
            "owner": (f"{self.owner_pid}@{self.owner_host}"
                      if self.owner_pid and (self.pending or not self.persistent) else None),
            "persistent": self.persistent,
        }

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _docker(self) -> docker.DockerClient:
        if self._client is None:
            self._client = get_client()
        return self._client


def _close_databases(server: Server) -> None:
    """Stop the background pool of isolated databases (if any) before the container goes."""
    hooks.server_stopping(server)


class DatabaseName(str):
    """A server's database name that is also callable: ``server.database(datakits=[...])``.

    ``Server`` has a ``database`` field (its own database's name); returning this from a
    ``database`` property keeps that string and adds the hand-out, which :mod:`dkenv.databases`
    implements (reached through :mod:`dkenv.hooks`: it sits above this module).
    """

    _server: Any

    def __new__(cls, name: str, server: Any) -> DatabaseName:
        obj = super().__new__(cls, name)
        obj._server = server
        return obj

    def __call__(self, datakits: Any = None, **kw: Any) -> Any:
        return hooks.call("hand_out_database", self._server, datakits=datakits, **kw)


def _iso(epoch: float | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds") if epoch else None


# ---------------------------------------------------------------------------
# Removal at exit: atexit, SIGTERM, SIGHUP
# ---------------------------------------------------------------------------
_OWNED: dict[str, Server] = {}
_LOCK = threading.RLock()


def install_signal_handlers() -> None:
    """Turn SIGTERM/SIGHUP into SystemExit (so cleanup runs) where their handler is the default.

    Only the main thread can install handlers; ``start()`` calls this, so call it yourself from
    the main thread if your first server starts in another thread.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _on_signal)


def _on_signal(signum: int, frame: object) -> None:
    signal.signal(signum, signal.SIG_DFL)  # a second signal terminates at once
    raise SystemExit(128 + signum)


@atexit.register
def _remove_owned() -> None:
    import os

    with _LOCK:
        owned = [s for s in _OWNED.values() if s.owner_pid == os.getpid()]
    for server in owned:
        try:
            server.stop()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit; the reaper is the backstop
            pass
