"""validate_tables against real PostgreSQL and MariaDB servers started from the host's packages.

Each test gets a fresh database (PostgreSQL: a database with a second schema; MariaDB: a default
database plus a second database that plays the schema), deploys with `create_all`, then drifts it
with raw DDL.
"""

import enum
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from dkenv.validate import Problem, validate_tables

# The session fixtures `native_pg` / `native_mariadb` come from tests/native_servers.py,
# registered by tests/conftest.py (pytest_plugins).
from tests.native_servers import NativeServer


class Color(enum.Enum):
    red = 1
    green = 2


def build_model(schema: str) -> sa.MetaData:
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
        sa.Column("visits", sa.BigInteger),
        sa.Column("nickname", sa.String(20)),
        sa.Column("color", sa.Enum(Color, name="color")),
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
        sa.Column("rental_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("inventory_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.Integer, sa.ForeignKey("customer.customer_id"), nullable=False),
        sa.Column("rented_at", sa.DateTime, nullable=False),
        sa.Index("ix_rental_customer_date", "customer_id", "rented_at"),
    )
    return md


@dataclass
class Live:
    """A fresh, empty database on a native server, and a second schema inside it."""

    name: str  # "postgres" or "mysql"
    engine: sa.Engine
    schema: str

    def ddl(self, *statements: str) -> None:
        with self.engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement.format(schema=self.schema))


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
    ]
)
def live(request: pytest.FixtureRequest) -> Iterator[Live]:
    server: NativeServer = request.getfixturevalue(
        "native_pg" if request.param == "postgres" else "native_mariadb"
    )
    suffix = uuid.uuid4().hex[:10]
    database, schema = f"t_{suffix}", f"s_{suffix}"
    admin = sa.create_engine(server.url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {database}")
        if request.param == "mysql":
            conn.exec_driver_sql(f"CREATE DATABASE {schema}")
    engine = sa.create_engine(server.url(database))
    if request.param == "postgres":
        with engine.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        yield Live(request.param, engine, schema)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            if request.param == "postgres":
                conn.exec_driver_sql(f"DROP DATABASE {database} WITH (FORCE)")
            else:
                conn.exec_driver_sql(f"DROP DATABASE {database}")
                conn.exec_driver_sql(f"DROP DATABASE {schema}")
        admin.dispose()


@pytest.fixture
def deployed(live: Live) -> tuple[sa.MetaData, Live]:
    md = build_model(live.schema)
    md.create_all(live.engine)
    return md, live


def kinds(problems: list[Problem]) -> list[tuple[str, str]]:
    return [(p.table, p.kind) for p in problems]


def test_clean_deploy_has_no_problems(deployed) -> None:
    md, live = deployed
    assert validate_tables(md.sorted_tables, live.engine) == []


def test_missing_table_and_column(deployed) -> None:
    md, live = deployed
    live.ddl("DROP TABLE rental", "ALTER TABLE customer DROP COLUMN nickname")
    problems = validate_tables(md.sorted_tables, live.engine)
    assert sorted(kinds(problems)) == [("customer", "missing_column"), ("rental", "missing_table")]


# (postgres DDL, mysql DDL, expected kind, text the detail must contain)
DRIFT = {
    "type": (
        "ALTER TABLE customer ALTER COLUMN age TYPE VARCHAR(10)",
        "ALTER TABLE customer MODIFY age VARCHAR(10)",
        "type_mismatch",
        '"age"',
    ),
    "narrower_int": (
        "ALTER TABLE customer ALTER COLUMN visits TYPE INTEGER",
        "ALTER TABLE customer MODIFY visits INT",
        "type_mismatch",
        "narrower",
    ),
    "enum_labels": (
        "ALTER TYPE color ADD VALUE 'blue'",
        "ALTER TABLE customer MODIFY color ENUM('red','green','blue')",
        "type_mismatch",
        "blue",
    ),
    "nullable": (
        "ALTER TABLE customer ALTER COLUMN email DROP NOT NULL",
        "ALTER TABLE customer MODIFY email VARCHAR(100) NULL",
        "nullability",
        '"email"',
    ),
    "unique": (
        "ALTER TABLE customer DROP CONSTRAINT uq_customer_email",
        "ALTER TABLE customer DROP INDEX uq_customer_email",
        "unique",
        "(email)",
    ),
    "fk": (
        "ALTER TABLE customer DROP CONSTRAINT fk_customer_manager",
        "ALTER TABLE customer DROP FOREIGN KEY fk_customer_manager",
        "foreign_key",
        "(manager_id) ->",
    ),
    "fk_other_schema": (
        "ALTER TABLE customer DROP CONSTRAINT fk_customer_store",
        "ALTER TABLE customer DROP FOREIGN KEY fk_customer_store",
        "foreign_key",
        ".store(store_id)",
    ),
    "index": (
        "DROP INDEX ix_customer_last_name",
        "DROP INDEX ix_customer_last_name ON customer",
        "index",
        "(last_name)",
    ),
}


@pytest.mark.parametrize("drift", sorted(DRIFT))
def test_drift_is_reported(deployed, drift: str) -> None:
    md, live = deployed
    pg_sql, mysql_sql, kind, needle = DRIFT[drift]
    live.ddl(pg_sql if live.name == "postgres" else mysql_sql)
    problems = validate_tables(md.sorted_tables, live.engine)
    assert kinds(problems) == [("customer", kind)]
    assert needle in problems[0].detail


def test_drift_in_second_schema_and_wrong_primary_key(deployed) -> None:
    md, live = deployed
    if live.name == "postgres":
        live.ddl(
            "ALTER TABLE {schema}.store DROP CONSTRAINT store_name_key",
            "ALTER TABLE rental DROP CONSTRAINT rental_pkey, ADD PRIMARY KEY (rental_id)",
        )
    else:
        live.ddl(
            "ALTER TABLE {schema}.store DROP INDEX name",
            "ALTER TABLE rental DROP PRIMARY KEY, ADD PRIMARY KEY (rental_id)",
        )
    problems = validate_tables(md.sorted_tables, live.engine)
    assert sorted(kinds(problems)) == sorted(
        [(f"{live.schema}.store", "unique"), ("rental", "primary_key")]
    )


def test_unique_index_satisfies_unique_constraint(deployed) -> None:
    md, live = deployed
    if live.name == "postgres":
        live.ddl(
            "ALTER TABLE customer DROP CONSTRAINT uq_customer_email",
            "CREATE UNIQUE INDEX some_name ON customer (email)",
            "DROP INDEX ix_customer_last_name",
            "ALTER TABLE customer ADD CONSTRAINT some_uq UNIQUE (last_name)",
        )
    else:
        live.ddl(
            "ALTER TABLE customer DROP INDEX ix_customer_last_name",
            "ALTER TABLE customer ADD CONSTRAINT some_uq UNIQUE (last_name)",
        )
    assert validate_tables(md.sorted_tables, live.engine) == []


def test_dialect_spellings_are_not_false_alarms(live: Live) -> None:
    md = sa.MetaData()
    sa.Table(
        "everything",
        md,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("flag", sa.Boolean, nullable=False),  # MariaDB: TINYINT(1)
        sa.Column("f", sa.Float),
        sa.Column("d", sa.Double),
        sa.Column("r", sa.REAL),
        sa.Column("n", sa.Numeric(10, 2)),
        sa.Column("color", sa.Enum(Color, name="color2")),  # PG named enum, MySQL inline ENUM
        sa.Column("plain_enum", sa.Enum(Color, native_enum=False)),  # VARCHAR everywhere
        sa.Column("data", sa.JSON),  # MariaDB: LONGTEXT
        sa.Column("u", sa.Uuid),  # MariaDB: CHAR(32), PG: UUID
        sa.Column("b", sa.LargeBinary),  # BYTEA / BLOB
        sa.Column("ts", sa.DateTime(timezone=True)),
        sa.Column("day", sa.Date),
        sa.Column("at", sa.Time),
        sa.Column("span", sa.Interval),
        sa.Column("t", sa.Text),
        sa.Column("small", sa.SmallInteger),
        sa.Column("big", sa.BigInteger),
        sa.Column("code", sa.String(3), unique=True, index=True),
        sa.Column("owner", sa.Integer, sa.ForeignKey(f"{live.schema}.owner.id"), index=True),
    )
    sa.Table("owner", md, sa.Column("id", sa.Integer, primary_key=True), schema=live.schema)
    md.create_all(live.engine)
    assert validate_tables(md.sorted_tables, live.engine) == []


def test_sqlmodel_classes_validate_cleanly(live: Live) -> None:
    class Base(SQLModel, registry=registry()):
        pass

    class Team(Base, table=True):
        __table_args__ = {"schema": live.schema}
        id: int | None = Field(default=None, primary_key=True)
        name: str = Field(index=True, unique=True)  # AutoString: VARCHAR(255) on MySQL

    class Hero(Base, table=True):
        id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
        name: str
        secret: str | None = Field(default=None, max_length=30)
        active: bool = False
        power: float = 0.0
        team_id: int | None = Field(default=None, foreign_key=f"{live.schema}.team.id")

    Base.metadata.create_all(live.engine)
    tables = [Team.__table__, Hero.__table__]
    assert validate_tables(tables, live.engine) == []
    live.ddl("ALTER TABLE hero DROP COLUMN power")
    assert kinds(validate_tables(tables, live.engine)) == [("hero", "missing_column")]


def many_tables(n: int, schema: str | None) -> sa.MetaData:
    md = sa.MetaData(schema=schema)
    for i in range(n):
        columns = [
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("code", sa.String(20), nullable=False, unique=True),
            sa.Column("label", sa.String(50), index=True),
        ]
        if i:
            columns.append(sa.Column("parent_id", sa.Integer, sa.ForeignKey(f"t{n}_{i - 1}.id")))
        sa.Table(f"t{n}_{i}", md, *columns)
    return md


def test_query_count_does_not_grow_with_tables(live: Live) -> None:
    counts = []
    for n, schema in ((3, None), (3, live.schema), (20, None), (20, live.schema)):
        md = many_tables(n, schema)
        md.create_all(live.engine)
        validate_tables(md.sorted_tables, live.engine)  # warm SQLAlchemy's per-dialect caches
        statements: list[str] = []

        def record(conn, cursor, statement, *args, seen=statements) -> None:
            seen.append(statement)

        sa.event.listen(live.engine, "before_cursor_execute", record)
        try:
            assert validate_tables(md.sorted_tables, live.engine) == []
        finally:
            sa.event.remove(live.engine, "before_cursor_execute", record)
        counts.append(len(statements))
    assert counts[0] == counts[2] and counts[1] == counts[3]
