"""The no-engine hint fits where dkenv is installed and the platform (issue 18, item 7)."""

from __future__ import annotations

from pathlib import Path

from dkenv.docker.hints import PACKAGE_DIR, source_checkout, start_hint


def _installed(tmp_path: Path) -> Path:
    package = tmp_path / "site-packages" / "dkenv"
    package.mkdir(parents=True)
    return package


def test_checkout_gets_the_make_target() -> None:
    assert source_checkout() == PACKAGE_DIR.parent  # the suite runs from dkenv's checkout
    assert "`make docker-engine`" in start_hint()


def test_a_makefile_without_the_target_is_not_a_checkout(tmp_path: Path) -> None:
    package = _installed(tmp_path)
    (package.parent / "Makefile").write_text("all:\n\techo someone else's project\n")
    assert source_checkout(package) is None
    assert "make" not in start_hint(package_dir=package, platform="linux")


def test_pip_install_on_linux_names_dockerd_and_podman(tmp_path: Path) -> None:
    hint = start_hint(package_dir=_installed(tmp_path), platform="linux")
    assert "systemctl start docker" in hint and "podman.socket" in hint and "DOCKER_HOST" in hint
    assert "make" not in hint and "Docker Desktop" not in hint


def test_pip_install_on_macos_names_desktop_colima_and_podman_machine(tmp_path: Path) -> None:
    hint = start_hint(package_dir=_installed(tmp_path), platform="darwin")
    for word in ("Docker Desktop", "colima start", "podman machine start", "DOCKER_HOST"):
        assert word in hint
    assert "systemctl" not in hint and "make" not in hint


def test_pip_install_on_windows_names_desktop_and_podman_machine(tmp_path: Path) -> None:
    hint = start_hint(package_dir=_installed(tmp_path), platform="win32")
    for word in ("Docker Desktop", "podman machine start", "DOCKER_HOST"):
        assert word in hint
    assert "colima" not in hint and "systemctl" not in hint
