"""MySQL/MariaDB databases built by migrations, copied without running Alembic again.

MySQL has no template databases, and dkenv replays the DDL it compiled from the models for
every isolated database; a migrations build has no such DDL.  So the first database is built
by Alembic, and what it holds is captured from the server itself: ``SHOW CREATE TABLE`` /
``SHOW CREATE VIEW`` (replayed with foreign-key checks off, so order does not matter) and the
rows the migrations wrote (``alembic_version``, seed rows), re-inserted into every copy and
after every recycle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_AUTO_INCREMENT = re.compile(r"\s+AUTO_INCREMENT=\d+")
_DEFINER = re.compile(r"\s+DEFINER=`[^`]*`@`[^`]*`(\s+SQL SECURITY \w+)?")


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass
class Captured:
    """What a migrated MySQL database holds: its DDL (unqualified) and its rows (INSERTs)."""

    ddl: list[str] = field(default_factory=list)
    rows: list[str] = field(default_factory=list)

    def qualified_rows(self, database: str) -> list[str]:
        """The INSERTs aimed at ``database`` (for a connection on another one)."""
        return [sql.replace("INSERT INTO ", f"INSERT INTO {_q(database)}.", 1) for sql in self.rows]


def capture_mysql(conn: Any, database: str) -> Captured:
    """Read back the tables, views and rows of ``database`` as statements to replay elsewhere."""
    import sqlalchemy as sa

    found = conn.exec_driver_sql(f"SHOW FULL TABLES FROM {_q(database)}").fetchall()
    tables = [name for name, kind in found if kind == "BASE TABLE"]
    views = [name for name, kind in found if kind == "VIEW"]
    captured = Captured(ddl=["SET FOREIGN_KEY_CHECKS = 0"])
    for name in tables:
        create = conn.exec_driver_sql(f"SHOW CREATE TABLE {_q(database)}.{_q(name)}").fetchone()[1]
        captured.ddl.append(_AUTO_INCREMENT.sub("", create))
    for name in views:
        create = conn.exec_driver_sql(f"SHOW CREATE VIEW {_q(database)}.{_q(name)}").fetchone()[1]
        captured.ddl.append(_DEFINER.sub("", create).replace(f"{_q(database)}.", ""))
    captured.ddl.append("SET FOREIGN_KEY_CHECKS = 1")
    metadata = sa.MetaData()
    for name in tables:
        table = sa.Table(name, metadata, schema=database, autoload_with=conn)
        rows = [dict(r._mapping) for r in conn.execute(sa.select(table))]
        if rows:
            plain = sa.table(name, *(sa.column(c.name, c.type) for c in table.columns))
            insert = sa.insert(plain).values(rows).compile(dialect=conn.dialect,
                                                           compile_kwargs={"literal_binds": True})
            captured.rows.append(str(insert).replace("%%", "%"))
    return captured
