"""``examples/pagila-source``: the real Pagila schema, and what dkenv makes of it today (issue 9).

The example is checked against plain SQLAlchemy first (``create_all`` on a real PostgreSQL
container builds every table, the store<->staff cycle and the ``mpaa_rating`` enum included),
so a failing dkenv deploy is dkenv's fault, not the example's; dkenv deploys it from the
datakit's own MetaData, cycle and enum included (issue 9). The datakit is imported in child processes only, so this process's
``SQLModel.metadata`` never holds its tables.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import dkenv
from tests.conftest import EXAMPLES
from tests.integration.conftest import IMAGES

PAGILA = EXAMPLES / "pagila-source"
TABLES = ["actor", "address", "category", "city", "country", "customer", "film", "film_actor",
          "film_category", "inventory", "language", "payment", "rental", "staff", "store"]


def on_postgres_container(test):
    """Marks for a test that starts a PostgreSQL container in its own DKENV_SCOPE."""
    for mark in (pytest.mark.docker, pytest.mark.postgres, pytest.mark.usefixtures("local_images", "scope")):
        test = mark(test)
    return test

# Runs in a child process: plain SQLAlchemy, no dkenv, as a user would create the schema.
CREATE_ALL = """
import json, sys, warnings
from sqlalchemy import create_engine, inspect
from sqlmodel import SQLModel
import pagila_source

warnings.simplefilter("ignore")  # the SAWarning about the store<->staff cycle is expected
engine = create_engine(sys.argv[1])
SQLModel.metadata.create_all(engine)
insp = inspect(engine)
film = {c["name"]: c for c in insp.get_columns("film", schema="public")}
customer = {c["name"]: c for c in insp.get_columns("customer", schema="public")}
print(json.dumps({
    "tables": sorted(insp.get_table_names(schema="public")),
    "enums": [(e["schema"], e["name"], e["labels"]) for e in insp.get_enums(schema="*")],
    "fks": {t: sorted(fk["referred_table"] for fk in insp.get_foreign_keys(t, schema="public"))
            for t in ("store", "staff")},
    "film_types": {k: type(film[k]["type"]).__name__ for k in ("special_features", "fulltext", "rating")},
    "numeric": [(c[k]["type"].precision, c[k]["type"].scale) for c, k in
                ((film, "rental_rate"), (film, "replacement_cost"))],
    "rating_default": film["rating"]["default"],
    "create_date_default": customer["create_date"]["default"],
    "film_indexes": sorted(i["name"] for i in insp.get_indexes("film", schema="public")),
}))
engine.dispose()
"""


def child_env() -> dict[str, str]:
    path = os.pathsep.join(p for p in (str(PAGILA), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


@on_postgres_container
def test_plain_create_all_on_postgres_builds_all_15_tables() -> None:
    with dkenv.ephemeral("postgres", image=IMAGES["postgres"]) as env:
        proc = subprocess.run([sys.executable, "-c", CREATE_ALL, env.url], capture_output=True, text=True,
                              timeout=120, env=child_env())
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["tables"] == TABLES
    assert doc["enums"] == [["public", "mpaa_rating", ["G", "PG", "PG-13", "R", "NC-17"]]]
    assert doc["fks"] == {"store": ["address", "staff"], "staff": ["address", "store"]}  # the cycle
    assert doc["film_types"] == {"special_features": "ARRAY", "fulltext": "TSVECTOR", "rating": "ENUM"}
    assert doc["numeric"] == [[4, 2], [5, 2]]
    assert doc["rating_default"] == "'G'::mpaa_rating"
    assert doc["create_date_default"] == "('now'::text)::date"  # as pg_dump writes it
    assert doc["film_indexes"] == ["film_fulltext_idx", "idx_fk_language_id", "idx_fk_original_language_id", "idx_title"]


@on_postgres_container
def test_dkenv_deploy_validate_on_postgres_container() -> None:
    proc = subprocess.run([sys.executable, "-m", "dkenv", "deploy", str(PAGILA), "--target", "postgres_container",
                           "--validate", "--json"], capture_output=True, text=True, timeout=300, env=child_env())
    doc = json.loads(proc.stdout)  # one JSON document, whatever happened
    assert proc.returncode == 0, proc.stderr
    assert doc["success"] is True and doc["validation"]["success"] is True, doc
    assert sorted(doc["tables"]) == [f"public.{t}" for t in TABLES]


def test_static_check_names_the_columns_that_keep_it_off_sqlite_and_mysql(dk) -> None:
    r = dk("check", PAGILA, "--static", "--json")
    assert r.code == 1, r.err
    doc = json.loads(r.out)
    assert doc["tables"] == [f"public.{t}" for t in TABLES]
    unsupported = {(f["table"], f["column"], f["engine"]) for f in doc["findings"]
                   if f["code"] == "type-support" and f["severity"] == "error"}
    assert unsupported == {("public.film", column, engine)
                           for column in ("special_features", "fulltext") for engine in ("sqlite", "mysql")}
    fixes = {f["column"]: f["fix"] for f in doc["findings"] if f["code"] == "type-support"}
    assert "sa.JSON" in fixes["special_features"] and "with_variant" in fixes["fulltext"]
    assert doc["matrix"]["public.film"] == {"sqlite": "failed", "postgres": "ok", "mysql": "failed"}
    assert all(cells["postgres"] == "ok" for cells in doc["matrix"].values())
