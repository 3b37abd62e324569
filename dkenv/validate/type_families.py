"""Type families: how each engine spells a model's column type, so validation compares
meaning (boolean, integer, text, ...) rather than spelling (BOOLEAN vs TINYINT(1))."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.sql import sqltypes

from dkenv.engines import rules_for_dialect

# --------------------------------------------------------------------------------------------
# Type families

_INT_WIDTHS = {
    "tinyint": 1,
    "smallint": 2,
    "int2": 2,
    "mediumint": 3,
    "int": 4,
    "integer": 4,
    "int4": 4,
    "bigint": 8,
    "int8": 8,
}

_TEXT_FAMILIES: dict[str, str] = {
    **{name: "integer" for name in _INT_WIDTHS},
    "boolean": "boolean",
    "bool": "boolean",
    "varchar": "string",
    "char": "string",
    "text": "string",
    "tinytext": "string",
    "mediumtext": "string",
    "longtext": "string",
    "clob": "string",
    "nvarchar": "string",
    "nchar": "string",
    "character": "string",
    "character varying": "string",
    "varchar2": "string",
    "string": "string",
    "float": "float",
    "double": "float",
    "double precision": "float",
    "real": "float",
    "numeric": "numeric",
    "decimal": "numeric",
    "dec": "numeric",
    "fixed": "numeric",
    "datetime": "datetime",
    "timestamp": "datetime",
    "datetime2": "datetime",
    "date": "date",
    "time": "time",
    "interval": "interval",
    "blob": "binary",
    "tinyblob": "binary",
    "mediumblob": "binary",
    "longblob": "binary",
    "binary": "binary",
    "varbinary": "binary",
    "bytea": "binary",
    "json": "json",
    "jsonb": "json",
    "uuid": "uuid",
    "enum": "enum",
}


def classify(
    type_: sa.types.TypeEngine,
) -> tuple[str | None, int | None, int | None, frozenset[str] | None]:
    """(family, integer width, string length, enum labels) of a SQLAlchemy type; family None
    when the type is outside the families we compare (custom, geometric, network, ...)."""
    if type(type_).__name__ == "DOMAIN" and getattr(type_, "data_type", None) is not None:
        return classify(type_.data_type)  # PostgreSQL domain: compare its base type
    if isinstance(type_, sqltypes.NullType):
        return None, None, None, None
    if isinstance(type_, sqltypes.Boolean):
        return "boolean", None, None, None
    if isinstance(type_, sqltypes.Enum):
        return "enum", None, None, frozenset(type_.enums) if type_.enums else None
    if isinstance(type_, sqltypes.Uuid):
        return "uuid", None, None, None
    if isinstance(type_, sqltypes.JSON):
        return "json", None, None, None
    if isinstance(type_, sqltypes.ARRAY):
        return "array", None, None, None
    if isinstance(type_, sqltypes._AbstractInterval):
        return "interval", None, None, None
    if isinstance(type_, sqltypes.DateTime):
        return "datetime", None, None, None
    if isinstance(type_, sqltypes.Date):
        return "date", None, None, None
    if isinstance(type_, sqltypes.Time):
        return "time", None, None, None
    if isinstance(type_, sqltypes.Float):
        return "float", None, None, None
    if isinstance(type_, sqltypes.Numeric):
        return "numeric", None, None, None
    if isinstance(type_, sqltypes.Integer):
        if isinstance(type_, sqltypes.BigInteger):
            width = 8
        elif isinstance(type_, sqltypes.SmallInteger):
            width = 2
        else:
            width = _INT_WIDTHS.get(type(type_).__name__.lower(), 4)
        return "integer", width, None, None
    if isinstance(type_, sqltypes._Binary):
        return "binary", None, None, None
    if isinstance(type_, sqltypes.String):
        return "string", None, type_.length, None
    return None, None, None, None


#: PostgreSQL types that extensions add: compared by name, since the inspector reads CITEXT
#: as TEXT's family and knows nothing of most others (CITEXT turned into TEXT is drift).
EXTENSION_TYPES = frozenset({
    "citext", "hstore", "ltree", "lquery", "ltxtquery", "cube", "seg", "isbn", "isbn13",
    "issn", "issn13", "ismn", "ismn13", "ean13", "upc", "geometry", "geography", "raster",
    "vector", "halfvec", "sparsevec",
})


def base_type_name(text: str) -> str:
    """`public.citext` / `"citext"` / `geometry(Point,4326)` → `citext` / `geometry`."""
    return text.split("(", 1)[0].strip().rsplit(".", 1)[-1].strip('"').lower()


def extension_type_name(type_: sa.types.TypeEngine, dialect: sa.engine.Dialect) -> str | None:
    """The type's name when it is a PostgreSQL extension type (`citext`, `hstore`), else None."""
    if not rules_for_dialect(dialect.name).has_extension_types:
        return None
    name = base_type_name(type_text(type_, dialect))
    return name if name in EXTENSION_TYPES else None


def classify_text(declared: str, dialect: str) -> tuple[frozenset[str], int | None, int | None]:
    """(families, integer width, length) of a type as the catalog spells it (SQLite, MySQL)."""
    text = declared.strip().lower()
    base = re.sub(r"\s+", " ", text.split("(", 1)[0].replace("unsigned", "").strip())
    match = re.search(r"\((\d+)", text)
    length = int(match.group(1)) if match else None
    family = _TEXT_FAMILIES.get(base)
    if family is None:  # SQLite's affinity rules, loosely, for declared types we do not know
        if "int" in base:
            family = "integer"
        elif any(word in base for word in ("char", "clob", "text")):
            family = "string"
        elif "blob" in base:
            family = "binary"
        elif any(word in base for word in ("real", "floa", "doub")):
            family = "float"
        elif base.startswith("timestamp"):
            family = "datetime"
    if family is None:
        return frozenset(), None, None
    families = {family}
    width = None
    if family == "integer":
        width = 8 if "big" in base else _INT_WIDTHS.get(base, 4)
        if base == "tinyint" and rules_for_dialect(dialect).tinyint_is_boolean:
            families.add("boolean")  # BOOLEAN is TINYINT(1) on MySQL/MariaDB
    return frozenset(families), width, length if family == "string" else None


def accepted_families(model_family: str, dialect: str) -> set[str]:
    """The live families that count as the same type as `model_family` on `dialect`."""
    accepted = {model_family}
    rules = rules_for_dialect(dialect)
    if model_family in ("enum", "uuid"):  # non-native: VARCHAR / CHAR(32)
        accepted.add("string")
    if model_family == "json" and rules.json_as_text:  # MariaDB: LONGTEXT
        accepted.add("string")
    if model_family == "interval" and not rules.native_interval:  # emulated as epoch DATETIME
        accepted.add("datetime")
    if model_family == "boolean" and rules.boolean_as_integer:
        accepted.add("integer")
    return accepted


def model_type(column: sa.Column, dialect: sa.engine.Dialect) -> sa.types.TypeEngine:
    """The type `column` is deployed with on `dialect` (variants and TypeDecorators resolved)."""
    type_ = column.type
    type_ = getattr(type_, "_variant_mapping", {}).get(dialect.name, type_)
    for _ in range(10):
        if not isinstance(type_, sa.types.TypeDecorator) or isinstance(
            type_, sqltypes._AbstractInterval
        ):  # Interval: native on PG, emulated elsewhere
            break
        type_ = type_.load_dialect_impl(dialect)
    return type_


def type_text(type_: str | sa.types.TypeEngine, dialect: sa.engine.Dialect) -> str:
    """How `dialect` spells `type_`; rendered only for reports (compiling is not free)."""
    if isinstance(type_, str):
        return type_
    try:
        return str(type_.compile(dialect=dialect))
    except Exception:
        return type(type_).__name__


