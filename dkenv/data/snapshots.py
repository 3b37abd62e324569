"""Snapshots: a live database, frozen under a name, that isolated databases are copied from.

    dkenv snapshot after-bronze --url postgresql://.../pipeline     # after a pipeline step ran
    server.database(snapshot="after-bronze")                         # a fresh copy per test

PostgreSQL: the snapshot is a template database ``dkenv_snap_<name>`` on the same server
(``CREATE DATABASE ... TEMPLATE``; connections refused afterwards, so copies never wait).
A template can only be copied while nobody is connected to it, so taking a snapshot waits a
few seconds for sessions on the source to end, then names them.  SQLite: the main file and
each schema's attached file, copied with SQLite's online backup into
``<directory>/.dkenv-snapshots/<name>/`` beside the database.  MySQL/MariaDB have no
template databases: snapshots are not supported there (exit 2), say so rather than dump.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dkenv.engines import is_embedded
from dkenv.engines.messages import describe_db_error
from dkenv.engines.sqlite import schema_file
from dkenv.errors import DkenvError, UsageError

PREFIX = "dkenv_snap_"
SQLITE_DIR = ".dkenv-snapshots"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,40}$")
#: How long taking a PostgreSQL snapshot waits for other sessions on the source to end.
BUSY_WAIT_S = 5.0


@dataclass
class Snapshot:
    name: str
    engine: str
    where: str  # template database name, or the snapshot's directory
    size_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "engine": self.engine, "where": self.where, "size_bytes": self.size_bytes}


def check_name(name: str) -> str:
    if not _NAME.match(name or ""):
        raise UsageError(f"snapshot name {name!r} is not allowed",
                         "use lower-case letters, digits, '-' and '_' (up to 41 characters), e.g. after-bronze")
    return name


def template_of(name: str) -> str:
    """The PostgreSQL database that holds snapshot ``name``."""
    return PREFIX + check_name(name)  # quoted wherever it is used


def _engine(url: str) -> str:
    from sqlalchemy.engine import make_url

    from dkenv.engines import get_engine

    backend = make_url(url).get_backend_name()
    try:
        engine = get_engine(backend)  # "postgres" too: an alias SQLAlchemy no longer accepts
    except UsageError:
        raise UsageError(f"snapshots are not supported on {backend}") from None
    if not engine.snapshots:
        raise UsageError(f"snapshots are not supported on {engine.label}: it has no template databases to copy",
                         f"take snapshots on PostgreSQL or SQLite; on {engine.label}, reload the data with dkenv load")
    return engine.name


# ---------------------------------------------------------------------------
# Take, list, remove
# ---------------------------------------------------------------------------
def take(url: str, name: str, *, replace: bool = False) -> Snapshot:
    """Freeze the database at ``url`` as snapshot ``name``."""
    check_name(name)
    if is_embedded(_engine(url)):
        return _sqlite_take(url, name, replace=replace)
    return _pg_take(url, name, replace=replace)


def ls(url: str) -> list[Snapshot]:
    """The snapshots on the server of ``url`` (SQLite: beside the file of ``url``)."""
    if is_embedded(_engine(url)):
        root = sqlite_root(url)
        if not root.is_dir():
            return []
        return [Snapshot(p.name, "sqlite", str(p), sum(f.stat().st_size for f in p.iterdir()))
                for p in sorted(root.iterdir()) if (p / "snap.db").is_file()]
    with _admin(url) as conn:
        rows = conn.exec_driver_sql(
            "SELECT datname, pg_database_size(oid) FROM pg_database WHERE datname LIKE 'dkenv\\_snap\\_%%' "
            "ORDER BY datname").all()
    return [Snapshot(r[0][len(PREFIX):], "postgres", r[0], int(r[1])) for r in rows]


def rm(url: str, name: str) -> None:
    """Remove snapshot ``name``; an unknown name is an error (exit 2)."""
    check_name(name)
    if is_embedded(_engine(url)):
        path = sqlite_root(url) / name
        if not path.is_dir():
            raise _unknown(name, url)
        shutil.rmtree(path)
        return
    template = template_of(name)
    with _admin(url) as conn:
        if not _pg_exists(conn, template):
            raise _unknown(name, url)
        _pg_drop(conn, template)


def _unknown(name: str, url: str) -> UsageError:
    have = ", ".join(s.name for s in ls(url)) or "none"
    return UsageError(f"no snapshot named {name!r} (snapshots here: {have})", "see `dkenv snapshot ls --url URL`")


# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------
class _admin:  # noqa: N801 - a context manager used like a function
    """An autocommit connection to the server's maintenance database (``postgres``)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import make_url

        from dkenv.engines.drivers import with_installed_driver

        self.source = make_url(url).database or ""
        self.engine = create_engine(make_url(with_installed_driver(url)).set(database="postgres"),
                                    isolation_level="AUTOCOMMIT")

    def __enter__(self) -> Any:
        from sqlalchemy.exc import DBAPIError

        from dkenv.errors import ConnectionFailed

        try:
            self.conn = self.engine.connect()
        except DBAPIError as exc:
            self.engine.dispose()
            raise ConnectionFailed(f"cannot connect to the PostgreSQL server: {describe_db_error(exc)}") from None
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()
        self.engine.dispose()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pg_exists(conn: Any, name: str) -> bool:
    from sqlalchemy import text

    return conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first() is not None


def _pg_drop(conn: Any, name: str) -> None:
    conn.exec_driver_sql(f"ALTER DATABASE {_quote(name)} WITH IS_TEMPLATE false")
    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quote(name)}")


def _pg_take(url: str, name: str, *, replace: bool) -> Snapshot:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    template = template_of(name)
    with _admin(url) as conn:
        source = _admin_source(url)
        if not _pg_exists(conn, source):
            raise UsageError(f"database {source!r} does not exist on this server")
        if _pg_exists(conn, template):
            if not replace:
                raise UsageError(f"snapshot {name!r} exists already",
                                 f"remove it first (dkenv snapshot rm {name}) or pick another name")
            _pg_drop(conn, template)
        deadline = time.monotonic() + BUSY_WAIT_S
        pause = 0.02
        while True:
            try:
                conn.exec_driver_sql(f"CREATE DATABASE {_quote(template)} TEMPLATE {_quote(source)}")
                break
            except DBAPIError as exc:
                if "being accessed by other users" not in str(exc.orig) or time.monotonic() > deadline:
                    if "being accessed by other users" in str(exc.orig):
                        sessions = conn.execute(text(
                            "SELECT count(*) FROM pg_stat_activity WHERE datname = :d"), {"d": source}).scalar()
                        raise DkenvError(
                            f"cannot snapshot {source!r}: {sessions} other session(s) are connected to it",
                            "close them (engines: dispose(); a dkenv test database: db.disconnect(); psql: \\q) "
                            "and try again; a snapshot needs a quiet database") from None
                    raise DkenvError(f"snapshot {name!r} failed: {describe_db_error(exc)}") from None
            time.sleep(pause)
            pause = min(pause * 2, 0.25)
        conn.exec_driver_sql(f"ALTER DATABASE {_quote(template)} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false")
        size = conn.execute(text("SELECT pg_database_size(:n)"), {"n": template}).scalar()
    return Snapshot(name, "postgres", template, int(size))


def _admin_source(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).database or "postgres"


# ---------------------------------------------------------------------------
# SQLite
# ---------------------------------------------------------------------------
def _sqlite_main(url: str) -> Path:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:":
        raise UsageError("an in-memory SQLite database cannot be snapshotted", "use a file: sqlite:///path/db.db")
    return Path(database)


def sqlite_root(url: str) -> Path:
    """Where the snapshots of the SQLite databases in the directory of ``url`` live."""
    return _sqlite_main(url).parent / SQLITE_DIR


def sqlite_files(main: Path) -> dict[str | None, Path]:
    """The files of a SQLite database: None -> main, schema -> its attached file."""
    files: dict[str | None, Path] = {None: main}
    for path in main.parent.glob(f"{glob_escape(main.stem)}.*.db"):
        schema = path.name[len(main.stem) + 1:-3]
        if schema and "." not in schema:
            files[schema] = path
    return files


def glob_escape(text: str) -> str:
    return re.sub(r"([\[\]*?])", r"[\1]", text)


def _backup(source: Path, target: Path) -> None:
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def _sqlite_take(url: str, name: str, *, replace: bool) -> Snapshot:
    main = _sqlite_main(url)
    if not main.is_file():
        raise UsageError(f"SQLite database {str(main)!r} does not exist")
    final = sqlite_root(url) / name
    if final.exists() and not replace:
        raise UsageError(f"snapshot {name!r} exists already",
                         f"remove it first (dkenv snapshot rm {name}) or pick another name")
    building = final.with_name(f".{name}.building")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(parents=True)
    try:
        for schema, path in sqlite_files(main).items():
            _backup(path, building / "snap.db" if schema is None else schema_file(building / "snap.db", schema))
        shutil.rmtree(final, ignore_errors=True)
        building.rename(final)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return Snapshot(name, "sqlite", str(final), sum(f.stat().st_size for f in final.iterdir()))
