"""Helpers for users' own tests (any test runner; plain functions, no plugin hooks).

    from dkenv.testing import migrations_check

    def test_migrations_match_the_models(dkenv_postgres):
        assert migrations_check("shop", "postgres", server=dkenv_postgres)

:func:`migrations_check` runs ``dkenv migrations check`` for one engine and returns its report:
true when every check passed; its ``repr`` lists each check and every difference, so a
failing ``assert`` shows them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dkenv.datakit import Datakit, datakit_of
from dkenv.migrations.check import MigrationsReport, check_engine, check_kit


def migrations_check(kit: str | Path | Datakit, engine: str = "sqlite", *, server: Any = None,
                     timeout: float = 60.0) -> MigrationsReport:
    """Check ``kit``'s Alembic history on ``engine``: one head, upgrade from empty, models vs the
    migrated database both ways, downgrade to empty, upgrade again to the same catalog.

    ``server``: a running server (the plugin's ``dkenv_postgres``/``dkenv_mysql``, a
    ``dkenv.ephemeral`` server, or an admin URL) that gets a fresh database for the check;
    without one a throwaway container is started and removed (SQLite needs none).
    """
    from dkenv.engines import get_engine

    datakit = datakit_of(kit)
    name = get_engine(engine).name
    if server is None or get_engine(engine).embedded:
        return check_kit(datakit, [name], timeout=timeout)
    url = server if isinstance(server, str) else server.url
    return MigrationsReport([check_engine(datakit, name, server_url=url)])


__all__ = ["MigrationsReport", "migrations_check"]
