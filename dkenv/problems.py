"""One difference between the models and a live database: `Problem(table, kind, detail)`.

It sits at the bottom of the import layers (docs/architecture.md), below `results`, so that
`ValidationResult.problems` is typed and every module that reports differences (`validate/`,
`deployed`, `migrations/`) builds the same value. `PROBLEM_KINDS` lists what
`dkenv.validate.validate_tables` reports; the row checks add ``orphan_rows`` (`validate.rows`),
`dkenv validate --strict` adds what the database has beyond the models (``extra_table``, …;
`migrations.compare`), and `migrations check --data` adds ``rows_lost`` and ``rows_changed``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

PROBLEM_KINDS = (
    "missing_table",
    "missing_column",
    "extra_column",
    "type_mismatch",
    "nullability",
    "default",
    "generated",
    "identity",
    "comment",
    "collation",
    "primary_key",
    "foreign_key",
    "unique",
    "index",
    "check",
    "name",
    "table_option",
    "view",
    "trigger",
    "sequence",
    "extension",
    "enum",
    "partition",
)


@dataclass(frozen=True)
class Problem:
    """One difference between a model table and the live database."""

    table: str  # schema-qualified name as in the model ("schema.name" or "name")
    kind: str  # one of PROBLEM_KINDS, or a kind the checks above add
    detail: str  # one human line: what the model says vs what the database has

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


__all__ = ["PROBLEM_KINDS", "Problem"]
