"""Server defaults written in one engine's SQL.

A default is compiled for each engine exactly as CREATE TABLE would render it, then classified:

* natively accepted by the engine → no finding;
* rewritten by ``dkenv deploy`` (the timestamp family → ``CURRENT_TIMESTAMP``, ``current_date``
  and ``('now'::text)::date`` → ``CURRENT_DATE``, ``'literal'::type`` → ``'literal'``; the rule
  is the engine layer's `Engine.rewrite_server_default`) → warning,
  because other tools (``metadata.create_all``, Alembic) deploy it as written and fail;
* a function or syntax the engine lacks, that nothing rewrites → error.

SQLite is the subtle one: it accepts ``DEFAULT (now())`` in CREATE TABLE and only fails on the
first INSERT that uses the default — which is why the smoke rows exist.
"""

from __future__ import annotations

import re

from sqlalchemy import Column, Table
from sqlalchemy import types as sqltypes
from sqlalchemy.schema import DefaultClause
from sqlalchemy.sql.elements import ClauseElement, False_, TextClause, True_
from sqlalchemy.sql.functions import FunctionElement

from dkenv.check.context import CheckContext, is_text_like
from dkenv.check.findings import ERROR, WARNING, engines_label
from dkenv.engines import get_engine
from dkenv.engines.compat import client_side_sql_defaults
from dkenv.engines.defaults import is_infinity
from dkenv.engines.registry import LABELS, offline_dialect

TIMESTAMP_FIX = 'sa_column_kwargs={"server_default": sa.text("CURRENT_TIMESTAMP")}'
DATE_FIX = 'sa_column_kwargs={"server_default": sa.text("(CURRENT_DATE)")}'
CLIENT_UUID_FIX = "Field(default_factory=uuid.uuid4) (generated in Python, same on every engine)"

_FUNCTION_CALL = re.compile(r"\b([a-z_][a-z0-9_]*)\s*\(")

#: Defaults the deployer rewrites although the engine accepts them as written (normalised):
#: no finding for these.
_NATIVE: dict[str, frozenset[str]] = {
    "postgres": frozenset(),
    "mysql": frozenset(
        {"now()", "current_timestamp", "current_timestamp()", "localtimestamp",
         "localtimestamp()", "utc_timestamp()", "sysdate()", "true", "false"}
    ),
    "sqlite": frozenset({"current_timestamp", "current_date", "current_time", "true", "false"}),
}

#: Functions that only some engines have, with the portable fix. Engines not listed lack it.
_FUNCTIONS: dict[str, tuple[frozenset[str], str]] = {
    "gen_random_uuid": (frozenset({"postgres"}), CLIENT_UUID_FIX),
    "uuid_generate_v1": (frozenset(), CLIENT_UUID_FIX),
    "uuid_generate_v4": (frozenset(), CLIENT_UUID_FIX),
    "uuid": (frozenset({"mysql"}), CLIENT_UUID_FIX),
    "uuid_to_bin": (frozenset({"mysql"}), CLIENT_UUID_FIX),
    "randomblob": (frozenset({"sqlite"}), CLIENT_UUID_FIX),
    "nextval": (frozenset({"postgres"}), "primary_key=True on an int field (autoincrement everywhere)"),
    "clock_timestamp": (frozenset({"postgres"}), TIMESTAMP_FIX),
    "timezone": (frozenset({"postgres"}), TIMESTAMP_FIX),
    "date_trunc": (frozenset({"postgres"}), TIMESTAMP_FIX),
    "curdate": (frozenset({"mysql"}), DATE_FIX),
    "utc_timestamp": (frozenset({"mysql"}), TIMESTAMP_FIX),
    "sysdate": (frozenset({"mysql"}), TIMESTAMP_FIX),
    "getdate": (frozenset(), TIMESTAMP_FIX),
    "datetime": (frozenset({"sqlite"}), TIMESTAMP_FIX),
    "strftime": (frozenset({"sqlite"}), TIMESTAMP_FIX),
    "julianday": (frozenset({"sqlite"}), TIMESTAMP_FIX),
    "random": (frozenset({"postgres", "sqlite"}), "Field(default_factory=...) (computed in Python)"),
    "rand": (frozenset({"mysql"}), "Field(default_factory=...) (computed in Python)"),
    "json_build_object": (frozenset({"postgres"}), "Field(default_factory=dict) with sa_type=sa.JSON"),
    "jsonb_build_object": (frozenset({"postgres"}), "Field(default_factory=dict) with sa_type=sa.JSON"),
    "json_object": (frozenset({"mysql", "sqlite"}), "Field(default_factory=dict) with sa_type=sa.JSON"),
}

_FUNCTION_NOTES: dict[str, str] = {
    "uuid_generate_v1": "needs the uuid-ossp extension, which a fresh PostgreSQL database lacks",
    "uuid_generate_v4": "needs the uuid-ossp extension, which a fresh PostgreSQL database lacks",
}

_BOOLEAN_TEXT = frozenset({"true", "false", "t", "f", "yes", "no", "on", "off", "y", "n"})
_NOW_TEXT = frozenset({"now", "now()", "current_timestamp", "current_timestamp()", "today"})


def normalize_default(sql: str) -> str:
    """Lower-case, single-spaced, without one pair of outer parentheses."""
    text = " ".join(sql.strip().split()).lower()
    if text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return text


def check_defaults(ctx: CheckContext, table: Table) -> None:
    """Classify every column's server default on every requested engine."""
    for column in table.columns:
        default = column.server_default
        if not isinstance(default, DefaultClause):
            continue  # Computed, Identity, FetchedValue: not a DEFAULT clause
        arg = default.arg
        if isinstance(arg, str):
            _check_literal(ctx, table, column, arg)
            continue
        for engine in ctx.engines:
            sql = _render(arg, engine)
            if sql is not None:
                _check_expression(ctx, table, column, engine, sql)


_RENDERED: dict[tuple[type, str, str], str | None] = {}


def _render(arg: object, engine: str) -> str | None:
    """The default's SQL as the engine's dialect renders it (functions get dialect spellings).

    Argument-less functions and true()/false() render the same for every column, so their
    SQL is cached per engine: compiling a clause costs more than checking a whole column.
    """
    if isinstance(arg, TextClause):
        return arg.text
    if isinstance(arg, (False_, True_)) or (
        isinstance(arg, FunctionElement) and len(arg.clauses) == 0
    ):
        key = (type(arg), str(getattr(arg, "name", "")), engine)
        if key not in _RENDERED:
            _RENDERED[key] = _compile(arg, engine)
        return _RENDERED[key]
    return _compile(arg, engine)


def _compile(arg: object, engine: str) -> str | None:
    if isinstance(arg, ClauseElement):
        try:
            return str(
                arg.compile(dialect=offline_dialect(engine), compile_kwargs={"literal_binds": True})
            )
        except Exception:  # noqa: BLE001 - an uncompilable default is reported by the deploy
            return None
    return None


def check_client_defaults(ctx: CheckContext, table: Table) -> None:
    """``Column(default=text("now()"))``: SQL pasted into every INSERT, invalid on an engine."""
    if not any(getattr(c.default, "is_clause_element", False) for c in table.columns):
        return
    for engine in ctx.engines:
        for issue in client_side_sql_defaults([table], engine):
            ctx.add(table, issue.column, engine, ERROR, "client-default", issue.message, issue.fix)


def _check_literal(ctx: CheckContext, table: Table, column: Column, value: str) -> None:
    """A plain string default is quoted as a literal: portable unless the column disagrees."""
    lowered = value.strip().lower()
    for engine in ctx.engines:
        real = ctx.effective(column.type, engine)
        rules = get_engine(engine)
        carried = rules.check_literal_default(column, value)
        if carried.error:
            ctx.add(table, column.name, engine, ERROR, "engine-default",
                    f"DEFAULT {value!r}: {carried.error}", carried.fix or "")
        elif is_infinity(value) and rules.dynamic_typing and isinstance(
            real, (sqltypes.DateTime, sqltypes.Date)
        ):
            ctx.add(table, column.name, engine, WARNING, "engine-default",
                    f"SQLite stores DEFAULT {value!r} as text, which SQLAlchemy cannot read back "
                    "as a date/time", get_engine("mysql").infinity_default(column, value).fix or "")
        elif rules.rejects_text_literal_default and is_text_like(real):
            ctx.add(
                table, column.name, engine, ERROR, "engine-default",
                f"MySQL 8 rejects a literal DEFAULT on a TEXT/BLOB/JSON column ({value!r}); "
                "MariaDB accepts it",
                "Field(default=...) (set in Python), or a VARCHAR: Field(max_length=...)",
            )
        elif isinstance(real, sqltypes.Boolean) and lowered in _BOOLEAN_TEXT:
            if rules.tinyint_is_boolean:
                ctx.add(
                    table, column.name, engine, ERROR, "engine-default",
                    f"MySQL stores booleans as TINYINT and rejects DEFAULT '{value}'",
                    "server_default=sa.false() (or sa.true()): false/0 per engine",
                )
            elif rules.dynamic_typing:
                ctx.add(
                    table, column.name, engine, WARNING, "engine-default",
                    f"SQLite stores the text '{value}' in a BOOLEAN column, which reads back "
                    "as True whatever it says",
                    "server_default=sa.false() (or sa.true()): false/0 per engine",
                )
        elif lowered in _NOW_TEXT and isinstance(real, (sqltypes.DateTime, sqltypes.Date)):
            severity, why = {
                "postgres": (WARNING, "PostgreSQL evaluates the literal once, at CREATE TABLE: "
                             "every row gets the deploy time"),
                "mysql": (ERROR, "MySQL rejects it as an invalid default value"),
                "sqlite": (WARNING, "SQLite stores the text itself, not a time"),
            }[engine]
            ctx.add(
                table, column.name, engine, severity, "engine-default",
                f"server_default={value!r} is a quoted string, not a function call: {why}",
                DATE_FIX if _is_date(real) else TIMESTAMP_FIX,
            )


def _check_expression(
    ctx: CheckContext, table: Table, column: Column, engine: str, sql: str
) -> None:
    """A SQL expression default (``text(...)`` or ``func.*``) rendered for one engine."""
    norm = normalize_default(sql)
    label = LABELS[engine]
    real = ctx.effective(column.type, engine)
    rules = get_engine(engine)

    if not rules.defaults_as_written:
        rewritten, error, fix = deployer_rewrite(engine, column, sql)
        if error and _report_function(ctx, table, column, engine, sql, norm):
            return
        if error:
            ctx.add(
                table, column.name, engine, ERROR, "engine-default",
                f"DEFAULT {sql} cannot be carried to {label}: {error}",
                fix or CLIENT_UUID_FIX,
            )
            return
        if normalize_default(rewritten) != norm:
            if norm not in _NATIVE[engine]:
                how = (
                    "SQLite accepts it in CREATE TABLE but fails on the first INSERT"
                    if rules.resolves_default_functions_late and "(" in norm
                    else f"{label} rejects it"
                )
                ctx.add(
                    table, column.name, engine, WARNING, "engine-default",
                    f"DEFAULT {sql} is not {label} SQL ({how}); dkenv deploy rewrites it to "
                    f"{rewritten}, other tools (create_all, Alembic) do not",
                    _portable_fix(rewritten),
                )
            return

    if "::" in norm:
        if not rules.has_double_colon_casts:
            ctx.add(
                table, column.name, engine, ERROR, "engine-default",
                f"DEFAULT {sql} uses PostgreSQL's ::type cast, a syntax error on {label} that "
                "dkenv does not rewrite",
                _cast_fix(real),
            )
        return

    if isinstance(real, sqltypes.Boolean) and rules.strict_boolean and norm in {"0", "1"}:
        ctx.add(
            table, column.name, engine, ERROR, "engine-default",
            f"PostgreSQL rejects DEFAULT {norm} on a BOOLEAN column (integer is not boolean)",
            f"server_default=sa.{'true' if norm == '1' else 'false'}(): true/1 per engine",
        )
        return

    if rules.rejects_text_literal_default and is_text_like(real) and not sql.strip().startswith("("):
        ctx.add(
            table, column.name, engine, ERROR, "engine-default",
            f"MySQL 8 rejects DEFAULT {sql} on a TEXT/BLOB/JSON column (only (expression) "
            "defaults are allowed there; MariaDB accepts it)",
            "Field(default=...) or Field(default_factory=...) (set in Python)",
        )
        return

    _report_function(ctx, table, column, engine, sql, norm)


def _report_function(
    ctx: CheckContext, table: Table, column: Column, engine: str, sql: str, norm: str
) -> bool:
    """Report the first function in the default that ``engine`` lacks; True if one was."""
    for name in _FUNCTION_CALL.findall(norm):
        known = _FUNCTIONS.get(name)
        if known is None or engine in known[0]:
            continue
        have = [e for e in ("postgres", "mysql", "sqlite") if e in known[0]]
        where = f"a {engines_label(have)} function" if have else "not built in anywhere"
        note = _FUNCTION_NOTES.get(name) if get_engine(engine).has_extensions else None
        when = {
            "sqlite": "SQLite accepts it in CREATE TABLE and fails on the first INSERT",
            "mysql": "CREATE TABLE fails on MySQL",
            "postgres": note or "CREATE TABLE fails on PostgreSQL",
        }[engine]
        ctx.add(
            table, column.name, engine, ERROR, "engine-default",
            f"DEFAULT {sql}: {name}() is {where}; {when}",
            known[1],
        )
        return True
    return False


def deployer_rewrite(engine: str, column: Column, sql: str) -> tuple[str, str | None, str | None]:
    """What ``dkenv deploy`` does with this default on ``engine``: (sql, error, fix).

    Asks the deployer's own engine object, so "dkenv rewrites it" is never a guess.
    """
    result = get_engine(engine).rewrite_server_default(column, sql)
    if result.error:
        return sql, result.error, result.fix
    return result.sql if result.sql is not None else sql, None, None


def _is_date(type_: sqltypes.TypeEngine) -> bool:
    return isinstance(type_, sqltypes.Date) and not isinstance(type_, sqltypes.DateTime)


def _cast_fix(real: sqltypes.TypeEngine) -> str:
    """The portable spelling for a cast default nothing carries, by the column's type.

    Never a made-up literal: a DATE or TIMESTAMP column gets the engine-neutral function.
    """
    if _is_date(real):
        return DATE_FIX
    if isinstance(real, sqltypes.DateTime):
        return TIMESTAMP_FIX
    return ("the same value without the ::cast (a plain literal server_default), or compute it "
            "in Python with Field(default=...)")


def _portable_fix(rewritten: str) -> str:
    norm = normalize_default(rewritten)
    if norm == "current_timestamp":
        return TIMESTAMP_FIX
    if norm == "current_date":
        return DATE_FIX
    if norm.startswith("'"):
        return f"server_default={rewritten} (a plain string default, no cast)"
    return f'sa_column_kwargs={{"server_default": sa.text("{rewritten}")}}'


def _balanced(text: str) -> bool:
    """True when the parentheses in ``text`` never close more than they opened."""
    depth = 0
    for char in text:
        depth += char == "("
        depth -= char == ")"
        if depth < 0:
            return False
    return depth == 0
