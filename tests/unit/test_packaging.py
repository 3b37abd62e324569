"""Building dkenv's wheel prints no deprecation warning from the build backend (issue 18, item 8).

Why a real build: the warning (``project.license`` as a TOML table, an error from 2027-02-18)
comes from setuptools while it reads pyproject.toml, so only running the backend shows it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_builds_without_deprecation_warnings(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "--no-cache-dir",
         "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, output[-3000:]
    assert list(tmp_path.glob("dkenv-*.whl")), output[-3000:]
    noisy = [line for line in output.splitlines() if "Deprecat" in line or "deprecated" in line]
    assert not noisy, "\n".join(noisy)
