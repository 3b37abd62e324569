"""Smoke rows against real SQLite: what CREATE TABLE accepts but the first INSERT rejects."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from dkenv.check.smoke import SmokeFailure, smoke_rows
from dkenv.check.values import differs, value_for


def fresh_base() -> type[SQLModel]:
    class Base(SQLModel, registry=registry()):
        pass

    return Base


@pytest.fixture
def engine(tmp_path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{tmp_path / 'smoke.db'}")


def deploy(engine: sa.Engine, *models: type[SQLModel]) -> list[sa.Table]:
    tables = [m.__table__ for m in models]  # type: ignore[attr-defined]
    models[0].metadata.create_all(engine, tables=tables)
    return tables


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


class Status(enum.Enum):
    PENDING = "pending"
    DONE = "done"


class Kind(enum.Enum):
    retail = "retail"
    wholesale = "wholesale"


def portable_models() -> tuple[type[SQLModel], ...]:
    Base = fresh_base()

    class Customer(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        email: str = Field(max_length=120, unique=True)
        kind: Kind
        created_at: dt.datetime = Field(
            sa_column_kwargs={"server_default": sa.text("CURRENT_TIMESTAMP")}
        )

    class Order(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        customer_id: int = Field(foreign_key="customer.id", index=True)
        total: decimal.Decimal = Field(max_digits=10, decimal_places=2)
        placed_on: dt.date
        placed_at: dt.datetime
        paid: bool = False
        ref: uuid.UUID
        extra: dict = Field(sa_type=sa.JSON)

    class OrderLine(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        order_id: int = Field(foreign_key="order.id")
        sku: str = Field(max_length=12)
        picked_at: dt.time | None = None
        packing: dt.timedelta | None = None
        label: bytes | None = None

    class Employee(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        manager_id: int | None = Field(default=None, foreign_key="employee.id")

    return Customer, Order, OrderLine, Employee


def test_portable_datakit_passes_and_leaves_nothing(engine: sa.Engine) -> None:
    tables = deploy(engine, *portable_models())
    with engine.connect() as conn:
        # given in the wrong order on purpose: smoke_rows sorts by foreign keys
        assert smoke_rows(conn, list(reversed(tables))) == []
        assert not conn.in_transaction()
    assert all(count(engine, t) == 0 for t in tables)


def test_sqlite_now_default_is_accepted_by_create_and_fails_on_insert(engine: sa.Engine) -> None:
    Base = fresh_base()

    class Visit(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        page: str = Field(max_length=200)
        seen_at: dt.datetime = Field(sa_column_kwargs={"server_default": sa.text("now()")})

    (table,) = deploy(engine, Visit)  # CREATE TABLE ... DEFAULT (now()) succeeds
    with engine.connect() as conn:
        failures = smoke_rows(conn, [table])
    assert failures == [SmokeFailure("visit", "seen_at", "unknown function: now()", "insert")]


def test_one_failure_does_not_poison_the_other_tables(engine: sa.Engine) -> None:
    Base = fresh_base()

    class Broken(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        token: str = Field(
            max_length=36, sa_column_kwargs={"server_default": sa.text("gen_random_uuid()")}
        )

    class Fine(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        name: str = Field(max_length=20)

    class Child(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        broken_id: int = Field(foreign_key="broken.id")

    tables = deploy(engine, Broken, Fine, Child)
    with engine.connect() as conn:
        failures = smoke_rows(conn, tables)
    assert [(f.table, f.column, f.kind) for f in failures] == [
        ("broken", "token", "insert"),
        ("child", "broken_id", "parent"),
    ]
    assert "gen_random_uuid" in failures[0].error
    assert "parent table broken failed" in failures[1].error
    assert count(engine, tables[1]) == 0


def test_enum_stored_by_name_is_reported(engine: sa.Engine) -> None:
    Base = fresh_base()

    class Job(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        status: Status

    (table,) = deploy(engine, Job)
    with engine.connect() as conn:
        (failure,) = smoke_rows(conn, [table])
    assert (failure.table, failure.column, failure.kind) == ("job", "status", "enum-labels")
    assert "member names ('PENDING'), not the values" in failure.error
    assert "'pending'" in failure.error


def test_enum_stored_by_value_passes(engine: sa.Engine) -> None:
    Base = fresh_base()

    class Job(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        status: Status = Field(
            sa_column=sa.Column(sa.Enum(Status, values_callable=lambda e: [m.value for m in e]))
        )

    (table,) = deploy(engine, Job)
    with engine.connect() as conn:
        assert smoke_rows(conn, [table]) == []


def test_aware_datetime_loses_its_zone_on_sqlite(engine: sa.Engine) -> None:
    Base = fresh_base()

    class Payment(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        paid_at: dt.datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True)))
        booked_at: dt.datetime  # SQLModel's UTC type: same instant back

    (table,) = deploy(engine, Payment)
    with engine.connect() as conn:
        (failure,) = smoke_rows(conn, [table])
    assert (failure.column, failure.kind) == ("paid_at", "changed")
    assert "time zone was dropped" in failure.error


def test_parent_outside_the_checked_tables(engine: sa.Engine) -> None:
    Base = fresh_base()

    class Country(Base, table=True):
        code: str = Field(max_length=2, primary_key=True)

    class City(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        country_code: str = Field(max_length=2, foreign_key="country.code")

    country, city = deploy(engine, Country, City)
    with engine.connect() as conn:
        (failure,) = smoke_rows(conn, [city])  # bronze table deployed, but empty
        assert failure.kind == "parent" and "country has no row" in failure.error
    with engine.begin() as conn:
        conn.execute(country.insert().values(code="PT"))
    with engine.connect() as conn:
        assert smoke_rows(conn, [city]) == []
    assert count(engine, city) == 0 and count(engine, country) == 1


def test_callers_transaction_is_left_as_it_was(engine: sa.Engine) -> None:
    Customer, Order, OrderLine, Employee = portable_models()
    tables = deploy(engine, Customer, Order, OrderLine, Employee)
    with engine.connect() as conn:
        outer = conn.begin()
        conn.execute(tables[3].insert().values(id=1))
        assert smoke_rows(conn, tables) == []
        assert conn.in_transaction()
        assert conn.execute(sa.select(sa.func.count()).select_from(tables[3])).scalar_one() == 1
        outer.commit()
    assert count(engine, tables[3]) == 1 and count(engine, tables[0]) == 0


def test_read_back_comparison() -> None:
    assert differs(Decimal("12.34"), Decimal("12")) is not None
    assert "rounds" in differs(Decimal("12.34"), Decimal("12"))  # type: ignore[operator]
    assert differs(Decimal("12.34"), Decimal("12.3400000000")) is None
    assert "cut" in differs("abcdef", "abc")  # type: ignore[operator]
    assert differs("ab", "ab   ") is None  # CHAR padding
    aware = dt.datetime(2024, 2, 29, 13, 45, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert differs(aware, aware.astimezone(dt.UTC).replace(tzinfo=None)) is None
    assert "zone was dropped" in differs(aware, aware.replace(tzinfo=None))  # type: ignore[operator]
    naive = dt.datetime(2024, 2, 29, 13, 45, 30, 123456)
    assert "fractional seconds" in differs(naive, naive.replace(microsecond=0))  # type: ignore[operator]


def test_autocommit_connection_is_refused(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        with pytest.raises(ValueError, match="AUTOCOMMIT"):
            smoke_rows(conn, [])


def test_a_type_decorator_gets_a_value_of_the_type_it_takes(engine: sa.Engine) -> None:
    """A decorator that JSON-encodes lists and stores anything else as given: a generated
    string would be stored unencoded and fail to read back; the round trip picks a list."""
    from tests.fixtures.check_datakits.decorated.decorated_kit.tables import JSONList, PointType

    md = sa.MetaData()
    listed = sa.Table("listed", md, sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("scopes", JSONList, nullable=False))
    pointed = sa.Table("pointed", md, sa.Column("id", sa.Integer, primary_key=True),
                       sa.Column("spot", PointType, nullable=False))
    assert isinstance(value_for(listed.c.scopes, "sqlite", 1), list)
    md.create_all(engine)
    with engine.connect() as conn:
        failures = smoke_rows(conn, [listed, pointed])
    assert [(f.table, f.kind) for f in failures] == [("pointed", "unchecked")]


def test_a_python_error_on_dkenvs_value_is_not_the_tables_failure(engine: sa.Engine) -> None:
    """A type whose Python read-back raises on the value dkenv chose: dkenv's limit."""

    class Fussy(sa.String):
        def result_processor(self, dialect, coltype):
            def process(value):
                raise ValueError("cannot read this")
            return process

    md = sa.MetaData()
    fussy = sa.Table("fussy", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("v", Fussy(20), nullable=False))
    md.create_all(engine)
    with engine.connect() as conn:
        failures = smoke_rows(conn, [fussy])
    assert [(f.table, f.kind) for f in failures] == [("fussy", "unchecked")]
    assert "ValueError: cannot read this" in failures[0].error
