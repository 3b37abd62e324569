"""Fresh isolated databases with datakits already deployed, handed out in milliseconds.

    with dkenv.ephemeral("postgres") as server:
        with server.database(datakits=["examples/bronze-pagila"]) as db:
            db.url, db.target          # a database of its own, dropped when the block exits

Deploying a datakit takes about a second; a test suite wants a clean database per test.  So
each (server, datakit set) gets a :class:`~dkenv.databases.pool.Pool` that deploys once — a
PostgreSQL template database, MySQL DDL captured for replay, SQLite template files — and
keeps the next few databases built ahead of demand, so a request waits only for a name and
a connection.  Returned databases are dealt with in the background: on PostgreSQL and MySQL
one whose schema is unchanged is emptied and handed out again (``recycle="reset"``, see
:mod:`dkenv.databases.recycle`; ~10× cheaper than dropping and rebuilding), anything else
is dropped.  Everything a factory handed out or holds ready is dropped when it closes:
explicitly, when its server stops, or at interpreter exit.

Names carry the pytest-xdist worker id (``dk_gw1_3fa2c1_7``) so parallel workers sharing a
server never collide.  On MySQL a schema is a database, so schema ``X`` of isolated database
``d`` lives in database ``d__X``: use :meth:`IsolatedDatabase.create_engine` (it carries
``schema_translate_map``) rather than the bare ``url`` when tables have a schema.
"""

from __future__ import annotations

import atexit
import itertools
import os
import secrets
import threading
import time
import weakref
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dkenv import hooks
from dkenv.config import db_type_of_url
from dkenv.databases.isolated import IsolatedDatabase, SharedDialect
from dkenv.databases.pool import Builder, Pool
from dkenv.datakit import Datakit, load_datakits
from dkenv.engines import get_engine, is_embedded
from dkenv.engines.base import Engine
from dkenv.errors import UsageError
from dkenv.schema import kits_key

if TYPE_CHECKING:

    pass

#: Databases kept built ahead of demand per (server, datakit set) on a server, unless its
#: engine says otherwise (``Engine.ready_databases``: MySQL/MariaDB keep four).
DEFAULT_READY = Engine.ready_databases
#: SQLite's default: none.  A file copy costs ~0.2 ms; done ahead, in pool threads, it costs
#: the test more, in interpreter-lock hand-overs, than it saves.
DEFAULT_READY_EMBEDDED = 0


def _worker_id() -> str:
    """The pytest-xdist worker (``gw0``...), or empty outside xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER", "")


class DatabaseFactory:
    """Isolated databases on one server, with a pool per datakit set.

    ``url`` is the server's own database (what ``Server.url`` gives; for SQLite, a file in the
    directory that will hold the databases).  ``ready`` databases are kept built ahead per
    datakit set (0: build each on request; default the engine's ``ready_databases``:
    :data:`DEFAULT_READY` on PostgreSQL, 4 on MySQL/MariaDB; SQLite :data:`DEFAULT_READY_EMBEDDED`).  ``strategy`` picks PostgreSQL's
    ``CREATE DATABASE ... STRATEGY`` (default FILE_COPY, measured faster).  ``recycle``
    (PostgreSQL, MySQL): ``"reset"`` empties a returned database whose schema is unchanged
    and hands it out again, ``"drop"`` always drops and rebuilds.  With ``keep``, handed-out databases are
    left in place for debugging.  With ``warm_engines`` (default) each ready database waits with an
    engine already connected to it, which its first ``create_engine()`` returns.
    """

    def __init__(self, url: str, *, engine: str | None = None, ready: int | None = None,
                 strategy: str | None = None, recycle: str = "reset", keep: bool = False,
                 label: str | None = None, warm_engines: bool = True) -> None:
        self.url = url
        self.engine = get_engine(engine or db_type_of_url(url)).name
        self.ready = ready if ready is not None else (
            DEFAULT_READY_EMBEDDED if is_embedded(self.engine) else get_engine(self.engine).ready_databases)
        self.strategy = strategy
        self.recycle = recycle
        self.keep = keep
        self.warm_engines = warm_engines
        self.label = label or self.engine
        self.kept: list[IsolatedDatabase] = []
        self._pools: dict[tuple[str, ...], Pool] = {}
        self._asked: dict[tuple[Any, ...], Pool] = {}  # a request's own arguments -> its pool (no data files)
        self._live: dict[str, IsolatedDatabase] = {}
        self._lock = threading.Lock()
        self._token = secrets.token_hex(3)
        self._seq = itertools.count(1)
        self._closed = False
        _FACTORIES.add(self)

    # -- naming and pools ---------------------------------------------------
    def _new_name(self) -> str:
        return "_".join(p for p in ("dk", _worker_id(), self._token, str(next(self._seq))) if p)

    def _builder(self, kits: Sequence[Datakit], data: Sequence[Path] = (), build: str = "models") -> Builder:
        if self.engine == "postgres":  # engine-name: builders live in databases/, above engines/; template copies
            from dkenv.databases.postgres import PostgresBuilder

            return PostgresBuilder(self.url, kits, strategy=self.strategy, recycle=self.recycle, data=data,
                                   build=build)
        if self.engine == "mysql":  # engine-name: DDL replay (builder kind)
            from dkenv.databases.mysql import MySQLBuilder

            return MySQLBuilder(self.url, kits, recycle=self.recycle, data=data, build=build)
        from sqlalchemy.engine import make_url

        from dkenv.databases.sqlite import SqliteBuilder

        database = make_url(self.url).database
        if not database or database == ":memory:":
            raise UsageError("isolated SQLite databases need a directory, not an in-memory URL",
                             "use dkenv.databases.SqliteServer() or a sqlite:///path/file.db URL")
        return SqliteBuilder(Path(database).parent, kits, data, build=build)

    def _new_pool(self, builder: Builder) -> Pool:
        # SQLite with nothing built ahead: copies and deletes files in the caller's thread.
        inline = self.ready == 0 and is_embedded(self.engine)
        return Pool(builder, self._new_name, ready=self.ready, returners=0 if inline else 3,
                    warmer=_EngineWarmer(self.engine, builder) if self.warm_engines else None,
                    fill_first=get_engine(self.engine).fills_before_first_hand_out)

    def pool(self, datakits: Iterable[str | Path | Datakit],
             data: Iterable[str | Path] | None = None, build: str = "models") -> Pool:
        """The pool for this datakit set and data (created on first use; not yet prepared).

        Data: the datakits' own data directories, then ``data``; the files' content hash is
        part of the key, so changed rows get a pool (and a template) of their own.
        ``build="migrations"`` builds by the datakits' Alembic histories (a pool of its own).
        """
        from dkenv.data import content_hash, data_dirs_of

        if build not in ("models", "migrations"):
            raise UsageError(f"unknown build {build!r}", "build from 'models' (create_all) or 'migrations' (Alembic)")
        datakits = list(datakits) if not isinstance(datakits, (str, Path, Datakit)) else [datakits]
        asked = _request_key(datakits, data, build)
        pool = self._asked.get(asked) if asked is not None else None
        if pool is not None and not self._closed:
            return pool  # the same request as before, without data files: no path resolved again
        kits = load_datakits(datakits, requires=False)
        dirs = [*data_dirs_of(kits), *(Path(d) for d in (data or []))]
        key = kits_key(kits) + ((f"data:{content_hash(dirs)}",) if dirs else ())
        key += ("build:migrations",) if build == "migrations" else ()
        with self._lock:
            if self._closed:
                raise UsageError(f"the database factory for {self.label} is closed")
            pool = self._pools.get(key)
            if pool is None:
                pool = self._pools[key] = self._new_pool(self._builder(kits, dirs, build))
                pool.kits = kits  # type: ignore[attr-defined]
            if asked is not None and not dirs:  # rows from files: their content is hashed per request
                self._asked[asked] = pool
            return pool

    def snapshot_pool(self, name: str, datakits: Iterable[str | Path | Datakit] | None = None) -> Pool:
        """The pool of copies of snapshot ``name`` (``datakits``: what validate() compares with)."""
        from dkenv.data.snapshots import check_name, template_of

        check_name(name)
        kits = load_datakits(datakits, requires=False) if datakits else []
        key = ("snapshot", name, *kits_key(kits))
        with self._lock:
            if self._closed:
                raise UsageError(f"the database factory for {self.label} is closed")
            pool = self._pools.get(key)
            if pool is None:
                if self.engine == "postgres":  # engine-name: snapshot builder kind
                    from dkenv.databases.postgres import PostgresSnapshotBuilder

                    builder: Builder = PostgresSnapshotBuilder(self.url, template_of(name), kits)
                elif self.engine == "sqlite":  # engine-name: snapshot builder kind
                    from sqlalchemy.engine import make_url

                    from dkenv.databases.sqlite import SqliteSnapshotBuilder

                    builder = SqliteSnapshotBuilder(Path(make_url(self.url).database or ".").parent, name, kits)
                else:
                    raise UsageError("snapshots are not supported on MySQL/MariaDB: it has no template databases",
                                     "take snapshots on PostgreSQL or SQLite")
                pool = self._pools[key] = self._new_pool(builder)
                pool.kits = kits  # type: ignore[attr-defined]
            return pool

    def warm(self, datakits: Iterable[str | Path | Datakit], data: Iterable[str | Path] | None = None,
             build: str = "models") -> float:
        """Deploy the template / capture the DDL now and start filling; returns the seconds it took."""
        pool = self.pool(datakits, data, build)
        pool.warm()
        return pool.cold_start_s or 0.0

    # -- hand-out -----------------------------------------------------------
    def database(self, datakits: Iterable[str | Path | Datakit] | None = None, *,
                 data: Iterable[str | Path] | None = None, snapshot: str | None = None,
                 timeout: float = 300.0, build: str = "models") -> IsolatedDatabase:
        """A fresh database with ``datakits`` deployed, in the order given (bronze before silver),
        holding the rows of their own data directories and of ``data``; or, with ``snapshot``,
        a copy of that snapshot (``datakits`` then only say what :meth:`validate` compares).
        ``build="migrations"``: built by the datakits' Alembic histories instead of their models."""
        if datakits is None and snapshot is None:
            raise UsageError("which datakits should the database hold?",
                             "pass datakits=[path_or_Datakit, ...] (bronze before silver), or snapshot=NAME")
        started = time.perf_counter()
        pool = self.snapshot_pool(snapshot, datakits) if snapshot is not None else self.pool(datakits, data, build)
        name = pool.take(timeout=timeout)
        builder = pool.builder
        db = IsolatedDatabase(
            name=name, engine=self.engine, url=builder.url(name), datakits=list(pool.kits),  # type: ignore[attr-defined]
            schema_map=builder.schema_map(name),
            attached=builder.attached(name) if hasattr(builder, "attached") else {},
            handout_s=time.perf_counter() - started, _factory=self, _warm=pool.claim_warm(name),
            _connect_first=pool.warm_opener(name),
        )
        with self._lock:
            self._live[name] = db
            db._pool = pool  # type: ignore[attr-defined]
        return db

    def _give_back(self, db: IsolatedDatabase) -> None:
        with self._lock:
            self._live.pop(db.name, None)
            if self.keep:
                self.kept.append(db)
        if self.keep:
            db._pool.keep_out(db.name)  # type: ignore[attr-defined]
            return
        db._pool.give_back(db.name)  # type: ignore[attr-defined]

    def wait_for_drops(self, timeout: float = 60.0) -> None:
        """Block until every returned database has been dropped (tests, benchmarks)."""
        for pool in list(self._pools.values()):
            pool.wait_for_drops(timeout)

    # -- shutdown -----------------------------------------------------------
    def close(self, *, keep: bool | None = None, abandon: bool = False) -> None:
        """Drop every database handed out and every one held ready; stop the threads.  Idempotent.

        ``abandon``: the server is about to be removed with everything on it, so databases
        are disconnected but not dropped (the session's end does not wait on DROP DATABASE).
        """
        keep = self.keep if keep is None else keep
        with self._lock:
            if self._closed:
                return
            self._closed = True
            live = list(self._live.values())
        if abandon and not keep:
            for pool in self._pools.values():
                pool.abandon()
        if keep:
            self.kept.extend(live)
        for db in live:
            if keep:
                db._dropped = True
                continue
            db.drop()
        for pool in self._pools.values():
            pool.close()
            pool.builder.close()
        _FACTORIES.discard(self)

    def __enter__(self) -> DatabaseFactory:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _request_key(datakits: list[Any], data: Iterable[str | Path] | None, build: str) -> tuple[Any, ...] | None:
    """What a pool request asked, as given (absolute paths and Datakit objects), to find its
    pool again without resolving paths per hand-out; None when a path is relative (the
    working directory could change) or data directories are asked for."""
    if data:
        return None
    parts: list[Any] = [build]
    for item in datakits:
        if isinstance(item, Datakit):
            parts.append(("kit", id(item)))
        elif isinstance(item, (str, Path)) and Path(item).is_absolute():
            parts.append(("path", str(item)))
        else:
            return None
    return tuple(parts)


class _EngineWarmer:
    """Connects an engine to each database as it becomes ready (in the pool's threads).

    SQLite's are ``lazy``: opened by the first ``create_engine()``, in the test's thread.
    Connecting to a file saves no handshake, and opening an engine is Python work: done in
    a pool thread, it takes the interpreter lock from the test it was meant to spare.
    """

    def __init__(self, engine: str, builder: Builder) -> None:
        self.engine = engine
        self.builder = builder
        self.lazy = is_embedded(engine)
        self._dialect = SharedDialect()  # one dialect set-up per pool, not one per database

    def open(self, name: str) -> Any:
        attached = self.builder.attached(name) if hasattr(self.builder, "attached") else {}
        # PostgreSQL lends the connection it keeps per database: no handshake per test.
        creator = self.builder.creator(name) if hasattr(self.builder, "creator") else None
        return self._dialect.open(self.engine, self.builder.url(name), self.builder.schema_map(name), attached,
                                  creator)

    def close(self, warm: Any) -> None:
        warm.dispose()


# ---------------------------------------------------------------------------
# Servers: one factory per server object
# ---------------------------------------------------------------------------
_FACTORIES: set[DatabaseFactory] = set()
_BY_SERVER: weakref.WeakKeyDictionary[Any, DatabaseFactory] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def factory_for(server: Any, **options: Any) -> DatabaseFactory:
    """The factory of ``server`` (a ``lifecycle.Server`` or a ``SqliteServer``), created once."""
    with _REGISTRY_LOCK:
        factory = _BY_SERVER.get(server)
        if factory is None or factory._closed:
            factory = DatabaseFactory(server.url, engine=server.engine, label=server.name, **options)
            _BY_SERVER[server] = factory
        return factory


def server_database(server: Any, datakits: Iterable[str | Path | Datakit] | None = None,
                    **kw: Any) -> IsolatedDatabase:
    """``server.database(datakits=[...])``: an isolated database on ``server``.

    Options for the server's factory (``ready``, ``strategy``, ``keep``) apply when the first
    call creates it; ``timeout`` applies per call.
    """
    timeout = kw.pop("timeout", 300.0)
    data = kw.pop("data", None)
    snapshot = kw.pop("snapshot", None)
    build = kw.pop("build", "models")
    return factory_for(server, **kw).database(datakits, data=data, snapshot=snapshot, timeout=timeout, build=build)


def server_snapshot(server: Any, db: Any, name: str, *, replace: bool = False) -> Any:
    """``server.snapshot(db, NAME)``: freeze ``db`` (an IsolatedDatabase or a URL) as snapshot ``NAME``.

    The database's own engines are closed first (a PostgreSQL template copy needs a quiet
    database); later ``server.database(snapshot=NAME)`` hands out copies.
    """
    from dkenv.data.snapshots import take

    url = db if isinstance(db, str) else db.url
    if isinstance(db, IsolatedDatabase):
        db.disconnect()
    return take(url, name, replace=replace)


def close_server_databases(server: Any, *, keep: bool = False, abandon: bool = False) -> None:
    """Drop everything ``server``'s factory holds; call before the server goes away.

    ``abandon``: the server is removed right after, with its databases: close, drop nothing.
    """
    with _REGISTRY_LOCK:
        factory = _BY_SERVER.pop(server, None)
    if factory is not None:
        factory.close(keep=keep or factory.keep, abandon=abandon)


def detach_server_databases(server: Any) -> DatabaseFactory | None:
    """Forget ``server``'s factory without closing it: the next hand-out starts a new one.

    For a server that went away and came back elsewhere (pytest_recovery): closing the old
    factory talks to the old address and may wait long, so the caller closes it off the path.
    """
    with _REGISTRY_LOCK:
        return _BY_SERVER.pop(server, None)


# A server (dkenv.servers.lifecycle, a lower layer) drops its databases through this before it goes.
hooks.on_server_stop(close_server_databases)


@atexit.register
def _close_all() -> None:
    for factory in list(_FACTORIES):
        try:
            factory.close()
        except Exception:  # noqa: BLE001 - best effort at exit; the server's removal is the backstop
            pass


__all__ = ["DEFAULT_READY", "DatabaseFactory", "IsolatedDatabase", "close_server_databases",
           "detach_server_databases", "factory_for", "server_database", "server_snapshot"]

