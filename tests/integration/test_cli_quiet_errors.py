"""Every error path a user can reach from the CLI, as a real ``dkenv`` process prints it.

Each bad input below is tested for its *message* elsewhere; here every one of them is held to
the same bar as a user meets it with the libraries installed today: the right exit code, at
most a few lines on stderr (the message and its hint, after any progress lines), no Python
traceback, no "Exception during reset" from SQLAlchemy's pool, no raw ``SAWarning`` or
``DeprecationWarning`` line, and with ``--json`` exactly one JSON document on stdout.  And
``--debug`` still shows the traceback.

Real processes (not the in-process runner): warnings filters and logging handlers are the
ones a user's interpreter has, not pytest's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, FIXTURES

CHECK_KITS = FIXTURES.parent / "check_datakits"
DEAD_ENGINE = "unix:///nonexistent/dkenv-test/docker.sock"
#: Lines of stderr a failure may take in all: progress lines plus the message and its hint.
MAX_STDERR_LINES = 6
RAW_WARNING = re.compile(r"\b(SAWarning|DeprecationWarning|PendingDeprecationWarning|UserWarning)\b")


@dataclass
class Case:
    """One command line; ``{fixtures}``, ``{examples}``, ``{checks}``, ``{tmp}`` are filled in."""

    args: tuple[str, ...]
    code: int
    json: bool = False  # the command has --json: it is run a second time with it
    env: dict[str, str] = field(default_factory=dict)
    setup: Callable[[Path], None] | None = None  # writes files into the (temporary) cwd
    marks: tuple = ()


def _config(text: str) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        (folder / "dkenv.toml").write_text(text, encoding="utf-8")
    return write


def _empty_kit(folder: Path) -> None:
    (folder / "kit").mkdir()


SQLITE_ENV_SILVER_ONLY = _config(
    f'[environments.lite.databases.main]\nengine = "sqlite"\ndatakits = ["{EXAMPLES}/silver-pagila"]\n')

CASES: dict[str, Case] = {
    # -- bad paths and broken datakits (exit 2) ------------------------------------------------
    "path-missing": Case(("deploy", "/nonexistent/kit"), 2, json=True),
    "path-is-a-file": Case(("deploy", "{fixtures}/flat/people.py"), 2, json=True),
    "empty-folder": Case(("deploy", "kit"), 2, json=True, setup=_empty_kit),
    "syntax-error": Case(("deploy", "{fixtures}/syntax_error"), 2, json=True),
    "missing-dependency": Case(("deploy", "{fixtures}/missing_dep"), 2, json=True),
    "no-tables": Case(("deploy", "{fixtures}/no_tables"), 2, json=True),
    "duplicate-tables": Case(("deploy", "{fixtures}/duplicate_table"), 2, json=True),
    # -- bad targets and flags (exit 2) --------------------------------------------------------
    "unknown-target": Case(("deploy", "{fixtures}/flat", "--target", "nope"), 2, json=True),
    "port-out-of-range": Case(("deploy", "{fixtures}/flat", "--target-type", "postgres",
                               "--port", "70000"), 2, json=True),
    "malformed-url": Case(("deploy", "{fixtures}/flat", "--url", "::nonsense::"), 2, json=True),
    "unknown-flag": Case(("deploy", "{fixtures}/flat", "--bogus"), 2, json=True),
    "unknown-command": Case(("deplyo", "{fixtures}/flat"), 2),
    "malformed-config": Case(("deploy", "{fixtures}/flat"), 2, json=True, setup=_config("[targets\n")),
    "validate-empty-container": Case(("validate", "{fixtures}/flat", "--target",
                                      "postgres_container"), 2, json=True),
    # -- failed deploys and validations (exit 1) -----------------------------------------------
    "deploy-memory-pg-only-default": Case(("deploy", "{fixtures}/pg_only_default"), 1, json=True),
    "deploy-memory-fk-outside": Case(("deploy", "{fixtures}/foreign_schema_fk"), 1, json=True),
    "deploy-memory-insert-default": Case(("deploy", "{fixtures}/insert_time_default"), 1, json=True),
    "deploy-memory-silver-only": Case(("deploy", "{examples}/silver-pagila", "--validate"), 1,
                                      json=True),
    "deploy-file-fk-outside": Case(("deploy", "{fixtures}/foreign_schema_fk", "--target",
                                    "sqlite_file"), 1, json=True),
    "deploy-file-silver-only": Case(("deploy", "{examples}/silver-pagila", "--target",
                                     "sqlite_file"), 1, json=True),
    "deploy-url-sqlite": Case(("deploy", "{examples}/silver-pagila", "--url",
                               "sqlite:///{tmp}/wh.db"), 1, json=True),
    "validate-problems": Case(("validate", "{fixtures}/flat", "--url", "sqlite:///{tmp}/empty.db"),
                              1, json=True),
    "check-static-traps": Case(("check", "{checks}/traps", "--static"), 1, json=True),
    "check-sqlite-traps": Case(("check", "{checks}/traps", "--engines", "sqlite"), 1, json=True),
    "check-unknown-engine": Case(("check", "{checks}/portable", "--engines", "oracle"), 2, json=True),
    "check-bad-path": Case(("check", "/nonexistent/kit", "--engines", "sqlite"), 2, json=True),
    # -- environments --------------------------------------------------------------------------
    "env-up-no-config": Case(("env", "up", "pagila"), 2, json=True),
    "env-up-unknown": Case(("env", "up", "nope"), 2, json=True,
                           setup=_config('[environments.lite.databases.main]\nengine = "sqlite"\n')),
    "env-up-bad-config": Case(("env", "up", "lite"), 2, json=True,
                              setup=_config('[environments.lite.databases.main]\nengine = "oracle"\n')),
    "env-up-deploy-fails": Case(("env", "up", "lite"), 1, json=True, setup=SQLITE_ENV_SILVER_ONLY),
    "env-down-unknown": Case(("env", "down", "nope"), 2,
                             setup=_config('[environments.lite.databases.main]\nengine = "sqlite"\n')),
    # -- no engine (exit 3) --------------------------------------------------------------------
    "unreachable-server": Case(("deploy", "{fixtures}/flat", "--target-type", "postgres", "--host",
                                "127.0.0.1", "--port", "1", "--password", "pw"), 3, json=True),
    "no-engine-up": Case(("up", "postgres"), 3, json=True, env={"DOCKER_HOST": DEAD_ENGINE}),
    "no-engine-ls": Case(("ls",), 3, json=True, env={"DOCKER_HOST": DEAD_ENGINE}),
    "no-engine-down": Case(("down", "--all"), 3, env={"DOCKER_HOST": DEAD_ENGINE}),
    "no-engine-deploy": Case(("deploy", "{fixtures}/flat", "--target", "postgres_container"), 3,
                             json=True, env={"DOCKER_HOST": DEAD_ENGINE}),
    "no-engine-prune": Case(("prune",), 3, env={"DOCKER_HOST": DEAD_ENGINE}),
    "no-engine-image-ls": Case(("image", "ls"), 3, json=True, env={"DOCKER_HOST": DEAD_ENGINE}),
    "no-engine-image-build": Case(("image", "build", "postgres"), 3,
                                  env={"DOCKER_HOST": DEAD_ENGINE}),
    "image-build-unknown-engine": Case(("image", "build", "oracle"), 2,
                                       env={"DOCKER_HOST": DEAD_ENGINE}),
    "targets-bad-flag": Case(("targets", "--bogus"), 2),
    "no-engine-check": Case(("check", "{checks}/portable", "--engines", "sqlite,postgres"), 3,
                            json=True, env={"DOCKER_HOST": DEAD_ENGINE}),
    "no-engine-env-up": Case(("env", "up", "pg"), 3, json=True, env={"DOCKER_HOST": DEAD_ENGINE},
                             setup=_config('[environments.pg.databases.main]\nengine = "postgres"\n')),
    # -- up / down / url / logs: bad input is refused before Docker is asked ------------------
    "up-json-and-env": Case(("up", "postgres", "--json", "--env"), 2, env={"DOCKER_HOST": DEAD_ENGINE}),
    "up-bad-ttl": Case(("up", "postgres", "--ttl", "soon"), 2, json=True, env={"DOCKER_HOST": DEAD_ENGINE}),
    "up-unknown-engine": Case(("up", "oracle"), 2, json=True, env={"DOCKER_HOST": DEAD_ENGINE}),
    "up-unknown-image": Case(("up", "postgres", "--image", "dkenv-test/no-such-image:1"), 3,
                             json=True, marks=(pytest.mark.docker, pytest.mark.postgres)),
    "up-not-ready": Case(("up", "postgres", "--timeout", "0.01"), 3, json=True,
                         marks=(pytest.mark.docker, pytest.mark.postgres)),
    "down-unknown": Case(("down", "no-such-server"), 2, marks=(pytest.mark.docker,)),
    "url-unknown": Case(("url", "no-such-server"), 2, marks=(pytest.mark.docker,)),
    "logs-unknown": Case(("logs", "no-such-server"), 2, marks=(pytest.mark.docker,)),
    # -- failed deploys into containers (exit 1) -----------------------------------------------
    "deploy-container-silver-only": Case(("deploy", "{examples}/silver-pagila", "--target",
                                          "postgres_container"), 1, json=True,
                                         marks=(pytest.mark.docker, pytest.mark.postgres)),
    "deploy-container-mysql-breaker": Case(("deploy", "{fixtures}/mysql_breaker", "--target",
                                            "mysql_container"), 1, json=True,
                                           marks=(pytest.mark.docker, pytest.mark.mysql)),
}


def run_dkenv(args: tuple[str, ...], cwd: Path, env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k not in ("DKENV_DEBUG", "PYTHONWARNINGS")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "dkenv", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd, env=full_env)


def assert_quiet(result: subprocess.CompletedProcess[str], code: int, as_json: bool) -> None:
    """The bar every failure meets (see the module docstring)."""
    err = result.stderr
    shown = f"exit {result.returncode}\n--- stderr\n{err}--- stdout\n{result.stdout}"
    assert result.returncode == code, shown
    assert "Traceback" not in err and "Exception during reset" not in err, shown
    raw = [line for line in err.splitlines() if RAW_WARNING.search(line)
           and not line.startswith("dkenv: warning: ")]
    assert raw == [], shown
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) <= MAX_STDERR_LINES, shown
    assert lines or code == 1, shown  # a usage/environment error says what went wrong
    if as_json:
        document = json.loads(result.stdout)  # exactly one document, nothing else on stdout
        assert document["success"] is False or document.get("validation", {}).get("success") is False
        if "error" in document:
            assert document["error"]["exit_code"] == code, shown
    elif code != 1:  # a usage or environment error prints nothing on stdout
        assert result.stdout == "", shown


def _params() -> list:
    out = []
    for name, case in CASES.items():
        out.append(pytest.param(name, False, id=name, marks=case.marks))
        if case.json:
            out.append(pytest.param(name, True, id=f"{name}--json", marks=case.marks))
    return out


@pytest.fixture
def docker_ready(request):
    """Container cases get the engine, dkenv's images and a scope of their own."""
    if request.node.get_closest_marker("docker"):
        request.getfixturevalue("local_images")
        return request.getfixturevalue("scope")
    return None


@pytest.mark.parametrize(("name", "as_json"), _params())
def test_every_cli_error_is_short_and_quiet(name: str, as_json: bool, tmp_path: Path,
                                           docker_ready) -> None:
    case = CASES[name]
    if case.setup:
        case.setup(tmp_path)
    fill = {"fixtures": FIXTURES, "examples": EXAMPLES, "checks": CHECK_KITS, "tmp": tmp_path}
    args = tuple(a.format(**fill) for a in case.args) + (("--json",) if as_json else ())
    result = run_dkenv(args, tmp_path, case.env)
    assert_quiet(result, case.code, "--json" in args)


@pytest.mark.docker
@pytest.mark.postgres
@pytest.mark.usefixtures("local_images", "scope")
def test_a_failed_deploy_to_a_url_of_a_container_is_quiet(tmp_path: Path) -> None:
    started = run_dkenv(("up", "postgres", "--json"), tmp_path)
    assert started.returncode == 0, started.stderr
    server = json.loads(started.stdout)
    try:
        for extra in ((), ("--json",)):
            result = run_dkenv(("deploy", str(EXAMPLES / "silver-pagila"), "--url", server["url"],
                                *extra), tmp_path)
            assert_quiet(result, 1, bool(extra))
            assert "foreign key" in result.stderr or "foreign key" in result.stdout
    finally:
        assert run_dkenv(("down", server["name"]), tmp_path).returncode == 0


def test_debug_still_shows_the_traceback(tmp_path: Path) -> None:
    result = run_dkenv(("--debug", "deploy", str(FIXTURES / "foreign_schema_fk")), tmp_path)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "DeployError" in result.stderr


def test_a_datakit_with_a_foreign_key_cycle_deploys_without_raw_warnings(tmp_path: Path) -> None:
    result = run_dkenv(("deploy", str(FIXTURES / "fk_cycle"), "--validate"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if RAW_WARNING.search(line)
            and not line.startswith("dkenv: warning: ")] == []
    assert len(result.stderr.splitlines()) <= 3


NOISY_COMMAND = """
import logging, sys, warnings
from sqlalchemy.exc import SAWarning
import dkenv.cli.deploy as deploy_cli
from dkenv.cli import main
from dkenv.cli._stdout import out  # a command's results go through out(): plain print() is noise

def noisy(as_json):
    for _ in range(3):  # shown once
        warnings.warn("Cannot correctly sort tables; there are cycles\\nsecond line", SAWarning)
    warnings.warn("old API", DeprecationWarning)
    try:
        raise RuntimeError("Cannot operate on a closed database.")
    except RuntimeError:
        logging.getLogger("sqlalchemy.pool.impl.StaticPool").error(
            "Exception during reset or similar", exc_info=True)
    out("listed")

deploy_cli._list_targets = noisy
main(sys.argv[1:])
"""


def test_library_warnings_and_logs_become_one_dkenv_line_and_debug_shows_them(tmp_path) -> None:
    """The net under the fixes, through the real entry point: what a library warns or logs
    (an SAWarning, a pool error with its traceback) is one ``dkenv: warning:`` line each,
    deprecations are dropped, and ``--debug`` shows them all as the libraries print them."""
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
        return subprocess.run([sys.executable, "-c", NOISY_COMMAND, *args], capture_output=True,
                              text=True, cwd=tmp_path, env=env, timeout=60)

    quiet = run("targets")
    assert quiet.returncode == 0 and quiet.stdout == "listed\n", quiet.stderr
    assert quiet.stderr.splitlines() == [
        "dkenv: warning: SAWarning: Cannot correctly sort tables; there are cycles (--debug shows where)",
        "dkenv: warning: sqlalchemy.pool.impl.StaticPool: Exception during reset or similar "
        "(--debug shows details)",
    ]
    loud = run("--debug", "targets")
    assert loud.returncode == 0, loud.stderr
    assert "SAWarning: Cannot correctly sort tables" in loud.stderr
    assert "DeprecationWarning: old API" in loud.stderr
    assert "Exception during reset or similar" in loud.stderr and "Traceback" in loud.stderr
