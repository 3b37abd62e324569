"""The source scan that decides which modules are imported (no import happens here)."""

from __future__ import annotations

from pathlib import Path

from dkenv.datakit.resolve import resolve_bases
from dkenv.datakit.scan import scan_source


def _scan(tmp_path: Path, **sources: str):
    scans = {}
    for name, text in sources.items():
        path = tmp_path / f"{name}.py"
        path.write_text(text)
        scans[name] = scan_source(path)
    resolve_bases(list(scans.values()))
    return scans


def test_subclass_of_a_declarative_base_defined_in_another_module(tmp_path):
    scans = _scan(
        tmp_path,
        base=("from sqlalchemy.orm import DeclarativeBase, declared_attr\n"
              "class Base(DeclarativeBase):\n"
              "    @declared_attr.directive\n"
              "    def __tablename__(cls):\n        return cls.__name__.lower()\n"
              "class Abstract(Base):\n    __abstract__ = True\n"),
        users=("from base import Abstract\n"
               "class User(Abstract):\n    id = 1\n"
               "class Helper:\n    pass\n"),
    )
    assert not scans["base"].declares_tables  # the base and an abstract class are no tables
    assert scans["users"].declarations == [(2, "class User (derives from Abstract, a declarative base of the datakit)")]


def test_sqlmodel_table_classes_and_table_calls(tmp_path):
    scans = _scan(
        tmp_path,
        m=("import sqlalchemy as sa\nfrom sqlmodel import SQLModel\n"
           "class Mixin(SQLModel):\n    pass\n"
           "class T(Mixin, table=True):\n    pass\n"
           "try:\n    audit = sa.Table('audit', sa.MetaData())\nexcept ImportError:\n    pass\n"
           "class Legacy:\n    __table__ = sa.Table('legacy', sa.MetaData())\n"),
    )
    assert scans["m"].declarations == [(5, "class T"), (8, "Table(...)"), (11, "class Legacy")]


def test_guards_and_functions_do_not_count_unless_called_at_import(tmp_path):
    scans = _scan(
        tmp_path,
        guarded=("from typing import TYPE_CHECKING\n"
                 "if TYPE_CHECKING:\n    class A(SQLModel, table=True):\n        pass\n"
                 "else:\n    pass\n"
                 "if __name__ == '__main__':\n    t = Table('x')\n"
                 "def never():\n    return Table('y')\n"),
        factory=("def make(name):\n    return type(name, (SQLModel,), {}, table=True)\n"),
        uses=("from factory import make\nTABLES = {n: make(n) for n in ('a', 'b')}\n"),
    )
    assert not scans["guarded"].declares_tables
    assert [why for _line, why in scans["guarded"].guarded] == [
        "class A inside `if TYPE_CHECKING:`", 'Table(...) inside `if __name__ == "__main__":`',
        "Table(...) inside function never()"]
    assert not scans["factory"].declares_tables  # imported anyway, by the module that calls it
    assert scans["uses"].declarations == [(0, "call of table factory make()")]


def test_syntax_error_and_plain_modules(tmp_path):
    scans = _scan(tmp_path, broken="class T(SQLModel, table=True)\n    pass\n", plain="X = 1\n")
    assert scans["broken"].syntax_error is not None and scans["broken"].syntax_error.lineno == 1
    assert not scans["plain"].declares_tables and scans["plain"].syntax_error is None


def test_encoding_cookie_and_null_bytes(tmp_path):
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"# -*- coding: latin-1 -*-\nclass T(SQLModel, table=True):\n    name = '\xe9'\n")
    assert scan_source(latin).declarations == [(2, "class T")]
    nul = tmp_path / "nul.py"
    nul.write_bytes(b"x = 1\x00\n")
    assert scan_source(nul).syntax_error is not None
