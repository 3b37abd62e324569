"""Discovery: a datakit is a set of modules and the tables they declare; one path, imported afresh.

A datakit path may be a package directory, a project directory holding packages (regular or
PEP 420 namespace packages, ``pyproject.toml`` and/or ``src/`` layouts), or a flat folder of
modules.  Discovery is table-first (:mod:`dkenv.datakit.scan`): every module's source is read
and only modules that declare tables are imported (with their packages), each exactly once.
The datakit's own settings (:mod:`dkenv.datakit.settings`) narrow that set and add folders to
``sys.path``.

Tables may be SQLModel classes (registered in a fresh registry per datakit, so two datakits with
the same table or package names never see each other), SQLAlchemy declarative classes, or bare
``Table`` objects; :attr:`Datakit.metadatas` holds every ``MetaData`` they live in.  After
discovery the datakit's folders and modules leave ``sys.path``/``sys.modules`` again
(:mod:`dkenv.datakit.importer`).

:func:`load_datakit` discovers afresh on every call (the framework's function: two calls, two
sets of classes).  Jobs load through :mod:`dkenv.datakit.loader`, which imports a path once per
process.
"""

from __future__ import annotations

import gc
import os
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from dkenv.datakit.importer import (
    ImportFailure,
    describe,
    failures_to_error,
    import_all,
    isolated_imports,
)
from dkenv.datakit.layout import find_layout
from dkenv.datakit.libraries import fresh_registries, library_object
from dkenv.datakit.resolve import resolve_bases
from dkenv.datakit.scan import scan_source
from dkenv.datakit.selection import Skipped, no_tables_error, select
from dkenv.datakit.settings import DatakitSettings, load_settings
from dkenv.datakit.tables import classes_in, collect
from dkenv.errors import DatakitError, UsageError

__all__ = [
    "Datakit", "check_path", "discover_datakit_modules", "discover_sqlmodel_classes",
    "extra_folders", "load_datakit", "own_registry", "pythonpath_from_env", "set_default_pythonpath",
]

# Discovery swaps SQLModel's registry and touches sys.path/sys.modules: one at a time.
_LOCK = threading.RLock()
# Folders every discovery in this process adds (the pytest plugin's dkenv_pythonpath).
_DEFAULT_PYTHONPATH: list[Path] = []


@dataclass
class Datakit:
    """A discovered datakit: its modules, its mapped classes and every table, in a stable order."""

    path: Path
    name: str
    modules: list[ModuleType]
    table_classes: list[type]
    metadata: Any = field(repr=False, default=None)  # the fresh SQLModel metadata
    metadatas: list[Any] = field(repr=False, default_factory=list)
    extra_tables: list[Any] = field(repr=False, default_factory=list)  # Tables not behind a class
    skipped: list[Skipped] = field(default_factory=list)
    #: (module, why) for every module discovery imported for its tables (``--verbose``).
    imported: list[tuple[str, str]] = field(default_factory=list)
    settings: DatakitSettings = field(repr=False, default_factory=DatakitSettings)

    @property
    def tables(self) -> list[Any]:
        """The SQLAlchemy ``Table`` objects: the classes' tables first, then the other tables."""
        seen: dict[int, Any] = {}
        for cls in self.table_classes:
            seen.setdefault(id(cls.__table__), cls.__table__)
        for table in self.extra_tables:
            seen.setdefault(id(table), table)
        return list(seen.values())

    @property
    def table_names(self) -> list[str]:
        """Schema-qualified table names (``schema.table`` or ``table``)."""
        return [t.fullname for t in self.tables]

    @property
    def schemas(self) -> list[str]:
        return sorted({t.schema for t in self.tables if t.schema})

    @property
    def requires(self) -> list[Path]:
        """Datakits this one builds on (``requires`` in its settings), deployed before it."""
        return list(self.settings.requires)

    @property
    def data_dirs(self) -> list[Path]:
        """Data directories loaded whenever it is deployed (``data`` in its settings)."""
        return list(self.settings.data)

    @property
    def extensions(self) -> list[str]:
        """PostgreSQL extensions its tables need (``extensions`` in its settings), created on deploy."""
        return list(self.settings.extensions)

    @classmethod
    def load(cls, path: str | Path, *, pythonpath: Sequence[str | Path] = ()) -> Datakit:
        return load_datakit(path, pythonpath=pythonpath)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
@contextmanager
def _fresh_sqlmodel_registry() -> Iterator[Any]:
    """Register every SQLModel table class defined inside the block in a registry of its own."""
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
def own_registry() -> Iterator[None]:
    """Discovery's lock and a fresh SQLModel registry, for code that imports a project's models
    outside discovery (Alembic's env.py and revisions): their tables never meet a datakit's,
    and importing them twice does not find them already defined."""
    with _LOCK, _fresh_sqlmodel_registry():
        yield


def check_path(path: str | Path) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise DatakitError(f"datakit path {str(path)!r} does not exist", "give the directory of a datakit package")
    if not p.is_dir():
        raise DatakitError(f"datakit path {str(path)!r} is a file, not a directory",
                           "give the directory that holds the datakit's package or modules")
    return p.resolve()


def pythonpath_from_env() -> list[str]:
    """``DKENV_PYTHONPATH`` split on ``os.pathsep`` (empty entries ignored)."""
    return [p for p in os.environ.get("DKENV_PYTHONPATH", "").split(os.pathsep) if p.strip()]


def set_default_pythonpath(folders: Sequence[str | Path]) -> None:
    """Folders added to every later discovery in this process (the pytest plugin's setting)."""
    _DEFAULT_PYTHONPATH[:] = [Path(f) for f in folders]


def extra_folders(pythonpath: Sequence[str | Path]) -> list[Path]:
    folders = []
    for raw in [*pythonpath, *pythonpath_from_env(), *_DEFAULT_PYTHONPATH]:
        folder = Path(raw).expanduser()
        if not folder.is_dir():
            source = "DKENV_PYTHONPATH" if str(raw) in pythonpath_from_env() else "pythonpath"
            raise UsageError(f"{source}: folder {str(raw)!r} does not exist",
                             "give an existing folder (relative to the current directory) that holds the modules")
        folders.append(folder.resolve())
    return folders


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------
def load_datakit(path: str | Path, *, pythonpath: Sequence[str | Path] = ()) -> Datakit:
    """Discover the datakit at ``path``: scan its sources, import its table modules, collect its tables.

    ``pythonpath`` (and ``DKENV_PYTHONPATH``, and ``pythonpath`` in the datakit's own settings)
    name folders put on ``sys.path`` while it is imported, for helpers that live outside it.
    """
    p = check_path(path)
    extra = extra_folders(pythonpath)
    settings = load_settings(p)
    layout = find_layout(p)
    if not layout.modules:
        raise DatakitError(f"datakit path {str(path)!r} holds no Python modules",
                           "a datakit is a package (with __init__.py), a project folder or a folder of .py modules")
    folders = [*settings.pythonpath, *extra]
    # A helper folder inside the datakit (pythonpath = ["shared"]) is imported under its own
    # names by the table modules that need it; it is not part of the datakit's modules.
    helpers = [f for f in folders if f != layout.root and f.is_relative_to(layout.root)]
    layout.modules = [m for m in layout.modules if not any(m.path.is_relative_to(f) for f in helpers)]
    layout.namespaces = {n: d for n, d in layout.namespaces.items()
                         if not any(d.is_relative_to(f) for f in helpers)}
    scans = {m.name: scan_source(m.path) for m in layout.modules}
    for m in layout.modules:
        scans[m.name].module, scans[m.name].package = m.name, m.package
    resolve_bases(list(scans.values()))
    skipped = [Skipped(name, why, name.endswith(".py") and scan_source(layout.root / name).declares_tables)
               for name, why in layout.skipped]
    chosen = select(layout, scans, settings, skipped)
    if not chosen:
        raise no_tables_error(path, layout, scans)
    failures: list[ImportFailure] = []
    for module in chosen:  # a syntax error needs no import to be reported
        error = scans[module.name].syntax_error
        if error is not None:
            failures.append(describe(error, module.name, [layout.root], module.path))
    names = [m.name for m in chosen if scans[m.name].syntax_error is None]
    library_bases = [library_object(d) for d in dict.fromkeys(d for m in chosen for d in scans[m.name].library_bases)]
    with _LOCK, _gc_paused(), _fresh_sqlmodel_registry() as reg, fresh_registries(library_bases) as libraries, \
            isolated_imports(layout.root, layout.tops, layout.namespaces, folders):
        before = set(sys.modules)
        _imported, failed = import_all(names)
        failures += [describe(exc, name, [layout.root, *folders], p, own=layout.tops) for name, exc in failed]
        if failures:
            raise failures_to_error(failures, p, layout.root)
        modules = [sys.modules[m.name] for m in layout.modules if m.name in sys.modules]
        modules += [sys.modules[n] for n in layout.namespaces if n in sys.modules and sys.modules[n] not in modules]
        outside = set(sys.modules) - before - {m.__name__ for m in modules}
        classes, extra_tables, metadatas = collect(modules, scans, [reg, *libraries], outside)
    imported = {m.__name__ for m in modules}
    # A module the table modules import themselves (helpers, factories) was not skipped after all.
    skipped = [s for s in skipped if s.module not in imported]
    for module in layout.modules:
        if module.package and module.name not in imported:
            skipped.append(Skipped(module.name, "package holds no table module"))
    if not classes and not extra_tables:
        raise no_tables_error(path, layout, scans)
    why = [(m.name, _why_imported(scans[m.name])) for m in chosen]
    return Datakit(path=p, name=layout.name, modules=modules, table_classes=classes, metadata=reg.metadata,
                   metadatas=metadatas, extra_tables=extra_tables, skipped=skipped, imported=why, settings=settings)


def _why_imported(scan: Any) -> str:
    if not scan.declarations:
        return "its source cannot be parsed, but looks like it declares a table"
    line, what = scan.declarations[0]
    more = f" (and {len(scan.declarations) - 1} more)" if len(scan.declarations) > 1 else ""
    return f"line {line}: {what}{more}" if line else f"{what}{more}"


def discover_datakit_modules(path: str | Path) -> list[ModuleType]:
    """Import the table modules of the datakit at ``path`` (framework-compatible name)."""
    datakit = load_datakit(path)
    # Keep the Datakit reachable from the list so callers that pass it on lose nothing.
    return _ModuleList(datakit.modules, datakit)


class _ModuleList(list):
    """A plain list of modules that also remembers the Datakit it came from."""

    def __init__(self, modules: Sequence[ModuleType], datakit: Datakit) -> None:
        super().__init__(modules)
        self.datakit = datakit


def discover_sqlmodel_classes(modules: Iterable[ModuleType]) -> list[type]:
    """The mapped table classes defined in ``modules`` (not merely imported there), each once, in order.

    SQLModel ``table=True`` classes and SQLAlchemy declarative classes alike; classes kept in a
    module-level dict or list (built by a factory) count too.
    """
    return classes_in(list(modules))
