"""The test databases' own connections to a MySQL/MariaDB container dkenv started (lent to
tests, resets) reach it through a Unix socket in a folder of this machine
(:mod:`dkenv.engines.side_door`), not through Docker's port proxy; users' URLs and deploys keep
the TCP port.  On real MariaDB containers and a real engine:
the door is used, follows a restarted container to its new port, and its folder goes with the
container (removed, or reaped after its owner was killed).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from dkenv.engines.side_door import close_door, open_door, side_door, socket_folder, socket_root
from tests.integration.test_lifecycle import child, exists, wait_for

ROOT = Path(__file__).resolve().parents[2]
KITS = [ROOT / "examples" / "bronze-pagila"]



def on_mysql(test):
    """A test on real MariaDB containers, in a Docker scope of its own."""
    for mark in (pytest.mark.docker, pytest.mark.mysql, pytest.mark.usefixtures("local_images", "scope")):
        test = mark(test)
    return test


@pytest.mark.docker
@pytest.mark.postgres
@pytest.mark.usefixtures("local_images", "scope")
def test_postgres_test_databases_are_reached_through_the_socket_and_users_through_the_port() -> None:
    import dkenv

    client_address = text("SELECT inet_client_addr()")  # NULL through a Unix socket
    with dkenv.ephemeral("postgres", progress=False) as server:
        folder = server.socket_folder
        assert folder and Path(folder, ".s.PGSQL.5432").exists()
        with server.database(datakits=KITS) as db:
            engine = db.create_engine()
            try:
                with engine.connect() as conn:  # the lent connection dkenv opened
                    assert conn.execute(client_address).scalar() is None
                    assert conn.execute(text("SELECT current_user")).scalar() == server.user  # same role
            finally:
                engine.dispose()
            plain = create_engine(db.url)
            try:
                with plain.connect() as conn:
                    assert conn.execute(client_address).scalar() is not None
            finally:
                plain.dispose()
    assert not Path(folder).exists()


def _who(conn) -> str:
    """How the server sees the session: ``root@localhost`` through the socket, an address through TCP."""
    return conn.execute(text("SELECT USER()")).scalar()


@on_mysql
def test_dkenv_reaches_its_mysql_container_through_the_socket_and_users_through_the_port() -> None:
    import dkenv
    from dkenv.engines.mysql import loopback_args

    with dkenv.ephemeral("mysql", progress=False) as server:
        folder = server.socket_folder
        assert folder and Path(folder, "mysqld.sock").exists()
        assert "unix_socket" not in server.url and str(server.port) in server.url
        assert loopback_args(server.url, side_door=True)["unix_socket"] == os.path.join(folder, "mysqld.sock")
        # Deploys and users' own engines keep the port: through the socket root is root@localhost,
        # the definer of what a session creates.
        assert "unix_socket" not in loopback_args(server.url)
        with server.database(datakits=KITS) as db:
            country = f"{db.schema_map['br__pagila__public']}.country"  # a test's schemas are databases
            engine = db.create_engine()
            try:
                with engine.connect() as conn:  # the lent connection dkenv opened
                    assert conn.connection.dbapi_connection.unix_socket.endswith("mysqld.sock")
                    assert _who(conn).endswith("@localhost")
                    conn.execute(text(f"INSERT INTO {country} (country) VALUES ('x')"))
                    conn.commit()
            finally:
                engine.dispose()
            plain = create_engine(db.url)  # what a user's own engine does with the URL: TCP
            try:
                with plain.connect() as conn:
                    assert not _who(conn).endswith("@localhost")
                    assert conn.execute(text(f"SELECT COUNT(*) FROM {country}")).scalar() == 1
            finally:
                plain.dispose()
        host, port = server.host, server.port
    assert not Path(folder).exists()  # the folder goes with the container
    assert side_door(host, port) is None


@on_mysql
def test_a_restarted_container_is_reached_through_its_socket_on_its_new_port(client) -> None:
    import dkenv
    from dkenv.servers.lifecycle import refresh

    with dkenv.ephemeral("mysql", progress=False) as server:
        old = server.port
        client.api.restart(server.container, timeout=0)
        assert refresh(server) == "running"
        if server.port != old:  # Docker gave it another host port: the old one is not its any more
            assert side_door(server.host, old) is None
        assert side_door(server.host, server.port) == os.path.join(server.socket_folder, "mysqld.sock")
        with server.database(datakits=KITS) as db:
            engine = db.create_engine()
            try:
                with engine.connect() as conn:
                    assert _who(conn).endswith("@localhost")
            finally:
                engine.dispose()


@on_mysql
def test_the_reaper_removes_a_killed_owner_s_socket_folder(client) -> None:
    from dkenv.servers.lifecycle import reap_abandoned

    proc = child("""
        import time
        from dkenv.servers.lifecycle import start
        server = start("mysql", progress=False)
        print(server.container, server.socket_folder, flush=True)
        time.sleep(120)
    """)
    try:
        cid, folder = proc.stdout.readline().split()
        assert Path(folder, "mysqld.sock").exists()
        proc.send_signal(signal.SIGKILL)
        wait_for(lambda: open(f"/proc/{proc.pid}/stat").read().split(")")[-1].split()[0] == "Z")
        reap_abandoned(client, note=None)
    finally:
        proc.kill()
        proc.communicate()
    assert not exists(client, cid)
    # Under pytest-xdist another worker's reaper may have removed the container first; its folder
    # is removed by whichever reaper removed the container.
    wait_for(lambda: not Path(folder).exists(), timeout=30)


def test_a_door_is_used_only_while_its_socket_is_there(tmp_path) -> None:
    sock = tmp_path / "mysqld.sock"
    open_door("127.0.0.1", 65001, str(sock))
    try:
        assert side_door("127.0.0.1", 65001) is None  # the server has not made it (yet, or any more)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(sock))
        listener.listen(1)
        try:
            assert side_door("127.0.0.1", 65001) == str(sock)
        finally:
            listener.close()
        assert side_door("127.0.0.1", 65002) is None and side_door("127.0.0.1", None) is None
    finally:
        close_door("127.0.0.1", 65001)
    assert side_door("127.0.0.1", 65001) is None


def test_a_socket_path_too_long_for_the_kernel_means_no_door(tmp_path) -> None:
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    assert socket_folder(deep) is None
    open_door("127.0.0.1", 65003, str(deep / "mysqld.sock"))
    (deep / "mysqld.sock").write_text("")
    assert side_door("127.0.0.1", 65003) is None


def test_a_socket_file_that_accepts_no_connection_is_no_door(tmp_path) -> None:
    """As with an engine running containers in a virtual machine: the file is there, the server is not."""
    sock = tmp_path / "s.sock"
    sock.write_text("")
    open_door("127.0.0.1", 65004, str(sock))
    try:
        assert side_door("127.0.0.1", 65004) is None
    finally:
        close_door("127.0.0.1", 65004)
    folder = socket_folder()  # in this user's short, private directory
    try:
        assert folder is not None and folder.stat().st_mode & 0o777 == 0o777  # the server's user writes there
        assert folder.parent == socket_root() and folder.parent.stat().st_mode & 0o777 == 0o700
    finally:
        shutil.rmtree(folder)


def test_folders_no_container_names_are_swept_once_old(tmp_path) -> None:
    """Left by containers removed by hand: swept by the reaper once a day old; a folder a
    container names, a new one (a container being created), and anything not dkenv's stay."""
    import time

    from dkenv.engines.side_door import remove_socket_folder, sweep_socket_folders

    old, named, new = socket_folder(), socket_folder(), socket_folder()
    stranger = tmp_path / "not-ours"
    stranger.mkdir()
    try:
        day_ago = time.time() - 25 * 3600
        for folder in (old, named):
            os.utime(folder, (day_ago, day_ago))
        sweep_socket_folders({str(named)})
        assert not old.exists() and named.exists() and new.exists()
        remove_socket_folder(str(stranger))  # a label naming a folder that is not one of ours
        assert stranger.exists()
    finally:
        for folder in (old, named, new):
            shutil.rmtree(folder, ignore_errors=True)


@on_mysql
def test_a_container_removed_through_its_labels_takes_its_socket_folder(client) -> None:
    """What the reaper and xdist's controller do: remove by id, the folder named by its label."""
    from dkenv.docker.containers import remove
    from dkenv.servers.lifecycle import start

    server = start("mysql", progress=False)
    try:
        label = client.api.inspect_container(server.container)["Config"]["Labels"]["dkenv.socket"]
        assert label == server.socket_folder and Path(label).exists()
        assert remove(client, server.container, socket_folder=label)
        assert not Path(label).exists()
    finally:
        server.stop()
