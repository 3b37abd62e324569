"""What to tell a user who has no container engine: advice that fits where dkenv is installed.

Why: ``make docker-engine`` exists only in dkenv's source tree.  Someone who installed dkenv
with pip has no Makefile, and on macOS or Windows the engine is Docker Desktop, colima or a
Podman machine, never a ``dockerd`` they start themselves.  So the hint depends on two facts:
is there a checkout around the package (a Makefile with a ``docker-engine`` target next to
it), and which platform is this.
"""

from __future__ import annotations

import sys
from pathlib import Path

#: The package directory (``.../dkenv``); its parent is the checkout's root when run from source.
PACKAGE_DIR = Path(__file__).resolve().parents[1]

_ANYWHERE = "or point DOCKER_HOST at a running engine"


def source_checkout(package_dir: Path = PACKAGE_DIR) -> Path | None:
    """The root of dkenv's source tree around ``package_dir``, or None (installed from a wheel)."""
    makefile = package_dir.parent / "Makefile"
    try:
        text = makefile.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return package_dir.parent if "\ndocker-engine:" in f"\n{text}" else None


def start_hint(*, package_dir: Path = PACKAGE_DIR, platform: str | None = None) -> str:
    """How to get an engine running, for this installation and platform."""
    root = source_checkout(package_dir)
    if root is not None:
        return ("start an engine: `make docker-engine` in the dkenv checkout (installs and starts "
                f"dockerd on this machine), or `sudo systemctl start docker`; {_ANYWHERE}")
    platform = platform or sys.platform
    if platform == "darwin":
        return ("start Docker Desktop, or `colima start`, or `podman machine start` (then set "
                f"DOCKER_HOST to the socket `podman machine inspect` shows); {_ANYWHERE}")
    if platform.startswith(("win", "cygwin", "msys")):
        return ("start Docker Desktop, or `podman machine start` (then set DOCKER_HOST to the "
                f"pipe `podman machine inspect` shows); {_ANYWHERE}")
    return ("start the Docker engine (`sudo systemctl start docker`), or Podman's service "
            "(`systemctl --user start podman.socket`, then "
            "DOCKER_HOST=unix://$XDG_RUNTIME_DIR/podman/podman.sock); " + _ANYWHERE)


__all__ = ["source_checkout", "start_hint"]
