"""What a deploy was given — table classes, ``Table`` objects, Datakits, paths or a mix — as
MetaData units, datakit names and the extensions the datakits ask for."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from dkenv.datakit import Datakit, datakit_of
from dkenv.errors import UsageError
from dkenv.schema.plan import Unit, kit_units, plain_tables, table_units


@dataclass
class Inputs:
    """What to deploy: MetaData units, datakit names and the extensions the datakits ask for."""

    units: list[Any]
    names: list[str]
    extensions: list[str] = field(default_factory=list)


def inputs_of(items: Any) -> Inputs:
    """Units (a MetaData and its tables) from classes, Tables, Datakits, paths or a mix."""
    from sqlalchemy import Table

    if isinstance(items, (Datakit, str)) or not isinstance(items, Iterable):
        items = [items]
    loose: list[Any] = []
    units: list[Unit] = []
    names: list[str] = []
    extensions: list[str] = []
    modules: set[str] = set()
    for item in items:
        if isinstance(item, Table):
            loose.append(item)
        elif isinstance(item, type) and getattr(item, "__table__", None) is not None:
            loose.append(item.__table__)
            modules.add(item.__module__)
        elif isinstance(item, (Datakit, str)) or hasattr(item, "__fspath__"):
            kit = datakit_of(item)
            units.extend(kit_units(kit))
            names.append(kit.name)
            extensions.extend(getattr(kit, "extensions", None) or [])
        else:
            raise UsageError(f"cannot deploy {item!r}: expected table classes, a Datakit or a path")
    if loose:
        units.extend(table_units(unique_tables(loose)))
    if not any(u.tables for u in units):
        raise UsageError("nothing to deploy: no table classes given")
    unique_tables([t for u in units for t in u.tables])
    if not names:  # bare classes: name them by their top-level packages
        names = sorted({m.split(".")[0] for m in modules}) or ["(tables)"]
    return Inputs(units, names, list(dict.fromkeys(extensions)))


def tables_of(items: Any) -> tuple[list[Any], list[str]]:
    """(Table objects, datakit names) from classes, Tables, Datakits, paths or a mix (views left out)."""
    inputs = inputs_of(items)
    return plain_tables(inputs.units), inputs.names


def unique_tables(tables: Iterable[Any]) -> list[Any]:
    """Each table once, in order; two different tables with one schema-qualified name is an error."""
    seen: dict[str, Any] = {}
    for table in tables:
        other = seen.get(table.fullname)
        if other is not None and other is not table:
            raise UsageError(f"two table classes claim table {table.fullname!r}",
                             "give one of them another __tablename__ or schema")
        seen[table.fullname] = table
    return list(seen.values())
