"""Faults on real servers: a lenient MariaDB, time zones on every engine, driverless URLs, a
PostgreSQL container killed in the middle of a COPY.

The MariaDB of this module runs with ``sql_mode=''`` (``SET GLOBAL`` as root on a server the
module starts itself): what a hand-configured or older server does, where a too-long string is
cut to fit without an error.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from dkenv.data import BadRows, LoadFailed, load_data
from dkenv.databases import close_server_databases, server_database
from tests.conftest import FIXTURES
from tests.integration.conftest import module_scope

pytestmark = pytest.mark.docker

LIMITS = FIXTURES / "limits"
SHOP = FIXTURES / "shop"
HEADER = "id,code,price,qty,day,seen_at,local_at,tiny\n"
ENGINES = [pytest.param("postgres", marks=pytest.mark.postgres),
           pytest.param("mysql", marks=pytest.mark.mysql)]


@pytest.fixture(scope="module")
def module_servers(client, local_images):
    started: dict[str, object] = {}
    with module_scope(client, "faults") as _name:
        yield started
        for server in started.values():
            close_server_databases(server)
            server.stop()


@pytest.fixture(params=ENGINES)
def server(request, module_servers):
    from dkenv.servers.lifecycle import start

    if request.param not in module_servers:
        server = start(request.param, progress=False)
        if request.param == "mysql":  # lenient, as root, before any connection of the tests
            engine = create_engine(server.url)
            with engine.connect() as conn:
                conn.execute(text("SET GLOBAL sql_mode = ''"))
            engine.dispose()
        module_servers[request.param] = server
    return module_servers[request.param]


@pytest.fixture
def limits_db(server):
    with server_database(server, datakits=[LIMITS], ready=0) as database:
        yield database


def items(db) -> list[tuple]:
    table = db.datakits[0].metadata.tables["item"]
    engine = db.create_engine()
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(table).order_by(table.c.id))]
    finally:
        engine.dispose()


def item_file(tmp_path, *lines: str):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "item.csv").write_text(HEADER + "".join(line + "\n" for line in lines))
    return data


# ---------------------------------------------------------------------------
# Nothing silently changed
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("server", ENGINES, indirect=True)
def test_a_string_longer_than_its_column_is_a_bad_row(limits_db, tmp_path):
    data = item_file(tmp_path, "1,toolongvalue,1.5,1,2024-01-02,,,1")
    with pytest.raises(BadRows) as info:
        load_data(limits_db.target, [data], limits_db.datakits)
    assert (f"{data / 'item.csv'}:2: item.code: 12 characters, but the column holds at most 5 (String(5))"
            in info.value.message)
    assert items(limits_db) == []


@pytest.mark.mysql
@pytest.mark.parametrize("server", ["mysql"], indirect=True)
def test_the_load_session_is_strict_on_a_lenient_server(limits_db, tmp_path):
    """TINYINT is MySQL's own limit (dkenv does not check it in Python): only the load session's
    strict sql_mode stops 300 from being stored as 127."""
    engine = limits_db.create_engine()
    try:  # the premise: a plain session on this server cuts values to fit, without an error
        with engine.connect() as conn:
            assert conn.execute(text("SELECT @@SESSION.sql_mode")).scalar() == ""
            conn.execute(text("INSERT INTO item (id, code, tiny) VALUES (1, 'toolongvalue', 300)"))
            assert tuple(conn.execute(text("SELECT code, tiny FROM item")).one()) == ("toolo", 127)
            conn.rollback()
    finally:
        engine.dispose()
    data = item_file(tmp_path, "1,ok,1.5,1,2024-01-02,,,5", "2,ok,1.5,1,2024-01-02,,,300")
    with pytest.raises(LoadFailed, match="Out of range value for column 'tiny'"):
        load_data(limits_db.target, [data], limits_db.datakits)
    assert items(limits_db) == []


# ---------------------------------------------------------------------------
# Time zones: the same on every engine
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("server", ENGINES, indirect=True)
def test_timestamps_keep_their_instant_on_every_engine(limits_db, tmp_path):
    data = item_file(tmp_path, "1,a,1,1,,2024-01-02T03:04:05+01:00,2024-01-02T03:04:05Z,")
    load_data(limits_db.target, [data], limits_db.datakits)
    seen_at, local_at = items(limits_db)[0][5:7]
    assert (seen_at.astimezone(UTC) if seen_at.tzinfo else seen_at.replace(tzinfo=UTC)) == datetime(
        2024, 1, 2, 2, 4, 5, tzinfo=UTC)
    assert local_at == datetime(2024, 1, 2, 3, 4, 5)


@pytest.mark.parametrize("server", ENGINES, indirect=True)
def test_mixed_naive_and_aware_timestamps_are_bad_rows_on_every_engine(limits_db, tmp_path):
    """Before: PostgreSQL loaded this file, SQLite and MariaDB failed with an internal error."""
    data = item_file(tmp_path, "1,a,1,1,,2024-01-02T03:04:05+00:00,,", "2,b,1,1,,2024-01-02T03:04:05,,")
    with pytest.raises(BadRows) as info:
        load_data(limits_db.target, [data], limits_db.datakits)
    assert f"{data / 'item.csv'}:3: item.seen_at: no time zone offset" in info.value.message
    assert items(limits_db) == []


# ---------------------------------------------------------------------------
# URLs without a driver
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("server", ENGINES, indirect=True)
def test_a_url_without_a_driver_uses_the_installed_one(dk, limits_db, tmp_path):
    """``postgresql://`` means psycopg to SQLAlchemy 2.1, ``mysql://`` mysqlclient: neither is installed."""
    url = make_url(limits_db.url)
    plain = url.set(drivername=url.get_backend_name()).render_as_string(hide_password=False)
    assert "+" not in plain.split("://")[0]
    data = item_file(tmp_path, "1,a,1.5,1,2024-01-02,,,1", "2,b,2.5,2,2024-01-03,,,2")
    loaded = dk("load", data, "--url", plain, LIMITS)
    assert loaded.code == 0, loaded.err
    assert "loaded 2 row(s)" in loaded.out
    assert [r[:2] for r in items(limits_db)] == [(1, "a"), (2, "b")]
    validated = dk("validate", LIMITS, "--url", plain)
    assert validated.code == 0, validated.err
    if limits_db.engine == "postgres":
        limits_db.disconnect()  # dkenv keeps a warm connection per test database; a copy needs none
        taken = dk("snapshot", "faults-plain-url", "--url", plain)
        assert taken.code == 0, taken.err
        assert dk("snapshot", "rm", "faults-plain-url", "--url", plain).code == 0


# ---------------------------------------------------------------------------
# A server killed during the load
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("engine", [pytest.param("postgres", marks=pytest.mark.postgres),
                                    pytest.param("mysql", marks=pytest.mark.mysql)])
def test_a_container_killed_during_the_load_is_one_line_exit_3(engine, dk, client, local_images, scope, tmp_path,
                                                              monkeypatch):
    """The gate: after the first chunk went through (PostgreSQL COPY, MariaDB executemany), the
    container is killed; the next chunk finds the server gone.  Before: ``internal error:
    InterfaceError: connection already closed``, exit 1."""
    from dkenv.data import load as load_module

    data = tmp_path / "big"
    data.mkdir()
    rows = 3 * load_module.CHUNK
    (data / "employee.csv").write_text("id,name\n" + "".join(f"{i},worker {i}\n" for i in range(1, rows + 1)))
    step = "_copy_text" if engine == "postgres" else "_executemany"
    original = getattr(load_module, step)
    killed: list[str] = []

    def kill_after_first_chunk(*args):
        original(*args)
        if not killed:
            for row in client.api.containers(filters={"label": [f"dkenv.scope={scope}"]}):
                client.api.kill(row["Id"])
                killed.append(row["Labels"]["dkenv.name"])

    monkeypatch.setattr(load_module, step, kill_after_first_chunk)
    result = dk("deploy", SHOP, "--target", f"{engine}_container", "--data", data)
    assert killed, f"the gate never ran: the load did not go through {step}"
    assert result.code == 3, result.err
    lines = [line for line in result.err.splitlines() if line.startswith(("dkenv: error", "  hint"))]
    assert lines[0].startswith(f"dkenv: error: lost the connection to container {killed[0]} during the load")
    assert "nothing was loaded" in lines[0]
    assert lines[1] == f"  hint: see `docker logs {killed[0]}`, then run the load again"
    assert "internal error" not in result.err and "Traceback" not in result.err
    # the scope fixture fails the test if the killed container is left behind


@pytest.mark.mysql
@pytest.mark.parametrize("server", ["mysql"], indirect=True)
def test_strict_mode_keeps_the_servers_other_modes_and_gives_them_back(limits_db):
    """``ANSI_QUOTES`` changes how SQL reads: kept.  ``ALLOW_INVALID_DATES`` lets 02-31 in: dropped."""
    from dkenv.data.guard import STRICT_MODES, strict_mode

    engine = limits_db.create_engine()
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SET SESSION sql_mode = 'ANSI_QUOTES,ALLOW_INVALID_DATES'")
            restore = strict_mode(conn)
            modes = set(conn.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar().split(","))
            assert modes == {"ANSI_QUOTES", *STRICT_MODES}
            restore()
            assert conn.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar() == "ANSI_QUOTES,ALLOW_INVALID_DATES"
    finally:
        engine.dispose()
