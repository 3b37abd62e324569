"""Key traps: foreign keys to nowhere, foreign keys MySQL refuses, and keys on TEXT columns.

These decide whether CREATE TABLE succeeds at all, so every finding here is an error (except
where SQLite only complains once foreign keys are enforced).
"""

from __future__ import annotations

from sqlalchemy import Column, ForeignKeyConstraint, Index, Table, UniqueConstraint
from sqlalchemy import types as sqltypes

from dkenv.check.context import CheckContext, is_text_like
from dkenv.check.findings import ERROR, WARNING
from dkenv.engines import get_engine
from dkenv.engines.mysql import MYSQL
from dkenv.engines.registry import LABELS, offline_dialect

#: InnoDB's largest index key, in bytes (DYNAMIC row format).
MYSQL_MAX_KEY_BYTES = MYSQL.max_index_key_bytes
MYSQL_BYTES_PER_CHAR = 4  # utf8mb4


def check_keys(ctx: CheckContext, table: Table, by_name: dict[str, Table]) -> None:
    """Foreign keys and index keys of one table; ``by_name`` maps fullname → defined table."""
    for constraint in sorted(
        (c for c in table.constraints if isinstance(c, ForeignKeyConstraint)),
        key=lambda c: tuple(c.column_keys),
    ):
        _check_foreign_key(ctx, table, constraint, by_name)
    for engine in ctx.engines:
        if get_engine(engine).max_index_key_bytes is not None:
            _check_mysql_keys(ctx, table, engine)


def _target(constraint: ForeignKeyConstraint) -> tuple[str, list[str]]:
    """The referenced table's fullname and column names, without resolving the metadata."""
    fullnames = [fk.target_fullname for fk in constraint.elements]
    table_name = fullnames[0].rsplit(".", 1)[0]
    return table_name, [name.rsplit(".", 1)[1] for name in fullnames]


def _check_foreign_key(
    ctx: CheckContext, table: Table, constraint: ForeignKeyConstraint, by_name: dict[str, Table]
) -> None:
    target, target_columns = _target(constraint)
    column = constraint.column_keys[0]
    if target not in ctx.defined and target not in ctx.known_tables:
        for engine in ctx.engines:
            ctx.add(
                table, column, engine, ERROR, "dangling-fk",
                f"foreign key to {target}, which neither this datakit nor the listed datakits "
                "define: CREATE TABLE cannot reference it",
                f"list the datakit that defines {target} before this one "
                "(dkenv check ./bronze ./silver), or correct the ForeignKey target",
            )
        return
    parent = by_name.get(target)
    if parent is None:
        return  # defined by another listed datakit: checked when that datakit is
    referenced = [parent.columns.get(name) for name in target_columns]
    if any(c is None for c in referenced):
        missing = [n for n, c in zip(target_columns, referenced, strict=True) if c is None]
        for engine in ctx.engines:
            ctx.add(
                table, column, engine, ERROR, "dangling-fk",
                f"foreign key to {target}.{missing[0]}, a column {target} does not have",
                f"reference an existing column of {target}",
            )
        return
    if not _is_unique(parent, set(target_columns)):
        for engine in ctx.engines:
            at_create = get_engine(engine).checks_fk_target_at_create
            severity = ERROR if at_create else WARNING
            when = (
                f"{LABELS[engine]} refuses the constraint at CREATE TABLE"
                if at_create
                else f"{LABELS[engine]} reports 'foreign key mismatch' on insert once "
                "foreign keys are enforced"
            )
            ctx.add(
                table, column, engine, severity, "fk-target",
                f"foreign key to {target}({', '.join(target_columns)}), which is neither its "
                f"primary key nor unique: {when}",
                f"reference {target}'s primary key, or make the target unique "
                "(Field(unique=True))",
            )
    for engine in ctx.engines:
        if get_engine(engine).fk_needs_same_integer_type:
            for local, remote in zip(constraint.columns, referenced, strict=True):
                _check_mysql_fk_type(ctx, table, local, remote, engine)


def _check_mysql_fk_type(
    ctx: CheckContext, table: Table, local: Column, remote: Column, engine: str
) -> None:
    """MySQL wants the same integer type on both ends of a foreign key; PostgreSQL does not."""
    mine = ctx.effective(local.type, engine)
    theirs = ctx.effective(remote.type, engine)
    if not (isinstance(mine, sqltypes.Integer) and isinstance(theirs, sqltypes.Integer)):
        return
    dialect = offline_dialect(engine)
    a, b = mine.compile(dialect=dialect), theirs.compile(dialect=dialect)
    if a.split()[0] != b.split()[0]:
        ctx.add(
            table, local.name, engine, ERROR, "fk-type",
            f"MySQL requires the same integer type on both ends of a foreign key: {a} here, "
            f"{b} in {remote.table.fullname}.{remote.name} (PostgreSQL accepts the mix)",
            f"declare {local.name} with the referenced column's type ({b})",
        )


def _is_unique(table: Table, columns: set[str]) -> bool:
    if {c.name for c in table.primary_key.columns} == columns:
        return True
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint) and {c.name for c in constraint.columns} == columns:
            return True
    for index in table.indexes:
        if index.unique and {c.name for c in index.columns} == columns:
            return True
    return len(columns) == 1 and any(table.columns[n].unique for n in columns if n in table.columns)


def _check_mysql_keys(ctx: CheckContext, table: Table, engine: str) -> None:
    """Keys on TEXT/BLOB/JSON need a prefix length on MySQL, and keys have a byte limit."""
    limit = get_engine(engine).max_index_key_bytes or 0
    keys: list[tuple[str, list[Column], dict[str, int]]] = []
    pk = list(table.primary_key.columns)
    if pk:
        keys.append(("primary key", pk, {}))
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            keys.append(("unique constraint", list(constraint.columns), {}))
    for index in sorted(table.indexes, key=lambda i: str(i.name)):
        keys.append((f"index {index.name}", list(index.columns), _prefix_lengths(index)))
    reported: set[str] = set()
    for what, columns, prefixes in keys:
        total = 0
        for column in columns:
            real = ctx.effective(column.type, engine)
            if is_text_like(real) and column.name not in prefixes:
                total = -1
                if column.name in reported:
                    break
                reported.add(column.name)
                json = isinstance(real, sqltypes.JSON)
                ctx.add(
                    table, column.name, engine, ERROR, "text-index",
                    f"MySQL cannot key a {'JSON' if json else 'TEXT/BLOB'} column ({what}) "
                    + ("at all" if json else "without a prefix length")
                    + ": CREATE fails on MySQL 8 (MariaDB keys only a prefix, silently)",
                    "index a generated VARCHAR column instead"
                    if json
                    else f"Field(max_length=...) (a VARCHAR), or Index('ix_{table.name}_"
                    f"{column.name}', '{column.name}', mysql_length=191)",
                )
                break
            total += prefixes.get(column.name, _key_chars(real)) * MYSQL_BYTES_PER_CHAR
        if total > limit:
            ctx.add(
                table, columns[0].name, engine, ERROR, "text-index",
                f"the {what} needs {total} bytes in utf8mb4, over MySQL's "
                f"{limit}-byte key limit: CREATE fails on MySQL 8 "
                "(MariaDB shortens a non-unique key with a warning)",
                "shorter max_length on the key columns (768 characters in all), or "
                "mysql_length=... on the Index",
            )


def _prefix_lengths(index: Index) -> dict[str, int]:
    raw = index.dialect_options["mysql"].get("length")
    if isinstance(raw, int):
        return {c.name: raw for c in index.columns}
    if isinstance(raw, dict):
        return {str(k): int(v) for k, v in raw.items()}
    return {}


def _key_chars(type_: sqltypes.TypeEngine) -> int:
    """Characters a key part takes (numbers count as a few bytes, expressed in chars)."""
    if isinstance(type_, sqltypes.String) and not isinstance(type_, sqltypes.Enum):
        return type_.length or 255
    return 2
