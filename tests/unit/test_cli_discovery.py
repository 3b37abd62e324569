"""CLI side of discovery: --pythonpath, DKENV_PYTHONPATH, --verbose, `skipped` in --json, requires."""

from __future__ import annotations

import json
import os

import pytest


@pytest.fixture
def trees(fixtures):
    return fixtures.parent


def test_deploy_json_lists_skipped_modules_and_stays_one_document(dk, fixtures):
    r = dk("deploy", fixtures / "project_mixed", "--validate", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)  # load_sample_data.py would have printed into stdout
    skipped = {s["module"]: s for s in doc["skipped"]}
    assert skipped["load_sample_data"]["reason"] == "loose script that declares no table"
    assert skipped["load_sample_data"]["datakit"] == "project_mixed"
    assert sorted(doc["tables"]) == ["dim_date", "raw_event"]


def test_verbose_lists_skips_on_stderr(dk, fixtures):
    r = dk("deploy", fixtures / "bronze_sales", "--verbose")
    assert r.code == 0, r.err
    assert "dkenv: bronze_sales: skipped bronze_sales.cli: declares no table" in r.err
    quiet = dk("deploy", fixtures / "bronze_sales")
    assert "skipped" not in quiet.err


def test_a_skipped_file_that_declares_a_table_is_always_shown(dk, fixtures):
    r = dk("deploy", fixtures / "guarded")
    assert r.code == 0, r.err
    assert "skipped guard.typing_only: no table at import time (class OnlyForTypeCheckers inside " in r.err


@pytest.mark.parametrize("command", [("deploy",), ("check", "--static"), ("validate", "--url", "sqlite://")])
def test_pythonpath_option_on_every_command_that_reads_datakits(dk, trees, tmp_path, command):
    kit = trees / "medallion_repo" / "datakits" / "sales_kit"
    args = [*command, kit, "--pythonpath", trees / "medallion_repo"]
    if command[0] == "validate":  # a live file database to validate against
        db = tmp_path / "v.db"
        assert dk("deploy", kit, "--url", f"sqlite:///{db}", "--pythonpath", trees / "medallion_repo").code == 0
        args = ["validate", kit, "--url", f"sqlite:///{db}", "--pythonpath", trees / "medallion_repo"]
    r = dk(*args)
    assert r.code == 0, r.err
    missing = dk(*[a for a in args if a not in ("--pythonpath", trees / "medallion_repo")])
    assert missing.code == 2
    assert f"hint: utils is a local folder: pass --pythonpath {trees / 'medallion_repo'}" in missing.err


def test_dkenv_pythonpath_variable(dk, trees, monkeypatch):
    monkeypatch.setenv("DKENV_PYTHONPATH", os.pathsep.join(["", str(trees / "medallion_repo")]))
    r = dk("deploy", trees / "medallion_repo" / "datakits" / "sales_kit", "--validate")
    assert r.code == 0, r.err


def test_pythonpath_to_a_missing_folder(dk, fixtures, tmp_path):
    r = dk("deploy", fixtures / "flat", "--pythonpath", tmp_path / "nope", "--json")
    assert r.code == 2
    assert json.loads(r.out)["error"]["exit_code"] == 2
    lines = r.err.strip().splitlines()
    assert len(lines) == 2 and lines[0] == f"dkenv: error: pythonpath: folder '{tmp_path / 'nope'}' does not exist"


@pytest.mark.parametrize(("case", "first_line"), [
    ("bad_setting", "pyproject.toml:7: unknown datakit setting 'pythonpaths'"),
    ("bad_include", "dkenv.toml:2: include glob 'nothing_here.*' matches no module of the datakit"),
    ("ns_syntax", "orders.py:4: datakit "),
    ("two_missing", "2 modules that are not available: dkenv_absent_alpha"),
])
def test_bad_datakits_one_or_two_lines_exit_2(dk, fixtures, case, first_line):
    r = dk("deploy", fixtures / case)
    assert r.code == 2
    lines = r.err.strip().splitlines()
    assert 1 <= len(lines) <= 2 and first_line in lines[0] and "Traceback" not in r.err


def test_deploy_of_a_datakit_that_requires_another_deploys_it_first(dk, tmp_path, examples):
    silver = tmp_path / "silver"
    (silver / "silver_y").mkdir(parents=True)
    (silver / "silver_y" / "__init__.py").write_text("")
    (silver / "silver_y" / "facts.py").write_text(
        "from sqlmodel import Field, SQLModel\n\n\nclass Fact(SQLModel, table=True):\n"
        "    id: int = Field(primary_key=True)\n"
        '    film_id: int = Field(foreign_key="br__pagila__public.film.film_id")\n')
    (silver / "pyproject.toml").write_text(
        f'[project]\nname = "silver"\n\n[tool.dkenv]\nrequires = ["{examples / "bronze-pagila"}"]\n')
    r = dk("deploy", silver, "--validate", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["datakits"] == ["bronze-pagila", "silver"]
    assert "fact" in doc["tables"] and "br__pagila__public.film" in doc["tables"]
    human = dk("deploy", silver)
    assert "dkenv: silver requires bronze-pagila (" in human.err


def test_retail_warehouse_example_deploys_as_teams_lay_it_out(dk, examples):
    r = dk("deploy", examples / "retail-warehouse", "--validate", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["tables"] == ["retail_bronze.product", "retail_bronze.store", "retail_bronze.pos_transaction",
                             "retail_silver.daily_store_sales"]
    skipped = {s["module"]: s for s in doc["skipped"]}
    assert {"retail.cli", "retail.ingest.pos", "scripts.load_sample_data"} <= set(skipped)
    assert skipped["warehouse.tables.sandbox.try_wide_table"]["declares_tables"] is True
    assert not any(m.startswith("shared") for m in skipped)  # the pythonpath helper folder is not the datakit


def test_environment_database_takes_a_pythonpath(tmp_path, trees):
    import dkenv

    config = tmp_path / "dkenv.toml"
    repo = trees / "medallion_repo"
    config.write_text(f'[environments.med.databases.lake]\nengine = "sqlite"\n'
                      f'datakits = ["{repo / "datakits" / "sales_kit"}"]\npythonpath = ["{repo}"]\n')
    with dkenv.environment("med", config=config) as env:
        assert env.databases["lake"].tables == ["bronze_sales.raw_order", "silver_sales.order_total"]
    config.write_text(config.read_text().replace(f'pythonpath = ["{repo}"]', 'pythonpath = "utils"'))
    with pytest.raises(dkenv.errors.UsageError, match="pythonpath must be a list"):
        with dkenv.environment("med", config=config):
            pass
