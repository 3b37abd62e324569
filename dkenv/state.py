"""Where dkenv keeps what outlives one command: a private, per-user state directory.

Why: ``dkenv env up`` keeps SQLite databases until ``dkenv env down``; a fixed name under
``/tmp`` lets any local user plant a directory or a symlink there first, and the files were
world-readable.  Everything kept between commands lives under :func:`state_dir` instead:

- ``$DKENV_STATE_DIR`` if set; else ``$XDG_STATE_HOME/dkenv``; else the platform's place:
  ``~/.local/state/dkenv`` (Linux and other Unix), ``~/Library/Application Support/dkenv``
  (macOS), ``%LOCALAPPDATA%\\dkenv\\state`` (Windows);
- every directory dkenv creates there is 0700, every file 0600;
- an existing directory is used only if it is a real directory (not a symlink) owned by the
  current user; anything else is refused with one line (exit 3), never repaired by force.

Lowest layer: anything in dkenv (environments, locks of parallel test runs) may call it.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from dkenv.errors import EnvironmentFailure

ENV_STATE_DIR = "DKENV_STATE_DIR"

_DIR_MODE = 0o700
_FILE_MODE = 0o600


class UnsafeStateDir(EnvironmentFailure):
    """The state directory (or a folder in it) is a symlink, not ours, or not a directory."""


def state_root(*, platform: str | None = None) -> Path:
    """Where the state directory is (not created): see the module docstring for the order."""
    override = os.environ.get(ENV_STATE_DIR)
    if override:
        return Path(override).expanduser().absolute()
    xdg = os.environ.get("XDG_STATE_HOME")
    if xdg and os.path.isabs(xdg):  # the XDG spec: a relative value is invalid, ignore it
        return Path(xdg) / "dkenv"
    platform = platform or sys.platform
    home = Path.home()
    if platform == "darwin":
        return home / "Library" / "Application Support" / "dkenv"
    if platform.startswith("win"):
        base = os.environ.get("LOCALAPPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / "dkenv" / "state"
    return home / ".local" / "state" / "dkenv"


def state_dir(*parts: str) -> Path:
    """The private directory ``state_root()/parts...``, created 0700 and checked at each level.

    Raises :class:`UnsafeStateDir` (exit 3) for a symlink, a folder owned by someone else, or
    a file where a folder should be.
    """
    root = state_root()
    root.parent.mkdir(parents=True, exist_ok=True, mode=_DIR_MODE)
    path = private_dir(root)
    for part in parts:
        path = private_dir(path / part)
    return path


def private_dir(path: Path) -> Path:
    """Create ``path`` (0700) if missing; refuse it unless it is our own real directory."""
    try:
        os.mkdir(path, _DIR_MODE)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise UnsafeStateDir(f"refusing dkenv's state directory {path}: it is a symlink",
                             f"remove it, or set {ENV_STATE_DIR} to a directory of your own")
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafeStateDir(f"refusing dkenv's state directory {path}: it is not a directory",
                             f"remove it, or set {ENV_STATE_DIR} to a directory of your own")
    if hasattr(os, "geteuid"):
        if info.st_uid != os.geteuid():
            raise UnsafeStateDir(
                f"refusing dkenv's state directory {path}: it belongs to uid {info.st_uid}, "
                f"not to you (uid {os.geteuid()})",
                f"remove it, or set {ENV_STATE_DIR} to a directory of your own")
        if stat.S_IMODE(info.st_mode) != _DIR_MODE:
            os.chmod(path, _DIR_MODE)  # ours: make it private (an old umask, a copy)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty with mode 0600 (never through a symlink); an existing file is kept."""
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(path, flags, _FILE_MODE)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, _FILE_MODE)
    finally:
        os.close(fd)
    return path


def make_private(folder: Path) -> None:
    """Set every regular file directly in ``folder`` to 0600 (files other programs created)."""
    for entry in os.scandir(folder):
        if entry.is_file(follow_symlinks=False):
            os.chmod(entry.path, _FILE_MODE)


__all__ = ["ENV_STATE_DIR", "UnsafeStateDir", "make_private", "private_dir", "private_file",
           "state_dir", "state_root"]
