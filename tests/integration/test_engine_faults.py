"""Engines that are not there, as a user meets them from the CLI: a clear one/two-line message,
exit code 3, no traceback, and nothing left in Docker.

The real engine is never stopped: each fault is a ``DOCKER_HOST`` of its own (a socket file
nobody listens on, a port that refuses, a port held by something that is not an engine).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.integration.conftest import scoped_containers

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("local_images", "scope")]

#: The commands that need an engine, as users type them (each also with --json where it has one).
COMMANDS = [
    ("up", "postgres"),
    ("up", "postgres", "--json"),
    ("deploy", str(EXAMPLES / "bronze-pagila"), "--target", "postgres_container"),
    ("deploy", str(EXAMPLES / "bronze-pagila"), "--target", "postgres_container", "--json"),
    ("ls",),
    ("down", "--all"),
]


def dkenv(*args: str, docker_host: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": docker_host}
    return subprocess.run([sys.executable, "-m", "dkenv", *args], capture_output=True, text=True,
                          timeout=120, env=env)


def assert_environment_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit 3, one or two lines on stderr naming the fault, no traceback, --json still JSON."""
    stderr = result.stderr.strip().splitlines()
    assert result.returncode == 3, result.stderr
    assert len(stderr) <= 3, result.stderr  # at most one progress line before the message
    lines = [line for line in stderr if not line.startswith("dkenv: ") or "error:" in line]
    assert 1 <= len(lines) <= 2, result.stderr
    assert lines[0].startswith("dkenv: error: "), result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], result.stderr
    if "--json" in result.args:
        assert json.loads(result.stdout)["error"]["exit_code"] == 3  # exactly one JSON document
    else:
        assert result.stdout == ""


@pytest.fixture
def dead_socket() -> Iterator[str]:
    """A unix socket file with no engine behind it (bound, never listening: connect is refused)."""
    folder = tempfile.mkdtemp(prefix="dkenv-dead-", dir="/tmp")  # short: sun_path is 108 bytes
    path = Path(folder) / "docker.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    try:
        assert path.is_socket()
        yield f"unix://{path}"
    finally:
        sock.close()
        path.unlink(missing_ok=True)
        os.rmdir(folder)


@pytest.fixture
def refusing_port() -> str:
    """``tcp://127.0.0.2:<port>`` where nothing listens (the port was free a moment ago)."""
    with socket.create_server(("127.0.0.2", 0)) as probe:
        port = probe.getsockname()[1]
    return f"tcp://127.0.0.2:{port}"


@pytest.fixture
def not_an_engine() -> Iterator[str]:
    """A TCP port held by a server that is not a Docker engine: it greets and hangs up."""
    server = socket.create_server(("127.0.0.2", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.2:{server.getsockname()[1]}"
    finally:
        stop.set()
        server.shutdown(socket.SHUT_RDWR)
        server.close()
        thread.join(timeout=10)


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_docker_socket_with_no_engine_behind_it(client, scope, dead_socket, args) -> None:
    result = dkenv(*args, docker_host=dead_socket)
    assert_environment_error(result, "no Docker engine answers", dead_socket)
    assert scoped_containers(client, scope) == []


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_a_remote_engine_that_refuses_connections(client, scope, refusing_port, args) -> None:
    result = dkenv(*args, docker_host=refusing_port)
    assert_environment_error(result, "no Docker engine answers", refusing_port, "refused")
    assert scoped_containers(client, scope) == []


def test_a_port_held_by_something_that_is_not_an_engine(client, scope, not_an_engine) -> None:
    result = dkenv("up", "postgres", docker_host=not_an_engine)
    assert_environment_error(result, not_an_engine)
    assert scoped_containers(client, scope) == []
