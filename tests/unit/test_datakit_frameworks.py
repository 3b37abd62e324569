"""Discovery finds mapped classes whatever base they come from: Flask-SQLAlchemy's db.Model,
advanced-alchemy's bases, registry().mapped, MappedAsDataclass, imperative mappings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dkenv.datakit import load_datakit
from dkenv.datakit.resolve import resolve_bases
from dkenv.datakit.scan import scan_source

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "datakits"


def _needs(package: str) -> None:
    pytest.importorskip(package, reason=f"{package} is not installed (pip install -e '.[dev]')")


def test_flask_sqlalchemy_models_without_tablename_deploy_and_validate(dk):
    _needs("flask_sqlalchemy")
    kit = load_datakit(FIXTURES / "flask_models")
    assert kit.table_names == ["user_account", "book_loan"]  # the extension's snake_case names
    r = dk("deploy", FIXTURES / "flask_models", FIXTURES / "flask_inline", "--validate", "--json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["validation"] == {"success": True, "problems": []}
    assert sorted(doc["tables"]) == ["book_loan", "shop_item", "user_account"]
    r = dk("deploy", FIXTURES / "flask_models", FIXTURES / "flask_inline", "--verbose")
    assert r.code == 0, r.err
    assert ("dkenv: flask_models: imported library.models: line 5: class UserAccount (derives from db.Model, "
            "Flask-SQLAlchemy's model base (db = SQLAlchemy())) (and 1 more)") in r.err
    assert "dkenv: flask_models: skipped library.views: declares no table" in r.err
    assert "dkenv: flask_inline: imported app: line 8: class ShopItem (derives from db.Model" in r.err


def test_advanced_alchemy_bases_are_looked_up_in_the_library(dk):
    _needs("advanced_alchemy")
    from advanced_alchemy.base import orm_registry

    kit = load_datakit(FIXTURES / "advanced_models")
    assert kit.table_names == ["author", "book", "tag"]  # Tag's body declares no column at all
    assert {c.name for c in kit.tables[1].columns} >= {"id", "title", "author_id", "created_at", "updated_at"}
    again = load_datakit(FIXTURES / "advanced_models")  # a fresh registry each time: no "already defined"
    assert again.table_names == kit.table_names
    assert again.tables[0] is not kit.tables[0]
    assert "author" not in orm_registry.metadata.tables  # the library's own registry is left alone
    assert kit.imported == [
        ("catalog.models", "line 9: class Author (derives from UUIDBase, a declarative base of advanced_alchemy) "
                           "(and 1 more)"),
        ("catalog.tags", "line 5: class Tag (derives from base.UUIDBase, a declarative base of advanced_alchemy)"),
    ]
    r = dk("deploy", FIXTURES / "advanced_models", "--validate", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["validation"] == {"success": True, "problems": []}


def test_registry_decorators_dataclasses_and_imperative_mappings(dk):
    kit = load_datakit(FIXTURES / "mapped_styles")
    assert kit.table_names == ["widget", "note", "label", "person"]
    assert [c.__name__ for c in kit.table_classes] == ["Widget", "Note", "Label", "Person"]
    r = dk("deploy", FIXTURES / "mapped_styles", "--validate", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["validation"] == {"success": True, "problems": []}


def _scan(tmp_path: Path, **sources: str):
    scans = {}
    for name, text in sources.items():
        path = tmp_path / f"{name}.py"
        path.write_text(text)
        scans[name] = scan_source(path)
        scans[name].module = name
    resolve_bases(list(scans.values()), external=lambda dotted: {"lib.Base": True, "lib.Schema": False}.get(dotted))
    return scans


def test_an_undecidable_base_counts_when_the_body_declares_columns(tmp_path):
    scans = _scan(
        tmp_path,
        a="from missing_lib import Model\nclass Row(Model):\n    id = Column(Integer, primary_key=True)\n",
        b="from missing_lib import Model\nclass Row(Model):\n    id: Mapped[int]\n",
        c="from missing_lib import Model\nclass Settings(Model):\n    debug = False\n",
        d="from lib import Schema\nclass Out(Schema):\n    id = Column(Integer)\n",  # decided: no base
    )
    assert scans["a"].declarations == [
        (2, "class Row (declares columns and Model comes from missing_lib, which is not installed)")]
    assert scans["b"].declares_tables
    assert not scans["c"].declares_tables
    assert not scans["d"].declares_tables


def test_library_bases_through_the_kits_own_abstract_mixin(tmp_path):
    scans = _scan(
        tmp_path,
        base="from lib import Base\nclass Audited(Base):\n    __abstract__ = True\n",
        models="from base import Audited\nclass Order(Audited):\n    pass\n",
    )
    assert not scans["base"].declares_tables
    assert scans["models"].declarations == [
        (2, "class Order (derives from Audited, a declarative base of the datakit)")]
    assert scans["models"].library_bases == ["lib.Base"]


def test_sqlmodel_subclasses_of_a_table_are_no_tables(tmp_path):
    scans = _scan(
        tmp_path,
        m=("from sqlmodel import SQLModel\nclass Hero(SQLModel, table=True):\n    id: int\n"
           "class HeroRead(Hero):\n    pass\n"),
        n="from m import HeroRead\nclass HeroOut(HeroRead):\n    pass\n",
    )
    assert scans["m"].declarations == [(2, "class Hero")]
    assert not scans["n"].declares_tables


@pytest.mark.parametrize("source", [
    "from flask_sqlalchemy import SQLAlchemy as FSA\ndb = FSA()\n",
    "import flask_sqlalchemy\ndb = flask_sqlalchemy.SQLAlchemy()\n",
    "from flask_sqlalchemy.extension import SQLAlchemy\ndb = SQLAlchemy(model_class=object)\n",
])
def test_flask_sqlalchemy_instance_however_it_is_imported(tmp_path, source):
    scans = _scan(tmp_path, m=source + "class Tag(db.Model):\n    pass\n")
    assert scans["m"].declarations == [(3, "class Tag (derives from db.Model, Flask-SQLAlchemy's model base "
                                           f"(db = {source.splitlines()[1].split('= ')[1].split('(')[0]}()))")]


def test_an_attribute_of_another_object_is_undecided(tmp_path):
    scans = _scan(tmp_path, m="from lib import make\nthing = make()\nclass A(thing.Model):\n    pass\n"
                              "class B(thing.Model):\n    x = mapped_column(Integer)\n")
    assert scans["m"].declarations == [
        (5, "class B (declares columns and thing.Model is an attribute of thing = make())")]


def test_libraries_are_asked_only_what_they_can_answer():
    from dkenv.datakit.libraries import library_base

    assert library_base("sqlmodel.SQLModel") is False  # tables only with table=True
    assert library_base("sqlalchemy.orm.MappedAsDataclass") is False  # a mixin
    assert library_base("pydantic.BaseModel") is False  # installed, no SQLAlchemy in its requirements
    assert library_base("no_such_package_here.Base") is None
    pytest.importorskip("advanced_alchemy", reason="advanced-alchemy is not installed")
    assert library_base("advanced_alchemy.base.BigIntAuditBase") is True


def test_a_base_from_a_missing_library_is_named_when_nothing_else_declares_a_table(tmp_path, dk):
    (tmp_path / "models.py").write_text("from no_such_package_here.base import UUIDBase\n\n"
                                        "class Tag(UUIDBase):\n    pass\n")
    r = dk("deploy", tmp_path)
    assert r.code == 2
    assert r.err.splitlines() == [
        f"dkenv: error: datakit {str(tmp_path)!r} defines no table it can tell: models line 3: class Tag: "
        "UUIDBase comes from no_such_package_here.base, which is not installed",
        "  hint: install the library its base comes from, or declare the columns in the class body "
        "(Column(...), mapped_column(...))",
    ]
    (tmp_path / "tables.py").write_text("import sqlalchemy as sa\nt = sa.Table('t', sa.MetaData(), "
                                        "sa.Column('id', sa.Integer, primary_key=True))\n")
    r = dk("deploy", tmp_path, "--verbose")
    assert r.code == 0, r.err
    assert (f"dkenv: {tmp_path.name}: skipped models: loose script that declares no table it can tell (class Tag: UUIDBase comes "
            "from no_such_package_here.base, which is not installed, line 3; its body declares no column)") in r.err
    assert f"dkenv: {tmp_path.name}: imported tables: line 2: Table(...)" in r.err
