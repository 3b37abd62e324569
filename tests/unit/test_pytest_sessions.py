"""The pieces of shared and recovered session servers that need no Docker engine."""

from __future__ import annotations

import os
import socket
from types import SimpleNamespace

import pytest

from dkenv.docker import labels as L
from dkenv.testing import recovery as pytest_recovery
from dkenv.testing import xdist as pytest_xdist


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_labels_name_another_owner_and_carry_the_run() -> None:
    labels = L.build(name="n", engine="postgres", user="u", database="d", container_port=5432, ttl=None,
                     persistent=False, digest="x", owner_pid=os.getppid(),
                     extra={L.RUN: "abc", L.SHARE: "dkenv_postgres-1"})
    assert labels[L.OWNER_PID] == str(os.getppid())
    assert labels[L.OWNER_START] == L.process_start(os.getppid()) != ""
    assert labels[L.RUN] == "abc" and labels[L.SHARE] == "dkenv_postgres-1"
    kept = L.build(name="n", engine="postgres", user="u", database="d", container_port=5432, ttl=None,
                   persistent=True, digest="x", owner_pid=os.getppid())
    assert kept[L.OWNER_PID] == "0"  # a kept server has no owner, whoever asked


def test_the_run_comes_from_the_controller_and_only_workers_have_one() -> None:
    assert pytest_xdist.current_run(SimpleNamespace()) is None  # not a worker
    worker = SimpleNamespace(workerinput={"testrunuid": "r1", pytest_xdist.CONTROLLER_PID: 4242})
    assert pytest_xdist.current_run(worker) == pytest_xdist.Run("r1", 4242)


def test_share_keys_differ_by_fixture_and_configuration_only() -> None:
    key = pytest_xdist.share_key("dkenv_postgres", "postgres", "img", {"env": {"A": "1"}})
    assert key == pytest_xdist.share_key("dkenv_postgres", "postgres", "img", {"env": {"A": "1"}})
    assert key.startswith("dkenv_postgres-")
    assert key != pytest_xdist.share_key("pg16", "postgres", "img", {"env": {"A": "1"}})
    assert key != pytest_xdist.share_key("dkenv_postgres", "postgres", "img", {"env": {"A": "2"}})


def test_a_driver_error_on_an_unreachable_watched_server_reads_as_one_line() -> None:
    sqlalchemy_exc = pytest.importorskip("sqlalchemy.exc")
    server = SimpleNamespace(engine="postgres", name="dkenv-postgres-abc", host="127.0.0.1", port=_closed_port())
    driver = sqlalchemy_exc.OperationalError("SELECT 1", {}, Exception("server closed the connection\nmore"))
    pytest_recovery.watch(server, relaunch=lambda: None, factory_options={})
    try:
        message = pytest_recovery.lost_server_message(RuntimeError("an assertion of the app"))
        assert message is None  # not a driver error: left as it is
        try:
            raise RuntimeError("in the app") from driver
        except RuntimeError as exc:
            message = pytest_recovery.lost_server_message(exc)
        assert message is not None and "\n" not in message
        assert message.startswith("dkenv: the postgres server dkenv-postgres-abc went away during this test")
        assert "OperationalError: server closed the connection" in message
    finally:
        pytest_recovery.unwatch(server)


def test_a_driver_error_while_the_server_answers_is_the_tests_own() -> None:
    sqlalchemy_exc = pytest.importorskip("sqlalchemy.exc")
    with socket.create_server(("127.0.0.1", 0)) as listener:
        server = SimpleNamespace(engine="postgres", name="s", host="127.0.0.1", port=listener.getsockname()[1])
        pytest_recovery.watch(server, relaunch=lambda: None, factory_options={})
        try:
            error = sqlalchemy_exc.ProgrammingError("SELECT nope", {}, Exception("syntax error"))
            assert pytest_recovery.lost_server_message(error) is None
            pytest_recovery.ensure_alive(server)  # reachable: nothing to recover
        finally:
            pytest_recovery.unwatch(server)
