"""An environment database's datakits: discovered before anything starts, checked for order.

Every error names where it happened — the ``dkenv.toml`` line, the environment, the database
and the datakit — through :func:`in_context`, which keeps the error's class and exit code.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dkenv.environments.specs import DatabaseSpec, EnvironmentSpec, locate_in_config
from dkenv.errors import ConfigError, DkenvError

if TYPE_CHECKING:
    from dkenv.datakit import Datakit


def discover(spec: EnvironmentSpec, db: DatabaseSpec, pythonpath: Sequence[str | Path] = ()) -> list[Datakit]:
    """The database's datakits through the one loader, each error prefixed by where it was declared."""
    from dkenv.datakit import load_datakits

    kits = []
    for i, (written, path) in enumerate(zip(db.datakits, db.paths)):
        try:
            kits += load_datakits([path], pythonpath=[*db.pythonpath, *pythonpath], requires=False)
        except DkenvError as exc:
            where = locate_in_config(spec.source, spec.name, db.name, "datakits", written,
                                     db.datakits[:i].count(written))
            raise in_context(exc, f"{where}: environment {spec.name}, database {db.name}, "
                                   f"datakit {written!r}") from None
    if db.data:  # a wrong data directory fails before anything starts
        from dkenv.data import find_files

        try:
            find_files(db.data)
        except DkenvError as exc:
            where = locate_in_config(spec.source, spec.name, db.name, "data")
            raise in_context(exc, f"{where}: environment {spec.name}, database {db.name}") from None
    return kits


def check_order(spec: EnvironmentSpec, db: DatabaseSpec, kits: list[Datakit]) -> None:
    """Refuse a datakit listed before one it references (silver before bronze), statically."""
    from dkenv.deploy import fk_target

    defined = {t.fullname: i for i, kit in enumerate(kits) for t in kit.tables}
    for i, kit in enumerate(kits):
        for table in kit.tables:
            for fk in table.foreign_keys:
                ref = fk_target(fk, table)
                j = defined.get(ref)
                if j is None or j <= i:
                    continue
                order = ", ".join(f'"{db.datakits[k]}"' for k in _dependency_order(kits))
                where = locate_in_config(spec.source, spec.name, db.name, "datakits",
                                         db.datakits[i], db.datakits[:i].count(db.datakits[i]))
                raise ConfigError(
                    f"{where}: environment {spec.name}, database {db.name}: datakit {kit.name} is "
                    f"listed before {kits[j].name}, but its table {table.fullname} has a foreign key "
                    f"({fk.parent.name}) into {ref}, which {kits[j].name} defines",
                    f"deploy {kits[j].name} first: datakits = [{order}]",
                )


def _dependency_order(kits: list[Datakit]) -> list[int]:
    """Indexes of ``kits`` with every datakit after the ones it references; stable otherwise."""
    from dkenv.deploy import fk_target

    defined = {t.fullname: i for i, kit in enumerate(kits) for t in kit.tables}
    needs = [{defined[r] for t in kit.tables for fk in t.foreign_keys
              if (r := fk_target(fk, t)) in defined and defined[r] != i} for i, kit in enumerate(kits)]
    order: list[int] = []
    while len(order) < len(kits):
        ready = [i for i in range(len(kits)) if i not in order and needs[i] <= set(order)]
        order.append(ready[0] if ready else next(i for i in range(len(kits)) if i not in order))
    return order


_MISSING = re.compile(r"into (\S+), which is neither in this datakit nor in the target")


def order_hint(exc: DkenvError, spec: EnvironmentSpec, db: DatabaseSpec, kit: Datakit) -> str | None:
    """For a foreign key into a table no earlier datakit defines: where to add that datakit."""
    match = _MISSING.search(exc.message)
    if not match:
        return None
    where = locate_in_config(spec.source, spec.name, db.name, "datakits")
    return (f"add the datakit that defines {match.group(1)} to datakits, before {kit.name} "
            f"({where}); Layer 3 order: bronze before silver")


def in_context(exc: DkenvError, where: str, *, hint: str | None = None) -> DkenvError:
    """The same error (class, exit code), its message prefixed by where it happened."""
    try:
        new = copy.copy(exc)
    except Exception:  # noqa: BLE001 - an error class with another constructor
        new = DkenvError(exc.message, exc.hint)
        new.exit_code = exc.exit_code
    new.message = f"{where}: {exc.message}"
    new.hint = hint or exc.hint
    new.args = (new.message,)
    return new
