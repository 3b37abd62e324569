"""SQLite isolated databases: file copies of a deployed template.

A SQLite "database" here is a main file plus one attached file per schema,
``<name>.<schema>.db`` beside it (the layout :mod:`dkenv.servers.runtime` attaches).  The datakits
are deployed once into a template under ``<directory>/.dkenv-templates/<ddl hash>/`` and
each isolated database is a copy of those files: a few hundred microseconds for a 50-table
datakit, with nothing to connect to.

:class:`~dkenv.databases.sqlite_server.SqliteServer` (beside this module) gives SQLite the
surface of a container server over a temporary directory.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dkenv.databases.build import build_ddl, data_key, deploy_into
from dkenv.datakit import Datakit
from dkenv.engines.sqlite import schema_file
from dkenv.schema import all_tables, check_references, ddl_key, schemas_of

TEMPLATES_DIR = ".dkenv-templates"
_SIDE_FILES = ("-journal", "-wal", "-shm")


class SqliteBuilder:
    """Template files per datakit set; a file copy per request."""

    engine = "sqlite"

    def __init__(self, directory: Path, kits: Sequence[Datakit], data: Sequence[Any] = (),
                 build: str = "models") -> None:
        self.build = build  # "models" (create_all) or "migrations" (the datakits' Alembic histories)
        self.directory = Path(directory)
        self.kits = list(kits)
        self.data = list(data)  # data directories: the template files hold their rows
        self.template_main: Path | None = None
        self.schema_files: dict[str, Path] = {}
        self.template_reused = False

    def prepare(self) -> None:
        from sqlalchemy import create_engine

        tables = all_tables(self.kits)
        check_references(tables, self.kits)
        compiler = create_engine("sqlite://")
        try:
            ddl = build_ddl(self.kits, compiler, self.build)
        finally:
            compiler.dispose()
        key = ddl_key(ddl + data_key(self.data), engine="sqlite", server_version=sqlite3.sqlite_version)
        root = self.directory / TEMPLATES_DIR
        final = root / key
        if not (final / "READY").is_file():
            self._build(final, root)
        else:
            self.template_reused = True
        main = final / "tpl.db"
        self.template_main = main
        self.schema_files = {s: schema_file(main, s) for s in schemas_of(tables)
                             if schema_file(main, s).is_file()}

    def _build(self, final: Path, root: Path) -> None:
        """Deploy into a private directory and publish it by renaming (atomic; loser discards)."""
        root.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f"{final.name}.building-", dir=root))
        try:
            deploy_into(f"sqlite:///{building / 'tpl.db'}", "sqlite", f"template {final.name}", self.kits,
                        data=self.data, build=self.build)
            (building / "READY").write_text("")
            try:
                building.rename(final)
            except OSError:
                if not (final / "READY").is_file():
                    raise
                shutil.rmtree(building, ignore_errors=True)  # another process published it first
        except BaseException:
            shutil.rmtree(building, ignore_errors=True)
            raise

    def main_file(self, name: str) -> Path:
        return self.directory / f"{name}.db"

    def create(self, name: str) -> None:
        assert self.template_main is not None, "prepare() first"
        main = self.main_file(name)
        shutil.copyfile(self.template_main, main)
        for schema, source in self.schema_files.items():
            shutil.copyfile(source, schema_file(main, schema))

    def drop(self, name: str) -> None:
        main = self.main_file(name)
        for path in (str(main), *(str(schema_file(main, s)) for s in self.schema_files)):
            for suffix in ("", *_SIDE_FILES):
                try:
                    os.unlink(path + suffix)
                except FileNotFoundError:
                    pass

    def url(self, name: str) -> str:
        return f"sqlite:///{self.main_file(name)}"

    def schema_map(self, name: str) -> dict[str, str]:
        return {}  # attached under their own names

    def attached(self, name: str) -> dict[str, str]:
        """Schema → file of isolated database ``name`` (what a connection must ATTACH)."""
        main = self.main_file(name)
        return {s: str(schema_file(main, s)) for s in self.schema_files}

    def close(self) -> None:
        pass


class SqliteSnapshotBuilder(SqliteBuilder):
    """Copies of a snapshot's files (``.dkenv-snapshots/<name>/`` in the directory)."""

    def __init__(self, directory: Path, name: str, kits: Sequence[Datakit] = ()) -> None:
        super().__init__(directory, kits)
        self.snapshot = name

    def prepare(self) -> None:
        from dkenv.data.snapshots import SQLITE_DIR, sqlite_files
        from dkenv.errors import UsageError

        main = self.directory / SQLITE_DIR / self.snapshot / "snap.db"
        if not main.is_file():
            raise UsageError(f"no snapshot named {self.snapshot!r} in {self.directory}",
                             "take it first: server.snapshot(db, NAME) or dkenv snapshot NAME --url URL")
        self.template_main = main
        self.schema_files = {s: p for s, p in sqlite_files(main).items() if s is not None}
        self.template_reused = True
