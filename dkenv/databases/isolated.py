"""A database of its own, handed out by a :class:`~dkenv.databases.factory.DatabaseFactory`.

What a test holds: the database's name and URL, a ``url`` target for deploy and validate,
engines that see the datakits' schemas where the models expect them (SQLite: attached files;
MySQL: ``schema_translate_map``), and :meth:`IsolatedDatabase.drop`, which gives it back.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dkenv.config import Target
from dkenv.datakit import Datakit
from dkenv.schema import all_tables, load_kits, model_table_name, tables_for_target

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import AsyncEngine

    from dkenv.results import ValidationResult


def _sqlite_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'



@dataclass(eq=False)
class IsolatedDatabase:
    """A database of its own with the datakits deployed; dropped on :meth:`drop` / block exit."""

    name: str
    engine: str  # "sqlite" | "postgres" | "mysql"
    url: str
    datakits: list[Datakit]
    schema_map: dict[str, str] = field(default_factory=dict)  # MySQL: schema -> its database
    attached: dict[str, str] = field(default_factory=dict)  # SQLite: schema -> file
    handout_s: float = 0.0  # time from request to a ready database name
    _factory: Any = field(default=None, repr=False)  # the DatabaseFactory that handed it out
    _engines: list[Any] = field(default_factory=list, repr=False)
    _dropped: bool = field(default=False, repr=False)

    @cached_property
    def target(self) -> Target:
        """A ``url`` target for deploy/validate (MySQL: carries ``options["schema_map"]``)."""
        options = {"schema_map": dict(self.schema_map)} if self.schema_map else {}
        return Target(name=self.name, db_type=self.engine, kind="url", url=self.url,
                      database=self.name, options=options,
                      description=f"isolated {self.engine} database {self.name}")

    def create_engine(self, **kwargs: Any) -> sa.Engine:
        """A SQLAlchemy engine that sees the datakits' schemas where the model expects them.

        SQLite: attaches each schema's file on every connection (and turns foreign keys on).
        MySQL: maps schema ``X`` to database ``<name>__X`` with ``schema_translate_map``.
        Disposed when the database is dropped.
        """
        from sqlalchemy import create_engine

        if self.engine == "sqlite":
            kwargs["connect_args"] = {"check_same_thread": False, **kwargs.get("connect_args", {})}
        else:
            from dkenv.engines.mysql import loopback_args

            kwargs["connect_args"] = {**loopback_args(self.url), **kwargs.get("connect_args", {})}
        engine = create_engine(self.url, **self.engine_options(kwargs))
        self.see_schemas(engine)
        self._engines.append(engine)
        return engine

    def engine_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` for ``create_engine`` plus the MySQL schema renaming (``schema_translate_map``)."""
        kwargs = dict(kwargs)
        if self.schema_map:
            options = dict(kwargs.pop("execution_options", {}))
            options.setdefault("schema_translate_map", dict(self.schema_map))
            kwargs["execution_options"] = options
        return kwargs

    def see_schemas(self, engine: sa.Engine) -> None:
        """SQLite: attach each schema's file on every new connection of ``engine`` (a sync engine,
        or an async engine's ``sync_engine``), foreign keys on.  Other engines: nothing to do."""
        if self.engine != "sqlite":
            return
        from sqlalchemy import event

        attached = dict(self.attached)

        @event.listens_for(engine, "connect")
        def _attach(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            for schema, path in attached.items():
                cursor.execute("ATTACH DATABASE ? AS " + _sqlite_quote(schema), (path,))
            cursor.close()

    def async_url(self, driver: str | None = None) -> str:
        """The database's URL with an async driver: ``driver``, or the first one installed
        (asyncpg or psycopg; aiomysql or asyncmy; aiosqlite).  MySQL schemas: prefer
        :meth:`create_async_engine`, which renames them."""
        from dkenv.databases.async_engines import async_url

        return async_url(self.url, self.engine, driver)

    def create_async_engine(self, driver: str | None = None, **kwargs: Any) -> AsyncEngine:
        """An ``AsyncEngine`` that sees the datakits' schemas exactly as :meth:`create_engine`'s.

        No pool by default (``NullPool``): each event loop (``asyncio.run``, a test's loop) opens
        connections of its own, so none outlives the loop it belongs to.  Disposed on drop.
        """
        from dkenv.databases.async_engines import create_async_engine

        engine = create_async_engine(self, driver, **kwargs)
        self._engines.append(engine.sync_engine)
        return engine

    def validate(self, datakits: Iterable[str | Path | Datakit] | None = None) -> ValidationResult:
        """Compare the live database with the datakits (default: the ones deployed here)."""
        from dkenv.results import ValidationResult
        from dkenv.validate import validate_tables

        started = time.perf_counter()
        kits = load_kits(datakits) if datakits is not None else self.datakits
        tables = all_tables(kits)
        live = tables_for_target(tables, self.target)
        if self.engine == "mysql":
            from sqlalchemy import create_engine

            from dkenv.engines.mysql import loopback_args

            # The tables are renamed already: no translate map.
            engine = create_engine(self.url, connect_args=loopback_args(self.url))
        else:
            engine = self.create_engine()
        try:
            problems = validate_tables(live, engine)
        finally:
            engine.dispose()
        problems = [dataclasses.replace(p, table=model_table_name(p.table, self.target)) for p in problems]
        return ValidationResult(success=not problems, target=self.name,
                                tables=[t.fullname for t in tables], problems=problems,
                                duration_s=time.perf_counter() - started)

    def drop(self) -> None:
        """Close what this object opened and drop the database (in the background).  Idempotent."""
        if self._dropped:
            return
        self._dropped = True
        from dkenv.runtime import existing_runtime, release

        for engine in self._engines:
            engine.dispose()
        self._engines.clear()
        if "target" in self.__dict__ and existing_runtime(self.target) is not None:
            release(self.target)
        if self._factory is not None:
            self._factory._give_back(self)

    def __enter__(self) -> IsolatedDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.drop()
