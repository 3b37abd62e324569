"""PostgreSQL objects a datakit needs before its tables: extensions, and enum types that must match.

A ``CITEXT`` column, an ``HSTORE``, a ``uuid_generate_v4()`` default or a ``gin_trgm_ops``
index only deploy when their extension exists.  dkenv creates it (``CREATE EXTENSION IF NOT
EXISTS``) when the server offers it, and otherwise says which Debian package provides it.
The datakit may also list extensions itself (``[tool.dkenv] extensions = [...]``).  What is
created here is undone with the rest of the deploy (the catalog snapshot sees extensions).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from dkenv.errors import DeployError

if TYPE_CHECKING:
    from dkenv.schema.plan import Unit

#: Extension -> the Debian package that ships it (PostgreSQL 15; contrib is in the server package).
PACKAGES = {
    "citext": "postgresql-15 (contrib)",
    "hstore": "postgresql-15 (contrib)",
    "uuid-ossp": "postgresql-15 (contrib)",
    "pg_trgm": "postgresql-15 (contrib)",
    "pgcrypto": "postgresql-15 (contrib)",
    "btree_gin": "postgresql-15 (contrib)",
    "btree_gist": "postgresql-15 (contrib)",
    "postgis": "postgresql-15-postgis-3",
    "vector": "postgresql-15-pgvector",
}
_TYPES = {"CITEXT": "citext", "HSTORE": "hstore", "Geometry": "postgis", "Geography": "postgis",
          "Raster": "postgis", "Vector": "vector"}
_FUNCS = [(re.compile(r"\buuid_generate_v[1-5]\w*\s*\(", re.I), "uuid-ossp"),
          (re.compile(r"\b(gin|gist)_trgm_ops\b|\bsimilarity\s*\(", re.I), "pg_trgm"),
          (re.compile(r"\b(crypt|gen_salt|digest)\s*\(", re.I), "pgcrypto")]


def needed_extensions(units: Sequence[Unit], listed: Iterable[str] = ()) -> list[str]:
    """Extensions the datakit asks for, then those its types, defaults and index opclasses need."""
    found = list(dict.fromkeys(listed))
    texts: list[str] = []
    for unit in units:
        for table in unit.tables:
            for column in table.columns:
                name = _type_name(column.type)
                if name in _TYPES:
                    found.append(_TYPES[name])
                arg = getattr(column.server_default, "arg", None)
                if arg is not None and not isinstance(arg, str):
                    texts.append(str(arg))
            for index in getattr(table, "indexes", ()):
                ops = (index.dialect_options.get("postgresql") or {}).get("ops") or {}
                texts.extend(str(v) for v in ops.values())
    for text in texts:
        for pattern, ext in _FUNCS:
            if pattern.search(text):
                found.append(ext)
    return list(dict.fromkeys(found))


def _type_name(type_: Any) -> str:
    name = type(type_).__name__
    impl = getattr(type_, "impl_instance", None)  # a TypeDecorator over the real type
    return type(impl).__name__ if name not in _TYPES and impl is not None else name


def ensure_extensions(conn: Any, names: Sequence[str]) -> list[str]:
    """Create the extensions that are missing; fail in one line for one the server does not have."""
    if not names:
        return []
    from sqlalchemy import text

    installed = {r[0] for r in conn.execute(text("SELECT extname FROM pg_extension"))}
    missing = [n for n in names if n not in installed]
    if not missing:
        return []
    available = {r[0] for r in conn.execute(text("SELECT name FROM pg_available_extensions"))}
    for name in missing:
        if name not in available:
            package = PACKAGES.get(name, f"the package that provides {name}")
            raise DeployError(
                f"the datakit needs PostgreSQL extension {name}, which this server does not have",
                f"use a server image with {package} installed, or drop what needs {name} from the datakit",
            )
    prep = conn.dialect.identifier_preparer
    for name in missing:
        conn.execute(text(f"CREATE EXTENSION IF NOT EXISTS {prep.quote_identifier(name)}"))
    return missing


def check_enums(conn: Any, units: Sequence[Unit]) -> None:
    """An enum type that already exists must have the model's labels (create_all would reuse it silently)."""
    from sqlalchemy import Enum, text

    wanted: dict[tuple[str | None, str], tuple[str, tuple[str, ...]]] = {}
    for unit in units:
        for table in unit.tables:
            for column in table.columns:
                type_ = column.type
                if isinstance(type_, Enum) and type_.name and getattr(type_, "native_enum", True):
                    schema = conn.schema_for_object(type_) if type_.schema else None
                    wanted.setdefault((schema, type_.name), (f"{table.fullname}.{column.name}", tuple(type_.enums)))
    if not wanted:
        return
    rows = conn.execute(text(
        "SELECT n.nspname, t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder) "
        "FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace JOIN pg_enum e ON e.enumtypid = t.oid "
        "WHERE t.typname = ANY(:names) GROUP BY n.nspname, t.typname"), {"names": sorted({n for _s, n in wanted})})
    current = conn.execute(text("SELECT current_schema()")).scalar()
    for nspname, typname, labels in rows:
        for (schema, name), (where, enums) in wanted.items():
            if name == typname and (schema or current) == nspname and tuple(labels) != enums:
                raise DeployError(
                    f"enum type {nspname}.{typname} already exists on the server with labels "
                    f"({', '.join(labels)}); {where} wants ({', '.join(enums)})",
                    "give the Enum another name (Enum(..., name='...')) or drop the old type first",
                )


__all__ = ["PACKAGES", "check_enums", "ensure_extensions", "needed_extensions"]
