"""What ``psql`` and ``mysql`` do when the environment names no server: their defaults, here.

Why: ``postgres_local`` and ``mysql_local`` promise "the server your command-line client
reaches with the same environment".  With no ``PGUSER`` libpq logs in as the operating-system
user, with no ``PGHOST`` it goes through the Unix socket (``/var/run/postgresql`` on Debian,
``/tmp`` upstream), and with no ``PGDATABASE`` it opens the database named like the user -- so
peer authentication just works.  The MySQL/MariaDB client likewise defaults to the OS user on
its socket (``$MYSQL_UNIX_PORT``, else the distribution's path).  dkenv does the same instead
of assuming ``postgres`` over TCP.
"""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

#: Where libpq builds put their socket: Debian/Ubuntu and Fedora, then upstream's default.
PG_SOCKET_DIRS = ("/var/run/postgresql", "/run/postgresql", "/tmp")
#: Where MySQL/MariaDB clients look: Debian/Ubuntu, RHEL/Fedora, upstream and macOS.
MYSQL_SOCKETS = ("/run/mysqld/mysqld.sock", "/var/run/mysqld/mysqld.sock",
                 "/var/lib/mysql/mysql.sock", "/tmp/mysql.sock")


def os_user() -> str:
    """The operating-system user, as libpq and the MySQL client take it."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, AttributeError):  # Windows, or a uid without a passwd entry
        return getpass.getuser()


def pg_socket_dir(port: int | None = None, *, candidates: tuple[str, ...] = PG_SOCKET_DIRS,
                  platform: str | None = None) -> str | None:
    """The Unix socket directory psql would use for ``port`` (None on Windows: TCP localhost).

    The first candidate that holds the server's socket (``.s.PGSQL.<port>``); with none
    running, the first that exists (where a server would put it); else upstream's ``/tmp``.
    """
    if (platform or sys.platform).startswith("win"):
        return None
    name = f".s.PGSQL.{port or 5432}"
    for folder in candidates:
        if Path(folder, name).exists():
            return folder
    return next((folder for folder in candidates if Path(folder).is_dir()), "/tmp")


def mysql_socket(*, candidates: tuple[str, ...] = MYSQL_SOCKETS,
                 platform: str | None = None) -> str | None:
    """The socket the ``mysql`` client would use (``$MYSQL_UNIX_PORT`` first; None on Windows)."""
    if (platform or sys.platform).startswith("win"):
        return None
    if os.environ.get("MYSQL_UNIX_PORT"):
        return os.environ["MYSQL_UNIX_PORT"]
    for path in candidates:
        if Path(path).exists():
            return path
    return next((p for p in candidates if Path(p).parent.is_dir()), candidates[-1])


__all__ = ["MYSQL_SOCKETS", "PG_SOCKET_DIRS", "mysql_socket", "os_user", "pg_socket_dir"]
