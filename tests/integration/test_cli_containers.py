"""``dkenv up/down/ls/url/logs/prune`` and ``dkenv image`` as users run them: real processes,
real containers, exit codes and the stdout/stderr split.

Each test runs in its own ``DKENV_SCOPE`` (so ``down --all`` only removes this test's servers)
and fails if it leaves a container behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.conftest import EXAMPLES
from tests.integration.conftest import IMAGES, scoped_containers
from tests.integration.conftest import select_one as query

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("local_images", "scope")]

UP_KEYS = {"name", "engine", "url", "host", "port", "container", "image"}


def dkenv(*args: str, env: dict[str, str] | None = None, timeout: float = 120):
    """Run the CLI in a fresh process; returns the CompletedProcess (text)."""
    return subprocess.run([sys.executable, "-c", "from dkenv.cli import main; main()", *args],
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def up_json(*args: str, env: dict[str, str] | None = None) -> dict:
    result = dkenv("up", *args, "--json", env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # exactly one JSON document on stdout


# ---------------------------------------------------------------------------
# up / ls / url / logs / down
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("engine", [pytest.param("postgres", marks=pytest.mark.postgres),
                                    pytest.param("mysql", marks=pytest.mark.mysql)])
def test_up_json_outlives_the_command_and_down_removes_it(client, engine) -> None:
    doc = up_json(engine)
    assert UP_KEYS <= set(doc)
    assert doc["engine"] == engine and doc["host"] == "127.0.0.1"
    assert query(doc["url"]) == 1  # the url carries the password: it is the caller's own
    assert client.api.inspect_container(doc["container"])["State"]["Running"]
    result = dkenv("down", doc["name"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [doc["name"]]


@pytest.mark.postgres
def test_ls_masks_passwords_unless_asked_and_url_prints_it(client) -> None:
    doc = up_json("postgres", "--name", f"t-{uuid.uuid4().hex[:6]}", "--ttl", "10m")
    password = doc["url"].split(":")[2].split("@")[0]
    try:
        listed = json.loads(dkenv("ls", "--json").stdout)
        assert [row["name"] for row in listed] == [doc["name"]]
        row = listed[0]
        assert UP_KEYS <= set(row) and row["container"] == doc["container"]
        assert password not in json.dumps(listed) and ":***@" in row["url"]
        assert row["expires"] and row["ttl"] == 600 and row["owner"] is None

        secret = json.loads(dkenv("ls", "--json", "--show-secrets").stdout)
        assert secret[0]["url"] == doc["url"]
        assert dkenv("url", doc["name"]).stdout.strip() == doc["url"]

        human = dkenv("ls")
        assert doc["name"] in human.stdout and password not in human.stdout
    finally:
        assert dkenv("down", doc["name"]).returncode == 0


@pytest.mark.postgres
def test_up_env_lines_eval_in_a_shell(client) -> None:
    result = dkenv("up", "postgres", "--env")
    assert result.returncode == 0, result.stderr
    shell = subprocess.run(["bash", "-c", result.stdout + '\necho "$DATABASE_URL|$DKENV_NAME|$PGPORT"'],
                           capture_output=True, text=True, check=True)
    url, name, port = shell.stdout.strip().split("|")
    try:
        assert query(url) == 1 and f":{port}/" in url
    finally:
        dkenv("down", name)


@pytest.mark.postgres
def test_logs_prints_the_server_log(client) -> None:
    doc = up_json("postgres")
    try:
        result = dkenv("logs", doc["name"], "--tail", "5")
        assert result.returncode == 0
        assert "ready to accept connections" in result.stdout
        assert 0 < len(result.stdout.splitlines()) <= 5
    finally:
        dkenv("down", doc["name"])


@pytest.mark.postgres
def test_down_all_removes_every_dkenv_server_and_nothing_else(client) -> None:
    foreign = client.containers.run(IMAGES["postgres"], ["sleep", "300"], detach=True,
                                    name=f"foreign-{uuid.uuid4().hex[:6]}")
    try:
        names = {up_json("postgres")["name"], up_json("postgres")["name"]}
        listed = json.loads(dkenv("ls", "--json").stdout)
        assert {row["name"] for row in listed} == names  # the foreign one is not listed
        result = dkenv("down", "--all")
        assert result.returncode == 0 and set(result.stdout.split()) == names
        assert dkenv("prune").returncode == 0
        foreign.reload()
        assert foreign.status == "running"
        assert dkenv("down", foreign.name).returncode == 2  # not dkenv's: unknown to dkenv
    finally:
        foreign.remove(force=True)


# ---------------------------------------------------------------------------
# Bad input and faults: one or two lines on stderr, the right exit code, nothing left
# ---------------------------------------------------------------------------
@pytest.mark.postgres
def test_down_unknown_name_is_usage_error_listing_known_names(client) -> None:
    doc = up_json("postgres")
    try:
        result = dkenv("down", "no-such-server")
        assert result.returncode == 2
        assert "no-such-server" in result.stderr and doc["name"] in result.stderr
        assert "Traceback" not in result.stderr
    finally:
        dkenv("down", doc["name"])


@pytest.mark.postgres
def test_name_in_use_is_usage_error(client) -> None:
    name = f"t-{uuid.uuid4().hex[:6]}"
    up_json("postgres", "--name", name)
    try:
        result = dkenv("up", "postgres", "--name", name)
        assert result.returncode == 2
        assert "already exists" in result.stderr and result.stdout == ""
    finally:
        dkenv("down", name)


@pytest.mark.postgres
def test_port_in_use_is_usage_error_naming_the_holder(client, scope) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = dkenv("up", "postgres", "--port", str(port))
    assert result.returncode == 2
    assert f"port {port}" in result.stderr and f"pid {os.getpid()}" in result.stderr
    assert scoped_containers(client, scope) == []


@pytest.mark.postgres
def test_unknown_image_exits_3_fast_naming_it(client, scope) -> None:
    began = time.monotonic()
    result = dkenv("up", "postgres", "--image", "dkenv-test/no-such-image:1")
    assert time.monotonic() - began < 30  # fast: far below a 60 s hang; generous under load
    assert result.returncode == 3
    assert "dkenv-test/no-such-image:1" in result.stderr
    assert "--image" in result.stderr and "dkenv image build" in result.stderr
    assert scoped_containers(client, scope) == []


@pytest.mark.postgres
def test_readiness_timeout_exits_3_and_removes_the_container(client, scope) -> None:
    result = dkenv("up", "postgres", "--timeout", "0.01")
    assert result.returncode == 3, result.stderr
    assert "not ready after" in result.stderr
    assert scoped_containers(client, scope) == []


def test_no_engine_exits_3_fast_with_a_hint() -> None:
    began = time.monotonic()
    result = dkenv("ls", env={"DOCKER_HOST": "unix:///nonexistent.sock"})
    assert time.monotonic() - began < 30  # fast: far below a 60 s hang; generous under load
    assert result.returncode == 3
    assert "no Docker engine" in result.stderr and "make docker-engine" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2


def test_json_and_env_together_is_usage_error() -> None:
    assert dkenv("up", "postgres", "--json", "--env").returncode == 2


def test_bad_ttl_is_usage_error_before_anything_starts(client, scope) -> None:
    assert dkenv("up", "postgres", "--ttl", "soon").returncode == 2
    assert scoped_containers(client, scope) == []


# ---------------------------------------------------------------------------
# Reaping from the CLI
# ---------------------------------------------------------------------------
@pytest.mark.postgres
def test_sigkilled_owner_is_reaped_by_the_next_ls(client) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import time\nfrom dkenv.servers.lifecycle import start\n"
         "s = start('postgres')\nprint(s.name, flush=True)\ntime.sleep(120)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        name = proc.stdout.readline().strip()
        assert name
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        result = dkenv("ls", "--json")
        assert result.returncode == 0
        assert json.loads(result.stdout) == []
        # The one-line note -- unless a parallel worker's reaper (global by design) was first.
        if name in result.stderr:
            assert "abandoned" in result.stderr and len(result.stderr.splitlines()) == 1
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.postgres
def test_prune_removes_expired_servers(client) -> None:
    doc = up_json("postgres", "--ttl", "1")
    labels = client.api.inspect_container(doc["container"])["Config"]["Labels"]
    expires = float(labels["dkenv.created"]) + int(labels["dkenv.ttl"])
    while time.time() <= expires:  # the condition prune acts on, not a guess at how long
        time.sleep(0.05)
    result = dkenv("prune")
    assert result.returncode == 0
    assert not client.api.containers(all=True, filters={"id": doc["container"]})
    # Printed by this prune -- unless a parallel worker's reaper (global by design) was first.
    assert doc["name"] in result.stdout.split() or "removed 0" in result.stderr


# ---------------------------------------------------------------------------
# Concurrency and remote engines
# ---------------------------------------------------------------------------
@pytest.mark.postgres
def test_eight_concurrent_ups_get_distinct_ports(client, scope) -> None:
    with ThreadPoolExecutor(8) as pool:
        docs = list(pool.map(lambda _: up_json("postgres"), range(8)))
    try:
        assert len({d["port"] for d in docs}) == 8
        assert all(query(d["url"]) == 1 for d in docs)
    finally:
        result = dkenv("down", "--all")
    assert result.returncode == 0 and len(result.stdout.split()) == 8
    assert scoped_containers(client, scope) == []


@pytest.fixture
def port_2375_taken():
    """Something that is not a Docker engine holds 127.0.0.2:2375 (or it was taken already)."""
    try:
        squatter = socket.create_server(("127.0.0.2", 2375))
    except OSError:  # already taken by someone else: just as good
        yield
        return
    with squatter:
        yield


@pytest.mark.postgres
@pytest.mark.parametrize("publish", ["", "0.0.0.0"])
def test_remote_engine_url_uses_the_engine_host(client, remote_engine, port_2375_taken,
                                                publish) -> None:
    """Through a tcp:// engine on 127.0.0.2 (a forwarder this test starts; port 2375 is taken
    by something else, which must not matter), URLs name the engine's host."""
    env = {"DOCKER_HOST": remote_engine, "DKENV_PUBLISH_HOST": publish}
    result = dkenv("up", "postgres", "--json", env=env)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    try:
        assert doc["host"] == "127.0.0.2" and "@127.0.0.2:" in doc["url"]
        assert query(doc["url"]) == 1
        if publish:  # published on every interface of the engine's host: said on stderr
            assert "reachable beyond loopback" in result.stderr
        else:  # a loopback engine address: published on that address only, no warning
            assert "beyond loopback" not in result.stderr
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", doc["port"]), timeout=1).close()
        listed = json.loads(dkenv("ls", "--json", env=env).stdout)
        assert listed[0]["host"] == "127.0.0.2"
    finally:
        assert dkenv("down", doc["name"], env=env).returncode == 0


# ---------------------------------------------------------------------------
# dkenv image
# ---------------------------------------------------------------------------
def test_image_build_of_an_existing_image_prints_its_tag_last(client) -> None:
    result = dkenv("image", "build", "postgres")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == IMAGES["postgres"]


def test_image_ls_json_lists_dkenv_images(client) -> None:
    rows = json.loads(dkenv("image", "ls", "--json").stdout)
    assert set(IMAGES.values()) <= {row["tag"] for row in rows}


def test_help_of_every_container_command_has_an_example() -> None:
    for command in (["up"], ["down"], ["ls"], ["url"], ["logs"], ["prune"], ["image", "build"],
                    ["image", "ls"]):
        result = dkenv(*command, "--help")
        assert result.returncode == 0 and "Example" in result.stdout, command


@pytest.mark.postgres
def test_up_reuse_returns_the_running_server_and_down_removes_it(client) -> None:
    first = up_json("postgres", "--reuse")
    second = up_json("postgres", "--reuse")
    assert second["container"] == first["container"] and second["url"] == first["url"]
    assert query(second["url"]) == 1
    assert dkenv("down", first["name"]).returncode == 0
    assert scoped_containers(client, os.environ["DKENV_SCOPE"]) == []


@pytest.mark.postgres
def test_deploy_keep_leaves_the_container_with_the_tables_and_prints_its_url(client) -> None:
    from sqlalchemy import create_engine, inspect

    result = dkenv("deploy", str(EXAMPLES / "bronze-pagila"), "--target", "postgres_container", "--keep", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["kept"] is True and doc["url"].startswith("postgresql+psycopg2://")
    engine = create_engine(doc["url"])
    try:
        assert len(inspect(engine).get_table_names(schema="br__pagila__public")) == 13
    finally:
        engine.dispose()
    names = [s["name"] for s in json.loads(dkenv("ls", "--json").stdout)]
    assert len(names) == 1  # not reaped by the next command: the container is persistent
    assert dkenv("down", names[0]).returncode == 0


@pytest.mark.mysql
def test_deploy_without_keep_removes_its_container(client) -> None:
    result = dkenv("deploy", str(EXAMPLES / "bronze-pagila"), "--target", "mysql_container", "--validate")
    assert result.returncode == 0, result.stderr
    assert scoped_containers(client, os.environ["DKENV_SCOPE"]) == []
