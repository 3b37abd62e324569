"""Shared state and type helpers for the static traps.

Each trap module gets one `CheckContext`: the tables under check, the engines asked for,
the names of tables that other listed datakits define, and the list findings go to. The type
helpers answer "what will this column be on engine X" without a database, by asking the
engine's SQLAlchemy dialect, exactly as CREATE TABLE would.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Column, Table
from sqlalchemy import types as sqltypes

from dkenv.check.findings import ENGINES, Finding
from dkenv.engines.compat import compile_type
from dkenv.engines.registry import DIALECT_NAMES, offline_dialect


@dataclass
class CheckContext:
    """Everything a trap needs, plus the list it appends findings to."""

    tables: Sequence[Table]
    engines: tuple[str, ...] = ENGINES
    known_tables: frozenset[str] = frozenset()
    findings: list[Finding] = field(default_factory=list)
    _compiled: dict[tuple[int, str], str | Exception] = field(default_factory=dict)
    _effective: dict[tuple[int, str], sqltypes.TypeEngine] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.defined: frozenset[str] = frozenset(t.fullname for t in self.tables)

    def add(
        self,
        table: Table | str,
        column: str | None,
        engine: str,
        severity: str,
        code: str,
        message: str,
        fix: str,
    ) -> None:
        """Record one finding (only for engines the user asked about)."""
        if engine not in self.engines:
            return
        name = table if isinstance(table, str) else table.fullname
        self.findings.append(Finding(name, column, engine, severity, code, message, fix))

    def effective(self, type_: sqltypes.TypeEngine, engine: str) -> sqltypes.TypeEngine:
        """`effective_type`, cached: every trap asks it for every column and engine."""
        key = (id(type_), engine)
        cached = self._effective.get(key)
        if cached is None:
            cached = self._effective[key] = effective_type(type_, engine)
        return cached

    def compiled_type(self, column: Column, engine: str) -> str | Exception:
        """The column's type as CREATE TABLE would spell it on ``engine``, or the compile error.

        Cached per column, because several traps ask the same question; the answer is the
        engine layer's (`dkenv.engines.compat.compile_type`), which the deployer also uses.
        """
        key = (id(column), engine)
        cached = self._compiled.get(key)
        if cached is None:
            cached = self._compiled[key] = compile_type(column.type, engine)
        return cached


def variant_for(type_: sqltypes.TypeEngine, engine: str) -> sqltypes.TypeEngine:
    """The type a column really gets on ``engine``, honouring ``with_variant``."""
    mapping = getattr(type_, "_variant_mapping", None)
    if mapping:
        return mapping.get(DIALECT_NAMES[engine], type_)
    return type_


def effective_type(type_: sqltypes.TypeEngine, engine: str) -> sqltypes.TypeEngine:
    """Unwrap variants and ``TypeDecorator`` layers down to the type the dialect renders.

    ``Interval`` is a TypeDecorator in SQLAlchemy but a type of its own to users, so it stays.
    SQLModel's ``AutoString`` resolves to ``VARCHAR(255)`` on MySQL and stays unbounded elsewhere.
    """
    dialect = offline_dialect(engine)
    current = variant_for(type_, engine)
    for _ in range(8):  # decorators rarely nest; the bound only guards against cycles
        if not isinstance(current, sqltypes.TypeDecorator) or isinstance(
            current, sqltypes.Interval
        ):
            break
        current = variant_for(current.load_dialect_impl(dialect), engine)
    return current


def is_sqlmodel_autostring(type_: sqltypes.TypeEngine) -> bool:
    """True for SQLModel's ``str`` column type (without importing SQLModel)."""
    return type(type_).__name__ == "AutoString"


def is_utc_datetime(type_: sqltypes.TypeEngine) -> bool:
    """SQLModel >= 0.0.50 maps ``datetime`` to a UTC-normalising decorator: portable by design."""
    return type(type_).__name__ == "UTCDateTime"


def is_text_like(type_: sqltypes.TypeEngine) -> bool:
    """Column types MySQL stores off-row (TEXT/BLOB/JSON): no key without a prefix, no default."""
    if isinstance(type_, sqltypes.Enum):
        return False
    if isinstance(type_, (sqltypes.Text, sqltypes.LargeBinary, sqltypes.JSON)):
        return True
    if isinstance(type_, sqltypes.String) and type_.length is None and not is_sqlmodel_autostring(
        type_
    ):
        # a bare String() is an error on MySQL anyway; not also a TEXT problem
        return False
    name = type(type_).__name__.upper()
    return name.endswith(("TEXT", "BLOB"))


def type_label(type_: sqltypes.TypeEngine) -> str:
    """A short name for a type in messages (``JSONB``, ``ARRAY``, ``INET``)."""
    name = type(type_).__name__
    return name.upper() if name.isupper() or len(name) <= 5 else name
