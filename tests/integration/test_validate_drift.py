"""Drift test on real PostgreSQL and MariaDB containers (dkenv's images, one server per engine
for the module, in a DKENV_SCOPE of its own): the battery of tests/drift_battery.py built by
plain `create_all` in a fresh database validates clean, and each drift applied to such a
database is reported with the right kind. Each drift gets its own database on the server."""

from __future__ import annotations

import uuid
import warnings
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.drift_battery import DRIFTS, Drift, apply, battery, caught, create_all, problems_of
from tests.integration.conftest import module_servers

pytestmark = pytest.mark.docker

ENGINES = [pytest.param("postgres", marks=pytest.mark.postgres),
           pytest.param("mysql", marks=pytest.mark.mysql)]


@pytest.fixture(scope="module")
def servers(client, local_images) -> Iterator[dict[str, object]]:
    with module_servers(client, "drift") as started:
        yield started


@pytest.fixture
def server_url(servers, request) -> str:
    from dkenv.servers.lifecycle import start

    engine = request.param
    if engine not in servers:
        servers[engine] = start(engine, progress=False)
    return servers[engine].url


def _fresh(engine_name: str, url: str) -> Iterator[tuple[list[sa.MetaData], sa.Engine]]:
    """A new database on the server holding the battery, built by plain create_all."""
    name = f"drift_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    engine = sa.create_engine(sa.make_url(url).set(database=name))
    metadatas = battery(engine_name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", sa.exc.SAWarning)
            create_all(metadatas, engine)
        yield metadatas, engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            force = " WITH (FORCE)" if engine_name == "postgres" else ""
            conn.exec_driver_sql(f"DROP DATABASE {name}{force}")
        admin.dispose()


@pytest.mark.parametrize("server_url", ENGINES, indirect=True)
def test_create_all_database_has_no_problems(server_url, request) -> None:
    engine_name = request.node.callspec.params["server_url"]
    for metadatas, engine in _fresh(engine_name, server_url):
        assert problems_of(metadatas, engine) == []


def _cases() -> list:
    cases = []
    for param in ENGINES:
        engine_name = param.values[0]
        cases += [
            pytest.param(engine_name, drift, marks=param.marks, id=f"{engine_name}-{drift.name}")
            for drift in DRIFTS[engine_name]
        ]
    return cases


@pytest.mark.parametrize(("engine_name", "drift"), _cases())
def test_drift_is_reported(engine_name: str, drift: Drift, servers, request) -> None:
    from dkenv.servers.lifecycle import start

    if engine_name not in servers:
        servers[engine_name] = start(engine_name, progress=False)
    for metadatas, engine in _fresh(engine_name, servers[engine_name].url):
        apply(engine, drift.ddl)
        problems = problems_of(metadatas, engine)
        assert caught(drift, problems), problems
        assert {t for t, _, _ in problems} == {drift.table}, problems
