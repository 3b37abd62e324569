"""A TCP endpoint for the Docker engine, made by the test that needs one.

Why: the remote-engine tests need an engine reached over ``tcp://`` on a loopback address other
than ``127.0.0.1`` (so that "the URL names the engine's host" is observable).  Depending on how
the machine's dockerd was started (an extra ``-H tcp://...`` flag) made the suite fail on every
machine whose engine was started by systemd or by hand.  :class:`EngineForwarder` listens on
``127.0.0.2`` and a free port and copies bytes both ways to the engine's own socket (unix or
tcp), one pair of threads per connection; it is a plain byte pump, so the Docker API's
hijacked streams (attach, logs) pass through unchanged.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlparse

#: The loopback address the forwarder listens on (any 127/8 address is local on Linux).
FORWARD_HOST = "127.0.0.2"


def _connect(target: str) -> socket.socket:
    """A connected socket to ``target`` (``unix:///path`` or ``tcp://host:port``)."""
    parsed = urlparse(target)
    if parsed.scheme in ("", "unix"):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.connect(parsed.path)
        return sock
    return socket.create_connection((parsed.hostname, parsed.port or 2375))


def _pump(src: socket.socket, dst: socket.socket) -> None:
    """Copy ``src`` to ``dst`` until EOF, then half-close ``dst`` so the peer sees EOF too."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class EngineForwarder:
    """``tcp://127.0.0.2:<free port>`` -> ``target``; a context manager that closes everything."""

    def __init__(self, target: str, host: str = FORWARD_HOST) -> None:
        self.target = target
        self._listener = socket.create_server((host, 0))
        self.host, self.port = self._listener.getsockname()[:2]
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, name="engine-forwarder", daemon=True)

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    def __enter__(self) -> EngineForwarder:
        self._acceptor.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:  # the listener was closed
                return
            try:
                upstream = _connect(self.target)
            except OSError:
                client.close()  # engine gone: the client sees a closed connection
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    def close(self) -> None:
        """Stop listening and cut every forwarded connection (idempotent)."""
        self._closed.set()
        try:  # on Linux, shutdown (not close) is what wakes a thread blocked in accept()
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
        self._acceptor.join(timeout=10)
