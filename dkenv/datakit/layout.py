"""Layout: which folder is the import root of a datakit, and which modules it holds.

Three shapes are recognised, as teams write them:

* a package directory (``__init__.py``): its parent is the import root;
* a project directory (``pyproject.toml`` and/or ``src/``, or any folder): every package in it —
  regular or PEP 420 namespace (a folder of modules without ``__init__.py``) — and its loose
  top-level ``.py`` files; ``tests/``, ``docs/``, build and virtualenv folders are never part of it;
* a flat folder of modules (the same rule: loose files are modules).

Nothing here imports anything: the layout lists candidate modules, the source scan decides which
of them are imported.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: Directory names that are never part of a datakit's importable code.
SKIP_DIRS = {"tests", "test", "docs", "doc", "build", "dist", "venv", ".venv", "node_modules", "__pycache__",
             "site-packages", "notebooks"}
#: File names that are never imported as datakit modules.
SKIP_FILES = {"setup.py", "conftest.py", "__main__.py", "noxfile.py", "fabfile.py"}
_TEST_FILE = re.compile(r"^(test_.*|.*_test)\.py$")
_UNWANTED = "test, conftest, setup and __main__ files are never part of a datakit"


@dataclass(frozen=True)
class ModuleFile:
    """One candidate module: its dotted name and source file."""

    name: str
    path: Path
    package: bool = False  # an ``__init__.py``
    loose: bool = False  # a top-level script of a project directory


@dataclass
class Layout:
    root: Path  # the directory put on sys.path
    name: str
    modules: list[ModuleFile] = field(default_factory=list)  # parents before children, sorted
    namespaces: dict[str, Path] = field(default_factory=dict)  # dotted name -> folder (no __init__.py)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (folder or file, why)

    @property
    def tops(self) -> set[str]:
        """Top-level import names this datakit owns (hidden from sys.modules while it imports)."""
        return {m.name.split(".", 1)[0] for m in self.modules} | {n.split(".", 1)[0] for n in self.namespaces}


def is_package(path: Path) -> bool:
    return (path / "__init__.py").is_file()


def _wanted_file(path: Path) -> bool:
    return path.name not in SKIP_FILES and not _TEST_FILE.match(path.name)


def _skip_dir(child: Path, layout: Layout) -> bool:
    if child.name.startswith(".") or child.name.startswith("__"):
        return True
    if child.name in SKIP_DIRS:
        layout.skipped.append((f"{child.name}/", "tests, docs, build and virtualenv folders are never part of a datakit"))
        return True
    if not child.name.isidentifier():
        if any(child.glob("*.py")):
            layout.skipped.append((f"{child.name}/", "folder name is not a Python identifier, so it cannot be imported"))
        return True
    return False


def _walk(layout: Layout, folder: Path, dotted: str) -> Iterator[ModuleFile]:
    if is_package(folder):
        yield ModuleFile(dotted, folder / "__init__.py", package=True)
    else:
        layout.namespaces[dotted] = folder
    for child in sorted(folder.iterdir(), key=lambda p: p.name):
        if child.is_dir():
            if not _skip_dir(child, layout):
                yield from _walk(layout, child, f"{dotted}.{child.name}")
        elif child.suffix == ".py" and child.name != "__init__.py" and not _wanted_file(child):
            layout.skipped.append((str(child.relative_to(layout.root)), _UNWANTED))
        elif child.suffix == ".py" and child.name != "__init__.py":
            if child.stem.isidentifier():
                yield ModuleFile(f"{dotted}.{child.stem}", child)
            else:
                layout.skipped.append((str(child.relative_to(layout.root)),
                                       "file name is not a Python identifier, so it cannot be imported"))


def find_layout(path: Path) -> Layout:
    """The import root and candidate modules of the datakit at ``path`` (already resolved)."""
    if is_package(path):
        layout = Layout(root=path.parent, name=path.name)
        layout.modules = list(_walk(layout, path, path.name))
        return layout
    root = path / "src" if (path / "src").is_dir() else path
    layout = Layout(root=root, name=path.name)
    for child in sorted(root.iterdir(), key=lambda p: p.name):
        if child.is_dir():
            if not _skip_dir(child, layout):
                before = len(layout.modules)
                layout.modules.extend(_walk(layout, child, child.name))
                if child.name in layout.namespaces and len(layout.modules) == before:
                    # A folder with no Python module anywhere below (data, SQL, configs).
                    for key in [k for k in layout.namespaces if k == child.name or k.startswith(child.name + ".")]:
                        del layout.namespaces[key]
        elif child.suffix == ".py" and not _wanted_file(child):
            layout.skipped.append((child.name, _UNWANTED))
        elif child.suffix == ".py":
            if child.stem.isidentifier():
                layout.modules.append(ModuleFile(child.stem, child, loose=True))
            else:
                layout.skipped.append((child.name, "file name is not a Python identifier, so it cannot be imported"))
    return layout
