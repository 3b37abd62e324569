"""Drift test on SQLite: the battery (tests/drift_battery.py) built by plain `create_all`
validates clean, and each drift applied to it is reported with the right kind."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.pool import StaticPool

from tests.drift_battery import DRIFTS, apply, battery, caught, create_all, problems_of


def fresh() -> tuple[list[sa.MetaData], sa.Engine]:
    engine = sa.create_engine("sqlite://", poolclass=StaticPool)
    metadatas = battery("sqlite")
    create_all(metadatas, engine)
    return metadatas, engine


def test_create_all_database_has_no_problems() -> None:
    metadatas, engine = fresh()
    assert problems_of(metadatas, engine) == []


@pytest.mark.parametrize("drift", DRIFTS["sqlite"], ids=lambda d: d.name)
def test_drift_is_reported(drift) -> None:
    metadatas, engine = fresh()
    apply(engine, drift.ddl)
    problems = problems_of(metadatas, engine)
    assert caught(drift, problems), problems
    # the drift is reported on its own table only (plus views/triggers a rebuild dropped)
    assert {t for t, _, _ in problems} <= {drift.table, "vt"}, problems
