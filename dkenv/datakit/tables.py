"""Collecting a datakit's tables after import: mapped classes, and every MetaData they live in.

SQLModel classes land in the fresh registry discovery installs for the datakit; SQLAlchemy
declarative classes land in the datakit's own ``Base`` (fresh by construction: its module is
imported anew for each discovery); bare ``Table`` objects land in whichever ``MetaData`` they
name (an association ``Table("post_tag", SQLModel.metadata, ...)`` in the fresh one).  The source
scan already knows which module-level names are declarative bases and ``MetaData()`` objects, so
those are the datakit's *owned* metadatas: every table in them belongs to the datakit.  A class
on a base imported from outside (a shared library) contributes only its own table.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping
from types import ModuleType
from typing import Any

from dkenv.datakit.scan import ModuleScan


def _mapped(value: Any) -> bool:
    return (isinstance(value, type) and getattr(value, "__table__", None) is not None
            and getattr(value, "__mapper__", None) is not None)


def _values(module: ModuleType) -> Iterator[Any]:
    """Module-level values, and the members of module-level dicts/lists/tuples (factory results)."""
    for value in list(vars(module).values()):
        yield value
        if isinstance(value, Mapping):
            yield from list(value.values())
        elif isinstance(value, (list, tuple)):
            yield from value


def classes_in(modules: list[ModuleType]) -> list[type]:
    """Mapped classes defined in ``modules`` (by ``__module__``), each once, in module order."""
    names = {m.__name__ for m in modules}
    seen: set[int] = set()
    found: list[type] = []
    for module in modules:
        for value in _values(module):
            if _mapped(value) and value.__module__ in names and id(value) not in seen:
                seen.add(id(value))
                found.append(value)
    return found


#: Module-level instances whose ``.metadata`` belongs to the datakit: ``registry()``, ``SQLAlchemy()``.
_OWNERS = {"registry", "SQLAlchemy"}


def _owned_metadatas(modules: Iterable[ModuleType], scans: Mapping[str, ModuleScan],
                     registries: list[Any]) -> list[Any]:
    from sqlalchemy import MetaData

    owned = [r.metadata for r in registries]
    for module in modules:
        scan = scans.get(module.__name__)
        if scan is None:
            continue
        owners = [n for n, call in scan.instances.items() if call.rpartition(".")[2] in _OWNERS]
        for name in [*scan.base_names, *scan.metadata_names, *owners]:
            value = getattr(module, name, None)
            metadata = value if isinstance(value, MetaData) else getattr(value, "metadata", None)
            if isinstance(metadata, MetaData) and all(metadata is not m for m in owned):
                owned.append(metadata)
    return owned


def collect(modules: list[ModuleType], scans: Mapping[str, ModuleScan], fresh: list[Any],
            outside: Collection[str] = ()) -> tuple[list[type], list[Any], list[Any]]:
    """(mapped classes, tables not behind a listed class, metadatas) of the imported datakit.

    ``fresh``: the registries discovery gave this datakit (SQLModel's, libraries' bases').

    ``outside``: modules the import pulled in that are not the datakit's (helpers on pythonpath,
    another datakit's models); classes defined there are not the datakit's tables.
    """
    from sqlalchemy import Table

    outside = set(outside)
    classes = classes_in(modules)
    owned = _owned_metadatas(modules, scans, fresh)
    # Classes built somewhere no module-level name reaches: they are still in the registries.
    registries = [*fresh] + [getattr(b, "registry", None) for m in modules
                             for b in (getattr(m, n, None) for n in getattr(scans.get(m.__name__), "base_names", []))]
    listed = {id(c) for c in classes}
    order = {id(t): i for i, t in enumerate(t for md in owned for t in md.tables.values())}
    mapped = [mp.class_ for r in registries if r is not None and hasattr(r, "mappers") for mp in r.mappers
              if getattr(mp.class_, "__table__", None) is not None]
    hidden = [c for c in mapped if id(c) not in listed and c.__module__ not in outside]
    hidden.sort(key=lambda c: order.get(id(c.__table__), len(order)))
    classes += list(dict.fromkeys(hidden))
    # Classes of modules outside the datakit (another datakit's models imported through
    # pythonpath, a helper library) land in the same fresh registry: their tables are not ours.
    foreign = {id(c.__table__) for c in mapped if c.__module__ in outside}

    class_tables = {id(c.__table__) for c in classes}
    extra = [t for md in owned for t in md.tables.values() if id(t) not in class_tables and id(t) not in foreign]
    metadatas = [md for md in owned if md.tables]
    for module in modules:
        for value in _values(module):
            if isinstance(value, Table) and id(value) not in class_tables and all(value is not t for t in extra):
                extra.append(value)
    for table in [*(c.__table__ for c in classes), *extra]:
        if all(table.metadata is not md for md in metadatas):
            metadatas.append(table.metadata)
    return classes, extra, metadatas
