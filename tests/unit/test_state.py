"""dkenv's private state directory (issue 18, item 2): per user, 0700, files 0600, no symlinks.

The environment tests run ``dkenv env up`` with SQLite databases for real and plant what a
hostile local user would: a symlink or a folder of someone else's where dkenv keeps its state.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from dkenv.state import UnsafeStateDir, private_file, state_dir, state_root

LITE = '[environments.lite.databases.main]\nengine = "sqlite"\n'


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


# ---------------------------------------------------------------------------
# Where it is
# ---------------------------------------------------------------------------
def test_override_then_xdg_then_platform(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DKENV_STATE_DIR", str(tmp_path / "mine"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_root() == tmp_path / "mine"
    monkeypatch.delenv("DKENV_STATE_DIR")
    assert state_root() == tmp_path / "xdg" / "dkenv"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/is/invalid")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert state_root(platform="linux") == tmp_path / "home" / ".local" / "state" / "dkenv"
    assert state_root(platform="darwin") == tmp_path / "home" / "Library" / "Application Support" / "dkenv"
    monkeypatch.setenv("LOCALAPPDATA", str(tmp_path / "local"))
    assert state_root(platform="win32") == tmp_path / "local" / "dkenv" / "state"


def test_created_private_whatever_the_umask(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("DKENV_STATE_DIR", str(tmp_path / "state"))
    old = os.umask(0)
    try:
        folder = state_dir("environments", "x")
        file = private_file(folder / "x.db")
    finally:
        os.umask(old)
    assert folder == tmp_path / "state" / "environments" / "x"
    assert mode(tmp_path / "state") == mode(tmp_path / "state" / "environments") == mode(folder) == 0o700
    assert mode(file) == 0o600


def test_a_loose_folder_of_ours_is_tightened(monkeypatch, tmp_path) -> None:
    (tmp_path / "state").mkdir(mode=0o777)
    os.chmod(tmp_path / "state", 0o777)
    monkeypatch.setenv("DKENV_STATE_DIR", str(tmp_path / "state"))
    state_dir()
    assert mode(tmp_path / "state") == 0o700


def test_symlink_is_refused(monkeypatch, tmp_path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "state").symlink_to(elsewhere)
    monkeypatch.setenv("DKENV_STATE_DIR", str(tmp_path / "state"))
    with pytest.raises(UnsafeStateDir) as info:
        state_dir("environments")
    assert "is a symlink" in info.value.message and info.value.exit_code == 3
    assert list(elsewhere.iterdir()) == []


def _chown_away(path: Path) -> None:
    try:
        os.chown(path, 65534, 65534)
    except PermissionError:
        pytest.skip("needs root to make a folder someone else's")


def test_someone_elses_folder_is_refused(monkeypatch, tmp_path) -> None:
    (tmp_path / "state").mkdir(mode=0o700)
    _chown_away(tmp_path / "state")
    monkeypatch.setenv("DKENV_STATE_DIR", str(tmp_path / "state"))
    with pytest.raises(UnsafeStateDir) as info:
        state_dir()
    assert "belongs to uid 65534" in info.value.message


# ---------------------------------------------------------------------------
# dkenv env up / down with SQLite, through the CLI
# ---------------------------------------------------------------------------
@pytest.fixture
def lite(tmp_path, monkeypatch) -> Path:
    """A declared SQLite environment ``lite``; returns where its state folder must be."""
    (tmp_path / "dkenv.toml").write_text(LITE, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DKENV_STATE_DIR", str(tmp_path / "state"))
    return tmp_path / "state" / "environments" / "lite"


def test_env_up_keeps_sqlite_private_and_down_says_what_it_removed(dk, lite) -> None:
    up = dk("env", "up", "lite")
    assert up.code == 0, up.err
    assert f"sqlite:///{lite / 'main.db'}" in up.out
    assert mode(lite) == 0o700 and mode(lite / "main.db") == 0o600
    assert not Path(os.environ.get("TMPDIR", "/tmp"), "dkenv-env-lite").exists()
    down = dk("env", "down", "lite")
    assert down.code == 0, down.err
    assert down.out.split() == [str(lite / "main.db")]
    assert "removed 1 database(s)" in down.err
    assert not lite.exists()
    again = dk("env", "down", "lite")
    assert again.code == 0 and again.out == "" and "nothing to remove" in again.err


def test_env_up_refuses_a_planted_symlink(dk, lite, tmp_path) -> None:
    target = tmp_path / "attacker"
    target.mkdir()
    lite.parent.mkdir(parents=True)
    lite.symlink_to(target)
    up = dk("env", "up", "lite")
    assert up.code == 3
    assert "is a symlink" in up.err and len(up.err.strip().splitlines()) <= 2
    assert list(target.iterdir()) == []  # nothing written where the symlink points
    (target / "main.db").touch()  # a database planted there is not "removed" by env down
    down = dk("env", "down", "lite")
    assert down.code == 3 and "is a symlink" in down.err and down.out == ""
    assert (target / "main.db").exists()


def test_env_up_refuses_someone_elses_folder(dk, lite) -> None:
    lite.mkdir(parents=True, mode=0o700)
    _chown_away(lite)
    up = dk("env", "up", "lite")
    assert up.code == 3 and "belongs to uid 65534" in up.err
    assert list(lite.iterdir()) == []


def test_a_kept_sqlite_file_target_lives_in_the_state_dir(dk, tmp_path, monkeypatch, fixtures) -> None:
    monkeypatch.setenv("DKENV_STATE_DIR", str(tmp_path / "state"))
    result = dk("deploy", fixtures / "flat", "--target", "sqlite_file", "--keep", "--json")
    assert result.code == 0, result.err
    url = json.loads(result.out)["url"]
    path = Path(url.removeprefix("sqlite:///"))
    assert path.is_file() and path.parent.parent == tmp_path / "state" / "sqlite"
    assert mode(path.parent) == 0o700 and mode(tmp_path / "state" / "sqlite") == 0o700
