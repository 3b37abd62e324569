"""Smoke rows against real PostgreSQL and MariaDB servers (native, no Docker).

The servers come from `tests/native_servers.py`; a test is skipped when the server binaries
are not installed. Every test drops what it created, so the session's servers stay empty.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from dkenv.check.smoke import smoke_rows

# The session fixtures `native_pg` / `native_mariadb` come from tests/native_servers.py,
# registered as a plugin by tests/conftest.py.


class Tier(enum.Enum):
    GOLD = "gold-tier"  # differs from the name beyond case: MySQL matches labels case-blind
    SILVER = "silver-tier"


def fresh_base() -> type[SQLModel]:
    class Base(SQLModel, registry=registry()):
        pass

    return Base


@pytest.fixture
def pg_engine(native_pg) -> Iterator[sa.Engine]:
    engine = sa.create_engine(native_pg.url())
    yield engine
    engine.dispose()


@pytest.fixture
def mariadb_engine(native_mariadb) -> Iterator[sa.Engine]:
    engine = sa.create_engine(native_mariadb.url())
    yield engine
    engine.dispose()


@pytest.fixture
def deployed() -> Iterator[list]:
    """Collects (engine, metadata) pairs and drops their tables after the test."""
    created: list[tuple[sa.Engine, sa.MetaData]] = []
    yield created
    for engine, metadata in created:
        metadata.drop_all(engine)


def deploy(engine: sa.Engine, created: list, *models: type[SQLModel]) -> list[sa.Table]:
    metadata = models[0].metadata
    metadata.create_all(engine)
    created.append((engine, metadata))
    return [m.__table__ for m in models]  # type: ignore[attr-defined]


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def shop_models(prefix: str, *, by_value: bool) -> tuple[type[SQLModel], ...]:
    Base = fresh_base()
    tier_type = (
        sa.Enum(Tier, name=f"{prefix}_tier", values_callable=lambda e: [m.value for m in e])
        if by_value
        else sa.Enum(Tier, name=f"{prefix}_tier")
    )

    class Member(Base, table=True):
        __tablename__ = f"{prefix}_member"
        id: int | None = Field(default=None, primary_key=True)
        email: str = Field(max_length=120, unique=True)
        tier: Tier = Field(sa_column=sa.Column(tier_type, nullable=False))
        joined_at: dt.datetime = Field(
            sa_column_kwargs={"server_default": sa.text("CURRENT_TIMESTAMP")}
        )

    class Purchase(Base, table=True):
        __tablename__ = f"{prefix}_purchase"
        id: int | None = Field(default=None, primary_key=True)
        member_id: int = Field(foreign_key=f"{prefix}_member.id")
        amount: decimal.Decimal = Field(max_digits=10, decimal_places=2)
        ref: uuid.UUID
        meta: dict = Field(sa_type=sa.JSON)
        on_day: dt.date
        gift: bool = False

    return Member, Purchase


# --------------------------------------------------------------------------- PostgreSQL
@pytest.mark.postgres
def test_pg_portable_datakit_passes_and_leaves_nothing(pg_engine, deployed) -> None:
    tables = deploy(pg_engine, deployed, *shop_models("smk_pg_ok", by_value=True))
    with pg_engine.connect() as conn:
        assert smoke_rows(conn, tables) == []
    assert [count(pg_engine, t) for t in tables] == [0, 0]


@pytest.mark.postgres
def test_pg_enum_by_name_rejects_the_values(pg_engine, deployed) -> None:
    member, _ = deploy(pg_engine, deployed, *shop_models("smk_pg_names", by_value=False))
    with pg_engine.connect() as conn:
        (failure,) = smoke_rows(conn, [member])
    assert (failure.table, failure.column, failure.kind) == ("smk_pg_names_member", "tier", "enum-labels")
    assert "invalid input value for enum" in failure.error


@pytest.mark.postgres
def test_pg_failed_table_does_not_abort_the_rest(pg_engine, deployed) -> None:
    Base = fresh_base()

    class Stock(Base, table=True):
        __tablename__ = "smk_pg_stock"
        id: int | None = Field(default=None, primary_key=True)
        qty: int
        __table_args__ = (sa.CheckConstraint("qty < 0", name="smk_pg_stock_negative"),)

    class Note(Base, table=True):
        __tablename__ = "smk_pg_note"
        id: int | None = Field(default=None, primary_key=True)
        body: str = Field(max_length=200)

    stock, note = deploy(pg_engine, deployed, Stock, Note)
    with pg_engine.connect() as conn:
        (failure,) = smoke_rows(conn, [stock, note])
    assert failure.table == "smk_pg_stock" and failure.kind == "insert"
    assert "smk_pg_stock_negative" in failure.error  # the database's own message, one line
    assert "\n" not in failure.error


@pytest.mark.postgres
def test_pg_keeps_the_time_zone(pg_engine, deployed) -> None:
    Base = fresh_base()

    class Payment(Base, table=True):
        __tablename__ = "smk_pg_payment"
        id: int | None = Field(default=None, primary_key=True)
        paid_at: dt.datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True)))

    (table,) = deploy(pg_engine, deployed, Payment)
    with pg_engine.connect() as conn:
        assert smoke_rows(conn, [table]) == []


# --------------------------------------------------------------------------- MySQL / MariaDB
@pytest.mark.mysql
def test_mysql_portable_datakit_passes_and_leaves_nothing(mariadb_engine, deployed) -> None:
    tables = deploy(mariadb_engine, deployed, *shop_models("smk_my_ok", by_value=True))
    with mariadb_engine.connect() as conn:
        assert smoke_rows(conn, tables) == []
    assert [count(mariadb_engine, t) for t in tables] == [0, 0]


@pytest.mark.mysql
def test_mysql_numeric_without_scale_rounds(mariadb_engine, deployed) -> None:
    Base = fresh_base()

    class Invoice(Base, table=True):
        __tablename__ = "smk_my_invoice"
        id: int | None = Field(default=None, primary_key=True)
        total: decimal.Decimal  # Numeric() → DECIMAL(10,0) on MySQL

    (table,) = deploy(mariadb_engine, deployed, Invoice)
    with mariadb_engine.connect() as conn:
        (failure,) = smoke_rows(conn, [table])
    assert (failure.column, failure.kind) == ("total", "changed")
    assert "wrote 12.34, read back 12" in failure.error


@pytest.mark.mysql
def test_mysql_enum_by_name_rejects_the_values(mariadb_engine, deployed) -> None:
    member, purchase = deploy(mariadb_engine, deployed, *shop_models("smk_my_names", by_value=False))
    with mariadb_engine.connect() as conn:
        failures = smoke_rows(conn, [member, purchase])
    assert [(f.table, f.column, f.kind) for f in failures] == [
        ("smk_my_names_member", "tier", "enum-labels")
    ]
    assert "'gold-tier'" in failures[0].error and "Data truncated" in failures[0].error


@pytest.mark.mysql
def test_mysql_drops_the_time_zone(mariadb_engine, deployed) -> None:
    Base = fresh_base()

    class Payment(Base, table=True):
        __tablename__ = "smk_my_payment"
        id: int | None = Field(default=None, primary_key=True)
        paid_at: dt.datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True)))
        booked_at: dt.datetime  # SQLModel's UTC type: fine everywhere

    (table,) = deploy(mariadb_engine, deployed, Payment)
    with mariadb_engine.connect() as conn:
        (failure,) = smoke_rows(conn, [table])
    assert (failure.column, failure.kind) == ("paid_at", "changed")
    assert "time zone was dropped" in failure.error


@pytest.mark.mysql
def test_mysql_insert_error_is_trimmed_and_isolated(mariadb_engine, deployed) -> None:
    Base = fresh_base()

    class Code(Base, table=True):
        __tablename__ = "smk_my_code"
        id: int | None = Field(default=None, primary_key=True)
        value: int
        __table_args__ = (sa.CheckConstraint("value < 0", name="smk_my_code_negative"),)

    class Tag(Base, table=True):
        __tablename__ = "smk_my_tag"
        id: int | None = Field(default=None, primary_key=True)
        label: str = Field(max_length=30)

    code, tag = deploy(mariadb_engine, deployed, Code, Tag)
    with mariadb_engine.connect() as conn:
        (failure,) = smoke_rows(conn, [code, tag])
    assert failure.table == "smk_my_code" and failure.kind == "insert"
    assert "smk_my_code_negative" in failure.error and failure.error.startswith("MySQL error 4025: ")
    assert count(mariadb_engine, tag) == 0


@pytest.mark.postgres
def test_pg_schema_qualified_child_uses_an_existing_bronze_row(pg_engine, deployed) -> None:
    Base = fresh_base()

    class Customer(Base, table=True):
        __tablename__ = "smk_customer"
        __table_args__ = {"schema": "smk_bronze"}
        id: int | None = Field(default=None, primary_key=True)
        email: str = Field(max_length=120)

    class Spend(Base, table=True):
        __tablename__ = "smk_spend"
        __table_args__ = {"schema": "smk_silver"}
        id: int | None = Field(default=None, primary_key=True)
        customer_id: int = Field(foreign_key="smk_bronze.smk_customer.id")
        amount: decimal.Decimal = Field(max_digits=10, decimal_places=2)

    with pg_engine.begin() as conn:
        for schema in ("smk_bronze", "smk_silver"):
            conn.exec_driver_sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    try:
        customer, spend = deploy(pg_engine, deployed, Customer, Spend)
        with pg_engine.connect() as conn:
            (failure,) = smoke_rows(conn, [spend])  # bronze deployed but empty
        assert failure.kind == "parent" and "smk_bronze.smk_customer has no row" in failure.error
        with pg_engine.begin() as conn:
            conn.execute(customer.insert().values(email="a@example.org"))
        with pg_engine.connect() as conn:
            assert smoke_rows(conn, [spend]) == []
        assert count(pg_engine, spend) == 0
    finally:
        for engine, metadata in deployed:
            metadata.drop_all(engine)
        deployed.clear()
        with pg_engine.begin() as conn:
            for schema in ("smk_bronze", "smk_silver"):
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
