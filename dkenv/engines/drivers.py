"""Which driver a URL without one (``postgresql://``, ``mysql://``) connects through.

SQLAlchemy picks a fixed default per backend (2.1: ``psycopg`` for PostgreSQL, ``mysqldb``
for MySQL) whether or not it is installed, so ``postgresql://…`` fails with
``ModuleNotFoundError: No module named 'psycopg'`` where psycopg2 is right there.  dkenv
uses whichever driver is installed, in its own order of preference: psycopg2 first (the
load's COPY path), PyMySQL first (what dkenv's own MySQL URLs name).  A URL that names its
driver is left as it is.
"""

from __future__ import annotations

import importlib.util
from functools import cache

from dkenv.errors import EnvironmentFailure, UsageError

#: Backend -> (SQLAlchemy driver name, importable module, pip package), most preferred first.
_DRIVERS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "postgresql": (("psycopg2", "psycopg2", "psycopg2-binary"), ("psycopg", "psycopg", "psycopg[binary]")),
    "mysql": (("pymysql", "pymysql", "pymysql"), ("mysqldb", "MySQLdb", "mysqlclient")),
    "mariadb": (("pymysql", "pymysql", "pymysql"), ("mysqldb", "MySQLdb", "mysqlclient")),
}


@cache
def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def installed_driver(backend: str) -> str | None:
    """The preferred installed driver of ``backend`` (``postgresql``, ``mysql``), or None."""
    for driver, module, _package in _DRIVERS.get(backend, ()):
        if _installed(module):
            return driver
    return None


def with_installed_driver(url: str) -> str:
    """``url`` with the installed driver named when it names none (``postgresql://`` →
    ``postgresql+psycopg2://``); other URLs unchanged.  EnvironmentFailure (exit 3) when the
    backend has no driver installed at all."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UsageError(f"malformed database URL {url!r}",
                         "use a SQLAlchemy URL such as postgresql://user:pw@host:5432/db") from None
    if "+" in parsed.drivername:
        return url
    backend = parsed.get_backend_name()
    if backend == "postgres":  # an alias SQLAlchemy no longer accepts
        backend = "postgresql"
    if backend not in _DRIVERS:
        return url
    driver = installed_driver(backend)
    if driver is None:
        packages = " or ".join(p for _d, _m, p in _DRIVERS[backend])
        raise EnvironmentFailure(f"no {backend} driver is installed for {parsed.render_as_string()}",
                                 f"pip install {packages}")
    return parsed.set(drivername=f"{backend}+{driver}").render_as_string(hide_password=False)
