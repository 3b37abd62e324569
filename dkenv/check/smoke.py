"""Smoke rows: insert one generated row per table, read it back, and roll everything back.

CREATE TABLE succeeding does not mean a table works: SQLite accepts ``DEFAULT (now())`` and
fails on the first INSERT that uses it; MySQL turns ``NUMERIC`` into ``DECIMAL(10,0)`` and
rounds 12.34 to 12 without an error; an enum stores the Python member names, so data loaded
with the values is rejected. One ordinary row per table shows all of that in milliseconds.

Transactions: if ``connection`` is not in a transaction, `smoke_rows` begins one and rolls it
back; if it is, the work happens inside a SAVEPOINT that is rolled back, and the caller's
transaction is left as it was. Each table gets its own nested SAVEPOINT, so one failure (which
aborts the whole transaction on PostgreSQL) does not poison the tables after it. Nothing stays
in the database either way. On MySQL, tables must be InnoDB for the rollback to undo rows; a
connection in AUTOCOMMIT mode is refused (ValueError), since nothing could be rolled back.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Column, ForeignKeyConstraint, Table
from sqlalchemy import types as sqltypes
from sqlalchemy.exc import DBAPIError, SQLAlchemyError, StatementError
from sqlalchemy.schema import DefaultClause

from dkenv.check.context import effective_type
from dkenv.check.values import NoValue, differs, engine_of, value_for
from dkenv.engines import describe_db_error, rules_for_dialect


@dataclass(frozen=True)
class SmokeFailure:
    """A table (and column, when known) whose smoke row failed, with the database's message.

    ``kind`` says what failed: ``"insert"`` (the database refused the row — the table does not
    work), ``"changed"`` (the row was stored but read back different: silent data change),
    ``"enum-labels"`` (the database holds member names; loading the values fails: a warning),
    ``"unchecked"`` (dkenv could not produce a value the column's type takes, or the type's
    own Python code refused dkenv's value: dkenv's limit, not the table's), or
    ``"parent"`` (not tried: a parent table it references failed or is empty).
    """

    table: str
    column: str | None
    error: str
    kind: str = "insert"

    def to_dict(self) -> dict[str, str | None]:
        return {"table": self.table, "column": self.column, "error": self.error, "kind": self.kind}


def smoke_rows(connection: sa.Connection, tables: Sequence[Table]) -> list[SmokeFailure]:
    """Insert one generated row per table in foreign-key order, check it, and roll it all back.

    Columns with a server default and autoincrement keys are left out so the database's
    defaults run; foreign keys take the parent's inserted row (or an existing row, for parents
    outside ``tables``). Returns one `SmokeFailure` per problem, in table order.
    """
    if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        raise ValueError(
            "smoke_rows needs a transactional connection to roll its rows back; "
            "this one is in AUTOCOMMIT mode"
        )
    outer = connection.begin_nested() if connection.in_transaction() else connection.begin()
    _ensure_sqlite_transaction(connection)
    runner = _Runner(connection, list(tables))
    try:
        runner.run()
    finally:
        outer.rollback()
    return runner.failures


def trim_error(exc: BaseException) -> str:
    """The database's own message, reduced to the line that says what went wrong."""
    return describe_db_error(exc)


def _ensure_sqlite_transaction(connection: sa.Connection) -> None:
    """Make SAVEPOINTs nest on pysqlite, which otherwise commits on RELEASE.

    Python's sqlite3 module (before autocommit=False) only sends BEGIN before DML, so a
    SAVEPOINT opened first becomes its own transaction and the final rollback would undo
    nothing. An explicit BEGIN, when the driver is not in a transaction yet, fixes that.
    """
    if not rules_for_dialect(connection.dialect.name).needs_explicit_begin:
        return
    raw = connection.connection.dbapi_connection
    if raw is not None and not getattr(raw, "in_transaction", True):
        raw.execute("BEGIN")


class _Runner:
    """One smoke pass: the inserted rows by table, and the failures found."""

    def __init__(self, connection: sa.Connection, tables: list[Table]) -> None:
        self.connection = connection
        self.tables = tables
        self.engine = engine_of(connection.dialect.name)
        self.by_name = {t.fullname: t for t in tables}
        self.rows: dict[str, dict[str, Any] | None] = {}
        self.failures: list[SmokeFailure] = []

    def run(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dependency cycles: sort_tables still orders them
            ordered = sa.schema.sort_tables(self.tables)
        for number, table in enumerate(ordered):
            self.rows[table.fullname] = self._smoke_table(table, seed=number * 100)

    def fail(self, table: Table, column: str | None, error: str, kind: str = "insert") -> None:
        self.failures.append(SmokeFailure(table.fullname, column, error, kind))

    def _smoke_table(self, table: Table, seed: int) -> dict[str, Any] | None:
        values = self._values(table, seed)
        if values is None:
            return None
        savepoint = self.connection.begin_nested()
        try:
            result = self.connection.execute(table.insert().values(values))
            key = _primary_key(table, result, values)
            row = self._read_back(table, key, values)
        except DBAPIError as exc:  # the database refused the row: the table's failure
            savepoint.rollback()
            self.fail(table, _guess_column(trim_error(exc), table), trim_error(exc))
            return None
        except (SQLAlchemyError, LookupError, ValueError, TypeError) as exc:
            # raised in Python (a TypeDecorator's bind/result code, a result processor) on
            # dkenv's own value: dkenv's limit, not the table's
            savepoint.rollback()
            cause = getattr(exc, "orig", None) or exc
            self.fail(table, _guess_column(str(exc), table),
                      f"the column's type did not take dkenv's value ({type(cause).__name__}:"
                      f" {str(cause).splitlines()[0][:160]})", "unchecked")
            return None
        if row is not None:
            for column in table.columns:
                if column.key in values:
                    change = differs(values[column.key], row.get(column.name))
                    if change:
                        self.fail(table, column.name, change, "changed")
            if key:
                self._check_enum_labels(table, key)
        savepoint.commit()
        merged = dict(values)
        if row:
            merged.update({c.key: row.get(c.name) for c in table.columns})
        return merged

    def _values(self, table: Table, seed: int) -> dict[str, Any] | None:
        values: dict[str, Any] = {}
        fk_columns: set[str] = set()
        for constraint in sorted(
            (c for c in table.constraints if isinstance(c, ForeignKeyConstraint)),
            key=lambda c: tuple(c.column_keys),
        ):
            if any(_omitted(table, c) for c in constraint.columns):
                continue
            parent_values = self._parent_values(table, constraint, seed)
            if parent_values is None:
                return None
            values.update(parent_values)
            fk_columns.update(c.key for c in constraint.columns)
        for offset, column in enumerate(table.columns):
            if column.key in fk_columns or _omitted(table, column):
                continue
            try:
                values[column.key] = value_for(column, self.engine, seed + offset)
            except NoValue as exc:
                if column.nullable:
                    continue
                self.fail(table, column.name, f"dkenv cannot generate a value: {exc}",
                          "unchecked")
                return None
        return values

    def _parent_values(
        self, table: Table, constraint: ForeignKeyConstraint, seed: int
    ) -> dict[str, Any] | None:
        """Values for the FK columns from the parent row; None (after recording why) if none."""
        elements = list(constraint.elements)
        target = elements[0].target_fullname.rsplit(".", 1)[0]
        remote = [e.target_fullname.rsplit(".", 1)[1] for e in elements]
        local = [e.parent for e in elements]
        nullable = all(c.nullable for c in local)
        if target == table.fullname:
            if nullable:
                return {c.key: None for c in local}
            own = {c.name: value_for(c, self.engine, seed + i) for i, c in enumerate(table.columns)
                   if c.name in remote and not _omitted(table, c)}
            if len(own) == len(remote):
                return {c.key: own[r] for c, r in zip(local, remote, strict=True)}
            self.fail(table, local[0].name, "a NOT NULL foreign key to its own generated key "
                      "cannot be filled in a single row", "parent")
            return None
        if target in self.by_name:
            parent_row = self.rows.get(target)
            if parent_row is None:
                if nullable:
                    return {c.key: None for c in local}
                self.fail(table, local[0].name,
                          f"not inserted: its parent table {target} failed its smoke row", "parent")
                return None
            parent = self.by_name[target]
            return {c.key: parent_row.get(parent.columns[r].key) for c, r in
                    zip(local, remote, strict=True)}
        return self._existing_parent(table, target, local, remote, nullable)

    def _existing_parent(
        self, table: Table, target: str, local: list[Column], remote: list[str], nullable: bool
    ) -> dict[str, Any] | None:
        """A parent outside the checked tables is already in the database: use one of its rows."""
        schema, _, name = target.rpartition(".")
        parent = sa.table(name, *(sa.column(r) for r in remote), schema=schema or None)
        savepoint = self.connection.begin_nested()
        try:
            row = self.connection.execute(sa.select(parent).limit(1)).first()
            savepoint.commit()
        except DBAPIError as exc:
            savepoint.rollback()
            self.fail(table, local[0].name, trim_error(exc), "parent")
            return None
        if row is not None:
            return {c.key: row[i] for i, c in enumerate(local)}
        if nullable:
            return {c.key: None for c in local}
        self.fail(table, local[0].name,
                  f"not inserted: {target} has no row to reference (load it first)", "parent")
        return None

    def _read_back(
        self, table: Table, key: dict[str, Any] | None, values: dict[str, Any]
    ) -> dict[str, Any] | None:
        if key:
            where = [table.columns[name] == value for name, value in key.items()]
        else:
            where = [table.c[k] == v for k, v in values.items()
                     if isinstance(v, (int, str)) and not isinstance(v, bool)]
            if not where:
                return None
        row = self.connection.execute(sa.select(table).where(*where).limit(1)).mappings().first()
        return dict(row) if row is not None else None

    def _check_enum_labels(self, table: Table, key: dict[str, Any]) -> None:
        """Write an enum's *value* as other loaders would; report when the database refuses it."""
        for column in table.columns:
            real = effective_type(column.type, self.engine)
            if not isinstance(real, sqltypes.Enum) or real.enum_class is None:
                continue
            if real.values_callable is not None:
                continue
            member = next((m for m in real.enum_class if str(m.value) != m.name), None)
            if member is None:
                continue
            self._try_value(table, column, key, member)

    def _try_value(self, table: Table, column: Column, key: dict[str, Any], member: Any) -> None:
        prep = self.connection.dialect.identifier_preparer
        where = " AND ".join(f"{prep.quote(name)} = :k{i}" for i, name in enumerate(key))
        params = {f"k{i}": value for i, value in enumerate(key.values())}
        params["v"] = str(member.value)
        sql = sa.text(f"UPDATE {prep.format_table(table)} SET {prep.quote(column.name)} = :v "
                      f"WHERE {where}")
        head = (f"the database holds the member names ({member.name!r}), not the values: "
                f"writing {str(member.value)!r} as other loaders do ")
        savepoint = self.connection.begin_nested()
        try:
            self.connection.execute(sql, params)
            try:
                where_clause = [table.columns[n] == v for n, v in key.items()]
                self.connection.execute(sa.select(column).where(*where_clause)).first()
            except (LookupError, StatementError) as exc:
                self.fail(table, column.name, head + f"is stored, but SQLAlchemy cannot read it "
                          f"back ({str(exc).splitlines()[0][:160]})", "enum-labels")
        except DBAPIError as exc:
            self.fail(table, column.name, head + f"fails: {trim_error(exc)}", "enum-labels")
        finally:
            savepoint.rollback()


def _omitted(table: Table, column: Column) -> bool:
    """Columns the database (or SQLAlchemy) fills: leaving them out exercises the defaults."""
    if column.server_default is not None or column.computed is not None:
        return True
    if column.identity is not None or column.default is not None:
        return True
    return table.autoincrement_column is column


def _primary_key(table: Table, result: sa.CursorResult, values: dict[str, Any]) -> dict[str, Any] | None:
    pk = list(table.primary_key.columns)
    if not pk:
        return None
    try:
        inserted = result.inserted_primary_key
    except (SQLAlchemyError, TypeError):
        inserted = None
    key: dict[str, Any] = {}
    for i, column in enumerate(pk):
        value = inserted[i] if inserted is not None and i < len(inserted) else None
        if value is None:
            value = values.get(column.key)
        if value is None:
            return None
        key[column.name] = value
    return key


_FUNCTION = re.compile(r"(?:function:?\s+|function\s+\S*?\.)?([A-Za-z_][\w]*)\s*\(")


def _guess_column(message: str, table: Table) -> str | None:
    """The column a database message is about: named in it, or owning the failing default."""
    lowered = message.lower()
    best: tuple[int, str] | None = None
    for column in table.columns:
        name = column.name.lower()
        match = re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", lowered)
        if match and not _is_table_name(lowered, match.start(), table):
            if best is None or match.start() < best[0]:
                best = (match.start(), column.name)
    if best is not None:
        return best[1]
    for function in _FUNCTION.findall(message):
        for column in table.columns:
            default = column.server_default
            if isinstance(default, DefaultClause) and function.lower() in str(
                getattr(default.arg, "text", default.arg)
            ).lower():
                return column.name
    return None


def _is_table_name(lowered: str, start: int, table: Table) -> bool:
    """True when the match at ``start`` is the table's own name (e.g. "relation \"t\"")."""
    name = table.name.lower()
    return lowered[start:start + len(name)] == name and not lowered[start + len(name):].startswith(".")
