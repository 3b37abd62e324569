"""The container lifecycle against a real Docker engine, with real containers and real signals.

Runs on dkenv's own images (built here if missing: no registry is reachable on CI).  Every test
runs in its own ``DKENV_SCOPE``, so it sees only its own containers (parallel workers and other
sessions on the same engine are left alone), and its finalizer fails the test if anything
it started is still there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from dkenv.errors import DockerUnavailable, ImageUnavailable, NotReady, UsageError
from tests.integration.conftest import IMAGES, scoped_containers
from tests.integration.conftest import select_one as query

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("local_images", "scope")]

ENGINE_MARKS = {"postgres": pytest.mark.postgres, "mysql": pytest.mark.mysql}
BOTH = [pytest.param(e, marks=ENGINE_MARKS[e]) for e in IMAGES]


def exists(client, container_id: str) -> bool:
    from docker.errors import NotFound

    try:
        client.api.inspect_container(container_id)
    except NotFound:
        return False
    return True


def _default_sigint() -> None:
    # A suite started in the background by a non-interactive shell (`make test &`, some CI
    # runners) inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler:
    # the children that stand for a user pressing Ctrl-C must get the default back.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def child(code: str, **popen) -> subprocess.Popen:
    """A Python child process running ``code`` with this test's environment (Ctrl-C enabled)."""
    popen.setdefault("preexec_fn", _default_sigint)
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **popen)


def wait_for(predicate, timeout: float = 90.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


# ---------------------------------------------------------------------------
# ephemeral(): removal whatever happens
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("engine", BOTH)
def test_ephemeral_is_ready_and_removed_on_normal_exit(client, engine) -> None:
    import dkenv

    with dkenv.ephemeral(engine) as server:
        assert query(server.url) == 1
        assert server.engine == engine and server.host == "127.0.0.1" and server.port > 0
        assert server.name.startswith(f"dkenv-{engine}-")
        assert server.target.url == server.url and server.target.db_type == engine
        cid = server.container
        assert exists(client, cid)
    assert not exists(client, cid)


@pytest.mark.parametrize("engine", BOTH)
def test_throwaway_servers_keep_their_data_in_memory_and_kept_ones_on_disk(client, engine) -> None:
    """A server removed with its process (``ephemeral``, the test session's) gets a tmpfs over
    its data directory; one that outlives it (``dkenv up``: persistent) keeps the disk, so a
    restarted container still has its databases, and its socket folder is in dkenv's state
    directory, not in the temporary one a reboot or a cleaner empties (Docker would not start
    it again without its mount's folder)."""
    from pathlib import Path

    from dkenv.docker.client import endpoint_of
    from dkenv.engines import get_engine
    from dkenv.engines.side_door import socket_root
    from dkenv.servers.lifecycle import start
    from dkenv.state import state_root

    data_dir = get_engine(engine).data_dir
    throwaway = start(engine, progress=False)
    kept = start(engine, progress=False, persistent=True, keep=False)  # still ours: removed below
    try:
        for server, in_memory in ((throwaway, True), (kept, False)):
            mounts = client.api.inspect_container(server.container)["HostConfig"].get("Tmpfs") or {}
            assert (data_dir in mounts) is in_memory
            assert query(server.url) == 1
        if not endpoint_of(client).remote:  # a remote engine cannot mount this machine's folders
            assert Path(throwaway.socket_folder).parent == socket_root()
        if kept.socket_folder:  # none when this test's state directory makes the socket's path too long
            assert Path(kept.socket_folder).parent == state_root() / "sockets"
    finally:
        throwaway.stop()
        kept.remove()


@pytest.mark.postgres
def test_ephemeral_removes_on_exception(client) -> None:
    import dkenv

    with pytest.raises(RuntimeError, match="boom"):
        with dkenv.ephemeral("postgres") as server:
            cid = server.container
            raise RuntimeError("boom")
    assert not exists(client, cid)


@pytest.mark.postgres
def test_keyboard_interrupt_during_readiness_removes_the_container(client, scope) -> None:
    # The server never comes up (its command is `sleep`), so the child is in the readiness wait
    # when it gets SIGINT, exactly as with Ctrl-C.
    proc = child("""
        import dkenv
        with dkenv.ephemeral("postgres", command=["sleep", "300"], timeout=120):
            pass
    """)
    try:
        row = wait_for(lambda: [r for r in scoped_containers(client, scope, all=False)
                                if r["Labels"].get("dkenv.owner.pid") == str(proc.pid)])[0]
        # Started (its readiness wait comes next): SIGINT from here on must remove it.
        wait_for(lambda: client.api.inspect_container(row["Id"])["State"]["Running"])
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert "KeyboardInterrupt" in err
    assert not exists(client, row["Id"])


@pytest.mark.postgres
def test_sigterm_to_a_process_in_ephemeral_removes_the_container(client) -> None:
    proc = child("""
        import time, dkenv
        with dkenv.ephemeral("postgres") as server:
            print(server.container, flush=True)
            time.sleep(120)
    """)
    try:
        cid = proc.stdout.readline().strip()
        assert cid, proc.stderr.read()
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert not exists(client, cid)


@pytest.mark.postgres
def test_interpreter_exit_removes_a_started_server(client) -> None:
    proc = child("""
        from dkenv.servers.lifecycle import start
        print(start("postgres").container, flush=True)   # never stopped: atexit does it
    """)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert not exists(client, out.strip())


@pytest.mark.postgres
def test_sigkilled_owner_is_reaped_by_the_next_command(client) -> None:
    from dkenv.servers.inventory import list_servers
    from dkenv.servers.lifecycle import reap_abandoned

    proc = child("""
        import time
        from dkenv.servers.lifecycle import start
        server = start("postgres")
        print(server.container, server.name, flush=True)
        time.sleep(120)
    """)
    try:
        cid, name = proc.stdout.readline().split()
        proc.send_signal(signal.SIGKILL)
        wait_for(lambda: open(f"/proc/{proc.pid}/stat").read().split(")")[-1].split()[0] == "Z")
        notes: list[str] = []
        removed = reap_abandoned(client, note=notes.append)  # the owner is a zombie: dead
    finally:
        proc.kill()
        proc.communicate()
    assert not exists(client, cid)
    # Under pytest-xdist another worker's reaper (global by design) may have been first.
    if name in removed:
        assert name in notes[0] and "abandoned" in notes[0]
    assert name not in [s.name for s in list_servers(client)]


# ---------------------------------------------------------------------------
# Failures: fast, explained, nothing left behind
# ---------------------------------------------------------------------------
@pytest.mark.parametrize(("engine", "command"), [
    pytest.param("postgres", ["postgres", "--no-such-option"], marks=pytest.mark.postgres),
    pytest.param("mysql", ["mariadbd", "--no-such-option"], marks=pytest.mark.mysql),
])
def test_an_entrypoint_that_fails_is_reported_at_once_with_its_log(client, scope, engine, command) -> None:
    from dkenv.servers.lifecycle import start

    began = time.monotonic()
    with pytest.raises(NotReady) as info:
        start(engine, command=command, timeout=60)
    assert time.monotonic() - began < 30  # not the 60 s timeout (generous on a loaded machine)
    message = info.value.message
    assert "exited during startup" in message
    assert "no-such-option" in message  # the container's own log lines
    assert scoped_containers(client, scope) == []


@pytest.mark.postgres
def test_readiness_timeout_removes_the_container(client, scope) -> None:
    from dkenv.servers.lifecycle import start

    began = time.monotonic()
    with pytest.raises(NotReady) as info:
        start("postgres", command=["sleep", "300"], timeout=1.0)
    assert time.monotonic() - began < 30  # the 1 s timeout, not the server's 300 s sleep
    assert "not ready after 1 s" in info.value.message
    assert info.value.exit_code == 3
    assert scoped_containers(client, scope) == []


@pytest.mark.postgres
def test_unknown_image_fails_fast_naming_it(client, scope) -> None:
    from dkenv.servers.lifecycle import start

    began = time.monotonic()
    with pytest.raises(ImageUnavailable) as info:
        start("postgres", image="dkenv-test/no-such-image:1", progress=False)
    assert time.monotonic() - began < 30  # fast: far below a 60 s hang; generous under load
    assert "dkenv-test/no-such-image:1" in info.value.message
    assert "--image" in info.value.hint and "dkenv image build" in info.value.hint
    assert scoped_containers(client, scope) == []


@pytest.mark.postgres
def test_a_port_held_by_a_process_is_refused_naming_the_process(client, scope) -> None:
    import socket

    from dkenv.servers.lifecycle import start

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(UsageError) as info:
            start("postgres", port=port)
    assert f"port {port}" in info.value.message and "already in use" in info.value.message
    assert f"pid {os.getpid()}" in info.value.message
    assert scoped_containers(client, scope) == []


@pytest.mark.postgres
def test_a_port_held_by_a_container_is_refused_naming_it(client, scope) -> None:
    import dkenv
    from dkenv.servers.lifecycle import start

    with dkenv.ephemeral("postgres") as first:
        with pytest.raises(UsageError) as info:
            start("postgres", port=first.port)
        assert f"container {first.name}" in info.value.message
        assert len(scoped_containers(client, scope)) == 1


@pytest.mark.postgres
def test_explicit_port_is_used(client) -> None:
    import socket

    import dkenv

    with socket.socket() as sock:  # a port that is free now (Docker binds it, not us)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with dkenv.ephemeral("postgres", port=port) as server:
        assert server.port == port and query(server.url) == 1


@pytest.mark.postgres
def test_a_name_in_use_is_refused(client) -> None:
    import dkenv
    from dkenv.servers.lifecycle import start

    name = f"dkenv-test-{uuid.uuid4().hex[:6]}"
    with dkenv.ephemeral("postgres", name=name) as server:
        with pytest.raises(UsageError, match="already exists") as info:
            start("postgres", name=name)
        assert info.value.exit_code == 2
        assert exists(client, server.container)


def test_no_engine_fails_within_five_seconds(monkeypatch) -> None:
    from dkenv.docker.client import get_client

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    began = time.monotonic()
    with pytest.raises(DockerUnavailable) as info:
        get_client()
    assert time.monotonic() - began < 30  # fast: far below a 60 s hang; generous under load
    assert "make docker-engine" in info.value.hint
    assert info.value.exit_code == 3


# ---------------------------------------------------------------------------
# Reuse, TTL, foreign containers, targets
# ---------------------------------------------------------------------------
@pytest.mark.postgres
def test_reuse_returns_the_same_unowned_server_and_stop_keeps_it(client, scope) -> None:
    import dkenv
    from dkenv.docker.reaper import reap
    from dkenv.servers.inventory import remove_servers

    with dkenv.ephemeral("postgres", reuse=True) as first:
        pass
    assert exists(client, first.container)  # not removed: shared
    reap(client)
    assert exists(client, first.container)  # and never reaped: it has no owner process
    with dkenv.ephemeral("postgres", reuse=True) as second:
        assert second.container == first.container
        assert query(second.url) == 1  # the password is read back from the container
    attrs = client.api.inspect_container(first.container)
    labels = attrs["Config"]["Labels"]
    assert labels["dkenv.owner.pid"] == "0" and labels["dkenv.persistent"] == "true"
    assert attrs["Name"] == f"/{first.name}"  # kept: renamed from NAME.starting when ready
    assert remove_servers([first.name]) == [first.name]


@pytest.mark.postgres
def test_ttl_expiry_is_reaped(client) -> None:
    from dkenv.docker.reaper import reap
    from dkenv.servers.lifecycle import reap_abandoned, start

    # A TTL other reapers (parallel workers) will not reach for a minute; this one looks ahead.
    server = start("postgres", ttl=60, persistent=True)
    try:
        assert server.name not in reap_abandoned(client, note=None)  # not yet
        assert server.name not in reap(client, now=time.time() + 50)
        assert server.name in reap(client, now=time.time() + 61)
        assert not exists(client, server.container)
    finally:
        server.remove()


@pytest.mark.postgres
def test_foreign_containers_are_never_listed_or_removed(client) -> None:
    """A container from the same image (whose image labels say dkenv.managed=true!) but not
    started by dkenv survives list, remove-all and reaping."""
    from dkenv.servers.inventory import list_servers, remove_servers
    from dkenv.servers.lifecycle import reap_abandoned

    foreign = client.containers.run(IMAGES["postgres"], ["sleep", "300"], detach=True,
                                    name=f"foreign-{uuid.uuid4().hex[:6]}",
                                    labels={"dkenv.owner.pid": "999999"})
    try:
        assert foreign.id not in [s.container for s in list_servers(client)]
        remove_servers(all=True, client=client)
        reap_abandoned(client, note=None)
        foreign.reload()
        assert foreign.status == "running"
    finally:
        foreign.remove(force=True)


@pytest.mark.postgres
def test_start_for_target_uses_the_configured_image(client) -> None:
    from dkenv.config import get_target_config
    from dkenv.servers.lifecycle import start_for_target

    target = get_target_config("postgres_container")
    server = start_for_target(target)
    try:
        assert server.image == IMAGES["postgres"]
        assert query(server.target.url) == 1
    finally:
        server.stop()
        server.stop()  # idempotent
    assert not exists(client, server.container)


@pytest.mark.postgres
def test_a_docker_context_selects_the_engine_and_the_url_host(client, remote_engine, monkeypatch,
                                                               tmp_path) -> None:
    from docker.context import ContextAPI

    import dkenv

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.json").write_text('{"currentContext": "dkenv-test-remote"}')
    ContextAPI.create_context("dkenv-test-remote", host=remote_engine, skip_tls_verify=True)
    with dkenv.ephemeral("postgres") as server:
        assert server.host == "127.0.0.2"
        assert query(server.url) == 1
    assert not exists(client, server.container)


# ---------------------------------------------------------------------------
# Concurrency: no global lock
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("engine", BOTH)
def test_eight_concurrent_starts_in_threads(client, scope, engine) -> None:
    from dkenv.servers.lifecycle import start

    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(start, engine, progress=False) for _ in range(8)]
        servers = [f.result() for f in futures]
    try:
        assert len({s.port for s in servers}) == 8
        assert len({s.name for s in servers}) == 8
        assert all(query(s.url) == 1 for s in servers)
    finally:
        threads = [threading.Thread(target=s.stop) for s in servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert scoped_containers(client, scope) == []


@pytest.mark.postgres
def test_eight_concurrent_starts_in_processes(client, scope) -> None:
    code = """
        import json, sys, time
        from dkenv.servers.lifecycle import start
        server = start("postgres", progress=False)
        print(json.dumps({"url": server.url, "port": server.port}), flush=True)
        sys.stdin.read()      # hold it until the parent says so
    """
    procs = [child(code, stdin=subprocess.PIPE) for _ in range(8)]
    try:
        rows = [json.loads(p.stdout.readline()) for p in procs]
        assert len({r["port"] for r in rows}) == 8
        assert all(query(r["url"]) == 1 for r in rows)
    finally:
        for p in procs:
            p.stdin.close()  # all at once: the children stop concurrently
        errors = [p.stderr.read() for p in procs]
        for p in procs:
            p.wait(timeout=90)
    assert all(p.returncode == 0 for p in procs), errors
    assert scoped_containers(client, scope) == []
