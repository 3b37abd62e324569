"""Ctrl-C and SIGTERM at every step of ``dkenv up``, ``dkenv deploy`` (also ``--keep``) and ``dkenv env up``
leave nothing behind; SIGKILL leaves nothing the next dkenv command does not reap (issue 18).

No timing: each run sets ``DKENV_TEST_GATE`` to one step (see ``dkenv.hooks.gate``); the
command writes ``<step>.reached`` there and waits; the test sends its signal, then writes
``<step>.go`` (which releases a gate in a worker thread, as in ``env up``).  Each run has a
``DKENV_SCOPE`` of its own, and afterwards no container of that scope may exist, in any state
(``Created`` included).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.usefixtures("local_images")]

KIT = FIXTURES / "flat"
CONTAINER_STEPS = ("container-created", "container-started", "server-ready")
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 128 + signal.SIGTERM}

ENV_TOML = f"""
[environments.sig.databases.main]
engine = "postgres"
datakits = ["{KIT}"]
"""

COMMANDS = {
    "up": (("up", "postgres", "--name", "{name}"), (*CONTAINER_STEPS,)),
    "deploy": (("deploy", str(KIT), "--target", "postgres_container"),
               (*CONTAINER_STEPS, "deployed")),
    "deploy --keep": (("deploy", str(KIT), "--target", "postgres_container", "--keep"),
                      (*CONTAINER_STEPS, "deployed")),
    "env up": (("env", "up", "sig"), (*CONTAINER_STEPS, "environment-ready")),
}

CASES = [pytest.param(cmd, step, sig, id=f"{cmd}-{step}-{sig.name}")
         for cmd, (_, steps) in COMMANDS.items() for step in steps
         for sig in (signal.SIGINT, signal.SIGTERM)]


def leftovers(client, scope: str) -> list[str]:
    from dkenv.docker.containers import remove

    rows = client.api.containers(all=True, filters={"label": [f"dkenv.scope={scope}"]})
    for row in rows:  # tidy up, then fail (tolerates a reaper removing it right now)
        remove(client, row["Id"])
    return [f"{row['Names'][0]} ({row['State']})" for row in rows]


def start_at_gate(args: tuple[str, ...], step: str, tmp_path: Path, scope: str
                  ) -> subprocess.Popen[str]:
    """Run ``dkenv ARGS`` until it waits at ``step``; fail if it ends before reaching it."""
    (tmp_path / "dkenv.toml").write_text(ENV_TOML, encoding="utf-8")
    env = {**os.environ, "DKENV_SCOPE": scope, "DKENV_TEST_GATE": step,
           "DKENV_TEST_GATE_DIR": str(tmp_path)}
    args = tuple(a.replace("{name}", f"sig-{scope}") for a in args)  # Docker names are global
    proc = subprocess.Popen([sys.executable, "-m", "dkenv", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reached = tmp_path / f"{step}.reached"
    deadline = time.monotonic() + 180  # a safety net against a hang, not a measurement
    while not reached.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"dkenv ended ({proc.returncode}) before {step}: {err}{out}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"dkenv never reached {step}")
        time.sleep(0.02)
    return proc


@pytest.mark.parametrize(("command", "step", "sig"), CASES)
def test_a_signal_at_each_step_leaves_nothing(client, tmp_path, command, step, sig) -> None:
    scope = f"test-sig-{uuid.uuid4().hex[:8]}"
    args, _ = COMMANDS[command]
    proc = start_at_gate(args, step, tmp_path, scope)
    proc.send_signal(sig)
    (tmp_path / f"{step}.go").touch()
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == EXIT[sig], err
    assert "Traceback" not in err, err
    assert "postgresql" not in out  # no URL handed out for a server that is gone
    assert leftovers(client, scope) == []


@pytest.mark.parametrize("step", ["container-created", "container-started", "server-ready"])
def test_sigkill_during_up_leaves_a_server_the_next_command_reaps(client, tmp_path, step) -> None:
    scope = f"test-sig-{uuid.uuid4().hex[:8]}"
    proc = start_at_gate(COMMANDS["up"][0], step, tmp_path, scope)
    proc.kill()
    proc.communicate()
    name = f"sig-{scope}"
    rows = client.api.containers(all=True, filters={"label": [f"dkenv.scope={scope}"]})
    for row in rows:  # SIGKILL runs no cleanup: the container is there, naming its starter
        assert row["Labels"]["dkenv.starter.pid"] == str(proc.pid)
        assert row["Names"] == [f"/{name}.starting"]
    env = {**os.environ, "DKENV_SCOPE": scope}
    pruned = subprocess.run([sys.executable, "-m", "dkenv", "prune"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, check=False)
    assert pruned.returncode == 0, pruned.stderr
    # ...and the next dkenv command removes it (a parallel worker's reaper, global by design,
    # may have been first: then it is gone all the same)
    if rows:
        assert name in pruned.stdout.split() or not client.api.containers(
            all=True, filters={"id": rows[0]["Id"]})
    assert leftovers(client, scope) == []


def test_a_finished_up_is_kept_and_not_reaped(client, tmp_path) -> None:
    scope = f"test-sig-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DKENV_SCOPE": scope}
    name = f"sig-{scope}"
    up = subprocess.run([sys.executable, "-m", "dkenv", "up", "postgres", "--name", name],
                        env=env, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert up.returncode == 0, up.stderr
    try:
        pruned = subprocess.run([sys.executable, "-m", "dkenv", "prune"], env=env, cwd=tmp_path,
                                capture_output=True, text=True, check=False)
        assert pruned.stdout == ""  # its starter has exited, but it was kept
        rows = client.api.containers(all=True, filters={"label": [f"dkenv.scope={scope}"]})
        assert [r["Names"] for r in rows] == [[f"/{name}"]]
    finally:
        leftovers(client, scope)


PLUGIN_TEST = '''
from dkenv import hooks


def test_holds_a_database(dkenv_engine):
    with dkenv_engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    hooks.gate("test-running")  # the test's own step: a database is handed out and in use
'''


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
@pytest.mark.parametrize("step", [*CONTAINER_STEPS, "test-running"])
def test_a_signal_to_a_pytest_run_leaves_nothing(client, tmp_path, step, sig) -> None:
    """Ctrl-C or SIGTERM to a pytest run of the plugin, while its session server starts or while
    a test holds an isolated database: pytest ends, and no container of the run remains."""
    scope = f"test-sig-{uuid.uuid4().hex[:8]}"
    (tmp_path / "test_inner.py").write_text(PLUGIN_TEST, encoding="utf-8")
    env = {**os.environ, "DKENV_SCOPE": scope, "DKENV_TEST_GATE": step,
           "DKENV_TEST_GATE_DIR": str(tmp_path), "DKENV_REQUIRE_DOCKER": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                             "--dkenv-engines", "postgres", "--dkenv-datakit", str(KIT), "test_inner.py"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    reached = tmp_path / f"{step}.reached"
    deadline = time.monotonic() + 180  # a safety net against a hang, not a measurement
    while not reached.exists():
        if proc.poll() is not None:
            pytest.fail(f"pytest ended ({proc.returncode}) before {step}: {proc.communicate()[0]}")
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"pytest never reached {step}")
        time.sleep(0.02)
    proc.send_signal(sig)
    (tmp_path / f"{step}.go").touch()
    out, _ = proc.communicate(timeout=180)
    assert proc.returncode != 0, out  # interrupted, not passed
    assert leftovers(client, scope) == [], out
