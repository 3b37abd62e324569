"""`dkenv check`: which table works on which engine, why not, and the fix."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click

from dkenv.cli._common import datakit_options, emit_json, err, json_document
from dkenv.cli._stdout import out, stream
from dkenv.errors import UsageError

DEFAULT_ENGINES = "sqlite,postgres,mysql"


@click.command()
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--engines", default=DEFAULT_ENGINES, show_default=True, metavar="LIST",
              help="Comma-separated engines to check: sqlite, postgres, mysql (mariadb).")
@click.option("--static", "static_only", is_flag=True,
              help="Only the static pass: no database, no Docker, under a second.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.option("--junit", "junit", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write a JUnit XML file: one test case per table and engine.")
@click.option("--timeout", default=60.0, show_default=True, metavar="SECONDS", type=float,
              help="How long a throwaway database may take to accept queries.")
@datakit_options
def check(paths: tuple[str, ...], engines: str, static_only: bool, as_json: bool,
          junit: str | None, timeout: float, pythonpath: tuple[str, ...], verbose: bool) -> None:
    """Tell which table of the datakits works on which engine, why not, and the fix.

    The static pass always runs first: it compiles every table for each engine and looks for
    portability traps (unbounded strings, one engine's SQL in defaults, enums, long names,
    reserved words, ...). Unless --static is given, the live pass then starts a throwaway
    database per engine (in parallel; SQLite in memory), deploys the datakits in the order
    given (bronze before silver), validates them, and inserts one smoke row per table, rolled
    back. Everything it starts is removed, also on Ctrl-C.

    \b
    Examples:
      dkenv check examples/bronze-pagila examples/silver-pagila
      dkenv check ./my-datakit --static
      dkenv check ./my-datakit --engines sqlite          # no Docker needed
      dkenv check ./bronze ./silver --engines postgres,mysql --junit check.xml
      dkenv check ./my-datakit --json | jq '.matrix'

    \b
    The matrix has one mark per table and engine:
      ✓ deployed and validated   ! deployed with problems   ✗ failed   – skipped
      * with warnings (listed below the matrix with their fix)

    Exit codes: 0 every table deploys and validates on every engine, 1 otherwise, 2 bad input
    (path, engine name), 3 environment failure (no Docker engine, image, not ready in time).
    See docs/check-traps.md for each trap with before/after model code.
    """
    timings: dict[str, Any] = {}
    document = json_document(datakits=list(paths))
    wanted = _parse_engines(engines)
    junit_path = _junit_path(junit)
    _run(paths, wanted, static_only, as_json, junit_path, timeout, timings, document,
         pythonpath=pythonpath, verbose=verbose)


def _run(paths: tuple[str, ...], engines: tuple[str, ...], static_only: bool, as_json: bool,
         junit_path: Path | None, timeout: float, timings: dict[str, Any],
         document: dict[str, Any], *, pythonpath: tuple[str, ...] = (), verbose: bool = False) -> None:
    from dkenv.check import (
        is_success,
        render_matrix,
        results_from_findings,
        static_check,
        write_junit,
    )
    from dkenv.check import to_json as check_json
    from dkenv.datakit import load_datakits
    from dkenv.jobs import report_skipped, skipped_of

    clock = time.perf_counter()
    # every path first (and the datakits they require): a typo costs no container
    kits = load_datakits(paths, pythonpath=pythonpath, progress=None if as_json else err)
    document["skipped"] = skipped_of(kits)
    if not as_json:
        report_skipped(kits, err, verbose=verbose)
    tables = [t for kit in kits for t in kit.tables]
    names = [t.fullname for t in tables]
    timings["load"] = time.perf_counter() - clock
    document["datakits"] = [kit.name for kit in kits]

    clock = time.perf_counter()
    findings = static_check(tables, engines, known_tables=names)
    timings["static"] = time.perf_counter() - clock

    live = None
    if static_only:
        results = results_from_findings(list(dict.fromkeys(names)), findings, engines)
    else:
        from dkenv.check.live import live_check

        live = live_check(kits, engines, findings=findings, timeout=timeout, progress=err)
        results = live.results
        timings["engines"] = live.timings
        timings["live_wall"] = live.wall_s

    if junit_path is not None:
        write_junit(junit_path, results, findings, engines=engines)
    if as_json:
        document.update(check_json(results, findings, engines=engines, static_only=static_only))
        document["datakits"] = [kit.name for kit in kits]
        document["timings"] = _rounded(timings)
        if live is not None:
            document["servers"] = live.servers
        if live is not None and live.errors:
            document["engine_errors"] = {e: {"message": x.message, "hint": x.hint}
                                         for e, x in live.errors.items()}
        if live is None or live.environment_error is None:
            emit_json(document)
    else:
        out(render_matrix(results, findings, color=_color(), engines=engines,
                                 ascii_only=_ascii_only()), nl=False)
    if live is not None and live.servers:
        err("dkenv: checked on " + ", ".join(live.servers[e] for e in engines if e in live.servers))
    _print_timings(timings, engines)

    if live is not None:
        for engine, error in live.errors.items():
            if error is not live.environment_error:
                err(f"dkenv: {engine}: {error.message}")
        if live.environment_error is not None:
            raise live.environment_error  # exit 3, after the matrix of what did run
    if not is_success(results):
        raise click.exceptions.Exit(1)


def _parse_engines(value: str) -> tuple[str, ...]:
    from dkenv.check.findings import normalize_engines

    items = [item for item in value.split(",") if item.strip()]
    if not items:
        raise UsageError("--engines is empty", f"give a comma-separated list, e.g. {DEFAULT_ENGINES}")
    try:
        return normalize_engines(items)
    except ValueError as exc:
        raise UsageError(f"--engines: {exc}", f"e.g. --engines {DEFAULT_ENGINES}") from None


def _junit_path(value: str | None) -> Path | None:
    """Fail on a --junit path whose directory does not exist before anything starts."""
    if value is None:
        return None
    path = Path(value)
    if not path.parent.is_dir():
        raise UsageError(f"--junit: directory {str(path.parent)!r} does not exist",
                         "create it, or give a path in an existing directory")
    return path


def _color() -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org)."""
    return stream().isatty() and not os.environ.get("NO_COLOR")


def _ascii_only() -> bool:
    """Plain marks when stdout cannot encode ✓ ✗ – (LANG=C terminals, some CI logs)."""
    encoding = getattr(stream(), "encoding", None) or "ascii"
    try:
        "✓✗–".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return True
    return False


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def _print_timings(timings: dict[str, Any], engines: tuple[str, ...]) -> None:
    """The breakdown on stderr: where the seconds went."""
    from dkenv.check.live import PHASES
    from dkenv.engines.registry import LABELS

    head = f"dkenv: timings: load {timings['load']:.2f} s, static {timings['static']:.2f} s"
    per_engine = timings.get("engines")
    if not per_engine:
        err(head)
        return
    parallel = " (engines in parallel)" if len(engines) > 1 else ""
    err(f"{head}, live {timings['live_wall']:.2f} s{parallel}")
    width = max(len(LABELS[e]) for e in engines)
    err("  " + " " * width + "".join(f"{p:>10}" for p in (*PHASES, "total")))
    for engine in engines:
        row = per_engine.get(engine, {})
        total = sum(row.get(p, 0.0) for p in PHASES)
        err(f"  {LABELS[engine]:<{width}}"
            + "".join(f"{row.get(p, 0.0):>10.2f}" for p in PHASES) + f"{total:>10.2f}")
