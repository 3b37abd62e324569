"""Importing a datakit's table modules in isolation, and turning every failure into a fix.

Isolation: a datakit's modules are imported with its root (and its ``pythonpath`` folders) on
``sys.path`` and its own top-level names served by a finder that only looks inside the datakit,
so a same-named package elsewhere (or an installed ``tables``) never answers for it.  Afterwards
everything it imported from those folders leaves ``sys.modules`` again and same-named modules
that were there before come back: a second datakit with the same names imports its own code.

Failures are collected, not raised one by one: every table module is tried, and each missing
package is reported once with what fixes it — ``pip install -e <datakit>`` when the datakit's own
``pyproject.toml`` lists it, ``--pythonpath <folder>`` when it exists as a folder or file up to
the repository root, otherwise ``pip install <name>``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import platform
import re
import sys
import traceback
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from dkenv.datakit.settings import project_file
from dkenv.errors import DatakitError

#: Modules dkenv itself relies on while a datakit imports: never hidden, even if a folder shadows them.
_PROTECTED = {"sqlmodel", "sqlalchemy", "pydantic", "pydantic_core", "typing_extensions", "dkenv"}
#: Import names whose distribution is called differently.
_DISTRIBUTIONS = {"yaml": "pyyaml", "PIL": "pillow", "sklearn": "scikit-learn", "dateutil": "python-dateutil",
                  "bs4": "beautifulsoup4", "psycopg2": "psycopg2-binary", "dotenv": "python-dotenv",
                  "MySQLdb": "mysqlclient", "google": "google-cloud", "jwt": "pyjwt"}


class _KitFinder(importlib.abc.MetaPathFinder):
    """Serves the datakit's own top-level names from its root, and its namespace folders as such."""

    def __init__(self, root: Path, tops: set[str], namespaces: dict[str, Path]) -> None:
        self.root = str(root)
        self.tops = tops
        self.namespaces = namespaces

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        folder = self.namespaces.get(fullname)
        if folder is not None:  # a plain list, so no other portion on sys.path ever merges in
            spec = importlib.machinery.ModuleSpec(fullname, None, is_package=True)
            spec.submodule_search_locations = [str(folder)]
            return spec
        if "." not in fullname and fullname in self.tops:
            return importlib.machinery.PathFinder.find_spec(fullname, [self.root])
        return None


def _paths_of(module: ModuleType) -> list[str]:
    file = getattr(module, "__file__", None)
    if file:
        return [file]
    try:
        return list(getattr(module, "__path__", []) or [])
    except Exception:  # noqa: BLE001 - a broken namespace path is not ours to fix
        return []


def within(path: Path | str, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(root.resolve())
        return True
    except (ValueError, OSError):
        return False


def _top_names(folder: Path) -> set[str]:
    names = set()
    try:
        for child in folder.iterdir():
            stem = child.stem if child.suffix == ".py" else child.name
            if (child.is_dir() or child.suffix == ".py") and stem.isidentifier():
                names.add(stem)
    except OSError:
        pass
    return names - _PROTECTED


@contextmanager
def isolated_imports(root: Path, tops: Iterable[str], namespaces: dict[str, Path],
                     pythonpath: Sequence[Path] = ()) -> Iterator[None]:
    """Import from ``root`` (then ``pythonpath``) with same-named modules hidden; undo it all afterwards."""
    owned_tops = set(tops)
    for folder in pythonpath:
        owned_tops |= _top_names(folder)
    folders = [root, *pythonpath]

    def owned(key: str) -> bool:
        return key.split(".", 1)[0] in owned_tops

    stashed = {k: sys.modules.pop(k) for k in list(sys.modules) if owned(k)}
    before = set(sys.modules)
    entries = [str(f) for f in folders]
    sys.path[0:0] = entries
    finder = _KitFinder(root, set(tops), namespaces)
    sys.meta_path.insert(0, finder)
    importlib.invalidate_caches()
    try:
        yield
    finally:
        try:
            sys.meta_path.remove(finder)
        except ValueError:
            pass
        for entry in entries:
            try:
                sys.path.remove(entry)
            except ValueError:
                pass
        for key in set(sys.modules) - before:
            module = sys.modules.get(key)
            if module is None or owned(key) or any(within(p, f) for p in _paths_of(module) for f in folders):
                sys.modules.pop(key, None)
        sys.modules.update(stashed)
        importlib.invalidate_caches()


# ---------------------------------------------------------------------------
# Failures -> (where, what, fix)
# ---------------------------------------------------------------------------
@dataclass
class ImportFailure:
    module: str
    where: str  # file:line
    detail: str
    hint: str
    missing: str | None = None  # top-level name of a module that is not installed/found


def _where(exc: BaseException, folders: Sequence[Path], fallback: Path) -> str:
    if isinstance(exc, SyntaxError) and exc.filename:
        return f"{exc.filename}:{exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if not f.filename.startswith("<")  # generated code (SQLAlchemy's wrappers): no file of the kit
              and any(within(f.filename, r) for r in folders)]
    if frames:
        return f"{frames[-1].filename}:{frames[-1].lineno}"
    return str(fallback)


def _sqlmodel_hint(exc: BaseException) -> tuple[str, str] | None:
    """(detail, fix) for SQLModel/SQLAlchemy mistakes that fail at import on current versions."""
    text = str(exc)
    if isinstance(exc, TypeError) and "unexpected keyword argument 'server_default'" in text:
        return ("Field() takes no server_default",
                'pass it to the column: Field(sa_column_kwargs={"server_default": ...})')
    match = re.search(r"Passing (\w+) is not supported when also passing a sa_column", text)
    if match:
        key = match.group(1)
        fix = ("move it into the Column: Column(..., nullable=False)" if key == "nullable"
               else f"move {key} into the Column (Column(..., {key}=...)) and drop it from Field()")
        return f"Field({key}=...) together with sa_column=", fix
    match = re.search(r"Column object '([^']+)' already assigned to Table '([^']+)'", text)
    if match:
        return (f"one Column object {match.group(1)!r} is shared by several tables (already on {match.group(2)!r}),"
                " usually through a mixin",
                "create the Column per table: sa_column=Column(...) in each class, or a @declared_attr "
                "that returns a new Column")
    if "is already defined for this MetaData" in text:
        table = re.search(r"Table '([^']+)'", text)
        return (f"two classes claim table {table.group(1) if table else '?'!r}",
                "give one of them another __tablename__ or schema")
    return None


def describe(exc: BaseException, module: str, folders: Sequence[Path], fallback: Path,
             own: Iterable[str] = ()) -> ImportFailure:
    """What went wrong importing ``module``, where (file:line inside ``folders``), and the fix."""
    where = _where(exc, folders, fallback)
    if isinstance(exc, SyntaxError):
        return ImportFailure(module, where, f"syntax error: {exc.msg}",
                             "fix the syntax; a datakit with a table module that does not import is rejected as a whole")
    if isinstance(exc, ModuleNotFoundError) and exc.name:
        top = exc.name.split(".", 1)[0]
        if top in set(own):  # the datakit's own package: a wrong import path, not a missing install
            return ImportFailure(module, where, f"imports {exc.name!r}, which does not exist in the datakit",
                                 "fix the import: check the module path and the file name")
        return ImportFailure(module, where, f"imports {exc.name!r}, which is not installed or not found", "", top)
    known = _sqlmodel_hint(exc)
    if known:
        return ImportFailure(module, where, known[0], known[1])
    detail = (f"{type(exc).__name__}: {exc}".splitlines() or [""])[0]
    return ImportFailure(module, where, detail,
                         "fix the module; a datakit with a table module that does not import is rejected as a whole")


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def declared_dependencies(pyproject: Path | None) -> set[str]:
    """Normalised distribution names in ``[project] dependencies`` (and optional ones)."""
    if pyproject is None:
        return set()
    import tomllib

    try:
        project = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {})
    except (OSError, tomllib.TOMLDecodeError):
        return set()
    specs = list(project.get("dependencies", []) or [])
    for extra in (project.get("optional-dependencies", {}) or {}).values():
        specs += list(extra or [])
    names = set()
    for spec in specs:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", str(spec))
        if match:
            names.add(_normalise(match.group(1)))
    return names


def python_mismatch(pyproject: Path | None) -> tuple[str, str] | None:
    """(requires-python, this version) when the project's ``requires-python`` excludes this Python.

    Why: code written for a newer Python fails here with a plain ``NameError`` or
    ``SyntaxError`` at file:line; the real cause is the interpreter, and the project says so.
    """
    if pyproject is None:
        return None
    import tomllib

    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        wanted = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("project", {}).get("requires-python")
        spec = SpecifierSet(str(wanted)) if wanted else None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, InvalidSpecifier):
        return None
    this = platform.python_version()
    if spec is None or spec.contains(this, prereleases=True):
        return None
    return str(wanted), this


def _repository_root(start: Path) -> Path:
    for folder in [start, *start.parents]:
        if (folder / ".git").exists():
            return folder
    return Path(start.anchor)


def find_local(name: str, start: Path, skip: Sequence[Path] = ()) -> Path | None:
    """The folder holding a module/package ``name``, searching up from ``start`` to the repository root."""
    stop = _repository_root(start)
    for folder in [start, *start.parents]:
        if folder not in skip and ((folder / name).is_dir() or (folder / f"{name}.py").is_file()):
            return folder
        if folder == stop:
            break
    return None


def missing_fix(name: str, kit: Path, root: Path, pyproject: Path | None) -> str:
    """What to do about a module ``name`` that could not be imported."""
    dist = _DISTRIBUTIONS.get(name, name)
    if _normalise(dist) in declared_dependencies(pyproject) or _normalise(name) in declared_dependencies(pyproject):
        return f"pip install -e {pyproject.parent if pyproject else kit}"
    local = find_local(name, kit, skip=[root])
    if local is not None:
        return f"--pythonpath {local}"
    return f"pip install {dist}"


def import_all(names: Sequence[str]) -> tuple[list[ModuleType], list[tuple[str, BaseException]]]:
    """Import each module, keep going after a failure; (imported, [(name, exception)])."""
    imported, failed = [], []
    for dotted in names:
        try:
            imported.append(importlib.import_module(dotted))
        except BaseException as exc:  # noqa: BLE001 - any import failure is collected and reported
            if isinstance(exc, KeyboardInterrupt):
                raise
            failed.append((dotted, exc))
    return imported, failed


def failures_to_error(failures: list[ImportFailure], kit: Path, root: Path) -> DatakitError:
    """One error for every failing table module: the first real error, or every missing module with its fix."""
    missing: dict[str, ImportFailure] = {}
    others: list[ImportFailure] = []
    for failure in failures:
        if failure.missing:
            missing.setdefault(failure.missing, failure)
        else:
            others.append(failure)
    pyproject = project_file(kit)
    mismatch = python_mismatch(pyproject)
    python = f"; the project requires Python {mismatch[0]} (this is {mismatch[1]})" if mismatch else ""
    if others:
        first = others[0]
        rest = len(others) - 1 + len(missing)
        more = f" (and {rest} more failing module(s))" if rest else ""
        hint = (f"run dkenv with a Python the project supports ({mismatch[0]}), or make the module work on "
                f"{mismatch[1]}") if mismatch else first.hint
        return DatakitError(f"{first.where}: datakit {kit} table module {first.module!r} failed to import: "
                            f"{first.detail}{more}{python}", hint)
    installs: list[str] = []
    hints: list[str] = []
    for name in missing:
        fix = missing_fix(name, kit, root, pyproject)
        if fix.startswith("pip install -e"):
            hints.append(f"{fix} (its pyproject.toml lists {name})")
        elif fix.startswith("--pythonpath"):
            hints.append(f"{name} is a local folder: pass {fix} (or list it under pythonpath in [tool.dkenv])")
        else:
            installs.append(fix.removeprefix("pip install "))
    if installs:
        hints.append("pip install " + " ".join(installs))
    named = ", ".join(f"{name} ({f.where})" for name, f in missing.items())
    noun = "a module that is" if len(missing) == 1 else f"{len(missing)} modules that are"
    return DatakitError(f"datakit {kit}: table modules import {noun} not available: {named}{python}",
                        "; ".join(hints))
