"""The live pass of ``dkenv check``: deploy to real throwaway databases, table by table.

For each engine, in parallel (one thread per engine; SQLite runs in-process, in memory), it
starts a throwaway database, creates the datakits' tables one at a time in foreign-key order
(bronze before silver), validates what was created, and inserts one smoke row per table
(rolled back). Each (table, engine) cell gets one `CheckResult`:

* ``failed``   — CREATE TABLE (or its indexes) failed, or the smoke row was refused; ``detail``
  is the database's own message, trimmed to the line that says what went wrong;
* ``problems`` — it deployed, but validation found differences or the smoke row came back
  changed (rounded decimals, enum labels);
* ``skipped``  — not tried: it references a table that failed, or the engine's server could
  not start (the error is in `LiveReport.errors`);
* ``unchecked`` — deployed and validated, but dkenv could not make a smoke row for it (a type
  it cannot produce a value for): dkenv's limit, shown ``?``, never the table's failure;
* ``ok``       — deployed, validated, and the smoke row round-tripped (an enum stored by
  member name is a warning of the static pass, not a problem of the cell).

Why table by table rather than ``deploy_data_objects``: a deploy stops at the first failing
table and undoes everything, which answers "does it deploy" but not "which tables break where".

Cleanup: every container is removed when the pass ends, whatever happened. Containers are named
``dkenv-check-<engine>-<run id>`` before they exist, so a Ctrl-C in the main thread while worker
threads are still creating them can find and remove them by name (twice: once at once, once
after the workers have stopped, for a container created in between).
"""

from __future__ import annotations

import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dkenv.check.deployer import TableDeployer, first_line
from dkenv.check.findings import Finding, normalize_engines
from dkenv.check.report import FAILED, OK, PROBLEMS, RANK, SKIPPED, UNCHECKED, CheckResult
from dkenv.engines import get_engine
from dkenv.engines.registry import LABELS
from dkenv.errors import DkenvError, EnvironmentFailure, UsageError
from dkenv.schema import unique_tables

if TYPE_CHECKING:

    from dkenv.servers.runtime import TargetRuntime

Progress = Callable[[str], None]

#: Phases timed per engine, in the order they run ("stop" removes the container).
PHASES: tuple[str, ...] = ("start", "deploy", "validate", "smoke", "stop")

#: What users can run when no Docker engine is available.
NO_DOCKER_HINT = "`dkenv check --static` or `dkenv check --engines sqlite` work without Docker"


@dataclass
class LiveReport:
    """What the live pass found: one result per (table, engine), timings, environment errors."""

    results: list[CheckResult]
    timings: dict[str, dict[str, float]] = field(default_factory=dict)  # engine -> phase -> s
    errors: dict[str, DkenvError] = field(default_factory=dict)  # engine -> why it did not run
    servers: dict[str, str] = field(default_factory=dict)  # engine -> "MariaDB 10.11.6"
    wall_s: float = 0.0

    @property
    def environment_error(self) -> EnvironmentFailure | None:
        """The first environment failure (exit 3), if any engine could not be started."""
        for error in self.errors.values():
            if isinstance(error, EnvironmentFailure):
                return error
        return None


def live_check(
    datakits: Sequence[Any],
    engines: Sequence[str],
    *,
    findings: Sequence[Finding] = (),
    timeout: float = 60.0,
    progress: Progress | None = None,
) -> LiveReport:
    """Deploy ``datakits`` (in order) to a throwaway database per engine and check each table.

    ``datakits``: `Datakit` objects (or sequences of SQLAlchemy ``Table``s), bronze first.
    ``findings``: the static pass's findings. A cell that deployed although the static pass
    found an *error* there becomes ``problems``: the server at hand was lenient (MariaDB
    standing in for MySQL 8 keys a TEXT prefix silently), the engine in general is not.
    ``timeout``: seconds a container may take to accept queries.
    ``progress``: a line printer for human progress (stderr in the CLI); None for silence.

    Raises `DockerUnavailable` (exit 3, with a hint naming what works without Docker) before
    anything starts when a server engine is requested and no Docker engine answers. Other
    per-engine environment failures (image missing, not ready in time) leave that engine's
    cells ``skipped`` and are returned in `LiveReport.errors`.
    """
    tables = unique_tables([t for kit in datakits for t in getattr(kit, "tables", kit)])
    try:
        engines = normalize_engines(engines)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    say = progress or (lambda line: None)
    started = time.perf_counter()
    run = _Run(run_id=secrets.token_hex(3), timeout=timeout, say=say)
    if any(not get_engine(e).embedded for e in engines):
        run.client = _docker_client()
        from dkenv.servers.lifecycle import install_signal_handlers

        install_signal_handlers()  # SIGTERM/SIGHUP -> SystemExit here, so cleanup below runs
        servers = [e for e in engines if not get_engine(e).embedded]
        say(f"dkenv: starting {', '.join(LABELS[e] for e in servers)} "
            f"(throwaway containers, in parallel)")
    workers = {e: _Worker(e, tables, run) for e in engines}
    threads = [threading.Thread(target=w.run, name=f"dkenv-check-{e}", daemon=True)
               for e, w in workers.items()]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.05)  # short joins keep Ctrl-C responsive in the main thread
    except BaseException:
        run.abort(threads)
        raise
    for worker in workers.values():  # a bug in a worker is not a check result: surface it
        if worker.crash is not None:
            raise worker.crash
    report = LiveReport(results=[], wall_s=time.perf_counter() - started)
    for engine, worker in workers.items():
        report.results.extend(worker.results)
        report.timings[engine] = worker.timings
        if worker.server_version:
            report.servers[engine] = worker.server_version
        if worker.error is not None:
            report.errors[engine] = worker.error
    report.results = merge_static(report.results, findings, report.servers)
    return report


def merge_static(
    results: Sequence[CheckResult], findings: Sequence[Finding], servers: dict[str, str]
) -> list[CheckResult]:
    """Cells that deployed but where the static pass found an error become ``problems``."""
    errors: dict[tuple[str, str], list[Finding]] = {}
    for finding in findings:
        if finding.is_error:
            errors.setdefault((finding.table, finding.engine), []).append(finding)
    merged = []
    for result in results:
        found = errors.get((result.table, result.engine))
        if result.status == OK and found:
            codes = ", ".join(dict.fromkeys(f.code for f in found))
            server = servers.get(result.engine) or LABELS[result.engine]
            label = LABELS[result.engine]
            detail = (f"deployed on {server}, which is lenient here, but the static pass "
                      f"reports {codes}: an error on {label} in general (see Findings)")
            result = CheckResult(result.engine, result.table, PROBLEMS, detail)
        merged.append(result)
    return merged


# ---------------------------------------------------------------------------
# One run: shared state between the main thread and the workers
# ---------------------------------------------------------------------------
@dataclass
class _Run:
    run_id: str
    timeout: float
    say: Progress
    client: Any = None
    cancelled: threading.Event = field(default_factory=threading.Event)

    def container_name(self, engine: str) -> str:
        return f"dkenv-check-{engine}-{self.run_id}"

    def abort(self, threads: Iterable[threading.Thread]) -> None:
        """Ctrl-C (or SIGTERM) in the main thread: remove every container of this run.

        A second Ctrl-C during these few seconds is ignored, so the cleanup is not cut short;
        the reaper of the next dkenv command is the backstop for a SIGKILL.
        """
        self.cancelled.set()
        if self.client is None:
            return
        previous = _ignore_sigint()
        try:
            self.say("dkenv: interrupted; removing the check's containers")
            self.sweep()
            deadline = time.monotonic() + 15
            for thread in threads:
                thread.join(max(0.0, deadline - time.monotonic()))
            self.sweep()  # a container created while the first sweep ran
        finally:
            _restore_sigint(previous)

    def sweep(self) -> None:
        from dkenv.docker import containers as C
        from dkenv.docker import labels as L

        names = {self.container_name(e) for e in ("postgres", "mysql")}
        try:
            for row in C.list_dkenv(self.client, all=True, scoped=False):
                if (row.get("Labels") or {}).get(L.NAME) in names:
                    C.remove(self.client, row["Id"])
        except Exception:  # noqa: BLE001 - best effort; the reaper removes what is left
            pass


def _ignore_sigint() -> Any:
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, signal.SIG_IGN)


def _restore_sigint(previous: Any) -> None:
    if previous is not None:
        signal.signal(signal.SIGINT, previous)


def _docker_client() -> Any:
    """The Docker client, or the environment error with a hint that names what works without."""
    from dkenv.docker.client import get_client

    try:
        return get_client()
    except EnvironmentFailure as exc:
        hint = f"{NO_DOCKER_HINT}; for PostgreSQL and MySQL, {exc.hint}" if exc.hint else NO_DOCKER_HINT
        raise type(exc)(exc.message, hint) from None


class _Cancelled(Exception):
    """The main thread gave up on this run (Ctrl-C): stop quietly."""


# ---------------------------------------------------------------------------
# One engine
# ---------------------------------------------------------------------------
class _Worker:
    """Start one engine's database, deploy, validate, smoke; always remove the database."""

    def __init__(self, engine: str, tables: list[Any], run: _Run) -> None:
        self.engine = engine
        self.tables = tables  # every datakit's tables, in the order given (bronze first)
        self.run_state = run
        self.timings: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        self.results: list[CheckResult] = []
        self.error: DkenvError | None = None
        self.server_version = ""
        self.crash: BaseException | None = None

    def run(self) -> None:
        from dkenv.servers.runtime import open_runtime

        server = None
        rt = None  # this worker's connection, held and closed here
        try:
            phase = time.perf_counter()
            if get_engine(self.engine).embedded:
                from dkenv.config import create_custom_target

                target = create_custom_target(self.engine, None, name=f"check_{self.engine}")
            else:
                server = self._start()
                target = server.target
            self.timings["start"] = time.perf_counter() - phase
            self._checkpoint()
            rt = open_runtime(target)
            self.results = self._check(rt)
        except _Cancelled:
            self.results = self._all(SKIPPED, "interrupted")
        except DkenvError as exc:
            self.error = exc
            status = SKIPPED if isinstance(exc, EnvironmentFailure) else FAILED
            self.results = self._all(status, first_line(exc.message))
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            self.crash = exc
        finally:
            phase = time.perf_counter()
            self._cleanup(rt, server)
            self.timings["stop"] = time.perf_counter() - phase

    def _start(self) -> Any:
        from dkenv.servers import lifecycle

        run = self.run_state
        name = run.container_name(self.engine)
        label = LABELS[self.engine]
        server = lifecycle.start(self.engine, name=name, timeout=run.timeout,
                                 progress=lambda line: run.say(f"dkenv: [{label}] "
                                                               f"{_strip_prefix(line)}"),
                                 client=run.client)
        if run.cancelled.is_set():
            server.stop()
            raise _Cancelled
        return server

    def _checkpoint(self) -> None:
        if self.run_state.cancelled.is_set():
            raise _Cancelled

    def _all(self, status: str, detail: str) -> list[CheckResult]:
        return [CheckResult(self.engine, t.fullname, status, detail) for t in self.tables]

    def _cleanup(self, rt: TargetRuntime | None, server: Any) -> None:
        """Dispose the engine and remove the container; a failure here is reported, not lost."""
        try:
            try:
                if rt is not None:
                    rt.close()
            finally:
                if server is not None:
                    server.stop()
        except Exception as exc:  # noqa: BLE001 - a worker thread must not die with a traceback
            if self.error is None and self.crash is None:
                self.error = EnvironmentFailure(
                    f"could not remove {server.name if server else 'the database'}: "
                    f"{first_line(str(exc))}",
                    "`dkenv prune` removes it once this process has ended")

    # -- the check itself ------------------------------------------------------
    def _check(self, rt: TargetRuntime) -> list[CheckResult]:
        self.server_version = _server_version(rt)
        cells: dict[str, tuple[str, str]] = {}
        phase = time.perf_counter()
        deployed = TableDeployer(rt, self.engine).deploy(self.tables, cells)
        self.timings["deploy"] = time.perf_counter() - phase
        self._checkpoint()

        originals = {t.fullname: t for t in self.tables}
        phase = time.perf_counter()
        if deployed:
            self._validate([originals[c.fullname] for c in deployed], rt, cells)
        self.timings["validate"] = time.perf_counter() - phase
        self._checkpoint()

        phase = time.perf_counter()
        if deployed:
            self._smoke(rt, deployed, cells)
        self.timings["smoke"] = time.perf_counter() - phase
        return [CheckResult(self.engine, t.fullname, *cells.get(t.fullname, (OK, "")))
                for t in self.tables]

    def _validate(self, tables: list[Any], rt: TargetRuntime, cells: dict[str, tuple[str, str]]) -> None:
        from dkenv.deploy.deployed import validate_deployment

        by_table: dict[str, list[str]] = {}
        for problem in validate_deployment(tables, rt).problems:
            by_table.setdefault(problem.table, []).append(f"{problem.kind}: {problem.detail}")
        for table, lines in by_table.items():
            _worsen(cells, table, PROBLEMS, "validation: " + "; ".join(lines))

    def _smoke(self, rt: TargetRuntime, deployed: list[Any], cells: dict[str, tuple[str, str]]) -> None:
        from dkenv.check.smoke import smoke_rows

        with rt.lock, rt.connect() as conn:
            failures = smoke_rows(conn, deployed)
        for failure in failures:
            where = f" ({failure.column})" if failure.column else ""
            if failure.kind == "insert":
                _worsen(cells, failure.table, FAILED, f"smoke row refused{where}: {failure.error}")
            elif failure.kind == "changed":
                _worsen(cells, failure.table, PROBLEMS, f"smoke row{where}: {failure.error}")
            elif failure.kind == "unchecked":  # dkenv's limit, not the table's
                _worsen(cells, failure.table, UNCHECKED, f"no smoke row{where}: {failure.error}")
            elif failure.kind == "enum-labels":  # a warning: the static pass explains the fix
                _worsen(cells, failure.table, OK, f"smoke row{where}: {failure.error}")
            else:  # "parent": not tried because of another table; that table carries the failure
                _worsen(cells, failure.table, OK, f"smoke row not tried{where}: {failure.error}")


_RANK = RANK


def _worsen(cells: dict[str, tuple[str, str]], table: str, status: str, detail: str) -> None:
    """Record ``status`` for ``table`` unless it already has a worse one; details accumulate."""
    old_status, old_detail = cells.get(table, (OK, ""))
    if _RANK[status] < _RANK[old_status]:
        return
    if _RANK[status] > _RANK[old_status]:
        cells[table] = (status, detail)
    else:
        cells[table] = (status, f"{old_detail}; {detail}" if old_detail else detail)


def _server_version(rt: TargetRuntime) -> str:
    """"PostgreSQL 15.4", "MariaDB 10.11.6", "SQLite 3.40.1": which server answered."""
    try:
        with rt.lock, rt.connect() as conn:
            dialect = conn.dialect
            version = ".".join(str(p) for p in (dialect.server_version_info or ()) if
                               isinstance(p, int))
    except Exception:  # noqa: BLE001 - only a label
        return ""
    name = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}.get(dialect.name)
    if name is None:
        name = "MariaDB" if getattr(dialect, "is_mariadb", False) else "MySQL"
    return f"{name} {version}".strip()


def _strip_prefix(line: str) -> str:
    line = line.strip()
    return line[len("dkenv: "):] if line.startswith("dkenv: ") else line
