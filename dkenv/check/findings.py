"""What the static pass reports: one `Finding` per (table, column, engine, trap).

A finding is plain data so that the terminal matrix, ``--json`` and ``--junit`` can all be
rendered from the same list without knowing which trap produced it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

from dkenv.engines import ENGINE_ALIASES  # noqa: F401 - re-exported for the check modules
from dkenv.engines import ENGINES as _REGISTERED
from dkenv.engines.registry import LABELS

#: The engines dkenv checks, in the order the matrix shows them (the registry's order).
ENGINES: tuple[str, ...] = tuple(_REGISTERED)


ERROR = "error"  # will not deploy, or fails on the first insert
WARNING = "warning"  # deploys, but behaves differently from the other engines
INFO = "info"  # deploys with dkenv; worth knowing for other tools (a foreign-key cycle)
SEVERITIES: tuple[str, ...] = (ERROR, WARNING, INFO)



@dataclass(frozen=True)
class Finding:
    """One portability trap in one table (and column) for one engine.

    ``severity`` is ``"error"`` when the table will not deploy or its first insert fails on
    that engine, and ``"warning"`` when it deploys but data behaves differently there.
    ``fix`` is always the portable spelling in model code, so a user can paste it.
    """

    table: str
    column: str | None
    engine: str
    severity: str
    code: str
    message: str
    fix: str

    def to_dict(self) -> dict[str, str | None]:
        """The finding as JSON-ready data (the keys are the field names)."""
        return asdict(self)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


def normalize_engines(engines: Iterable[str]) -> tuple[str, ...]:
    """Map user spellings (``postgresql``, ``mariadb``) to engine names, dropping duplicates.

    Raises ``ValueError`` naming the unknown engine and the accepted ones.
    """
    result: list[str] = []
    for raw in engines:
        name = ENGINE_ALIASES.get(raw.strip().lower())
        if name is None:
            raise ValueError(
                f"unknown engine {raw!r}: choose from {', '.join(ENGINES)}"
            )
        if name not in result:
            result.append(name)
    return tuple(result)


def sort_key(finding: Finding) -> tuple[str, str, int, str, str]:
    """Order by table, column (table-level findings first), engine (matrix order), code."""
    return (
        finding.table,
        finding.column or "",
        ENGINES.index(finding.engine),
        finding.code,
        finding.message,
    )


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Findings in the deterministic order that every output uses; duplicates dropped."""
    return sorted(set(findings), key=sort_key)


def engines_label(engines: Sequence[str]) -> str:
    """'SQLite and MySQL' — for messages that name several engines."""
    labels = [LABELS[e] for e in engines]
    if len(labels) <= 1:
        return "".join(labels)
    return ", ".join(labels[:-1]) + " and " + labels[-1]
