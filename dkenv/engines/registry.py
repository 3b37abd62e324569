"""The engine registry: dkenv's engine names and their aliases, SQLAlchemy dialect names, and the
rules (:class:`~dkenv.engines.base.Engine`) each engine answers with.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from dkenv.engines.base import Engine
from dkenv.engines.mysql import MYSQL
from dkenv.engines.postgres import POSTGRES
from dkenv.engines.sqlite import SQLITE
from dkenv.errors import UsageError

if TYPE_CHECKING:
    from sqlalchemy.engine import Dialect

ENGINES: dict[str, Engine] = {e.name: e for e in (SQLITE, POSTGRES, MYSQL)}

#: Spellings users type for an engine, mapped to dkenv's own name.
ENGINE_ALIASES: dict[str, str] = {
    "sqlite": "sqlite",
    "sqlite3": "sqlite",
    "postgres": "postgres",
    "postgresql": "postgres",
    "pg": "postgres",
    "mysql": "mysql",
    "mariadb": "mysql",
}

#: Engines that run in a container.
SERVER_ENGINES = ("postgres", "mysql")


def get_engine(name: str) -> Engine:
    """Return the engine for a user-facing name (``postgresql`` and ``mariadb`` are aliases)."""
    key = ENGINE_ALIASES.get(name.strip().lower()) if isinstance(name, str) else None
    if key is None:
        known = ", ".join(sorted(ENGINES))
        raise UsageError(f"unknown engine {name!r}", f"use one of: {known}")
    return ENGINES[key]


def engine_for_dialect(dialect_name: str) -> Engine:
    """Return the engine for a SQLAlchemy dialect name (``postgresql``, ``mysql``, ``mariadb``)."""
    for engine in ENGINES.values():
        if dialect_name in engine.dialects:
            return engine
    raise UsageError(f"unsupported database dialect {dialect_name!r}", "use sqlite, postgresql or mysql URLs")


def is_embedded(name: str) -> bool:
    """Whether dkenv's engine ``name`` runs without a server (SQLite); unknown names do not."""
    engine = ENGINES.get(name)
    return engine is not None and engine.embedded


_BY_DIALECT: dict[str, Engine] = {d: e for e in ENGINES.values() for d in e.dialects}


@functools.cache
def _other_dialect(dialect_name: str) -> Engine:
    return Engine(name=dialect_name, dialects=(dialect_name,), label=dialect_name)


def rules_for_dialect(dialect_name: str) -> Engine:
    """The engine for a dialect name, or for another dialect the base :class:`Engine`'s rules.

    Validation works on any SQLAlchemy dialect (reflecting it the slow generic way), so it asks
    this rather than :func:`engine_for_dialect`, which refuses dialects dkenv cannot deploy to.
    """
    found = _BY_DIALECT.get(dialect_name)
    return found if found is not None else _other_dialect(dialect_name)


#: dkenv engine name -> SQLAlchemy dialect name (what ``with_variant`` keys on).
DIALECT_NAMES: dict[str, str] = {name: engine.dialect for name, engine in ENGINES.items()}
#: dkenv engine name -> how findings and report columns name it ("... on MySQL").
LABELS: dict[str, str] = {name: engine.short_label or engine.label for name, engine in ENGINES.items()}


def engine_name(engine: Any) -> str:
    """dkenv's engine name for an `Engine`, an engine name, a dialect or a dialect name."""
    name = getattr(engine, "name", engine)
    if not isinstance(name, str):
        raise ValueError(f"not an engine: {engine!r}")
    return ENGINE_ALIASES.get(name, name)


@functools.cache
def offline_dialect(name: str) -> Dialect:
    """A connection-less SQLAlchemy dialect to compile for ``name`` (a dkenv engine name, an alias
    or a dialect name; MariaDB compiles as MySQL), cached: compiling needs no server."""
    from sqlalchemy.dialects import registry

    key = DIALECT_NAMES.get(ENGINE_ALIASES.get(name, name)) if isinstance(name, str) else None
    if key is None:
        raise ValueError(f"unknown engine {name!r}: choose from {', '.join(ENGINES)}")
    return registry.load(key)()

