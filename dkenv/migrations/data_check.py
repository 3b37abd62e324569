"""``migrations check --data DIR``: do rows survive the history?

The data is loaded at the oldest revision that can hold it (the first one, walking up from
base, where the load succeeds: a load is all or nothing, so a failed try leaves no row), the
history is upgraded to head, and every table's rows are compared with what was loaded: rows
lost (fewer rows, or the table gone) and rows changed (values of the columns both states have).
Columns a later revision adds are not a change.

The load itself comes from the caller (``load(url)``): loading data files is
:mod:`dkenv.data`'s job, and this layer does not import it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from dkenv.errors import DkenvError
from dkenv.migrations.compare import BOOKKEEPING
from dkenv.migrations.run import downgrade_on, upgrade_on
from dkenv.problems import Problem

Rows = dict[str, tuple[list[str], list[tuple[Any, ...]]]]


def _rows(conn: sa.Connection) -> Rows:
    """Every table's columns and rows (ordered by every column, so two reads compare)."""
    metadata = sa.MetaData()
    names = [n for n in sa.inspect(conn).get_table_names() if n not in BOOKKEEPING]
    metadata.reflect(conn, only=names)
    found: Rows = {}
    for table in metadata.sorted_tables:
        columns = [c.name for c in table.columns]
        rows = conn.execute(sa.select(table)).all()
        found[table.name] = (columns, sorted((tuple(r) for r in rows), key=repr))
    return found


def _differences(before: Rows, after: Rows) -> list[Problem]:
    problems = []
    for name, (columns, rows) in before.items():
        if not rows:
            continue
        if name not in after:
            problems.append(Problem(name, "rows_lost", f"{len(rows)} row(s) loaded, the table is gone at head"))
            continue
        later_columns, later_rows = after[name]
        if len(later_rows) < len(rows):
            problems.append(Problem(name, "rows_lost", f"{len(rows)} row(s) loaded, {len(later_rows)} at head"))
            continue
        shared = [c for c in columns if c in later_columns]
        pick = [columns.index(c) for c in shared], [later_columns.index(c) for c in shared]
        old = sorted((tuple(r[i] for i in pick[0]) for r in rows), key=repr)
        new = sorted((tuple(r[i] for i in pick[1]) for r in later_rows), key=repr)
        changed = len(set(old) - set(new))
        if changed:
            problems.append(Problem(name, "rows_changed",
                                    f"{changed} of {len(rows)} row(s) loaded have other values at head "
                                    f"(columns {', '.join(shared)})"))
    return problems


def data_survives(history: Any, script: Any, db: sa.Engine, url: str, target: str,
                  load: Callable[[str], None]) -> tuple[bool, str, list[Problem]]:
    """(ok, detail, problems) for loading at the oldest revision that holds the data, then upgrading."""
    revisions = [s.revision for s in reversed(list(script.walk_revisions()))]
    with db.connect() as conn:
        downgrade_on(history, conn, url, "base", script=script)
    loaded_at, last_error = None, ""
    for revision in revisions:
        with db.connect() as conn:
            upgrade_on(history, conn, url, revision, script=script)
        try:
            load(url)
        except DkenvError as exc:
            last_error = exc.message
            continue
        loaded_at = revision
        break
    if loaded_at is None:
        return False, f"the data fits no revision (at head: {last_error})", []
    with db.connect() as conn:
        before = _rows(conn)
    with db.connect() as conn:
        upgrade_on(history, conn, url, target, script=script)
        after = _rows(conn)
    problems = _differences(before, after)
    kept = sum(len(rows) for _c, rows in before.values())
    detail = (f"loaded at revision {loaded_at}, upgraded to {target}: "
              + (f"{len(problems)} table(s) lost or changed rows" if problems else f"all {kept} row(s) kept"))
    return not problems, detail, problems
