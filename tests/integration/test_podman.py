"""Podman as the engine: its Docker-compatible service on a private socket, with private storage.

``podman system service`` speaks the Docker API, so dkenv works through it unchanged with
``DOCKER_HOST=unix://...``.  The module starts its own service with its own storage (``--root``,
``--runroot``, ``--tmpdir`` under a temporary folder) so the machine's dockerd and any Podman
of the user's are never touched, loads dkenv's PostgreSQL image into it from Docker (no
registry here), and removes all of it at the end.  ``CONTAINERS_CONF`` holds
``default_ulimits = []``: these sandboxed machines refuse Podman's default rlimits.

Needs the ``podman`` package (``scripts/docker-engine.sh`` installs it); under ``make test``
(``DKENV_REQUIRE_DOCKER=1``) a missing podman fails the run like a missing Docker engine.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES
from tests.integration.conftest import IMAGES, scoped_containers, select_one

pytestmark = [pytest.mark.docker, pytest.mark.postgres,
              pytest.mark.usefixtures("local_images", "scope")]

PODMAN_IMAGE = f"localhost/{IMAGES['postgres']}"  # what `podman load` names a docker-saved image
SLEEPER_IMAGE = "localhost/dkenv-test/sleeper:1"  # the same image whose server never starts
BRONZE = EXAMPLES / "bronze-pagila"
DEADLINE_S = 90.0


@dataclass
class Podman:
    """A private Podman: its storage folder, its CLI, and (while it runs) its API service."""

    home: Path
    service: subprocess.Popen | None = None

    @property
    def socket(self) -> Path:
        return self.home / "podman.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.home / "containers.conf")}

    def cli(self, *args: str, stdin: bytes | None = None, check: bool = True) -> str:
        """``podman`` on the private storage (works with or without the service)."""
        command = ["podman", "--root", str(self.home / "root"), "--runroot", str(self.home / "run"),
                   "--tmpdir", str(self.home / "tmp"), *args]
        done = subprocess.run(command, input=stdin, capture_output=True, env=self.env, timeout=300)
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(command)}: {done.stderr.decode(errors='replace')}")
        return done.stdout.decode(errors="replace")

    def start(self) -> None:
        """Start the API service and wait until it answers a ping (a condition, not a sleep)."""
        import docker

        self.socket.unlink(missing_ok=True)
        command = ["podman", "--root", str(self.home / "root"), "--runroot", str(self.home / "run"),
                   "--tmpdir", str(self.home / "tmp"), "system", "service", "--time=0",
                   self.docker_host]
        log = open(self.home / "service.log", "ab")  # noqa: SIM115 - closed with the process
        self.service = subprocess.Popen(command, stdout=log, stderr=log, env=self.env,
                                        start_new_session=True)
        log.close()
        deadline = time.monotonic() + DEADLINE_S
        while True:
            assert self.service.poll() is None, (self.home / "service.log").read_text()
            try:
                client = docker.DockerClient(base_url=self.docker_host, timeout=5)
                client.ping()
                client.close()
                return
            except Exception:  # noqa: BLE001 - not listening yet
                assert time.monotonic() < deadline, "the podman service never answered"
                time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the service (its containers keep running under conmon, as after a crash)."""
        if self.service is not None and self.service.poll() is None:
            self.service.send_signal(signal.SIGKILL)
            self.service.wait(timeout=DEADLINE_S)

    def stop(self) -> None:
        if self.service is not None and self.service.poll() is None:
            self.service.terminate()
            try:
                self.service.wait(timeout=DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.service.kill()
                self.service.wait(timeout=DEADLINE_S)
        self.service = None

    def containers(self, scope: str) -> list[str]:
        out = self.cli("ps", "-a", "-q", "--filter", f"label=dkenv.scope={scope}")
        return out.split()


@pytest.fixture(scope="module")
def podman(client, local_images) -> Iterator[Podman]:
    """A private Podman holding dkenv's PostgreSQL image (and a never-ready copy of it)."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (scripts/docker-engine.sh installs it)")
    home = Path(tempfile.mkdtemp(prefix="dkenv-podman-", dir="/tmp"))  # short: sun_path limit
    (home / "containers.conf").write_text("[containers]\ndefault_ulimits = []\n")
    pm = Podman(home)
    try:
        archive = home / "postgres.tar"  # `docker save | podman load`, through the SDK
        with archive.open("wb") as out:
            for chunk in client.images.get(IMAGES["postgres"]).save(named=True):
                out.write(chunk)
        pm.cli("load", "-q", "-i", str(archive))
        archive.unlink()
        template = pm.cli("create", PODMAN_IMAGE).strip()
        pm.cli("commit", "-q", "--change", 'CMD ["sleep", "300"]', template, SLEEPER_IMAGE)
        pm.cli("rm", template)
        pm.start()
        yield pm
    finally:
        pm.stop()
        pm.cli("rm", "-af", "-t", "0", check=False)
        pm.cli("rmi", "-af", check=False)
        mounted = [line for line in Path("/proc/mounts").read_text().splitlines() if str(home) in line]
        shutil.rmtree(home, ignore_errors=True)
        assert mounted == [], f"podman left mounts behind: {mounted}"


@pytest.fixture
def service(podman: Podman, scope: str) -> Iterator[Podman]:
    """The running service; afterwards nothing of this test's scope is left in Podman."""
    if podman.service is None or podman.service.poll() is not None:
        podman.start()
    yield podman
    left = podman.containers(scope)
    if left:
        podman.cli("rm", "-f", "-t", "0", *left, check=False)
    assert left == [], f"containers left in podman: {left}"


def dkenv(pm: Podman, *args: str, image: str = PODMAN_IMAGE) -> subprocess.CompletedProcess[str]:
    env = {**pm.env, "DOCKER_HOST": pm.docker_host, "DKENV_POSTGRES_IMAGE": image}
    return subprocess.run([sys.executable, "-m", "dkenv", *args], capture_output=True, text=True,
                          timeout=300, env=env)


def test_up_deploy_validate_down_and_reap_through_podman(client, service: Podman, scope) -> None:
    started = dkenv(service, "up", "postgres", "--json")
    assert started.returncode == 0, started.stderr
    server = json.loads(started.stdout)
    assert server["image"] == PODMAN_IMAGE and select_one(server["url"]) == 1
    assert service.containers(scope) and scoped_containers(client, scope) == []  # in podman only

    deployed = dkenv(service, "deploy", str(BRONZE), "--url", server["url"], "--validate", "--json")
    assert deployed.returncode == 0, deployed.stderr
    assert json.loads(deployed.stdout)["validation"]["success"] is True
    validated = dkenv(service, "validate", str(BRONZE), "--url", server["url"])
    assert validated.returncode == 0, validated.stderr

    # A container target: started through podman, deployed, validated and removed by one command.
    one_shot = dkenv(service, "deploy", str(BRONZE), "--target", "postgres_container", "--validate")
    assert one_shot.returncode == 0, one_shot.stderr

    listed = json.loads(dkenv(service, "ls", "--json").stdout)
    assert [row["name"] for row in listed] == [server["name"]]
    down = dkenv(service, "down", server["name"])
    assert down.returncode == 0 and down.stdout.split() == [server["name"]], down.stderr
    assert service.containers(scope) == []

    # Reaping: the owner of an ephemeral server is SIGKILLed; the next command removes it.
    owner = subprocess.Popen(
        [sys.executable, "-c", "import time\nfrom dkenv.servers.lifecycle import start\n"
         "s = start('postgres')\nprint(s.name, flush=True)\ntime.sleep(300)"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**service.env, "DOCKER_HOST": service.docker_host, "DKENV_POSTGRES_IMAGE": PODMAN_IMAGE})
    try:
        name = owner.stdout.readline().strip()
        assert name, owner.stderr.read()
        assert len(service.containers(scope)) == 1
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=DEADLINE_S)
    finally:
        owner.kill()
        owner.communicate()
    reaped = dkenv(service, "ls", "--json")
    assert reaped.returncode == 0, reaped.stderr
    assert json.loads(reaped.stdout) == [] and service.containers(scope) == []
    assert scoped_containers(client, scope) == []  # nothing ever went to the Docker engine


def test_a_podman_service_killed_mid_run_is_a_clear_environment_error(client, service: Podman,
                                                                      scope) -> None:
    """``up`` is waiting for a server that never gets ready when the service is SIGKILLed:
    exit 3 naming the engine that went away, one or two lines, no traceback; then every
    command pointed at the dead socket says so the same way.  Nothing is left in Docker."""
    up = subprocess.Popen(
        [sys.executable, "-m", "dkenv", "up", "postgres", "--timeout", "120", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**service.env, "DOCKER_HOST": service.docker_host,
             "DKENV_POSTGRES_IMAGE": SLEEPER_IMAGE})
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not service.containers(scope):  # created: `up` is in its readiness wait now
            assert up.poll() is None, up.communicate()
            assert time.monotonic() < deadline, "the container never appeared"
            time.sleep(0.05)
        service.kill()
        out, err = up.communicate(timeout=DEADLINE_S)
    finally:
        if up.poll() is None:
            up.kill()
            up.communicate()
    assert up.returncode == 3, err
    lines = err.strip().splitlines()
    assert "Traceback" not in err and len(lines) <= 3, err  # a progress line, the message, a hint
    assert f"the Docker engine at {service.docker_host} stopped answering" in err
    assert json.loads(out)["error"]["exit_code"] == 3  # --json: still one document

    for args in (("ls",), ("down", "--all"), ("up", "postgres"),
                 ("deploy", str(BRONZE), "--target", "postgres_container")):
        result = dkenv(service, *args)
        assert result.returncode == 3, (args, result.stderr)
        assert f"no Docker engine answers at {service.docker_host}" in result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) <= 3
    assert scoped_containers(client, scope) == []

    # What the dead service had started is still in Podman's storage: once it is back,
    # `dkenv down --all` removes it (the hint's advice works).
    assert service.containers(scope)
    service.start()
    assert dkenv(service, "down", "--all").returncode == 0
    assert service.containers(scope) == []
