"""Probes run right after a deploy, so what would only fail on the first INSERT or SELECT fails now.

Without side effects: each probe runs in a savepoint that is rolled back, sequence calls are
never evaluated (``nextval`` is not rolled back), and MySQL's ``ON UPDATE`` clauses are not
mistaken for defaults.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from dkenv.engines import describe_db_error
from dkenv.errors import DeployError
from dkenv.schema import SEQUENCE_CALL, default_sql
from dkenv.servers.runtime import Deployment

#: An engine's "this table does not exist" message: a view or key over a table not deployed yet.
MISSING_TABLE = re.compile(r"relation \S+ does not exist|no such table|table \S+ doesn't exist|unknown table",
                      re.IGNORECASE)


def probe_server_defaults(conn: Any, created: Sequence[Any], spec: Any) -> None:
    """Evaluate every distinct server-default expression once, so defaults that only fail on INSERT fail now.

    SQLite accepts ``DEFAULT (now())`` in CREATE TABLE and fails on the first INSERT; a
    ``SELECT <expression>`` fails the same way, at one query per distinct expression rather
    than one insert per table.  Sequence calls are never probed (``nextval`` is not rolled
    back: the first real row would get the second value), nor MySQL's ``ON UPDATE`` clauses.
    """
    from sqlalchemy.exc import DBAPIError

    expressions: dict[str, tuple[str, str]] = {}
    for table in created:
        if getattr(table, "is_view", False):
            continue
        for column in table.columns:
            sql = default_sql(column, conn.dialect, spec) if column.server_default is not None else None
            if not sql or sql.upper() in _CONSTANT_DEFAULTS or SEQUENCE_CALL.search(sql) or _ON_UPDATE.search(sql):
                continue
            expressions.setdefault(sql, (table.fullname, column.name))
    for sql, (table, column) in expressions.items():
        probe = conn.begin_nested() if conn.in_transaction() else conn.begin()
        try:
            conn.exec_driver_sql(f"SELECT {sql if sql.startswith('(') else f'({sql})'}")
        except DBAPIError as exc:
            probe.rollback()
            raise DeployError(
                f"table {table}.{column} deployed on {spec.name} but its server default {sql} fails "
                f"on insert: {describe_db_error(exc)}",
                "use a default this engine evaluates (CURRENT_TIMESTAMP), or a client-side default_factory",
            ) from None
        probe.rollback()


def probe_views(conn: Any, deployment: Deployment) -> None:
    """SQLite creates a view over a table that does not exist and fails only when it is read: read each now."""
    from sqlalchemy.exc import DBAPIError

    for kind, schema, name in deployment.objects:
        if kind != "view":
            continue
        try:
            conn.exec_driver_sql(f'SELECT 1 FROM "{schema}"."{name}" LIMIT 0').all()
        except DBAPIError as exc:
            message = describe_db_error(exc)
            hint = ("it uses a table that is not in the target yet: deploy the datakit that defines it first "
                    "(Layer 3 order: bronze before silver)" if MISSING_TABLE.search(message) else
                    "limit engine-specific DDL to its engine with DDL(...).execute_if(dialect='postgresql')")
            raise DeployError(f"view {name} created by datakit {', '.join(deployment.datakits)} fails on sqlite: "
                              f"{message}", hint) from None


#: Defaults that every engine evaluates; no need to probe them.
_CONSTANT_DEFAULTS = {"CURRENT_TIMESTAMP", "CURRENT_DATE", "CURRENT_TIME", "TRUE", "FALSE", "NULL"}
_ON_UPDATE = re.compile(r"\bON\s+UPDATE\b", re.IGNORECASE)


__all__ = ["MISSING_TABLE", "probe_server_defaults", "probe_views"]
