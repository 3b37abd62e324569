"""Server defaults as real schemas write them, taken apart so each engine can carry them.

pg_dump writes defaults with casts — ``('now'::text)::date``, ``'G'::mpaa_rating``,
``'x'::character varying``, ``now()::date`` — and hand-written models copy them. Only
PostgreSQL speaks ``::``. Rather than one regular expression per spelling, `parse_default`
peels the casts off (outermost last) and leaves the *atom* underneath; `classify` then says
what the default means in engine-neutral terms:

* ``("timestamp" | "date" | "time", None)`` — "the current time/date", for every ``now()``
  and ``'now'``/``'today'`` spelling; the kind follows the outermost date/time cast, then
  the column's type (a DATE column gets CURRENT_DATE whatever the expression said);
* ``("literal", "'G'")`` — a constant under casts, carried without them;
* ``("infinity", "'infinity'")`` — PostgreSQL's infinite timestamps, which no other engine has;
* ``("other", None)`` — anything else: carried as written (or refused by the engine).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy import Column

_CAST_TYPE = re.compile(
    r"""^\s*("?[a-z_][\w$]*"?\s*\.\s*)?"?[a-z_][\w$ ]*"?\s*(\(\s*\d+\s*(,\s*\d+\s*)?\))?
        (\s+with(out)?\s+time\s+zone)?\s*(\[\s*\])*\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_NOW_FUNCTION = re.compile(
    r"""^(now\(\) | current_timestamp(\(\s*\d*\s*\))? | localtimestamp(\(\s*\d*\s*\))? |
        transaction_timestamp\(\) | statement_timestamp\(\) | clock_timestamp\(\) |
        timezone\(\s*'utc'(::text)?\s*,\s*(now\(\)|current_timestamp)\s*\) |
        (now\(\)|current_timestamp)\s+at\s+time\s+zone\s+'utc' | utc_timestamp(\(\))? |
        sysdate\(\) | getdate\(\) | datetime\(\s*'now'\s*\))$""",
    re.IGNORECASE | re.VERBOSE,
)
_TODAY_FUNCTION = re.compile(r"^(current_date|curdate\(\)|date\(\s*'now'\s*\))$", re.IGNORECASE)
_TIME_FUNCTION = re.compile(r"^(current_time(\(\s*\d*\s*\))?|localtime(\(\s*\d*\s*\))?|curtime\(\))$",
                            re.IGNORECASE)
_QUOTED = re.compile(r"^'(?:[^']|'')*'$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$", re.IGNORECASE)
_NOW_WORDS = frozenset({"'now'", "'today'", "'current_timestamp'", "'current_date'"})
_INFINITY_WORDS = frozenset({"'infinity'", "'-infinity'", "'+infinity'"})


@dataclass(frozen=True)
class ParsedDefault:
    """A default split into the atom under its casts and the casts, innermost first."""

    atom: str
    casts: tuple[str, ...]


def parse_default(sql: str) -> ParsedDefault:
    """Peel outer parentheses and ``::type`` casts off ``sql``.

    ``('now'::text)::date`` → atom ``'now'``, casts ``('text', 'date')``. A ``::`` inside a
    function's arguments (``nextval('s'::regclass)``) is not a cast of the whole default.
    """
    text = " ".join(sql.strip().split())
    casts: list[str] = []
    for _ in range(16):  # a bound against pathological input; real defaults nest 2-3 deep
        text = _strip_parens(text)
        split = _last_top_level_cast(text)
        if split is None:
            break
        left, type_name = text[:split], text[split + 2:]
        if not _CAST_TYPE.match(type_name):
            break
        casts.append(" ".join(type_name.split()).lower())
        text = left.strip()
    return ParsedDefault(text, tuple(reversed(casts)))


def classify(sql: str, column: Column | None = None) -> tuple[str, str | None]:
    """What ``sql`` means, engine-neutrally: (kind, carried literal); see the module docstring."""
    parsed = parse_default(sql)
    atom = parsed.atom
    lowered = atom.lower()
    temporal = _temporal_cast(parsed.casts)
    if lowered in _INFINITY_WORDS and (temporal or _column_kind(column)):
        return "infinity", atom
    if lowered in _NOW_WORDS and column is not None and not (temporal or _column_kind(column)):
        return "literal", atom  # 'now'::text on a text column is the word, not the time
    if _NOW_FUNCTION.match(lowered) or lowered in ("'now'", "'current_timestamp'"):
        return _column_kind(column) or temporal or "timestamp", None
    if _TODAY_FUNCTION.match(lowered) or lowered in ("'today'", "'current_date'"):
        return _column_kind(column) or temporal or "date", None
    if _TIME_FUNCTION.match(lowered):
        return "time", None
    if parsed.casts and (_QUOTED.match(atom) or _NUMBER.match(atom) or lowered == "null"):
        if any(cast.endswith("]") for cast in parsed.casts):
            return "other", None  # an array literal ('{}'::text[]) means nothing elsewhere
        return "literal", atom
    return "other", None


def is_infinity(value: str) -> bool:
    """PostgreSQL's ``infinity``/``-infinity`` timestamps, as a plain string default."""
    return f"'{value.strip().lower()}'" in _INFINITY_WORDS


def _temporal_cast(casts: tuple[str, ...]) -> str | None:
    """The kind named by the outermost date/time cast (``::date`` → date), if any."""
    for cast in reversed(casts):
        base = cast.split("(")[0].strip()
        if base == "date":
            return "date"
        if base.startswith("timestamp"):
            return "timestamp"
        if base.startswith("time"):
            return "time"
    return None


def _column_kind(column: Column | None) -> str | None:
    """date / time / timestamp from the column's own type, when it is a temporal column."""
    if column is None:
        return None
    from sqlalchemy import types as sqltypes

    type_ = column.type
    if isinstance(type_, sqltypes.TypeDecorator):
        type_ = type_.impl_instance if hasattr(type_, "impl_instance") else type_.impl
    if isinstance(type_, sqltypes.DateTime):
        return "timestamp"
    if isinstance(type_, sqltypes.Date):
        return "date"
    if isinstance(type_, sqltypes.Time):
        return "time"
    return None


def _strip_parens(text: str) -> str:
    """Remove outer parentheses that enclose the whole text: ``((x))`` → ``x``."""
    while text.startswith("(") and text.endswith(")") and _encloses(text):
        text = text[1:-1].strip()
    return text


def _encloses(text: str) -> bool:
    """True when the first ``(`` closes at the very end (not ``(a) + (b)``)."""
    depth = 0
    quoted = False
    for i, char in enumerate(text):
        if char == "'":
            quoted = not quoted
        elif not quoted:
            depth += char == "("
            depth -= char == ")"
            if depth == 0 and i < len(text) - 1:
                return False
    return depth == 0


def _last_top_level_cast(text: str) -> int | None:
    """Index of the last ``::`` outside quotes and parentheses, or None."""
    depth = 0
    quoted = False
    found = None
    i = 0
    while i < len(text):
        char = text[i]
        if char == "'":
            quoted = not quoted
        elif not quoted:
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            elif char == ":" and depth == 0 and text[i + 1:i + 2] == ":":
                found = i
                i += 1
        i += 1
    return found
