"""Create a datakit's tables one at a time, recording each failure instead of stopping.

`dkenv check` needs to know *which* tables break on an engine; a normal deploy stops at the
first failing table and undoes everything.  Tables that reference a failed table are skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dkenv.check.report import FAILED, SKIPPED
from dkenv.engines.registry import LABELS
from dkenv.errors import DkenvError

if TYPE_CHECKING:
    import sqlalchemy as sa

    from dkenv.servers.runtime import TargetRuntime

# ---------------------------------------------------------------------------
# Deploying table by table
# ---------------------------------------------------------------------------
class TableDeployer:
    """Create tables one by one in a fresh database, recording each failure instead of stopping."""

    def __init__(self, rt: TargetRuntime, engine: str) -> None:
        self.rt = rt
        self.engine = engine

    def deploy(self, tables: list[Any], cells: dict[str, tuple[str, str]]) -> list[Any]:
        """The copies that were created, in creation order; ``cells`` gets every failure."""
        from dkenv.engines import engine_for_dialect

        self.spec = engine_for_dialect(self.rt.engine.dialect.name)
        broken = self._uncompilable(tables)
        broken.update(self._uncarried_defaults([t for t in tables if t.fullname not in broken]))
        for name, message in broken.items():
            cells[name] = (FAILED, message)
        metadata, copies = self._copy([t for t in tables if t.fullname not in broken])
        by_name = {t.fullname: t for t in tables}
        created: list[Any] = []
        unusable = set(broken)
        failed_schemas = self._create_schemas(copies, by_name)
        with self.rt.lock, self.rt.connect() as conn:
            present = self._present(conn, copies, by_name)
            for table in _fk_order(copies):
                reason = self._blocked(table, unusable, by_name, present, failed_schemas)
                if reason is not None:
                    status, detail = reason
                    cells[table.fullname] = (status, detail)
                    unusable.add(table.fullname)
                    continue
                error = self._create(conn, table, metadata, by_name)
                if error is not None:
                    cells[table.fullname] = (FAILED, error)
                    unusable.add(table.fullname)
                else:
                    created.append(table)
        return created

    def _uncompilable(self, tables: list[Any]) -> dict[str, str]:
        """Tables with a column type this engine lacks: the column and the portable spelling.

        SQLAlchemy's own compile error names neither ("Compiler <…> can't render element of
        type ARRAY"); the engine layer's finding does, the same one the static pass shows.
        """
        from dkenv.engines.compat import uncompilable_columns

        broken: dict[str, str] = {}
        for issue in uncompilable_columns(tables, self.spec.name):
            broken.setdefault(issue.table, f"{issue.column}: {issue.message}; use {issue.fix}")
        return broken

    def _uncarried_defaults(self, tables: list[Any]) -> dict[str, str]:
        """Tables whose server defaults dkenv cannot carry to this engine (PostgreSQL-only SQL)."""
        from dkenv.schema import copy_for_engine

        try:
            copy_for_engine(tables, self.rt)
            return {}
        except DkenvError:
            pass
        broken: dict[str, str] = {}
        for table in tables:
            try:
                copy_for_engine([table], self.rt)
            except DkenvError as exc:
                broken[table.fullname] = first_line(exc.message)
        return broken

    def _copy(self, tables: list[Any]) -> tuple[Any, list[Any]]:
        from sqlalchemy import MetaData

        from dkenv.schema import copy_for_engine

        if not tables:
            return MetaData(), []
        return copy_for_engine(tables, self.rt)

    def _create_schemas(self, copies: list[Any], by_name: dict[str, Any]) -> dict[str, str]:
        """Create each schema the tables live in (or reference); failures by schema name."""
        schemas = sorted({t.schema for t in copies if t.schema}
                         | {s for t in copies for s in _fk_schemas(t)})
        if not schemas:
            return {}
        if self.spec.attaches_schemas:
            self.rt.attach_schemas(schemas, create=True)
            return {}
        failed: dict[str, str] = {}
        from sqlalchemy.exc import DBAPIError

        with self.rt.lock, self.rt.connect() as conn:
            for schema in schemas:
                try:
                    with conn.begin():
                        if not self.spec.schema_exists(conn, schema):
                            self.spec.create_schema(conn, schema)
                except DBAPIError as exc:
                    from dkenv.check.smoke import trim_error

                    failed[schema] = f"schema {schema} cannot be created: {trim_error(exc)}"
        return failed

    def _present(self, conn: sa.Connection, copies: list[Any], by_name: dict[str, Any]) -> set[str]:
        """Tables referenced from outside the checked datakits that the database already holds."""
        from sqlalchemy import inspect

        external = {ref for t in copies for ref in _fk_targets(t)} - set(by_name)
        if not external:
            return set()
        inspector = inspect(conn)
        present = set()
        try:
            for ref in sorted(external):
                schema, _, name = ref.rpartition(".")
                try:
                    if inspector.has_table(name, schema=schema or None):
                        present.add(ref)
                except Exception:  # noqa: BLE001 - a schema that does not exist holds nothing
                    continue
        finally:
            # The inspector autobegan a transaction; each table below opens its own, and one
            # left open here would fail every one of them ("already initialized a
            # Transaction()"), whatever the table.
            conn.rollback()
        return present

    def _blocked(
        self,
        table: Any,
        unusable: set[str],
        by_name: dict[str, Any],
        present: set[str],
        failed_schemas: dict[str, str],
    ) -> tuple[str, str] | None:
        """Why ``table`` cannot be tried (its schema failed, a parent failed or is missing)."""
        if table.schema in failed_schemas:
            return FAILED, failed_schemas[table.schema]
        refs = [r for r in _fk_targets(table) if r != table.fullname]
        for ref in refs:  # its own fault first: a reference that cannot resolve anywhere
            if ref not in by_name and ref not in present:
                column = _fk_column(table, ref)
                return FAILED, (f"foreign key {column} references {ref}, which neither the "
                                f"checked datakits nor the database define (check it together "
                                f"with the datakit that defines {ref}, listed first)")
        for ref in refs:
            if ref in unusable:
                return SKIPPED, f"not tried: it references {ref}, which failed on this engine"
        return None

    def _reflect_external(self, conn: sa.Connection, table: Any, metadata: Any,
                          by_name: dict[str, Any]) -> None:
        """Make a referenced table that lives only in the database known to the MetaData."""
        from sqlalchemy import Table

        for ref in _fk_targets(table):
            if ref in by_name or ref in metadata.tables:
                continue
            schema, _, name = ref.rpartition(".")
            Table(name, metadata, schema=schema or None, autoload_with=conn, resolve_fks=False)

    def _create(self, conn: sa.Connection, table: Any, metadata: Any,
                by_name: dict[str, Any]) -> str | None:
        """CREATE TABLE and its indexes in one transaction; the database's message on failure.

        The table is isolated from its neighbours: whatever a failed table left behind is
        rolled back first, and reflecting a referenced table happens inside this transaction.
        """
        from sqlalchemy.exc import DBAPIError, SQLAlchemyError

        from dkenv.engines import describe_db_error

        if conn.in_transaction():
            conn.rollback()
        try:
            with conn.begin():
                self._reflect_external(conn, table, metadata, by_name)
                # a named enum type shared by several tables is created once
                table.create(conn, checkfirst=self.spec.named_enum_types)
        except DBAPIError as exc:
            return describe_db_error(exc)
        except SQLAlchemyError as exc:  # compile errors: e.g. "VARCHAR requires a length"
            return f"SQLAlchemy cannot compile it for {LABELS[self.engine]}: " \
                   f"{first_line(str(exc))}"
        return None


# ---------------------------------------------------------------------------
# Helpers on tables (no resolution of foreign keys: their targets may not exist)
# ---------------------------------------------------------------------------
def _foreign_keys(table: Any) -> list[Any]:
    """``table.foreign_keys`` (a set) in column order, so messages never depend on hashing."""
    position = {column.key: i for i, column in enumerate(table.columns)}
    return sorted(table.foreign_keys,
                  key=lambda fk: (position.get(fk.parent.key, 0), fk.target_fullname))


def _fk_targets(table: Any) -> list[str]:
    """Schema-qualified names of the tables ``table`` references, in column order."""
    seen: list[str] = []
    for fk in _foreign_keys(table):
        ref = fk.target_fullname.rsplit(".", 1)[0]
        if ref not in seen:
            seen.append(ref)
    return seen


def _fk_schemas(table: Any) -> set[str]:
    return {ref.rpartition(".")[0] for ref in _fk_targets(table)} - {""}


def _fk_column(table: Any, ref: str) -> str:
    for fk in _foreign_keys(table):
        if fk.target_fullname.rsplit(".", 1)[0] == ref:
            return f"{table.fullname}.{fk.parent.name}"
    return table.fullname


def _fk_order(tables: list[Any]) -> list[Any]:
    """Parents before children, otherwise in the given order (bronze before silver).

    A stable topological sort on the foreign keys' *names*, so that references to tables that
    are missing or failed never need resolving. Tables in a cycle keep their given order.
    """
    names = {t.fullname for t in tables}
    pending = list(tables)
    done: set[str] = set()
    ordered: list[Any] = []
    while pending:
        ready = next((i for i, table in enumerate(pending)
                      if {r for r in _fk_targets(table) if r in names and r != table.fullname}
                      <= done), 0)  # 0 in a cycle: the database will say what it thinks of it
        table = pending.pop(ready)
        ordered.append(table)
        done.add(table.fullname)
    return ordered




def first_line(text: str) -> str:
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return lines[0][:300] if lines else ""
