"""describe_db_error: one sentence per database error, whatever the driver wrapped it in."""

from __future__ import annotations

import pymysql
import pytest
import sqlalchemy as sa

from dkenv.engines import describe_db_error


def test_sqlite_error_through_sqlalchemy_is_its_first_line() -> None:
    engine = sa.create_engine("sqlite://")
    with engine.connect() as conn, pytest.raises(sa.exc.OperationalError) as info:
        conn.exec_driver_sql("SELECT now()")
    assert describe_db_error(info.value) == "no such function: now"
    assert "[SQL:" in str(info.value)  # what SQLAlchemy prints, and dkenv does not
    engine.dispose()


def test_pymysql_tuples_become_a_sentence() -> None:
    exc = pymysql.err.OperationalError(
        1005, "Can't create table `shop`.`purchase` (errno: 150 \"Foreign key constraint is "
              "incorrectly formed\")")
    wrapped = sa.exc.OperationalError("CREATE TABLE purchase (...)", {}, exc)
    expected = ("MySQL error 1005: Can't create table `shop`.`purchase` (errno: 150 \"Foreign "
                "key constraint is incorrectly formed\")")
    assert describe_db_error(exc) == expected
    assert describe_db_error(wrapped) == expected
    # the same tuple after something turned it into text
    assert describe_db_error(RuntimeError("(1067, \"Invalid default value for 'valid_to'\")")) == (
        "MySQL error 1067: Invalid default value for 'valid_to'")


def test_other_errors_are_their_first_line_clipped() -> None:
    assert describe_db_error(ValueError("ERROR:  relation \"staff\" does not exist\nLINE 1: x")) == (
        'relation "staff" does not exist')
    long = describe_db_error(ValueError("x" * 1000))
    assert len(long) == 300 and long.endswith("…")
    assert describe_db_error(KeyError()) == "KeyError"


def test_os_errors_say_what_the_os_said_not_mysql() -> None:
    """An OSError has the (int, str) shape of a PyMySQL error: it is still the OS speaking."""
    assert describe_db_error(OSError(28, "No space left on device")) == "No space left on device"
    assert describe_db_error(FileNotFoundError(2, "No such file or directory", "/x/y.db")) == (
        "No such file or directory: /x/y.db")
    assert describe_db_error(ValueError(28, "not a database")) != "MySQL error 28: not a database"
    assert describe_db_error(pymysql.err.OperationalError(2013, "Lost connection")) == (
        "MySQL error 2013: Lost connection")


def test_detail_adds_postgresql_detail_line_only_when_asked() -> None:
    text = ('duplicate key value violates unique constraint "customer_pkey"\n'
            "DETAIL:  Key (customer_id)=(1) already exists.\n")
    assert describe_db_error(ValueError(text)) == 'duplicate key value violates unique constraint "customer_pkey"'
    assert describe_db_error(ValueError(text), detail=True) == (
        'duplicate key value violates unique constraint "customer_pkey" '
        "(DETAIL:  Key (customer_id)=(1) already exists.)")
    assert describe_db_error(ValueError("no such table: x"), detail=True) == "no such table: x"
