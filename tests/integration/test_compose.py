"""compose/docker-compose.yml: the classic manual setup, used through the *_local targets."""

from __future__ import annotations

import json
import shutil
import subprocess
import time

import pytest

from tests.conftest import ROOT

COMPOSE_FILE = ROOT / "compose" / "docker-compose.yml"
PROJECT = "dkenv-compose-test"

pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.mysql]


def _compose_cmd() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True)
    if probe.returncode == 0:
        return ["docker", "compose"]
    pytest.fail("neither docker-compose nor `docker compose` is installed (run make docker-engine)")


@pytest.fixture(scope="module")
def compose_up():
    cmd = [*_compose_cmd(), "-f", str(COMPOSE_FILE), "-p", PROJECT]
    subprocess.run([*cmd, "up", "-d"], check=True, capture_output=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            ids = subprocess.run([*cmd, "ps", "-q"], check=True, capture_output=True, text=True).stdout.split()
            states = [json.loads(subprocess.run(["docker", "inspect", "--format", "{{json .State.Health.Status}}", i],
                                                capture_output=True, text=True).stdout or '""') for i in ids]
            if len(states) == 2 and all(s == "healthy" for s in states):
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"compose services not healthy in 90 s: {states}")
        yield
    finally:
        subprocess.run([*cmd, "down", "-v"], capture_output=True)


def test_compose_file_is_valid_for_this_compose():
    out = subprocess.run([*_compose_cmd(), "-f", str(COMPOSE_FILE), "config"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "5433" in out.stdout and "3307" in out.stdout


def test_deploy_to_compose_databases_through_local_targets(compose_up, dk, monkeypatch, examples):
    monkeypatch.setenv("PGHOST", "127.0.0.1")
    monkeypatch.setenv("PGPORT", "5433")
    monkeypatch.setenv("PGUSER", "postgres")
    monkeypatch.setenv("PGPASSWORD", "test")
    monkeypatch.setenv("PGDATABASE", "test_db")
    r = dk("deploy", examples / "bronze-pagila", examples / "silver-pagila", "--target", "postgres_local",
           "--validate", "--cleanup", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["validation"]["success"]

    monkeypatch.setenv("MYSQL_HOST", "127.0.0.1")
    monkeypatch.setenv("MYSQL_PORT", "3307")
    monkeypatch.setenv("MYSQL_USER", "root")
    monkeypatch.setenv("MYSQL_PASSWORD", "test")
    monkeypatch.setenv("MYSQL_DATABASE", "test_db")
    r = dk("deploy", examples / "bronze-pagila", "--target", "mysql_local", "--validate", "--cleanup", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["validation"]["success"]
