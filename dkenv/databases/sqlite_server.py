"""SQLite with a container server's surface (``.url``, ``.target``, ``.database(...)``,
``.stop()``) over a temporary directory, so code and fixtures that take "a server" work on
every engine.  It sits above the factory because stopping it drops the databases handed out.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Any

from dkenv.config import Target
from dkenv.databases.factory import close_server_databases, server_snapshot
from dkenv.servers.lifecycle import DatabaseName
from dkenv.servers.runtime import release


class SqliteServer:
    """SQLite with a container server's surface, in a directory removed by :meth:`stop`.

    ``dkenv.ephemeral("sqlite")`` returns one; ``server.database(datakits=[...])`` hands out
    isolated databases like the PostgreSQL and MySQL servers do.
    """

    engine = "sqlite"
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: str | None = None
    container: str | None = None

    def __init__(self, directory: str | Path | None = None, *, name: str | None = None,
                 keep: bool = False) -> None:
        self._owns_dir = directory is None
        self.directory = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="dkenv-sqlite-"))
        self.directory.mkdir(parents=True, exist_ok=True)
        self.name = name or f"dkenv-sqlite-{secrets.token_hex(3)}"
        self.keep = keep
        self._stopped = False

    @property
    def database_file(self) -> Path:
        return self.directory / "main.db"

    @property
    def database(self) -> Any:  # noqa: D401 - both a name (Server.database) and a method
        """``server.database(datakits=[...])`` hands out an isolated database."""
        return DatabaseName(str(self.database_file), self)

    def snapshot(self, db: Any, name: str, **kw: Any) -> Any:
        """Freeze isolated database ``db`` as snapshot ``name`` (its files, copied)."""
        return server_snapshot(self, db, name, **kw)

    @property
    def url(self) -> str:
        return f"sqlite:///{self.database_file}"

    @cached_property
    def target(self) -> Target:
        return Target(name=self.name, db_type="sqlite", kind="url", url=self.url,
                      database=str(self.database_file), description=f"SQLite in {self.directory}")

    def masked_url(self) -> str:
        return self.url

    def to_dict(self, *, show_secrets: bool = True) -> dict[str, Any]:
        return {"name": self.name, "engine": "sqlite", "url": self.url, "host": None, "port": None,
                "container": None, "directory": str(self.directory)}

    def stop(self) -> None:
        """Drop the isolated databases, release the target, remove the directory.  Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        close_server_databases(self, keep=self.keep)
        release(self.target)
        if self._owns_dir and not self.keep:
            shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> SqliteServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"SqliteServer(name={self.name!r}, directory={str(self.directory)!r})"
