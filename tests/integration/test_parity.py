"""Parity (issue 13): dkenv deploy builds exactly the database that plain ``create_all`` builds.

For each small datakit in ``tests/fixtures/parity`` and each engine (SQLite, a PostgreSQL
container, a MariaDB container): one database is built with the datakit's own
``MetaData.create_all`` (its schemas created first, as any user would), one under the same
name with ``deploy_data_objects``; both catalogs are read back whole (inspector, plus
``pg_catalog``/``SHOW CREATE``/``sqlite_master``) and must be identical.  Where plain
``create_all`` itself fails on an engine (``UNLOGGED`` on SQLite, a sequence on SQLite...),
the case is skipped for that engine with the reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

import dkenv
from dkenv.config import Target
from dkenv.datakit import load_datakit
from dkenv.runtime import release
from dkenv.schema import metadatas_of
from tests.integration.parity_catalog import read_catalog

PARITY = Path(__file__).resolve().parents[1] / "fixtures" / "parity"
CASES = sorted(p.name for p in PARITY.iterdir() if p.is_dir())


class Server:
    """Where a case's two databases are built, one after the other, under the same name."""

    def __init__(self, engine: str, url: str | None, workdir: Path) -> None:
        self.engine, self.url, self.workdir = engine, url, workdir

    def fresh(self, name: str, schemas: list[str]) -> str:
        """An empty database ``name`` (its schemas created too); returns its URL."""
        if self.engine == "sqlite":
            folder = self.workdir / uuid.uuid4().hex[:8]
            folder.mkdir()
            return f"sqlite:///{folder / 'main.db'}"
        admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                q = conn.dialect.identifier_preparer.quote_identifier
                for db in (name, *schemas) if self.engine == "mysql" else (name,):
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {q(db)}")
                    conn.exec_driver_sql(f"CREATE DATABASE {q(db)}")
        finally:
            admin.dispose()
        url = sa.engine.make_url(self.url).set(database=name).render_as_string(hide_password=False)
        if self.engine == "postgres" and schemas:
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                for schema in schemas:
                    conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            engine.dispose()
        return url

    def engine_for(self, url: str, schemas: list[str]) -> sa.Engine:
        engine = sa.create_engine(url)
        if self.engine == "sqlite":
            main = Path(sa.engine.make_url(url).database)

            @sa.event.listens_for(engine, "connect")
            def attach(dbapi_conn, _record):  # noqa: ANN001 - the layout dkenv's runtime attaches
                for schema in schemas:
                    dbapi_conn.execute(f"ATTACH DATABASE '{main.with_name(f'{main.stem}.{schema}.db')}' AS \"{schema}\"")
        return engine


@pytest.fixture(scope="module", params=["sqlite", "postgres", "mysql"])
def server(request, tmp_path_factory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("parity")
    if request.param == "sqlite":
        yield Server("sqlite", None, workdir)
        return
    request.getfixturevalue("local_images")
    client = request.getfixturevalue("client")
    from tests.integration.conftest import scoped_containers

    scope = f"test-parity-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DKENV_SCOPE", scope)
        with dkenv.ephemeral(request.param) as db:
            yield Server(request.param, db.url, workdir)
        assert scoped_containers(client, scope) == []


def _schemas(kit) -> list[str]:
    return sorted({t.schema for md in metadatas_of(kit) for t in md.tables.values() if t.schema})


@pytest.mark.parametrize("case", CASES)
def test_deploy_builds_what_create_all_builds(server: Server, case: str) -> None:
    kit = load_datakit(PARITY / case)
    schemas = _schemas(kit)
    name = f"parity_{case}"[:60]

    url = server.fresh(name, schemas)
    engine = server.engine_for(url, schemas)
    try:
        with engine.begin() as conn:
            for md in metadatas_of(kit):
                md.create_all(conn)
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        pytest.skip(f"plain create_all fails on {server.engine}: {str(exc.orig).splitlines()[0][:100]}")
    except (sa.exc.CompileError, NotImplementedError) as exc:
        engine.dispose()
        pytest.skip(f"plain create_all does not compile on {server.engine}: {str(exc)[:100]}")
    with engine.connect() as conn:
        expected = read_catalog(conn, [None, *schemas])
    engine.dispose()

    url = server.fresh(name, schemas)
    target = Target(name=f"parity-{case}", db_type=server.engine, kind="url", url=url)
    try:
        dkenv.deploy_data_objects(kit, target)
    finally:
        release(target)
    engine = server.engine_for(url, schemas)
    with engine.connect() as conn:
        actual = read_catalog(conn, [None, *schemas])
    engine.dispose()

    assert actual.keys() == expected.keys()
    for key in expected:
        assert actual[key] == expected[key], key
