"""postgres_local / mysql_local against real servers that the tests start (TCP and Unix socket)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, inspect, text

import dkenv
from dkenv.datakit import load_datakit
from dkenv.errors import DeployError


def _use_env(monkeypatch, env: dict[str, str]) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def _pg_state(url: str) -> tuple[set[str], set[str]]:
    eng = create_engine(url)
    with eng.connect() as conn:
        schemas = {r[0] for r in conn.execute(text("SELECT nspname FROM pg_namespace"))}
        enums = {r[0] for r in conn.execute(text("SELECT typname FROM pg_type WHERE typtype = 'e'"))}
    eng.dispose()
    return schemas, enums


def _mysql_databases(url: str) -> set[str]:
    eng = create_engine(url)
    with eng.connect() as conn:
        names = {r[0] for r in conn.execute(text("SHOW DATABASES"))}
    eng.dispose()
    return names


@pytest.mark.postgres
@pytest.mark.parametrize("via", ["tcp", "socket"])
def test_postgres_local_bronze_then_silver(native_pg, monkeypatch, examples, via):
    env = native_pg.env()
    if via == "socket":
        env["PGHOST"] = native_pg.socket_dir
    _use_env(monkeypatch, env)
    before = _pg_state(native_pg.url())
    target = dkenv.get_development_target()
    assert target.name == "postgres_local"
    bronze = load_datakit(examples / "bronze-pagila")
    silver = load_datakit(examples / "silver-pagila")
    assert dkenv.deploy_data_objects(bronze.table_classes, target).success
    assert dkenv.deploy_data_objects(silver.table_classes, target).success
    flow = dkenv.validate_pipeline_flow(target)
    assert flow.success, flow.problems
    schemas, enums = _pg_state(native_pg.url())
    assert {"br__pagila__public", "sv__pagila"} <= schemas and "customertier" in enums
    # silver's foreign keys into bronze are real constraints on PostgreSQL
    fks = inspect(create_engine(native_pg.url())).get_foreign_keys("rental_fact", schema="sv__pagila")
    assert {fk["referred_schema"] + "." + fk["referred_table"] for fk in fks} == {
        "br__pagila__public.rental", "br__pagila__public.film", "sv__pagila.customer_profile"}
    dkenv.cleanup_test_target(target)
    assert _pg_state(native_pg.url()) == before


@pytest.mark.postgres
def test_postgres_drift_and_redeploy(native_pg, monkeypatch, fixtures):
    _use_env(monkeypatch, native_pg.env())
    target = dkenv.get_target_config("postgres_local")
    kit = load_datakit(fixtures / "enums")
    try:
        assert dkenv.deploy_data_objects(kit, target).created == ["inventory.device", "inventory.sensor"]
        again = dkenv.deploy_data_objects(kit, target)
        assert again.existing == ["inventory.device", "inventory.sensor"] and again.created == []
        assert dkenv.validate_deployment(kit, target).success
        with dkenv.create_engine_for_target(target).begin() as conn:
            conn.execute(text("ALTER TABLE inventory.sensor DROP CONSTRAINT sensor_device_id_fkey"))
            conn.execute(text("ALTER TABLE inventory.device ALTER COLUMN serial DROP NOT NULL"))
        problems = {(p.table, p.kind) for p in dkenv.validate_deployment(kit, target).problems}
        assert problems == {("inventory.sensor", "foreign_key"), ("inventory.device", "nullability")}
    finally:
        dkenv.cleanup_test_target(target)


@pytest.mark.mysql
@pytest.mark.parametrize("via", ["tcp", "socket"])
def test_mysql_local_bronze_then_silver(native_mariadb, monkeypatch, examples, via):
    env = native_mariadb.env()
    if via == "socket":
        env["MYSQL_HOST"] = native_mariadb.socket_path
    _use_env(monkeypatch, env)
    before = _mysql_databases(native_mariadb.url())
    target = dkenv.get_target_config("mysql_local")
    try:
        for path in ("bronze-pagila", "silver-pagila"):
            assert dkenv.deploy_data_objects(load_datakit(examples / path), target).success
        flow = dkenv.validate_pipeline_flow(target)
        assert flow.success, flow.problems
        assert {"br__pagila__public", "sv__pagila"} <= _mysql_databases(native_mariadb.url())
        with dkenv.create_engine_for_target(target).begin() as conn:  # now() works on insert
            conn.execute(text("INSERT INTO br__pagila__public.country (country_id, country) VALUES (1, 'Peru')"))
            assert conn.execute(text("SELECT br_load_time FROM br__pagila__public.country")).scalar()
    finally:
        dkenv.cleanup_test_target(target)
    assert _mysql_databases(native_mariadb.url()) == before


@pytest.mark.mysql
def test_mysql_failure_leaves_nothing_half_deployed(native_mariadb, monkeypatch, fixtures):
    _use_env(monkeypatch, native_mariadb.env())
    before = _mysql_databases(native_mariadb.url())
    target = dkenv.get_target_config("mysql_local")
    with pytest.raises(DeployError) as info:
        dkenv.deploy_data_objects(load_datakit(fixtures / "mysql_breaker"), target)
    assert "breaker.notes" in str(info.value)
    assert _mysql_databases(native_mariadb.url()) == before
    dkenv.cleanup_test_target(target)


@pytest.mark.postgres
def test_cli_deploy_validate_cleanup_postgres_local(native_pg, monkeypatch, examples, dk):
    _use_env(monkeypatch, native_pg.env())
    before = _pg_state(native_pg.url())
    r = dk("deploy", examples / "bronze-pagila", examples / "silver-pagila", "--target", "postgres_local",
           "--validate", "--cleanup", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["success"] and doc["validation"]["success"] and len(doc["tables"]) == 15
    assert _pg_state(native_pg.url()) == before


@pytest.mark.mysql
def test_cli_flags_custom_target_mysql(native_mariadb, examples, dk):
    s = native_mariadb
    args = ["--target-type", "mysql", "--host", s.host, "--port", str(s.port), "--user", s.user,
            "--password", s.password, "--database", s.database]
    r = dk("deploy", examples / "bronze-pagila", *args, "--validate", "--cleanup")
    assert r.code == 0, r.err
    assert "no problems" in r.out
