"""SQL fragments (defaults, CHECK and generated expressions, index expressions and predicates)
compared across engines by meaning, not spelling.

Each engine stores a fragment in its own words: PostgreSQL adds casts (`'x'::character varying`,
`0::numeric`) and rewrites `IN (...)` as `= ANY (ARRAY[...])`, MariaDB quotes identifiers with
backticks and writes `current_timestamp()`, SQLite keeps the text as written but wraps
expression defaults in parentheses. `normalize` reduces a fragment to tokens where those
differences vanish; `operands` is the coarser fallback (the columns and literals it mentions)
for rewrites `normalize` cannot undo (PostgreSQL turns `BETWEEN` into two comparisons).
The model side is rendered by the target dialect's own DDL compiler, as `create_all` would.

What an engine *rewrites* when it stores a fragment (MariaDB turns `length()` into
`octet_length()` and qualifies a sequence with its database; PostgreSQL stores a boolean
default `'true'` as `true`) is listed in `REWRITES`, one entry per known rewrite with the
two spellings it reconciles; `same_sql(..., rewrites=engine_rewrites(engine, ...))` applies
the entries of that engine only, to both sides.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

_TOKEN = re.compile(
    r"""'(?:[^']|'')*'         # string literal
      | "(?:[^"]|"")*"          # quoted identifier
      | `(?:[^`]|``)*`          # MySQL quoted identifier
      | \d+(?:\.\d*)?(?:e[+-]?\d+)?  # number
      | [a-z_][a-z0-9_$]*        # identifier / keyword
      | ::|<>|!=|>=|<=|\|\|      # two-character operators
      | \S                       # any other single character
    """,
    re.IGNORECASE | re.VERBOSE,
)
_TYPE_WORDS = {"varying", "precision", "with", "without", "time", "zone"}
_ALIASES = {
    "now": "current_timestamp",
    "localtimestamp": "current_timestamp",
    "true": "1",
    "false": "0",
    "!=": "<>",
}
_KEYWORDS = {
    "and", "or", "not", "in", "is", "null", "any", "all", "array", "between", "like", "on",
    "update", "current_timestamp", "case", "when", "then", "else", "end", "cast", "as",
}


def _number(text: str) -> str:
    try:
        value = Decimal(text).normalize()
    except InvalidOperation:
        return text
    return format(value, "f")


def tokens(sql: str) -> list[str]:
    """The fragment's tokens, with each engine's spelling differences removed."""
    raw = _TOKEN.findall(sql or "")
    out: list[str] = []
    i = 0
    while i < len(raw):
        tok = raw[i]
        i += 1
        if tok == "::":  # PostgreSQL cast: drop the type name, its arguments and []
            if i < len(raw):
                i += 1
            while i < len(raw) and raw[i].lower() in _TYPE_WORDS:
                i += 1
            if i < len(raw) and raw[i] == "(":
                depth = 0
                while i < len(raw):
                    depth += {"(": 1, ")": -1}.get(raw[i], 0)
                    i += 1
                    if depth == 0:
                        break
            while i + 1 < len(raw) and raw[i] == "[" and raw[i + 1] == "]":
                i += 2
            continue
        if tok in ("(", ")"):
            continue
        if tok[0] in "\"`":
            tok = tok[1:-1].lower()
        elif tok[0] == "'":
            inner = tok[1:-1]
            if re.fullmatch(r"-?\d+(\.\d*)?", inner):
                tok = _number(inner)  # '0' and 0 are the same default
        elif tok[0].isdigit():
            tok = _number(tok)
        else:
            tok = tok.lower()
        out.append(_ALIASES.get(tok, tok))
    # a unary minus belongs to its number: text("-1") and PostgreSQL's '-1'::integer
    merged: list[str] = []
    for tok in out:
        if merged and merged[-1] == "-" and tok[0].isdigit() and (
            len(merged) == 1 or not (merged[-2][0].isalnum() or merged[-2][0] in "'_")
        ):
            merged[-1] = "-" + tok
        else:
            merged.append(tok)
    # PostgreSQL: x = ANY (ARRAY[a, b]) is x IN (a, b); x <> ALL (ARRAY[...]) is NOT IN
    text = " ".join(merged)
    text = re.sub(r"= any array \[ (.*?) \]", r"in \1", text)
    text = re.sub(r"<> all array \[ (.*?) \]", r"not in \1", text)
    # MySQL writes the fractional-seconds precision: CURRENT_TIMESTAMP(6) on a DATETIME(6)
    text = re.sub(r"\bcurrent_timestamp \d+\b", "current_timestamp", text)
    return text.split()


def normalize(sql: str | None) -> str:
    return " ".join(tokens(sql or ""))


def operands(sql: str | None) -> tuple[str, ...]:
    """The identifiers and literals of a fragment, sorted: equal for engine rewrites of the
    same condition (BETWEEN vs two comparisons, IN vs = ANY)."""
    return tuple(
        sorted(
            {t
            for t in tokens(sql or "")
            if t not in _KEYWORDS and (t[0].isalnum() or t[0] in "'_-")}
        )
    )


@dataclass(frozen=True)
class Rewrite:
    """One rewrite an engine applies to a fragment it stores, undone on the normalised text.

    `pattern` is matched against `normalize`d text (tokens joined by spaces, identifiers
    unquoted and lower-cased); `{schema}` in it stands for the table's own schema/database.
    `families` limits a rewrite to the defaults of columns of those type families (a quoted
    'true' is a boolean only on a boolean column); empty means every fragment. `model` and
    `live` are the two spellings the rewrite reconciles (tests run each one).
    """

    engine: str  # "postgresql", "mysql" (MySQL and MariaDB) or "sqlite"
    name: str
    pattern: str
    replacement: str
    model: str
    live: str
    families: frozenset[str] = frozenset()


_BOOLEAN = frozenset({"boolean"})
REWRITES: tuple[Rewrite, ...] = (
    Rewrite("postgresql", "boolean default written as a quoted word",
            r"^'(?:true|t|yes|y|on|1)'$", "1", "'true'", "true", _BOOLEAN),
    Rewrite("postgresql", "boolean default written as a quoted word (false)",
            r"^'(?:false|f|no|n|off|0)'$", "0", "'false'", "false", _BOOLEAN),
    # the operator rewrites run in this order: the longer spellings first
    Rewrite("postgresql", "NOT ILIKE stored as !~~*", r"! ~ ~ \*", "not ilike",
            "name NOT ILIKE 'a%'", "((name)::text !~~* 'a%'::text)"),
    Rewrite("postgresql", "NOT LIKE stored as !~~", r"! ~ ~", "not like",
            "name NOT LIKE 'a%'", "((name)::text !~~ 'a%'::text)"),
    Rewrite("postgresql", "ILIKE stored as ~~*", r"~ ~ \*", "ilike",
            "name ILIKE 'a%'", "((name)::text ~~* 'a%'::text)"),
    Rewrite("postgresql", "LIKE stored as ~~", r"~ ~", "like",
            "name LIKE 'a%'", "((name)::text ~~ 'a%'::text)"),
    Rewrite("mysql", "length() stored as octet_length()", r"\blength\b", "octet_length",
            "length(name) > 1", "(octet_length(`name`) > 1)"),
    Rewrite("mysql", "a sequence qualified with the table's database",
            r"\b(nextval|lastval|setval) {schema} \. ", r"\1 ",
            "nextval(ref_no_seq)", "nextval(`db`.`ref_no_seq`)"),
)


def engine_rewrites(engine: str, schema: str = "", family: str | None = None
                    ) -> tuple[tuple[re.Pattern[str], str], ...]:
    """The compiled rewrites of `engine` ("mysql" for MariaDB too) for a fragment of a table
    in `schema`; `family` is the column's type family when the fragment is its default."""
    return tuple(
        (re.compile(r.pattern.replace("{schema}", re.escape(schema.lower()))), r.replacement)
        for r in REWRITES
        if r.engine == engine and (not r.families or family in r.families)
    )


def _rewrite(text: str, rewrites: tuple[tuple[re.Pattern[str], str], ...]) -> str:
    for pattern, replacement in rewrites:
        text = pattern.sub(replacement, text)
    return " ".join(text.split())


def same_sql(model: str | None, live: str | None,
             rewrites: tuple[tuple[re.Pattern[str], str], ...] = ()) -> bool:
    """True when two fragments mean the same, as far as text comparison can tell; `rewrites`
    (from `engine_rewrites`) undo what the engine changed when it stored `live`."""
    left, right = _rewrite(normalize(model), rewrites), _rewrite(normalize(live), rewrites)
    if left == right:
        return True
    return bool(operands(left)) and operands(left) == operands(right)


def compiler(dialect: sa.engine.Dialect) -> Any:
    """A DDL compiler of `dialect`, for rendering model fragments as `create_all` would."""
    return dialect.ddl_compiler(dialect, None)


def render(expr: Any, ddl: Any) -> str:
    """`expr` (a string, TextClause or SQL expression) as the dialect writes it in DDL."""
    if isinstance(expr, str):
        return expr
    try:
        return str(ddl.sql_compiler.process(expr, include_table=False, literal_binds=True))
    except Exception:
        return str(expr)


def model_default(column: sa.Column, ddl: Any) -> str | None:
    """The DEFAULT clause `create_all` writes for `column`, or None."""
    if not isinstance(column.server_default, sa.DefaultClause):
        return None
    try:
        return ddl.get_column_default_string(column)
    except Exception:
        return str(column.server_default.arg)
