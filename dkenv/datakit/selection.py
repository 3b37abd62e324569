"""Selection: which of a datakit's candidate modules are imported, and why the others are not.

Inputs are the layout (candidate modules), the source scan of each, and the datakit's own
settings (``include``/``exclude``).  A module is imported when it is included, not excluded,
and declares a table (or cannot be parsed: its syntax error must reach the user).  Every other
module is recorded as :class:`Skipped` with the reason, so ``--verbose``/``--json`` can say it;
a skipped file that does declare a table is flagged so it is shown even without ``--verbose``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dkenv.datakit.layout import Layout, ModuleFile
from dkenv.datakit.scan import ModuleScan
from dkenv.datakit.settings import DatakitSettings
from dkenv.errors import DatakitError


@dataclass(frozen=True)
class Skipped:
    """A module (or folder) of the datakit that was not imported, and why.

    ``declares_tables`` is set when its source does declare a table (excluded, guarded by
    ``if TYPE_CHECKING:``, inside a function, unimportable name): such a skip is always shown.
    """

    module: str
    reason: str
    declares_tables: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"module": self.module, "reason": self.reason, "declares_tables": self.declares_tables}


def matches(module: ModuleFile, root: Path, patterns: Sequence[str]) -> str | None:
    rel = module.path.relative_to(root).as_posix() if module.path.is_relative_to(root) else module.path.as_posix()
    for pattern in patterns:
        if fnmatch.fnmatchcase(module.name, pattern) or fnmatch.fnmatchcase(rel, pattern):
            return pattern
    return None


def select(layout: Layout, scans: dict[str, ModuleScan], settings: DatakitSettings,
            skipped: list[Skipped]) -> list[ModuleFile]:
    """The modules to import: included, not excluded, declaring tables (or unreadable)."""
    for key, patterns in (("include", settings.include), ("exclude", settings.exclude)):
        for pattern in patterns:
            if not any(matches(m, layout.root, [pattern]) for m in layout.modules):
                raise DatakitError(f"{settings.where(key)}: {key} glob {pattern!r} matches no module of the datakit",
                                   f"globs match dotted module names (e.g. {layout.modules[0].name.split('.')[0]}.*) "
                                   "or file paths "
                                   f"relative to {layout.root}")
    chosen = []
    for module in layout.modules:
        scan = scans[module.name]
        if settings.include and not matches(module, layout.root, settings.include):
            if scan.declares_tables:
                skipped.append(Skipped(module.name, f"not matched by include in {settings.where('include')}", True))
            continue
        pattern = matches(module, layout.root, settings.exclude)
        if pattern:
            skipped.append(Skipped(module.name, f"excluded by {pattern!r} in {settings.where('exclude')}",
                                   scan.declares_tables))
            continue
        if scan.declares_tables or scan.unparsable_table:
            chosen.append(module)  # a table module with a syntax error rejects the datakit (file:line)
        elif scan.syntax_error is not None:
            skipped.append(Skipped(module.name, f"syntax error at line {scan.syntax_error.lineno} in a file "
                                   "that shows no table declaration"))
        elif not module.package:
            if scan.guarded:
                line, what = scan.guarded[0]
                skipped.append(Skipped(module.name, f"no table at import time ({what}, line {line})", True))
                continue
            elif module.loose:
                reason = "loose script that declares no table"
            else:
                reason = "declares no table"
            if scan.undecided:
                line, what = scan.undecided[0]
                reason += f" it can tell ({what}, line {line}; its body declares no column)"
            skipped.append(Skipped(module.name, reason))
    return chosen


def no_tables_error(path: str | Path, layout: Layout, scans: dict[str, ModuleScan]) -> DatakitError:
    guarded = [(m, s.guarded[0]) for m, s in scans.items() if s.guarded]
    if guarded:
        module, (line, what) = guarded[0]
        return DatakitError(f"datakit {str(path)!r} defines no table at import time: {module} line {line}: {what}",
                            "declare tables at module level; declarations under `if TYPE_CHECKING:` or in "
                            "functions that are never called do not count")
    undecided = [(m, s.undecided[0]) for m, s in scans.items() if s.undecided]
    if undecided:
        module, (line, what) = undecided[0]
        return DatakitError(f"datakit {str(path)!r} defines no table it can tell: {module} line {line}: {what}",
                            "install the library its base comes from, or declare the columns in the class "
                            "body (Column(...), mapped_column(...))")
    return DatakitError(f"datakit {str(path)!r} defines no table classes",
                        "a datakit needs SQLModel classes declared with table=True, SQLAlchemy declarative "
                        "classes (__tablename__, or a base's: DeclarativeBase, Flask-SQLAlchemy's db.Model, "
                        "a library's base) or Table(...) objects")


