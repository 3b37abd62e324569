"""What one table's comparison needs, passed to every aspect (`columns`, `keys`, `indexes`,
`checks`): the model table, its live counterpart, the dialect, how to report a difference, and
the names `create_all` gives constraints (compared only under a naming convention)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.schema import DEFAULT_NAMING_CONVENTION

from dkenv.engines import Engine
from dkenv.validate.live import LiveTable, fold
from dkenv.validate.normalize import engine_rewrites


@dataclass
class TableContext:
    """Everything one table's comparison needs."""

    table: sa.Table
    live: LiveTable
    sa_dialect: sa.engine.Dialect
    dialect: str  # "sqlite", "postgresql", "mysql", or another dialect's name
    schema: str  # folded effective schema
    effective: Callable[[str | None], str]
    ddl: Any  # the dialect's DDL compiler
    report: Callable[[str, str], None]
    rules: Engine  # what this engine keeps and how (dkenv.engines; not a SQLAlchemy Engine)
    missing: set[str] = field(default_factory=set)  # folded columns reported missing

    @property
    def rewrites(self) -> Any:
        """What this engine rewrites in the fragments it stores (`normalize`)."""
        return engine_rewrites(self.dialect, self.schema)

    @property
    def named(self) -> bool:
        convention = self.table.metadata.naming_convention if self.table.metadata else None
        return bool(convention) and dict(convention) != dict(DEFAULT_NAMING_CONVENTION)

    def cols(self, columns: Iterable[Any]) -> frozenset[str]:
        return frozenset(fold(self.dialect, c.name) for c in columns)

    def name_of(self, item: Any) -> str | None:
        """The name `create_all` gives `item` on this dialect (conventions, truncation)."""
        if item.name is None:
            return None
        try:
            name = self.sa_dialect.identifier_preparer.format_constraint(
                item, _alembic_quote=False
            )
        except Exception:
            name = str(item.name)
        return fold(self.dialect, str(name)) if name else None

    def check_name(self, item: Any, live_name: str | None, what: str) -> None:
        if not self.named or live_name is None or live_name.startswith("sqlite_autoindex"):
            return
        if live_name == self.rules.fixed_primary_key_name:
            return
        want = self.name_of(item)
        if want and want != fold(self.dialect, live_name):
            self.report("name", f'{what} is named "{live_name}", the naming convention says "{want}"')
