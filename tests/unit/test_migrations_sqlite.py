"""Migrations as a source of truth, on SQLite (no Docker): build from the Alembic history
(deploy, isolated databases, the marker, environments), templates keyed by the history,
`dkenv migrations check` (the drift matrix, heads, downgrade leftovers), `validate --strict`,
and every bad input of issue 20 (one or two lines, the right exit code, nothing half-built)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from dkenv.databases import DatabaseFactory
from dkenv.datakit import load_datakit
from dkenv.migrations.check import check_engine
from dkenv.testing import migrations_check
from tests.migrations_support import (
    DRIFT,
    ROOT,
    SHOP,
    add_revision,
    copy_shop,
    drifted,
    edit,
    sample_data,
)

pytest.importorskip("alembic")

pytest_plugins = ["pytester"]


def tables_of(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def version_of(url: str) -> str | None:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------
# Building from migrations
# ---------------------------------------------------------------------------
def test_deploy_from_migrations_builds_what_the_models_describe(dk, tmp_path):
    db = tmp_path / "shop.db"
    result = dk("deploy", SHOP, "--from", "migrations", "--url", f"sqlite:///{db}", "--validate", "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["validation"]["success"] is True
    assert sorted(doc["created"]) == ["customers", "orders"]
    assert tables_of(db) == {"alembic_version", "customers", "orders"}
    assert version_of(f"sqlite:///{db}") == "0003"
    with sqlite3.connect(db) as conn:  # revision 0002's server default is there
        conn.execute("INSERT INTO customers (email, name) VALUES ('a@x', 'A')")
        assert conn.execute("SELECT tier FROM customers").fetchone() == ("standard",)


def test_deploy_from_models_stays_the_default(dk, tmp_path):
    db = tmp_path / "shop.db"
    assert dk("deploy", SHOP, "--url", f"sqlite:///{db}").code == 0
    assert tables_of(db) == {"customers", "orders"}  # create_all: no alembic_version


def test_isolated_databases_from_migrations_reuse_the_template_until_a_revision_is_added(tmp_path):
    kit = copy_shop(tmp_path)
    folder = tmp_path / "dbs"
    folder.mkdir()
    url = f"sqlite:///{folder / 'server.db'}"
    with DatabaseFactory(url, ready=0) as factory:
        with factory.database([kit], build="migrations") as db:
            assert version_of(db.url) == "0003"
            assert db.validate().success
        first = factory.pool([kit], build="migrations").builder
        assert not first.template_reused
    with DatabaseFactory(url, ready=0) as factory:  # a new process would see the same files
        factory.database([kit], build="migrations").drop()
        again = factory.pool([kit], build="migrations").builder
        assert again.template_reused and again.template_main == first.template_main
    add_revision(kit, "0004", "0003", 'op.add_column("orders", sa.Column("note", sa.String(40)))',
                 'op.drop_column("orders", "note")')
    with DatabaseFactory(url, ready=0) as factory:
        with factory.database([kit], build="migrations") as db:
            assert version_of(db.url) == "0004"
        rebuilt = factory.pool([kit], build="migrations").builder
        assert not rebuilt.template_reused and rebuilt.template_main != first.template_main


def test_models_and_migrations_builds_get_pools_of_their_own(tmp_path):
    with DatabaseFactory(f"sqlite:///{tmp_path / 's.db'}", ready=0) as factory:
        with factory.database([SHOP]) as models, factory.database([SHOP], build="migrations") as migrated:
            assert "alembic_version" not in tables_of(Path(sa.engine.make_url(models.url).database))
            assert version_of(migrated.url) == "0003"


def test_data_files_load_after_the_migrations(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "customers.csv").write_text("id,email,name,tier\n1,a@example.com,Ann,gold\n")
    (data / "orders.csv").write_text("id,customer_id,status,quantity\n1,1,cancelled,2\n")
    with DatabaseFactory(f"sqlite:///{tmp_path / 's.db'}", ready=0) as factory:
        with factory.database([SHOP], data=[data], build="migrations") as db:
            engine = db.create_engine()
            with engine.connect() as conn:
                assert conn.exec_driver_sql("SELECT status FROM orders").scalar() == "cancelled"
                assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0003"
            engine.dispose()


def test_unknown_build_is_a_usage_error(tmp_path):
    from dkenv.errors import UsageError

    with DatabaseFactory(f"sqlite:///{tmp_path / 's.db'}", ready=0) as factory:
        with pytest.raises(UsageError, match="unknown build 'alembic'"):
            factory.database([SHOP], build="alembic")


def test_environment_declares_a_migrations_build(tmp_path):
    import dkenv

    (tmp_path / "dkenv.toml").write_text(
        f'[environments.shop.databases.main]\nengine = "sqlite"\ndatakits = ["{SHOP.as_posix()}"]\n'
        'build = "migrations"\n')
    with dkenv.environment("shop", config=tmp_path / "dkenv.toml") as env:
        assert version_of(env["main"].url) == "0003"
        assert sorted(env["main"].tables) == ["customers", "orders"]


def test_environment_refuses_an_unknown_build(tmp_path):
    import dkenv
    from dkenv.errors import ConfigError

    (tmp_path / "dkenv.toml").write_text(
        f'[environments.shop.databases.main]\nengine = "sqlite"\ndatakits = ["{SHOP.as_posix()}"]\nbuild = "sql"\n')
    with pytest.raises(ConfigError, match=r"dkenv.toml:\d+: .*build must be"):
        with dkenv.environment("shop", config=tmp_path / "dkenv.toml"):
            pass


MARKED = f'''
import pytest

@pytest.mark.dkenv(datakits=[{str(SHOP)!r}], build="migrations")
def test_marker(dkenv_engine):
    with dkenv_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == "0003"

@pytest.mark.dkenv(datakits=[{str(SHOP)!r}])
def test_default(dkenv_engine):
    with dkenv_engine.connect() as conn:
        names = {{r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}}
    assert ("alembic_version" in names) == (BUILD == "migrations")
'''


@pytest.mark.parametrize("ini_build", ["models", "migrations"])
def test_marker_build_and_ini_dkenv_build(pytester, ini_build):
    pytester.makeini(f"[pytest]\ndkenv_build = {ini_build}\n")
    pytester.makepyfile(f"BUILD = {ini_build!r}\n" + MARKED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=2)


# ---------------------------------------------------------------------------
# migrations check
# ---------------------------------------------------------------------------
def test_check_passes_on_the_example_with_no_false_positive(dk):
    result = dk("migrations", "check", SHOP, "--engines", "sqlite", "--json")
    assert result.code == 0, result.out + result.err
    doc = json.loads(result.out)
    [report] = doc["reports"]
    assert report["engine"] == "sqlite" and report["success"]
    assert [c["check"] for c in report["checks"]] == ["heads", "upgrade", "models", "downgrade", "upgrade_again"]
    assert all(c["ok"] and not c["problems"] for c in report["checks"])


@pytest.mark.parametrize("row", [r for r, spec in DRIFT.items() if "sqlite" in spec[3]])
def test_check_catches_each_drift_row(tmp_path, row):
    kit = drifted(tmp_path, row)
    report = check_engine(load_datakit(kit), "sqlite")
    models = report.finding("models")
    assert not models.ok, f"{row}: not caught"
    assert DRIFT[row][2] in {p.kind for p in models.problems}, models.problems
    assert report.finding("upgrade").ok and report.finding("downgrade").ok  # only the models drifted


def test_check_names_several_heads_and_the_merge_command(dk, tmp_path):
    kit = copy_shop(tmp_path)
    add_revision(kit, "0004a", "0003", 'op.add_column("orders", sa.Column("a", sa.Integer))',
                 'op.drop_column("orders", "a")')
    add_revision(kit, "0004b", "0003", 'op.add_column("customers", sa.Column("b", sa.Integer))',
                 'op.drop_column("customers", "b")')
    result = dk("migrations", "check", kit, "--engines", "sqlite")
    assert result.code == 1
    heads = next(line for line in result.out.splitlines() if "heads" in line)
    assert "2 heads" in heads and "0004a" in heads and "0004b" in heads
    assert 'alembic merge -m "merge heads"' in heads


def test_check_names_what_a_downgrade_leaves_behind(tmp_path):
    kit = copy_shop(tmp_path)
    add_revision(kit, "0004", "0003", 'op.create_table("audit", sa.Column("id", sa.Integer, primary_key=True))',
                 "pass")
    report = check_engine(load_datakit(kit), "sqlite")
    downgrade = report.finding("downgrade")
    assert not downgrade.ok and "table audit" in downgrade.detail
    assert any(p.kind == "extra_table" and p.table == "audit" for p in report.finding("models").problems)


def test_check_reports_the_failing_revision_with_its_file_and_the_database_error(dk, tmp_path):
    kit = copy_shop(tmp_path)
    path = add_revision(kit, "0004", "0003", 'op.execute("ALTER TABLE nowhere ADD COLUMN x INTEGER")')
    result = dk("migrations", "check", kit, "--engines", "sqlite")
    assert result.code == 1
    line = next(line for line in result.out.splitlines() if "upgrade:" in line)
    assert "revision 0004" in line and str(path) in line and "no such table: nowhere" in line
    assert "downgrade" not in result.out  # nothing after a failed upgrade


def test_migrations_check_helper_for_users_tests(tmp_path):
    report = migrations_check(SHOP, "sqlite")
    assert report, report
    broken = migrations_check(drifted(tmp_path, "unique_dropped"), "sqlite")
    assert not broken
    assert "unique: the database has UNIQUE" in repr(broken)


# ---------------------------------------------------------------------------
# validate --strict
# ---------------------------------------------------------------------------
def test_validate_strict_reports_an_extra_unique_index(dk, tmp_path):
    db = tmp_path / "shop.db"
    assert dk("deploy", SHOP, "--from", "migrations", "--url", f"sqlite:///{db}").code == 0
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE UNIQUE INDEX ux_customers_name ON customers (name)")
    assert dk("validate", SHOP, "--url", f"sqlite:///{db}").code == 0  # one-way: the default
    result = dk("validate", SHOP, "--url", f"sqlite:///{db}", "--strict", "--json")
    assert result.code == 1
    problems = json.loads(result.out)["validation"]["problems"]
    assert problems == [{"table": "customers", "kind": "unique",
                         "detail": "the database has UNIQUE ux_customers_name (name), the models do not"}]


def test_validate_strict_passes_on_a_database_built_from_the_models(dk, tmp_path):
    db = tmp_path / "shop.db"
    assert dk("deploy", SHOP, "--url", f"sqlite:///{db}").code == 0
    result = dk("validate", SHOP, "--url", f"sqlite:///{db}", "--strict")
    assert result.code == 0, result.out + result.err


# ---------------------------------------------------------------------------
# Bad input: one or two lines, the right exit code, nothing half-built
# ---------------------------------------------------------------------------
def assert_short(err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("dkenv: deploying")]
    assert 1 <= len(lines) <= 2, err
    assert "Traceback" not in err


def test_without_alembic_one_line_names_the_extra(tmp_path):
    db = tmp_path / "shop.db"
    code = ("import sys; sys.modules['alembic'] = None; from dkenv.cli import main; "
            f"main(['deploy', {str(SHOP)!r}, '--from', 'migrations', '--url', 'sqlite:///{db}'])")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 3, done.stderr
    assert_short(done.stderr)
    assert "pip install 'dkenv[migrations]'" in done.stderr
    assert not db.exists() or not tables_of(db)


def test_migrations_setting_pointing_nowhere(dk, tmp_path):
    kit = copy_shop(tmp_path)
    edit(kit / "pyproject.toml", 'migrations = "alembic.ini"', 'migrations = "alembic-missing.ini"')
    result = dk("deploy", kit, "--from", "migrations")
    assert result.code == 2
    assert_short(result.err)
    assert f"{kit / 'pyproject.toml'}:8" in result.err and "alembic-missing.ini" in result.err


def test_env_py_that_fails_to_import_the_application(dk, tmp_path):
    kit = copy_shop(tmp_path)
    edit(kit / "migrations" / "env.py", "config = context.config\n",
         "config = context.config\nfrom shop.settings import DATABASE  # no such module\n")
    db = tmp_path / "t.db"
    result = dk("deploy", kit, "--from", "migrations", "--url", f"sqlite:///{db}")
    assert result.code == 2
    assert_short(result.err)
    env_py = kit / "migrations" / "env.py"
    line = env_py.read_text().splitlines().index("from shop.settings import DATABASE  # no such module") + 1
    assert f"{env_py}:{line}: env.py failed: ModuleNotFoundError" in result.err and "shop.settings" in result.err
    assert not tables_of(db)


def test_env_py_that_migrates_another_database(dk, tmp_path):
    kit = copy_shop(tmp_path)
    elsewhere = tmp_path / "elsewhere.db"
    edit(kit / "migrations" / "env.py", '    connection = config.attributes.get("connection")\n',
         f'    connection = None\n    config.set_main_option("sqlalchemy.url", "sqlite:///{elsewhere}")\n')
    db = tmp_path / "target.db"
    result = dk("deploy", kit, "--from", "migrations", "--url", f"sqlite:///{db}")
    assert result.code == 2
    assert_short(result.err)
    assert "env.py" in result.err and "stayed empty" in result.err
    assert not tables_of(db)


def test_revision_with_a_syntax_error(dk, tmp_path):
    kit = copy_shop(tmp_path)
    path = add_revision(kit, "0004", "0003", "op.add_column(\"orders\", sa.Column(\"x\", sa.Integer)")
    db = tmp_path / "t.db"
    result = dk("deploy", kit, "--from", "migrations", "--url", f"sqlite:///{db}")
    assert result.code == 2
    assert_short(result.err)
    assert str(path) in result.err and "syntax error" in result.err
    assert not db.exists() or not tables_of(db)


@pytest.mark.parametrize("down, words", [("'0003'", "cycle"), ("'9999'", "9999")])
def test_history_with_a_cycle_or_a_missing_down_revision(dk, tmp_path, down, words):
    kit = copy_shop(tmp_path)
    edit(kit / "migrations" / "versions" / "0001_create_tables.py", "down_revision = None", f"down_revision = {down}")
    db = tmp_path / "t.db"
    result = dk("migrations", "check", kit, "--engines", "sqlite")
    assert result.code == 2
    assert_short(result.err)
    assert words in result.err.lower() and "migration history" in result.err
    assert dk("deploy", kit, "--from", "migrations", "--url", f"sqlite:///{db}").code == 2
    assert not db.exists() or not tables_of(db)


def test_build_from_migrations_of_a_datakit_without_any(dk):
    result = dk("deploy", ROOT / "examples" / "bronze-pagila", "--from", "migrations")
    assert result.code == 2
    assert_short(result.err)
    assert "declares no migrations" in result.err


def test_readme_commands_work_as_written(tmp_path):
    import re

    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Migrations"):readme.index("## Per-test databases")]
    commands = [line.split("  #")[0].strip() for line in re.search(r"```sh\n(.*?)```", section, re.S).group(1)
                .splitlines() if line.strip()]
    assert len(commands) == 3
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for command in commands:
        args = command.split()[1:]
        args = [str(ROOT / a) if a.startswith("examples/") else a for a in args]
        done = subprocess.run([sys.executable, "-m", "dkenv", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{command}: {done.stderr}"
    assert tables_of(tmp_path / "shop.db") == {"alembic_version", "customers", "orders"}


def test_deploy_cleanup_downgrades_what_the_migrations_built(dk, tmp_path):
    db = tmp_path / "shop.db"
    result = dk("deploy", SHOP, "--from", "migrations", "--url", f"sqlite:///{db}", "--validate", "--cleanup")
    assert result.code == 0, result.err
    assert tables_of(db) == set()


def test_a_failing_revision_leaves_the_target_as_found(dk, tmp_path):
    kit = copy_shop(tmp_path)
    add_revision(kit, "0004", "0003", 'op.execute("ALTER TABLE nowhere ADD COLUMN x INTEGER")')
    db = tmp_path / "t.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE kept (id INTEGER PRIMARY KEY)")
    result = dk("deploy", kit, "--from", "migrations", "--url", f"sqlite:///{db}")
    assert result.code == 1
    assert_short(result.err)
    assert "revision 0004" in result.err and "no such table: nowhere" in result.err
    assert tables_of(db) == {"kept"}


def test_check_data_survives_the_history(dk, tmp_path):
    result = dk("migrations", "check", SHOP, "--engines", "sqlite", "--data", sample_data(tmp_path), "--json")
    assert result.code == 0, result.out + result.err
    [report] = json.loads(result.out)["reports"]
    data = next(c for c in report["checks"] if c["check"] == "data")
    assert data["ok"] and "all 4 row(s) kept" in data["detail"]


@pytest.mark.parametrize("upgrade, kind, table", [
    ('op.execute("DELETE FROM orders WHERE quantity > 1")', "rows_lost", "orders"),
    ('op.execute("UPDATE customers SET name = upper(name)")', "rows_changed", "customers"),
])
def test_check_data_reports_rows_a_revision_loses_or_changes(dk, tmp_path, upgrade, kind, table):
    kit = copy_shop(tmp_path)
    add_revision(kit, "0004", "0003", upgrade)
    result = dk("migrations", "check", kit, "--engines", "sqlite", "--data", sample_data(tmp_path), "--json")
    assert result.code == 1
    [report] = json.loads(result.out)["reports"]
    data = next(c for c in report["checks"] if c["check"] == "data")
    assert not data["ok"]
    assert [(p["table"], p["kind"]) for p in data["problems"]] == [(table, kind)]


def test_check_data_that_is_not_a_directory(dk, tmp_path):
    result = dk("migrations", "check", SHOP, "--engines", "sqlite", "--data", tmp_path / "nope")
    assert result.code == 2
    assert_short(result.err)


def test_deploy_from_a_history_with_several_heads(dk, tmp_path):
    kit = copy_shop(tmp_path)
    add_revision(kit, "0004a", "0003", 'op.add_column("orders", sa.Column("a", sa.Integer))')
    add_revision(kit, "0004b", "0003", 'op.add_column("customers", sa.Column("b", sa.Integer))')
    db = tmp_path / "t.db"
    result = dk("deploy", kit, "--from", "migrations", "--url", f"sqlite:///{db}")
    assert result.code == 2
    assert_short(result.err)
    assert "2 heads: 0004a, 0004b" in result.err or "2 heads: 0004b, 0004a" in result.err
    assert 'alembic merge -m "merge heads"' in result.err
    assert not db.exists() or not tables_of(db)


@pytest.mark.parametrize("kits", [["bronze-pagila", "silver-pagila"], ["retail-warehouse"]])
def test_validate_strict_has_no_false_positive_on_the_examples(dk, tmp_path, kits):
    paths = [ROOT / "examples" / k for k in kits]
    url = f"sqlite:///{tmp_path / 'kits.db'}"
    assert dk("deploy", *paths, "--url", url).code == 0
    result = dk("validate", *paths, "--url", url, "--strict")
    assert result.code == 0, result.out + result.err
