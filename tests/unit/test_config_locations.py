"""Config errors point at the failing ``datakits`` entry's own line, not at ``datakits = [``.

tomllib reports no positions, so dkenv scans the source; these tests pin the scanner on the
layouts people write (one entry per line, comments, a path listed twice, brackets in paths).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dkenv.environments.specs import environment_spec, locate_in_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

CONFIG = """\
[environments.shop]
description = "multi-line datakits"

[environments.shop.databases.main]
engine = "sqlite"
datakits = [
    "{bronze}",   # bronze first
    # "commented/out", with a ] and a # in it
    'kits/[odd]#name',
    "kits/nope",
    "kits/nope",
]
"""


def write(tmp_path: Path, text: str) -> Path:
    bronze = os.path.relpath(EXAMPLES / "bronze-pagila", tmp_path)
    path = tmp_path / "dkenv.toml"
    path.write_text(text.replace("{bronze}", bronze), encoding="utf-8")
    return path


def test_each_entry_is_found_on_its_own_line(tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG)
    bronze = os.path.relpath(EXAMPLES / "bronze-pagila", tmp_path)

    def line(entry: object, occurrence: int = 0) -> str:
        return locate_in_config(path, "shop", "main", "datakits", entry, occurrence)

    assert line(bronze) == f"{path}:7"
    assert line("kits/[odd]#name") == f"{path}:9"
    assert line("kits/nope") == f"{path}:10"
    assert line("kits/nope", 1) == f"{path}:11"
    assert line("commented/out") == f"{path}:6"  # not an entry: the key's line
    assert line("kits/no") == f"{path}:6"  # a substring of an entry is not the entry
    assert locate_in_config(path, "shop", "main", "datakits") == f"{path}:6"


def test_a_wrong_path_is_reported_at_its_entry(dk, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write(tmp_path, CONFIG.replace("'kits/[odd]#name',\n", ""))
    r = dk("env", "up", "shop")
    assert r.code == 2, r.err
    assert f"{path.name}:9: environment shop, database main, datakit 'kits/nope'" in r.err
    assert "Traceback" not in r.err


def test_an_entry_that_is_not_a_path_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, CONFIG.replace('    "kits/nope",\n    "kits/nope",\n', "    42,\n"))
    from dkenv.config import load_settings
    from dkenv.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        environment_spec("shop", load_settings(path))
    assert info.value.message.startswith(f"{path}:10: ")
    assert "entry 42 is not a path" in info.value.message


def test_a_malformed_env_table_is_a_config_error_at_its_line(dk, tmp_path: Path, monkeypatch) -> None:
    """``env = "..."`` (not a table) is reported at its line; it once crashed the error path."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "dkenv.toml"
    path.write_text('[environments.e.databases.db]\nengine = "postgres"\ndatakits = []\n'
                    'env = "oops"\n', encoding="utf-8")
    r = dk("env", "up", "e")
    assert r.code == 2
    assert f"{path}:4: [environments.e.databases.db]: env must be a table" in r.err
    assert "Traceback" not in r.err
