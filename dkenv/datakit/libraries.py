"""Declarative bases that libraries ship: recognised in the library itself, fresh per discovery.

Why: ``class Author(UUIDBase)`` declares a table only because advanced-alchemy's ``UUIDBase``
is a declarative base, and nothing in the datakit's source says so.  The scan cannot tell a
library's base from a pydantic model or a click command by name, so it asks the library:
the library module is imported (never a module of the datakit) and the class looked at.  Only
libraries that depend on SQLAlchemy are asked, so a base from typer or pandas never costs
their import.

Such a base keeps its registry in the library, shared by every datakit and every discovery in
the process: a second discovery of the same datakit would define ``author`` twice in one
``MetaData``.  :func:`fresh_registries` gives each discovery a registry of its own (same naming
convention, schema and type map), the way SQLModel gets one.
"""

from __future__ import annotations

import functools
import importlib
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

#: Libraries that are SQLAlchemy (or ship it) without declaring a dependency on it.
_FAMILY = {"sqlalchemy"}


@functools.lru_cache(maxsize=1)
def _distributions() -> dict[str, list[str]]:
    from importlib.metadata import packages_distributions

    return packages_distributions()  # reads every installed distribution's files: ~0.2 s


@functools.cache
def _distributions_of(top: str) -> list[str]:
    """The installed distributions that provide the top-level package ``top``.

    Most distributions are named as their package (``sqlmodel``, ``Flask-SQLAlchemy`` for
    ``flask_sqlalchemy``): one lookup by name. Only a package named otherwise (or a local one)
    pays for the map of every distribution.
    """
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        found = distribution(top)
    except (PackageNotFoundError, ValueError):
        return _distributions().get(top, [])
    files = found.files or []
    if not files or any(f.parts and f.parts[0] in (top, f"{top}.py") for f in files):
        return [found.metadata["Name"]]
    return _distributions().get(top, [])  # a distribution of that name ships something else


@functools.cache
def depends_on_sqlalchemy(top: str) -> bool:
    """Whether the installed package ``top`` is SQLAlchemy or requires it (extras do not count)."""
    from importlib.metadata import PackageNotFoundError, requires

    if top in _FAMILY:
        return True
    for dist in _distributions_of(top):
        try:
            needs = requires(dist) or []
        except PackageNotFoundError:
            continue
        for spec in needs:
            name, _, marker = spec.partition(";")
            if "extra" not in marker and re.match(r"\s*sqlalchemy\b", name, re.IGNORECASE):
                return True
    return False


def installed(top: str) -> bool:
    """Whether a top-level package ``top`` can be imported here (without importing it)."""
    import importlib.util

    try:
        return top in sys.modules or importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        return False


def is_declarative(obj: Any) -> bool:
    """A class whose subclasses SQLAlchemy maps: it carries a declarative ``registry``.

    SQLModel itself has none (its classes are tables only with ``table=True``), nor do mixins
    such as ``MappedAsDataclass`` or ``AsyncAttrs``.
    """
    from sqlalchemy.orm import registry

    return isinstance(obj, type) and isinstance(getattr(obj, "registry", None), registry)


@functools.cache
def library_object(dotted: str) -> Any:
    """The object ``pkg.mod.Name`` of an installed SQLAlchemy library, or None if there is none."""
    parts = dotted.split(".")
    if len(parts) < 2 or not depends_on_sqlalchemy(parts[0]):
        return None
    for cut in range(len(parts) - 1, 0, -1):  # the longest importable module, then attributes
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except Exception:  # noqa: BLE001 - not a module (or a broken library): try a shorter one
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr, None)
        return obj
    return None


def library_base(dotted: str) -> bool | None:
    """True: a library's declarative base; False: not one; None: cannot tell (not installed, not a
    distribution, or the library does not import)."""
    parts = dotted.split(".")
    if len(parts) < 2:
        return None
    module, _, attr = dotted.rpartition(".")
    if module in sys.modules:  # already imported (sqlmodel, sqlalchemy.orm): asking costs nothing
        return is_declarative(getattr(sys.modules[module], attr, None))
    if parts[0] not in _FAMILY and not _distributions_of(parts[0]):
        return None  # a local module, or nothing installed under that name
    if not depends_on_sqlalchemy(parts[0]):
        return False  # pydantic, typer, pandas: no declarative base without SQLAlchemy
    obj = library_object(dotted)
    if obj is None:
        return None
    return is_declarative(obj)


def _root(cls: type) -> type | None:
    """The class in ``cls``'s MRO that holds the registry, when it is no mapped table itself."""
    if getattr(cls, "__table__", None) is not None:
        return None  # subclasses of a mapped table inherit from its mapper: keep its registry
    for klass in cls.__mro__:
        if "_sa_registry" in klass.__dict__ or "registry" in klass.__dict__:
            return klass
    return None


@contextmanager
def fresh_registries(bases: Iterable[type]) -> Iterator[list[Any]]:
    """Give the libraries' ``bases`` a new registry while a datakit imports; yield the registries."""
    from sqlalchemy import MetaData
    from sqlalchemy.orm import registry

    roots = list(dict.fromkeys(r for r in map(_root, bases) if r is not None))
    saved: list[tuple[type, dict[str, Any]]] = []
    fresh = []
    try:
        for root in roots:
            old = root.registry  # type: ignore[attr-defined]
            md = old.metadata
            reg = registry(metadata=MetaData(schema=md.schema, naming_convention=dict(md.naming_convention),
                                             info=dict(md.info)),
                           type_annotation_map=dict(old.type_annotation_map))
            saved.append((root, {k: root.__dict__[k] for k in ("_sa_registry", "registry", "metadata")
                                 if k in root.__dict__}))
            for key in ("_sa_registry", "registry"):
                setattr(root, key, reg)
            root.metadata = reg.metadata  # type: ignore[attr-defined]
            fresh.append(reg)
        yield fresh
    finally:
        for root, attrs in saved:
            for key in ("_sa_registry", "registry", "metadata"):
                if key in attrs:
                    setattr(root, key, attrs[key])
                else:
                    delattr(root, key)
