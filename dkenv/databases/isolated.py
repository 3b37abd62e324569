"""A database of its own, handed out by a :class:`~dkenv.databases.factory.DatabaseFactory`.

What a test holds: the database's name and URL, a ``url`` target for deploy and validate,
engines that see the datakits' schemas where the models expect them (SQLite: attached files;
MySQL: ``schema_translate_map``), and :meth:`IsolatedDatabase.drop`, which gives it back.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dkenv.config import Target
from dkenv.datakit import Datakit, load_datakits
from dkenv.schema import all_tables, model_table_name, tables_for_target

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import AsyncEngine

    from dkenv.results import ValidationResult


def _sqlite_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def translate_schemas(kwargs: dict[str, Any], schema_map: dict[str, str]) -> dict[str, Any]:
    """``create_engine`` kwargs plus MySQL's schema renaming (``schema_translate_map``)."""
    kwargs = dict(kwargs)
    if schema_map:
        options = dict(kwargs.pop("execution_options", {}))
        options.setdefault("schema_translate_map", dict(schema_map))
        kwargs["execution_options"] = options
    return kwargs


def attach_schemas(engine: sa.Engine, attached: dict[str, str], *, throwaway: bool) -> None:
    """SQLite: attach each schema's file on every new connection of ``engine`` (a sync engine,
    or an async engine's ``sync_engine``), foreign keys on.  ``throwaway``: a test database,
    so no fsync and the rollback journal in memory."""
    from sqlalchemy import event

    files = dict(attached)

    @event.listens_for(engine, "connect")
    def _attach(dbapi_conn: Any, _record: Any) -> None:
        attach_files(dbapi_conn, files, throwaway=throwaway)


def attach_files(dbapi_conn: Any, files: dict[str, str], *, throwaway: bool) -> None:
    """What :func:`attach_schemas` runs on each new SQLite connection."""
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    for schema, path in files.items():
        cursor.execute("ATTACH DATABASE ? AS " + _sqlite_quote(schema), (path,))
    if throwaway:
        for schema in ("main", *files):
            cursor.execute(f"PRAGMA {_sqlite_quote(schema)}.synchronous = OFF")
            cursor.execute(f"PRAGMA {_sqlite_quote(schema)}.journal_mode = MEMORY")
    cursor.close()


def open_engine(engine_name: str, url: str, schema_map: dict[str, str], attached: dict[str, str],
                durable: bool = False, **kwargs: Any) -> sa.Engine:
    """An engine on an isolated database that sees the datakits' schemas (see ``create_engine``).

    A test database is thrown away after the test, so unless ``durable``, commits skip what
    only a crash would need: SQLite's fsync and journal file, PostgreSQL's WAL flush
    (``synchronous_commit=off``; visibility and rollback are unchanged).
    """
    from sqlalchemy import create_engine

    kwargs = translate_schemas(kwargs, schema_map)
    connect_args = _connect_args(engine_name, url, durable, kwargs.pop("connect_args", {}))
    engine = create_engine(url, connect_args=connect_args, **kwargs)
    _see_files(engine_name, engine, attached, throwaway=durable is False)
    return engine


def _connect_args(engine_name: str, url: str, durable: bool, given: dict[str, Any]) -> dict[str, Any]:
    """The DBAPI connect arguments of :func:`open_engine` (``given`` wins)."""
    if engine_name == "sqlite":  # engine-name: an argument of Python's sqlite3 driver itself
        return {"check_same_thread": False, **given}
    from dkenv.engines.mysql import loopback_args

    args = {**loopback_args(url), **given}
    if not durable:  # a test database: crash-only durability is skipped where the engine allows
        from dkenv.engines import get_engine

        for key, value in get_engine(engine_name).throwaway_connect_args(url).items():
            args.setdefault(key, value)
    return args


def _see_files(engine_name: str, engine: sa.Engine, attached: dict[str, str], *, throwaway: bool) -> None:
    """SQLite: attach the schema files (:func:`attach_schemas`); other engines have nothing to do."""
    if engine_name == "sqlite":  # engine-name: SQLite schemas are files; the one place that says so here
        attach_schemas(engine, attached, throwaway=throwaway)


class SharedDialect:
    """One initialized dialect and statement cache for every per-database engine of a pool.

    ``create_engine`` makes a new dialect per engine, and its first connection runs the
    dialect's ``initialize`` (server version, string and isolation checks, PostgreSQL's hstore
    lookup: ~5 ms and several round trips), and each engine compiles every statement anew.
    The databases of one pool sit on one server with one driver, so the first engine's
    dialect, once connected, serves the others, and its compiled statements too (the cache
    key holds the dialect; MySQL's schema names are filled in per execution, not compiled in).
    On MySQL, where the default schema is the database, each engine gets a copy of the set-up
    dialect with its own ``default_schema_name``.
    """

    #: Dialect copies kept per database name (MySQL): recycled databases come back under their names.
    MAX_COPIES = 64

    def __init__(self) -> None:
        self._dialect: Any = None
        self._cache: Any = None
        self._copies: dict[str, Any] = {}  # database -> its dialect copy (MySQL), oldest first
        self._copies_lock = threading.Lock()  # pool threads open engines at the same time

    def open(self, engine_name: str, url: str, schema_map: dict[str, str], attached: dict[str, str],
             creator: Any = None) -> sa.Engine:
        """A connected engine on ``url``: the first one set up by ``create_engine``, later ones on its dialect."""
        dialect = self._dialect
        if dialect is None:
            engine = open_warm_engine(engine_name, url, schema_map, attached,
                                      **({"creator": creator} if creator else {}))
            self._dialect, self._cache = engine.dialect, engine._compiled_cache
            return engine
        from dkenv.engines import get_engine

        if get_engine(engine_name).default_schema_is_database:
            # MySQL: reflection's default schema is this database, not the first one's; a
            # copy keeps the set-up (no first-connect round trips) with its own default schema.
            from dkenv.databases.build import parsed_url

            dialect = self._copy_for(parsed_url(url).database)
        # SQLite's schema files are attached by the engine's creator: no event listener per engine.
        return _connected(_engine_on(dialect, self._cache, engine_name, url, schema_map, creator, attached))

    def _copy_for(self, database: str | None) -> Any:
        """The set-up dialect with ``database`` as its default schema: one copy per database,
        kept, because the compiled-statement cache is keyed by the dialect object: a new copy
        per hand-out would compile every statement of every test again (~0.2 ms each)."""
        import copy

        if database == self._dialect.default_schema_name:
            return self._dialect
        with self._copies_lock:
            dialect = self._copies.get(database or "")
            if dialect is None:
                dialect = copy.copy(self._dialect)
                dialect.default_schema_name = database
                if len(self._copies) >= self.MAX_COPIES:
                    self._copies.pop(next(iter(self._copies)))
                self._copies[database or ""] = dialect
            return dialect


def _engine_on(dialect: Any, cache: Any, engine_name: str, url: str, schema_map: dict[str, str],
               creator: Any, attached: dict[str, str]) -> sa.Engine:
    """What ``create_engine(url)`` builds, on an initialized ``dialect``: a pool, an engine, the
    dialect's per-connection setup; and the same connect arguments as :func:`open_engine`
    (SQLite: the schema files attached to each new connection, as :func:`attach_schemas` does)."""
    from sqlalchemy.engine import Engine

    from dkenv.databases.build import parsed_url

    u = parsed_url(url)
    if creator is None:
        cargs, cparams = dialect.create_connect_args(u)
        cparams = {**cparams, **_connect_args(engine_name, url, False, {})}

        def creator() -> Any:
            return dialect.connect(*cargs, **cparams)

    from dkenv.engines import get_engine

    if get_engine(engine_name).attaches_schemas:  # SQLite: schema files, attached per connection
        files, opened = dict(attached), creator

        def creator() -> Any:
            conn = opened()
            attach_files(conn, files, throwaway=True)
            return conn

    on_connect = dialect.on_connect_url(u)
    if on_connect is not None:  # what the pool's "connect" event would run, without an event listener each
        connect = creator

        def creator() -> Any:
            conn = connect()
            if not getattr(conn, "set_up", False):
                on_connect(conn)
                if hasattr(conn, "lent"):
                    # dkenv's own connection, lent again and again: what the dialect set up is
                    # the driver's state (type adapters) or is put back by the builder's
                    # session reset (MySQL's SET NAMES); one set-up per connection is enough.
                    conn.set_up = True
            return conn

    pool = dialect.get_dialect_pool_class(u)(creator, dialect=dialect)
    engine = Engine(pool, dialect, u, execution_options=translate_schemas({}, schema_map).get("execution_options"))
    engine._compiled_cache = cache
    return engine


def _connected(engine: sa.Engine) -> sa.Engine:
    try:
        with engine.connect():
            pass
    except BaseException:
        engine.dispose()
        raise
    return engine


def open_warm_engine(engine_name: str, url: str, schema_map: dict[str, str], attached: dict[str, str],
                     **kwargs: Any) -> sa.Engine:
    """:func:`open_engine` with one connection made and back in its pool: dialect set up, handshake done."""
    return _connected(open_engine(engine_name, url, schema_map, attached, **kwargs))


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
    _warm: Any = field(default=None, repr=False)  # the pool's connected engine, until claimed
    _connect_first: Any = field(default=None, repr=False)  # else: opens that engine (SQLite, on first use)

    def __post_init__(self) -> None:
        if self._warm is not None:
            self._engines.append(self._warm)  # disposed on drop() even if never claimed

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
        The first call without options gets the engine the pool connected while the database
        waited to be handed out, so the first query needs no handshake.  Disposed when the
        database is dropped.
        """
        warm, self._warm = self._warm, None
        if warm is not None and not kwargs:
            return warm  # already in self._engines
        connect_first, self._connect_first = self._connect_first, None
        if connect_first is not None and warm is None and not kwargs:
            engine = connect_first()  # the pool's warm engine, opened here: nothing to wait for
            self._engines.append(engine)
            return engine
        engine = open_engine(self.engine, self.url, self.schema_map, self.attached, **kwargs)
        self._engines.append(engine)
        return engine

    def engine_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """``kwargs`` for ``create_engine`` plus the MySQL schema renaming (``schema_translate_map``)."""
        return translate_schemas(kwargs, self.schema_map)

    def see_schemas(self, engine: sa.Engine) -> None:
        """SQLite: attach each schema's file on every new connection of ``engine`` (a sync engine,
        or an async engine's ``sync_engine``), foreign keys on.  Other engines: nothing to do."""
        from dkenv.engines import get_engine

        if get_engine(self.engine).attaches_schemas:
            attach_schemas(engine, self.attached, throwaway=True)

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

    def connection_lost(self) -> bool | None:
        """Whether the server ended the connection dkenv keeps to this database (it restarted,
        was killed, or dropped its connections); None when dkenv keeps none to ask."""
        builder = getattr(getattr(self, "_pool", None), "builder", None)
        check = getattr(builder, "connection_lost", None)
        return None if check is None else check(self.name)

    def disconnect(self) -> None:
        """Close every connection dkenv and this object's engines hold to the database (the
        engines stay usable and connect again when asked), so that another process can copy it:
        ``dkenv snapshot --url``, ``CREATE DATABASE ... TEMPLATE`` need a quiet database."""
        from dkenv.servers.runtime import existing_runtime, release

        for engine in self._engines:
            engine.pool.dispose()
        builder = getattr(getattr(self, "_pool", None), "builder", None)
        if hasattr(builder, "disconnect"):
            builder.disconnect(self.name)  # the connection the builder keeps (and lends) per database
        if "target" in self.__dict__ and existing_runtime(self.target) is not None:
            release(self.target)

    def validate(self, datakits: Iterable[str | Path | Datakit] | None = None) -> ValidationResult:
        """Compare the live database with the datakits (default: the ones deployed here)."""
        from dkenv.results import ValidationResult
        from dkenv.validate import validate_tables

        started = time.perf_counter()
        kits = load_datakits(datakits, requires=False) if datakits is not None else self.datakits
        tables = all_tables(kits)
        live = tables_for_target(tables, self.target)
        if self.schema_map:  # schemas renamed at build time (MySQL): the renamed tables, no map
            from sqlalchemy import create_engine

            from dkenv.engines.mysql import loopback_args

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
        from dkenv.servers.runtime import existing_runtime, release

        for engine in self._engines:
            engine.pool.dispose()  # its connections closed; no new pool (Engine.dispose makes one)
        self._engines.clear()
        if "target" in self.__dict__ and existing_runtime(self.target) is not None:
            release(self.target)
        if self._factory is not None:
            self._factory._give_back(self)

    def __enter__(self) -> IsolatedDatabase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.drop()
