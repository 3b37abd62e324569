"""Write validated rows: parents first, one transaction, the fastest path each engine has.

PostgreSQL (psycopg2): ``COPY ... FROM STDIN`` fed from an in-memory buffer, 10 000 rows at a
time.  MySQL/MariaDB and SQLite: SQLAlchemy ``insert()`` with a list of rows (executemany;
PyMySQL turns it into multi-row INSERTs).  Everything happens in one transaction, so a failure
leaves no row of the load behind (InnoDB DML is transactional too).

Foreign-key cycles (and self-references on MySQL, which InnoDB checks row by row): the values
were already checked in Python (rows.Keys + a lookup of the parents in the database), so the
database's own check is postponed for the load — SQLite ``PRAGMA defer_foreign_keys``,
MySQL ``SET FOREIGN_KEY_CHECKS=0`` on the load's connection only, PostgreSQL
``SET CONSTRAINTS ALL DEFERRED`` where the keys are deferrable, else
``SET LOCAL session_replication_role = replica`` (needs a superuser: the hint says so).
"""

from __future__ import annotations

import io
import json
import operator
import pickle
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as dtime
from typing import Any

from dkenv.data.files import DataFile
from dkenv.data.guard import is_environmental
from dkenv.data.rows import TableRules
from dkenv.engines import rules_for_dialect
from dkenv.engines.messages import describe_db_error
from dkenv.errors import DkenvError

#: Rows per COPY buffer / executemany batch, and per spooled chunk.
CHUNK = 10_000
#: Validated rows a file keeps in memory before the rest goes to a temp file.
MEMORY_ROWS = 50_000


class LoadFailed(DkenvError):
    """The database refused the rows; the transaction was rolled back."""


class Spool:
    """Validated rows parked between validation and writing: in memory up to ``MEMORY_ROWS``,
    then in a temp file, so a file of any size costs bounded memory."""

    def __init__(self) -> None:
        self._fh: Any = None
        self._chunks: list[list[Any]] = [[]]
        self._in_memory = 0
        self.rows = 0

    def add(self, item: Any) -> None:
        chunk = self._chunks[-1]
        chunk.append(item)
        self.rows += 1
        self._in_memory += 1
        if len(chunk) >= CHUNK:
            if self._in_memory >= MEMORY_ROWS:
                self._spill()
            self._chunks.append([])

    def _spill(self) -> None:
        if self._fh is None:
            self._fh = tempfile.TemporaryFile(prefix="dkenv-data-")
        for chunk in self._chunks:
            if chunk:
                pickle.dump(chunk, self._fh, protocol=pickle.HIGHEST_PROTOCOL)
        self._chunks = [[]]
        self._in_memory = 0

    def chunks(self) -> Iterator[list[Any]]:
        if self._fh is not None:
            self._fh.seek(0)
            while True:
                try:
                    yield pickle.load(self._fh)
                except EOFError:
                    break
        for chunk in self._chunks:
            if chunk:
                yield chunk

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
        self._chunks = [[]]


@dataclass
class FilePlan:
    """One data file, validated: which table, which columns it gives, its spooled rows."""

    file: DataFile
    rules: TableRules
    present: set[str] = field(default_factory=set)
    spool: Spool = field(default_factory=Spool)
    copy_lines: Callable[[tuple], str] | None = None  # PostgreSQL, CSV: rows spooled as COPY text

    def encode(self, values: tuple) -> Any:
        return values if self.copy_lines is None else self.copy_lines(values)

    @property
    def columns(self) -> list[str]:
        """The columns written: those the file gives, and those with a Python-side default."""
        return [c for c in self.rules.columns if c in self.present or c in self.rules.defaults]


def ordered(plans: Sequence[FilePlan]) -> tuple[list[FilePlan], bool]:
    """Plans parents first (file order kept within a table), and whether FK checks must wait.

    Sorted by the names foreign keys point to, not through SQLAlchemy's resolved keys: each
    datakit has a MetaData of its own, so silver's key into bronze never resolves there.
    """
    tables = list(dict.fromkeys(p.rules.name for p in plans))
    parents: dict[str, set[str]] = {name: set() for name in tables}
    postpone = False
    for plan in plans:
        for fk in plan.rules.table.foreign_key_constraints:
            parent = fk.elements[0].target_fullname.rsplit(".", 1)[0]
            if parent == plan.rules.name:
                postpone = True  # a self-reference: rows of one table may come in any order
            elif parent in parents:
                parents[plan.rules.name].add(parent)
    order: list[str] = []
    placed: set[str] = set()
    while len(order) < len(tables):
        ready = [t for t in tables if t not in placed and parents[t] <= placed]
        if not ready:  # a cycle: the rest in file order, checks postponed
            ready = [t for t in tables if t not in placed]
            postpone = True
        order.extend(ready)
        placed.update(ready)
    position = {name: i for i, name in enumerate(order)}
    return sorted(plans, key=lambda p: position[p.rules.name]), postpone


def defer_checks(conn: Any, plans: Sequence[FilePlan]) -> Callable[[], None]:
    """Postpone the database's FK checks for this load; returns what undoes it (MySQL)."""
    undo = rules_for_dialect(conn.dialect.name).defer_foreign_keys(conn, [p.rules.table for p in plans])
    if undo is None:
        raise LoadFailed(
            "the tables' foreign keys form a cycle, and this PostgreSQL user may not postpone "
            "non-deferrable foreign keys (session_replication_role needs a superuser)",
            "declare the cycle's foreign keys DEFERRABLE INITIALLY DEFERRED, or load as a superuser",
        )
    return undo


def write(conn: Any, plans: Sequence[FilePlan], progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Insert every plan's rows on ``conn`` (inside the caller's transaction); rows per table."""
    total = sum(p.spool.rows for p in plans)
    started = time.perf_counter()
    last = [started]
    done = 0
    counts: dict[str, int] = {}
    copy_driver = rules_for_dialect(conn.dialect.name).copy_driver
    copy = copy_driver is not None and conn.dialect.driver == copy_driver
    for plan in plans:
        name = plan.rules.name
        counts.setdefault(name, 0)
        columns = plan.columns
        if not columns or not plan.spool.rows:
            continue
        index = [plan.rules.columns.index(c) for c in columns]
        table = plan.rules.table
        for chunk in plan.spool.chunks():
            if plan.copy_lines is not None:
                rows = chunk
            elif len(index) != len(plan.rules.columns):
                rows = [tuple(r[i] for i in index) for r in chunk]
            else:
                rows = chunk
            try:
                if plan.copy_lines is not None:
                    _copy_text(conn, table, columns, "".join(rows))
                elif copy:
                    _copy(conn, table, columns, rows)
                else:
                    _executemany(conn, table, columns, rows)
            except Exception as exc:
                from sqlalchemy.exc import DBAPIError, StatementError

                driver_error = getattr(conn.dialect.loaded_dbapi, "Error", ())
                if is_environmental(exc, conn.dialect):
                    raise  # the caller says where: the container, the file
                if isinstance(exc, (DBAPIError, StatementError, driver_error)):
                    raise LoadFailed(f"loading {plan.file} into {name} failed: {describe_db_error(exc, detail=True)}; "
                                     f"nothing was loaded (the load was rolled back)",
                                     "fix the rows the database refused, or the table they clash with") from None
                raise
            done += len(rows)
            counts[name] += len(rows)
            now = time.perf_counter()
            if progress and now - last[0] >= 1.0:
                last[0] = now
                rate = done / (now - started)
                progress(f"dkenv: loading {name}: {done:,}/{total:,} rows ({rate:,.0f} rows/s)")
    return counts


def advance_sequences(conn: Any, plans: Sequence[FilePlan]) -> None:
    """PostgreSQL: move each sequence behind a loaded column (serial, identity) past its largest value.

    Rows loaded with their own keys leave the sequence where it was, so the next
    ``INSERT`` without a key would collide with row 1.  MySQL's AUTO_INCREMENT and SQLite's
    rowid follow explicit values by themselves.  ``pg_get_serial_sequence`` answers for both
    serial and identity columns; a sequence never moves backwards.
    """
    if not rules_for_dialect(conn.dialect.name).explicit_keys_leave_sequences:
        return
    from sqlalchemy import Integer, text
    from sqlalchemy.exc import DBAPIError

    preparer = conn.dialect.identifier_preparer
    translate = conn.get_execution_options().get("schema_translate_map") or {}
    for plan in plans:
        table = plan.rules.table
        if not plan.spool.rows:
            continue
        schema = translate.get(table.schema, table.schema)
        name = (preparer.quote_schema(schema) + "." if schema else "") + preparer.quote(table.name)
        for column in plan.columns:
            if not isinstance(table.c[column].type, Integer):
                continue
            col = preparer.quote(column)
            try:
                conn.execute(text(
                    f"SELECT setval(q.s, greatest(q.m, coalesce(pg_sequence_last_value(q.s::regclass), 0))) "
                    f"FROM (SELECT pg_get_serial_sequence(:t, :c) AS s, (SELECT max({col}) FROM {name}) AS m) q "
                    f"WHERE q.s IS NOT NULL AND q.m IS NOT NULL"), {"t": name, "c": column})
            except DBAPIError as exc:
                if is_environmental(exc, conn.dialect):
                    raise
                raise LoadFailed(f"loading into {plan.rules.name} failed: the sequence of {column} could not be "
                                 f"moved past the loaded keys: {describe_db_error(exc, detail=True)}; nothing was loaded (the load "
                                 f"was rolled back)", "load as the sequence's owner, or GRANT USAGE, UPDATE ON "
                                 "the sequence to the loading role") from None


def _executemany(conn: Any, table: Any, columns: list[str], rows: list[tuple]) -> None:
    """One INSERT compiled by SQLAlchemy (schema translation and Python-side column defaults
    included), the column types' own bind processing, then the driver's ``executemany`` on the
    load's connection: SQLAlchemy's per-row parameter building costs more than SQLite's insert."""
    dialect = conn.dialect
    translate = conn.get_execution_options().get("schema_translate_map")
    by_key = {c.key: c for c in table.columns}
    position = {table.c[c].key: i for i, c in enumerate(columns)}
    compiled = table.insert().compile(dialect=dialect, column_keys=list(position),
                                      schema_translate_map=translate or None)
    binds = list(compiled.positiontup if compiled.positional else compiled.binds)
    keys = [compiled.binds[b].key for b in binds]
    getters: list[Callable[[tuple], Any]] = []
    for key in keys:
        if key in position:
            getters.append(operator.itemgetter(position[key]))
            continue
        default = by_key[key].default  # a column the file leaves out, with a Python-side default
        if default is not None and default.is_scalar:
            getters.append(lambda _row, v=default.arg: v)
        elif default is not None and default.is_callable:
            getters.append(lambda _row, f=default.arg: f(None))
        else:  # a sequence or anything else only SQLAlchemy's own execution knows how to fill
            conn.execute(table.insert(), [dict(zip(columns, r)) for r in rows])
            return
    steps = [(get, by_key[k].type._cached_bind_processor(dialect)) for get, k in zip(getters, keys)]  # noqa: SLF001
    values = [tuple(v if (v := get(row)) is None or proc is None else proc(v) for get, proc in steps)
              for row in rows]
    params: list[Any] = values if compiled.positional else [dict(zip(binds, v)) for v in values]
    sql = str(compiled)
    if translate:
        sql = compiled.preparer._render_schema_translates(sql, translate)  # noqa: SLF001
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.executemany(sql, params)
    finally:
        cursor.close()


# ---------------------------------------------------------------------------
# PostgreSQL COPY
# ---------------------------------------------------------------------------
def copy_mode(target: Any) -> bool:
    """Whether a target is PostgreSQL through psycopg2 (COPY), known before connecting."""
    copy_driver = target.engine.copy_driver
    if copy_driver is None:
        return False
    if not target.url:
        return True  # dkenv's own PostgreSQL URLs use psycopg2
    from sqlalchemy.engine import make_url

    from dkenv.engines.drivers import with_installed_driver

    return make_url(with_installed_driver(target.url)).get_driver_name() == copy_driver


def line_encoder(table: Any, columns: list[str], all_columns: list[str]) -> Callable[[tuple], str]:
    """Values in ``all_columns`` order -> one COPY text line of ``columns``."""
    from sqlalchemy.dialects.postgresql.psycopg2 import dialect

    pg = dialect()
    encoders = [(all_columns.index(c), _encoder(table.c[c], pg)) for c in columns]

    def encode(values: tuple) -> str:
        return "\t".join([enc(values[i]) for i, enc in encoders]) + "\n"

    return encode


def _copy(conn: Any, table: Any, columns: list[str], rows: list[tuple]) -> None:
    encoders = [_encoder(table.c[c], conn.dialect) for c in columns]
    text = "".join("\t".join([enc(v) for enc, v in zip(encoders, row)]) + "\n" for row in rows)
    _copy_text(conn, table, columns, text)


def _copy_text(conn: Any, table: Any, columns: list[str], text: str) -> None:
    preparer = conn.dialect.identifier_preparer
    schema = table.schema
    translate = conn.get_execution_options().get("schema_translate_map") or {}
    schema = translate.get(schema, schema)
    name = (preparer.quote_schema(schema) + "." if schema else "") + preparer.quote(table.name)
    cols = ", ".join(preparer.quote(c) for c in columns)
    buf = io.StringIO(text)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.copy_expert(f"COPY {name} ({cols}) FROM STDIN", buf)
    finally:
        cursor.close()


_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: Any) -> str:
    """A value in COPY's text format (``\\N`` is NULL)."""
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, (datetime, date, dtime)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "\\\\x" + bytes(value).hex()
    if isinstance(value, (dict, list)):
        return json.dumps(value).translate(_ESCAPES)
    return str(value).translate(_ESCAPES)


def _encoder(column: Any, dialect: Any) -> Callable[[Any], str]:
    """COPY text of a column's values, through the type's own bind processing (enums, JSON)."""
    from sqlalchemy import ARRAY, Enum

    if isinstance(column.type, ARRAY):
        return lambda v: "\\N" if v is None else _pg_array(v)
    processor = column.type.bind_processor(dialect) if isinstance(column.type, Enum) else None
    if processor is None:
        return _text
    return lambda v: _text(processor(v) if v is not None else None)


def _pg_array(values: list[Any]) -> str:
    def item(v: Any) -> str:
        if v is None:
            return "NULL"
        return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'

    return ("{" + ",".join(item(v) for v in values) + "}").translate(_ESCAPES)
