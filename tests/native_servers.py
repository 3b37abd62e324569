"""Throwaway PostgreSQL and MariaDB servers started from the host's Debian packages.

The `postgres_local` and `mysql_local` targets connect to "an existing server"; these helpers
start such a server for the tests — in a temporary directory, on a free loopback port and a Unix
socket inside that directory — and stop it and delete every file on exit, also when the block
raises. No Docker is involved, so they run wherever `postgresql-15` / `mariadb-server` are
installed.

Use the context managers directly, or the session-scoped pytest fixtures `native_pg` and
`native_mariadb` (import them into a conftest or a test module). The fixtures skip the test when
the server binaries are not installed; any other failure to start is an error, not a skip.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

START_TIMEOUT = 60.0
POLL_INTERVAL = 0.05


class ServerStartError(RuntimeError):
    """The server process did not become ready; carries the tail of its log."""


@dataclass
class NativeServer:
    """Connection facts for a running native server."""

    engine: str  # "postgres" or "mysql"
    host: str
    port: int
    socket_dir: str
    socket_path: str
    user: str
    password: str
    database: str
    data_dir: str = field(repr=False, default="")

    def url(self, database: str | None = None) -> str:
        """SQLAlchemy URL over TCP, for `database` (default: the server's test database)."""
        driver = "postgresql+psycopg2" if self.engine == "postgres" else "mysql+pymysql"
        auth = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"{driver}://{auth}@{self.host}:{self.port}/{database or self.database}"

    def env(self) -> dict[str, str]:
        """The libpq-style / MYSQL_* variables the `*_local` targets read."""
        if self.engine == "postgres":
            return {
                "PGHOST": self.host,
                "PGPORT": str(self.port),
                "PGUSER": self.user,
                "PGPASSWORD": self.password,
                "PGDATABASE": self.database,
            }
        return {
            "MYSQL_HOST": self.host,
            "MYSQL_PORT": str(self.port),
            "MYSQL_USER": self.user,
            "MYSQL_PASSWORD": self.password,
            "MYSQL_DATABASE": self.database,
        }


PG_BIN_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)


def postgres_bin_dir() -> str | None:
    """The newest installed PostgreSQL bin directory holding initdb and postgres, if any."""
    for bin_dir in PG_BIN_DIRS:
        if os.access(os.path.join(bin_dir, "initdb"), os.X_OK) and os.access(
            os.path.join(bin_dir, "postgres"), os.X_OK
        ):
            return bin_dir
    return None


def mariadb_binaries() -> tuple[str, str] | None:
    """(install-db, server) executables, if MariaDB is installed."""
    install = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
    server = shutil.which("mariadbd") or next(
        (p for p in ("/usr/sbin/mariadbd", "/usr/sbin/mysqld") if os.access(p, os.X_OK)), None
    )
    return (install, server) if install and server else None


def free_port() -> int:
    """A currently free loopback port (racy by nature; acceptable for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _wait_ready(probe: Callable[[], None], proc: subprocess.Popen, log: Path, what: str) -> None:
    """Poll `probe` every POLL_INTERVAL until it stops raising, the process dies or time runs out."""
    deadline = time.monotonic() + START_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerStartError(
                f"{what} exited with code {proc.returncode} while starting; log:\n{_tail(log)}"
            )
        try:
            probe()
            return
        except Exception as exc:  # any connection error means "not yet"
            last_error = exc
            time.sleep(POLL_INTERVAL)
    raise ServerStartError(
        f"{what} not ready after {START_TIMEOUT:.0f}s (last error: {last_error}); log:\n{_tail(log)}"
    )


def _stop(proc: subprocess.Popen | None, sig: int) -> None:
    """Stop our own server process: `sig`, then SIGKILL if it lingers."""
    if proc is None or proc.poll() is not None:
        return
    try:
        proc.send_signal(sig)
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass


def _run(cmd: list[str], log: Path, **kwargs) -> None:
    with open(log, "ab") as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, **kwargs)
    if result.returncode != 0:
        raise ServerStartError(f"{cmd[0]} failed with code {result.returncode}; log:\n{_tail(log)}")


@contextmanager
def native_postgres(
    user: str = "postgres", password: str = "test", database: str = "test_db", *,
    socket_dir: str | None = None, auth_local: str = "trust",
) -> Iterator[NativeServer]:
    """Start a throwaway PostgreSQL cluster; yield its connection facts; remove it on exit.

    PostgreSQL refuses to run as root, so when we are root the cluster belongs to the `postgres`
    system user. TCP (127.0.0.1) requires the password (scram-sha-256); the Unix socket in the
    temp dir trusts local users. fsync is off: the data is disposable.
    ``socket_dir``: put the socket there instead (e.g. libpq's default, /var/run/postgresql;
    the port is a free one, so the socket's name is this cluster's own); ``auth_local``: the
    socket's authentication (``peer``: the OS user logs in as the role of the same name).
    """
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL server binaries not found under /usr/lib/postgresql")
    import psycopg2

    run_as: dict = {}
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        run_as = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
    tmp = Path(tempfile.mkdtemp(prefix="dkenv-pg-"))
    proc: subprocess.Popen | None = None
    try:
        if run_as:
            os.chown(tmp, run_as["user"], run_as["group"])
        log = tmp / "server.log"
        pwfile = tmp / "pwfile"
        pwfile.write_text(password + "\n")
        for path in (log, pwfile):
            path.touch()
            if run_as:
                os.chown(path, run_as["user"], run_as["group"])
        data = tmp / "data"
        _run(
            [
                f"{bin_dir}/initdb",
                "-D",
                str(data),
                "-U",
                user,
                f"--pwfile={pwfile}",
                f"--auth-local={auth_local}",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
                "--no-instructions",
            ],
            log,
            cwd=tmp,
            **run_as,
        )
        port = free_port()
        config = {
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": socket_dir or str(tmp),
            "fsync": "off",  # disposable data: no durability
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "50",
            "max_locks_per_transaction": "1024",  # create_all of ~1000 tables in one transaction
        }
        settings = [arg for key, value in config.items() for arg in ("-c", f"{key}={value}")]
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [
                    f"{bin_dir}/postgres",
                    "-D",
                    str(data),
                    "-p",
                    str(port),
                    *settings,
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=tmp,
                start_new_session=True,
                **run_as,
            )
        server = NativeServer(
            engine="postgres",
            host="127.0.0.1",
            port=port,
            socket_dir=socket_dir or str(tmp),
            socket_path=str(Path(socket_dir or tmp) / f".s.PGSQL.{port}"),
            user=user,
            password=password,
            database=database,
            data_dir=str(data),
        )

        def probe() -> None:
            psycopg2.connect(
                host=server.host,
                port=port,
                user=user,
                password=password,
                dbname="postgres",
                connect_timeout=2,
            ).close()

        _wait_ready(probe, proc, log, "postgres")
        conn = psycopg2.connect(
            host=server.host, port=port, user=user, password=password, dbname="postgres"
        )
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{database}"')
        finally:
            conn.close()
        yield server
    finally:
        _stop(proc, signal.SIGINT)  # SIGINT = PostgreSQL's "fast" shutdown
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def native_mariadb(
    user: str = "root", password: str = "test", database: str = "test_db"
) -> Iterator[NativeServer]:
    """Start a throwaway MariaDB server; yield its connection facts; remove it on exit.

    Durability settings are relaxed (no binlog, no log flush per commit, no doublewrite): the
    data is disposable. `user` gets `password` both on the socket and over TCP from 127.0.0.1.
    """
    binaries = mariadb_binaries()
    if binaries is None:
        raise FileNotFoundError("MariaDB binaries (mariadb-install-db, mariadbd) not found")
    install_db, mariadbd = binaries
    import pymysql

    tmp = Path(tempfile.mkdtemp(prefix="dkenv-mariadb-"))
    proc: subprocess.Popen | None = None
    as_root = os.geteuid() == 0
    user_opt = ["--user=root"] if as_root else []
    try:
        data = tmp / "data"
        log = tmp / "server.log"
        sock = tmp / "mysqld.sock"
        _run(
            [
                install_db,
                "--no-defaults",
                f"--datadir={data}",
                *user_opt,
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
                "--innodb-flush-log-at-trx-commit=0",
            ],
            log,
            cwd=tmp,
        )
        port = free_port()
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                [
                    mariadbd,
                    "--no-defaults",
                    *user_opt,
                    f"--datadir={data}",
                    f"--socket={sock}",
                    f"--port={port}",
                    "--bind-address=127.0.0.1",
                    f"--pid-file={tmp / 'mysqld.pid'}",
                    f"--tmpdir={tmp}",
                    "--skip-log-bin",
                    "--skip-name-resolve",
                    "--innodb-flush-log-at-trx-commit=0",
                    "--innodb-doublewrite=0",
                    "--innodb-buffer-pool-size=64M",
                    "--character-set-server=utf8mb4",
                    "--collation-server=utf8mb4_general_ci",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=tmp,
                start_new_session=True,
            )
        server = NativeServer(
            engine="mysql",
            host="127.0.0.1",
            port=port,
            socket_dir=str(tmp),
            socket_path=str(sock),
            user=user,
            password=password,
            database=database,
            data_dir=str(data),
        )

        def probe() -> None:
            pymysql.connect(
                unix_socket=str(sock), user="root", password="", connect_timeout=2
            ).close()

        _wait_ready(probe, proc, log, "mariadbd")
        conn = pymysql.connect(unix_socket=str(sock), user="root", password="", autocommit=True)
        try:
            with conn.cursor() as cur:
                for host in ("localhost", "127.0.0.1"):
                    account = f"'{user}'@'{host}'"
                    cur.execute(f"CREATE USER IF NOT EXISTS {account}")
                    cur.execute(f"ALTER USER {account} IDENTIFIED BY %s", (password,))
                    cur.execute(f"GRANT ALL PRIVILEGES ON *.* TO {account} WITH GRANT OPTION")
                cur.execute(f"CREATE DATABASE `{database}`")
        finally:
            conn.close()
        pymysql.connect(
            host=server.host, port=port, user=user, password=password, database=database
        ).close()
        yield server
    finally:
        _stop(proc, signal.SIGTERM)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="session")
def native_pg() -> Iterator[NativeServer]:
    """A PostgreSQL server for the whole session (one per xdist worker)."""
    if postgres_bin_dir() is None:
        pytest.skip("PostgreSQL server binaries not installed (apt-get install postgresql)")
    with native_postgres() as server:
        yield server


@pytest.fixture(scope="session", name="native_mariadb")
def native_mariadb_fixture() -> Iterator[NativeServer]:
    """A MariaDB server for the whole session (one per xdist worker).

    Registered as `native_mariadb`; the Python name differs only because the context manager
    of that name lives in this module too.
    """
    if mariadb_binaries() is None:
        pytest.skip("MariaDB server binaries not installed (apt-get install mariadb-server)")
    with native_mariadb() as server:
        yield server
