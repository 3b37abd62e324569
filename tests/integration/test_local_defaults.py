"""``postgres_local`` and ``mysql_local`` reach what ``psql`` and ``mysql`` reach with the same
environment (issue 18, item 9): the OS user, the Unix socket, and (PostgreSQL) the database
named like the user -- tested against native servers on their sockets, with peer
authentication for PostgreSQL (no password anywhere).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import psycopg2
import pytest

import dkenv
from dkenv.engines.local import PG_SOCKET_DIRS, mysql_socket, os_user, pg_socket_dir
from tests.native_servers import mariadb_binaries, native_mariadb, native_postgres, postgres_bin_dir

LIBPQ_DEFAULT = "/var/run/postgresql"  # Debian's libpq (the psql on this machine) looks here
CLEAR = ("PGHOST", "PGHOSTADDR", "PGUSER", "PGPASSWORD", "PGDATABASE", "PGSERVICE", "PGPORT",
         "MYSQL_HOST", "MYSQL_PORT", "MYSQL_USER", "MYSQL_PASSWORD", "MYSQL_DATABASE",
         "MYSQL_UNIX_PORT")


@pytest.fixture
def bare_env(monkeypatch) -> None:
    for key in CLEAR:
        monkeypatch.delenv(key, raising=False)


@pytest.fixture(scope="module")
def peer_pg():
    """A cluster on libpq's default socket directory, peer authentication, superuser = OS user."""
    if postgres_bin_dir() is None or not os.path.isdir(LIBPQ_DEFAULT):
        pytest.skip("needs PostgreSQL server binaries and /var/run/postgresql (apt-get install postgresql)")
    me = os_user()
    with native_postgres(user=me, database=me, socket_dir=LIBPQ_DEFAULT, auth_local="peer") as server:
        yield server


def test_postgres_local_is_what_psql_reaches(peer_pg, bare_env, monkeypatch, fixtures) -> None:
    monkeypatch.setenv("PGPORT", str(peer_pg.port))  # the only variable: the cluster's own port
    target = dkenv.get_target_config("postgres_local")
    me = os_user()
    assert (target.host, target.user, target.database, target.password) == (LIBPQ_DEFAULT, me, me, None)
    psql = shutil.which("psql")
    if psql:  # the same environment, the same session as psql's
        out = subprocess.run([psql, "-XAtc", "SELECT current_user, current_database()"],
                             capture_output=True, text=True, env=dict(os.environ), check=True)
        assert out.stdout.strip() == f"{me}|{me}"
    kit = fixtures / "flat"
    deployed = dkenv.deploy_data_objects(dkenv.load_datakit(kit), target)
    try:
        assert deployed.success and deployed.created
        assert dkenv.validate_deployment(dkenv.load_datakit(kit), target).success
    finally:
        dkenv.cleanup_test_target(target)


def test_postgres_local_through_the_cli(peer_pg, bare_env, monkeypatch, fixtures, dk) -> None:
    monkeypatch.setenv("PGPORT", str(peer_pg.port))
    result = dk("deploy", fixtures / "flat", "--target", "postgres_local", "--validate",
                "--cleanup", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["success"] is True
    with psycopg2.connect(host=LIBPQ_DEFAULT, port=peer_pg.port, dbname=os_user()) as conn:
        assert conn.info.user == os_user()  # peer: no password was ever given


@pytest.fixture(scope="module")
def socket_mariadb():
    if mariadb_binaries() is None:
        pytest.skip("MariaDB server binaries not installed (apt-get install mariadb-server)")
    import pymysql

    with native_mariadb() as server:
        # peer authentication, MariaDB's way: the OS user logs in as the account of its name
        conn = pymysql.connect(unix_socket=server.socket_path, user="root", password=server.password)
        try:
            with conn.cursor() as cur:
                cur.execute("ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket")
        finally:
            conn.close()
        yield server


def test_mysql_local_is_what_the_mysql_client_reaches(socket_mariadb, bare_env, monkeypatch,
                                                      fixtures) -> None:
    monkeypatch.setenv("MYSQL_UNIX_PORT", socket_mariadb.socket_path)  # the client's own variable
    monkeypatch.setenv("MYSQL_DATABASE", socket_mariadb.database)
    target = dkenv.get_target_config("mysql_local")
    assert (target.host, target.port, target.user) == (socket_mariadb.socket_path, None, os_user())
    client = shutil.which("mariadb") or shutil.which("mysql")
    if client:
        # --no-defaults: Debian's /etc/mysql/my.cnf names its own socket, which beats the variable
        out = subprocess.run([client, "--no-defaults", "-N", "-e", "SELECT CURRENT_USER()"],
                             capture_output=True,
                             text=True, env=dict(os.environ), check=True)
        assert out.stdout.strip().split("@")[0] == os_user()
    kit = fixtures / "flat"
    try:
        assert dkenv.deploy_data_objects(dkenv.load_datakit(kit), target).success
        assert dkenv.validate_deployment(dkenv.load_datakit(kit), target).success
    finally:
        dkenv.cleanup_test_target(target)


# ---------------------------------------------------------------------------
# The defaults themselves (no server)
# ---------------------------------------------------------------------------
def test_pg_socket_dir_prefers_the_one_holding_the_server(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (second / ".s.PGSQL.5499").touch()
    assert pg_socket_dir(5499, candidates=(str(first), str(second))) == str(second)
    assert pg_socket_dir(5432, candidates=(str(first), str(second))) == str(first)
    assert pg_socket_dir(5432, candidates=(str(tmp_path / "none"),)) == "/tmp"
    assert pg_socket_dir(5432, platform="win32") is None
    assert PG_SOCKET_DIRS[0] == LIBPQ_DEFAULT


def test_mysql_socket_env_then_candidates(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("MYSQL_UNIX_PORT", raising=False)
    there = tmp_path / "mysqld.sock"
    there.touch()
    missing = tmp_path / "nowhere" / "mysql.sock"
    assert mysql_socket(candidates=(str(missing), str(there))) == str(there)
    monkeypatch.setenv("MYSQL_UNIX_PORT", "/custom/mysql.sock")
    assert mysql_socket(candidates=(str(there),)) == "/custom/mysql.sock"


def test_explicit_variables_still_win(bare_env, monkeypatch) -> None:
    monkeypatch.setenv("PGHOST", "db.example")
    monkeypatch.setenv("PGUSER", "alice")
    pg = dkenv.get_target_config("postgres_local")
    assert (pg.host, pg.user, pg.database) == ("db.example", "alice", "alice")
    monkeypatch.setenv("MYSQL_PORT", "3310")
    my = dkenv.get_target_config("mysql_local")
    assert (my.host, my.port) == ("127.0.0.1", 3310)  # a port means TCP, as before
