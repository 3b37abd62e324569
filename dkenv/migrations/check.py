"""``dkenv migrations check``: a datakit's Alembic history tested on each engine, one report per engine.

For every engine, in a fresh empty database:

1. **heads**: the history has one head (several: they are named, with the ``alembic merge``
   command that joins them; the rest runs on ``upgrade heads``);
2. **upgrade**: ``upgrade head`` from empty succeeds (a failing revision: its id, file, and the
   database's one-line error; the remaining checks are skipped);
3. **models**: the models vs the migrated database, both ways (:mod:`dkenv.migrations.compare`);
4. **downgrade**: ``downgrade base`` leaves an empty catalog (what remains is named);
5. **upgrade again**: upgrading once more rebuilds a catalog identical to the first;
6. **data** (with a loader, ``--data DIR``): rows loaded at the oldest revision that holds
   them survive the upgrade to head (:mod:`dkenv.migrations.data_check`).

A broken history, an env.py that fails to import or ignores the target are bad input and
raise (exit 2); findings make the report fail (exit 1).
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dkenv.engines import get_engine, is_embedded
from dkenv.errors import DkenvError, UsageError
from dkenv.migrations.catalog import catalog_differences, read_catalog
from dkenv.migrations.compare import compare_both_ways
from dkenv.migrations.run import downgrade_on, upgrade_on
from dkenv.migrations.source import history_of
from dkenv.problems import Problem

CHECKS = ("heads", "upgrade", "models", "downgrade", "upgrade_again", "data")
#: ``load(engine, url)``: load the check's data files into the database at ``url`` (all or nothing).
Loader = Callable[[str, str], None]
Progress = Callable[[str], None]


@dataclass
class Finding:
    """One check on one engine: passed or not, with a line saying why and the differences."""

    check: str  # one of CHECKS
    ok: bool
    detail: str = ""
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.check, "ok": self.ok, "detail": self.detail,
                "problems": [p.to_dict() for p in self.problems]}


@dataclass
class EngineReport:
    """The checks of one datakit's history on one engine."""

    datakit: str
    engine: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(f.ok for f in self.findings)

    def finding(self, check: str) -> Finding | None:
        return next((f for f in self.findings if f.check == check), None)

    def to_dict(self) -> dict[str, Any]:
        return {"datakit": self.datakit, "engine": self.engine, "success": self.success,
                "checks": [f.to_dict() for f in self.findings]}

    def lines(self) -> list[str]:
        head = f"{self.datakit} on {self.engine}: " + ("ok" if self.success else "FAILED")
        out = [head]
        for f in self.findings:
            mark = "ok  " if f.ok else "FAIL"
            out.append(f"  {mark} {f.check}" + (f": {f.detail}" if f.detail else ""))
            out += [f"         {p.table}: {p.kind}: {p.detail}" for p in f.problems]
        return out


@dataclass
class MigrationsReport:
    """Every engine's report; true when all passed (``assert report`` in a test)."""

    reports: list[EngineReport] = field(default_factory=list)

    @property
    def success(self) -> bool:
        return all(r.success for r in self.reports)

    def __bool__(self) -> bool:
        return self.success

    def __repr__(self) -> str:
        return "\n".join(line for r in self.reports for line in r.lines()) or "<no engines checked>"

    def summary(self) -> str:
        return repr(self)

    def to_dict(self) -> dict[str, Any]:
        return {"success": self.success, "reports": [r.to_dict() for r in self.reports]}


# ---------------------------------------------------------------------------
# Fresh empty databases
# ---------------------------------------------------------------------------
@contextmanager
def empty_database(engine: str, server_url: str | None) -> Iterator[str]:
    """The URL of a new empty database: a SQLite file, or a database created on the server."""
    if is_embedded(engine):
        folder = tempfile.mkdtemp(prefix="dkenv-migrations-")
        try:
            yield f"sqlite:///{Path(folder) / 'check.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        return
    if server_url is None:
        raise UsageError(f"no {engine} server to check on")
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = f"dkmig_{secrets.token_hex(4)}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    quoted = admin.dialect.identifier_preparer.quote_identifier(name)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                get_engine(engine).end_sessions(conn, name)
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")
    finally:
        admin.dispose()


# ---------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------
def check_engine(kit: Any, engine: str, *, server_url: str | None = None,
                 load: Loader | None = None) -> EngineReport:
    """Run every check of ``kit``'s history on ``engine`` in a fresh database on ``server_url``
    (a server's admin URL; SQLite needs none)."""
    import sqlalchemy as sa

    history = history_of(kit)
    script = history.script()
    report = EngineReport(kit.name, engine)
    heads = list(script.get_heads())
    target = "head"
    if len(heads) > 1:
        target = "heads"
        report.findings.append(Finding("heads", False, f"{len(heads)} heads: {', '.join(heads)}; join them with: "
                                       f"alembic merge -m \"merge heads\" {' '.join(heads)}"))
    else:
        report.findings.append(Finding("heads", True, f"one head: {heads[0]}" if heads else "no revisions"))
    with empty_database(engine, server_url) as url:
        db = sa.create_engine(url, poolclass=sa.pool.NullPool)
        try:
            _run_checks(report, history, script, db, url, target, kit)
            if load is not None and report.finding("upgrade").ok:
                _data_check(report, history, script, db, url, target, lambda u: load(engine, u))
        finally:
            db.dispose()
    return report


def _run_checks(report: EngineReport, history: Any, script: Any, db: Any, url: str, target: str, kit: Any) -> None:
    try:
        with db.connect() as conn:
            upgrade_on(history, conn, url, target, script=script)
    except DkenvError as exc:
        if exc.exit_code == 2:
            raise  # env.py or the history is bad input, not a finding
        report.findings.append(Finding("upgrade", False, exc.message))
        return
    report.findings.append(Finding("upgrade", True, f"upgrade {target} from an empty database"))
    with db.connect() as conn:
        problems = compare_both_ways(kit.tables, conn)
        first = read_catalog(conn)
    report.findings.append(Finding("models", not problems,
                                   f"{len(problems)} difference(s) between the models and the migrated database"
                                   if problems else "the models and the migrated database match", problems))
    try:
        with db.connect() as conn:
            downgrade_on(history, conn, url, "base", script=script)
            remains = read_catalog(conn)
    except DkenvError as exc:
        report.findings.append(Finding("downgrade", False, exc.message))
        return
    report.findings.append(Finding("downgrade", not remains,
                                   "downgrade base leaves: " + ", ".join(remains) if remains
                                   else "downgrade base leaves an empty database"))
    try:
        with db.connect() as conn:
            upgrade_on(history, conn, url, target, script=script)
            second = read_catalog(conn)
    except DkenvError as exc:
        report.findings.append(Finding("upgrade_again", False, exc.message))
        return
    differences = catalog_differences(first, second)
    report.findings.append(Finding("upgrade_again", not differences,
                                   "; ".join(differences[:5]) if differences
                                   else "upgrading again rebuilds the same catalog"))


def _data_check(report: EngineReport, history: Any, script: Any, db: Any, url: str, target: str,
                load: Callable[[str], None]) -> None:
    from dkenv.migrations.data_check import data_survives

    try:
        ok, detail, problems = data_survives(history, script, db, url, target, load)
    except DkenvError as exc:
        if exc.exit_code == 2:
            raise
        ok, detail, problems = False, exc.message, []
    report.findings.append(Finding("data", ok, detail, problems))


def check_kit(kit: Any, engines: Sequence[str], *, servers: dict[str, str] | None = None,
              progress: Progress | None = None, timeout: float = 60.0,
              load: Loader | None = None) -> MigrationsReport:
    """Check ``kit`` on each engine; a server engine without a URL in ``servers`` gets a
    throwaway container for the duration of the check."""
    from dkenv.servers import lifecycle

    history_of(kit).script()  # a broken history is bad input before any container starts
    report = MigrationsReport()
    started: list[Any] = []
    try:
        for engine in engines:
            url = (servers or {}).get(engine)
            if not is_embedded(engine) and url is None:
                server = lifecycle.start(engine, timeout=timeout, progress=progress)
                started.append(server)
                url = server.url
            if progress:
                progress(f"dkenv: checking {kit.name}'s migrations on {engine}")
            report.reports.append(check_engine(kit, engine, server_url=url, load=load))
    finally:
        for server in started:
            server.stop()
    return report
