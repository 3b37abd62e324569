"""Column-type traps: strings, numerics, datetimes and types that one engine lacks.

Each check looks at one column and asks the engine's dialect what CREATE TABLE would say, so
the findings match what the live deploy does.
"""

from __future__ import annotations

from sqlalchemy import Column, Table
from sqlalchemy import types as sqltypes
from sqlalchemy.dialects import mysql as mysql_types
from sqlalchemy.dialects import postgresql as pg_types

from dkenv.check.context import (
    CheckContext,
    effective_type,
    is_sqlmodel_autostring,
    is_text_like,
    is_utc_datetime,
    type_label,
    variant_for,
)
from dkenv.check.findings import ERROR, WARNING
from dkenv.engines import get_engine
from dkenv.engines.compat import type_issue
from dkenv.engines.mysql import MYSQL
from dkenv.engines.registry import LABELS

#: Significant digits a 64-bit float (SQLite's storage for NUMERIC) keeps exactly.
FLOAT_DIGITS = 15

#: MySQL: a row's in-line columns may not exceed this many bytes.
MYSQL_MAX_ROW_BYTES = MYSQL.max_row_bytes
#: Bytes per character that MySQL reserves for utf8mb4 columns.
MYSQL_BYTES_PER_CHAR = 4

#: Portable replacements for PostgreSQL-only and MySQL-only types, by type class name.
TYPE_FIXES: dict[str, str] = {
    "ARRAY": "sa_type=sa.JSON (a JSON list), or a child table with one row per element",
    "JSONB": 'sa_type=sa.JSON().with_variant(JSONB(), "postgresql")',
    "INET": "Field(max_length=45) (IPv4/IPv6 text); keep INET with .with_variant(INET(), 'postgresql')",
    "CIDR": "Field(max_length=49); keep CIDR with .with_variant(CIDR(), 'postgresql')",
    "MACADDR": "Field(max_length=17)",
    "INTERVAL": "annotate the field as datetime.timedelta (sa.Interval)",
    "UUID": "annotate the field as uuid.UUID (sa.Uuid: native on PostgreSQL, CHAR(32) elsewhere)",
    "TSVECTOR": "compute search vectors in PostgreSQL only (.with_variant(TSVECTOR(), 'postgresql') on a Text column)",
    "HSTORE": "sa_type=sa.JSON",
    "MONEY": "Field(max_digits=19, decimal_places=4) (NUMERIC)",
    "CITEXT": "Field(max_length=...) and compare with lower()",
    "BYTEA": "annotate the field as bytes (sa.LargeBinary)",
    "SET": "sa_type=sa.JSON (a JSON list) or a child table",
    "TINYINT": "sa.SmallInteger",
    "MEDIUMINT": "sa.Integer",
    "MEDIUMTEXT": "sa.Text",
    "LONGTEXT": "sa.Text",
    "TINYTEXT": "Field(max_length=255)",
    "MEDIUMBLOB": "sa.LargeBinary",
    "LONGBLOB": "sa.LargeBinary",
    "YEAR": "sa.SmallInteger",
}


def check_columns(ctx: CheckContext, table: Table) -> None:
    """Run every column-type trap on every column of ``table``."""
    limits = {e: get_engine(e).max_row_bytes for e in ctx.engines}
    row_bytes = {e: 0 for e, limit in limits.items() if limit}
    for column in table.columns:
        for engine in ctx.engines:
            _check_type_support(ctx, table, column, engine)
        _check_strings(ctx, table, column)
        _check_numeric(ctx, table, column)
        _check_datetime(ctx, table, column)
        for engine in row_bytes:
            row_bytes[engine] += _mysql_inline_bytes(ctx.effective(column.type, engine))
    for engine, needed in row_bytes.items():
        if needed > (limits[engine] or 0):
            ctx.add(
                table,
                None,
                engine,
                ERROR,
                "row-size",
                f"{LABELS[engine]} rejects the table: its VARCHAR/CHAR columns need "
                f"{needed} bytes per row in utf8mb4, more than the {limits[engine]}-byte row limit",
                "give long free-text fields sa_type=sa.Text (stored off-row) or smaller max_length",
            )


def _check_type_support(ctx: CheckContext, table: Table, column: Column, engine: str) -> None:
    """Types that do not compile for an engine (error) or compile into something else (warning)."""
    label = LABELS[engine]
    rules = get_engine(engine)
    real = ctx.effective(column.type, engine)
    compiled = ctx.compiled_type(column, engine)
    if isinstance(compiled, Exception):
        if isinstance(real, sqltypes.String) and getattr(real, "length", 0) is None:
            return  # reported by the string trap, with a better fix
        issue = type_issue(table, column, engine, compiled)  # what the deployer says, too
        ctx.add(table, column.name, engine, ERROR, "type-support",
                f"{issue.message} ({table.fullname}.{column.name} is {issue.type})",
                f"sa_type={issue.fix}")
        return
    if rules.rejects_uuid_type and isinstance(real, sqltypes.UUID):
        ctx.add(
            table,
            column.name,
            engine,
            ERROR,
            "type-support",
            "MySQL has no UUID column type (only MariaDB 10.7+ does): CREATE TABLE fails on MySQL",
            TYPE_FIXES["UUID"],
        )
    elif rules.jsonb_as_json and isinstance(real, pg_types.JSONB):
        ctx.add(
            table,
            column.name,
            engine,
            WARNING,
            "type-support",
            "SQLite stores PostgreSQL's JSONB as plain JSON text: it deploys, but JSONB operators "
            "and GIN indexes do not exist there",
            TYPE_FIXES["JSONB"],
        )
    elif (
        not rules.native_interval
        and isinstance(real, sqltypes.Interval)
        and not isinstance(real, pg_types.INTERVAL)
    ):
        ctx.add(
            table,
            column.name,
            engine,
            WARNING,
            "type-support",
            f"{label} has no INTERVAL type: SQLAlchemy stores a timedelta as the DATETIME "
            "1970-01-01 + interval, so SQL outside SQLAlchemy sees a date, not a duration",
            "store seconds: annotate as float (or int) and convert with timedelta(seconds=...)",
        )


def _check_strings(ctx: CheckContext, table: Table, column: Column) -> None:
    """Strings without a length: unbounded on two engines, 255 or an error on MySQL."""
    declared = variant_for(column.type, "mysql")
    base = declared
    if isinstance(base, sqltypes.TypeDecorator) and not is_sqlmodel_autostring(base):
        base = effective_type(base, "mysql")
    if isinstance(base, (sqltypes.Enum, sqltypes.Text)) or not isinstance(
        base, sqltypes.String
    ) and not is_sqlmodel_autostring(base):
        return
    if is_sqlmodel_autostring(base):
        if getattr(base.impl, "length", None) is not None:
            return
        ctx.add(
            table,
            column.name,
            "mysql",
            WARNING,
            "unbounded-string",
            "str without max_length is unbounded VARCHAR on PostgreSQL and SQLite but "
            "VARCHAR(255) on MySQL: longer values are rejected (strict mode) or cut",
            "Field(max_length=255) with the real maximum, or sa_type=sa.Text for long free text",
        )
        return
    if base.length is None:
        ctx.add(
            table,
            column.name,
            "mysql",
            ERROR,
            "unbounded-string",
            f"{type_label(base)}() without a length does not compile for MySQL "
            "(VARCHAR requires a length): CREATE TABLE fails",
            "String(255) with the real maximum (Field(max_length=255)), or sa.Text for long text",
        )


def _check_numeric(ctx: CheckContext, table: Table, column: Column) -> None:
    """NUMERIC without scale rounds on PostgreSQL/MySQL; SQLite keeps it as a float."""
    for engine in ctx.engines:
        real = ctx.effective(column.type, engine)
        if not isinstance(real, sqltypes.Numeric) or isinstance(real, sqltypes.Float):
            continue
        precision, scale = real.precision, real.scale
        rules = get_engine(engine)
        if rules.bare_numeric_is_integer and precision is None:
            ctx.add(
                table,
                column.name,
                engine,
                WARNING,
                "numeric-precision",
                "Numeric without precision is DECIMAL(10,0) on MySQL: 12.34 is stored as 12 "
                "(and more than 10 digits are rejected), while PostgreSQL keeps every digit",
                "Field(max_digits=12, decimal_places=2) (Numeric(12, 2)) with the real sizes",
            )
        elif rules.exact_numeric and precision is not None and scale is None:
            ctx.add(
                table,
                column.name,
                engine,
                WARNING,
                "numeric-precision",
                f"Numeric({precision}) without a scale is NUMERIC({precision},0) on "
                f"{LABELS[engine]}: fractions are rounded away (12.34 is stored as 12)",
                f"Field(max_digits={precision}, decimal_places=2) (Numeric({precision}, 2))",
            )
        elif not rules.exact_numeric and real.asdecimal and (
            precision is None or precision > FLOAT_DIGITS
        ):
            ctx.add(
                table,
                column.name,
                engine,
                WARNING,
                "numeric-sqlite",
                "SQLite stores NUMERIC as a 64-bit float: values beyond 15 significant digits "
                "come back changed, while PostgreSQL and MySQL store exact decimals",
                "Field(max_digits=15, decimal_places=2) at most, or store integer minor units (int)",
            )


def _check_datetime(ctx: CheckContext, table: Table, column: Column) -> None:
    """Time zones dropped by MySQL/SQLite; fractional seconds dropped by MySQL."""
    for engine in ctx.engines:
        declared = variant_for(column.type, engine)
        real = ctx.effective(column.type, engine)
        if not isinstance(real, (sqltypes.DateTime, sqltypes.Time)):
            continue
        kind = "TIME" if isinstance(real, sqltypes.Time) else "DATETIME"
        rules = get_engine(engine)
        if not rules.stores_timezone and real.timezone and not is_utc_datetime(declared):
            ctx.add(
                table,
                column.name,
                engine,
                WARNING,
                "tz-datetime",
                f"{LABELS[engine]} {kind} has no time zone: an aware value is stored as "
                "its wall-clock time and read back naive, so 10:00+02:00 becomes 10:00",
                "annotate as datetime (SQLModel stores UTC everywhere), or store UTC in "
                "sa.DateTime(timezone=False)",
            )
        if not rules.keeps_fractional_seconds and not getattr(real, "fsp", None):
            ctx.add(
                table,
                column.name,
                engine,
                WARNING,
                "datetime-precision",
                f"MySQL {kind} keeps whole seconds unless declared {kind}(6): "
                "microseconds are dropped, while PostgreSQL and SQLite keep them",
                'sa_type=sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql")'
                if kind == "DATETIME"
                else 'sa_type=sa.Time().with_variant(mysql.TIME(fsp=6), "mysql")',
            )


def _mysql_inline_bytes(type_: sqltypes.TypeEngine) -> int:
    """Bytes MySQL counts against the 65,535-byte row limit for one column (utf8mb4)."""
    if isinstance(type_, sqltypes.Enum) or is_text_like(type_):
        return 12 if is_text_like(type_) else 2
    if isinstance(type_, sqltypes.String):
        length = type_.length
        if length is None and is_sqlmodel_autostring(type_):
            length = 255
        return (length or 0) * MYSQL_BYTES_PER_CHAR + 2
    if isinstance(type_, (mysql_types.BIGINT, sqltypes.BigInteger, sqltypes.Float)):
        return 8
    return 4
