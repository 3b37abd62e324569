"""How engines spell the same SQL fragment, and which differences must survive normalising."""

from __future__ import annotations

import pytest

from dkenv.validate.normalize import (
    REWRITES,
    Rewrite,
    engine_rewrites,
    normalize,
    operands,
    same_sql,
)


@pytest.mark.parametrize(
    ("model", "live"),
    [
        ("'x'", "'x'::character varying"),  # PostgreSQL casts
        ("price > 0", "price > 0::numeric"),
        ("status IN ('new', 'done')",
         "status::text = ANY (ARRAY['new'::character varying, 'done'::character varying]::text[])"),
        ("now()", "current_timestamp()"),  # MariaDB
        ("CURRENT_TIMESTAMP", "current_timestamp(6)"),  # MySQL DATETIME(6)
        ("'0'", "0"),  # quoted number default
        ("-1", "'-1'::integer"),  # PostgreSQL quotes negative defaults
        ("x > -1", "(x > '-1'::integer)"),
        ("1.5", "1.50"),  # MariaDB pads DECIMAL defaults
        ("a * 2", "(a * 2)"),  # PostgreSQL / SQLite parentheses
        ("price > 0", "`price` > 0"),  # MariaDB backticks
        ("lower(email)", "lower(email::text)"),
        ("deleted = false", "(deleted = false)"),
        ("x BETWEEN 1 AND 5", "((x >= 1) AND (x <= 5))"),  # only through operands()
        ("CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP",
         "current_timestamp() on update current_timestamp()"),
    ],
)
def test_same_meaning_different_spelling(model: str, live: str) -> None:
    assert same_sql(model, live)


@pytest.mark.parametrize(
    ("model", "live"),
    [
        ("price > 0", "price > 10::numeric"),
        ("status IN ('new', 'done')",
         "status::text = ANY (ARRAY['new'::character varying, 'gone'::character varying]::text[])"),
        ("'x'", "'X'::character varying"),  # string literals keep their case
        ("CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP", "current_timestamp()"),
        ("a * 2", "a * 3"),
        ("0", "1"),
        ("a - 1", "a - 2"),
        ("-1", "1"),
    ],
)
def test_real_differences_survive(model: str, live: str) -> None:
    assert not same_sql(model, live)


def test_normal_forms() -> None:
    assert normalize("'x'::character varying") == "'x'"
    assert normalize("`a` = TRUE") == "a = 1"
    assert operands("x BETWEEN 1 AND 5") == ("1", "5", "x")


# --------------------------------------------------------------------------------------------
# Each engine's known rewrites (dkenv.validate.normalize.REWRITES), one test each


@pytest.mark.parametrize("rewrite", REWRITES, ids=lambda r: f"{r.engine}: {r.name}")
def test_each_known_rewrite_reconciles_its_two_spellings(rewrite: Rewrite) -> None:
    family = next(iter(rewrite.families), None)
    assert same_sql(rewrite.model, rewrite.live, engine_rewrites(rewrite.engine, "db", family))
    # the rewrite is what makes them equal: the normalised texts alone differ
    assert normalize(rewrite.model) != normalize(rewrite.live)


@pytest.mark.parametrize("rewrite", [r for r in REWRITES if r.engine != "postgresql"],
                         ids=lambda r: r.name)
def test_a_rewrite_belongs_to_its_engine(rewrite: Rewrite) -> None:
    assert not same_sql(rewrite.model, rewrite.live, engine_rewrites("postgresql", "db"))


@pytest.mark.parametrize(
    ("engine", "model", "live", "family"),
    [
        ("postgresql", "'true'", "false", "boolean"),  # the value still counts
        ("postgresql", "'true'", "true", "string"),  # only a boolean column's word is a boolean
        ("mysql", "length(name) > 1", "(octet_length(`name`) > 5)", None),
        ("mysql", "char_length(name) > 1", "(octet_length(`name`) > 1)", None),
        ("mysql", "nextval(ref_no_seq)", "nextval(`other_db`.`ref_no_seq`)", None),  # not its db
        ("mysql", "nextval(ref_no_seq)", "nextval(`db`.`other_seq`)", None),
        ("postgresql", "name LIKE 'a%'", "((name)::text ~~* 'a%'::text)", None),
    ],
)
def test_rewrites_keep_real_differences(engine: str, model: str, live: str,
                                        family: str | None) -> None:
    assert not same_sql(model, live, engine_rewrites(engine, "db", family))
