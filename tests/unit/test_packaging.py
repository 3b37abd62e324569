"""dkenv as pip installs it: the wheel builds cleanly, and its hints fit an installed copy.

Why real builds: the deprecation (``project.license`` as a TOML table, an error from
2027-02-18) comes from setuptools while it reads pyproject.toml, so only running the backend
shows it (issue 18, item 8); and whether a hint points into a source checkout depends on where
the package lives, so the installed copy is run from outside the checkout (item 7).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-cache-dir",
         "-w", str(out), str(ROOT)],
        capture_output=True, text=True, check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    wheels = list(out.glob("dkenv-*.whl"))
    assert wheels, output[-3000:]
    return wheels[0], output


def test_wheel_builds_without_deprecation_warnings(built: tuple[Path, str]) -> None:
    _wheel, output = built
    noisy = [line for line in output.splitlines() if "Deprecat" in line or "deprecated" in line]
    assert not noisy, "\n".join(noisy)


def test_installed_copy_hints_without_make_targets(built: tuple[Path, str], tmp_path: Path) -> None:
    wheel, _ = built
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                    str(site), str(wheel)], check=True, capture_output=True)
    env = {**os.environ, "PYTHONPATH": str(site), "DOCKER_HOST": "unix:///nonexistent.sock"}
    env.pop("DOCKER_CONTEXT", None)
    where = subprocess.run([sys.executable, "-c", "import dkenv; print(dkenv.__file__)"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(site)), where.stdout  # the installed copy, not the checkout
    result = subprocess.run([sys.executable, "-m", "dkenv", "ls"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 3, result.stderr
    assert "no Docker engine" in result.stderr
    assert "make" not in result.stderr
    assert "podman.socket" in result.stderr and "systemctl start docker" in result.stderr
