"""The rules callers ask the engine instead of comparing its name (issue 16)."""

from __future__ import annotations

import sqlalchemy as sa

import dkenv.validate  # noqa: F401  (imports the catalog readers, which register themselves)
from dkenv.engines import MYSQL, POSTGRES, SQLITE, is_embedded, rules_for_dialect
from dkenv.validate.live import dialect_family, fold
from dkenv.validate.readers import reader_for


def test_dialect_names_map_to_their_engine_and_mariadb_is_mysql() -> None:
    assert rules_for_dialect("postgresql") is POSTGRES
    assert rules_for_dialect("mysql") is MYSQL
    assert rules_for_dialect("mariadb") is MYSQL
    assert rules_for_dialect("sqlite") is SQLITE
    assert dialect_family(sa.create_engine("sqlite://").dialect) == "sqlite"


def test_another_dialect_gets_the_base_rules_under_its_own_name() -> None:
    other = rules_for_dialect("oracle")
    assert other.name == "oracle" and other.dialect == "oracle"
    assert other.fold("Name") == "name"  # case-insensitive, as validate assumed before
    assert not other.has_comments and other.catalog_default_schema is None
    assert rules_for_dialect("oracle") is other  # made once


def test_identifier_folding_per_engine() -> None:
    assert fold("postgresql", "MixedCase") == "MixedCase"
    assert fold("mysql", "MixedCase") == "mixedcase"
    assert fold("sqlite", "MixedCase") == "mixedcase"


def test_each_engine_registers_its_own_catalog_reader() -> None:
    readers = {reader_for(engine) for engine in (SQLITE, POSTGRES, MYSQL)}
    assert len(readers) == 3
    assert {r.__module__ for r in readers} == {
        "dkenv.validate.reader_sqlite", "dkenv.validate.reader_postgres",
        "dkenv.validate.reader_mysql"}
    generic = reader_for(rules_for_dialect("oracle"))
    assert generic.__module__ == "dkenv.validate.readers"


def test_the_rules_say_what_the_comparisons_said() -> None:
    assert SQLITE.embedded and SQLITE.attaches_schemas and SQLITE.catalog_default_schema == "main"
    assert not POSTGRES.embedded and not MYSQL.embedded
    assert MYSQL.enforced_fk_rule("RESTRICT") == "NO ACTION"
    assert POSTGRES.enforced_fk_rule("RESTRICT") == "RESTRICT"
    assert POSTGRES.stores_timezone and not MYSQL.stores_timezone and not SQLITE.stores_timezone
    assert POSTGRES.truncates_identifiers_at == 63 and MYSQL.rejects_identifiers_over == 64
    assert MYSQL.client_environment(host="h", port=1, user="u", password="p", database="d")[
        "MYSQL_PORT"] == "1"
    assert POSTGRES.client_environment(host="h", port=1, user="u", password="p", database="d")[
        "PGDATABASE"] == "d"


def test_is_embedded_takes_dkenv_names_exactly() -> None:
    assert is_embedded("sqlite")
    assert not is_embedded("postgres") and not is_embedded("mysql")
    assert not is_embedded("")  # an environment without an engine counts as a server
