"""What a column's SQLAlchemy type can hold, checked on every value before anything is written.

Pydantic checks what the *field* says (``max_length``, ``max_digits``).  A column declared
only on the SQLAlchemy side — ``sa_column=Column(String(5))``, ``Numeric(6, 2)``,
``DateTime(timezone=True)`` — has limits pydantic never sees, and each engine treats a value
past them its own way: PostgreSQL and strict MySQL refuse it, SQLite stores it whole, and a
MySQL/MariaDB server with a lenient ``sql_mode`` silently cuts it to fit (``'toolongvalue'``
stored as ``'toolo'``).  These checks give every engine the same answer: a value that would
change is a bad row, ``file:line: table.column: …``, and nothing is loaded.

Timestamps: ``DateTime(timezone=True)`` keeps an instant, so every value needs an offset; it
is written in UTC (PostgreSQL keeps the instant, SQLite and MySQL the UTC wall clock: the
same on every engine).  ``DateTime()`` keeps a wall clock, so an offset other than UTC would
be dropped: a bad row; a UTC offset is removed.  Naive and aware values mixed in one column
are bad rows (which zone were the naive ones in?).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

#: A check: (value, where) -> (the value to write, or a problem).  Problems are str.
Check = Callable[[Any, str], tuple[Any, str | None]]

#: Integer ranges by SQLAlchemy's generic type (``__visit_name__``): PostgreSQL's and MySQL's
#: sizes, applied on SQLite too so a load means the same everywhere.
_INT_BITS = {"small_integer": 16, "integer": 32, "big_integer": 64}


def checks_for(table: Any, columns: list[str]) -> list[tuple[int, str, Check]]:
    """``(position, column, check)`` for each column of ``columns`` whose type has limits."""
    found: list[tuple[int, str, Check]] = []
    for i, name in enumerate(columns):
        check = _check_of(table.c[name].type)
        if check is not None:
            found.append((i, name, check))
    return found


def _check_of(kind: Any) -> Check | None:  # noqa: PLR0911 - one branch per family of types
    from sqlalchemy import Date, DateTime, Enum, Float, Integer, Numeric, String, Time

    if isinstance(kind, Enum):
        return None  # its labels are the model's to check
    if isinstance(kind, String):
        return _length(kind.length, f"{type(kind).__name__}({kind.length})") if isinstance(kind.length, int) else None
    if isinstance(kind, Float):
        return None
    if isinstance(kind, Numeric):
        if not kind.precision:
            return None
        spelled = f"{type(kind).__name__}({kind.precision}" + (f", {kind.scale})" if kind.scale is not None else ")")
        return _numeric(kind.precision, kind.scale, spelled)
    if isinstance(kind, Integer) and getattr(kind, "__visit_name__", "") in _INT_BITS:
        return _integer(_INT_BITS[kind.__visit_name__], type(kind).__name__)
    if isinstance(kind, DateTime):
        return _aware() if kind.timezone else _naive()
    if isinstance(kind, Date):
        return _date
    if isinstance(kind, Time):
        return _time
    return None


# ---------------------------------------------------------------------------
# Strings and numbers
# ---------------------------------------------------------------------------
def _length(limit: int, spelled: str) -> Check:
    def check(value: Any, _where: str) -> tuple[Any, str | None]:
        if isinstance(value, str) and len(value) > limit:
            return value, f"{len(value)} characters, but the column holds at most {limit} ({spelled})"
        return value, None

    return check


def _numeric(precision: int, scale: int | None, spelled: str) -> Check:
    scale = scale or 0  # NUMERIC(p) is NUMERIC(p, 0) on PostgreSQL and MySQL
    whole = precision - scale

    def check(value: Any, _where: str) -> tuple[Any, str | None]:
        if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
            return value, None
        try:
            number = value if isinstance(value, Decimal) else Decimal(str(value))
            if not number.is_finite():
                return value, None
            exponent = number.normalize().as_tuple().exponent
            places = max(0, -int(exponent))
            digits = len(str(abs(int(number)))) if abs(number) >= 1 else 0
        except (InvalidOperation, ValueError):
            return value, None
        if places > scale:
            return value, (f"{places} decimal place(s), but the column keeps {scale} ({spelled}): "
                           f"it would be rounded")
        if digits > whole:
            return value, f"{digits} digit(s) before the decimal point, but the column holds {whole} ({spelled})"
        return value, None

    return check


def _integer(bits: int, spelled: str) -> Check:
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1

    def check(value: Any, _where: str) -> tuple[Any, str | None]:
        if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
            return value, f"out of range for {spelled} ({low} to {high})"
        return value, None

    return check


# ---------------------------------------------------------------------------
# Dates and times
# ---------------------------------------------------------------------------
def _as(kind: type, value: Any) -> Any:
    """``value`` as ``kind`` (ISO text through pydantic's parser), or None if it is not one."""
    if isinstance(value, kind):
        return value
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError:
        return None


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    return _as(datetime, value)


def _aware() -> Check:
    """``DateTime(timezone=True)``: an offset on every value, written in UTC."""

    def check(value: Any, _where: str) -> tuple[Any, str | None]:
        stamp = _timestamp(value)
        if stamp is None:
            return value, "not a timestamp (ISO 8601, e.g. 2024-01-02T03:04:05+00:00)"
        if stamp.utcoffset() is None:
            return value, ("no time zone offset, but the column keeps an instant (DateTime(timezone=True)): "
                           "give one, e.g. +00:00")
        return stamp.astimezone(UTC), None

    return check


def _naive() -> Check:
    """``DateTime()``: wall-clock values; UTC offsets dropped, others and mixes reported."""
    first: dict[bool, str] = {}

    def check(value: Any, where: str) -> tuple[Any, str | None]:
        stamp = _timestamp(value)
        if stamp is None:
            return value, "not a timestamp (ISO 8601, e.g. 2024-01-02T03:04:05)"
        offset = stamp.utcoffset()
        aware = offset is not None
        if (not aware) in first:  # the first value decided the column's kind
            one, other = ("timezone-aware", "naive") if aware else ("naive", "timezone-aware")
            return value, (f"a {one} timestamp in a column whose values were {other} first (at "
                           f"{first[not aware]}): give every value an offset, or none")
        first.setdefault(aware, where)
        if offset is not None and offset != timedelta(0):
            return value, ("a time zone offset other than UTC, but the column has no time zone (DateTime()): "
                           "the offset would be dropped; give UTC, or declare DateTime(timezone=True)")
        return stamp.replace(tzinfo=None), None

    return check


def _date(value: Any, _where: str) -> tuple[Any, str | None]:
    if isinstance(value, datetime) or (isinstance(value, str) and ("T" in value or " " in value.strip())):
        stamp = _timestamp(value)
        if stamp is not None and stamp.timetz().replace(tzinfo=None) == time(0) and stamp.utcoffset() in (None, timedelta(0)):
            return stamp.date(), None
        return value, "a timestamp in a date column (Date): its time would be dropped"
    day = _as(date, value)
    if day is None:
        return value, "not a date (ISO 8601, e.g. 2024-01-02)"
    return day, None


def _time(value: Any, _where: str) -> tuple[Any, str | None]:
    moment = _as(time, value)
    if moment is None:
        return value, "not a time of day (ISO 8601, e.g. 03:04:05)"
    return moment, None
