"""Tables translated for one engine: copies with server defaults carried to its dialect.

Deploy (:mod:`dkenv.deploy`), the compiled DDL of isolated databases (:mod:`dkenv.schema.ddl`)
and ``dkenv check`` all create tables through :func:`copy_for_engine`, so the SQL an engine
receives is decided here once.  Only a live dialect is needed, not a target runtime: anything
with ``.engine`` (a SQLAlchemy engine) and ``.target.kind``/``.target.engine`` will do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from dkenv.engines import engine_for_dialect
from dkenv.errors import DeployError
from dkenv.schema.carry import sql_of_default

if TYPE_CHECKING:
    import sqlalchemy as sa

    from dkenv.engines.base import Engine


class Connected(Protocol):
    """What :func:`copy_for_engine` needs of a connection: a live engine and its target."""

    target: Any
    engine: sa.Engine


def copy_for_engine(tables: Sequence[Any], runtime: Connected) -> tuple[Any, list[Any]]:
    """Copies of ``tables`` in a fresh MetaData, with server defaults carried to the engine."""
    from sqlalchemy import DefaultClause, MetaData, text

    engine_spec = runtime.target.engine if runtime.target.kind != "url" else engine_spec_of(runtime)
    dialect = runtime.engine.dialect
    metadata = MetaData()
    copies = [t.to_metadata(metadata) for t in tables]
    errors: list[str] = []
    for table in copies:
        for column in table.columns:
            sql = sql_of_default(column.server_default, dialect) if column.server_default else None
            if sql is None:
                continue
            rewrite = engine_spec.rewrite_server_default(column, sql)
            if rewrite.error:
                errors.append(f"{table.fullname}.{column.name}: {rewrite.error}; {rewrite.fix}")
            elif rewrite.sql != sql:
                column.server_default = DefaultClause(text(rewrite.sql))
    if errors:
        raise DeployError(errors[0] if len(errors) == 1 else f"{len(errors)} server defaults cannot be carried to "
                          f"{engine_spec.name}:\n  " + "\n  ".join(errors))
    return metadata, copies


def engine_spec_of(runtime: Connected) -> Engine:
    """The engine spec of a live connection (a ``url`` target names no engine of its own)."""
    return engine_for_dialect(runtime.engine.dialect.name)
