"""Generated column values for smoke rows, and the read-back comparison.

Values are ordinary data, not edge cases: the smoke row must pass on a correct datakit, so
strings stay within their length and numbers within their precision. Where an engine changes
ordinary data silently (NUMERIC without scale rounds 12.34, a time zone is dropped), the
read-back comparison says so.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Column
from sqlalchemy import types as sqltypes

from dkenv.check.context import effective_type, variant_for
from dkenv.engines import ENGINES, rules_for_dialect
from dkenv.engines.registry import offline_dialect

_NAMESPACE = uuid.UUID("6f1d3a52-7c1b-4d8e-9a63-0d6b2f1c9e47")
_TZ = dt.timezone(dt.timedelta(hours=2))
_LETTERS = "abcdefghijklmnopqrstuvwxyz0123456789"
#: Length of generated text for columns without a limit.
UNBOUNDED_TEXT = 40


class NoValue(Exception):
    """No value can be generated for this column's type."""


def engine_of(dialect_name: str) -> str:
    """dkenv's engine name for a SQLAlchemy dialect name."""
    known = rules_for_dialect(dialect_name)
    return known.name if known.name in ENGINES else "sqlite"


def value_for(column: Column, engine: str, seed: int) -> Any:
    """A valid, ordinary value for ``column`` on ``engine``; distinct per ``seed``.

    A ``TypeDecorator`` gets a value of the Python type it takes, not of the type it stores:
    a decorator that JSON-encodes lists into TEXT gets a list (see `_decorated`).
    Raises `NoValue` for types it cannot produce (the caller skips nullable columns).
    """
    real = effective_type(column.type, engine)
    outer = variant_for(column.type, engine)
    if isinstance(outer, sqltypes.TypeDecorator) and not isinstance(outer, sqltypes.Interval):
        return _decorated(outer, real, column, engine, seed)
    return _value(real, column, engine, seed)


def _declared_python_type(type_: sqltypes.TypeDecorator) -> type | None:
    """The ``python_type`` a decorator class declares itself (not the one it inherits)."""
    for cls in type(type_).__mro__:
        if cls is sqltypes.TypeDecorator:
            return None
        if "python_type" in cls.__dict__:
            try:
                declared = type_.python_type
            except NotImplementedError:
                return None
            return declared if isinstance(declared, type) else None
    return None


def _decorated(outer: sqltypes.TypeDecorator, real: sqltypes.TypeEngine, column: Column,
               engine: str, seed: int) -> Any:
    """A value ``outer`` takes: the first candidate that survives its own round trip.

    Candidates, in order: a value of the Python type the decorator declares, a value of the
    stored type, a list, a dict. A candidate survives when ``process_bind_param`` turns it
    into something the stored type holds and ``process_result_value`` reads that back
    without raising — what the decorator does with real data on every insert and select.
    """
    candidates: list[Any] = []
    declared = _declared_python_type(outer)
    if declared is not None:
        with_type = _of_python_type(declared, seed)
        if with_type is not None:
            candidates.append(with_type)
    try:
        candidates.append(_value(real, column, engine, seed))
    except NoValue:
        pass
    candidates += [["smoke", seed], {"smoke": seed}]
    dialect = offline_dialect(engine)
    for candidate in candidates:
        if _round_trips(outer, real, candidate, dialect):
            return candidate
    raise NoValue(f"{type(outer).__name__} takes none of the values dkenv tried (its own"
                  " Python type, the stored type's, a list, a dict)")


def _of_python_type(python_type: type, seed: int) -> Any:
    samples: dict[type, Any] = {
        bool: True, int: 1000 + seed, float: 1.5, Decimal: Decimal("1.5"),
        str: f"smoke{seed}", bytes: b"smoke", list: ["smoke", seed], dict: {"smoke": seed},
        dt.date: dt.date(2024, 2, 29), dt.time: dt.time(13, 45, 30),
        dt.datetime: dt.datetime(2024, 2, 29, 13, 45, 30), uuid.UUID: uuid.uuid5(_NAMESPACE, str(seed)),
    }
    if python_type in samples:
        return samples[python_type]
    if issubclass(python_type, enum.Enum):
        return next(iter(python_type), None)
    return None


def _round_trips(outer: sqltypes.TypeDecorator, real: sqltypes.TypeEngine, value: Any,
                 dialect: Any) -> bool:
    cls = type(outer)
    try:
        bound = value
        if cls.process_bind_param is not sqltypes.TypeDecorator.process_bind_param:
            bound = outer.process_bind_param(value, dialect)
        if bound is None:
            return False
        try:
            stored = real.python_type
        except NotImplementedError:
            stored = object
        if stored is not object and not isinstance(bound, stored) and not (
            stored is float and isinstance(bound, (int, Decimal))
        ):
            return False
        if cls.process_result_value is not sqltypes.TypeDecorator.process_result_value:
            outer.process_result_value(bound, dialect)
    except Exception:  # noqa: BLE001 - any error means the decorator does not take the value
        return False
    return True


def _value(real: sqltypes.TypeEngine, column: Column, engine: str, seed: int) -> Any:
    if isinstance(real, sqltypes.Enum):
        if real.enum_class is not None:
            return next(iter(real.enum_class))
        if real.enums:
            return real.enums[0]
        raise NoValue("an enum without labels")
    if isinstance(real, sqltypes.Boolean):
        return True
    if isinstance(real, sqltypes.Integer):
        return _integer(real, seed)
    if isinstance(real, sqltypes.Float):
        return 1.5 if real.asdecimal is False else Decimal("1.5")
    if isinstance(real, sqltypes.Numeric):
        return _decimal(real)
    if isinstance(real, sqltypes.DateTime):
        naive = dt.datetime(2024, 2, 29, 13, 45, 30)
        return naive.replace(tzinfo=_TZ) if real.timezone else naive
    if isinstance(real, sqltypes.Date):
        return dt.date(2024, 2, 29)
    if isinstance(real, sqltypes.Time):
        return dt.time(13, 45, 30)
    if isinstance(real, sqltypes.Interval):
        return dt.timedelta(days=1, hours=2, seconds=3)
    if isinstance(real, sqltypes.Uuid):
        value = uuid.uuid5(_NAMESPACE, f"{column.table.fullname}.{column.name}.{seed}")
        return value if real.as_uuid else str(value)
    if isinstance(real, sqltypes.JSON):
        return {"smoke": [1, "two", None], "ok": True}
    if isinstance(real, sqltypes.ARRAY):
        return [_value(real.item_type, column, engine, seed)]
    if isinstance(real, sqltypes.String):
        return _text(real, seed)
    if isinstance(real, sqltypes.LargeBinary):
        return b"\x00dkenv smoke\xff"
    raise NoValue(f"no generator for {type(real).__name__}")


def _integer(real: sqltypes.Integer, seed: int) -> int:
    name = type(real).__name__.upper()
    if "TINY" in name:
        return 100 + seed % 27
    if isinstance(real, sqltypes.SmallInteger):
        return 30000 + seed % 2000
    if isinstance(real, sqltypes.BigInteger):
        return 9_000_000_000_000 + seed
    return 2_000_000_000 + seed % 100_000_000


def _decimal(real: sqltypes.Numeric) -> Decimal | float:
    precision, scale = real.precision, real.scale
    if precision is None:
        value = Decimal("12.34")
    else:
        places = 2 if scale is None else scale  # scale None: show what NUMERIC(p) does to .34
        whole_digits = max(precision - (scale or 0), 0)
        whole = min(12, 10**whole_digits - 1)
        frac = "3456789012345678901234567890"[:places]
        value = Decimal(f"{whole}.{frac}") if places else Decimal(whole)
    return value if real.asdecimal else float(value)


def _text(real: sqltypes.String, seed: int) -> str:
    length = real.length
    if isinstance(real, sqltypes.Text) or length is None:
        length = UNBOUNDED_TEXT
    stem = f"smoke{seed}é"
    body = stem + (_LETTERS * (length // len(_LETTERS) + 1))
    return body[: min(length, 64)]


def differs(written: Any, read: Any) -> str | None:
    """How ``read`` differs from ``written`` in a way a user would call data loss, or None."""
    if written is None or read == written:
        return None
    if isinstance(written, Decimal) or isinstance(written, float) and isinstance(read, Decimal):
        try:
            if Decimal(str(read)) == Decimal(str(written)):
                return None
        except ArithmeticError:
            pass
        return f"wrote {written}, read back {read}: the column rounds (NUMERIC without enough scale)"
    if isinstance(written, float):
        if isinstance(read, (int, float)) and math.isclose(written, read, rel_tol=1e-6):
            return None
    if isinstance(written, dt.datetime) and isinstance(read, dt.datetime):
        return _datetime_change(written, read)
    if isinstance(written, str) and isinstance(read, str):
        if read.rstrip() == written.rstrip():
            return None  # CHAR padding
        if written.startswith(read):
            return f"wrote {len(written)} characters, read back {len(read)}: the value was cut"
        return f"wrote {written!r}, read back {read!r}"
    if isinstance(written, uuid.UUID) and str(written) in (str(read), str(read).replace("-", "")):
        return None
    if isinstance(written, dict) and isinstance(read, str):
        return None  # JSON stored as text by a driver that does not decode it
    return f"wrote {written!r}, read back {read!r}"


def _datetime_change(written: dt.datetime, read: dt.datetime) -> str | None:
    if written.tzinfo is not None and read.tzinfo is None:
        if read == written.replace(tzinfo=None):
            return (
                f"wrote {written.isoformat()}, read back {read.isoformat()} without a zone: "
                "the time zone was dropped (the instant moved)"
            )
        if read == written.astimezone(dt.UTC).replace(tzinfo=None):
            return None  # stored as UTC, read back naive: same instant
        return f"wrote {written.isoformat()}, read back {read.isoformat()}"
    if written.tzinfo is not None and read.tzinfo is not None:
        return None if written == read else f"wrote {written.isoformat()}, read back {read.isoformat()}"
    if read.replace(microsecond=0) == written.replace(microsecond=0):
        return "fractional seconds were dropped"
    return f"wrote {written.isoformat()}, read back {read.isoformat()}"
