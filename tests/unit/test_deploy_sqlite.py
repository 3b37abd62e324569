"""Deploy, validate and clean up on real SQLite (memory and file)."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

import dkenv
from dkenv.datakit import load_datakit
from dkenv.errors import DeployError


@pytest.fixture
def memory():
    target = dkenv.get_target_config("sqlite_memory")
    yield target
    dkenv.cleanup_test_target(target)


def test_framework_example(examples):
    modules = dkenv.discover_datakit_modules(examples / "bronze-pagila")
    table_classes = dkenv.discover_sqlmodel_classes(modules)
    target_config = dkenv.get_target_config("sqlite_memory")
    result = dkenv.deploy_data_objects(table_classes, target_config)
    validation = dkenv.validate_deployment(table_classes, target_config)
    assert result["success"] and validation["success"]
    assert result.success and validation.problems == []
    assert len(result["tables"]) == 13
    assert result.datakits == ["bronze_pagila"]  # bare classes are named by their package
    dkenv.cleanup_test_target(target_config)


def test_memory_database_survives_between_calls(memory, examples):
    kit = load_datakit(examples / "bronze-pagila")
    dkenv.deploy_data_objects(kit.table_classes, memory)
    engine = dkenv.create_engine_for_target(memory)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO br__pagila__public.country (country_id, country) VALUES (1, 'Peru')"))
    with engine.connect() as conn:
        row = conn.execute(text("SELECT country, br_load_time FROM br__pagila__public.country")).one()
    assert row[0] == "Peru"
    assert row[1] is not None  # now() was carried to SQLite as CURRENT_TIMESTAMP and works on insert


def test_only_the_datakits_own_tables_are_deployed(memory, fixtures):
    alpha = load_datakit(fixtures / "same_name_alpha")
    beta = load_datakit(fixtures / "same_name_beta")
    dkenv.deploy_data_objects(alpha, memory)
    dkenv.deploy_data_objects(beta, memory)
    insp = inspect(dkenv.create_engine_for_target(memory))
    assert insp.get_table_names(schema="alpha") == ["thing"]
    assert insp.get_table_names(schema="beta") == ["thing"]
    assert insp.get_table_names() == []  # nothing in main: no global-metadata leak
    assert dkenv.validate_deployment(alpha, memory).success
    assert dkenv.validate_deployment(beta, memory).success


def test_redeploy_reports_existing_tables(memory, fixtures):
    kit = load_datakit(fixtures / "flat")
    first = dkenv.deploy_data_objects(kit, memory)
    second = dkenv.deploy_data_objects(kit, memory)
    assert first.created == ["person", "pet"]
    assert second.created == [] and second.existing == ["person", "pet"]
    assert second.success


def test_silver_needs_bronze_first(memory, examples):
    silver = load_datakit(examples / "silver-pagila")
    with pytest.raises(DeployError) as info:
        dkenv.deploy_data_objects(silver, memory)
    message = str(info.value)
    assert "sv__pagila.customer_profile" in message and "br__pagila__public.customer" in message
    # nothing half-deployed
    insp = inspect(dkenv.create_engine_for_target(memory))
    assert "sv__pagila" not in insp.get_schema_names() or insp.get_table_names(schema="sv__pagila") == []


def test_layer3_bronze_then_silver(memory, examples):
    bronze = load_datakit(examples / "bronze-pagila")
    silver = load_datakit(examples / "silver-pagila")
    dkenv.deploy_data_objects(dkenv.discover_sqlmodel_classes(bronze.modules), memory)
    dkenv.deploy_data_objects(dkenv.discover_sqlmodel_classes(silver.modules), memory)
    flow = dkenv.validate_pipeline_flow(memory)
    assert flow.success, flow.problems
    assert len(flow.tables) == 15


def test_pg_only_default_fails_with_table_column_and_fix(memory, fixtures):
    with pytest.raises(DeployError) as info:
        dkenv.deploy_data_objects(load_datakit(fixtures / "pg_only_default"), memory)
    text_ = str(info.value)
    assert "event.id" in text_ and "gen_random_uuid" in text_ and "default_factory=uuid.uuid4" in text_


def test_validation_catches_drift(memory, fixtures):
    kit = load_datakit(fixtures / "flat")
    dkenv.deploy_data_objects(kit, memory)
    with dkenv.create_engine_for_target(memory).begin() as conn:
        conn.execute(text("DROP INDEX ix_person_name"))
        conn.execute(text("ALTER TABLE pet DROP COLUMN species"))
    result = dkenv.validate_deployment(kit, memory)
    assert not result.success
    kinds = {(p.table, p.kind) for p in result.problems}
    assert ("person", "index") in kinds and ("pet", "missing_column") in kinds


def test_cleanup_leaves_file_target_as_found(fixtures):
    target = dkenv.get_target_config("sqlite_file")
    kit = load_datakit(fixtures / "project_src")
    dkenv.deploy_data_objects(kit, target)
    from dkenv.servers.runtime import existing_runtime

    rt = existing_runtime(target)
    tempdir = rt.tempdir
    assert (tempdir / "main.shop.db").exists()  # schema 'shop' is an attached file beside main.db
    assert dkenv.validate_deployment(kit, target).success
    dkenv.cleanup_test_target(target)
    assert not tempdir.exists()


def test_cleanup_on_a_custom_file_drops_what_was_deployed(tmp_path, fixtures):
    target = dkenv.create_custom_target("sqlite", str(tmp_path / "x.db"))
    with dkenv.create_engine_for_target(target).begin() as conn:
        conn.execute(text("CREATE TABLE keep_me (id INTEGER)"))
    dkenv.deploy_data_objects(load_datakit(fixtures / "project_src"), target)
    assert (tmp_path / "x.shop.db").exists()
    dkenv.cleanup_test_target(target)
    assert not (tmp_path / "x.shop.db").exists()
    target2 = dkenv.create_custom_target("sqlite", str(tmp_path / "x.db"))
    assert inspect(dkenv.create_engine_for_target(target2)).get_table_names() == ["keep_me"]
    dkenv.cleanup_test_target(target2)


def test_enums_and_unique_on_sqlite(memory, fixtures):
    kit = load_datakit(fixtures / "enums")
    assert dkenv.deploy_data_objects(kit, memory).success
    assert dkenv.validate_deployment(kit, memory).success


def test_default_that_only_fails_on_insert_is_a_deploy_failure(memory, fixtures):
    with pytest.raises(DeployError) as info:
        dkenv.deploy_data_objects(load_datakit(fixtures / "insert_time_default"), memory)
    assert "reading.ref" in str(info.value) and "no such function: uuid" in str(info.value)
    assert inspect(dkenv.create_engine_for_target(memory)).get_table_names() == []  # rolled back


def test_now_default_forms_are_carried_to_sqlite(memory, examples, fixtures):
    kit = load_datakit(fixtures / "project_src")  # server_default=text("now()")
    dkenv.deploy_data_objects(kit, memory)
    with dkenv.create_engine_for_target(memory).begin() as conn:
        conn.execute(text("INSERT INTO shop.orders (id) VALUES (1)"))
        assert conn.execute(text("SELECT placed_at FROM shop.orders")).scalar()


def test_failed_deploy_to_a_file_leaves_no_schema_files(tmp_path, examples):
    target = dkenv.create_custom_target("sqlite", str(tmp_path / "wh.db"))
    with pytest.raises(DeployError):
        dkenv.deploy_data_objects(load_datakit(examples / "silver-pagila"), target)  # bronze missing
    dkenv.cleanup_test_target(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wh.db"]


def test_a_failed_deploy_to_memory_keeps_earlier_tables_and_logs_nothing(memory, fixtures, examples,
                                                                           caplog):
    """Undoing a failed deploy detaches its new schema on the one in-memory connection: it must
    not dispose that connection (the database itself, still checked out by the deploy), which
    made SQLAlchemy 2.1 log "Exception during reset or similar" and drop earlier tables."""
    dkenv.deploy_data_objects(load_datakit(fixtures / "flat"), memory)
    with caplog.at_level("DEBUG", logger="sqlalchemy.pool"), pytest.raises(DeployError):
        dkenv.deploy_data_objects(load_datakit(examples / "silver-pagila"), memory)  # bronze missing
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")], caplog.text
    with dkenv.create_engine_for_target(memory).connect() as conn:
        assert sorted(inspect(conn).get_table_names()) == ["person", "pet"]
        attached = {row[1] for row in conn.exec_driver_sql("PRAGMA database_list")}
    assert "sv__pagila" not in attached  # the failed deploy's schema was detached again


def test_a_deploy_job_compiles_each_datakit_once(monkeypatch, tmp_path) -> None:
    """`dkenv deploy` compiles every datakit before anything starts; the deploy itself reuses
    that compile instead of running it a second time (its cost grows with the datakit)."""
    from dkenv import jobs
    from dkenv.config import get_target_config
    from dkenv.deploy import deploy as deploy_module
    from tests.conftest import ROOT

    calls: list[int] = []
    real = deploy_module.check_compiles

    def counting(units, *args, **kwargs):
        calls.append(len(units))
        return real(units, *args, **kwargs)

    monkeypatch.setattr(deploy_module, "check_compiles", counting)
    kits = [ROOT / "examples" / "bronze-pagila", ROOT / "examples" / "silver-pagila"]
    outcome = jobs.deploy_paths([str(k) for k in kits], get_target_config("sqlite_memory"),
                                validate=True, cleanup=True)
    assert outcome.success
    assert len(calls) == 2  # one compile per datakit, not two


def test_deploy_keep_leaves_the_callers_target_as_given(tmp_path, monkeypatch) -> None:
    """A Target is a description: `deploy_paths(..., keep=True)` keeps the database without
    writing `keep` into the caller's object (the next job with it would keep too)."""
    from pathlib import Path

    from dkenv import jobs
    from dkenv.config import get_target_config
    from tests.conftest import ROOT

    monkeypatch.setenv("DKENV_STATE_DIR", str(tmp_path / "state"))
    target = get_target_config("sqlite_file")
    before = dict(target.options or {})
    outcome = jobs.deploy_paths([str(ROOT / "examples" / "bronze-pagila")], target, keep=True)
    assert outcome.kept and outcome.url
    assert dict(target.options or {}) == before
    kept = Path(outcome.url.removeprefix("sqlite:///"))
    assert kept.exists()
    for file in kept.parent.glob(kept.stem + "*"):
        file.unlink()


def test_jobs_hold_their_runtime_and_leave_the_callers_target_alone(tmp_path) -> None:
    """A job opens its own runtime, hands it down and closes it: the caller's Target is as it
    was given, and the runtime the framework functions keep behind that Target is not touched."""
    import copy

    from dkenv import jobs
    from dkenv.config import create_custom_target
    from dkenv.deploy.deployed import cleanup_test_target
    from dkenv.jobs import load_paths
    from dkenv.servers.runtime import existing_runtime, runtime_for
    from tests.conftest import ROOT

    bronze = str(ROOT / "examples" / "bronze-pagila")
    target = create_custom_target("sqlite", str(tmp_path / "w.db"), name="w")
    given = copy.deepcopy(target)
    dkenv.deploy_data_objects(load_datakit(bronze), target)  # the framework's style: state behind the Target
    mine = runtime_for(target)
    assert jobs.deploy_paths([bronze], target, validate=True).success
    assert jobs.validate_paths([bronze], target).success
    assert load_paths([f"{bronze}/data/sample", bronze], target).rows > 0
    assert existing_runtime(target) is mine and len(mine.deployments) == 1
    assert target.to_dict() == given.to_dict()
    cleanup_test_target(target)
    assert existing_runtime(target) is None and mine.closed
