"""The static pass on what real schemas contain: FK cycles, pg_dump defaults, engine-only types.

Pagila (the examples' dataset) has all of them: store.manager_staff_id ↔ staff.store_id,
``('now'::text)::date``, ``'G'::mpaa_rating``, ``text[]`` and ``tsvector`` columns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from dkenv.check import INFO, Finding, results_from_findings, static_check
from dkenv.check.report import render_matrix, to_json


def store_staff() -> list[sa.Table]:
    md = sa.MetaData()
    store = sa.Table(
        "store", md,
        sa.Column("store_id", sa.Integer, primary_key=True),
        sa.Column("manager_staff_id", sa.Integer, sa.ForeignKey("public.staff.staff_id"), nullable=False),
        schema="public",
    )
    staff = sa.Table(
        "staff", md,
        sa.Column("staff_id", sa.Integer, primary_key=True),
        sa.Column("store_id", sa.Integer, sa.ForeignKey("public.store.store_id"), nullable=False),
        sa.Column("boss_id", sa.Integer, sa.ForeignKey("public.staff.staff_id")),  # self: no cycle
        schema="public",
    )
    address = sa.Table(
        "address", md,
        sa.Column("address_id", sa.Integer, primary_key=True),
        sa.Column("store_id", sa.Integer, sa.ForeignKey("public.store.store_id")),
        schema="public",
    )
    return [store, staff, address]


def of(findings: list[Finding], code: str) -> list[Finding]:
    return [f for f in findings if f.code == code]


def test_fk_cycle_is_information_on_the_keys_that_close_it() -> None:
    findings = static_check(store_staff())
    cycle = of(findings, "fk-cycle")
    assert {(f.table, f.column, f.engine) for f in cycle} == {
        ("public.staff", "store_id", "postgres"), ("public.staff", "store_id", "mysql"),
        ("public.store", "manager_staff_id", "postgres"), ("public.store", "manager_staff_id", "mysql"),
    }
    assert all(f.severity == INFO for f in cycle)
    message = cycle[0].message
    assert "public.staff and public.store reference each other" in message
    assert "public.staff.store_id → public.store" in message and "ALTER TABLE" in message
    assert "use_alter=True" in cycle[0].fix
    # information does not fail a cell, nor mark it with warnings
    results = results_from_findings([t.fullname for t in store_staff()], findings)
    assert all(r.status == "ok" and r.detail == "" for r in results)
    text = render_matrix(results, findings)
    assert "*" not in text.split("Findings:")[0]
    assert "info    2 places [PostgreSQL] fk-cycle" in text
    assert to_json(results, findings)["summary"]["infos"] == 4


def test_fk_cycle_findings_do_not_depend_on_the_hash_seed() -> None:
    script = textwrap.dedent("""
        import json, sys
        sys.path.insert(0, %r)
        from test_check_static_realworld import store_staff
        from dkenv.check import static_check
        print(json.dumps([f.to_dict() for f in static_check(store_staff())]))
    """) % os.path.dirname(__file__)
    outputs = set()
    for seed in ("0", "1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", script], env=env, check=True,
                             capture_output=True, text=True).stdout
        outputs.add(out)
        assert json.loads(out)
    assert len(outputs) == 1


def test_three_table_cycle_and_no_cycle() -> None:
    md = sa.MetaData()
    tables = [
        sa.Table("a", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("b_id", sa.Integer, sa.ForeignKey("b.id"))),
        sa.Table("b", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("c_id", sa.Integer, sa.ForeignKey("c.id"))),
        sa.Table("c", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("a_id", sa.Integer, sa.ForeignKey("a.id"))),
        sa.Table("d", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("a_id", sa.Integer, sa.ForeignKey("a.id"))),
    ]
    cycle = of(static_check(tables, ["postgres"]), "fk-cycle")
    assert [(f.table, f.column) for f in cycle] == [("a", "b_id"), ("b", "c_id"), ("c", "a_id")]
    assert cycle[0].message.startswith("a, b, c reference each other")
    assert of(static_check(tables[3:] + tables[:1], ["postgres"]), "fk-cycle") == []


def test_pg_dump_date_default_is_carried_and_never_fixed_with_zero() -> None:
    md = sa.MetaData()
    table = sa.Table(
        "customer", md,
        sa.Column("customer_id", sa.Integer, primary_key=True),
        sa.Column("create_date", sa.Date, nullable=False, server_default=sa.text("('now'::text)::date")),
        sa.Column("born", sa.Date, server_default=sa.text("(now() - '1 year'::interval)::date")),
        sa.Column("rating", sa.Enum("G", "PG", name="mpaa_rating"),
                  server_default=sa.text("'G'::mpaa_rating")),
    )
    findings = of(static_check([table]), "engine-default")
    create = [f for f in findings if f.column == "create_date"]
    assert {(f.engine, f.severity) for f in create} == {("sqlite", "warning"), ("mysql", "warning")}
    assert all("CURRENT_DATE" in f.message and "CURRENT_DATE" in f.fix for f in create)
    born = [f for f in findings if f.column == "born"]
    assert born and all("server_default='0'" not in f.fix for f in born)
    assert all("CURRENT_DATE" in f.fix for f in born if f.severity == "error")
    rating = [f for f in findings if f.column == "rating"]
    assert {f.engine for f in rating} == {"sqlite", "mysql"}
    assert all("rewrites it to 'G'" in f.message for f in rating)


def test_infinity_default_is_an_error_for_mysql_with_the_fix() -> None:
    md = sa.MetaData()
    table = sa.Table(
        "price", md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("valid_to", sa.DateTime, server_default=sa.text("'infinity'::timestamp")),
        sa.Column("valid_until", sa.DateTime, server_default="infinity"),
        sa.Column("word", sa.String(20), server_default="infinity"),
    )
    findings = of(static_check([table]), "engine-default")
    mysql = [f for f in findings if f.engine == "mysql"]
    assert {(f.column, f.severity) for f in mysql} == {("valid_to", "error"), ("valid_until", "error")}
    assert all("9999-12-31" in f.fix and "1067" in f.message for f in mysql)
    assert not [f for f in findings if f.engine == "postgres"]
    assert not [f for f in findings if f.column == "word"]


def test_client_side_sql_default_is_an_error_on_sqlite() -> None:
    md = sa.MetaData()
    table = sa.Table("visit", md, sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("seen_at", sa.DateTime, default=sa.text("now()")))
    found = of(static_check([table]), "client-default")
    assert [(f.table, f.column, f.engine, f.severity) for f in found] == [
        ("visit", "seen_at", "sqlite", "error")]
    assert found[0].fix.startswith("default=func.now()")


def test_array_column_checked_for_mysql_names_the_column_and_the_fix() -> None:
    md = sa.MetaData()
    film = sa.Table("film", md, sa.Column("film_id", sa.Integer, primary_key=True),
                    sa.Column("special_features", postgresql.ARRAY(sa.Text)), schema="public")
    found = of(static_check([film], ["mysql"]), "type-support")
    assert len(found) == 1
    f = found[0]
    assert (f.table, f.column, f.severity) == ("public.film", "special_features", "error")
    assert "public.film.special_features is ARRAY(TEXT)" in f.message
    assert "MySQL has no ARRAY(TEXT) type" in f.message and "Compiler <" not in f.message
    assert f.fix.startswith("sa_type=sa.JSON()")
