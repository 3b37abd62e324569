"""The engine registry: dkenv's engine names and their aliases, SQLAlchemy dialect names, and the
rules (:class:`~dkenv.engines.base.Engine`) each engine answers with.
"""

from __future__ import annotations

import functools

from dkenv.engines.base import Engine
from dkenv.engines.mysql import MYSQL
from dkenv.engines.postgres import POSTGRES
from dkenv.engines.sqlite import SQLITE
from dkenv.errors import UsageError

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
