"""Deploy on real SQLite, PostgreSQL and MariaDB: undo, cycles, sequences, extensions, bad input.

Each test gets a fresh database on the module's server (see ``parity_support``) and leaves
nothing behind: ``cleanup_test_target`` must drop all that a deploy created.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

import dkenv
from dkenv.config import Target
from dkenv.datakit import load_datakit
from dkenv.errors import DeployError
from dkenv.schema import snapshot
from dkenv.servers.runtime import release
from tests.integration.parity_support import Server, server_fixture  # noqa: F401 - the fixture

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DEPLOY = FIXTURES / "deploy"
PARITY = FIXTURES / "parity"


def fresh_target(server: Server) -> Target:
    url = server.fresh(f"dk_{uuid.uuid4().hex[:10]}", [])
    return Target(name="t", db_type=server.engine, kind="url", url=url)


def query(target: Target, sql: str) -> list[tuple]:
    engine = sa.create_engine(target.url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]
    finally:
        engine.dispose()


def objects(target: Target, schemas: list[str]) -> set:
    engine = sa.create_engine(target.url)
    try:
        with engine.connect() as conn:
            return snapshot(conn, schemas)
    finally:
        engine.dispose()


# SQLite's cases run in tests/unit/test_deploy_metadata.py: here only the server engines, and
# engine-specific cases only where the engine has the feature (no test that always skips).
_PG = pytest.param("postgres", marks=[pytest.mark.docker, pytest.mark.postgres])
_MY = pytest.param("mysql", marks=[pytest.mark.docker, pytest.mark.mysql])
on_servers = pytest.mark.parametrize("server", [_PG, _MY], indirect=True)
on_postgres = pytest.mark.parametrize("server", [_PG], indirect=True)
on_mysql = pytest.mark.parametrize("server", [_MY], indirect=True)


@pytest.fixture
def target(server: Server):
    t = fresh_target(server)
    yield t
    dkenv.cleanup_test_target(t)


@on_servers
def test_a_failed_deploy_undoes_only_itself(target: Target) -> None:
    before = objects(target, ["alpha", "gamma"])
    dkenv.deploy_data_objects(load_datakit(DEPLOY / "good_schema"), target)
    with pytest.raises(DeployError) as info:
        dkenv.deploy_data_objects(load_datakit(DEPLOY / "bad_event"), target)
    assert "gamma.gadget" in info.value.message and "execute_if" in (info.value.hint or "")
    # The earlier datakit is still deployed and usable; the failed one left nothing (not even its schema).
    engine = sa.create_engine(target.url)
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO alpha.thing (id, name) VALUES (1, 'x')")
    engine.dispose()
    assert query(target, "SELECT name FROM alpha.thing") == [("x",)]
    after = objects(target, ["alpha", "gamma"])
    assert {o for o in after - before if "gamma" in o[1]} == set()
    assert ("table", "alpha", "thing") in after
    where = "pg_namespace WHERE nspname" if target.db_type == "postgres" else "information_schema.SCHEMATA WHERE SCHEMA_NAME"
    assert query(target, f"SELECT 1 FROM {where} = 'gamma'") == []
    dkenv.cleanup_test_target(target)
    assert objects(target, ["alpha", "gamma"]) == before


@on_servers
def test_fk_cycle_deploys_validates_and_cleans_up(target: Target) -> None:
    before = objects(target, [])
    kit = load_datakit(PARITY / "fk_cycle")
    result = dkenv.deploy_data_objects(kit, target)
    assert sorted(result.created) == ["staff", "store"]
    assert dkenv.validate_deployment(kit, target).success
    if target.db_type == "postgres":
        fks = query(target, "SELECT conrelid::regclass::text, contype FROM pg_constraint WHERE contype = 'f' "
                            "ORDER BY 1")
    else:
        fks = query(target, "SELECT TABLE_NAME, CONSTRAINT_TYPE FROM information_schema.TABLE_CONSTRAINTS "
                            "WHERE CONSTRAINT_TYPE = 'FOREIGN KEY' AND TABLE_SCHEMA = DATABASE() ORDER BY 1")
    assert [r[0] for r in fks] == ["staff", "store"]
    dkenv.cleanup_test_target(target)
    assert objects(target, []) == before


@on_servers
def test_cycle_with_not_null_keys_on_both_sides_deploys(target: Target) -> None:
    kit = load_datakit(DEPLOY / "cycle_not_null")
    assert sorted(dkenv.deploy_data_objects(kit, target).created) == ["clerk", "shop"]
    assert dkenv.validate_deployment(kit, target).success


@on_servers
def test_the_default_probe_never_draws_from_a_sequence(target: Target) -> None:
    dkenv.deploy_data_objects(load_datakit(PARITY / "sequence"), target)
    draw = "SELECT nextval('order_no_seq')" if target.db_type == "postgres" else "SELECT nextval(order_no_seq)"
    assert query(target, draw) == [(500,)]


@on_mysql
def test_mariadb_on_update_current_timestamp_deploys(target: Target) -> None:
    result = dkenv.deploy_data_objects(load_datakit(DEPLOY / "on_update"), target)
    assert result.created == ["event"]


@on_servers
def test_foreign_key_to_a_column_that_is_not_unique(target: Target) -> None:
    before = objects(target, [])
    with pytest.raises(DeployError) as info:
        dkenv.deploy_data_objects(load_datakit(DEPLOY / "fk_not_unique"), target)
    assert "street" in info.value.message and "\n" not in info.value.message
    assert "unique" in info.value.hint
    assert "(1005," not in info.value.message  # MySQL errors as a sentence, not a tuple
    release(target)
    assert objects(target, []) == before


@on_servers
def test_view_over_a_table_not_deployed_yet_says_layer_3_order(target: Target) -> None:
    with pytest.raises(DeployError) as info:
        dkenv.deploy_data_objects(load_datakit(DEPLOY / "view_needs_bronze"), target)
    assert "bronze_customer" in info.value.message and "bronze before silver" in info.value.hint


@on_postgres
def test_enum_colliding_with_an_existing_type_of_other_labels(target: Target) -> None:
    engine = sa.create_engine(target.url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TYPE mood AS ENUM ('calm', 'angry')")
    engine.dispose()
    with pytest.raises(DeployError) as info:
        dkenv.deploy_data_objects(load_datakit(DEPLOY / "enum_mood"), target)
    assert "public.mood" in info.value.message and "calm, angry" in info.value.message
    release(target)
    assert query(target, "SELECT count(*) FROM pg_class WHERE relname = 'diary'") == [(0,)]


@on_postgres
def test_a_column_needing_an_extension_creates_it_and_undo_drops_it(target: Target) -> None:
    kit = load_datakit(PARITY / "citext_extension")
    dkenv.deploy_data_objects(kit, target)
    assert query(target, "SELECT extname FROM pg_extension WHERE extname = 'citext'") == [("citext",)]
    assert dkenv.validate_deployment(kit, target).success
    dkenv.cleanup_test_target(target)
    assert query(target, "SELECT extname FROM pg_extension WHERE extname = 'citext'") == []


@on_postgres
def test_an_extension_the_server_does_not_have(target: Target, tmp_path) -> None:
    shutil.copytree(DEPLOY / "enum_mood", tmp_path / "enum_mood")
    (tmp_path / "enum_mood" / "dkenv.toml").write_text('extensions = ["postgis"]\n', encoding="utf-8")
    kit = load_datakit(tmp_path / "enum_mood")
    assert kit.extensions == ["postgis"]
    with pytest.raises(DeployError) as info:
        dkenv.deploy_data_objects(kit, target)
    assert "postgis" in info.value.message and "postgresql-15-postgis-3" in info.value.hint
    release(target)
    assert query(target, "SELECT count(*) FROM pg_class WHERE relname = 'diary'") == [(0,)]


@on_servers
def test_a_naming_convention_past_the_length_limit_warns(target: Target) -> None:
    from dkenv.deploy import precompile

    warnings = precompile(load_datakit(DEPLOY / "long_name"), target)
    assert len(warnings) == 1 and "naming convention" in warnings[0] and "hash suffix" in warnings[0]


@on_servers
def test_cli_deploy_prints_no_library_warnings(target: Target) -> None:
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "dkenv", "deploy", str(PARITY / "computed_identity_comments"),
                           "--url", target.url, "--cleanup"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
