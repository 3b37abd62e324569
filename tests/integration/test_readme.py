"""The README's examples work as written (run from the repository root, as a user would)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
PYTHON_BLOCKS = re.findall(r"```python\n(.*?)```", README, re.DOTALL)


def _run(args: list[str], cwd=ROOT, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "DKENV_SCOPE": "readme-tests"}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kw)


def _block(needle: str) -> str:
    found = [b for b in PYTHON_BLOCKS if needle in b]
    assert found, f"no python block in the README contains {needle!r}"
    return found[0]


@pytest.mark.parametrize(
    "command",
    [
        "dkenv deploy examples/bronze-pagila --validate",
        "dkenv deploy examples/bronze-pagila examples/silver-pagila --target sqlite_file --validate --json",
        "dkenv targets",
        "dkenv check examples/bronze-pagila examples/silver-pagila --static",
        "dkenv deploy examples/retail-warehouse --validate --verbose",
        "dkenv deploy examples/bronze-pagila examples/silver-pagila --data examples/bronze-pagila/data/sample --validate",
    ],
)
def test_sqlite_commands(command):
    assert command in README
    out = _run([sys.executable, "-m", "dkenv", *command.split()[1:]])
    assert out.returncode == 0, out.stderr


def test_layer3_transform_example():
    assert "python examples/layer3_transform.py" in README
    out = _run([sys.executable, "examples/layer3_transform.py"])
    assert out.returncode == 0, out.stderr
    assert "sv__pagila.rental_fact                200 rows" in out.stdout


def test_framework_example():
    out = _run([sys.executable, "-c", _block("validate_deployment(table_classes, target_config)")])
    assert out.returncode == 0, out.stderr


@pytest.mark.docker
@pytest.mark.postgres
def test_ephemeral_example():
    out = _run([sys.executable, "-c", _block("dkenv.ephemeral(\"postgres\")")])
    assert out.returncode == 0, out.stderr
    assert "postgresql+psycopg2://" in out.stdout


@pytest.mark.docker
@pytest.mark.postgres
def test_layer2_pipeline_example():
    out = _run([sys.executable, "-c", _block('get_target_config("postgres_container")')])
    assert out.returncode == 0, out.stderr


@pytest.mark.docker
@pytest.mark.postgres
@pytest.mark.mysql
def test_environment_example(tmp_path):
    toml = re.search(r"```toml\n(\[environments\.pagila.*?)```", README, re.DOTALL).group(1)
    (tmp_path / "dkenv.toml").write_text(toml)
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    out = _run([sys.executable, "-c", _block('dkenv.environment("pagila")')], cwd=tmp_path)
    assert out.returncode == 0, out.stderr


@pytest.mark.docker
@pytest.mark.postgres
def test_isolated_database_example():
    out = _run([sys.executable, "-c", _block("server.database(datakits=")])
    assert out.returncode == 0, out.stderr


@pytest.mark.docker
@pytest.mark.postgres
@pytest.mark.mysql
def test_pytest_plugin_example_on_every_engine(tmp_path):
    (tmp_path / "test_readme_plugin.py").write_text(_block("def test_countries_load(dkenv_engine)"))
    command = "pytest --dkenv-engines=sqlite,postgres,mysql"
    assert command in README
    out = _run([sys.executable, "-m", "pytest", str(tmp_path / "test_readme_plugin.py"), "-p", "no:cacheprovider",
                "--dkenv-engines=sqlite,postgres,mysql", "-v"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count("PASSED") == 3
