"""A table module that fails under this Python while the project's requires-python excludes it:
the error says which Python the project requires."""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest

from dkenv.datakit import load_datakit
from dkenv.errors import DatakitError

NEWER = Path(__file__).resolve().parents[1] / "fixtures" / "datakits" / "newer_python"


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="the fixture's forward reference resolves on 3.14")
def test_a_project_for_a_newer_python_says_so(dk):
    r = dk("deploy", NEWER)
    assert r.code == 2
    assert r.err.splitlines() == [
        f"dkenv: error: {NEWER / 'src' / 'futurekit' / 'models.py'}:14: datakit {NEWER} table module "
        f"'futurekit.models' failed to import: NameError: name 'Child' is not defined; "
        f"the project requires Python >=3.14 (this is {platform.python_version()})",
        f"  hint: run dkenv with a Python the project supports (>=3.14), or make the module work on "
        f"{platform.python_version()}",
    ]


def _kit(tmp_path: Path, requires: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(f'[project]\nname = "k"\nrequires-python = "{requires}"\n')
    (tmp_path / "models.py").write_text("from sqlmodel import SQLModel\n"
                                        "class T(SQLModel, table=True):\n    id: int = missing_name\n")
    return tmp_path


@pytest.mark.parametrize("requires", [">=3.8", "not a specifier"])
def test_no_python_note_when_the_project_allows_this_python_or_says_nothing_usable(tmp_path, requires):
    with pytest.raises(DatakitError) as caught:
        load_datakit(_kit(tmp_path, requires))
    assert "NameError: name 'missing_name' is not defined" in caught.value.message
    assert "requires Python" not in caught.value.message
    assert caught.value.hint.startswith("fix the module")


def test_missing_modules_get_the_python_note_too(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "k"\nrequires-python = ">=9.0"\n')
    (tmp_path / "models.py").write_text("import nowhere_to_be_found\nclass T:\n    __tablename__ = 't'\n")
    with pytest.raises(DatakitError) as caught:
        load_datakit(tmp_path)
    assert caught.value.message.endswith(f"; the project requires Python >=9.0 (this is {platform.python_version()})")
