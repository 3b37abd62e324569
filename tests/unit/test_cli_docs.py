"""Every command has help text with an example, and the README mentions it."""

from __future__ import annotations

import pytest

from dkenv.cli import COMMANDS, LazyGroup
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_command_has_help_with_example_and_is_documented(name):
    command = LazyGroup._load(name)
    assert command is not None, f"dkenv {name} is not built"
    assert command.help and "xample" in command.help, f"dkenv {name} --help has no example"
    assert f"dkenv {name}" in README, f"dkenv {name} is missing from the README"


def test_help_is_fast_because_heavy_modules_are_lazy():
    import subprocess
    import sys

    code = "import sys, dkenv.cli; print(any(m.startswith(('sqlalchemy', 'docker')) for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
