"""dkenv.engines.compat: engine-only types and client-side SQL defaults, found before any database.

These are the functions the deployer calls before it starts a container; `dkenv check` reports
the same findings. No connection anywhere: SQLAlchemy's dialect compilers answer.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from dkenv.engines import get_engine
from dkenv.engines.compat import client_side_sql_defaults, uncompilable_columns


def _sqlite_renders_jsonb() -> bool:
    """SQLAlchemy 2.1's SQLite compiler renders JSONB as JSON; 2.0's cannot render it at all."""
    try:
        postgresql.JSONB().compile(dialect=sqlite.dialect())
    except sa.exc.CompileError:
        return False
    return True


# engines on which the JSONB column cannot be created as written
JSONB_FAILS = {"mysql"} | (set() if _sqlite_renders_jsonb() else {"sqlite"})


def pg_only_table() -> sa.Table:
    md = sa.MetaData()
    return sa.Table(
        "film", md,
        sa.Column("film_id", sa.Integer, primary_key=True),
        sa.Column("special_features", postgresql.ARRAY(sa.Text)),
        sa.Column("fulltext", postgresql.TSVECTOR, nullable=False),
        sa.Column("attrs", postgresql.JSONB),
        sa.Column("ip", postgresql.INET),
        sa.Column("net", postgresql.CIDR),
        sa.Column("portable", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")),
        sa.Column("title", sa.String(255)),
        schema="public",
    )


@pytest.mark.parametrize("engine", ["mysql", "sqlite"])
def test_postgres_only_types_are_named_with_the_portable_spelling(engine: str) -> None:
    issues = {i.column: i for i in uncompilable_columns([pg_only_table()], engine)}
    expected = {"special_features", "fulltext", "ip", "net"} | ({"attrs"} if engine in JSONB_FAILS else set())
    assert set(issues) == expected  # the variant and the generic types compile
    array = issues["special_features"]
    assert (array.table, array.engine, array.type) == ("public.film", engine, "ARRAY(TEXT)")
    assert array.fix.startswith("sa.JSON().with_variant(postgresql.ARRAY(sa.Text()), \"postgresql\")")
    assert "has no ARRAY(TEXT) type" in array.message and "0x" not in array.message
    assert issues["fulltext"].fix.startswith("sa.Text().with_variant(postgresql.TSVECTOR()")
    assert "sa.String(45)" in issues["ip"].fix and "sa.Text" in issues["ip"].fix
    assert str(array).startswith("public.film.special_features: ")
    if engine in JSONB_FAILS:
        assert issues["attrs"].fix == 'sa.JSON().with_variant(postgresql.JSONB(), "postgresql")'


def test_every_spelling_of_the_engine_is_accepted() -> None:
    table = pg_only_table()
    by_name = [i.column for i in uncompilable_columns([table], "mysql")]
    assert [i.column for i in uncompilable_columns([table], get_engine("mariadb"))] == by_name
    assert [i.column for i in uncompilable_columns([table], mysql.dialect())] == by_name
    assert [i.column for i in uncompilable_columns([table], "mariadb")] == by_name
    assert uncompilable_columns([table], "postgresql") == []
    assert uncompilable_columns([table], postgresql.dialect()) == []
    assert len(uncompilable_columns([table], sqlite.dialect())) == 4 + ("sqlite" in JSONB_FAILS)


def test_mysql_only_types_and_unbounded_strings() -> None:
    md = sa.MetaData()
    table = sa.Table("legacy", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("flags", mysql.SET("a", "b")), sa.Column("tiny", mysql.TINYINT),
                     sa.Column("name", sa.String()))
    on_pg = {i.column: i.fix for i in uncompilable_columns([table], "postgres")}
    assert on_pg == {"flags": 'sa.JSON().with_variant(mysql.SET(...), "mysql")',
                     "tiny": "sa.SmallInteger"}
    on_mysql = uncompilable_columns([table], "mysql")
    assert [(i.column, i.message.split(":")[0]) for i in on_mysql] == [
        ("name", "VARCHAR requires a length on dialect mysql")]
    assert on_mysql[0].fix.startswith("sa.String(255)")


def test_client_side_sql_defaults() -> None:
    md = sa.MetaData()
    table = sa.Table(
        "event", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", sa.DateTime, default=sa.text("now()")),
        sa.Column("day", sa.Date, default=sa.text("('now'::text)::date")),
        sa.Column("token", sa.String(36), default=sa.text("gen_random_uuid()")),
        sa.Column("ok", sa.DateTime, default=sa.func.now()),  # rendered per engine: portable
        sa.Column("plain", sa.Integer, default=5),  # a Python value: not SQL at all
        sa.Column("server", sa.DateTime, server_default=sa.text("now()")),  # not client-side
    )
    on_sqlite = {i.column: i for i in client_side_sql_defaults([table], "sqlite")}
    assert set(on_sqlite) == {"at", "day", "token"}
    assert on_sqlite["at"].fix.startswith("default=func.now()")
    assert "now() does not exist on SQLite" in on_sqlite["at"].message
    assert on_sqlite["day"].fix.startswith("default=func.current_date()")
    assert on_sqlite["token"].fix.startswith("default=uuid.uuid4")
    on_mysql = {i.column for i in client_side_sql_defaults([table], "mysql")}
    assert on_mysql == {"day", "token"}  # MySQL has now()
    assert client_side_sql_defaults([table], "postgres") == []


def test_client_side_now_really_fails_on_sqlite_and_the_fix_works() -> None:
    """The finding is not a guess: the first INSERT fails as written and works as fixed."""
    md = sa.MetaData()
    broken = sa.Table("a", md, sa.Column("id", sa.Integer, primary_key=True),
                      sa.Column("at", sa.DateTime, default=sa.text("now()")))
    fixed = sa.Table("b", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("at", sa.DateTime, default=sa.func.now()))
    engine = sa.create_engine("sqlite://")
    md.create_all(engine)
    with engine.begin() as conn:
        with pytest.raises(sa.exc.OperationalError, match="no such function: now"):
            conn.execute(broken.insert().values(id=1))
        conn.execute(fixed.insert().values(id=1))
        assert conn.execute(sa.select(fixed.c.at)).scalar_one() is not None
    assert [i.column for i in client_side_sql_defaults([broken, fixed], "sqlite")] == ["at"]
    engine.dispose()


def test_require_compilable_raises_one_error_naming_every_column() -> None:
    from dkenv.engines.compat import require_compilable
    from dkenv.errors import EXIT_FAILED, DeployError

    require_compilable([pg_only_table()], "postgres")  # nothing to say
    with pytest.raises(DeployError) as info:
        require_compilable([pg_only_table()], "mysql", shown=2)
    error = info.value
    assert error.exit_code == EXIT_FAILED
    lines = error.message.splitlines()
    assert lines[0] == "5 columns cannot be created on MySQL:"
    assert lines[1].startswith("  public.film.special_features: MySQL has no ARRAY(TEXT) type")
    assert lines[3] == "  … and 3 more" and "dkenv check" in (error.hint or "")
