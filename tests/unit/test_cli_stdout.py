"""Stdout is the user's: what a datakit's modules write there while dkenv imports, deploys or
checks them goes to stderr (print(), a raw write on fd 1, an echo=True engine's SQL log)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOISY = ROOT / "tests" / "fixtures" / "datakits" / "noisy"
NOISE = ("loading models", "raw write on file descriptor 1", "SELECT 42 AS echo_marker")


def _dkenv(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """A real process: file descriptor 1 is a pipe, as in a shell pipeline or CI."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "dkenv", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    """A SQLite file the noisy datakit was deployed into (for validate)."""
    folder = tmp_path_factory.mktemp("noisy")
    proc = _dkenv("deploy", str(NOISY), "--url", f"sqlite:///{folder / 'noisy.db'}", cwd=folder)
    assert proc.returncode == 0, proc.stderr
    return folder / "noisy.db"


@pytest.mark.parametrize("command", [
    ("deploy", "--validate"),
    ("check", "--engines", "sqlite"),
    ("check", "--static"),
    ("validate", "--url", "DB"),
], ids=["deploy", "check-live", "check-static", "validate"])
def test_json_stdout_is_one_document_and_the_noise_is_on_stderr(command, database, tmp_path):
    args = [str(NOISY), *(f"sqlite:///{database}" if a == "DB" else a for a in command[1:]), "--json"]
    proc = _dkenv(command[0], *args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # exactly one document, nothing before or after it
    assert doc["success"] is True
    for line in NOISE:
        assert line in proc.stderr, line


def test_a_failing_json_run_still_prints_one_document(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    proc = _dkenv("validate", str(NOISY), "--url", f"sqlite:///{empty}", "--json", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["success"] is False
    assert "loading models" in proc.stderr


def test_plain_output_keeps_stdout_for_the_result(tmp_path):
    proc = _dkenv("deploy", str(NOISY), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "deployed noisy to sqlite_memory: 1 table(s) created\n"
    assert all(line in proc.stderr for line in NOISE)


def test_help_and_version_stay_on_stdout(tmp_path):
    assert "Deploy one or more datakits" in _dkenv("deploy", "--help", cwd=tmp_path).stdout
    assert _dkenv("--version", cwd=tmp_path).stdout.startswith("dkenv")


def test_in_process_the_noise_goes_to_stderr_too(dk):
    r = dk("deploy", NOISY, "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["tables"] == ["gadget"]
    assert "loading models" in r.err and "SELECT 42 AS echo_marker" in r.err
    assert sys.stdout is not sys.stderr  # put back after the command


def test_stdout_is_restored_after_a_failing_command(tmp_path):
    code = ("import os, sys\n"
            "from dkenv.cli import _common, cli\n"
            f"_common.run(cli, ['deploy', {str(tmp_path / 'nowhere')!r}])\n"
            "os.write(1, b'fd1-after\\n'); print('print-after')\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)
    assert proc.stdout == "fd1-after\nprint-after\n", proc.stderr
    assert "does not exist" in proc.stderr
