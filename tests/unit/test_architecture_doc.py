"""docs/architecture.md's tree is the repository's tree: every module of ``dkenv/`` is listed under
its package, and nothing listed is gone (issue 16: the map a newcomer reads first stays true)."""

from __future__ import annotations

import re

from tests.conftest import ROOT

DOC = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "dkenv"


def listed() -> set[str]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("## The tree", 1)[1].split("```", 2)[1]
    names: set[str] = set()
    package = ""
    for line in block.splitlines():
        match = re.match(r"^(\s*)(\S+)", line)
        if not match:
            continue
        indent, name = match.groups()
        if not indent:
            package = name.rstrip("/") if name.endswith("/") else ""
            names.add(name.rstrip("/") + ("/" if name.endswith("/") else ""))
        else:
            names.add(f"{package}/{name}")
    return names


def in_repository() -> set[str]:
    names = {p.name for p in PACKAGE.glob("*.py")}
    for init in PACKAGE.glob("*/__init__.py"):
        package = init.parent.name
        names.add(f"{package}/")
        names.update(f"{package}/{p.name}" for p in init.parent.glob("*.py") if p.name != "__init__.py")
    return names


def test_the_documented_tree_is_the_repository_tree() -> None:
    doc, repo = listed(), in_repository()
    assert sorted(repo - doc) == [], "modules missing from docs/architecture.md's tree"
    assert sorted(doc - repo) == [], "docs/architecture.md lists modules that no longer exist"


def test_every_package_is_in_the_layer_contract() -> None:
    """Each package and top-level module has a place in the import-linter contract."""
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    layers = pyproject.split("layers = [", 1)[1].split("]", 1)[0]
    named = set(re.findall(r"[a-z_]+", layers))
    modules = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    packages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    assert sorted((modules | packages) - named) == []
