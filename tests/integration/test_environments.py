"""Layer 3 environments (``dkenv env up/ls/down``, ``dkenv.environment``) against real containers.

Every test runs in its own ``DKENV_SCOPE`` (its containers and SQLite state are its own);
a Docker test fails if anything it started is still there at the end.  "Nothing was started"
is checked with Docker's event log (a container created and removed again would not show in
``docker ps``).  Runs on dkenv's own images (built here if missing: no registry on CI).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

BRONZE = EXAMPLES / "bronze-pagila"
SILVER = EXAMPLES / "silver-pagila"


# ---------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def scope(monkeypatch):
    """A DKENV_SCOPE of this test's own (container names and SQLite state carry its hash)."""
    name = f"test-env-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("DKENV_SCOPE", name)
    yield name
    from dkenv.environments import state_dir

    for env in ("pagila", "lite", "x"):
        assert not state_dir(env).exists(), f"SQLite state left behind: {state_dir(env)}"


@pytest.fixture
def docker_scope(client, local_images, scope, request):
    """dkenv's images selected by DKENV_*_IMAGE; anything left in the scope fails the test."""
    yield scope
    leftovers = containers(client, scope)
    for row in leftovers:
        client.api.remove_container(row["Id"], force=True, v=True)
    if leftovers:
        pytest.fail(f"{request.node.name} left containers behind: "
                    f"{[r['Labels'].get('dkenv.name') for r in leftovers]}")


def containers(client, scope: str) -> list[dict]:
    return client.api.containers(all=True, filters={"label": [f"dkenv.scope={scope}"]})


def created_since(client, scope: str, since: float) -> list[str]:
    """Names of the containers of ``scope`` created since ``since`` (from Docker's event log)."""
    events = client.api.events(since=int(since) - 1, until=int(time.time()) + 1, decode=True,
                               filters={"type": "container", "event": "create",
                                        "label": [f"dkenv.scope={scope}"]})
    return [e["Actor"]["Attributes"].get("name", "") for e in events]


def write_config(folder: Path, text: str) -> Path:
    """``dkenv.toml`` in ``folder``; ``{bronze}``/``{silver}`` become paths relative to it."""
    rel = {k: os.path.relpath(p, folder) for k, p in (("bronze", BRONZE), ("silver", SILVER))}
    path = folder / "dkenv.toml"
    path.write_text(text.format(**rel), encoding="utf-8")
    return path


PAGILA = """
[environments.pagila]
description = "bronze then silver, on PostgreSQL and MariaDB"

[environments.pagila.databases.warehouse]
engine = "postgres"
datakits = ["{bronze}", "{silver}"]

[environments.pagila.databases.events]
engine = "mysql"
datakits = ["{bronze}"]
timeout = 90
"""


def tables(url: str, schema: str) -> set[str]:
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names(schema=schema))
    finally:
        engine.dispose()


def one_error(err: str) -> list[str]:
    """The error lines of stderr (progress lines start with 'dkenv: ' but not 'dkenv: error')."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines()
             if line.startswith(("dkenv: error", "  hint:"))]
    assert 1 <= len(lines) <= 2, err
    return lines


# ---------------------------------------------------------------------------
# The happy paths
# ---------------------------------------------------------------------------
@pytest.mark.docker
@pytest.mark.postgres
@pytest.mark.mysql
def test_env_up_ls_down_through_the_cli(dk, client, docker_scope, tmp_path, monkeypatch) -> None:
    config = write_config(tmp_path, PAGILA)
    monkeypatch.setenv("DKENV_CONFIG", str(config))  # cwd is elsewhere: paths are relative to the file

    r = dk("env", "up", "pagila", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert list(doc["databases"]) == ["warehouse", "events"]
    warehouse, events = doc["databases"]["warehouse"], doc["databases"]["events"]
    assert warehouse["engine"] == "postgres" and events["engine"] == "mysql"
    assert warehouse["datakits"] == ["bronze-pagila", "silver-pagila"]
    assert "sv__pagila.customer_profile" in warehouse["tables"]
    # Both are live, with bronze and silver (whose foreign keys point into bronze) deployed.
    assert {"customer_profile", "rental_fact"} <= tables(warehouse["url"], "sv__pagila")
    assert len(tables(warehouse["url"], "br__pagila__public")) == 13
    assert len(tables(events["url"], "br__pagila__public")) == 13
    assert len(containers(client, docker_scope)) == 2
    assert "pagila/warehouse: deployed silver-pagila" in r.err and "pagila/events: mysql ready" in r.err

    # Up twice: refused (exit 2) and the running environment is left alone.
    again = dk("env", "up", "pagila")
    assert again.code == 2 and "already up" in one_error(again.err)[0]
    assert len(containers(client, docker_scope)) == 2

    listing = dk("env", "ls", "--json")
    assert listing.code == 0, listing.err
    (pagila,) = json.loads(listing.out)
    assert pagila["name"] == "pagila" and pagila["status"] == "up" and pagila["declared"]
    assert [d["status"] for d in pagila["databases"]] == ["running", "running"]
    assert "***" in pagila["databases"][0]["url"]  # passwords hidden unless --show-secrets
    human = dk("env", "ls")
    assert "pagila" in human.out and "warehouse" in human.out and "events" in human.out

    gone = dk("env", "down", "pagila")
    assert gone.code == 0, gone.err
    assert len(gone.out.split()) == 2
    assert containers(client, docker_scope) == []
    assert json.loads(dk("env", "ls", "--json").out)[0]["status"] == "down"


@pytest.mark.docker
@pytest.mark.postgres
def test_python_environment_validates_the_pipeline_and_always_cleans_up(client, docker_scope,
                                                                        tmp_path) -> None:
    from dkenv.deploy.deployed import validate_pipeline_flow
    from dkenv.environments import environment

    config = write_config(tmp_path, """
[environments.pagila.databases.warehouse]
engine = "postgres"
datakits = ["{bronze}", "{silver}"]

[environments.pagila.databases.scratch]
engine = "sqlite"
datakits = ["{bronze}"]
""")
    with pytest.raises(RuntimeError, match="boom"):
        with environment("pagila", config=config) as env:
            warehouse = env.databases["warehouse"]
            assert warehouse.engine == "postgres" and warehouse.url.startswith("postgresql")
            assert warehouse.server is not None
            assert warehouse.server.name.startswith("env-pagila-warehouse.")
            flow = validate_pipeline_flow(warehouse.target)
            assert flow.success and len(flow.tables) == 15
            scratch = env["scratch"]
            assert scratch.path is not None and scratch.path.is_file()
            assert validate_pipeline_flow(scratch.target)["success"]
            assert len(containers(client, docker_scope)) == 1
            raise RuntimeError("boom")
    assert containers(client, docker_scope) == []
    assert not scratch.path.exists() and not scratch.path.parent.exists()


@pytest.mark.docker
@pytest.mark.postgres
def test_framework_layer3_example_deploys_into_one_container(client, docker_scope) -> None:
    from dkenv import (
        cleanup_test_target,
        deploy_data_objects,
        discover_datakit_modules,
        discover_sqlmodel_classes,
        get_target_config,
        validate_pipeline_flow,
    )

    bronze_modules = discover_datakit_modules(BRONZE)
    silver_modules = discover_datakit_modules(SILVER)

    target = get_target_config("postgres_container")
    bronze_tables = discover_sqlmodel_classes(bronze_modules)
    assert deploy_data_objects(bronze_tables, target)["success"]
    silver_tables = discover_sqlmodel_classes(silver_modules)
    assert deploy_data_objects(silver_tables, target)["success"]
    assert len(containers(client, docker_scope)) == 1  # both deploys landed in the same container
    result = validate_pipeline_flow(target)
    assert result["success"], result.problems
    assert len(result.tables) == 15

    cleanup_test_target(target)
    assert containers(client, docker_scope) == []


# ---------------------------------------------------------------------------
# Bad input: clear error, exit code, nothing left running
# ---------------------------------------------------------------------------
@pytest.mark.docker
@pytest.mark.postgres
@pytest.mark.mysql
def test_wrong_datakit_path_fails_before_any_container_starts(dk, client, docker_scope, tmp_path,
                                                              monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    events_kits = 'datakits = ["{bronze}"]\n'
    write_config(tmp_path, PAGILA.replace(events_kits, 'datakits = ["{bronze}", "kits/nope"]\n'))
    since = time.time()
    r = dk("env", "up", "pagila")
    assert r.code == 2
    message = one_error(r.err)[0]
    assert "dkenv.toml:11" in message  # the events database's datakits line
    assert "'kits/nope'" in message and "does not exist" in message
    assert created_since(client, docker_scope, since) == []


@pytest.mark.docker
@pytest.mark.postgres
def test_silver_before_bronze_names_the_table_and_the_order(dk, client, docker_scope, tmp_path,
                                                            monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, PAGILA.replace('["{bronze}", "{silver}"]', '["{silver}", "{bronze}"]'))
    since = time.time()
    r = dk("env", "up", "pagila")
    assert r.code == 2
    message, hint = one_error(r.err)
    assert "dkenv.toml:7" in message and "database warehouse" in message
    assert "silver-pagila is listed before bronze-pagila" in message
    assert "into br__pagila__public." in message  # the table silver needs
    assert hint.index("bronze-pagila") < hint.index("silver-pagila") and "datakits = [" in hint
    assert created_since(client, docker_scope, since) == []


@pytest.mark.docker
@pytest.mark.postgres
@pytest.mark.mysql
def test_failure_part_way_removes_everything_the_command_started(dk, client, docker_scope, tmp_path,
                                                                 monkeypatch) -> None:
    """Silver without bronze: the deploy fails in a started container; both databases go."""
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, PAGILA.replace('["{bronze}", "{silver}"]', '["{silver}"]'))
    since = time.time()
    r = dk("env", "up", "pagila")
    assert r.code == 1  # the datakit failed to deploy
    message, hint = one_error(r.err)
    assert "database warehouse (postgres), datakit silver-pagila" in message
    assert "foreign key" in message and "into br__pagila__public." in message
    assert "before silver-pagila" in hint and "dkenv.toml:7" in hint
    assert len(created_since(client, docker_scope, since)) == 2  # both were started ...
    assert containers(client, docker_scope) == []  # ... and both removed
    assert "not brought up; removed env-pagila-" in r.err


def test_unknown_environment_lists_the_known_ones(dk, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_config(tmp_path, PAGILA + '\n[environments.lite.databases.db]\nengine = "sqlite"\n')
    for command in ("up", "down"):
        r = dk("env", command, "pagilla")
        assert r.code == 2
        message, hint = one_error(r.err)
        assert "unknown environment 'pagilla'" in message and "dkenv.toml" in message
        assert "known environments: lite, pagila" in hint


def test_unknown_environment_without_config_file(dk) -> None:
    r = dk("env", "up", "pagila")
    assert r.code == 2
    assert "no config file" in one_error(r.err)[0]


@pytest.mark.parametrize(("text", "line", "needle"), [
    ('[environments.pagila.databases.warehouse\nengine = "postgres"\n', 1, "malformed config file"),
    ('[environments.pagila]\n\n[environments.pagila.databases.w]\nengine = "postgres"\ndatakit = []\n',
     5, "unknown key(s) datakit"),
    ('[environments.pagila.databases.w]\nengine = "oracle"\n', 2, "unknown engine 'oracle'"),
    ('[environments.pagila.databases.w]\nengine = "sqlite"\nimage = "x"\n', 3,
     "only apply to container databases"),
    ('[environments.pagila.databases.w]\nengine = "postgres"\nttl = "soon"\n', 3, "not a duration"),
    ('[environments.pagila.databases.w]\nengine = "postgres"\ndatakits = "a"\n', 3, "must be a list"),
    ('[environments.pagila.databases.w-x]\nengine = "postgres"\n', 1, "database name 'w-x'"),
    ('[environments.pagila]\ndescription = "no databases"\n', 1, "declares no databases"),
])
def test_malformed_config_names_file_and_line(dk, tmp_path, monkeypatch, text, line, needle) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dkenv.toml").write_text(text, encoding="utf-8")
    for args in (("env", "up", "pagila"), ("env", "ls")):
        r = dk(*args)
        assert r.code == 2, r.err
        message = one_error(r.err)[0]
        assert f"dkenv.toml:{line}:" in message and needle in message, message


def test_pyproject_tool_dkenv_and_sqlite_env_up_outputs(dk, tmp_path, monkeypatch) -> None:
    """SQLite-only: no Docker needed; the files stay until `env down`."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "p"\n\n[tool.dkenv.environments.lite.databases.main]\nengine = "sqlite"\n'
        f'datakits = ["{os.path.relpath(BRONZE, tmp_path)}", "{os.path.relpath(SILVER, tmp_path)}"]\n'
        '\n[tool.dkenv.environments.lite.databases.other]\nengine = "sqlite"\n', encoding="utf-8")
    r = dk("env", "up", "lite", "--env")
    assert r.code == 0, r.err
    exports = dict(line.removeprefix("export ").split("=", 1) for line in r.out.splitlines())
    assert set(exports) == {"DKENV_MAIN_URL", "DKENV_OTHER_URL"}
    main_file = Path(exports["DKENV_MAIN_URL"].strip("'").removeprefix("sqlite:///"))
    assert main_file.is_file() and main_file.with_name("main.sv__pagila.db").is_file()

    listing = json.loads(dk("env", "ls", "--json").out)
    assert listing[0]["status"] == "up" and listing[0]["databases"][0]["path"] == str(main_file)
    assert dk("env", "up", "lite", "--json", "--env").code == 2
    gone = dk("env", "down", "lite")
    assert gone.code == 0 and gone.out.split() == sorted(
        [str(main_file), str(main_file.with_name("other.db"))])
    assert not main_file.exists()
    again = dk("env", "down", "lite")
    assert again.code == 0 and "not up" in again.err


def test_help_has_examples(dk) -> None:
    for args in (("env",), ("env", "up"), ("env", "ls"), ("env", "down")):
        r = dk(*args, "--help")
        assert r.code == 0 and "Example" in r.out, args


def test_container_names_round_trip(monkeypatch) -> None:
    from dkenv.environments import container_name, parse_container_name

    monkeypatch.delenv("DKENV_SCOPE")
    assert container_name("pagila-dev", "warehouse", persistent=True) == "env-pagila-dev-warehouse"
    for persistent in (True, False):
        name = container_name("pagila-dev", "wh_2", persistent=persistent)
        assert parse_container_name(name) == ("pagila-dev", "wh_2")
    assert parse_container_name("dkenv-postgres-abc123") is None
    assert parse_container_name("env-nodb") is None
