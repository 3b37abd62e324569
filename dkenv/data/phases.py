"""Data in the loop: load data files into a deployment of datakits, all or nothing, in three phases.

    from dkenv.data import load_data
    result = load_data(target, ["data/sample"], ["examples/bronze-pagila"])
    result.tables          # {"br__pagila__public.actor": 200, ...}

Three phases, and nothing touches the database before the second: every file is read
(streamed) and every row validated through its table's model, keys are checked across all
files, and the rows are parked in temp files; then foreign keys that point outside the run
are looked up in the database; then one transaction writes everything, parents first
(:mod:`dkenv.data.load`).  Any bad row stops the load before a row is written: the report
lists them all, ``file:line: table.column: what is wrong (value)``.

Import layer: above servers/, deploy/ and datakit; below databases/, environments/ and cli/.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dkenv.data.files import DataFile, check_encoding, find_files
from dkenv.data.guard import environment_failure, is_disk_full, is_environmental, strict_mode
from dkenv.data.load import (
    FilePlan,
    advance_sequences,
    copy_mode,
    defer_checks,
    line_encoder,
    ordered,
    write,
)
from dkenv.data.rows import Keys, Problems, TableRules, rules_for
from dkenv.datakit import Datakit, datakit_of
from dkenv.engines import describe_db_error, rules_for_dialect
from dkenv.errors import EnvironmentFailure, UsageError
from dkenv.servers.runtime import Where, runtime_for, target_of


@dataclass
class LoadResult:
    """What a load did: rows per table, per file, and a note when there was nothing to load."""

    success: bool
    target: str
    tables: dict[str, int] = field(default_factory=dict)
    files: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    duration_s: float = 0.0

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def to_dict(self) -> dict[str, Any]:
        return {"success": self.success, "target": self.target, "rows": self.rows, "tables": self.tables,
                "files": self.files, "note": self.note, "duration_s": round(self.duration_s, 4)}

    def summary(self) -> str:
        if self.note:
            return self.note
        lines = [f"loaded {self.rows:,} row(s) into {len(self.tables)} table(s) on {self.target} "
                 f"in {self.duration_s:.2f} s"]
        if len(self.tables) <= 20:
            width = max(len(t) for t in self.tables)
            lines += [f"  {table:<{width}}  {rows:>9,} rows" for table, rows in self.tables.items()]
        return "\n".join(lines)


def data_dirs_of(kits: Iterable[Any]) -> list[Path]:
    """The data directories datakits declare themselves (``[tool.dkenv] data = [...]``)."""
    return [Path(d) for kit in kits for d in (getattr(kit, "data_dirs", None) or [])]


def load_data(target: Where, dirs: Sequence[str | Path], datakits: Sequence[Any], *,
              progress: Callable[[str], None] | None = None, encoding: str | None = None) -> LoadResult:
    """Load the data files of ``dirs`` into ``target``, where ``datakits`` are deployed.

    Raises :class:`UsageError` (exit 2) for a file or column no datakit defines or a
    malformed file, :class:`BadRows` (exit 1) for rows that do not fit their tables, and
    :class:`LoadFailed` (exit 1) when the database refuses them, :class:`EnvironmentFailure`
    (exit 3) for a full disk or a lost server; in every case nothing of this load is in the
    database afterwards.  ``encoding`` is the data files' (default UTF-8, past a byte-order mark).
    """
    with read_data(target, dirs, datakits, encoding=encoding) as prepared:
        return prepared.write(progress)


class PreparedLoad:
    """Data files read and validated, rows parked: :meth:`write` puts them into the target.

    ``dkenv deploy --data`` reads before it deploys, so a bad row fails before any container
    starts; the rows are written after the deploy.  A context manager: it removes its temp files.
    """

    def __init__(self, target: Where, plans: list[FilePlan], keys: Keys, note: str | None, started: float) -> None:
        self.where, self.plans, self.keys, self.note, self.started = target, plans, keys, note, started
        self.target = target_of(target)

    def write(self, progress: Callable[[str], None] | None = None, *, into: Where | None = None) -> LoadResult:
        """Write the rows into the target (``into``: the runtime a job opened after reading)."""
        target, plans = self.target, self.plans
        if not plans:
            return LoadResult(success=True, target=target.name, note=self.note)
        problems = Problems()
        loaded = {p.rules.name for p in plans}
        rt = runtime_for(into if into is not None else self.where)
        rt.attach_schemas({p.rules.table.schema for p in plans if p.rules.table.schema}, create=False)
        schema_map = dict((target.options or {}).get("schema_map") or {})
        try:
            with rt.lock, rt.begin() as conn:
                if schema_map:
                    conn.execution_options(schema_translate_map=schema_map)
                lenient = strict_mode(conn)
                try:
                    _check_references(conn, self.keys, loaded, problems)
                    problems.raise_if_any()
                    plans_in_order, postpone = ordered(plans)
                    undo = defer_checks(conn, plans_in_order) if postpone else (lambda: None)
                    try:
                        counts = write(conn, plans_in_order, progress)
                    finally:
                        undo()
                    advance_sequences(conn, plans_in_order)
                finally:
                    lenient()
        except Exception as exc:  # a full disk, a lost server: exit 3 with where it happened
            failure = environment_failure(exc, rt)
            if failure is None:
                raise
            raise failure from None
        return LoadResult(
            success=True, target=target.name, tables=counts,
            files=[{"file": str(p.file), "table": p.rules.name, "rows": p.spool.rows} for p in plans],
            duration_s=time.perf_counter() - self.started,
        )

    def close(self) -> None:
        for plan in self.plans:
            plan.spool.close()

    def __enter__(self) -> PreparedLoad:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_data(target: Where, dirs: Sequence[str | Path], datakits: Sequence[Any], *,
              encoding: str | None = None) -> PreparedLoad:
    """Read and validate every data file of ``dirs`` against ``datakits``; touches no database.

    ``target`` only says which engine the rows are for (PostgreSQL: spooled as COPY text).
    Raises like :func:`load_data`, except for foreign keys into rows already in the
    database, which :meth:`PreparedLoad.write` checks.
    """
    started = time.perf_counter()
    kits = [datakit_of(k) for k in datakits]
    files = find_files(dirs, check_encoding(encoding))
    if not files:
        where = ", ".join(str(d) for d in dirs) or "(no directory)"
        return PreparedLoad(target, [], Keys(), f"no data files in {where}: nothing to load", started)
    plans = _plans(files, kits)
    copy = copy_mode(target_of(target))
    problems = Problems()
    keys = _keys_for(plans)
    try:
        for plan in plans:
            _read(plan, keys, problems, copy=copy)
        problems.raise_if_any()
    except BaseException as exc:
        for plan in plans:
            plan.spool.close()
        if isinstance(exc, OSError) and is_disk_full(exc):  # the spool's temp files
            raise EnvironmentFailure(f"no space left for the load's temporary files in {tempfile.gettempdir()} "
                                     f"({describe_db_error(exc)}); nothing was loaded",
                                     "free space there, or point TMPDIR at a bigger disk") from None
        raise
    return PreparedLoad(target, plans, keys, None, started)


# ---------------------------------------------------------------------------
# Files -> tables
# ---------------------------------------------------------------------------
def _plans(files: Sequence[DataFile], kits: Sequence[Datakit]) -> list[FilePlan]:
    tables: dict[str, Any] = {}
    classes: dict[int, type] = {}
    for kit in kits:
        for cls in getattr(kit, "table_classes", []) or []:
            if getattr(cls, "__table__", None) is not None:
                classes[id(cls.__table__)] = cls
        for table in kit.tables:
            tables.setdefault(table.fullname, table)
    by_name: dict[str, list[Any]] = {}
    for table in tables.values():
        by_name.setdefault(table.name, []).append(table)
    rules: dict[int, TableRules] = {}
    plans: list[FilePlan] = []
    for file in files:
        table = tables.get(file.fullname)
        if table is None and file.schema is None and len(by_name.get(file.table, [])) == 1:
            table = by_name[file.table][0]
        if table is None:
            if file.schema is None and len(by_name.get(file.table, [])) > 1:
                choices = ", ".join(t.fullname for t in by_name[file.table])
                raise UsageError(f"{file}: table {file.table!r} is ambiguous ({choices})",
                                 f"name the file <schema>.{file.table}.{file.ext}")
            names = ", ".join(sorted(tables)[:8]) + (", ..." if len(tables) > 8 else "")
            raise UsageError(f"{file}: no datakit defines table {file.fullname!r}",
                             f"name the file after one of the datakits' tables ({names}), or deploy the "
                             f"datakit that defines it")
        if id(table) not in rules:
            rules[id(table)] = rules_for(table, classes.get(id(table)))
        plans.append(FilePlan(file=file, rules=rules[id(table)]))
    return plans


def _keys_for(plans: Sequence[FilePlan]) -> Keys:
    keys = Keys()
    for plan in plans:
        for columns in plan.rules.keys:
            keys.want(plan.rules.name, columns, unique=True)
    loaded = {p.rules.name for p in plans}
    for plan in plans:
        for fk in plan.rules.table.foreign_key_constraints:
            parent, _, _ = fk.elements[0].target_fullname.rpartition(".")
            if parent in loaded:
                cols = tuple(e.target_fullname.rsplit(".", 1)[-1] for e in fk.elements)
                keys.want(parent, cols, unique=False)
    return keys


def _unknown_columns(plan: FilePlan, names: Iterable[str], where: str) -> UsageError | None:
    unknown = [n for n in names if n not in plan.rules.field_of]
    if not unknown:
        return None
    known = ", ".join(plan.rules.columns)
    return UsageError(f"{where}: table {plan.rules.name} has no column {unknown[0]!r}"
                      + (f" (nor {', '.join(map(repr, unknown[1:]))})" if unknown[1:] else ""),
                      f"its columns are: {known}")


def _read(plan: FilePlan, keys: Keys, problems: Problems, *, copy: bool = False) -> None:
    """Validate every row of one file and spool the good ones (as COPY text where it can)."""
    header = plan.file.columns()
    if header is not None:
        error = _unknown_columns(plan, header, f"{plan.file}:1")
        if error:
            raise error
        plan.present.update(header)
        if copy:
            plan.copy_lines = line_encoder(plan.rules.table, plan.columns, plan.rules.columns)
    path = str(plan.file)
    rules = plan.rules
    header_keys = frozenset(header) if header is not None else None
    for line, row in plan.file.rows():
        where = f"{path}:{line}"
        if header is None:
            if not plan.present.issuperset(row):
                error = _unknown_columns(plan, row, where)
                if error:
                    raise error
                plan.present.update(row)
        values = rules.validate(row, where, problems)
        if values is None:
            continue
        keys.add(rules, values, header_keys or frozenset(row), where, problems)
        plan.spool.add(plan.encode(values))


# ---------------------------------------------------------------------------
# Foreign keys that point outside the run: look the parents up in the database
# ---------------------------------------------------------------------------
def _check_references(conn: Any, keys: Keys, loaded: set[str], problems: Problems) -> None:
    from sqlalchemy import column, select, table, tuple_

    for ref, values in keys.refs.items():
        child, child_cols, parent, parent_cols = ref
        have = keys.parent_keys(parent, parent_cols) if parent in loaded else {}
        if ref in keys.overflow or have is None:
            continue  # too many to remember: the database's foreign key checks them
        missing = {k: w for k, w in values.items() if k not in have}
        if not missing:
            continue
        parent_table = keys.parents.get((child, child_cols, parent, parent_cols))
        if parent_table is None:  # in another datakit's MetaData: by name (translated by hand, see below)
            schema, _, name = parent.rpartition(".")
            translate = conn.get_execution_options().get("schema_translate_map") or {}
            parent_table = table(name, *(column(c) for c in parent_cols), schema=translate.get(schema, schema) or None)
        found: set[tuple] = set()
        wanted = list(missing)
        try:
            for i in range(0, len(wanted), 500):
                batch = wanted[i:i + 500]
                if len(parent_cols) == 1:
                    where = parent_table.c[parent_cols[0]].in_(batch)
                else:
                    where = tuple_(*(parent_table.c[c] for c in parent_cols)).in_(batch)
                query = select(*(parent_table.c[c] for c in parent_cols)).where(where)
                found.update(tuple(r) for r in _select(conn, query))
        except Exception as exc:  # noqa: BLE001 - the parent table is not there: every value is missing
            if is_environmental(exc, conn.dialect):
                raise  # the server went away: not an orphan row
            found = set()
        if len(parent_cols) == 1:
            found = {f[0] for f in found}
        as_text = {str(f) for f in found}
        for key, where in missing.items():
            if key in found or str(key) in as_text:
                continue
            shown = key
            problems.add(where, child, ",".join(child_cols),
                         f"foreign key points to no row of {parent} ({', '.join(parent_cols)})", shown)


def _select(conn: Any, query: Any) -> list[Any]:
    """Run a lookup; on PostgreSQL inside a savepoint, so a missing table does not end the transaction."""
    if not rules_for_dialect(conn.dialect.name).error_aborts_transaction:
        return list(conn.execute(query))
    with conn.begin_nested():
        return list(conn.execute(query))


__all__ = ["LoadResult", "PreparedLoad", "data_dirs_of", "load_data", "read_data"]
