"""Compare a live database with the tables a datakit declares, and list what differs.

One module per aspect compared (`columns`, `column_types`, `defaults`, `keys`, `indexes`,
`checks`, `table_options`, `objects`), driven by `compare.validate_tables`; the live schema
(`live`) read by one catalog reader per engine (`readers`, `reader_<engine>`); SQL fragments
and types normalised across engines (`normalize`, `type_families`); the row checks of
``validate_pipeline_flow`` (`rows`). `Problem` lives in `dkenv.problems`, below `results`.
This module only re-exports.
"""

from dkenv.problems import PROBLEM_KINDS, Problem
from dkenv.validate.compare import validate_tables

__all__ = ["PROBLEM_KINDS", "Problem", "validate_tables"]
