"""Targets and precedence: flag > DKENV_* > config file > default."""

from __future__ import annotations

import pytest

import dkenv
from dkenv.config import resolve_target
from dkenv.errors import ConfigError, UsageError


def test_builtin_targets():
    assert dkenv.get_ci_target().name == "sqlite_memory"
    assert dkenv.get_development_target().name == "postgres_local"
    assert dkenv.get_integration_target().kind == "container"


def test_custom_target_is_dict_like():
    config = dkenv.create_custom_target("postgres", "test_db", host="localhost", port=5433,
                                        user="postgres", password="test")
    assert config["db_type"] == "postgres" and config["port"] == 5433 and config["database"] == "test_db"
    assert config.port == 5433


def test_unknown_target_name():
    with pytest.raises(ConfigError, match="unknown target 'nope'"):
        dkenv.get_target_config("nope")


@pytest.mark.parametrize("port", ["0", "70000", "abc", "-1"])
def test_bad_ports(port):
    with pytest.raises(UsageError):
        resolve_target(target_type="postgres", port=port)


def test_precedence(tmp_path, monkeypatch):
    (tmp_path / "dkenv.toml").write_text(
        'default_target = "wh"\n[targets.wh]\ntype = "postgres"\nhost = "filehost"\nport = 6000\n'
    )
    monkeypatch.chdir(tmp_path)
    assert resolve_target().host == "filehost"  # file > default
    monkeypatch.setenv("DKENV_HOST", "envhost")
    target = resolve_target()
    assert (target.name, target.host, target.port) == ("wh", "envhost", 6000)  # env > file
    assert resolve_target(host="flaghost").host == "flaghost"  # flag > env
    monkeypatch.setenv("DKENV_TARGET", "sqlite_file")
    assert resolve_target().name == "sqlite_file"  # env > file
    assert resolve_target(name="sqlite_memory").name == "sqlite_memory"  # flag > env


def test_pyproject_tool_section(tmp_path, monkeypatch):
    (tmp_path / "pyproject.toml").write_text('[project]\nname="x"\n[tool.dkenv]\ndefault_target = "sqlite_file"\n')
    monkeypatch.chdir(tmp_path)
    assert resolve_target().name == "sqlite_file"


def test_malformed_config_names_file_and_line(tmp_path, monkeypatch):
    (tmp_path / "dkenv.toml").write_text('[targets.wh]\ntype = "postgres"\nport = = 5\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        resolve_target()
    assert f"{tmp_path / 'dkenv.toml'}:3" in str(info.value)


def test_local_targets_read_libpq_and_mysql_env(monkeypatch):
    monkeypatch.setenv("PGHOST", "/run/pg")
    monkeypatch.setenv("PGPORT", "5444")
    monkeypatch.setenv("PGUSER", "alice")
    monkeypatch.setenv("PGDATABASE", "wh")
    pg = dkenv.get_target_config("postgres_local")
    assert (pg.host, pg.port, pg.user, pg.database) == ("/run/pg", 5444, "alice", "wh")
    assert pg.engine.url(host=pg.host, port=pg.port, user=pg.user, database=pg.database) == \
        "postgresql+psycopg2://alice@/wh?host=/run/pg&port=5444"
    monkeypatch.setenv("MYSQL_HOST", "db.local")
    monkeypatch.setenv("MYSQL_PORT", "3310")
    my = dkenv.get_target_config("mysql_local")
    assert (my.host, my.port) == ("db.local", 3310)


def test_malformed_url():
    with pytest.raises(UsageError, match="malformed --url"):
        resolve_target(url="not a url")
    with pytest.raises(UsageError, match="unsupported database"):
        resolve_target(url="oracle://x/y")


def test_images_precedence(tmp_path, monkeypatch):
    from dkenv.config import image_for

    monkeypatch.delenv("DKENV_POSTGRES_IMAGE", raising=False)
    assert image_for("postgres") == "postgres:16"
    (tmp_path / "dkenv.toml").write_text('[images]\npostgres = "file/pg:1"\n')
    monkeypatch.chdir(tmp_path)
    assert image_for("postgres") == "file/pg:1"
    monkeypatch.setenv("DKENV_POSTGRES_IMAGE", "env/pg:2")
    assert image_for("postgres") == "env/pg:2"
    assert image_for("postgres", explicit="flag/pg:3") == "flag/pg:3"
