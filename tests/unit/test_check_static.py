"""The static pass of `dkenv check`: one small, realistic datakit per trap.

Each test declares SQLModel classes on a fresh registry (so table names never collide in
`SQLModel.metadata`) and asserts the finding's code, severity, engine and fix hint.
"""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry
from sqlmodel import Field, SQLModel

from dkenv.check import ENGINES, Finding, static_check
from dkenv.check.findings import normalize_engines


def fresh_base() -> type[SQLModel]:
    class Base(SQLModel, registry=registry()):
        pass

    return Base


def tables(*models: type[SQLModel]) -> list[sa.Table]:
    return [m.__table__ for m in models]  # type: ignore[attr-defined]


def only(findings: list[Finding], code: str, engine: str | None = None,
         column: str | None = None) -> list[Finding]:
    return [
        f for f in findings
        if f.code == code and (engine is None or f.engine == engine)
        and (column is None or f.column == column)
    ]


def one(findings: list[Finding], code: str, engine: str, column: str | None = None) -> Finding:
    found = only(findings, code, engine, column)
    assert len(found) == 1, f"expected one {code}/{engine}/{column}, got {found}"
    return found[0]


# --------------------------------------------------------------------------- portable baseline
def test_portable_datakit_has_no_findings() -> None:
    Base = fresh_base()

    class Region(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        code: str = Field(max_length=8, unique=True)

    class Store(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        region_id: int = Field(foreign_key="region.id", index=True)
        name: str = Field(max_length=120)
        opened_on: dt.date
        revenue: decimal.Decimal = Field(max_digits=12, decimal_places=2)
        active: bool = True
        ref: uuid.UUID = Field(default_factory=uuid.uuid4)

    assert static_check(tables(Region, Store)) == []


def test_result_is_sorted_and_serialisable() -> None:
    Base = fresh_base()

    class Order(Base, table=True):
        __tablename__ = "order"
        id: int | None = Field(default=None, primary_key=True)
        note: str
        amount: decimal.Decimal

    findings = static_check(tables(Order))
    keys = [(f.table, f.column or "", ENGINES.index(f.engine), f.code) for f in findings]
    assert keys == sorted(keys)
    assert findings[0].column is None  # table-level findings come first
    data = findings[0].to_dict()
    assert set(data) == {"table", "column", "engine", "severity", "code", "message", "fix"}


def test_engines_are_normalised_and_filtered() -> None:
    Base = fresh_base()

    class Note(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        body: str

    assert normalize_engines(["postgresql", "mariadb", "mysql"]) == ("postgres", "mysql")
    assert {f.engine for f in static_check(tables(Note), ["mariadb"])} == {"mysql"}
    assert static_check(tables(Note), ["sqlite"]) == []
    with pytest.raises(ValueError, match="oracle"):
        static_check(tables(Note), ["oracle"])


# --------------------------------------------------------------------------- strings
def test_str_without_max_length_is_varchar_255_on_mysql() -> None:
    Base = fresh_base()

    class Customer(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        full_name: str

    findings = static_check(tables(Customer))
    f = one(findings, "unbounded-string", "mysql", "full_name")
    assert f.severity == "warning"
    assert "VARCHAR(255) on MySQL" in f.message
    assert "Field(max_length=" in f.fix
    assert only(findings, "unbounded-string", "postgres") == []


def test_plain_sqlalchemy_string_without_length_is_an_error_on_mysql() -> None:
    Base = fresh_base()

    class Event(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        payload_kind: str = Field(sa_type=sa.String())

    f = one(static_check(tables(Event)), "unbounded-string", "mysql", "payload_kind")
    assert f.severity == "error"
    assert "does not compile for MySQL" in f.message
    assert "String(255)" in f.fix
    # the generic type-support check does not report it a second time
    assert only(static_check(tables(Event)), "type-support") == []


# --------------------------------------------------------------------------- server defaults
def test_now_default_is_rewritten_for_sqlite_and_native_elsewhere() -> None:
    Base = fresh_base()

    class Visit(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        seen_at: dt.datetime = Field(sa_column_kwargs={"server_default": sa.text("now()")})

    findings = only(static_check(tables(Visit)), "engine-default")
    assert [f.engine for f in findings] == ["sqlite"]  # MySQL has now(); PostgreSQL too
    f = findings[0]
    assert f.severity == "warning"
    assert "fails on the first INSERT" in f.message and "dkenv deploy rewrites" in f.message
    assert 'sa.text("CURRENT_TIMESTAMP")' in f.fix


def test_timezone_utc_now_is_rewritten_on_sqlite_and_mysql() -> None:
    Base = fresh_base()

    class Audit(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        at: dt.datetime = Field(
            sa_column_kwargs={"server_default": sa.text("timezone('utc', now())")}
        )

    findings = only(static_check(tables(Audit)), "engine-default")
    assert {(f.engine, f.severity) for f in findings} == {("sqlite", "warning"), ("mysql", "warning")}


def test_gen_random_uuid_is_an_error_off_postgres() -> None:
    Base = fresh_base()

    class Device(Base, table=True):
        id: uuid.UUID = Field(
            primary_key=True, sa_column_kwargs={"server_default": sa.text("gen_random_uuid()")}
        )

    findings = only(static_check(tables(Device)), "engine-default")
    assert {(f.engine, f.severity) for f in findings} == {("sqlite", "error"), ("mysql", "error")}
    assert all("default_factory=uuid.uuid4" in f.fix for f in findings)
    assert "PostgreSQL function" in one(findings, "engine-default", "mysql").message


def test_uuid_generate_v4_needs_an_extension_on_postgres() -> None:
    Base = fresh_base()

    class Token(Base, table=True):
        id: uuid.UUID = Field(
            primary_key=True, sa_column_kwargs={"server_default": sa.text("uuid_generate_v4()")}
        )

    f = one(static_check(tables(Token), ["postgres"]), "engine-default", "postgres")
    assert f.severity == "error"
    assert "uuid-ossp" in f.message


def test_literal_cast_is_rewritten_and_other_casts_are_errors() -> None:
    Base = fresh_base()

    class Ticket(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        state: str = Field(
            max_length=20, sa_column_kwargs={"server_default": sa.text("'open'::character varying")}
        )
        priority: int = Field(sa_column_kwargs={"server_default": sa.text("(0)::integer")})
        rank: int = Field(sa_column_kwargs={"server_default": sa.text("(1 + 1)::integer")})

    findings = static_check(tables(Ticket))
    state = one(findings, "engine-default", "mysql", "state")
    assert state.severity == "warning" and "'open'" in state.fix
    priority = one(findings, "engine-default", "sqlite", "priority")
    assert priority.severity == "warning" and "rewrites it to 0" in priority.message
    rank = one(findings, "engine-default", "sqlite", "rank")
    assert rank.severity == "error" and "::type cast" in rank.message
    assert "server_default='0'" not in rank.fix
    assert only(findings, "engine-default", "postgres") == []


def test_boolean_defaults_that_one_engine_reads_differently() -> None:
    Base = fresh_base()

    class Flag(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        enabled: bool = Field(sa_column_kwargs={"server_default": "false"})
        visible: bool = Field(sa_column_kwargs={"server_default": sa.text("0")})
        portable: bool = Field(sa_column_kwargs={"server_default": sa.false()})

    findings = static_check(tables(Flag))
    assert one(findings, "engine-default", "mysql", "enabled").severity == "error"
    sqlite = one(findings, "engine-default", "sqlite", "enabled")
    assert sqlite.severity == "warning" and "reads back as True" in sqlite.message
    pg = one(findings, "engine-default", "postgres", "visible")
    assert pg.severity == "error" and pg.fix.startswith("server_default=sa.false()")
    assert only(findings, "engine-default", column="portable") == []


def test_quoted_now_is_frozen_on_postgres_and_rejected_on_mysql() -> None:
    Base = fresh_base()

    class Login(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        at: dt.datetime = Field(sa_column_kwargs={"server_default": "now()"})

    findings = static_check(tables(Login))
    assert "deploy time" in one(findings, "engine-default", "postgres", "at").message
    assert one(findings, "engine-default", "mysql", "at").severity == "error"


def test_text_column_literal_default_on_mysql() -> None:
    Base = fresh_base()

    class Page(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        body: str = Field(sa_type=sa.Text, sa_column_kwargs={"server_default": ""})

    f = one(static_check(tables(Page)), "engine-default", "mysql", "body")
    assert f.severity == "error" and "TEXT/BLOB/JSON" in f.message


# --------------------------------------------------------------------------- enums
class Status(enum.Enum):
    PENDING = "pending"
    SHIPPED = "shipped"


class Plan(enum.Enum):
    BASIC = "basic-plan"
    PREMIUM = "premium-plan"


class Mood(enum.Enum):
    happy = "happy"
    sad = "sad"


def test_enum_names_versus_values_and_sqlite_without_check() -> None:
    Base = fresh_base()

    class Shipment(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        status: Status
        mood: Mood

    findings = static_check(tables(Shipment))
    labels = only(findings, "enum-labels", column="status")
    # MySQL matches ENUM labels case-insensitively, so 'pending' finds 'PENDING' there
    assert [f.engine for f in labels] == ["sqlite", "postgres"]
    assert "('PENDING'), not the values ('pending')" in labels[0].message
    assert labels[0].fix == ("sa_column=Column(Enum(Status, values_callable=lambda e:"
                             " [m.value for m in e]))")  # SQLModel's spelling
    assert only(findings, "enum-labels", column="mood") == []  # names equal values
    sqlite = one(findings, "enum-type", "sqlite", "mood")
    assert sqlite.severity == "warning" and "create_constraint=True" in sqlite.fix


def test_enum_fix_is_written_in_the_models_own_style() -> None:
    """Declarative classes get mapped_column(...), Core tables Column("name", ...)."""
    class Base(DeclarativeBase):
        pass

    class Order(Base):
        __tablename__ = "order_decl"
        id: Mapped[int] = mapped_column(primary_key=True)
        plan: Mapped[Plan] = mapped_column(sa.Enum(Plan, name="plan_decl"))

    core = sa.Table("order_core", sa.MetaData(), sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("plan", sa.Enum(Plan, name="plan_core")))
    declarative = one(static_check([Order.__table__]), "enum-labels", "postgres", "plan")
    assert declarative.fix == ("mapped_column(Enum(Plan, values_callable=lambda e:"
                               " [m.value for m in e]))")
    table = one(static_check([core]), "enum-labels", "postgres", "plan")
    assert table.fix == 'Column("plan", Enum(Plan, values_callable=lambda e: [m.value for m in e]))'


def test_enum_values_that_differ_beyond_case_are_reported_on_mysql() -> None:
    Base = fresh_base()

    class Coverage(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        plan: Plan

    f = one(static_check(tables(Coverage)), "enum-labels", "mysql", "plan")
    assert "('BASIC'), not the values ('basic-plan')" in f.message


def test_enum_type_shared_with_different_labels_fails_on_postgres() -> None:
    Base = fresh_base()

    class OrderState(enum.Enum):
        open = "open"
        closed = "closed"

    class ParcelState(enum.Enum):
        packed = "packed"
        lost = "lost"

    class Orders(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        state: OrderState = Field(sa_column=sa.Column(sa.Enum(OrderState, name="state")))

    class Parcels(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        state: ParcelState = Field(sa_column=sa.Column(sa.Enum(ParcelState, name="state")))

    findings = only(static_check(tables(Orders, Parcels)), "enum-type", "postgres")
    assert len(findings) == 1
    f = findings[0]
    assert f.table == "parcels" and f.severity == "error"
    assert "orders.state" in f.message
    assert 'name="parcels_state"' in f.fix


def test_enum_named_like_a_table_fails_on_postgres() -> None:
    Base = fresh_base()

    class Status_(Base, table=True):
        __tablename__ = "status"
        id: int | None = Field(default=None, primary_key=True)

    class Job(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        status: Status

    f = one(static_check(tables(Status_, Job), ["postgres"]), "enum-type", "postgres", "status")
    assert f.severity == "error" and "name of a table" in f.message


# --------------------------------------------------------------------------- names
def test_long_identifiers_and_generated_names() -> None:
    Base = fresh_base()

    class Parent(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)

    class Child(Base, table=True):
        __tablename__ = "customer_subscription_billing_history_adjustments_archive_x"
        id: int | None = Field(default=None, primary_key=True)
        parent_id: int = Field(foreign_key="parent.id", index=True)

    findings = static_check(tables(Parent, Child))
    f = one(findings, "identifier-length", "mysql", "parent_id")
    assert f.severity == "error" and "_ibfk_1" in f.message
    assert "name='fk_short'" in f.fix
    # PostgreSQL shortens its own generated names; the ix_ name is shortened by SQLAlchemy
    assert only(findings, "identifier-length", "postgres") == []


def test_long_column_name_truncated_by_postgres_and_rejected_by_mysql() -> None:
    Base = fresh_base()
    long_a = "measurement_" + "a" * 55 + "_first"
    long_b = "measurement_" + "a" * 55 + "_second"
    table = sa.Table(
        "reading", Base.metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(long_a, sa.Integer), sa.Column(long_b, sa.Integer),
        sa.Index("ix_reading_" + "x" * 60, "id"),
    )
    findings = static_check([table])
    assert one(findings, "identifier-length", "mysql", long_a).severity == "error"
    assert one(findings, "identifier-length", "postgres", long_a).severity == "warning"
    pg_b = only(findings, "identifier-length", "postgres", long_b)
    assert {f.severity for f in pg_b} == {"warning", "error"}  # cut, and then a duplicate
    explicit = [f for f in only(findings, "identifier-length", "postgres") if f.column is None]
    assert explicit and "refuses to compile" in explicit[0].message


def test_reserved_words_are_warned_per_engine() -> None:
    Base = fresh_base()

    class User(Base, table=True):
        __tablename__ = "user"
        id: int | None = Field(default=None, primary_key=True)
        rank: int
        email: str = Field(max_length=200)

    findings = static_check(tables(User))
    table_level = [f for f in only(findings, "reserved-word") if f.column is None]
    assert [f.engine for f in table_level] == ["postgres"]  # 'user' is PostgreSQL's
    assert table_level[0].severity == "warning" and '"users"' in table_level[0].fix
    rank = only(findings, "reserved-word", column="rank")
    assert [f.engine for f in rank] == ["mysql"]  # MySQL 8 window function
    assert only(findings, "reserved-word", column="email") == []


def test_mixed_case_names_on_postgres() -> None:
    Base = fresh_base()

    class Legacy(Base, table=True):
        __tablename__ = "CustomerAccount"
        id: int | None = Field(default=None, primary_key=True)

    f = one(static_check(tables(Legacy)), "identifier-case", "postgres")
    assert "'customer_account'" in f.fix


def test_schemas_on_sqlite_cross_schema_foreign_key() -> None:
    Base = fresh_base()

    class Customer(Base, table=True):
        __table_args__ = {"schema": "bronze"}
        id: int | None = Field(default=None, primary_key=True)

    class Spend(Base, table=True):
        __table_args__ = {"schema": "silver"}
        id: int | None = Field(default=None, primary_key=True)
        customer_id: int = Field(foreign_key="bronze.customer.id")

    findings = static_check(tables(Customer, Spend))
    f = one(findings, "schema", "sqlite", "customer_id")
    assert f.table == "silver.spend" and f.severity == "warning"
    assert "not enforced" in f.message
    assert only(findings, "schema", "postgres") == [] and only(findings, "schema", "mysql") == []


# --------------------------------------------------------------------------- types
def test_timezone_aware_datetime_drops_the_zone_on_mysql_and_sqlite() -> None:
    Base = fresh_base()

    class Payment(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        paid_at: dt.datetime = Field(sa_column=sa.Column(sa.DateTime(timezone=True)))
        booked_at: dt.datetime  # SQLModel's UTCDateTime: portable by design

    findings = static_check(tables(Payment))
    tz = only(findings, "tz-datetime")
    assert {(f.engine, f.column) for f in tz} == {("sqlite", "paid_at"), ("mysql", "paid_at")}
    assert tz[0].severity == "warning" and "10:00+02:00 becomes 10:00" in tz[0].message
    precision = only(findings, "datetime-precision")
    assert {f.engine for f in precision} == {"mysql"}
    assert "fsp=6" in precision[0].fix


def test_numeric_without_precision_rounds_on_mysql_and_floats_on_sqlite() -> None:
    Base = fresh_base()

    class Invoice(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        total: decimal.Decimal
        tax: decimal.Decimal = Field(sa_type=sa.Numeric(10))
        exact: decimal.Decimal = Field(max_digits=12, decimal_places=2)

    findings = static_check(tables(Invoice))
    mysql_total = one(findings, "numeric-precision", "mysql", "total")
    assert "DECIMAL(10,0)" in mysql_total.message and "12.34 is stored as 12" in mysql_total.message
    assert "Field(max_digits=12, decimal_places=2)" in mysql_total.fix
    assert one(findings, "numeric-sqlite", "sqlite", "total").severity == "warning"
    assert {f.engine for f in only(findings, "numeric-precision", column="tax")} == {
        "postgres", "mysql"}
    assert only(findings, "numeric-precision", column="exact") == []
    assert only(findings, "numeric-sqlite", column="exact") == []


def test_postgres_only_types() -> None:
    Base = fresh_base()

    class Profile(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        tags: list[str] = Field(sa_type=postgresql.ARRAY(sa.String(30)))
        attrs: dict = Field(sa_type=postgresql.JSONB)
        ip: str = Field(sa_type=postgresql.INET)
        token: uuid.UUID = Field(sa_type=postgresql.UUID(as_uuid=True))
        doc: dict = Field(sa_type=sa.JSON)

    findings = static_check(tables(Profile))
    tags = only(findings, "type-support", column="tags")
    assert {(f.engine, f.severity) for f in tags} == {("sqlite", "error"), ("mysql", "error")}
    assert "JSON list" in tags[0].fix
    assert one(findings, "type-support", "mysql", "attrs").severity == "error"
    # JSONB on SQLite: stored as JSON text where SQLAlchemy compiles it for SQLite (2.1+: a
    # warning), a failing CREATE TABLE where it does not (2.0: an error).
    try:
        postgresql.JSONB().compile(dialect=sqlite.dialect())
        jsonb_on_sqlite = "warning"
    except sa.exc.CompileError:
        jsonb_on_sqlite = "error"
    assert one(findings, "type-support", "sqlite", "attrs").severity == jsonb_on_sqlite
    ip = one(findings, "type-support", "mysql", "ip")
    assert "profile.ip is INET" in ip.message
    assert ip.fix.startswith('sa_type=sa.String(45).with_variant(postgresql.INET(), "postgresql")')
    assert "postgresql.ARRAY(sa.String(length=30))" in tags[0].fix
    token = one(findings, "type-support", "mysql", "token")
    assert "MariaDB 10.7+" in token.message and "uuid.UUID" in token.fix
    assert only(findings, "type-support", column="doc") == []
    assert only(findings, "type-support", "postgres") == []


def test_mysql_only_types_fail_elsewhere() -> None:
    Base = fresh_base()

    class Legacy(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        flags: int = Field(sa_type=mysql.TINYINT)

    findings = only(static_check(tables(Legacy)), "type-support")
    assert {f.engine for f in findings} == {"sqlite", "postgres"}
    assert findings[0].fix == "sa_type=sa.SmallInteger"


def test_interval_is_emulated_off_postgres() -> None:
    Base = fresh_base()

    class Task(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        duration: dt.timedelta

    findings = only(static_check(tables(Task)), "type-support")
    assert {(f.engine, f.severity) for f in findings} == {("sqlite", "warning"), ("mysql", "warning")}


# --------------------------------------------------------------------------- keys
def test_foreign_key_to_a_table_nobody_defines() -> None:
    Base = fresh_base()

    class Sale(Base, table=True):
        __table_args__ = {"schema": "silver"}
        id: int | None = Field(default=None, primary_key=True)
        customer_id: int = Field(foreign_key="bronze.customer.id")

    findings = only(static_check(tables(Sale)), "dangling-fk")
    assert [f.engine for f in findings] == list(ENGINES)
    assert all(f.severity == "error" for f in findings)
    assert "bronze.customer" in findings[0].message
    assert "dkenv check ./bronze ./silver" in findings[0].fix
    # listed by another datakit in the same run: fine
    assert only(static_check(tables(Sale), known_tables={"bronze.customer"}), "dangling-fk") == []


def test_foreign_key_to_a_column_that_is_not_unique() -> None:
    Base = fresh_base()

    class Product(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        sku: str = Field(max_length=40)

    class Stock(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        sku: str = Field(max_length=40, foreign_key="product.sku")

    findings = only(static_check(tables(Product, Stock)), "fk-target")
    assert {(f.engine, f.severity) for f in findings} == {
        ("sqlite", "warning"), ("postgres", "error"), ("mysql", "error")}
    assert "Field(unique=True)" in findings[0].fix


def test_foreign_key_integer_width_mismatch_on_mysql() -> None:
    Base = fresh_base()

    class Account(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)

    class Entry(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        account_id: int = Field(sa_type=sa.BigInteger, foreign_key="account.id")

    f = one(static_check(tables(Account, Entry)), "fk-type", "mysql", "account_id")
    assert f.severity == "error" and "(INTEGER)" in f.fix


def test_index_on_text_column_needs_a_prefix_on_mysql() -> None:
    Base = fresh_base()

    class Article(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        body: str = Field(sa_type=sa.Text, index=True)
        slug: str = Field(sa_type=sa.Text)
        __table_args__ = (sa.Index("ix_article_slug", "slug", mysql_length=191),)

    findings = only(static_check(tables(Article)), "text-index")
    assert [(f.engine, f.column, f.severity) for f in findings] == [("mysql", "body", "error")]
    assert "mysql_length=191" in findings[0].fix


def test_key_too_long_for_innodb() -> None:
    Base = fresh_base()

    class Url(Base, table=True):
        id: int | None = Field(default=None, primary_key=True)
        href: str = Field(max_length=2000, unique=True)

    f = one(static_check(tables(Url)), "text-index", "mysql", "href")
    assert "3072-byte key limit" in f.message


def test_mysql_row_size_limit() -> None:
    metadata = sa.MetaData()
    wide = sa.Table(
        "wide_import", metadata, sa.Column("id", sa.Integer, primary_key=True),
        *[sa.Column(f"field_{i}", sa.String(255)) for i in range(70)],
    )
    f = one(static_check([wide]), "row-size", "mysql")
    assert f.column is None and f.severity == "error" and "sa.Text" in f.fix
