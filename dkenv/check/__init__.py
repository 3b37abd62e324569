"""``dkenv check``: which table works on which engine, why not, and the fix.

The static pass (`static_check`) needs no database; the smoke rows (`dkenv.check.smoke.smoke_rows`)
run after a deploy; the live pass and the output are driven by the CLI.
"""

from __future__ import annotations

from dkenv.check.findings import ENGINES, ERROR, INFO, WARNING, Finding, normalize_engines
from dkenv.check.report import (
    CheckResult,
    is_success,
    render_matrix,
    results_from_findings,
    to_json,
    write_junit,
)
from dkenv.check.static import static_check, tables_with_errors

__all__ = [
    "CheckResult",
    "ENGINES",
    "ERROR",
    "INFO",
    "WARNING",
    "Finding",
    "is_success",
    "normalize_engines",
    "render_matrix",
    "results_from_findings",
    "static_check",
    "tables_with_errors",
    "to_json",
    "write_junit",
]
