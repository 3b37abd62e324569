"""The table options a model table sets, compared with the live table: MySQL/MariaDB engine,
default charset and collation; PostgreSQL UNLOGGED (a table prefix), INHERITS and PARTITION
BY; SQLite WITHOUT ROWID and STRICT. Each engine's comparison registers itself by the engine
(`_table_options(ENGINE)`); other dialects compare none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from dkenv.engines import Engine
from dkenv.engines.mysql import MYSQL
from dkenv.engines.postgres import POSTGRES
from dkenv.engines.sqlite import SQLITE
from dkenv.validate.context import TableContext
from dkenv.validate.live import LiveTable
from dkenv.validate.normalize import normalize

#: The table options each engine keeps, by the engine's dialect name.
_TABLE_OPTIONS: dict[str, Callable[[sa.Table, LiveTable], list[tuple[str, str]]]] = {}


def _table_options(engine: Engine) -> Callable[[Any], Any]:
    def register(compare: Any) -> Any:
        _TABLE_OPTIONS[engine.dialect] = compare
        return compare

    return register


def compare_table_options(ctx: TableContext) -> None:
    """MySQL/MariaDB engine, default charset and collation, where the model sets them;
    PostgreSQL UNLOGGED (a table prefix), INHERITS and PARTITION BY; SQLite WITHOUT ROWID
    and STRICT. Nothing on other dialects."""
    compare = _TABLE_OPTIONS.get(ctx.rules.dialect)
    for kind, detail in compare(ctx.table, ctx.live) if compare is not None else []:
        ctx.report(kind, detail)


def _charset(collation: str) -> str:
    return collation.split("_", 1)[0].lower()


def _alias(charset: str) -> str:
    return {"utf8": "utf8mb3"}.get(charset.lower(), charset.lower())


def _postgres_options(table: sa.Table, live: LiveTable) -> list[tuple[str, str]]:
    """INHERITS parents and the PARTITION BY key, compared when the model sets them."""
    problems = []
    options = table.dialect_options["postgresql"]
    inherits = options.get("inherits")
    if inherits:
        wanted = [inherits] if isinstance(inherits, str) else list(inherits)
        parents = [p for p in live.options.get("inherits", "").split(",") if p]
        for parent in wanted:
            name = str(getattr(parent, "fullname", parent))
            if not any(_same_relation(name, p, table.schema) for p in parents):
                has = ", ".join(p.split(".", 1)[1] for p in parents) or "no parent"
                problems.append(("table_option", f"the table inherits from {has}, the model"
                                 f" says INHERITS ({name})"))
    partition_by = options.get("partition_by")
    if partition_by:
        has_key = live.options.get("partition_by")
        if has_key is None:
            problems.append(("table_option", "the table is not partitioned, the model says"
                             f" PARTITION BY {partition_by}"))
        elif normalize(has_key) != normalize(partition_by):
            problems.append(("table_option", f"the table is partitioned by {has_key}, the model"
                             f" says PARTITION BY {partition_by}"))
    return problems


def _same_relation(model: str, live: str, schema: str | None) -> bool:
    """`model` (as written: "parent" or "schema.parent") names the live "schema.name"."""
    live_schema, live_name = live.split(".", 1)
    parts = [p.strip('"') for p in model.split(".")]
    if len(parts) == 2:
        return (parts[0], parts[1]) == (live_schema, live_name)
    return parts[0] == live_name


@_table_options(SQLITE)
def _sqlite_options(table: sa.Table, live: LiveTable) -> list[tuple[str, str]]:
    """WITHOUT ROWID and STRICT, compared when the model sets them."""
    problems = []
    options = table.dialect_options["sqlite"]
    if options.get("with_rowid", True) is False and live.options.get("with_rowid") != "false":
        problems.append(("table_option", "the table has a rowid, the model says WITHOUT ROWID"))
    if options.get("strict") and live.options.get("strict") != "true":
        problems.append(("table_option", "the table is not STRICT, the model says STRICT"))
    return problems



@_table_options(POSTGRES)
def _postgres_table_options(table: sa.Table, live: LiveTable) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    want = "UNLOGGED" in (p.upper() for p in table._prefixes)
    has = live.options.get("persistence") == "unlogged"
    if want != has:
        problems.append(("table_option", f"the table is {'UNLOGGED' if has else 'logged'},"
                         f" the model says {'UNLOGGED' if want else 'logged'}"))
    return problems + _postgres_options(table, live)


@_table_options(MYSQL)
def _mysql_options(table: sa.Table, live: LiveTable) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    kw = {k.split("_", 1)[1].replace(" ", "_"): v for k, v in table.kwargs.items()
          if k.startswith(("mysql_", "mariadb_"))}
    engine = kw.get("engine")
    if engine and live.options.get("engine", "").lower() != str(engine).lower():
        problems.append(("table_option", f"engine {live.options.get('engine')}, the model says"
                         f" {engine}"))
    collation = live.options.get("collation", "")
    charset = kw.get("charset") or kw.get("default_charset")
    if charset and collation and _alias(_charset(collation)) != _alias(str(charset)):
        problems.append(("table_option", f"default charset {_charset(collation)}, the model"
                         f" says {charset}"))
    collate = kw.get("collate")
    if collate and collation and collation.lower() != str(collate).lower():
        problems.append(("table_option", f"collation {collation}, the model says {collate}"))
    return problems
