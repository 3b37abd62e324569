"""Live state behind a target: its SQLAlchemy engine, temp files, container and ledger.

A :class:`~dkenv.config.Target` is a plain description; a :class:`TargetRuntime` is the live
connection to it.  A job opens one (:func:`open_runtime`), hands it to every call that needs
the database (``deploy_data_objects``, ``validate_deployment``, a data load, ...: each takes a
Target or a TargetRuntime) and closes it (:meth:`TargetRuntime.close`) — the job holds its
state, and the caller's Target is never written to.

The framework functions, called with a bare Target, keep the framework's behaviour: the first
call creates the target's runtime here and every later call with the same Target object reuses
it (:func:`runtime_for`), which keeps one in-memory SQLite database alive from
``deploy_data_objects`` to ``validate_deployment``; ``cleanup_test_target`` (or
:func:`release`) undoes what it recorded and forgets it.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dkenv.config import Target
from dkenv.engines import rules_for_dialect
from dkenv.engines.messages import describe_db_error
from dkenv.engines.sqlite import schema_file
from dkenv.errors import ConnectionFailed, UsageError
from dkenv.state import state_dir

if TYPE_CHECKING:
    import sqlalchemy as sa

CONNECT_TIMEOUT_S = 5


@dataclass
class Deployment:
    """What one deploy call did, so that cleanup can undo exactly that."""

    datakits: list[str]
    metadata: Any  # the MetaData holding the deployed copies
    tables: list[Any]  # the datakit's tables (copies) in creation order
    created: list[Any] = field(default_factory=list)
    schemas_created: list[str] = field(default_factory=list)
    enums_created: list[str] = field(default_factory=list)
    enums_before: set[str] | None = None  # PostgreSQL enum types that existed before the deploy
    schemas: list[str] = field(default_factory=list)  # schemas (as the server names them) it used
    before: set[Any] | None = None  # the catalog before the deploy (dkenv.schema.catalog.snapshot)
    objects: list[Any] = field(default_factory=list)  # what it created, from the catalog, for undo


@dataclass
class TargetRuntime:
    target: Target
    url: str
    engine: sa.Engine
    tempdir: Path | None = None
    sqlite_main: str | None = None  # file of the main database; None for memory
    attached: dict[str, str] = field(default_factory=dict)  # schema -> ':memory:' or file
    attached_created: list[Path] = field(default_factory=list)
    server: Any = None  # a started container (dkenv.servers.lifecycle.Server)
    deployments: list[Deployment] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)
    closed: bool = False

    def close(self, *, keep: bool = False) -> None:
        """Dispose the engine, remove the temp dir and the container.  Idempotent.

        ``keep=True`` (``deploy --keep``) leaves the container (started persistent, kept from now
        on: see ``Server.keep``) and the SQLite temp directory in place.
        """
        with self.lock:
            if self.closed:
                return
            self.closed = True
        try:
            self.engine.dispose()
        finally:
            if self.tempdir is not None and not keep:
                shutil.rmtree(self.tempdir, ignore_errors=True)
            if self.server is not None and keep:
                self.server.keep()
            elif self.server is not None:
                self.server.stop()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def __enter__(self) -> TargetRuntime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- SQLite schemas -----------------------------------------------------
    def attach_schemas(self, schemas: Iterable[str], *, create: bool = True) -> list[str]:
        """Make SQLite schemas available as attached databases (no-op on other engines).

        Returns the schemas attached by this call.  With ``create=False`` (validation) a file
        schema is attached only if its file exists, so looking never leaves empty files behind.
        """
        if not rules_for_dialect(self.dialect).attaches_schemas:
            return []
        new = [s for s in dict.fromkeys(schemas) if s and s not in self.attached and s != "main"]
        if not new:
            return []
        with self.lock:
            for schema in new:
                if self.sqlite_main is None:
                    self.attached[schema] = ":memory:"
                else:
                    path = schema_file(self.sqlite_main, schema)
                    if not path.exists():
                        if not create:
                            continue
                        self.attached_created.append(path)
                    self.attached[schema] = str(path)
            if self.sqlite_main is None:
                # StaticPool: one connection forever; attach on it directly.
                from sqlalchemy import text

                with self.engine.connect() as conn:
                    have = {row[1] for row in conn.exec_driver_sql("PRAGMA database_list")}
                    for schema in new:
                        if schema in self.attached and schema not in have:
                            conn.execute(text("ATTACH DATABASE ':memory:' AS " + _q(schema)))
            else:
                self.engine.dispose()  # new connections attach everything
        return [schema for schema in new if schema in self.attached]

    def detach(self, schemas: Iterable[str]) -> None:
        """Detach SQLite schemas; delete the files that this runtime created for them."""
        if not rules_for_dialect(self.dialect).attaches_schemas:
            return
        with self.lock:
            gone = [s for s in schemas if s in self.attached]
            if not gone:
                return
            if self.sqlite_main is None:
                with self.engine.connect() as conn:
                    for schema in gone:
                        conn.exec_driver_sql("DETACH DATABASE " + _q(schema))
            for schema in gone:
                where = self.attached.pop(schema)
                path = Path(where)
                if path in self.attached_created:
                    self.attached_created.remove(path)
                    self.engine.dispose()
                    path.unlink(missing_ok=True)
            self._reconnect_files()

    def detach_all(self) -> None:
        if not rules_for_dialect(self.dialect).attaches_schemas:
            return
        with self.lock:
            if self.sqlite_main is None and self.attached:
                with self.engine.connect() as conn:
                    for schema in self.attached:
                        conn.exec_driver_sql("DETACH DATABASE " + _q(schema))
            self.attached.clear()
            self._reconnect_files()

    def _reconnect_files(self) -> None:
        """Drop pooled connections of a file database so new ones attach the current schemas.

        Never for in-memory SQLite: its StaticPool's one connection *is* the database (disposing
        it would drop every table deployed before) and the caller may still hold it checked out
        (a failed deploy undoes itself inside its connection block); DETACH on it was enough.
        """
        if self.sqlite_main is not None:
            self.engine.dispose()

    # -- connections --------------------------------------------------------
    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        """A connection; a failure to connect becomes :class:`ConnectionFailed` (exit 3)."""
        from sqlalchemy.exc import DBAPIError

        try:
            conn = self.engine.connect()
        except DBAPIError as exc:
            raise connection_error(self.target, self.url, exc) from None
        with conn:
            yield conn

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        with self.connect() as conn, conn.begin():
            yield conn


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def connection_error(target: Target, url: str, exc: BaseException) -> ConnectionFailed:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    where = parsed.render_as_string(hide_password=True)
    reason = describe_db_error(exc)
    hint = "check that the server is running and the host, port, user and password are right"
    if target.kind == "local":
        hint += f" (target {target.name} reads {target.engine.local_env_vars or 'MYSQL_*'} variables)"
    return ConnectionFailed(f"cannot connect to {target.db_type} at {where}: {reason}", hint)


#: Where a call works: a Target (the framework's style: its runtime is looked up, or created, by
#: :func:`runtime_for`) or the TargetRuntime a job opened and holds.
Where = Target | TargetRuntime


def open_runtime(target: Target, *, keep: bool = False) -> TargetRuntime:
    """A live runtime of ``target`` that the caller holds and closes; starts a ``*_container``
    target's server.  ``keep`` (``deploy --keep``): that server starts persistent and a temporary
    SQLite file goes to dkenv's state directory, so both can outlive the process."""
    return _create_runtime(_checked(target), keep=keep)


def target_of(where: Where) -> Target:
    """The description behind ``where``: what to compile for, name in messages, options."""
    return where.target if isinstance(where, TargetRuntime) else _checked(where)


def _checked(target: Any) -> Target:
    if not isinstance(target, Target):
        raise UsageError(f"expected a target config, got {type(target).__name__}",
                         "use get_target_config(name) or create_custom_target(...)")
    return target


# ---------------------------------------------------------------------------
# The framework's Targets: their runtimes, by the Target object
# ---------------------------------------------------------------------------
_RUNTIMES: dict[int, TargetRuntime] = {}
_REG_LOCK = threading.RLock()


def existing_runtime(where: Where) -> TargetRuntime | None:
    """The runtime behind ``where`` if there is one (a held runtime is its own, until closed)."""
    if isinstance(where, TargetRuntime):
        return None if where.closed else where
    return _RUNTIMES.get(id(where))


def runtime_for(where: Where) -> TargetRuntime:
    """A held runtime as it is; for a Target, its runtime, created on first use."""
    if isinstance(where, TargetRuntime):
        return where
    target = _checked(where)
    with _REG_LOCK:
        rt = _RUNTIMES.get(id(target))
        if rt is None:
            rt = _create_runtime(target)
            _RUNTIMES[id(target)] = rt
        return rt


def _create_runtime(target: Target, *, keep: bool = False) -> TargetRuntime:
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    from sqlalchemy.pool import StaticPool

    engine_spec = target.engine
    tempdir: Path | None = None
    server = None
    if target.kind == "container":
        from dkenv.servers.lifecycle import start_for_target

        server = start_for_target(target, keep=keep)
        url = server.url
    elif target.url:
        from dkenv.engines.drivers import with_installed_driver

        url = with_installed_driver(target.url)
    elif engine_spec.embedded:
        if target.kind == "file" and not target.database:
            # kept (deploy --keep): it outlives the command, so it goes to the private state dir
            kept = keep or bool((target.options or {}).get("keep"))
            tempdir = Path(tempfile.mkdtemp(prefix="dkenv-sqlite-",
                                            dir=state_dir("sqlite") if kept else None))
            url = f"sqlite:///{tempdir / 'main.db'}"
        else:
            url = engine_spec.url(database=target.database)
    else:
        url = engine_spec.url(host=target.host, port=target.port, user=target.user,
                              password=target.password, database=target.database)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(f"malformed database URL {url!r}") from None

    if rules_for_dialect(parsed.get_backend_name()).embedded:
        main = parsed.database
        if not main or main == ":memory:":
            engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
            rt = TargetRuntime(target, url, engine, tempdir=tempdir, sqlite_main=None, server=server)
        else:
            engine = create_engine(url, connect_args={"check_same_thread": False})
            rt = TargetRuntime(target, url, engine, tempdir=tempdir, sqlite_main=main, server=server)

        @event.listens_for(engine, "connect")
        def _attach(dbapi_conn, _record, rt=rt):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            for schema, where in rt.attached.items():
                cur.execute(f"ATTACH DATABASE ? AS {_q(schema)}", (where,))
            cur.close()

        return rt

    from dkenv.engines.mysql import loopback_args

    connect_args: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT_S, **loopback_args(url)}
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=False)
    return TargetRuntime(target, url, engine, server=server)


def release(where: Where, *, keep: bool = False) -> None:
    """Close the runtime behind ``where`` (:meth:`TargetRuntime.close`) and, for a Target, forget
    it.  Idempotent.  ``keep=True``: the container and SQLite temp directory stay."""
    if isinstance(where, TargetRuntime):
        where.close(keep=keep)
        return
    with _REG_LOCK:
        rt = _RUNTIMES.pop(id(where), None)
    if rt is not None:
        rt.close(keep=keep)


@atexit.register
def _release_all() -> None:
    for rt in list(_RUNTIMES.values()):
        try:
            release(rt.target)
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass
