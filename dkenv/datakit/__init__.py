"""Discovery: a datakit is a set of modules and the SQLModel tables they define.

A datakit path may be a package directory, a project directory holding packages
(``pyproject.toml`` and/or ``src/`` layouts), or a flat folder of modules.  Modules are
imported as packages so that relative imports work, each exactly once, and every table
class is registered in a fresh SQLAlchemy registry of its own: two datakits that define
the same table name (or even the same package name) never see each other.  After
discovery, the datakit's path and modules are taken out of ``sys.path``/``sys.modules``
again, so a second datakit with the same names imports its own code.
"""

from __future__ import annotations

import gc
import importlib
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from dkenv.errors import DatakitError

#: Directory names that are never part of a datakit's importable code.
SKIP_DIRS = {"tests", "test", "docs", "doc", "build", "dist", "venv", ".venv", "node_modules", "__pycache__"}
#: File names that are never imported as datakit modules.
SKIP_FILES = {"setup.py", "conftest.py", "__main__.py", "noxfile.py", "fabfile.py"}
_TEST_FILE = re.compile(r"^(test_.*|.*_test)\.py$")

# Discovery swaps SQLModel's registry and touches sys.path/sys.modules: one at a time.
_LOCK = threading.RLock()


@dataclass
class Datakit:
    """A discovered datakit: its modules and its own table classes, in a stable order."""

    path: Path
    name: str
    modules: list[ModuleType]
    table_classes: list[type]
    metadata: Any = field(repr=False, default=None)

    @property
    def tables(self) -> list[Any]:
        """The SQLAlchemy ``Table`` objects, in discovery order."""
        return [cls.__table__ for cls in self.table_classes]

    @property
    def table_names(self) -> list[str]:
        """Schema-qualified table names (``schema.table`` or ``table``)."""
        return [t.fullname for t in self.tables]

    @property
    def schemas(self) -> list[str]:
        return sorted({t.schema for t in self.tables if t.schema})

    @classmethod
    def load(cls, path: str | Path) -> Datakit:
        return load_datakit(path)


# ---------------------------------------------------------------------------
# Layout: which directory goes on sys.path, and which modules to import
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    root: Path  # the directory put on sys.path
    modules: list[str]  # dotted names to import, in order
    name: str


def _is_package(path: Path) -> bool:
    return (path / "__init__.py").is_file()


def _walk_package(root: Path, package: Path) -> Iterator[str]:
    """Dotted names of a package and all its modules/subpackages, sorted, parents first."""
    dotted = ".".join(package.relative_to(root).parts)
    yield dotted
    for child in sorted(package.iterdir(), key=lambda p: p.name):
        if child.is_dir():
            if child.name in SKIP_DIRS or child.name.startswith(".") or not _is_package(child):
                continue
            yield from _walk_package(root, child)
        elif child.suffix == ".py" and child.name != "__init__.py" and _wanted_file(child):
            yield f"{dotted}.{child.stem}"


def _wanted_file(path: Path) -> bool:
    return (
        path.name not in SKIP_FILES
        and not _TEST_FILE.match(path.name)
        and path.stem.isidentifier()
    )


def _layout(path: Path) -> _Layout:
    if _is_package(path):
        return _Layout(root=path.parent, modules=list(_walk_package(path.parent, path)), name=path.name)
    root = path / "src" if (path / "src").is_dir() else path
    modules: list[str] = []
    for child in sorted(root.iterdir(), key=lambda p: p.name):
        if child.is_dir():
            if child.name in SKIP_DIRS or child.name.startswith(".") or not _is_package(child):
                continue
            modules.extend(_walk_package(root, child))
        elif child.suffix == ".py" and _wanted_file(child):
            modules.append(child.stem)
    return _Layout(root=root, modules=modules, name=path.name)


# ---------------------------------------------------------------------------
# Isolation: a fresh SQLModel registry and a clean import namespace
# ---------------------------------------------------------------------------
@contextmanager
def _fresh_sqlmodel_registry() -> Iterator[Any]:
    """Register every table class defined inside the block in a registry of its own."""
    from sqlalchemy.orm import registry
    from sqlmodel import SQLModel

    reg = registry()
    saved = SQLModel.__dict__.get("_sa_registry"), SQLModel.__dict__.get("metadata")
    SQLModel._sa_registry = reg  # type: ignore[attr-defined]
    SQLModel.metadata = reg.metadata
    try:
        yield reg
    finally:
        SQLModel._sa_registry, SQLModel.metadata = saved  # type: ignore[attr-defined]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Class construction allocates heavily; the cyclic GC would rescan the young heap many
    times over while a large datakit imports (about a fifth of discovery time at 300 tables)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _isolated_imports(root: Path, top_names: Iterable[str]) -> Iterator[None]:
    """Put ``root`` first on sys.path and hide same-named modules; undo both afterwards."""
    tops = set(top_names)

    def owned(key: str) -> bool:
        return key.split(".", 1)[0] in tops

    stashed = {k: sys.modules.pop(k) for k in list(sys.modules) if owned(k)}
    before = set(sys.modules)
    root_str = str(root)
    sys.path.insert(0, root_str)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        try:
            sys.path.remove(root_str)
        except ValueError:
            pass
        for key in set(sys.modules) - before:
            module = sys.modules.get(key)
            file = getattr(module, "__file__", None)
            if owned(key) or (file and _within(Path(file), root)):
                del sys.modules[key]
        sys.modules.update(stashed)
        importlib.invalidate_caches()


def _within(path: Path, root: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


# ---------------------------------------------------------------------------
# Import errors → one line with file and line
# ---------------------------------------------------------------------------
def _where(exc: BaseException, root: Path) -> str:
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _within(Path(f.filename), root)]
    if frames:
        return f"{frames[-1].filename}:{frames[-1].lineno}"
    return str(root)


def _import_error(exc: BaseException, module: str, root: Path, datakit: Path) -> DatakitError:
    where = _where(exc, root)
    if isinstance(exc, SyntaxError):
        detail = f"syntax error: {exc.msg}"
        hint = "fix the syntax; a datakit with a module that does not import is rejected as a whole"
    elif isinstance(exc, ModuleNotFoundError):
        detail = f"imports {exc.name!r}, which is not installed"
        hint = f"install it (pip install {exc.name.split('.')[0] if exc.name else '...'}) or remove the import"
    elif "is already defined for this MetaData" in str(exc):
        table = re.search(r"Table '([^']+)'", str(exc))
        detail = f"two classes claim table {table.group(1) if table else '?'!r}"
        hint = "give one of them another __tablename__ or schema"
    else:
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0]
        hint = "fix the module; a datakit with a module that does not import is rejected as a whole"
    return DatakitError(f"{where}: datakit {datakit} module {module!r} failed to import: {detail}", hint)


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------
def _check_path(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise DatakitError(f"datakit path {str(path)!r} does not exist", "give the directory of a datakit package")
    if not p.is_dir():
        raise DatakitError(f"datakit path {str(path)!r} is a file, not a directory",
                           "give the directory that holds the datakit's package or modules")
    return p.resolve()


def load_datakit(path: str | Path) -> Datakit:
    """Discover the datakit at ``path``: import all its modules and collect its own tables."""
    p = _check_path(path)
    layout = _layout(p)
    if not layout.modules:
        raise DatakitError(f"datakit path {str(path)!r} holds no Python modules",
                           "a datakit is a package (with __init__.py) or a folder of .py modules")
    tops = {m.split(".", 1)[0] for m in layout.modules}
    modules: list[ModuleType] = []
    with _LOCK, _gc_paused(), _fresh_sqlmodel_registry() as reg, _isolated_imports(layout.root, tops):
        for dotted in layout.modules:
            try:
                modules.append(importlib.import_module(dotted))
            except BaseException as exc:  # noqa: BLE001 - any import failure rejects the datakit
                if isinstance(exc, KeyboardInterrupt):
                    raise
                raise _import_error(exc, dotted, layout.root, p) from exc
    classes = discover_sqlmodel_classes(modules)
    if not classes:
        raise DatakitError(f"datakit {str(path)!r} defines no table classes",
                           "a datakit needs SQLModel classes declared with table=True")
    return Datakit(path=p, name=layout.name, modules=modules, table_classes=classes, metadata=reg.metadata)


def discover_datakit_modules(path: str | Path) -> list[ModuleType]:
    """Import every module of the datakit at ``path`` (framework-compatible name)."""
    datakit = load_datakit(path)
    modules = list(datakit.modules)
    # Keep the Datakit reachable from the list so callers that pass it on lose nothing.
    return _ModuleList(modules, datakit)


class _ModuleList(list):
    """A plain list of modules that also remembers the Datakit it came from."""

    def __init__(self, modules: Sequence[ModuleType], datakit: Datakit) -> None:
        super().__init__(modules)
        self.datakit = datakit


def discover_sqlmodel_classes(modules: Iterable[ModuleType]) -> list[type]:
    """The table classes defined in ``modules`` (not merely imported there), each once, in order."""
    from sqlmodel import SQLModel

    modules = list(modules)
    names = {m.__name__ for m in modules}
    seen: set[int] = set()
    found: list[type] = []
    for module in modules:
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, SQLModel)
                and getattr(value, "__table__", None) is not None
                and value.__module__ in names
                and id(value) not in seen
            ):
                seen.add(id(value))
                found.append(value)
    return found


def datakit_of(obj: Any) -> Datakit:
    """Accept a Datakit, a path, or a list of table classes; return a Datakit."""
    if isinstance(obj, Datakit):
        return obj
    if isinstance(obj, (str, Path)):
        return load_datakit(obj)
    raise TypeError(f"expected a Datakit or a path, got {type(obj).__name__}")
