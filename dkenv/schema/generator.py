"""SQLAlchemy's ``create_all`` visitor, with a deterministic order and a record of what it creates.

``metadata.create_all`` is run through SQLAlchemy's own ``SchemaGenerator`` (events,
sequences, enums, views, cycles as ALTER TABLE all come from it).  Two of its loops walk
sets, so their order changes from one process to the next: a table's indexes, and the
foreign keys added after the tables (a cycle's keys).  This subclass holds both back and
emits them sorted by name, at the same point SQLAlchemy would (before the table's or the
MetaData's ``after_create`` events), so the DDL, its hash and the first failing statement
are the same under every ``PYTHONHASHSEED``.  Deploy and the compile-only path both use it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Index, MetaData, Table
from sqlalchemy.sql.ddl import SchemaGenerator


def _index_key(index: Any) -> tuple[str, str]:
    return str(index.name or ""), ", ".join(str(e) for e in index.expressions)


def _fk_key(constraint: Any) -> tuple[str, str, str]:
    return (constraint.table.fullname, ", ".join(c.name for c in constraint.columns),
            str(constraint.name or ""))


class Generator(SchemaGenerator):
    """``SchemaGenerator`` with sorted index and ALTER-added foreign key order.

    ``on_created(table)`` is called after each table (its indexes and events included);
    ``on_table_error(table, exc)`` / ``on_fk_error(constraint, exc)`` may turn a driver error
    into a user message (they must raise).
    """

    on_created: Callable[[Any], None] | None = None
    on_table_error: Callable[[Any, BaseException], None] | None = None
    on_fk_error: Callable[[Any, BaseException], None] | None = None

    def __init__(self, dialect: Any, connection: Any, **kw: Any) -> None:
        super().__init__(dialect, connection, **kw)
        self._indexes: list[tuple[Any, bool]] | None = None
        self._fks: list[Any] | None = None

    # -- hold back, then emit sorted ------------------------------------------
    @contextlib.contextmanager
    def with_ddl_events(self, target: Any, **kw: Any) -> Iterator[None]:
        if isinstance(target, MetaData):
            self._fks = []
        with super().with_ddl_events(target, **kw):
            yield
            if isinstance(target, Table):
                self._flush_indexes()
            elif isinstance(target, MetaData):
                self._flush_fks()

    def visit_index(self, index: Index, create_ok: bool = False) -> None:
        if self._indexes is not None:
            self._indexes.append((index, create_ok))
            return
        super().visit_index(index, create_ok=create_ok)

    def _flush_indexes(self) -> None:
        held, self._indexes = self._indexes or [], None
        for index, create_ok in sorted(held, key=lambda pair: _index_key(pair[0])):
            super().visit_index(index, create_ok=create_ok)

    def visit_foreign_key_constraint(self, constraint: Any) -> None:
        if self._fks is not None:
            self._fks.append(constraint)
            return
        self._add_fk(constraint)

    def _flush_fks(self) -> None:
        held, self._fks = self._fks or [], None
        for constraint in sorted(held, key=_fk_key):
            self._add_fk(constraint)

    def _add_fk(self, constraint: Any) -> None:
        try:
            super().visit_foreign_key_constraint(constraint)
        except Exception as exc:
            if self.on_fk_error is None:
                raise
            self.on_fk_error(constraint, exc)
            raise

    # -- tables ---------------------------------------------------------------
    def visit_metadata(self, metadata: MetaData) -> None:
        try:
            super().visit_metadata(metadata)
        finally:
            if self._fks:  # SQLAlchemy without with_ddl_events (2.0): emit at the end
                self._flush_fks()
            self._fks = None

    def visit_table(self, table: Any, create_ok: bool = False, **kw: Any) -> None:
        if not create_ok and not self._can_create_table(table):
            return
        self._indexes = []
        try:
            super().visit_table(table, create_ok=True, **kw)
            if self._indexes:  # SQLAlchemy without with_ddl_events (2.0): emit at the end
                self._flush_indexes()
        except Exception as exc:
            self._indexes = None
            if self.on_table_error is None:
                raise
            self.on_table_error(table, exc)
            raise
        if self.on_created is not None:
            self.on_created(table)


def run_generator(connection: Any, metadata: MetaData, tables: list[Any], *, checkfirst: bool,
                  on_created: Callable[[Any], None] | None = None,
                  on_table_error: Callable[[Any, BaseException], None] | None = None,
                  on_fk_error: Callable[[Any, BaseException], None] | None = None) -> None:
    """``metadata.create_all(connection, tables=tables, checkfirst=checkfirst)`` through :class:`Generator`."""
    generator = Generator(connection.dialect, connection, checkfirst=checkfirst, tables=tables)
    generator.on_created = on_created
    generator.on_table_error = on_table_error
    generator.on_fk_error = on_fk_error
    generator.traverse_single(metadata)


__all__ = ["Generator", "run_generator"]
