"""Real datakits as their authors wrote them: table-first discovery, namespace packages,
project directories, helpers outside the datakit, SQLAlchemy models (issue 8)."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

from dkenv.datakit import discover_sqlmodel_classes, load_datakit
from dkenv.errors import DatakitError, UsageError

MEDALLION_REPO = "medallion_repo"


@pytest.fixture
def trees(fixtures):
    """tests/fixtures (the repo-shaped fixtures live beside datakits/)."""
    return fixtures.parent


def _leftovers(*tops: str) -> list[str]:
    return [m for m in sys.modules if m.split(".")[0] in tops]


def test_typer_and_pandas_are_absent_so_the_bronze_fixture_means_something():
    assert importlib.util.find_spec("typer") is None or pytest.skip("typer is installed")
    assert importlib.util.find_spec("pandas") is None or pytest.skip("pandas is installed")


def test_bronze_package_imports_only_its_table_modules(fixtures, capsys):
    kit = load_datakit(fixtures / "bronze_sales")
    assert kit.table_names == ["br_sales.customer", "br_sales.orders"]
    skipped = {s.module: s.reason for s in kit.skipped}
    assert skipped == {"bronze_sales.cli": "declares no table", "bronze_sales.ingest": "declares no table"}
    # cli.py raises at import and ingest.py prints: neither ran.
    assert capsys.readouterr().out == ""
    assert [m.__name__ for m in kit.modules] == [
        "bronze_sales", "bronze_sales.models", "bronze_sales.models._base",
        "bronze_sales.models.customers", "bronze_sales.models.orders"]
    assert not _leftovers("bronze_sales")


def test_medallion_namespace_layout_needs_the_repo_root_helper(trees):
    with pytest.raises(DatakitError) as info:
        load_datakit(trees / MEDALLION_REPO / "datakits" / "sales_kit")
    assert "utils" in info.value.message and "orders.py:3" in info.value.message
    assert info.value.hint.startswith(f"utils is a local folder: pass --pythonpath {trees / MEDALLION_REPO} ")
    assert info.value.exit_code == 2
    assert not _leftovers("tables", "utils")


def test_medallion_namespace_layout_with_pythonpath(trees):
    before_path, before_meta = list(sys.path), list(sys.meta_path)
    kit = load_datakit(trees / MEDALLION_REPO / "datakits" / "sales_kit", pythonpath=[trees / MEDALLION_REPO])
    assert kit.table_names == ["bronze_sales.raw_order", "silver_sales.order_total"]
    # relative (._columns) and absolute (tables.bronze.orders) imports inside namespace packages
    assert kit.tables[1].foreign_keys.pop().target_fullname == "bronze_sales.raw_order.id"
    assert {s.module for s in kit.skipped} == {"jobs.refresh"}
    assert sys.path == before_path and sys.meta_path == before_meta
    assert not _leftovers("tables", "utils", "jobs")


def test_dkenv_pythonpath_environment_variable(trees, monkeypatch):
    monkeypatch.setenv("DKENV_PYTHONPATH", os.pathsep.join([str(trees / "mixin_repo" / "libs"),
                                                          str(trees / MEDALLION_REPO)]))
    kit = load_datakit(trees / MEDALLION_REPO / "datakits" / "sales_kit")
    assert len(kit.tables) == 2


def test_namespace_top_is_served_from_the_datakit_not_a_same_named_module(trees, monkeypatch):
    impostor = type(sys)("tables")
    impostor.__path__ = []  # an installed package called `tables` (PyTables) must not answer
    monkeypatch.setitem(sys.modules, "tables", impostor)
    kit = load_datakit(trees / MEDALLION_REPO / "datakits" / "sales_kit", pythonpath=[trees / MEDALLION_REPO])
    assert len(kit.tables) == 2
    assert sys.modules["tables"] is impostor


def test_project_dir_mixes_packages_with_and_without_init_and_never_runs_loose_scripts(fixtures, capsys):
    kit = load_datakit(fixtures / "project_mixed")  # load_sample_data.py would print and sys.exit(3)
    assert sorted(kit.table_names) == ["dim_date", "raw_event"]
    assert capsys.readouterr().out == ""
    reasons = {s.module: s.reason for s in kit.skipped}
    assert reasons["load_sample_data"] == "loose script that declares no table"
    assert reasons["tests/"].startswith("tests, docs")
    assert "ShouldNotCount" not in {c.__name__ for c in kit.table_classes}


def test_sqlalchemy_declarative_kit(fixtures):
    kit = load_datakit(fixtures / "sa_declarative")
    assert kit.table_names == ["setting", "blog.author", "blog.post", "blog.tag", "audit_log", "blog.post_tag"]
    assert [c.__name__ for c in kit.table_classes] == ["Setting", "Author", "Post", "Tag"]
    assert len(kit.metadatas) == 3  # Base.metadata, the legacy declarative_base(), a standalone MetaData
    assert {t.name for md in kit.metadatas for t in md.tables.values()} == {t.name for t in kit.tables}
    assert [c.__name__ for c in discover_sqlmodel_classes(kit.modules)] == ["Setting", "Author", "Post", "Tag"]
    again = load_datakit(fixtures / "sa_declarative")  # a fresh Base each time: no "already defined"
    assert again.tables[1] is not kit.tables[1]


def test_sqlmodel_association_table_and_factory_classes(fixtures):
    from sqlmodel import SQLModel

    kit = load_datakit(fixtures / "sqlmodel_tables")
    assert kit.table_names == ["post", "tag", "currency", "country_code", "post_tag"]
    assert [c.__name__ for c in kit.table_classes] == ["Post", "Tag", "Currency", "CountryCode"]
    assert kit.metadatas == [kit.metadata]
    assert "post_tag" not in SQLModel.metadata.tables and "currency" not in SQLModel.metadata.tables


def test_mixin_library_on_the_datakits_own_pythonpath(trees):
    kit = load_datakit(trees / "mixin_repo" / "inventory_kit")
    assert kit.table_names == ["item", "warehouse"]
    assert [c.name for c in kit.tables[0].c] == ["created_at", "created_by", "id", "sku"]
    assert kit.settings.pythonpath == [trees / "mixin_repo" / "libs"]
    assert not _leftovers("audit_mixins")


# ---------------------------------------------------------------------------
# Hints that are the fix
# ---------------------------------------------------------------------------
def test_shared_column_through_a_mixin(trees):
    with pytest.raises(DatakitError) as info:
        load_datakit(trees / "mixin_repo" / "shared_column_kit")
    assert "levels.py:9" in info.value.message and "shared by several tables" in info.value.message
    assert "sa_column=Column(...) in each class" in info.value.hint and "declared_attr" in info.value.hint


@pytest.mark.parametrize(("field", "message", "hint"), [
    ('Field(server_default=text("CURRENT_TIMESTAMP"))', "Field() takes no server_default",
     'Field(sa_column_kwargs={"server_default": ...})'),
    ("Field(sa_column=Column(DateTime), nullable=False)", "Field(nullable=...) together with sa_column=",
     "Column(..., nullable=False)"),
])
def test_sqlmodel_mistakes_get_the_fix(tmp_path, field, message, hint):
    pkg = tmp_path / "mistake"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "t.py").write_text(
        "from datetime import datetime\n"
        "from sqlalchemy import Column, DateTime, text\n"
        "from sqlmodel import Field, SQLModel\n\n\n"
        "class T(SQLModel, table=True):\n"
        "    id: int = Field(primary_key=True)\n"
        f"    at: datetime = {field}\n")
    with pytest.raises(DatakitError) as info:
        load_datakit(pkg)
    assert "t.py:8" in info.value.message and message in info.value.message
    assert hint in info.value.hint


# ---------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------
def test_syntax_error_in_a_namespace_package(fixtures):
    with pytest.raises(DatakitError) as info:
        load_datakit(fixtures / "ns_syntax")
    assert "tables/sales/orders.py:4" in info.value.message and "syntax error" in info.value.message
    assert info.value.exit_code == 2


def test_every_missing_package_named_once_with_its_fix(fixtures):
    with pytest.raises(DatakitError) as info:
        load_datakit(fixtures / "two_missing")
    message, hint = info.value.message, info.value.hint
    assert "2 modules that are not available" in message
    assert message.count("dkenv_absent_alpha") == 1 and "dkenv_absent_beta (" in message
    assert f"pip install -e {fixtures / 'two_missing'} (its pyproject.toml lists dkenv_absent_alpha)" in hint
    assert hint.endswith("pip install dkenv_absent_beta")
    assert not _leftovers("twomiss")


def test_include_glob_matching_nothing(fixtures):
    with pytest.raises(DatakitError) as info:
        load_datakit(fixtures / "bad_include")
    assert info.value.message.startswith(f"{fixtures / 'bad_include' / 'dkenv.toml'}:2: include glob 'nothing_here.*'")
    assert info.value.exit_code == 2


def test_unknown_setting_names_file_and_line(fixtures):
    with pytest.raises(UsageError) as info:
        load_datakit(fixtures / "bad_setting")
    assert info.value.message == f"{fixtures / 'bad_setting' / 'pyproject.toml'}:7: unknown datakit setting 'pythonpaths'"
    assert info.value.exit_code == 2


def test_pythonpath_to_a_missing_folder(fixtures, tmp_path):
    with pytest.raises(UsageError) as info:
        load_datakit(fixtures / "flat", pythonpath=[tmp_path / "nope"])
    assert "does not exist" in info.value.message and info.value.exit_code == 2


def test_tables_under_type_checking_or_in_functions_do_not_count(fixtures):
    kit = load_datakit(fixtures / "guarded")  # both modules raise if imported
    assert kit.table_names == ["real"]
    reasons = {s.module: s for s in kit.skipped}
    assert "inside `if TYPE_CHECKING:`" in reasons["guard.typing_only"].reason
    assert "inside function make_scratch_table()" in reasons["guard.in_function"].reason
    assert reasons["guard.in_function"].declares_tables


def test_only_guarded_tables_is_no_datakit(fixtures):
    with pytest.raises(DatakitError) as info:
        load_datakit(fixtures / "guarded_only")
    assert "defines no table at import time: gonly.typing_only line 6" in info.value.message


# ---------------------------------------------------------------------------
# Settings
# ---------------------------------------------------------------------------
def _kit(tmp_path, settings: str, where: str = "dkenv.toml"):
    root = tmp_path / "kit"
    (root / "shop").mkdir(parents=True)
    (root / "shop" / "__init__.py").write_text("")
    for name in ("orders", "legacy"):
        (root / "shop" / f"{name}.py").write_text(
            "from sqlmodel import Field, SQLModel\n\n\n"
            f"class {name.title()}(SQLModel, table=True):\n    id: int = Field(primary_key=True)\n")
    (root / "data").mkdir()
    (root / where).write_text(settings)
    return root


def test_exclude_is_listed_and_says_the_module_declares_tables(tmp_path):
    kit = load_datakit(_kit(tmp_path, 'exclude = ["shop.legacy"]\ndata = ["data"]\n'))
    assert kit.table_names == ["orders"]
    (skip,) = kit.skipped
    assert skip.module == "shop.legacy" and skip.declares_tables and "dkenv.toml:1" in skip.reason
    assert kit.data_dirs == [tmp_path / "kit" / "data"]


def test_include_by_file_path_in_pyproject(tmp_path):
    kit = load_datakit(_kit(tmp_path, '[project]\nname = "k"\n\n[tool.dkenv]\ninclude = ["shop/orders.py"]\n',
                            where="pyproject.toml"))
    assert kit.table_names == ["orders"]


def test_requires_deploys_the_required_datakit_first(tmp_path, examples):
    from dkenv.datakit import load_datakits

    silver = tmp_path / "silver"
    (silver / "silver_x").mkdir(parents=True)
    (silver / "silver_x" / "__init__.py").write_text("")
    (silver / "silver_x" / "facts.py").write_text(
        "from sqlmodel import Field, SQLModel\n\n\nclass Fact(SQLModel, table=True):\n"
        "    id: int = Field(primary_key=True)\n"
        '    film_id: int = Field(foreign_key="br__pagila__public.film.film_id")\n')
    (silver / "dkenv.toml").write_text(f'requires = ["{examples / "bronze-pagila"}"]\n')
    kits = load_datakits([silver])
    assert [k.name for k in kits] == ["bronze-pagila", "silver"]
    assert [k.name for k in load_datakits([silver, examples / "bronze-pagila"])] == ["bronze-pagila", "silver"]


def test_requires_cycle(tmp_path):
    from dkenv.datakit import load_datakits

    for name, other in (("a", "b"), ("b", "a")):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}_t.py").write_text(
            f"from sqlmodel import Field, SQLModel\n\n\nclass {name.upper()}(SQLModel, table=True):\n"
            "    id: int = Field(primary_key=True)\n")
        (tmp_path / name / "dkenv.toml").write_text(f'requires = ["../{other}"]\n')
    with pytest.raises(DatakitError, match="cycle: a -> b -> a"):
        load_datakits([tmp_path / "a"])


def test_two_namespace_datakits_with_the_same_names_never_mix(tmp_path):
    for kit, column in (("one", "alpha"), ("two", "beta")):
        folder = tmp_path / kit / "tables" / "core"
        folder.mkdir(parents=True)
        (folder / "thing.py").write_text(
            "from sqlmodel import Field, SQLModel\n\n\nclass Thing(SQLModel, table=True):\n"
            f"    id: int = Field(primary_key=True)\n    {column}: int = 0\n")
        # imported by thing's sibling: must run once, not once per importer
        (folder / "other.py").write_text(
            "import builtins\nbuiltins.__dict__.setdefault('_dkenv_runs', []).append(__name__)\n"
            "from sqlmodel import Field, SQLModel\n\nfrom tables.core.thing import Thing\n\n\n"
            "class Other(SQLModel, table=True):\n    id: int = Field(primary_key=True, foreign_key='thing.id')\n")
    import builtins

    one, two = load_datakit(tmp_path / "one"), load_datakit(tmp_path / "two")
    assert "alpha" in one.tables[0].c and "beta" in two.tables[0].c
    assert builtins.__dict__.pop("_dkenv_runs") == ["tables.core.other", "tables.core.other"]
    assert not _leftovers("tables")


def test_check_static_on_a_declarative_kit(dk, fixtures):
    r = dk("check", fixtures / "sa_declarative", "--static", "--json")
    assert r.code == 0, r.err
    import json

    doc = json.loads(r.out)
    assert doc["datakits"] == ["sa_declarative"] and doc["skipped"] == []


def test_a_wrong_import_of_the_datakits_own_module_is_not_a_pip_install(tmp_path):
    folder = tmp_path / "kit" / "tables" / "core"
    folder.mkdir(parents=True)
    (folder / "thing.py").write_text(
        "from sqlmodel import Field, SQLModel\n\nfrom tables.core.nope import X  # noqa\n\n\n"
        "class Thing(SQLModel, table=True):\n    id: int = Field(primary_key=True)\n")
    with pytest.raises(DatakitError) as info:
        load_datakit(tmp_path / "kit")
    assert "thing.py:3" in info.value.message and "'tables.core.nope', which does not exist" in info.value.message
    assert "pip" not in info.value.hint


def test_an_unparsable_script_without_tables_does_not_reject_the_datakit(tmp_path):
    (tmp_path / "kit" / "scripts").mkdir(parents=True)
    (tmp_path / "kit" / "scripts" / "old_report.py").write_text('print "python 2 was here"\n')
    (tmp_path / "kit" / "tables.py").write_text(
        "from sqlmodel import Field, SQLModel\n\n\nclass T(SQLModel, table=True):\n    id: int = Field(primary_key=True)\n")
    kit = load_datakit(tmp_path / "kit")
    assert kit.table_names == ["t"]
    reasons = {s.module: s.reason for s in kit.skipped}
    assert reasons["scripts.old_report"] == "syntax error at line 1 in a file that shows no table declaration"


def test_a_test_file_declaring_a_table_is_listed_not_silently_dropped(tmp_path):
    pkg = tmp_path / "kit"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    table = "from sqlmodel import Field, SQLModel\n\n\nclass {0}(SQLModel, table=True):\n    id: int = Field(primary_key=True)\n"
    (pkg / "real.py").write_text(table.format("Real"))
    (pkg / "test_real.py").write_text(table.format("Scratch"))
    kit = load_datakit(pkg)
    assert kit.table_names == ["real"]
    (skip,) = kit.skipped
    assert skip.module == "kit/test_real.py" and skip.declares_tables
    assert skip.reason.startswith("test, conftest, setup")


def test_models_imported_from_another_datakit_are_not_this_datakits_tables(tmp_path, examples):
    silver = tmp_path / "silver"
    (silver / "silver_z").mkdir(parents=True)
    (silver / "silver_z" / "__init__.py").write_text("")
    (silver / "silver_z" / "facts.py").write_text(
        "from bronze_pagila.models.films import Film\nfrom sqlmodel import Field, SQLModel\n\n\n"
        "class FilmFact(SQLModel, table=True):\n    id: int = Field(primary_key=True)\n"
        "    film_id: int = Field(foreign_key=f\"{Film.__table__.fullname}.film_id\")\n")
    kit = load_datakit(silver, pythonpath=[examples / "bronze-pagila"])
    assert kit.table_names == ["filmfact"]
    assert not _leftovers("bronze_pagila")
