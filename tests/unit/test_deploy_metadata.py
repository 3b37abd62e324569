"""Deploying a datakit's own MetaData on real SQLite: undo, order, compile first, no mutation.

The PostgreSQL and MariaDB side is in tests/integration/test_deploy_servers.py, the
create_all parity in tests/integration/test_parity.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

import dkenv
from dkenv.datakit import load_datakit
from dkenv.errors import DeployError

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "tests" / "fixtures" / "deploy"
PARITY = ROOT / "tests" / "fixtures" / "parity"


@pytest.fixture(params=["sqlite_memory", "sqlite_file"])
def target(request):
    t = dkenv.get_target_config(request.param)
    yield t
    dkenv.cleanup_test_target(t)


def test_a_failed_deploy_keeps_the_datakits_deployed_before(target) -> None:
    dkenv.deploy_data_objects(load_datakit(DEPLOY / "good_schema"), target)
    engine = dkenv.create_engine_for_target(target)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO alpha.thing (id, name) VALUES (1, 'kept')"))
    with pytest.raises(DeployError) as info:
        dkenv.deploy_data_objects(load_datakit(DEPLOY / "bad_event"), target)
    assert "gamma.gadget" in info.value.message and "execute_if" in info.value.hint
    engine = dkenv.create_engine_for_target(target)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM alpha.thing")).all() == [("kept",)]
        attached = {row[1] for row in conn.exec_driver_sql("PRAGMA database_list")}
    assert "alpha" in attached and "gamma" not in attached
    assert dkenv.validate_deployment(load_datakit(DEPLOY / "good_schema"), target).success


def test_cli_failed_deploy_is_two_lines_without_traceback(dk) -> None:
    r = dk("deploy", DEPLOY / "good_schema", DEPLOY / "bad_event")
    assert r.code == 1
    errors = [line for line in r.err.splitlines() if not line.startswith("dkenv: deploying")]
    assert len(errors) == 2, r.err
    assert errors[0].startswith("dkenv: error: table gamma.gadget") and "execute_if(dialect=" in errors[1]
    assert "Traceback" not in r.err and "SAWarning" not in r.err


def test_fk_cycle_and_use_alter_on_sqlite_are_inline_and_validate(target) -> None:
    for case in ("fk_cycle", "use_alter"):
        kit = load_datakit(PARITY / case)
        dkenv.deploy_data_objects(kit, target)
        assert dkenv.validate_deployment(kit, target).success
    insp = inspect(dkenv.create_engine_for_target(target))
    assert [fk["referred_table"] for fk in insp.get_foreign_keys("parent")] == ["child"]


def test_cycle_with_not_null_keys_deploys(target) -> None:
    kit = load_datakit(DEPLOY / "cycle_not_null")
    assert sorted(dkenv.deploy_data_objects(kit, target).created) == ["clerk", "shop"]


def test_view_over_a_table_not_deployed_yet(target) -> None:
    with pytest.raises(DeployError) as info:
        dkenv.deploy_data_objects(load_datakit(DEPLOY / "view_needs_bronze"), target)
    assert "bronze_customer" in info.value.message and "bronze before silver" in info.value.hint
    insp = inspect(dkenv.create_engine_for_target(target))
    assert insp.get_table_names() == [] and insp.get_view_names() == []


def test_events_views_and_association_tables_come_with_the_metadata(target) -> None:
    kit = load_datakit(PARITY / "association")
    result = dkenv.deploy_data_objects(kit, target)
    assert sorted(result.tables) == ["post", "post_tag", "tag"]
    dkenv.deploy_data_objects(load_datakit(PARITY / "metadata_events"), target)
    insp = inspect(dkenv.create_engine_for_target(target))
    assert insp.get_view_names() == ["book_authors"]


def test_deploy_leaves_the_users_objects_as_they_were(examples) -> None:
    bronze = load_datakit(examples / "bronze-pagila")
    silver = load_datakit(examples / "silver-pagila")
    silver_tables = dict(silver.metadata.tables)
    defaults = {(t.fullname, c.name): c.server_default for t in bronze.tables for c in t.columns}
    target = dkenv.get_target_config("sqlite_memory")
    try:
        dkenv.deploy_data_objects(bronze, target)
        dkenv.deploy_data_objects(silver, target)
    finally:
        dkenv.cleanup_test_target(target)
    assert dict(silver.metadata.tables) == silver_tables  # the stand-ins for bronze tables are gone
    assert {(t.fullname, c.name): c.server_default for t in bronze.tables for c in t.columns} == defaults
    assert all("column" not in fk.__dict__ or fk.__dict__["column"].table.metadata is not None
               for t in silver.tables for fk in t.foreign_keys)


def test_client_side_sql_default_warns_on_deploy(dk) -> None:
    r = dk("deploy", DEPLOY / "client_default")
    assert r.code == 0
    warnings = [line for line in r.err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "visit.seen_at" in warnings[0] and "func.now()" in warnings[0]


def test_pg_only_type_fails_before_anything_starts(dk, examples) -> None:
    r = dk("deploy", examples / "pagila-source", "--json")
    assert r.code == 1
    doc = json.loads(r.out)
    assert doc["success"] is False
    assert "public.film.special_features" in r.err and "ARRAY" in r.err and "sa.JSON" in r.err


SCRIPT = """
import sys
from sqlalchemy.dialects import postgresql
from dkenv.datakit import load_datakit
from dkenv.engines import get_engine
from dkenv.errors import DeployError
from dkenv.schema import compile_units, kit_units
for path in sys.argv[1:]:
    for statement in compile_units(kit_units(load_datakit(path)), postgresql.dialect(), get_engine("postgres")):
        print(statement.splitlines()[0])
"""


def test_order_and_messages_do_not_depend_on_the_hash_seed(examples) -> None:
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, "-c", SCRIPT, str(examples / "pagila-source"), str(PARITY / "fk_cycle")],
                              capture_output=True, text=True, env=env, timeout=120, check=True)
        failure = subprocess.run([sys.executable, "-m", "dkenv", "deploy", str(DEPLOY / "bad_event")],
                                 capture_output=True, text=True, env=env, timeout=120)
        outputs.append((proc.stdout, failure.stderr))
    assert outputs[0] == outputs[1]
    ddl = outputs[0][0].splitlines()
    assert sum(line.startswith("ALTER TABLE") and "ADD" in line for line in ddl) >= 2  # one per cycle


def test_table_classes_imported_from_outside_the_datakit_are_not_deployed() -> None:
    kit = load_datakit(DEPLOY / "foreign_import" / "kitpkg")
    assert "shared" in kit.metadata.tables  # imported during discovery, so in the kit's registry
    target = dkenv.get_target_config("sqlite_memory")
    try:
        assert dkenv.deploy_data_objects(kit, target).tables == ["own"]
        assert inspect(dkenv.create_engine_for_target(target)).get_table_names() == ["own"]
    finally:
        dkenv.cleanup_test_target(target)


def test_tables_from_two_metadatas_deploy_parents_first() -> None:
    import sqlalchemy as sa

    first, second = sa.MetaData(), sa.MetaData()
    parent = sa.Table("parent_md", first, sa.Column("id", sa.Integer, primary_key=True))
    child = sa.Table("child_md", second, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("parent_id", sa.Integer, sa.ForeignKey("parent_md.id")))
    target = dkenv.get_target_config("sqlite_memory")
    try:
        result = dkenv.deploy_data_objects([child, parent], target)
        assert result.created == ["parent_md", "child_md"]
        fks = inspect(dkenv.create_engine_for_target(target)).get_foreign_keys("child_md")
        assert [fk["referred_table"] for fk in fks] == ["parent_md"]
    finally:
        dkenv.cleanup_test_target(target)
    assert list(second.tables) == ["child_md"]  # the stand-in for parent_md is gone again
