"""Async engines on an isolated database: the driver swap users otherwise do by hand.

    engine = db.create_async_engine()          # asyncpg / psycopg, aiomysql / asyncmy, aiosqlite
    async with engine.connect() as conn: ...

Swapping ``+psycopg2`` for ``+asyncpg`` in a URL is the easy part; what breaks is everything
the sync engine does beyond the URL: MySQL isolated databases rename schemas (the
``schema_translate_map``), SQLite schemas are files attached on every connection.  The async
engine gets both from :class:`~dkenv.databases.isolated.IsolatedDatabase` itself, applied to
its ``sync_engine`` — the same code, so the two cannot drift apart.  Which drivers an engine
accepts is the engine's business (``Engine.async_drivers``); this module only picks the first
installed one and says which package to install when none is.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any, Protocol

from dkenv.engines import get_engine
from dkenv.errors import MissingPackage, UsageError

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import AsyncEngine


class _Database(Protocol):
    """What this module needs of an ``IsolatedDatabase`` (which imports this module lazily)."""

    url: str
    engine: str

    def engine_options(self, kwargs: dict[str, Any]) -> dict[str, Any]: ...

    def see_schemas(self, engine: sa.Engine) -> None: ...

#: What to run when a package the async engines need is missing.
INSTALL_HINT = "pip install 'dkenv[async]'"


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def choose_driver(engine: str, driver: str | None = None) -> str:
    """``driver`` if this engine accepts it and it is installed, else the first installed one.

    A missing package is a :class:`MissingPackage` naming it and the ``dkenv[async]`` extra.
    """
    spec = get_engine(engine)
    accepted = spec.async_drivers
    if driver is not None:
        if driver not in accepted:
            raise UsageError(f"{driver!r} is not an async driver for {spec.name}",
                             f"use one of: {', '.join(accepted)} (or driver=None for the first installed)")
        candidates: tuple[str, ...] = (driver,)
    else:
        candidates = accepted
    for name in candidates:
        if _installed(name):
            return name
    wanted = " or ".join(candidates)
    raise MissingPackage(f"no async driver for {spec.name}: {wanted} is not installed; "
                         f"pip install {candidates[0]}, or {INSTALL_HINT}")


def async_url(url: str, engine: str, driver: str | None = None) -> str:
    """``url`` with its driver replaced by an installed async one (password kept)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    chosen = choose_driver(engine, driver)
    return parsed.set(drivername=f"{parsed.get_backend_name()}+{chosen}").render_as_string(hide_password=False)


def create_async_engine(db: _Database, driver: str | None = None, **kwargs: Any) -> AsyncEngine:
    """An ``AsyncEngine`` on ``db`` with its schemas where the models expect them (see module doc)."""
    url = async_url(db.url, db.engine, driver)  # the driver first: its message names the extra
    if not _installed("greenlet"):
        raise MissingPackage("SQLAlchemy's async engines need greenlet, which is not installed; "
                             f"pip install greenlet, or {INSTALL_HINT}")
    from sqlalchemy.ext.asyncio import create_async_engine as sa_create_async_engine
    from sqlalchemy.pool import NullPool

    kwargs.setdefault("poolclass", NullPool)
    engine = sa_create_async_engine(url, **db.engine_options(kwargs))
    db.see_schemas(engine.sync_engine)
    return engine


__all__ = ["INSTALL_HINT", "async_url", "choose_driver", "create_async_engine"]
