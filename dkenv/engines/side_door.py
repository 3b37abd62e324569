"""The Unix socket of a server container dkenv started on this machine: its side door.

A port published on 127.0.0.1 is served by Docker's userland proxy, a process that copies
every packet from one TCP connection to another.  A test database's reset, and every query of
the connection dkenv lends to a test, is a few round trips; through the proxy each one costs a
copy and two wake-ups more (0.5 ms of the proxy's CPU per test on MariaDB, measured by
``benchmarks/test_loop.py``).  So a server container started by a local engine gets a folder of
this machine mounted where the server puts its socket, and dkenv's own connections to it
(the pool's, the lent ones) go through that socket.  The URLs users see keep their TCP port.

The folders live in one private directory of this user under the temporary directory
(:func:`socket_root`), named by a short token: a socket's path must fit in 107 bytes.

The registry is kept per process, keyed by the host and port a URL names: whoever made the
:class:`~dkenv.servers.server.Server` opened its door (:func:`open_door`), and closes it when
the container is removed or moves to another port (:func:`close_door`).  A door is used only
while its socket file is there, and once a connection through it was accepted (an engine
running containers in a virtual machine -- Docker Desktop -- shows the file but cannot pass the
connection); otherwise connections take the port as before.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import tempfile
import threading
from pathlib import Path

#: The longest path a Unix socket address holds (Linux's ``sun_path`` less its terminating NUL).
MAX_SOCKET_PATH = 107

_DOORS: dict[tuple[str, int], str] = {}
_WORKS: dict[str, bool] = {}  # socket path -> whether a connection through it was accepted
_LOCK = threading.Lock()


def open_door(host: str, port: int, socket_path: str) -> None:
    """Connections to ``host:port`` may use the Unix socket ``socket_path`` (once it exists)."""
    if len(socket_path) <= MAX_SOCKET_PATH:
        with _LOCK:
            _DOORS[(host, int(port))] = socket_path


def close_door(host: str, port: int) -> None:
    """``host:port`` is no longer that server's (removed, or restarted on another port)."""
    with _LOCK:
        _DOORS.pop((host, int(port)), None)


def side_door(host: str | None, port: int | None) -> str | None:
    """The Unix socket of the server at ``host:port``, if this process knows one that works."""
    if not port:
        return None
    path = _DOORS.get((host or "127.0.0.1", int(port)))
    if path is None or not os.path.exists(path):
        return None
    works = _WORKS.get(path)
    if works is None:
        works = _WORKS[path] = _accepts(path)
    return path if works else None


def _accepts(path: str) -> bool:
    """Whether a connection through the socket ``path`` is accepted (closed at once)."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(2.0)
            probe.connect(path)
    except OSError:
        return False
    return True


def socket_root() -> Path:
    """This user's private directory of socket folders, short enough for the sockets' paths."""
    from dkenv.state import private_dir

    uid = os.geteuid() if hasattr(os, "geteuid") else 0
    return private_dir(Path(tempfile.gettempdir()) / f"dkenv-{uid}-sockets")


def socket_folder(root: Path | None = None) -> Path | None:
    """A new folder under ``root`` (:func:`socket_root`) for a container's socket, writable by
    the server's user in the container (whatever its uid); None when its socket's path would
    be too long."""
    folder = (root or socket_root()) / secrets.token_hex(4)
    if len(str(folder)) + 24 > MAX_SOCKET_PATH:  # room for the socket's own name
        return None
    folder.mkdir(mode=0o777)
    folder.chmod(0o777)  # not the umask's: the server's user in the container creates the socket
    return folder


def remove_socket_folder(folder: str | None) -> None:
    """Remove a removed container's socket folder (what the server left in it too), when it is
    one of this user's (a label names it: never anything else)."""
    if folder and _ours(Path(folder)):
        shutil.rmtree(folder, ignore_errors=True)


def sweep_socket_folders(in_use: set[str], *, older_than: float = 24 * 3600.0) -> None:
    """Remove throwaway servers' socket folders that no container names (``in_use``: every
    dkenv container's, on this engine) and that are older than ``older_than`` seconds: left by
    containers removed by hand, or by another tool.  The age keeps a folder made for a container
    being created right now, or one on another engine, from going."""
    import time

    from dkenv.errors import DkenvError

    try:
        root = socket_root()
        entries = list(os.scandir(root))
    except (OSError, DkenvError):
        return
    limit = time.time() - older_than
    for entry in entries:
        try:
            if entry.path not in in_use and entry.is_dir(follow_symlinks=False) and entry.stat().st_mtime < limit:
                shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue


def _ours(folder: Path) -> bool:
    """Whether ``folder`` is one of the socket folders dkenv makes for this user."""
    from dkenv.errors import DkenvError
    from dkenv.state import state_root

    try:
        return folder.parent in (socket_root(), state_root() / "sockets")
    except DkenvError:
        return False


__all__ = ["close_door", "open_door", "remove_socket_folder", "side_door", "socket_folder", "socket_root",
           "sweep_socket_folders"]
