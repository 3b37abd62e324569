"""Parity (issue 13): dkenv deploy builds exactly the database that plain ``create_all`` builds.

For each small datakit in ``tests/fixtures/parity`` and each engine (SQLite, a PostgreSQL
container, a MariaDB container): one database is built with the datakit's own
``MetaData.create_all`` (its schemas created first, as any user would), one under the same
name with ``deploy_data_objects``; both catalogs are read back whole (inspector, plus
``pg_catalog``/``SHOW CREATE``/``sqlite_master``) and must be identical.  Where plain
``create_all`` itself fails on an engine (``UNLOGGED`` on SQLite, a sequence on SQLite...),
the case is skipped for that engine with the reason.

The ``create_all`` database must also validate clean (issue 19): `validate_tables` reports no
difference on a database the models themselves built, whatever each engine rewrote.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

import dkenv
from dkenv.config import Target
from dkenv.datakit import load_datakit
from dkenv.schema import metadatas_of
from dkenv.servers.runtime import release
from dkenv.validate import validate_tables
from tests.integration.parity_support import Server, read_catalog, server_fixture  # noqa: F401 - the fixture

PARITY = Path(__file__).resolve().parents[1] / "fixtures" / "parity"
CASES = sorted(p.name for p in PARITY.iterdir() if p.is_dir())


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
        tables = [t for md in metadatas_of(kit) for t in md.tables.values()]
        assert validate_tables(tables, conn) == []  # no false verdict on create_all's database
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
