"""Data files loaded into a deployed datakit on SQLite: formats, validation, all or nothing."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT

SHOP = FIXTURES / "shop"
SHOP_DATA = ROOT / "tests" / "fixtures" / "data" / "shop"
TABLES = ("country", "customer", "orders", "employee")


@pytest.fixture
def shop_db(tmp_path, dk):
    """A SQLite file with the shop datakit deployed (schema ``shop`` in an attached file)."""
    db = tmp_path / "shop.db"
    result = dk("deploy", SHOP, "--target-type", "sqlite", "--database", db)
    assert result.code == 0, result.err
    return db


def rows(db: Path, table: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        conn.execute("ATTACH DATABASE ? AS shop", (str(db.with_name(f"{db.stem}.shop.db")),))
        return conn.execute(f"SELECT * FROM shop.{table} ORDER BY 1").fetchall()
    finally:
        conn.close()


def assert_empty(db: Path) -> None:
    assert {t: rows(db, t) for t in TABLES} == {t: [] for t in TABLES}


def data_dir(tmp_path: Path, name: str = "data", **files: str) -> Path:
    """A data directory holding the shop sample files, with ``files`` added or replaced."""
    d = tmp_path / name
    shutil.copytree(SHOP_DATA, d)
    for filename, text in files.items():
        (d / filename.replace("__", ".")).write_text(text)
    return d


def load(dk, db: Path, *dirs: Path, extra: tuple[str, ...] = ()):
    return dk("load", *dirs, "--url", f"sqlite:///{db}", SHOP, *extra)


# ---------------------------------------------------------------------------
# The happy path
# ---------------------------------------------------------------------------
def test_load_writes_every_format_with_nulls_booleans_dates(dk, shop_db):
    result = load(dk, shop_db, SHOP_DATA)
    assert result.code == 0, result.err
    assert "loaded 11 row(s) into 4 table(s)" in result.out
    assert rows(shop_db, "country") == [("DE", "Germany"), ("FR", "France"), ("US", "United States")]
    customers = rows(shop_db, "customer")
    # empty unquoted field -> NULL; quoted "" -> empty string; yes/0/true -> booleans; ISO dates
    assert [(c[0], c[1], c[2], c[4], c[5]) for c in customers] == [
        (1, "Ada", "ada@example.com", 1, "1990-05-01"),
        (2, "Bob, Jr.", None, 0, None),
        (3, "Cleo", "", 1, "2001-12-31"),
    ]
    # JSON Lines with a blank line; the id column left out gets the database's autoincrement
    assert rows(shop_db, "orders") == [(1, 1, 12.5, "first"), (2, 1, 3, None), (3, 3, 99.99, None)]
    # a self-reference whose parent comes after the child in the file
    assert rows(shop_db, "employee") == [(1, "Boss", None), (2, "Worker", 1)]


def test_load_json_document(dk, shop_db):
    result = load(dk, shop_db, SHOP_DATA, extra=("--json",))
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["success"] is True and doc["rows"] == 11
    assert doc["tables"] == {"shop.country": 3, "shop.employee": 2, "shop.customer": 3, "shop.orders": 3}


def test_empty_data_directory_is_fine_and_said_once(dk, shop_db, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = load(dk, shop_db, empty)
    assert result.code == 0, result.err
    assert (result.out + result.err).count("nothing to load") == 1
    assert_empty(shop_db)


# ---------------------------------------------------------------------------
# Bad input: one or two lines (or a per-row list), exit 1 or 2, nothing loaded
# ---------------------------------------------------------------------------
def test_csv_header_with_unknown_column(dk, shop_db, tmp_path):
    d = data_dir(tmp_path, country__csv="code,name,capital\nDE,Germany,Berlin\n")
    result = load(dk, shop_db, d)
    assert result.code == 2
    assert f"{d / 'country.csv'}:1: table shop.country has no column 'capital'" in result.err
    assert "Traceback" not in result.err
    assert_empty(shop_db)


def test_file_for_a_table_no_datakit_defines(dk, shop_db, tmp_path):
    d = data_dir(tmp_path, **{"shop__invoice__csv": "id\n1\n"})
    result = load(dk, shop_db, d)
    assert result.code == 2
    assert f"{d / 'shop.invoice.csv'}: no datakit defines table 'shop.invoice'" in result.err
    assert_empty(shop_db)


def test_wrong_type_on_line_two_of_jsonl(dk, shop_db, tmp_path):
    d = data_dir(tmp_path, orders__jsonl='{"customer_id": 1, "amount": 1}\n{"customer_id": "two", "amount": 2}\n')
    result = load(dk, shop_db, d)
    assert result.code == 1
    assert f"{d / 'orders.jsonl'}:2: shop.orders.customer_id: Input should be a valid integer" in result.err
    assert "('two')" in result.err
    assert_empty(shop_db)


def test_not_null_column_left_empty(dk, shop_db, tmp_path):
    d = data_dir(tmp_path, country__csv="code,name\nDE,\nFR,France\n")
    result = load(dk, shop_db, d)
    assert result.code == 1
    assert f"{d / 'country.csv'}:2: shop.country.name:" in result.err
    assert_empty(shop_db)


def test_duplicate_primary_key_across_two_directories(dk, shop_db, tmp_path):
    more = tmp_path / "more"
    more.mkdir()
    (more / "shop.country.json").write_text('[\n  {"code": "IT", "name": "Italy"},\n  {"code": "FR", "name": "France"}\n]\n')
    result = load(dk, shop_db, SHOP_DATA, more)
    assert result.code == 1
    assert (f"{more / 'shop.country.json'}:3: shop.country.code: duplicate primary key, "
            f"first at {SHOP_DATA / 'country.csv'}:3 ('FR')") in result.err
    assert_empty(shop_db)


def test_foreign_key_to_a_missing_parent(dk, shop_db, tmp_path):
    d = data_dir(tmp_path, orders__jsonl='{"customer_id": 1, "amount": 1}\n{"customer_id": 42, "amount": 2}\n')
    result = load(dk, shop_db, d)
    assert result.code == 1
    assert f"{d / 'orders.jsonl'}:2: shop.orders.customer_id: foreign key points to no row of shop.customer" in result.err
    assert_empty(shop_db)


def test_foreign_key_to_a_parent_already_in_the_database(dk, shop_db, tmp_path):
    assert load(dk, shop_db, SHOP_DATA).code == 0
    later = tmp_path / "later"
    later.mkdir()
    (later / "orders.csv").write_text("customer_id,amount\n2,5.00\n")
    result = load(dk, shop_db, later)
    assert result.code == 0, result.err
    assert rows(shop_db, "orders")[-1] == (4, 2, 5, None)


def test_malformed_csv_names_file_and_line(dk, shop_db, tmp_path):
    d = data_dir(tmp_path, country__csv='code,name\nDE,Germany\nFR,"France\nUS,United States\n')
    result = load(dk, shop_db, d)
    assert result.code == 2
    assert f"{d / 'country.csv'}:3: malformed CSV" in result.err
    assert_empty(shop_db)


def test_all_bad_rows_at_once_up_to_a_limit(dk, shop_db, tmp_path):
    lines = "".join(f'{{"customer_id": 1, "amount": "x{i}"}}\n' for i in range(25))
    d = data_dir(tmp_path, orders__jsonl=lines)
    result = load(dk, shop_db, d)
    assert result.code == 1
    assert "25 bad rows; nothing was loaded" in result.err
    assert result.err.count("shop.orders.amount:") == 20
    assert "and 5 more" in result.err
    assert_empty(shop_db)


def test_database_refusal_rolls_back_everything(dk, shop_db):
    assert load(dk, shop_db, SHOP_DATA).code == 0
    before = {t: rows(shop_db, t) for t in TABLES}
    # employee.json is new rows for nothing... all the same keys again: the database refuses them
    result = load(dk, shop_db, SHOP_DATA)
    assert result.code == 1
    assert "UNIQUE constraint failed" in result.err and "nothing was loaded" in result.err
    assert {t: rows(shop_db, t) for t in TABLES} == before


def test_loading_into_an_empty_target_is_bad_usage(dk):
    result = dk("load", SHOP_DATA, SHOP)
    assert result.code == 2
    assert "starts out empty" in result.err


def test_data_directory_that_does_not_exist(dk, shop_db, tmp_path):
    result = load(dk, shop_db, tmp_path / "nope")
    assert result.code == 2
    assert "nope" in result.err and "does not exist" in result.err


# ---------------------------------------------------------------------------
# Where data comes from: deploy --data, a datakit's own data, env up
# ---------------------------------------------------------------------------
def test_deploy_with_data_loads_after_the_deploy(dk):
    result = dk("deploy", SHOP, "--data", SHOP_DATA, "--validate", "--json")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert doc["data"]["rows"] == 11 and doc["validation"]["success"] is True


def test_deploy_with_bad_data_fails_with_the_rows_and_json(dk, tmp_path):
    d = data_dir(tmp_path, country__csv="code,name\nDEU,Germany\n")
    result = dk("deploy", SHOP, "--data", d, "--json")
    assert result.code == 1
    doc = json.loads(result.out)
    assert doc["success"] is False
    assert f"{d / 'country.csv'}:2: shop.country.code: String should have at most 2 characters ('DEU')" \
        in doc["error"]["message"]


def test_deploy_with_a_missing_data_directory_fails_before_deploying(dk, tmp_path):
    db = tmp_path / "x.db"
    result = dk("deploy", SHOP, "--target-type", "sqlite", "--database", db, "--data", tmp_path / "nope")
    assert result.code == 2
    assert "does not exist" in result.err
    assert not db.exists()


def test_a_datakits_own_data_directories_are_loaded_on_deploy(dk, shop_db, monkeypatch):
    """``Datakit.data_dirs`` comes from ``[tool.dkenv] data``; whatever sets it, deploy loads it."""
    from dkenv.datakit import Datakit

    monkeypatch.setattr(Datakit, "data_dirs", [SHOP_DATA], raising=False)
    db = shop_db.with_name("own.db")
    result = dk("deploy", SHOP, "--target-type", "sqlite", "--database", db)
    assert result.code == 0, result.err
    assert "loaded 11 row(s)" in result.out
    assert len(rows(db, "customer")) == 3
    # `dkenv load` without a DIR loads them too (into a second, emptied database)
    again = dk("load", "--url", f"sqlite:///{db}", SHOP)
    assert again.code == 1 and "UNIQUE constraint failed" in again.err


def test_env_up_loads_each_databases_data(dk, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dkenv.toml").write_text(
        f'[environments.shop.databases.main]\nengine = "sqlite"\ndatakits = ["{SHOP}"]\n'
        f'data = ["{SHOP_DATA}"]\n', encoding="utf-8")
    result = dk("env", "up", "shop", "--json")
    try:
        assert result.code == 0, result.err
        assert "loaded 11 row(s)" in result.err
        url = json.loads(result.out)["databases"]["main"]["url"]
        assert len(rows(Path(url.removeprefix("sqlite:///")), "orders")) == 3
    finally:
        dk("env", "down", "shop")


def test_env_up_with_a_missing_data_directory_names_the_config_line(dk, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dkenv.toml").write_text(
        f'[environments.shop.databases.main]\nengine = "sqlite"\ndatakits = ["{SHOP}"]\ndata = ["nope"]\n',
        encoding="utf-8")
    result = dk("env", "up", "shop")
    assert result.code == 2
    assert "dkenv.toml:" in result.err and "does not exist" in result.err


# ---------------------------------------------------------------------------
# validate_pipeline_flow with rows
# ---------------------------------------------------------------------------
def test_pipeline_flow_counts_rows_and_reports_orphans_across_datakits(examples):
    from sqlalchemy import text

    import dkenv
    from dkenv.data import load_data
    from dkenv.servers.runtime import runtime_for

    target = dkenv.get_target_config("sqlite_memory")
    try:
        dkenv.deploy_data_objects(examples / "bronze-pagila", target)
        dkenv.deploy_data_objects(examples / "silver-pagila", target)
        load_data(target, [examples / "bronze-pagila" / "data" / "sample"], [examples / "bronze-pagila"])
        clean = dkenv.validate_pipeline_flow(target)
        assert clean.success, clean
        assert clean.row_counts["br__pagila__public.rental"] == 200
        assert clean.row_counts["sv__pagila.rental_fact"] == 0
        with runtime_for(target).begin() as conn:  # SQLite cannot enforce keys across attached schemas
            conn.execute(text("INSERT INTO sv__pagila.customer_profile (customer_id, full_name, tier, "
                              "lifetime_value) VALUES (1, 'Mary Smith', 'bronze', 0), (999, 'Nobody', 'bronze', 0)"))
        result = dkenv.validate_pipeline_flow(target)
        assert not result.success
        assert [p.to_dict() for p in result.problems] == [{
            "table": "sv__pagila.customer_profile", "kind": "orphan_rows",
            "detail": "1 row(s) whose customer_id point(s) to no row of br__pagila__public.customer"}]
        assert result.to_dict()["row_counts"]["sv__pagila.customer_profile"] == 2
    finally:
        dkenv.cleanup_test_target(target)


@pytest.mark.filterwarnings("ignore:Cannot correctly sort tables")  # deploy's, for the cycle itself
def test_foreign_key_cycle_loads(dk, tmp_path):
    db = tmp_path / "cycle.db"
    result = dk("deploy", FIXTURES / "cycle", "--target-type", "sqlite", "--database", db,
                "--data", ROOT / "tests" / "fixtures" / "data" / "cycle")
    assert result.code == 0, result.err
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("SELECT id, head_id FROM department ORDER BY id").fetchall() == [(1, 10), (2, None)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        conn.close()


def test_enum_column_loads_on_sqlite(dk, tmp_path, examples):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(examples / "bronze-pagila" / "data" / "sample" / "customer.csv", data)
    (data / "customer_profile.csv").write_text("customer_id,full_name,tier\n1,Mary Smith,silver\n3,X,platinum\n")
    result = dk("deploy", examples / "bronze-pagila", examples / "silver-pagila", "--data", data)
    assert result.code == 1
    # pydantic's own wording of the choices varies by version (2.2: 'bronze','silver' or 'gold')
    assert re.search(rf"{re.escape(str(data / 'customer_profile.csv'))}:3: sv__pagila.customer_profile.tier: "
                     r"Input should be 'bronze', ?'silver' or 'gold' \('platinum'\)", result.err), result.err


# ---------------------------------------------------------------------------
# Bounded memory and progress
# ---------------------------------------------------------------------------
def test_rows_spilled_to_disk_load_in_file_order(dk, shop_db, tmp_path, monkeypatch):
    from dkenv.data import load as load_module

    monkeypatch.setattr(load_module, "CHUNK", 2)
    monkeypatch.setattr(load_module, "MEMORY_ROWS", 2)
    lines = "".join(f'{{"customer_id": {1 + i % 3}, "amount": {i}}}\n' for i in range(9))
    d = data_dir(tmp_path, orders__jsonl=lines)
    result = load(dk, shop_db, d)
    assert result.code == 0, result.err
    assert [(r[0], r[2]) for r in rows(shop_db, "orders")] == [(i + 1, i) for i in range(9)]


def test_beyond_the_key_limit_the_database_checks_keys(dk, shop_db, tmp_path, monkeypatch):
    from dkenv.data import rows as rows_module

    monkeypatch.setattr(rows_module, "KEY_LIMIT", 2)
    d = data_dir(tmp_path, country__csv="code,name\nDE,Germany\nFR,France\nUS,USA\nIT,Italy\nDE,Again\n")
    result = load(dk, shop_db, d)
    assert result.code == 1  # not reported per row, but refused by the database: nothing loaded
    assert "UNIQUE constraint failed" in result.err and "nothing was loaded" in result.err
    assert_empty(shop_db)


def test_progress_on_stderr_for_loads_over_a_second(shop_db, monkeypatch):
    import itertools

    from dkenv.config import Target
    from dkenv.data import load as load_module
    from dkenv.data import load_data

    clock = itertools.count(0.0, 0.6)  # every reading of the clock is 0.6 s later
    monkeypatch.setattr(load_module.time, "perf_counter", lambda: next(clock))
    lines: list[str] = []
    target = Target(name="t", db_type="sqlite", kind="url", url=f"sqlite:///{shop_db}")
    try:
        load_data(target, [SHOP_DATA], [SHOP], progress=lines.append)
    finally:
        from dkenv.servers.runtime import release

        release(target)
    assert lines and all(line.startswith("dkenv: loading shop.") and "rows/s" in line for line in lines)
    assert any("/11 rows" in line for line in lines)


def test_env_up_data_flag_loads_into_every_database(dk, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "dkenv.toml").write_text(
        f'[environments.shop.databases.a]\nengine = "sqlite"\ndatakits = ["{SHOP}"]\n'
        f'[environments.shop.databases.b]\nengine = "sqlite"\ndatakits = ["{SHOP}"]\n', encoding="utf-8")
    result = dk("env", "up", "shop", "--data", SHOP_DATA, "--json")
    try:
        assert result.code == 0, result.err
        for db in json.loads(result.out)["databases"].values():
            assert len(rows(Path(db["url"].removeprefix("sqlite:///")), "customer")) == 3
    finally:
        dk("env", "down", "shop")


def test_json_key_naming_a_column_the_table_lacks(dk, shop_db, tmp_path):
    d = data_dir(tmp_path, orders__jsonl='{"customer_id": 1, "amount": 1}\n{"customer_id": 1, "colour": "red"}\n')
    result = load(dk, shop_db, d)
    assert result.code == 2
    assert f"{d / 'orders.jsonl'}:2: table shop.orders has no column 'colour'" in result.err
    assert_empty(shop_db)


def test_load_json_on_bad_rows_is_still_one_document(dk, shop_db, tmp_path):
    d = data_dir(tmp_path, country__csv="code,name\nDE,\n")
    result = load(dk, shop_db, d, extra=("--json",))
    assert result.code == 1
    doc = json.loads(result.out)  # exactly one JSON document on stdout
    assert doc["success"] is False and doc["error"]["exit_code"] == 1
    assert "shop.country.name" in doc["error"]["message"]
