"""Output of ``dkenv check``: the terminal matrix, the JSON document and the JUnit file.

All three are rendered from the same data — one `CheckResult` per (table, engine) and the
static `Finding` list — so they never disagree. Nothing here prints: the CLI decides where the
text goes (the matrix to stdout, or only JSON on stdout with ``--json``).
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from dkenv.check.findings import ENGINES, ERROR, INFO, WARNING, Finding, sort_findings
from dkenv.engines.registry import LABELS

OK, PROBLEMS, FAILED, SKIPPED = "ok", "problems", "failed", "skipped"
UNCHECKED = "unchecked"  # deployed and validated; dkenv could not make a smoke row for it
STATUSES: tuple[str, ...] = (OK, UNCHECKED, PROBLEMS, FAILED, SKIPPED)
#: Worse statuses win when several results describe one cell.
RANK = {OK: 0, UNCHECKED: 1, SKIPPED: 2, PROBLEMS: 3, FAILED: 4}
_RANK = RANK

_MARKS = {OK: "✓", UNCHECKED: "?", PROBLEMS: "!", FAILED: "✗", SKIPPED: "–"}
_ASCII_MARKS = {OK: "ok", UNCHECKED: "?", PROBLEMS: "!", FAILED: "X", SKIPPED: "-"}
_COLORS = {OK: "32", UNCHECKED: "36", PROBLEMS: "33", FAILED: "31", SKIPPED: "2"}
_LEGEND = {OK: "deployed and validated", UNCHECKED: "deployed and validated; no smoke row"
           " (dkenv's limit, not the table's)", PROBLEMS: "deployed with problems",
           FAILED: "failed", SKIPPED: "skipped"}


@dataclass(frozen=True)
class CheckResult:
    """What happened to one table on one engine.

    ``status``: ``ok`` (deployed and validated), ``unchecked`` (deployed and validated, but
    dkenv could not produce a smoke row for it: its own limit, not the table's), ``problems`` (deployed, but validation or
    the smoke row found something), ``failed`` (did not deploy; ``detail`` holds the database's
    own message), ``skipped`` (not tried, e.g. the engine's server could not start).
    """

    engine: str
    table: str
    status: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}: choose from {', '.join(STATUSES)}")

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def results_from_findings(
    tables: Iterable[str], findings: Sequence[Finding], engines: Sequence[str] = ENGINES
) -> list[CheckResult]:
    """Cells for ``--static``: an error finding fails the cell; warnings leave it ``ok``.

    A warning means "deploys, but behaves differently", so it does not fail the run; the
    matrix still marks such cells (``✓*``) and lists the warnings below it.
    """
    results = []
    for table in tables:
        for engine in engines:
            mine = [f for f in findings if f.table == table and f.engine == engine
                    and f.severity != INFO]
            errors = [f for f in mine if f.severity == ERROR]
            if errors:
                results.append(CheckResult(engine, table, FAILED, errors[0].message))
            else:  # warnings deploy: the matrix marks them, the exit code does not fail
                detail = f"{len(mine)} warning{'s' * (len(mine) != 1)}" if mine else ""
                results.append(CheckResult(engine, table, OK, detail))
    return results


def is_success(results: Sequence[CheckResult]) -> bool:
    """Exit 0 only when every table deployed and validated on every requested engine (a
    table dkenv could not smoke-test counts: that is dkenv's limit, not the table's)."""
    return bool(results) and all(r.status in (OK, UNCHECKED) for r in results)


def _grid(
    results: Sequence[CheckResult], engines: Sequence[str] | None
) -> tuple[list[str], list[str], dict[tuple[str, str], CheckResult]]:
    cells: dict[tuple[str, str], CheckResult] = {}
    tables: list[str] = []
    seen_engines: list[str] = []
    for result in results:
        if result.table not in tables:
            tables.append(result.table)
        if result.engine not in seen_engines:
            seen_engines.append(result.engine)
        key = (result.table, result.engine)
        if key not in cells or _RANK[result.status] > _RANK[cells[key].status]:
            cells[key] = result
    if engines is None:
        engines = [e for e in ENGINES if e in seen_engines] + [
            e for e in seen_engines if e not in ENGINES
        ]
    return tables, list(engines), cells


#: How many places a grouped finding names before "and N more".
_PLACES_SHOWN = 4


def render_matrix(
    results: Sequence[CheckResult],
    findings: Sequence[Finding] = (),
    *,
    color: bool = False,
    engines: Sequence[str] | None = None,
    ascii_only: bool = False,
) -> str:
    """Tables × engines with one mark per cell, then each failure and finding with its fix.

    ``color`` adds ANSI colours: pass ``sys.stdout.isatty()`` (and honour ``NO_COLOR``), so
    pipes never get escape codes.
    """
    tables, engines, cells = _grid(results, engines)
    marks = _ASCII_MARKS if ascii_only else _MARKS
    warned = {(f.table, f.engine) for f in findings if f.severity == WARNING}
    table_width = max([len("table"), *(len(t) for t in tables)])
    widths = [max(len(LABELS.get(e, e)), 3) for e in engines]

    def paint(status: str, text: str) -> str:
        return f"\x1b[{_COLORS[status]}m{text}\x1b[0m" if color else text

    header = "  ".join(
        [f"{'table':<{table_width}}"]
        + [f"{LABELS.get(e, e):<{w}}" for e, w in zip(engines, widths, strict=True)]
    )
    lines = [header.rstrip()]
    for table in tables:
        row = [f"{table:<{table_width}}"]
        for engine, width in zip(engines, widths, strict=True):
            result = cells.get((table, engine))
            status = result.status if result else SKIPPED
            mark = marks[status] + ("*" if status == OK and (table, engine) in warned else "")
            row.append(paint(status, f"{mark:<{width}}"))
        lines.append("  ".join(row).rstrip())
    used = [s for s in (OK, UNCHECKED, PROBLEMS, FAILED, SKIPPED)
            if any(c.status == s for c in cells.values())]
    if used:
        lines.append("")
        legend = [paint(s, marks[s]) + f" {_LEGEND[s]}" for s in used]
        if any(c.status == OK and key in warned for key, c in cells.items()):
            legend.append("* with warnings")
        lines.append("   ".join(legend))

    explained = {f.message for f in findings}  # static cells repeat a finding: list it once
    failures = [
        r for t in tables for e in engines
        if (r := cells.get((t, e))) is not None and r.status in (FAILED, PROBLEMS, UNCHECKED)
        and r.detail and r.detail not in explained
    ]
    if failures:
        lines += ["", "Live:"]
        for r in failures:
            lines.append(f"  {paint(r.status, marks[r.status])} {r.table} on "
                         f"{LABELS.get(r.engine, r.engine)}: {r.detail}")
    if findings:
        lines += ["", "Findings:"]
        # The same finding on many columns (a datetime-precision warning per datetime column)
        # is listed once, with the places it applies to.
        groups: dict[tuple[str, str, str, str, str], list[str]] = {}
        for f in sort_findings(findings):
            where = f"{f.table}.{f.column}" if f.column else f.table
            groups.setdefault((f.severity, f.engine, f.code, f.message, f.fix), []).append(where)
        for (severity, engine, code, message, fix), places in groups.items():
            status = {ERROR: FAILED, WARNING: PROBLEMS}.get(severity, OK)
            label = places[0] if len(places) == 1 else f"{len(places)} places"
            lines.append(f"  {paint(status, severity):<7} {label} "
                         f"[{LABELS.get(engine, engine)}] {code}: {message}")
            if len(places) > 1:
                shown = ", ".join(places[:_PLACES_SHOWN])
                more = f" and {len(places) - _PLACES_SHOWN} more" if len(places) > _PLACES_SHOWN else ""
                lines.append(f"          at: {shown}{more}")
            lines.append(f"          fix: {fix}")
    counts = summary(results, findings)
    infos = f", {counts['infos']} notes" if counts["infos"] else ""
    lines += ["", ", ".join(f"{counts[s]} {s}" for s in STATUSES if counts[s])
              + (f"; {counts['errors']} errors, {counts['warnings']} warnings{infos} in the "
                 "static pass" if findings else "")]
    return "\n".join(lines) + "\n"


def summary(results: Sequence[CheckResult], findings: Sequence[Finding] = ()) -> dict[str, int]:
    """Counts per status and per finding severity."""
    counts = {s: sum(r.status == s for r in results) for s in STATUSES}
    counts["errors"] = sum(f.severity == ERROR for f in findings)
    counts["warnings"] = sum(f.severity == WARNING for f in findings)
    counts["infos"] = sum(f.severity == INFO for f in findings)
    return counts


def to_json(
    results: Sequence[CheckResult],
    findings: Sequence[Finding] = (),
    *,
    engines: Sequence[str] | None = None,
    static_only: bool = False,
) -> dict[str, Any]:
    """The ``--json`` document: the same content as the matrix, as data."""
    tables, engines, cells = _grid(results, engines)
    return {
        "success": is_success(results),
        "static_only": static_only,
        "engines": engines,
        "tables": tables,
        "matrix": {
            t: {e: (cells[(t, e)].status if (t, e) in cells else SKIPPED) for e in engines}
            for t in tables
        },
        "results": [r.to_dict() for r in results],
        "findings": [f.to_dict() for f in sort_findings(findings)],
        "summary": summary(results, findings),
    }


def write_junit(
    path: str | os.PathLike[str],
    results: Sequence[CheckResult],
    findings: Sequence[Finding] = (),
    *,
    engines: Sequence[str] | None = None,
) -> None:
    """A JUnit XML file: one test suite per engine, one test case per table.

    ``failed`` and ``problems`` cells are failures (their message is the database's, followed
    by the error findings for that cell), ``skipped`` cells are skipped, and warnings (and why
    an ``unchecked`` cell had no smoke row) go to the case's system-out, so CI systems show
    the fix next to the table.
    """
    tables, engines, cells = _grid(results, engines)
    by_cell: dict[tuple[str, str], list[Finding]] = {}
    for f in sort_findings(findings):
        by_cell.setdefault((f.table, f.engine), []).append(f)

    root = ET.Element("testsuites", name="dkenv check")
    total = failures = skipped = 0
    for engine in engines:
        suite = ET.SubElement(root, "testsuite", name=f"dkenv check {engine}")
        n_fail = n_skip = 0
        for table in tables:
            result = cells.get((table, engine)) or CheckResult(engine, table, SKIPPED, "not run")
            case = ET.SubElement(suite, "testcase", classname=f"dkenv.check.{engine}", name=table)
            mine = by_cell.get((table, engine), [])
            if result.status in (FAILED, PROBLEMS):
                n_fail += 1
                errors = [f for f in mine if f.severity == ERROR]
                message = result.detail or (errors[0].message if errors else result.status)
                failure = ET.SubElement(case, "failure", message=message, type=result.status)
                failure.text = "\n".join(
                    [message] + [f"{f.code}: {f.message}\nfix: {f.fix}" for f in errors]
                )
            elif result.status == SKIPPED:
                n_skip += 1
                ET.SubElement(case, "skipped", message=result.detail or "skipped")
            warnings = [f for f in mine if f.severity != ERROR]
            notes = [f"unchecked: {result.detail}"] if result.status == UNCHECKED else []
            if warnings or notes:
                out = ET.SubElement(case, "system-out")
                out.text = "\n".join(notes + [
                    f"{f.severity} {f.code} ({f.column or f.table}): {f.message}\nfix: {f.fix}"
                    for f in warnings])
        suite.set("tests", str(len(tables)))
        suite.set("failures", str(n_fail))
        suite.set("errors", "0")
        suite.set("skipped", str(n_skip))
        total += len(tables)
        failures += n_fail
        skipped += n_skip
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    root.set("skipped", str(skipped))
    ET.indent(root)
    Path(path).write_bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))
