"""What deploy and validate return: results with attribute and ``result["key"]`` access.

The Layer 2 framework that dkenv replaces returned dicts; these dataclasses keep that access
(``result["success"]``) beside attributes and give ``--json`` its documents.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dkenv.problems import Problem


class _Result:
    """Attribute access and ``result["key"]`` access, as the framework's dict results had."""

    def __getitem__(self, key: str) -> Any:
        try:
            return getattr(self, key)
        except AttributeError:
            raise KeyError(key) from None

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and hasattr(self, key)


@dataclass
class DeployResult(_Result):
    success: bool
    target: str
    datakits: list[str]
    tables: list[str]
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    schemas_created: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success, "target": self.target, "datakits": self.datakits,
            "warnings": self.warnings,
            "tables": self.tables, "created": self.created, "existing": self.existing,
            "schemas_created": self.schemas_created, "errors": self.errors,
            "duration_s": round(self.duration_s, 4),
        }


@dataclass
class ValidationResult(_Result):
    success: bool
    target: str
    tables: list[str]
    problems: list[Problem] = field(default_factory=list)
    duration_s: float = 0.0
    row_counts: dict[str, int] = field(default_factory=dict)  # validate_pipeline_flow: rows per table

    def __bool__(self) -> bool:
        return self.success

    def __repr__(self) -> str:
        """Readable in assertion messages: one ``table: kind: detail`` line per problem."""
        if self.success:
            return f"<ValidationResult {self.target}: {len(self.tables)} table(s), no problems>"
        lines = [f"<ValidationResult {self.target}: {len(self.problems)} problem(s)"]
        lines += [f"  {p.table}: {p.kind}: {p.detail}" for p in self.problems]
        return "\n".join(lines) + ">"

    def to_dict(self) -> dict[str, Any]:
        return {
            "success": self.success, "target": self.target, "tables": self.tables,
            "problems": [p.to_dict() for p in self.problems],
            "duration_s": round(self.duration_s, 4),
        } | ({"row_counts": self.row_counts} if self.row_counts else {})


__all__ = ["DeployResult", "ValidationResult"]
