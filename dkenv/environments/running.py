"""Layer 3 ephemeral environments: named sets of databases, each with datakits deployed in order.

An environment is declared in ``dkenv.toml`` (or under ``[tool.dkenv]`` in ``pyproject.toml``)::

    [environments.pagila]
    description = "Pagila bronze + silver"         # optional

    [environments.pagila.databases.warehouse]
    engine = "postgres"                             # postgres | mysql | sqlite
    datakits = ["examples/bronze-pagila", "examples/silver-pagila"]  # in order; relative to the file
    # optional, container engines only:
    image = "postgres:16"   # default: $DKENV_POSTGRES_IMAGE > [images] > the official image
    user = "postgres"       # default: the engine's (postgres / root)
    password = "..."        # default: a random one
    database = "dkenv"      # the database the URL names
    port = 55432            # host port; default: a free one chosen by Docker
    timeout = 60            # seconds to wait until the server answers SELECT 1
    ttl = "2h"              # `env up` only: removed after this long, at the next dkenv command
    env = { TZ = "UTC" }    # extra container environment variables
    # optional, any engine:
    validate = true         # validate each datakit after deploying it
    build = "models"        # or "migrations": run each datakit's Alembic history ([tool.dkenv] migrations)

Names: an environment is ``[A-Za-z0-9][A-Za-z0-9_-]*``; a database is an identifier
(``[A-Za-z][A-Za-z0-9_]*``), because ``dkenv env up --env`` exports ``DKENV_<DATABASE>_URL``.

What bringing one up does, and in which order (so that bad input costs nothing):

1. parse and check the declaration (unknown keys, engines, types: ConfigError with file:line);
2. discover every datakit of every database (a wrong path fails here: exit 2, nothing started);
3. check the order of each database's datakits: a datakit whose foreign keys point into a table
   that a *later* datakit defines (silver listed before bronze) is refused, naming the table
   and the order to use (exit 2, nothing started);
4. start all databases in parallel (one thread each); in each, deploy the datakits in order and
   validate each;
5. on any failure, remove everything this call started and raise the first error, prefixed by
   the environment, database and datakit it happened in (exit code of the underlying error).

Containers are named ``env-<ENV>-<DB>`` (``env up``; ``.<scope hash>`` appended under
``$DKENV_SCOPE``) or ``env-<ENV>-<DB>.<random>`` (``with environment(...)``, owned by the
process and removed when the block exits).  SQLite databases are files: in a fresh temp dir
for ``with environment(...)``; for ``env up`` in ``environments/<ENV>/`` of dkenv's private
state directory (:mod:`dkenv.state`: ``~/.local/state/dkenv`` on Linux) until ``env down``
(schemas live beside ``<DB>.db`` as ``<DB>.<schema>.db``, attached by dkenv).
"""

from __future__ import annotations

import dataclasses
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dkenv import hooks
from dkenv.config import Target
from dkenv.engines import is_embedded
from dkenv.environments.datakits import check_order, discover, in_context, order_hint
from dkenv.environments.specs import (
    DatabaseSpec,
    EnvironmentSpec,
    environment_spec,
    settings_from,
)
from dkenv.environments.state import container_name, refuse_if_up, state_dir
from dkenv.errors import DeployError, DkenvError
from dkenv.state import make_private, private_file

if TYPE_CHECKING:
    from dkenv.datakit import Datakit
    from dkenv.servers.lifecycle import Server

Progress = Callable[[str], None]


# ---------------------------------------------------------------------------
# Live objects
# ---------------------------------------------------------------------------
@dataclass(eq=False)
class Database:
    """One database of a running environment: where it is and what was deployed into it."""

    name: str
    engine: str
    url: str
    target: Target  # for deploy_data_objects / validate_pipeline_flow; its ledger is this process's
    server: Server | None = None  # the container; None for SQLite
    path: Path | None = None  # the SQLite file; None for containers
    datakits: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)

    def to_dict(self, *, show_secrets: bool = True) -> dict[str, Any]:
        doc: dict[str, Any] = {"name": self.name, "engine": self.engine, "url": self.url,
                               "datakits": self.datakits, "tables": self.tables}
        if self.server is not None:
            server = self.server.to_dict(show_secrets=show_secrets)
            doc.update(url=server["url"], host=server["host"], port=server["port"],
                       container=server["container"], container_name=server["name"],
                       image=server["image"])
        if self.path is not None:
            doc["path"] = str(self.path)
        return doc


@dataclass(eq=False)
class Environment:
    """A running environment.  ``env.databases["warehouse"].url``; ``close()`` removes it all."""

    name: str
    databases: dict[str, Database]
    persistent: bool = False
    _undo: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def __getitem__(self, database: str) -> Database:
        return self.databases[database]

    def close(self) -> None:
        """Remove every container and SQLite file of this environment.  Idempotent."""
        _run_undo(self._undo)

    def to_dict(self, *, show_secrets: bool = True) -> dict[str, Any]:
        databases = {n: d.to_dict(show_secrets=show_secrets) for n, d in self.databases.items()}
        return {"name": self.name, "persistent": self.persistent, "databases": databases}

    def __enter__(self) -> Environment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run_undo(undo: list[Callable[[], None]]) -> None:
    errors: list[BaseException] = []
    while undo:
        step = undo.pop()
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - remove the rest, then report the first
            errors.append(exc)
    if errors:
        raise errors[0]


# ---------------------------------------------------------------------------
# Bringing an environment up
# ---------------------------------------------------------------------------
@contextmanager
def environment(name: str, *, config: str | Path | None = None,
                progress: Progress | bool | None = False,
                pythonpath: Sequence[str | Path] = ()) -> Iterator[Environment]:
    """The environment ``name`` for the duration of a ``with`` block; removed when it exits.

        with dkenv.environment("pagila") as env:
            url = env.databases["warehouse"].url
            dkenv.validate_pipeline_flow(env.databases["warehouse"].target)

    ``config``: the config file (default: ``$DKENV_CONFIG``, ``dkenv.toml``, ``pyproject.toml``).
    ``progress``: a line printer, True for stderr, False (default) for silence.
    """
    env = _bring_up(environment_spec(name, settings_from(config)), persistent=False,
                    progress=_printer(progress), pythonpath=pythonpath)
    try:
        yield env
    finally:
        env.close()


def up(name: str, *, config: str | Path | None = None,
       progress: Progress | bool | None = None, pythonpath: Sequence[str | Path] = (),
       data: Sequence[str | Path] = (), encoding: str | None = None) -> Environment:
    """Bring ``name`` up to outlive this process (``dkenv env up``); ``down(name)`` removes it.

    Raises UsageError (exit 2) when it is already up.  ``progress`` defaults to stderr.
    ``data``: directories loaded into every database, after its own ``data = [...]``;
    ``encoding``: their files' text encoding (default UTF-8, with or without a byte-order mark).
    """
    spec = environment_spec(name, settings_from(config))
    if data or encoding:
        extra = tuple(Path(d) for d in data)
        spec = dataclasses.replace(spec, databases={
            key: dataclasses.replace(db, data=(*db.data, *extra), encoding=encoding or db.encoding)
            for key, db in spec.databases.items()})
    env = _bring_up(spec, persistent=True, progress=_printer(progress), pythonpath=pythonpath)
    try:
        hooks.gate("environment-ready")
        for database in env.databases.values():
            if database.server is not None:
                database.server.keep()  # outlives this process from now on
    except BaseException:
        env.close()
        raise
    return env


def _printer(progress: Progress | bool | None) -> Progress:
    if progress is None or progress is True:
        from dkenv.docker.containers import stderr_progress

        return stderr_progress
    return (lambda line: None) if progress is False else progress


class _Cancelled(Exception):
    """Another database failed: stop between steps."""


def _bring_up(spec: EnvironmentSpec, *, persistent: bool, progress: Progress,
              pythonpath: Sequence[str | Path] = ()) -> Environment:
    kits = {db.name: discover(spec, db, pythonpath) for db in spec.databases.values()}
    for db in spec.databases.values():
        check_order(spec, db, kits[db.name])
    containers = [db for db in spec.databases.values() if not is_embedded(db.engine)]
    if containers:
        from dkenv.docker.client import get_client
        from dkenv.servers.lifecycle import install_signal_handlers

        get_client()  # no Docker engine → exit 3 before anything starts
        install_signal_handlers()  # SIGTERM/SIGHUP → SystemExit in the main thread → cleanup
    if persistent:
        refuse_if_up(spec)

    env = Environment(spec.name, {}, persistent=persistent)
    lock = threading.Lock()
    cancel = threading.Event()
    names = ", ".join(f"{d.name} ({d.engine})" for d in spec.databases.values())
    progress(f"dkenv: environment {spec.name}: starting {names}")

    def on_undo(step: Callable[[], None]) -> None:
        with lock:
            env._undo.append(step)

    def job(db: DatabaseSpec) -> Database:
        return _provision(spec, db, kits[db.name], persistent=persistent, progress=progress,
                          on_undo=on_undo, cancel=cancel)

    pool = ThreadPoolExecutor(max_workers=len(spec.databases), thread_name_prefix=f"env-{spec.name}")
    try:
        futures = {pool.submit(job, db): db.name for db in spec.databases.values()}
        done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in done):
            cancel.set()
        wait(futures)
        failures = [f.exception() for f in futures if f.exception() is not None]
        real = [e for e in failures if not isinstance(e, _Cancelled)]
        if real:
            raise real[0]
        for future, db_name in futures.items():
            env.databases[db_name] = future.result()
    except BaseException:
        cancel.set()
        pool.shutdown(wait=True)  # a thread still starting a container hands it to on_undo first
        removed = ", ".join(filter(None, (getattr(step, "what", "") for step in env._undo)))
        try:
            _run_undo(env._undo)
        finally:
            if removed:
                progress(f"dkenv: environment {spec.name} not brought up; removed {removed}")
        raise
    pool.shutdown(wait=True)
    env.databases = {db: env.databases[db] for db in spec.databases}  # declaration order
    return env


def _provision(spec: EnvironmentSpec, db: DatabaseSpec, kits: list[Datakit], *, persistent: bool,
               progress: Progress, on_undo: Callable[[Callable[[], None]], None],
               cancel: threading.Event) -> Database:
    """Start one database, deploy its datakits in order and validate each (runs in a thread)."""
    import time

    from dkenv.deploy import deploy_data_objects
    from dkenv.servers.runtime import release

    label = f"{spec.name}/{db.name}"
    began = time.monotonic()
    context = f"environment {spec.name}, database {db.name} ({db.engine})"
    try:
        database = _start(spec, db, persistent=persistent, progress=progress, on_undo=on_undo)
    except DkenvError as exc:
        raise in_context(exc, context) from None
    target = database.target
    on_undo(_named(lambda: release(target), ""))
    progress(f"dkenv: {label}: {db.engine} ready in {time.monotonic() - began:.1f} s")
    for written, kit in zip(db.datakits, kits):
        if cancel.is_set():
            raise _Cancelled
        try:
            if db.build == "migrations":
                from dkenv.migrations import migrate_target

                result = migrate_target(kit, target)
            else:
                result = deploy_data_objects(kit, target)
            if db.validate:
                _validate(kit, target, db)
        except DkenvError as exc:
            raise in_context(exc, f"{context}, datakit {kit.name} ({written})",
                              hint=order_hint(exc, spec, db, kit)) from None
        database.datakits.append(kit.name)
        database.tables.extend(result.tables)
        checked = ", validated" if db.validate else ""
        progress(f"dkenv: {label}: deployed {kit.name} ({len(result.tables)} tables{checked})")
    _load(db, kits, target, label, context, progress)
    if database.path is not None:
        make_private(database.path.parent)  # schema files SQLite created (0644 under umask 022)
    return database


def _load(db: DatabaseSpec, kits: list[Datakit], target: Target, label: str, context: str,
          progress: Progress) -> None:
    """The datakits' own data directories, then the database's ``data = [...]``: one load."""
    from dkenv.data import data_dirs_of, load_data

    dirs = [*data_dirs_of(kits), *db.data]
    if not dirs:
        return
    try:
        result = load_data(target, dirs, kits, encoding=db.encoding)
    except DkenvError as exc:
        raise in_context(exc, f"{context}, data") from None
    progress(f"dkenv: {label}: {result.summary()}")


def _start(spec: EnvironmentSpec, db: DatabaseSpec, *, persistent: bool, progress: Progress,
           on_undo: Callable[[Callable[[], None]], None]) -> Database:
    if is_embedded(db.engine):
        from dkenv.config import create_custom_target

        if persistent:
            folder = state_dir(spec.name, create=True)  # private: 0700, our own, no symlink
        else:
            folder = Path(tempfile.mkdtemp(prefix=f"dkenv-env-{spec.name}-"))
        file = folder / f"{db.name}.db"
        on_undo(_named(lambda: _remove_sqlite(folder, db.name), str(file)))
        private_file(file)  # 0600; an empty file is an empty SQLite database: up even with no datakits
        target = create_custom_target("sqlite", str(file), name=f"{spec.name}.{db.name}")
        return Database(db.name, db.engine, f"sqlite:///{file}", target, path=file)

    from dkenv.servers.lifecycle import start

    server = start(db.engine, name=container_name(spec.name, db.name, persistent=persistent),
                   image=db.image, port=db.port, user=db.user, password=db.password,
                   database=db.database, env=db.env or None, timeout=db.timeout,
                   ttl=db.ttl if persistent else None, persistent=persistent, keep=False,
                   progress=progress)
    on_undo(_named(server.remove, server.name))
    return Database(db.name, db.engine, server.url, server.target, server=server)


def _named(step: Callable[[], None], what: str) -> Callable[[], None]:
    def run() -> None:
        step()

    run.what = what  # type: ignore[attr-defined]
    return run


def _remove_sqlite(folder: Path, db: str) -> None:
    for path in folder.glob(f"{db}.*db"):
        path.unlink(missing_ok=True)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()


def _validate(kit: Datakit, target: Target, db: DatabaseSpec) -> None:
    from dkenv.deploy.deployed import validate_deployment

    result = validate_deployment(kit, target)
    if result.success:
        return
    shown = "; ".join(f"{p.table}: {p.kind}: {p.detail}" for p in result.problems[:3])
    more = f" (and {len(result.problems) - 3} more)" if len(result.problems) > 3 else ""
    raise DeployError(f"validation failed with {len(result.problems)} problem(s): {shown}{more}",
                      f"see which table works where: dkenv check {kit.path} --engines {db.engine}")


__all__ = ["Database", "Environment", "environment", "up"]
