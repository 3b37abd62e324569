"""The server-default rewrite table: every spelling real schemas use, per engine.

The rules live in dkenv.engines (the deployer and `dkenv check` both ask them), so this is
the one place that pins what each engine receives.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from dkenv.engines import get_engine
from dkenv.engines.defaults import classify, parse_default

_md = sa.MetaData()
T = sa.Table(
    "t", _md,
    sa.Column("d", sa.Date), sa.Column("ts", sa.DateTime), sa.Column("tm", sa.Time),
    sa.Column("s", sa.String(20)), sa.Column("n", sa.Integer),
    sa.Column("e", sa.Enum("G", "PG", "R", name="mpaa_rating")),
)

# (default as written, column, SQLite gets, MySQL gets)
CARRIED = [
    # the current date, as pg_dump and people write it
    ("('now'::text)::date", "d", "CURRENT_DATE", "(CURRENT_DATE)"),
    ("'now'::date", "d", "CURRENT_DATE", "(CURRENT_DATE)"),
    ("'today'::date", "d", "CURRENT_DATE", "(CURRENT_DATE)"),
    ("now()::date", "d", "CURRENT_DATE", "(CURRENT_DATE)"),
    ("(now())::date", "d", "CURRENT_DATE", "(CURRENT_DATE)"),
    ("CURRENT_DATE", "d", "CURRENT_DATE", "(CURRENT_DATE)"),
    ("current_date", "d", "CURRENT_DATE", "(CURRENT_DATE)"),
    ("(CURRENT_DATE)", "d", "CURRENT_DATE", "(CURRENT_DATE)"),
    ("now()", "d", "CURRENT_DATE", "(CURRENT_DATE)"),  # a DATE column wants the date
    # the current timestamp
    ("now()", "ts", "CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
    ("('now'::text)::timestamp without time zone", "ts", "CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
    ("('now'::text)::timestamp(0) with time zone", "ts", "CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
    ("'now'::timestamp", "ts", "CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
    ("'now'::timestamptz", "ts", "CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
    ("now()::timestamp(0)", "ts", "CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
    ("CURRENT_TIMESTAMP", "ts", "CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
    ("CURRENT_TIMESTAMP(6)", "ts", "CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
    ("LOCALTIMESTAMP", "ts", "CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
    ("transaction_timestamp()", "ts", "CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
    ("timezone('utc'::text, now())", "ts", "CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
    ("(now() AT TIME ZONE 'utc')", "ts", "CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"),
    ("now()", "s", "CURRENT_TIMESTAMP", "(CURRENT_TIMESTAMP)"),  # MySQL: expression default
    # the current time
    ("CURRENT_TIME", "tm", "CURRENT_TIME", "(CURRENT_TIME)"),
    ("('now'::text)::time without time zone", "tm", "CURRENT_TIME", "(CURRENT_TIME)"),
    # constants under casts lose the casts
    ("'G'::mpaa_rating", "e", "'G'", "'G'"),
    ("'G'::public.mpaa_rating", "e", "'G'", "'G'"),
    ("'x'::character varying", "s", "'x'", "'x'"),
    ("('x'::character varying)::text", "s", "'x'", "'x'"),
    ("'it''s'::text", "s", "'it''s'", "'it''s'"),
    ("(0)::numeric", "n", "0", "0"),
    ("(-1.5)::numeric(5,2)", "n", "-1.5", "-1.5"),
    ("NULL::character varying", "s", "NULL", "NULL"),
    ("'now'::text", "s", "'now'", "'now'"),  # the word on a text column, not the clock
    # anything else is carried as written
    ("42", "n", "42", "42"),
    ("'plain'", "s", "'plain'", "'plain'"),
    ("'{}'::text[]", "s", "'{}'::text[]", "'{}'::text[]"),
    ("(1 + 1)::integer", "n", "(1 + 1)::integer", "(1 + 1)::integer"),
]


@pytest.mark.parametrize(("sql", "column", "sqlite", "mysql"), CARRIED)
def test_defaults_are_carried(sql: str, column: str, sqlite: str, mysql: str) -> None:
    col = T.c[column]
    assert get_engine("sqlite").rewrite_server_default(col, sql).sql == sqlite
    assert get_engine("mysql").rewrite_server_default(col, sql).sql == mysql
    kept = get_engine("postgres").rewrite_server_default(col, sql)
    assert kept.sql == sql and kept.error is None  # PostgreSQL takes them as written


@pytest.mark.parametrize("sql", ["gen_random_uuid()", "uuid_generate_v4()",
                                 "nextval('film_film_id_seq'::regclass)"])
@pytest.mark.parametrize("engine", ["sqlite", "mysql"])
def test_postgres_only_functions_are_refused_with_a_fix(sql: str, engine: str) -> None:
    result = get_engine(engine).rewrite_server_default(T.c.s, sql)
    assert result.sql is None and "PostgreSQL-only" in (result.error or "")
    assert result.fix and ("default_factory" in result.fix or "autoincrement" in result.fix)


@pytest.mark.parametrize("sql", ["'infinity'::timestamp without time zone",
                                 "('-infinity'::text)::timestamp", "'infinity'"])
def test_infinity_is_refused_on_mysql_with_the_fix(sql: str) -> None:
    result = get_engine("mysql").rewrite_server_default(T.c.ts, sql)
    assert result.sql is None
    assert "1067" in (result.error or "") and "9999-12-31" in (result.fix or "")
    assert get_engine("sqlite").rewrite_server_default(T.c.ts, sql).error is None
    assert get_engine("postgres").rewrite_server_default(T.c.ts, sql).sql == sql


def test_infinity_as_a_plain_string_default() -> None:
    mysql = get_engine("mysql")
    refused = mysql.check_literal_default(T.c.ts, "infinity")
    assert refused.error and "NULL" in (refused.fix or "")
    assert mysql.check_literal_default(T.c.s, "infinity").sql == "'infinity'"  # just a word
    assert get_engine("postgres").check_literal_default(T.c.ts, "infinity").error is None
    assert get_engine("sqlite").check_literal_default(T.c.ts, "it's").sql == "'it''s'"


@pytest.mark.parametrize(("sql", "atom", "casts"), [
    ("('now'::text)::date", "'now'", ("text", "date")),
    ("  ( ( 'G'::mpaa_rating ) ) ", "'G'", ("mpaa_rating",)),
    ("'a::b'::text", "'a::b'", ("text",)),  # a :: inside the literal is not a cast
    ("nextval('s'::regclass)", "nextval('s'::regclass)", ()),  # nor one inside a call
    ("(a)::int + (b)::int", "(a)::int + (b)", ("int",)),  # stops where the type is not a type
    ("'x'::\"My Type\"", "'x'", ('"my type"',)),
])
def test_parse_default(sql: str, atom: str, casts: tuple[str, ...]) -> None:
    parsed = parse_default(sql)
    assert (parsed.atom, parsed.casts) == (atom, casts)


def test_classify_without_a_column_follows_the_casts() -> None:
    assert classify("('now'::text)::date") == ("date", None)
    assert classify("'now'::timestamp") == ("timestamp", None)
    assert classify("'G'::mpaa_rating") == ("literal", "'G'")
    assert classify("upper('x')") == ("other", None)
