"""dkenv's own database images honour the official images' contract.

Builds (or reuses) ``dkenv/postgres:15`` and ``dkenv/mysql:mariadb-10.11`` with
:func:`dkenv.docker.images.build_image`, runs them with the Docker SDK on loopback ports, and checks
the environment variables, the log lines clients wait for, and testcontainers' unchanged
``PostgresContainer`` / ``MySqlContainer``. Every container started here is removed.
"""

from __future__ import annotations

import contextlib
import io
import re
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

docker = pytest.importorskip("docker")

from dkenv.docker.images import LOCAL_TAGS, build_image, image_exists, list_images  # noqa: E402

pytestmark = pytest.mark.docker

READY_TIMEOUT = 60.0
LABELS = {"dkenv.test": "test_images"}


# ------------------------------------------------------------------------------------------------
# fixtures and helpers


@pytest.fixture(scope="module")
def client() -> Any:
    try:
        c = docker.from_env()
        c.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no Docker engine: {exc}")
    return c


@pytest.fixture(scope="module")
def pg_image(client: Any) -> str:
    return build_image(client, "postgres")


@pytest.fixture(scope="module")
def mysql_image(client: Any) -> str:
    return build_image(client, "mysql")


@contextlib.contextmanager
def running(
    client: Any,
    image: str,
    port: str,
    env: dict[str, str],
    command: list[str] | None = None,
    files: dict[str, str] | None = None,
    tmpfs: str | None = None,
) -> Iterator[tuple[Any, int]]:
    """Start ``image`` with ``port`` published on 127.0.0.1; yield (container, host port).

    ``files`` ({path in the container: text}) are copied in before the container starts;
    ``tmpfs``: a path the container gets an empty tmpfs at (as dkenv's throwaway servers do).
    """
    container = client.containers.create(
        image,
        command=command,
        environment=env,
        ports={port: ("127.0.0.1", None)},
        labels=LABELS,
        **({"tmpfs": {tmpfs: "rw"}} if tmpfs else {}),
    )
    try:
        if files:
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w") as tar:
                for path, text in files.items():
                    data = text.encode()
                    info = tarfile.TarInfo(path.lstrip("/"))
                    info.size = len(data)
                    info.mode = 0o644
                    tar.addfile(info, io.BytesIO(data))
            container.put_archive("/", buf.getvalue())
        container.start()
        container.reload()
        bindings = (container.ports or {}).get(port)  # none if it already exited
        yield container, int(bindings[0]["HostPort"]) if bindings else 0
    finally:
        container.remove(force=True)


def pg_connect(port: int, user: str, password: str, dbname: str) -> Any:
    import psycopg2

    return psycopg2.connect(
        host="127.0.0.1", port=port, user=user, password=password, dbname=dbname, connect_timeout=5
    )


def my_connect(port: int, user: str, password: str, database: str | None = None) -> Any:
    import pymysql

    return pymysql.connect(
        host="127.0.0.1",
        port=port,
        user=user,
        password=password,
        database=database,
        connect_timeout=5,
    )


def retry(container: Any, fn: Any, timeout: float = READY_TIMEOUT) -> Any:
    """Call ``fn`` until it succeeds (the server is starting), failing with the container's log."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001
            container.reload()
            if container.status == "exited" or time.monotonic() > deadline:
                logs = container.logs().decode(errors="replace")
                raise AssertionError(f"not ready: {exc}\n--- container log ---\n{logs}") from exc
            time.sleep(0.05)


def wait_log(container: Any, pattern: str, count: int = 1, timeout: float = READY_TIMEOUT) -> str:
    deadline = time.monotonic() + timeout
    while True:
        logs = container.logs().decode(errors="replace")
        if len(re.findall(pattern, logs)) >= count:
            return logs
        container.reload()
        if container.status == "exited" or time.monotonic() > deadline:
            raise AssertionError(f"{pattern!r} x{count} not in the log:\n{logs}")
        time.sleep(0.02)


def wait_exit(container: Any, timeout: float = 30.0) -> tuple[int, str]:
    result = container.wait(timeout=timeout)
    return int(result["StatusCode"]), container.logs().decode(errors="replace")


def pid1(container: Any) -> tuple[str, str]:
    """(command, user) of the container's PID 1."""
    out = container.exec_run(["sh", "-c", "cat /proc/1/comm; stat -c %U /proc/1"], user="root")
    comm, user = out.output.decode().split()
    return comm, user


def scalar(conn: Any, sql: str) -> Any:
    with contextlib.closing(conn.cursor()) as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


# ------------------------------------------------------------------------------------------------
# building


def test_build_is_cached_and_labelled(client: Any, pg_image: str, mysql_image: str) -> None:
    assert pg_image == LOCAL_TAGS["postgres"] and mysql_image == LOCAL_TAGS["mysql"]
    started = time.monotonic()
    assert build_image(client, "postgres") == pg_image
    assert time.monotonic() - started < 15  # cached: an inspect, not the minutes of a build
    assert image_exists(client, pg_image) and not image_exists(client, "dkenv/nonexistent:0")
    rows = {row["tag"]: row for row in list_images(client)}
    assert rows[pg_image]["engine"] == "postgres"
    assert rows[mysql_image]["engine"] == "mysql"
    assert rows[pg_image]["size"] > 0 and rows[pg_image]["created"]


def test_an_image_from_an_older_build_context_is_built_again(client: Any, mysql_image: str, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A dkenv upgrade that changes a server setting reaches an image already on the machine."""
    import shutil

    from dkenv.docker.images import ENV_IMAGES_DIR, images_dir

    contexts = tmp_path / "images"
    shutil.copytree(images_dir(), contexts)
    monkeypatch.setenv(ENV_IMAGES_DIR, str(contexts))
    tag = "dkenv-test/stale-context:1"
    said: list[str] = []
    try:
        build_image(client, "mysql", tag=tag)  # the layers of the real image: cached
        first = client.images.get(tag).id
        assert build_image(client, "mysql", tag=tag, progress=said.append) == tag
        assert client.images.get(tag).id == first and not said  # same context: reused as it is
        cnf = contexts / "mysql" / "dkenv.cnf"
        cnf.write_text(cnf.read_text() + "# a setting changed by an upgrade\n")
        build_image(client, "mysql", tag=tag, progress=said.append)
        assert client.images.get(tag).id != first
        assert any("older build context" in line for line in said), said
    finally:
        client.images.remove(tag, force=True)


def test_unknown_engine_is_a_clear_error(client: Any) -> None:
    from dkenv.docker.images import ImageBuildError

    with pytest.raises(ImageBuildError, match="unknown engine 'oracle'"):
        build_image(client, "oracle")


# ------------------------------------------------------------------------------------------------
# PostgreSQL


@pytest.mark.postgres
def test_postgres_user_password_database(client: Any, pg_image: str) -> None:
    password = "p'w\"x\\y z"  # quotes, backslash, space: the entrypoint must quote them
    env = {"POSTGRES_USER": "dk user", "POSTGRES_PASSWORD": password, "POSTGRES_DB": "dk-db"}
    with running(client, pg_image, "5432/tcp", env) as (ct, port):
        conn = retry(ct, lambda: pg_connect(port, "dk user", password, "dk-db"))
        try:
            assert scalar(conn, "SELECT current_user") == "dk user"
            assert scalar(conn, "SELECT current_database()") == "dk-db"
            assert scalar(conn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            assert (
                scalar(
                    conn, "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'dk-db'"
                )
                == "dk user"
            )
            assert (
                scalar(conn, "SELECT count(*) FROM pg_database WHERE datname = 'dkenv_spare'") == 0
            )
            assert scalar(conn, "SHOW fsync") == "off"
            assert scalar(conn, "SHOW synchronous_commit") == "off"
            assert scalar(conn, "SHOW full_page_writes") == "off"
            assert scalar(conn, "SHOW server_version").startswith("15.")
            with contextlib.closing(conn.cursor()) as cur:
                cur.execute("CREATE TABLE t (id int primary key, name text)")
                cur.execute("INSERT INTO t VALUES (1, 'a')")
                cur.execute("SELECT name FROM t")
                assert cur.fetchone() == ("a",)
        finally:
            conn.close()
        import psycopg2

        with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
            pg_connect(port, "dk user", "wrong", "dk-db")
        assert pid1(ct) == ("postgres", "postgres")  # the server is PID 1, as postgres


@pytest.mark.postgres
def test_postgres_on_an_empty_tmpfs_starts_from_the_image_s_cluster(client: Any, pg_image: str) -> None:
    """dkenv's throwaway servers keep their data in memory: the entrypoint copies the cluster
    initialised at build time in (no initdb), and the credentials are applied as usual."""
    env = {"POSTGRES_USER": "dk", "POSTGRES_PASSWORD": "pw", "POSTGRES_DB": "dkdb"}
    with running(client, pg_image, "5432/tcp", env, tmpfs="/var/lib/postgresql/data") as (ct, port):
        conn = retry(ct, lambda: pg_connect(port, "dk", "pw", "dkdb"))
        try:
            assert scalar(conn, "SELECT current_database()") == "dkdb"
            assert scalar(conn, "SELECT count(*) FROM pg_database WHERE datname = 'dkenv_spare'") == 0
        finally:
            conn.close()
        kind = ct.exec_run(["stat", "-f", "-c", "%T", "/var/lib/postgresql/data"]).output.decode().strip()
        assert kind == "tmpfs"
        assert "initialising a new cluster" not in ct.logs().decode(errors="replace")
        assert pid1(ct) == ("postgres", "postgres")


@pytest.mark.postgres
def test_postgres_defaults(client: Any, pg_image: str) -> None:
    with running(client, pg_image, "5432/tcp", {"POSTGRES_PASSWORD": "pw"}) as (ct, port):
        conn = retry(ct, lambda: pg_connect(port, "postgres", "pw", "postgres"))
        try:
            assert scalar(conn, "SELECT current_user") == "postgres"
            assert (
                scalar(conn, "SELECT count(*) FROM pg_database WHERE datname = 'dkenv_spare'") == 0
            )
        finally:
            conn.close()


@pytest.mark.postgres
def test_postgres_ready_line_means_login_works(client: Any, pg_image: str) -> None:
    """A client that waits for the official log line connects at the first attempt."""
    env = {"POSTGRES_USER": "u", "POSTGRES_PASSWORD": "pw", "POSTGRES_DB": "d"}
    with running(client, pg_image, "5432/tcp", env) as (ct, port):
        logs = wait_log(ct, r"database system is ready to accept connections")
        assert logs.count("database system is ready to accept connections") == 1
        pg_connect(port, "u", "pw", "d").close()  # no retry


@pytest.mark.postgres
def test_postgres_extra_server_args(client: Any, pg_image: str) -> None:
    for command in (["postgres", "-c", "max_connections=42"], ["-c", "max_connections=42"]):
        with running(client, pg_image, "5432/tcp", {"POSTGRES_PASSWORD": "pw"}, command) as (
            ct,
            port,
        ):
            conn = retry(ct, lambda port=port: pg_connect(port, "postgres", "pw", "postgres"))
            try:
                assert scalar(conn, "SHOW max_connections") == "42"
            finally:
                conn.close()


@pytest.mark.postgres
def test_postgres_initdb_scripts(client: Any, pg_image: str) -> None:
    files = {
        "/docker-entrypoint-initdb.d/01-seed.sql": "CREATE TABLE seeded (x int); INSERT INTO seeded VALUES (7);\n"
    }
    env = {"POSTGRES_USER": "u", "POSTGRES_PASSWORD": "pw", "POSTGRES_DB": "d"}
    with running(client, pg_image, "5432/tcp", env, files=files) as (ct, port):
        conn = retry(ct, lambda: pg_connect(port, "u", "pw", "d"))
        try:
            assert scalar(conn, "SELECT x FROM seeded") == 7
        finally:
            conn.close()


@pytest.mark.postgres
def test_postgres_without_password_refuses_to_start(client: Any, pg_image: str) -> None:
    with running(client, pg_image, "5432/tcp", {}) as (ct, _port):
        code, logs = wait_exit(ct)
    assert code != 0
    assert "POSTGRES_PASSWORD" in logs


# ------------------------------------------------------------------------------------------------
# MySQL (MariaDB)

MYSQL_ENV = {
    "MYSQL_ROOT_PASSWORD": "r00t'pw",
    "MYSQL_DATABASE": "dk_db",
    "MYSQL_USER": "dk",
    "MYSQL_PASSWORD": 'dk\\pw"',
}


@pytest.mark.mysql
def test_mysql_root_user_database(client: Any, mysql_image: str) -> None:
    with running(client, mysql_image, "3306/tcp", MYSQL_ENV) as (ct, port):
        root = retry(
            ct, lambda: my_connect(port, "root", MYSQL_ENV["MYSQL_ROOT_PASSWORD"], "dk_db")
        )
        try:
            assert scalar(root, "SELECT DATABASE()") == "dk_db"
            assert "MariaDB" in scalar(root, "SELECT VERSION()")
            assert scalar(root, "SELECT @@innodb_flush_log_at_trx_commit") == 0
            assert scalar(root, "SELECT @@log_bin") == 0
            assert scalar(root, "SELECT @@skip_name_resolve") == 1
            # no passwordless root, no anonymous users left from mariadb-install-db
            assert scalar(root, "SELECT COUNT(*) FROM mysql.user WHERE User = ''") == 0
            assert (
                scalar(
                    root,
                    "SELECT COUNT(*) FROM mysql.user WHERE User = 'root' AND Host NOT IN ('localhost', '%')",
                )
                == 0
            )
        finally:
            root.close()
        user = my_connect(port, "dk", MYSQL_ENV["MYSQL_PASSWORD"], "dk_db")
        try:
            with contextlib.closing(user.cursor()) as cur:
                cur.execute("CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(10))")
                cur.execute("INSERT INTO t VALUES (1, 'a')")
                cur.execute("SELECT name FROM t")
                assert cur.fetchone() == ("a",)
                # dkenv creates one database per schema: the user may create databases
                cur.execute("CREATE DATABASE dk_other")
        finally:
            user.close()
        import pymysql

        with pytest.raises(pymysql.err.OperationalError, match="Access denied"):
            my_connect(port, "root", "wrong")
        assert pid1(ct) == ("mariadbd", "mysql")  # the server is PID 1, as mysql


@pytest.mark.mysql
def test_mysql_on_an_empty_tmpfs_starts_from_the_image_s_data_directory(client: Any, mysql_image: str) -> None:
    """As on PostgreSQL: the data directory initialised at build time is copied in (no
    mariadb-install-db), then the credentials are applied."""
    env = {"MYSQL_ROOT_PASSWORD": "pw", "MYSQL_DATABASE": "dkdb"}
    with running(client, mysql_image, "3306/tcp", env, tmpfs="/var/lib/mysql") as (ct, port):
        conn = retry(ct, lambda: my_connect(port, "root", "pw", "dkdb"))
        try:
            assert scalar(conn, "SELECT DATABASE()") == "dkdb"
        finally:
            conn.close()
        kind = ct.exec_run(["stat", "-f", "-c", "%T", "/var/lib/mysql"]).output.decode().strip()
        assert kind == "tmpfs"
        assert "initialising a new data directory" not in ct.logs().decode(errors="replace")


@pytest.mark.mysql
def test_mysql_mariadb_variable_names(client: Any, mysql_image: str) -> None:
    env = {
        "MARIADB_ROOT_PASSWORD": "mpw",
        "MARIADB_DATABASE": "mdb",
        "MYSQL_ROOT_PASSWORD": "ignored",
    }
    with running(client, mysql_image, "3306/tcp", env) as (ct, port):
        conn = retry(ct, lambda: my_connect(port, "root", "mpw", "mdb"))
        conn.close()


@pytest.mark.mysql
def test_mysql_random_and_empty_root_password(client: Any, mysql_image: str) -> None:
    with running(client, mysql_image, "3306/tcp", {"MYSQL_RANDOM_ROOT_PASSWORD": "yes"}) as (
        ct,
        port,
    ):
        logs = wait_log(ct, r"GENERATED ROOT PASSWORD: \S+")
        password = re.search(r"GENERATED ROOT PASSWORD: (\S+)", logs).group(1)
        retry(ct, lambda: my_connect(port, "root", password)).close()
    with running(client, mysql_image, "3306/tcp", {"MYSQL_ALLOW_EMPTY_PASSWORD": "yes"}) as (
        ct,
        port,
    ):
        retry(ct, lambda: my_connect(port, "root", "")).close()


@pytest.mark.mysql
def test_mysql_ready_lines_mean_login_works(client: Any, mysql_image: str) -> None:
    """Both "ready for connections" lines (see the entrypoint) come after the credentials work."""
    with running(client, mysql_image, "3306/tcp", MYSQL_ENV) as (ct, port):
        logs = wait_log(ct, r": ready for connections", count=2)
        my_connect(port, "dk", MYSQL_ENV["MYSQL_PASSWORD"], "dk_db").close()  # no retry
        assert "[ERROR]" not in logs


@pytest.mark.mysql
def test_mysql_initdb_scripts(client: Any, mysql_image: str) -> None:
    files = {
        "/docker-entrypoint-initdb.d/01-seed.sql": "CREATE TABLE seeded (x INT);\nINSERT INTO seeded VALUES (7);\n"
    }
    with running(client, mysql_image, "3306/tcp", MYSQL_ENV, files=files) as (ct, port):
        conn = retry(ct, lambda: my_connect(port, "dk", MYSQL_ENV["MYSQL_PASSWORD"], "dk_db"))
        try:
            assert scalar(conn, "SELECT x FROM seeded") == 7
        finally:
            conn.close()


@pytest.mark.mysql
def test_mysql_without_password_refuses_to_start(client: Any, mysql_image: str) -> None:
    with running(client, mysql_image, "3306/tcp", {"MYSQL_DATABASE": "x"}) as (ct, _port):
        code, logs = wait_exit(ct)
    assert code != 0
    assert "MYSQL_ROOT_PASSWORD" in logs


# ------------------------------------------------------------------------------------------------
# testcontainers, unchanged


@pytest.fixture
def tc_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """testcontainers on this kind of machine: no Ryuk, connect to the published port on loopback."""
    pytest.importorskip("testcontainers")
    monkeypatch.setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
    monkeypatch.setenv("TESTCONTAINERS_CONNECTION_MODE", "docker_host")
    monkeypatch.setenv("TC_HOST", "127.0.0.1")
    # testcontainers reads some of these when it is first imported: set them on its config too.
    from testcontainers.core import config as tc_config

    cfg = tc_config.testcontainers_config
    monkeypatch.setattr(cfg, "ryuk_disabled", True)
    monkeypatch.setattr(cfg, "tc_host_override", "127.0.0.1")
    monkeypatch.setattr(cfg, "connection_mode_override", tc_config.ConnectionMode.docker_host)


def _loopback_only(container: Any, port: int) -> None:
    container.ports[str(port)] = ("127.0.0.1", None)  # publish on 127.0.0.1 only


@pytest.mark.postgres
def test_testcontainers_postgres(tc_env: None, pg_image: str) -> None:
    import sqlalchemy

    try:  # newer testcontainers 4.x moved the modules (the old names warn)
        from testcontainers.community.postgres import PostgresContainer
    except ImportError:
        from testcontainers.postgres import PostgresContainer

    pg = PostgresContainer(image=pg_image)
    _loopback_only(pg, 5432)
    with pg:
        engine = sqlalchemy.create_engine(pg.get_connection_url())
        try:
            with engine.connect() as conn:
                assert conn.execute(sqlalchemy.text("SELECT current_database()")).scalar() == "test"
        finally:
            engine.dispose()


@pytest.mark.mysql
@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # the default wait (two "ready for connections" lines) works unchanged
        {"wait_strategy_check_string": r".*: ready for connections.*"},  # one line is enough here
    ],
    ids=["default-wait", "single-line-wait"],
)
def test_testcontainers_mysql(tc_env: None, mysql_image: str, kwargs: dict[str, str]) -> None:
    import sqlalchemy

    try:
        from testcontainers.community.mysql import MySqlContainer
    except ImportError:
        from testcontainers.mysql import MySqlContainer

    my = MySqlContainer(image=mysql_image, dialect="pymysql", **kwargs)
    _loopback_only(my, 3306)
    with my:
        engine = sqlalchemy.create_engine(my.get_connection_url())
        try:
            with engine.connect() as conn:
                assert conn.execute(sqlalchemy.text("SELECT DATABASE()")).scalar() == "test"
                assert conn.execute(sqlalchemy.text("SELECT 1")).scalar() == 1
        finally:
            engine.dispose()
