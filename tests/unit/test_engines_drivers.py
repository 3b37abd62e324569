"""A URL without a driver connects through the driver that is installed, not SQLAlchemy's fixed default."""

from __future__ import annotations

import importlib.util

import pytest

from dkenv.engines import drivers
from dkenv.engines.drivers import with_installed_driver
from dkenv.errors import EnvironmentFailure


def test_plain_urls_get_the_installed_driver() -> None:
    assert importlib.util.find_spec("psycopg2") is not None and importlib.util.find_spec("pymysql") is not None
    assert with_installed_driver("postgresql://u:p%40ss@127.0.0.1:5433/db") == (
        "postgresql+psycopg2://u:p%40ss@127.0.0.1:5433/db")
    assert with_installed_driver("mysql://root:pw@127.0.0.1/db?charset=utf8mb4") == (
        "mysql+pymysql://root:pw@127.0.0.1/db?charset=utf8mb4")
    assert with_installed_driver("mariadb://root@h/db") == "mariadb+pymysql://root@h/db"


def test_a_named_driver_and_sqlite_are_left_alone() -> None:
    for url in ("postgresql+psycopg://u@h/db", "mysql+mysqldb://u@h/db", "sqlite:///x.db", "sqlite://"):
        assert with_installed_driver(url) == url


def test_psycopg3_alone_is_used_and_no_driver_at_all_is_an_environment_failure(monkeypatch) -> None:
    """Which drivers are installed is the one thing faked: this machine has psycopg2."""
    drivers._installed.cache_clear()  # noqa: SLF001
    monkeypatch.setattr(drivers, "_installed", lambda module: module == "psycopg")
    assert with_installed_driver("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    with pytest.raises(EnvironmentFailure) as info:
        with_installed_driver("mysql://u:secret@h/db")
    assert info.value.exit_code == 3
    assert "secret" not in info.value.message and "no mysql driver is installed" in info.value.message
    assert info.value.hint == "pip install pymysql or mysqlclient"
