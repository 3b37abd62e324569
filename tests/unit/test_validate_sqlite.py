"""validate_tables against real in-memory SQLite databases (with an attached second schema)."""

import datetime
import enum
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlalchemy.pool import StaticPool
from sqlmodel import Field, SQLModel

from dkenv.validate import Problem, validate_tables


class Color(enum.Enum):
    red = 1
    green = 2


def build_model(schema: str = "other") -> sa.MetaData:
    """A small datakit: a table in a second schema, FKs (one across schemas), indexes, uniques."""
    md = sa.MetaData()
    sa.Table(
        "store",
        md,
        sa.Column("store_id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(50), nullable=False, unique=True),
        schema=schema,
    )
    sa.Table(
        "customer",
        md,
        sa.Column("customer_id", sa.Integer, primary_key=True),
        sa.Column("store_id", sa.Integer, nullable=False),
        sa.Column("email", sa.String(100), nullable=False),
        sa.Column("last_name", sa.String(45), nullable=False, index=True),
        sa.Column("age", sa.Integer),
        sa.Column("nickname", sa.String(20)),
        sa.Column("manager_id", sa.Integer),
        sa.UniqueConstraint("email", name="uq_customer_email"),
        sa.ForeignKeyConstraint(
            ["manager_id"], ["customer.customer_id"], name="fk_customer_manager"
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], [f"{schema}.store.store_id"], name="fk_customer_store"
        ),
    )
    sa.Table(
        "rental",
        md,
        sa.Column("rental_id", sa.Integer, primary_key=True),
        sa.Column("inventory_id", sa.Integer, primary_key=True),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customer.customer_id"), nullable=False),
        sa.Column("rented_at", sa.DateTime, nullable=False),
        sa.Index("ix_rental_customer_date", "customer_id", "rented_at"),
    )
    return md


def sqlite_engine(*attached: str) -> sa.Engine:
    """One in-memory database per engine (StaticPool), with `attached` in-memory schemas."""
    engine = sa.create_engine("sqlite://", poolclass=StaticPool)

    @sa.event.listens_for(engine, "connect")
    def attach(dbapi_connection, _record) -> None:
        for name in attached:
            dbapi_connection.execute(f"ATTACH DATABASE ':memory:' AS \"{name}\"")

    return engine


@pytest.fixture
def deployed() -> Iterator[tuple[sa.MetaData, sa.Engine]]:
    md = build_model()
    engine = sqlite_engine("other")
    md.create_all(engine)
    yield md, engine
    engine.dispose()


def kinds(problems: list[Problem]) -> set[tuple[str, str]]:
    return {(p.table, p.kind) for p in problems}


def recreate(engine: sa.Engine, table: str, ddl: str) -> None:
    """SQLite cannot ALTER most things: rebuild `table` by hand, as a migration tool would."""
    with engine.begin() as conn:
        conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
        conn.exec_driver_sql(f"DROP TABLE {table}")
        conn.exec_driver_sql(ddl)


CUSTOMER_DDL = """
CREATE TABLE customer (
    customer_id INTEGER NOT NULL,
    store_id INTEGER NOT NULL,
    email VARCHAR(100) {email_null},
    last_name VARCHAR(45) NOT NULL,
    age {age_type},
    nickname VARCHAR(20),
    manager_id INTEGER,
    PRIMARY KEY (customer_id)
    {unique}
    {fk}
)"""


def customer_ddl(**drift: str) -> str:
    parts = {
        "email_null": "NOT NULL",
        "age_type": "INTEGER",
        "unique": ", CONSTRAINT uq_customer_email UNIQUE (email)",
        "fk": ", FOREIGN KEY (manager_id) REFERENCES customer (customer_id)",
        **drift,
    }
    return CUSTOMER_DDL.format(**parts)


def test_clean_deploy_has_no_problems(deployed) -> None:
    md, engine = deployed
    assert validate_tables(md.sorted_tables, engine) == []


def test_problem_to_dict() -> None:
    problem = Problem("other.store", "missing_table", "table not found")
    assert problem.to_dict() == {
        "table": "other.store",
        "kind": "missing_table",
        "detail": "table not found",
    }


def test_missing_table_and_column(deployed) -> None:
    md, engine = deployed
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE other.store")
        conn.exec_driver_sql("ALTER TABLE customer DROP COLUMN nickname")
    problems = validate_tables(md.sorted_tables, engine)
    assert kinds(problems) == {("other.store", "missing_table"), ("customer", "missing_column")}
    assert any('"nickname"' in p.detail for p in problems)


def test_schema_not_attached_is_missing_table() -> None:
    md = build_model()
    engine = sqlite_engine("other")
    md.create_all(engine)
    bare = sqlite_engine()  # "other" not attached at all
    sa.MetaData().create_all(bare)
    problems = validate_tables([md.tables["other.store"]], bare)
    assert kinds(problems) == {("other.store", "missing_table")}
    assert "not attached" in problems[0].detail


@pytest.mark.parametrize(
    ("drift", "kind", "needle"),
    [
        ({"age_type": "VARCHAR(10)"}, "type_mismatch", '"age"'),
        ({"email_null": ""}, "nullability", '"email"'),
        ({"unique": ""}, "unique", "(email)"),
        ({"fk": ""}, "foreign_key", "(manager_id) -> main.customer(customer_id)"),
    ],
)
def test_drift_is_reported(deployed, drift: dict, kind: str, needle: str) -> None:
    md, engine = deployed
    recreate(engine, "customer", customer_ddl(**drift))
    with engine.begin() as conn:  # the model's index on last_name, which the rebuild dropped
        conn.exec_driver_sql("CREATE INDEX ix_customer_last_name ON customer (last_name)")
    problems = validate_tables(md.sorted_tables, engine)
    assert [(p.table, p.kind) for p in problems] == [("customer", kind)]
    assert needle in problems[0].detail


def test_dropped_index_and_wrong_primary_key(deployed) -> None:
    md, engine = deployed
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_customer_last_name")
        conn.exec_driver_sql("DROP INDEX ix_rental_customer_date")
    recreate(
        engine,
        "rental",
        """CREATE TABLE rental (
        rental_id INTEGER NOT NULL PRIMARY KEY, inventory_id INTEGER NOT NULL,
        customer_id INTEGER NOT NULL REFERENCES customer (customer_id),
        rented_at DATETIME NOT NULL)""",
    )
    problems = validate_tables(md.sorted_tables, engine)
    assert kinds(problems) == {
        ("customer", "index"),
        ("rental", "index"),
        ("rental", "primary_key"),
    }
    assert any("(customer_id, rented_at)" in p.detail for p in problems)


def test_unique_index_satisfies_unique_constraint_and_vice_versa(deployed) -> None:
    md, engine = deployed
    recreate(engine, "customer", customer_ddl(unique=""))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE UNIQUE INDEX some_name ON customer (email)")
        conn.exec_driver_sql("CREATE UNIQUE INDEX other_name ON customer (last_name)")
    assert validate_tables(md.sorted_tables, engine) == []


def test_extra_not_null_column_without_default_is_reported(deployed) -> None:
    md, engine = deployed
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE customer ADD COLUMN harmless TEXT")
        conn.exec_driver_sql("ALTER TABLE customer ADD COLUMN defaulted TEXT NOT NULL DEFAULT 'x'")
    assert validate_tables(md.sorted_tables, engine) == []
    recreate(
        engine,
        "rental",
        """CREATE TABLE rental (
        rental_id INTEGER NOT NULL, inventory_id INTEGER NOT NULL,
        customer_id INTEGER NOT NULL REFERENCES customer (customer_id),
        rented_at DATETIME NOT NULL, required TEXT NOT NULL,
        PRIMARY KEY (rental_id, inventory_id))""",
    )
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_r ON rental (customer_id, rented_at)")
    problems = validate_tables(md.sorted_tables, engine)
    assert kinds(problems) == {("rental", "extra_column")}
    assert '"required"' in problems[0].detail


def test_dialect_spellings_are_not_false_alarms() -> None:
    md = sa.MetaData()
    sa.Table(
        "everything",
        md,
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("flag", sa.Boolean, nullable=False),
        sa.Column("f", sa.Float),
        sa.Column("d", sa.Double),
        sa.Column("r", sa.REAL),
        sa.Column("n", sa.Numeric(10, 2)),
        sa.Column("color", sa.Enum(Color)),
        sa.Column("data", sa.JSON),
        sa.Column("u", sa.Uuid),
        sa.Column("b", sa.LargeBinary),
        sa.Column("ts", sa.DateTime(timezone=True)),
        sa.Column("day", sa.Date),
        sa.Column("at", sa.Time),
        sa.Column("span", sa.Interval),
        sa.Column("t", sa.Text),
        sa.Column("small", sa.SmallInteger),
        sa.Column("big", sa.BigInteger),
        sa.Column("code", sa.String(3), unique=True, index=True),
    )
    engine = sqlite_engine()
    md.create_all(engine)
    assert validate_tables(md.sorted_tables, engine) == []


def test_sqlmodel_classes_validate_cleanly() -> None:
    class Base(SQLModel, registry=registry()):
        pass

    class Kind(enum.StrEnum):
        hero = "hero"
        villain = "villain"

    class Team(Base, table=True):
        __table_args__ = {"schema": "other"}
        id: int | None = Field(default=None, primary_key=True)
        name: str = Field(index=True, unique=True)

    class Hero(Base, table=True):
        id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
        name: str  # AutoString: VARCHAR on SQLite
        nick: str | None = Field(default=None, max_length=30)
        kind: Kind
        born: datetime.datetime
        active: bool = False
        power: float = 0.0
        team_id: int | None = Field(default=None, foreign_key="other.team.id")
        mentor_id: uuid.UUID | None = Field(default=None, foreign_key="hero.id", index=True)

    engine = sqlite_engine("other")
    Base.metadata.create_all(engine)
    tables = [Team.__table__, Hero.__table__]
    assert validate_tables(tables, engine) == []
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_hero_mentor_id")
    assert kinds(validate_tables(tables, engine)) == {("hero", "index")}


def many_tables(n: int, schema: str | None = None) -> sa.MetaData:
    """`n` tables, each with an FK to the previous one, an index and a unique constraint."""
    md = sa.MetaData(schema=schema)
    for i in range(n):
        columns = [
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("code", sa.String(20), nullable=False, unique=True),
            sa.Column("label", sa.String(50), index=True),
            sa.Column("amount", sa.Numeric(10, 2)),
        ]
        if i:
            columns.append(sa.Column("parent_id", sa.Integer, sa.ForeignKey(f"t{i - 1}.id")))
        sa.Table(f"t{i}", md, *columns)
    return md


def count_statements(engine: sa.Engine, tables: list[sa.Table]) -> tuple[int, list[Problem]]:
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        problems = validate_tables(tables, engine)
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    return len(statements), problems


@pytest.mark.parametrize("schema", [None, "other"])
def test_query_count_does_not_grow_with_tables(schema: str | None) -> None:
    counts = []
    for n in (5, 50):
        md = many_tables(n, schema)
        engine = sqlite_engine("other")
        md.create_all(engine)
        count, problems = count_statements(engine, list(md.sorted_tables))
        assert problems == []
        counts.append(count)
    assert counts[0] == counts[1] <= 5  # PRAGMA database_list + columns, indexes, foreign keys, sqlite_master
