"""Compile before anything starts (issue 9): a datakit that cannot compile for the engine never gets a container.

Docker's own event stream is the witness: not a single container ``create`` event in this
test's ``DKENV_SCOPE`` while ``dkenv deploy`` refuses the datakit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import scoped_containers

pytestmark = [pytest.mark.docker, pytest.mark.usefixtures("local_images", "scope")]

ROOT = Path(__file__).resolve().parents[2]


def created_in_scope(client, scope: str, since: float) -> list[dict]:
    return list(client.events(since=int(since), until=int(time.time()) + 1, decode=True,
                              filters={"type": "container", "event": "create", "label": f"dkenv.scope={scope}"}))


@pytest.mark.mysql
def test_array_column_on_mysql_container_fails_before_a_container_exists(client) -> None:
    scope = os.environ["DKENV_SCOPE"]
    since = time.time() - 1
    proc = subprocess.run([sys.executable, "-m", "dkenv", "deploy", str(ROOT / "examples" / "pagila-source"),
                           "--target", "mysql_container", "--json"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["success"] is False
    errors = [line for line in proc.stderr.splitlines() if not line.startswith("dkenv: deploying")]
    assert len(errors) == 2 and "public.film.special_features" in errors[0] and "mysql" in errors[0], proc.stderr
    assert "sa.JSON" in errors[1] and "Traceback" not in proc.stderr
    assert created_in_scope(client, scope, since) == []
    assert scoped_containers(client, scope) == []


@pytest.mark.mysql
def test_the_witness_sees_a_container_that_is_created(client) -> None:
    """The event query above can fail: a deploy that does start a container shows up in it."""
    scope = os.environ["DKENV_SCOPE"]
    since = time.time() - 1
    proc = subprocess.run([sys.executable, "-m", "dkenv", "deploy", str(ROOT / "examples" / "bronze-pagila"),
                           "--target", "mysql_container"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert len(created_in_scope(client, scope, since)) == 1
