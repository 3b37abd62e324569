"""Will these columns work on that engine? Answered by SQLAlchemy's own compilers, no database.

Two questions, asked before anything starts (by the deployer) and by ``dkenv check``:

* `uncompilable_columns` — column types the engine's dialect cannot render (ARRAY, JSONB,
  TSVECTOR, INET… off PostgreSQL; SET, TINYINT off MySQL; ``String()`` without a length on
  MySQL). SQLAlchemy's own error ("Compiler <…TypeCompiler object at 0x7f…> can't render element
  of type ARRAY") names neither the column nor a fix; these findings name both.
* `client_side_sql_defaults` — ``Column(default=text("now()"))``: a *client-side* SQL default
  that SQLAlchemy pastes into every INSERT, so the first INSERT fails on an engine without that
  SQL (SQLite has no ``now()``). ``default=func.now()`` is the portable spelling: SQLAlchemy
  renders it per engine.

Both return `ColumnIssue` objects in table/column order, so messages never depend on hashing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import types as sqltypes
from sqlalchemy.exc import CompileError, UnsupportedCompilationError
from sqlalchemy.sql.elements import ClauseElement, TextClause

from dkenv.engines.defaults import classify
from dkenv.engines.registry import DIALECT_NAMES, LABELS, engine_name, offline_dialect

if TYPE_CHECKING:
    from sqlalchemy import Column, Table
    from sqlalchemy.types import TypeEngine


#: Portable spellings for engine-only types, by type name; ``{pg}`` is the original type.
_PORTABLE: dict[str, str] = {
    "ARRAY": 'sa.JSON().with_variant({pg}, "postgresql") (a JSON list elsewhere), or a child table',
    "JSONB": 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")',
    "JSON": "sa.JSON",
    "TSVECTOR": 'sa.Text().with_variant(postgresql.TSVECTOR(), "postgresql")',
    "INET": 'sa.String(45).with_variant(postgresql.INET(), "postgresql") (or sa.Text)',
    "CIDR": 'sa.String(49).with_variant(postgresql.CIDR(), "postgresql") (or sa.Text)',
    "MACADDR": 'sa.String(17).with_variant(postgresql.MACADDR(), "postgresql")',
    "INTERVAL": "sa.Interval (annotate the field as datetime.timedelta)",
    "HSTORE": 'sa.JSON().with_variant(postgresql.HSTORE(), "postgresql")',
    "MONEY": "sa.Numeric(19, 4)",
    "CITEXT": "sa.String(n) and compare with lower()",
    "BYTEA": "sa.LargeBinary",
    "TSQUERY": "sa.Text",
    "SET": 'sa.JSON().with_variant(mysql.SET(...), "mysql")',
    "TINYINT": "sa.SmallInteger",
    "MEDIUMINT": "sa.Integer",
    "YEAR": "sa.SmallInteger",
    "MEDIUMTEXT": "sa.Text",
    "LONGTEXT": "sa.Text",
    "TINYTEXT": "sa.String(255)",
    "MEDIUMBLOB": "sa.LargeBinary",
    "LONGBLOB": "sa.LargeBinary",
    "VARCHAR": "sa.String(255) with the real maximum (Field(max_length=255)), or sa.Text",
}

#: Functions only some engines have (name -> engines that have it), for client-side defaults.
_FUNCTIONS: dict[str, frozenset[str]] = {
    "now": frozenset({"postgres", "mysql"}),
    "gen_random_uuid": frozenset({"postgres"}),
    "uuid_generate_v1": frozenset({"postgres"}),
    "uuid_generate_v4": frozenset({"postgres"}),
    "nextval": frozenset({"postgres"}),
    "clock_timestamp": frozenset({"postgres"}),
    "transaction_timestamp": frozenset({"postgres"}),
    "statement_timestamp": frozenset({"postgres"}),
    "timezone": frozenset({"postgres"}),
    "date_trunc": frozenset({"postgres"}),
    "uuid": frozenset({"mysql"}),
    "curdate": frozenset({"mysql"}),
    "curtime": frozenset({"mysql"}),
    "utc_timestamp": frozenset({"mysql"}),
    "sysdate": frozenset({"mysql"}),
    "rand": frozenset({"mysql"}),
    "datetime": frozenset({"sqlite"}),
    "strftime": frozenset({"sqlite"}),
    "julianday": frozenset({"sqlite"}),
    "randomblob": frozenset({"sqlite"}),
    "random": frozenset({"postgres", "sqlite"}),
    "getdate": frozenset(),
}
_CALL = re.compile(r"\b([a-z_][a-z0-9_]*)\s*\(", re.IGNORECASE)
_GENERIC_MODULES = ("sqlalchemy.sql.sqltypes", "sqlmodel.sql.sqltypes")


@dataclass(frozen=True)
class ColumnIssue:
    """One column that will not work on one engine, and the portable spelling.

    ``table`` is the schema-qualified name as the model declares it; ``type`` is the column's
    type as the user wrote it (``ARRAY(INTEGER)``) or the offending SQL for a default.
    """

    table: str
    column: str
    engine: str
    type: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.table}.{self.column}: {self.message}; use {self.fix}"


def compile_type(type_: TypeEngine, engine: str) -> str | Exception:
    """The type as CREATE TABLE spells it on ``engine``, or the compiler's exception.

    Generic SQLAlchemy/SQLModel types compile everywhere (except ``String()`` without a length
    on MySQL) and return ``""`` without asking the dialect: compiling costs more than a check.
    """
    if _always_compiles(type_, engine):
        return ""
    try:
        return type_.compile(dialect=offline_dialect(engine))
    except (CompileError, UnsupportedCompilationError, TypeError, AttributeError) as exc:
        return exc


def uncompilable_columns(tables: Iterable[Table], engine: Any) -> list[ColumnIssue]:
    """Columns whose type ``engine``'s dialect cannot render, each with the portable spelling.

    ``engine``: ``"sqlite"``/``"postgres"``/``"mysql"``, an `Engine`, or a dialect (name).
    """
    name = engine_name(engine)
    issues = []
    for table in tables:
        for column in table.columns:
            compiled = compile_type(column.type, name)
            if isinstance(compiled, Exception):
                issues.append(type_issue(table, column, name, compiled))
    return issues


def require_compilable(tables: Iterable[Table], engine: Any, *, shown: int = 5) -> None:
    """Raise `DeployError` (exit 1) naming every column ``engine`` cannot create, with fixes.

    For the deployer, before any container starts or connection opens: one line per column
    (the first ``shown`` of them), the engine, and the portable spelling.
    """
    from dkenv.errors import DeployError

    issues = uncompilable_columns(tables, engine)
    if not issues:
        return
    label = LABELS[engine_name(engine)]
    if len(issues) == 1:
        raise DeployError(str(issues[0]), "`dkenv check` lists every column that keeps a "
                          "datakit off an engine")
    lines = [str(issue) for issue in issues[:shown]]
    more = f"\n  … and {len(issues) - shown} more" if len(issues) > shown else ""
    raise DeployError(f"{len(issues)} columns cannot be created on {label}:\n  "
                      + "\n  ".join(lines) + more,
                      "`dkenv check` lists every column that keeps a datakit off an engine")


def client_side_sql_defaults(tables: Iterable[Table], engine: Any) -> list[ColumnIssue]:
    """``Column(default=<SQL>)`` defaults that ``engine`` cannot evaluate, with the portable fix.

    SQLAlchemy writes a client-side SQL default into every INSERT as it is (``text()``) or as
    the dialect renders it (``func.*``), so CREATE TABLE succeeds and the first INSERT fails.
    """
    name = engine_name(engine)
    issues = []
    for table in tables:
        for column in table.columns:
            default = column.default
            if default is None or not getattr(default, "is_clause_element", False):
                continue
            sql = _render(default.arg, name)
            if sql is None:
                continue
            why = _why_invalid(sql, name)
            if why:
                issues.append(ColumnIssue(
                    table.fullname, column.name, name, sql,
                    f"client-side default {sql} is written into every INSERT and {why} on "
                    f"{LABELS[name]}: the first INSERT fails",
                    _default_fix(sql, column),
                ))
    return issues


def type_label(type_: TypeEngine) -> str:
    """``ARRAY(INTEGER)``, ``JSONB``, ``INET``: the type as a user recognises it."""
    name = type(type_).__name__
    label = name.upper() if name.isupper() or len(name) <= 5 else name
    item = getattr(type_, "item_type", None)
    if label.upper() == "ARRAY" and item is not None:
        return f"ARRAY({type_label(item)})"
    return label


# ---------------------------------------------------------------------------
def type_issue(table: Table, column: Column, engine: str, error: Exception) -> ColumnIssue:
    """The issue for a column whose type failed to compile with ``error`` (see `compile_type`)."""
    real = _unwrap(column.type, engine)
    label = type_label(real)
    base = label.split("(")[0].upper()
    if isinstance(error, CompileError) and not isinstance(error, UnsupportedCompilationError):
        reason = str(error).splitlines()[0]  # "VARCHAR requires a length on dialect mysql"
        base = "VARCHAR" if "VARCHAR" in reason else base
    else:
        reason = f"{LABELS[engine]} has no {label} type"
    fix = _PORTABLE.get(base, f'a generic SQLAlchemy type, with .with_variant({label}(), '
                              f'"<its dialect>") to keep {label} where it exists')
    if "{pg}" in fix:
        fix = fix.format(pg=f"postgresql.{_repr_pg(real)}")
    return ColumnIssue(table.fullname, column.name, engine, label,
                       f"{reason}: CREATE TABLE cannot be compiled for {LABELS[engine]}", fix)


def _repr_pg(type_: TypeEngine) -> str:
    item = getattr(type_, "item_type", None)
    if item is None:
        return f"{type(type_).__name__}()"
    return f"ARRAY(sa.{item!r})"


def _unwrap(type_: TypeEngine, engine: str) -> TypeEngine:
    """The type the dialect really renders: variants and decorators peeled off."""
    dialect = offline_dialect(engine)
    current = type_
    for _ in range(8):
        mapping = getattr(current, "_variant_mapping", None)
        if mapping:
            current = mapping.get(DIALECT_NAMES[engine], current)
        if not isinstance(current, sqltypes.TypeDecorator) or isinstance(current, sqltypes.Interval):
            break
        current = current.load_dialect_impl(dialect)
    return current


def _always_compiles(type_: TypeEngine, engine: str) -> bool:
    if getattr(type_, "_variant_mapping", None):
        return False
    if type(type_).__module__ not in _GENERIC_MODULES or isinstance(type_, sqltypes.ARRAY):
        return False
    if engine == "mysql" and isinstance(type_, sqltypes.String) and not isinstance(
        type_, (sqltypes.Text, sqltypes.Enum)
    ):
        return type(type_).__name__ == "AutoString" or type_.length is not None
    return True


def _render(arg: Any, engine: str) -> str | None:
    if isinstance(arg, TextClause):
        return arg.text
    if isinstance(arg, ClauseElement):
        try:
            return str(arg.compile(dialect=offline_dialect(engine),
                                   compile_kwargs={"literal_binds": True}))
        except Exception:  # noqa: BLE001 - not renderable: the INSERT will say why
            return None
    return None


def _why_invalid(sql: str, engine: str) -> str | None:
    """Why ``sql`` fails on ``engine`` (None when it is fine there)."""
    if engine != "postgres" and _has_cast(sql):
        return "PostgreSQL's ::type cast is a syntax error"
    for name in _CALL.findall(sql):
        have = _FUNCTIONS.get(name.lower())
        if have is not None and engine not in have:
            return f"{name}() does not exist"
    return None


def _has_cast(sql: str) -> bool:
    quoted = False
    for i, char in enumerate(sql):
        if char == "'":
            quoted = not quoted
        elif not quoted and sql[i:i + 2] == "::":
            return True
    return False


def _default_fix(sql: str, column: Column) -> str:
    if "uuid" in sql.lower():
        return "default=uuid.uuid4 (Python computes it, the same on every engine)"
    kind, literal = classify(sql, column)
    if kind == "timestamp":
        return "default=func.now() (SQLAlchemy renders it per engine: CURRENT_TIMESTAMP on SQLite)"
    if kind == "date":
        return "default=func.current_date() (rendered per engine)"
    if kind == "time":
        return "default=func.current_time() (rendered per engine)"
    if kind == "literal":
        return f"default={literal} as a plain Python value"
    return "a Python value or callable (default=... / default_factory=...)"
