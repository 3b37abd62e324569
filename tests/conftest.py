"""Shared test helpers: fixture paths, an in-process CLI runner, native servers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest_plugins = ["tests.native_servers"]

# No registry is reachable on the machines this suite runs on: containers use dkenv's own
# images (built by `make images`) unless the caller chose others.
os.environ.setdefault("DKENV_POSTGRES_IMAGE", "dkenv/postgres:15")
os.environ.setdefault("DKENV_MYSQL_IMAGE", "dkenv/mysql:mariadb-10.11")

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "datakits"
EXAMPLES = ROOT / "examples"


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def dk(capsys, monkeypatch):
    """Run ``dkenv ARGS`` in-process; returns exit code, stdout and stderr."""
    from dkenv.cli import _common, cli

    def run(*args: str) -> CliResult:
        capsys.readouterr()
        monkeypatch.setattr(_common, "DEBUG", "--debug" in args)
        code = _common.run(cli, [str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def examples() -> Path:
    return EXAMPLES


@pytest.fixture(autouse=True)
def _no_user_config(monkeypatch, tmp_path_factory):
    """Tests never read the developer's own dkenv.toml or DKENV_* settings."""
    import os

    for key in list(os.environ):
        if key.startswith("DKENV_") and key not in ("DKENV_POSTGRES_IMAGE", "DKENV_MYSQL_IMAGE"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    # dkenv's state (env up's SQLite files) goes to this test's own folder, not ~/.local/state
    monkeypatch.setenv("DKENV_STATE_DIR", str(tmp_path_factory.mktemp("state") / "dkenv"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Under `make test` (DKENV_REQUIRE_DOCKER=1) a server test may not skip: a green run
    must never hide a missing Docker engine, image or database server."""
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and os.environ.get("DKENV_REQUIRE_DOCKER") == "1"):
        return
    if any(item.get_closest_marker(m) for m in ("docker", "postgres", "mysql")):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped, but DKENV_REQUIRE_DOCKER=1 requires it to run: {reason}"
