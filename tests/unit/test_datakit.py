"""Discovery: layouts, isolation, import errors."""

from __future__ import annotations

import importlib.util
import sys

import pytest

import dkenv
from dkenv.datakit import load_datakit
from dkenv.errors import DatakitError


def test_package_with_subpackages_and_relative_imports(examples):
    kit = load_datakit(examples / "bronze-pagila")
    assert kit.name == "bronze-pagila"
    assert len(kit.table_names) == 13
    assert all(name.startswith("br__pagila__public.") for name in kit.table_names)
    # Order is deterministic: by module, then definition order.
    assert kit.table_names == load_datakit(examples / "bronze-pagila").table_names
    assert [m.__name__ for m in kit.modules][:2] == ["bronze_pagila", "bronze_pagila.models"]


def test_flat_folder_counts_an_imported_class_once(fixtures):
    kit = load_datakit(fixtures / "flat")
    assert kit.table_names == ["person", "pet"]


def test_src_layout_project(fixtures):
    kit = load_datakit(fixtures / "project_src")
    assert kit.table_names == ["shop.orders", "shop.order_line"]


def test_modules_and_path_do_not_stay_behind(fixtures):
    before = set(sys.path)
    load_datakit(fixtures / "same_name_alpha")
    assert set(sys.path) == before
    assert not [m for m in sys.modules if m == "kit" or m.startswith("kit.")]


def test_same_package_name_imports_each_datakits_own_code(fixtures):
    alpha = load_datakit(fixtures / "same_name_alpha")
    beta = load_datakit(fixtures / "same_name_beta")
    assert alpha.table_names == ["alpha.thing"]
    assert beta.table_names == ["beta.thing"]
    assert "alpha_only" in alpha.tables[0].c and "beta_only" in beta.tables[0].c


def test_same_datakit_twice_in_one_process(examples):
    first = load_datakit(examples / "bronze-pagila")
    second = load_datakit(examples / "bronze-pagila")
    assert first.table_classes[0] is not second.table_classes[0]
    from sqlmodel import SQLModel

    assert not [k for k in SQLModel.metadata.tables if k.startswith("br__pagila__public.")]


def test_framework_functions(examples):
    modules = dkenv.discover_datakit_modules(str(examples / "bronze-pagila"))
    classes = dkenv.discover_sqlmodel_classes(modules)
    assert len(classes) == 13
    assert {c.__name__ for c in classes} >= {"Customer", "Film", "Payment"}


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("syntax_error", "broken.py:4"),
        ("missing_dep", "surely_not_installed_package"),
        ("no_tables", "defines no table classes"),
        ("duplicate_table", "two classes claim table 'dup.thing'"),
    ],
)
def test_bad_datakits_are_rejected_whole(fixtures, case, needle):
    with pytest.raises(DatakitError) as info:
        load_datakit(fixtures / case)
    assert needle in str(info.value)
    assert info.value.exit_code == 2


def test_missing_dep_names_file_and_line(fixtures):
    with pytest.raises(DatakitError) as info:
        load_datakit(fixtures / "missing_dep")
    assert "tables.py:1" in str(info.value)


def test_paths_that_are_not_datakits(tmp_path):
    with pytest.raises(DatakitError, match="does not exist"):
        load_datakit(tmp_path / "nope")
    file = tmp_path / "file.py"
    file.write_text("x = 1\n")
    with pytest.raises(DatakitError, match="is a file"):
        load_datakit(file)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatakitError, match="holds no Python modules"):
        load_datakit(empty)


def test_a_failure_inside_generated_code_points_at_the_kits_own_line(tmp_path, monkeypatch):
    """SQLAlchemy's generated wrappers have filenames like ``<generated wrapper>``; resolved against
    the working directory they looked like files of a datakit there, and the error named them."""
    from dkenv.datakit.importer import _where

    module = tmp_path / "models.py"
    module.write_text("def build(fn):\n    fn()\n")
    monkeypatch.chdir(tmp_path)
    generated = compile("def wrapper():\n    raise ValueError('two classes claim one table')\n",
                        "<generated wrapper>", "exec")
    namespace: dict = {}
    exec(generated, namespace)
    spec = importlib.util.spec_from_file_location("kit_models_where", module)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    try:
        loaded.build(namespace["wrapper"])
    except ValueError as exc:
        assert _where(exc, [tmp_path], tmp_path) == f"{module}:2"
    else:
        raise AssertionError("the wrapper did not raise")
