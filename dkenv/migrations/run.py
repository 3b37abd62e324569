"""Run a datakit's Alembic history against a target: ``upgrade``/``downgrade`` through
``alembic.command`` on a connection dkenv holds, then check the target really changed.

env.py receives the target both ways (``sqlalchemy.url``, ``config.attributes["connection"]``).
One that ignores both and migrates another database leaves the target empty: that is
reported, naming env.py, instead of a deploy that "succeeded" into nothing.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from dkenv.errors import DatakitError
from dkenv.migrations.failures import run_error
from dkenv.migrations.source import History, history_of
from dkenv.results import DeployResult

if TYPE_CHECKING:
    from dkenv.servers.runtime import Where

#: Alembic's bookkeeping table: never part of a comparison with the models.
VERSION_TABLE = "alembic_version"


def _tables(conn: Any) -> set[str]:
    import sqlalchemy as sa

    return set(sa.inspect(conn).get_table_names())


def _finish(conn: Any) -> None:
    if conn.in_transaction():
        conn.commit()


def _drop_new(conn: Any, before: set[str]) -> None:
    """Drop the tables a failed upgrade left (engines without transactional DDL keep them)."""
    import sqlalchemy as sa

    new = _tables(conn) - before
    if not new:
        return
    metadata = sa.MetaData()
    metadata.reflect(conn, only=sorted(new))
    metadata.drop_all(conn)
    _finish(conn)


def upgrade_on(history: History, conn: Any, url: str, revision: str = "head", *, script: Any = None,
               undo: bool = False) -> list[str]:
    """``alembic upgrade revision`` on ``conn``; returns the tables it created.

    ``undo``: a failure drops the tables this call created, so the target is left as found
    (PostgreSQL rolls the whole upgrade back by itself; MySQL/MariaDB commit each DDL)."""
    from alembic import command

    script = script if script is not None else history.script()
    before = _tables(conn)
    _finish(conn)
    with history.imports():
        try:
            command.upgrade(history.config(url, conn), revision)
            _finish(conn)
        except BaseException as exc:
            if conn.in_transaction():
                conn.rollback()
            if undo:
                try:
                    _drop_new(conn, before)
                except Exception:  # noqa: BLE001 - the migration's own error is the one to report
                    pass
            if isinstance(exc, Exception):
                raise run_error(exc, history, script, conn.dialect.name) from None
            raise
    after = _tables(conn)
    if script.get_heads() and VERSION_TABLE not in after and after == before:
        raise DatakitError(
            f"{history.scripts / 'env.py'}: the migrations ran but the target database stayed empty: "
            "env.py connected somewhere else",
            'in env.py use config.attributes["connection"] when set, else config.get_main_option("sqlalchemy.url")')
    return sorted(after - before - {VERSION_TABLE})


def downgrade_on(history: History, conn: Any, url: str, revision: str = "base", *, script: Any = None) -> None:
    """``alembic downgrade revision`` on ``conn``."""
    from alembic import command

    script = script if script is not None else history.script()
    _finish(conn)
    with history.imports():
        try:
            command.downgrade(history.config(url, conn), revision)
            _finish(conn)
        except Exception as exc:
            if conn.in_transaction():
                conn.rollback()
            raise run_error(exc, history, script, conn.dialect.name) from None


def current_on(conn: Any) -> tuple[str, ...]:
    """The revisions the database is at (empty: none, or no version table)."""
    from alembic.runtime.migration import MigrationContext

    return tuple(MigrationContext.configure(conn).get_current_heads())


def migrate_target(kit: Any, target: Where, revision: str = "head") -> DeployResult:
    """Build ``kit`` in ``target`` (a Target or a held TargetRuntime) by running its migrations
    (``dkenv deploy --from migrations``)."""
    from dkenv.servers.runtime import runtime_for

    started = time.perf_counter()
    history = history_of(kit)
    script = history.script()  # a broken history fails before any connection
    if revision == "head":
        history.one_head(script)
    rt = runtime_for(target)
    with rt.connect() as conn:
        created = upgrade_on(history, conn, rt.url, revision, script=script, undo=True)
    return DeployResult(success=True, target=rt.target.name, datakits=[kit.name], tables=created, created=created,
                        duration_s=time.perf_counter() - started)


def unmigrate_target(kit: Any, target: Where) -> None:
    """Undo :func:`migrate_target` (``--cleanup``): ``downgrade base``, then drop Alembic's version table."""
    import sqlalchemy as sa

    from dkenv.servers.runtime import runtime_for

    history = history_of(kit)
    rt = runtime_for(target)
    with rt.connect() as conn:
        downgrade_on(history, conn, rt.url, "base")
        if VERSION_TABLE in _tables(conn):
            sa.Table(VERSION_TABLE, sa.MetaData()).drop(conn)
            _finish(conn)


def migrate_kits(kits: Sequence[Any], target: Where) -> list[DeployResult]:
    """Every datakit's migrations, in order (bronze before silver)."""
    for kit in kits:  # every history declared, loadable and with one head before anything runs
        history = history_of(kit)
        history.one_head(history.script())
    return [migrate_target(kit, target) for kit in kits]
