"""One compile per datakit per job (issue 16), and one import per datakit path per process.

A compile is what :mod:`dkenv.schema.plan` does before a deploy: ``compile_units`` (the whole
DDL through a mock connection) or ``check_compiles`` (every column's type and default).  The
counter wraps both wherever a dkenv module holds them, records the tables each call compiled,
and calls the real function: every deploy still runs as it does without it.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import dkenv.databases
import dkenv.deploy
import dkenv.jobs
import dkenv.schema.ddl
import dkenv.schema.plan
from dkenv.datakit import load_datakit, load_datakits


class Compiles:
    """Which datakit's tables each compile covered, by table name."""

    def __init__(self) -> None:
        self.calls: list[set[str]] = []

    def of(self, kit: Any) -> int:
        """How many compiles covered any table of ``kit``."""
        names = set(kit.table_names)
        return sum(1 for tables in self.calls if tables & names)


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> Compiles:
    seen = Compiles()
    for name in ("compile_units", "check_compiles"):
        real = getattr(dkenv.schema.plan, name)

        def counting(units: Any, *args: Any, _real: Any = real, **kw: Any) -> Any:
            seen.calls.append({t.fullname for u in units for t in u.tables})
            return _real(units, *args, **kw)

        for module in [m for n, m in sys.modules.items() if n == "dkenv" or n.startswith("dkenv.")]:
            if getattr(module, name, None) is real:
                monkeypatch.setattr(module, name, counting)
    return seen


def test_deploy_validate_compiles_each_datakit_once(dk, examples: Path, compiles: Compiles) -> None:
    bronze, silver = examples / "bronze-pagila", examples / "silver-pagila"
    r = dk("deploy", bronze, silver, "--validate")
    assert r.code == 0, r.err
    kits = load_datakits([bronze, silver], requires=False)
    assert [compiles.of(kit) for kit in kits] == [1, 1]


def test_a_template_build_compiles_each_datakit_once(tmp_path: Path, examples: Path, compiles: Compiles) -> None:
    kits = load_datakits([examples / "bronze-pagila", examples / "silver-pagila"], requires=False)
    with dkenv.databases.DatabaseFactory(f"sqlite:///{tmp_path / 'main.db'}", ready=0) as factory, \
            factory.database(kits) as db:
        assert db.validate().success
    assert [compiles.of(kit) for kit in kits] == [1, 1]


def test_the_loader_imports_a_path_once(examples: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import dkenv.datakit.loader as loader

    discovered: Counter[str] = Counter()

    def counting(path: Any, **kw: Any) -> Any:
        discovered[Path(path).name] += 1
        return load_datakit(path, **kw)

    monkeypatch.setattr(loader, "_CACHE", {})
    monkeypatch.setattr(loader, "load_datakit", counting)
    bronze = examples / "bronze-pagila"
    first = load_datakits([bronze])
    again = load_datakits([str(bronze), bronze / ".." / "bronze-pagila"], requires=False)
    assert again == [first[0], first[0]] and discovered == {"bronze-pagila": 1}
    load_datakits([bronze], pythonpath=[examples])  # other folders on sys.path: imported anew
    assert discovered == {"bronze-pagila": 2}
