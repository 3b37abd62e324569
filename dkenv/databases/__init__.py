"""Isolated per-test databases: a fresh database with datakits deployed, in milliseconds.

- :mod:`~dkenv.databases.factory`: :class:`DatabaseFactory` (one per server) and
  :class:`IsolatedDatabase` (what a request gets), ``server.database(...)``'s implementation;
- :mod:`~dkenv.databases.pool`: databases built ahead of demand, returned ones dropped or reset;
- :mod:`~dkenv.databases.build` / :mod:`~dkenv.databases.sqlite`: the per-engine builders
  (PostgreSQL template databases, MySQL DDL replay, SQLite file copies);
- :mod:`~dkenv.databases.recycle`: emptying a returned database whose schema is unchanged;
- :mod:`~dkenv.databases.sqlite_server`: :class:`SqliteServer`, SQLite with a server's surface.
"""

from __future__ import annotations

from typing import Any

from dkenv.databases.factory import (
    DEFAULT_READY,
    DatabaseFactory,
    IsolatedDatabase,
    close_server_databases,
    factory_for,
    server_database,
)

__all__ = ["DEFAULT_READY", "DatabaseFactory", "DatabaseName", "IsolatedDatabase", "SqliteServer",
           "close_server_databases", "factory_for", "server_database"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: they bring the container lifecycle and the runtime along.
    if name == "SqliteServer":
        from dkenv.databases.sqlite_server import SqliteServer

        return SqliteServer
    if name == "DatabaseName":
        from dkenv.servers.lifecycle import DatabaseName

        return DatabaseName
    raise AttributeError(f"module 'dkenv.databases' has no attribute {name!r}")
