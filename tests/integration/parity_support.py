"""Servers for deploy tests, and a database's whole catalog as plain, comparable data (parity tests).

Everything a deploy can create is read back: the inspector's tables, columns, keys, indexes,
checks and comments, plus each engine's own catalog text (``pg_get_*def``, ``SHOW CREATE``,
``sqlite_master.sql``), views, triggers, routines, sequences, types and extensions.  Object
ids are left out; names are kept (both databases of a comparison are built under one name).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

import dkenv

_MULTI = ("columns", "pk_constraint", "foreign_keys", "indexes", "unique_constraints", "check_constraints",
          "table_comment")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        return sorted(items, key=repr)
    if isinstance(value, sa.types.TypeEngine):
        return repr(value)
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def read_catalog(conn: sa.Connection, schemas: list[str | None]) -> dict[str, Any]:
    """The catalog of ``schemas`` (None: the default one) as nested sorted plain data."""
    import warnings

    insp = sa.inspect(conn)
    out: dict[str, Any] = {}
    warnings.filterwarnings("ignore", "Skipped unsupported reflection", sa.exc.SAWarning)
    for schema in schemas:
        key = schema or "(default)"
        out[f"{key}:tables"] = sorted(insp.get_table_names(schema=schema))
        out[f"{key}:views"] = sorted(insp.get_view_names(schema=schema))
        for what in _MULTI:
            try:
                found = getattr(insp, f"get_multi_{what}")(schema=schema)
            except NotImplementedError:
                continue
            out[f"{key}:{what}"] = _plain({".".join(str(p) for p in k if p): v for k, v in found.items()})
        if conn.dialect.supports_sequences:
            out[f"{key}:sequences"] = sorted(insp.get_sequence_names(schema=schema))
    out.update(_engine_catalog(conn, [s for s in schemas if s]))
    return out


def _rows(conn: sa.Connection, sql: str, **params: Any) -> list[list[Any]]:
    return sorted(([_plain(v) for v in row] for row in conn.execute(sa.text(sql), params)), key=repr)


def _engine_catalog(conn: sa.Connection, schemas: list[str]) -> dict[str, Any]:
    name = conn.dialect.name
    if name == "postgresql":
        user = "n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp)'"
        return {
            "pg:relations": _rows(conn, f"SELECT n.nspname, c.relname, c.relkind, c.relpersistence, "
                                  f"obj_description(c.oid, 'pg_class') FROM pg_class c JOIN pg_namespace n "
                                  f"ON n.oid = c.relnamespace WHERE {user}"),
            "pg:views": _rows(conn, f"SELECT n.nspname, c.relname, pg_get_viewdef(c.oid) FROM pg_class c "
                              f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v','m') AND {user}"),
            "pg:constraints": _rows(conn, f"SELECT n.nspname, c.conname, c.conrelid::regclass::text, "
                                    f"pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_namespace n "
                                    f"ON n.oid = c.connamespace WHERE {user}"),
            "pg:indexes": _rows(conn, "SELECT schemaname, indexname, indexdef FROM pg_indexes "
                                "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"),
            "pg:triggers": _rows(conn, "SELECT tgname, tgrelid::regclass::text, pg_get_triggerdef(oid) "
                                 "FROM pg_trigger WHERE NOT tgisinternal"),
            "pg:functions": _rows(conn, f"SELECT n.nspname, p.proname, p.prosrc FROM pg_proc p JOIN pg_namespace n "
                                  f"ON n.oid = p.pronamespace WHERE {user} AND NOT EXISTS (SELECT 1 FROM pg_depend d "
                                  f"WHERE d.objid = p.oid AND d.deptype = 'e')"),
            "pg:types": _rows(conn, f"SELECT n.nspname, t.typname, t.typtype, (SELECT array_agg(e.enumlabel "
                              f"ORDER BY e.enumsortorder)::text FROM pg_enum e WHERE e.enumtypid = t.oid) "
                              f"FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                              f"WHERE t.typtype IN ('e', 'd') AND {user}"),
            "pg:sequences": _rows(conn, "SELECT schemaname, sequencename, start_value, increment_by, last_value "
                                  "FROM pg_sequences"),
            "pg:columns": _rows(conn, "SELECT table_schema, table_name, column_name, column_default, is_identity, "
                                "identity_start, is_generated, generation_expression FROM information_schema.columns "
                                "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"),
            "pg:extensions": _rows(conn, "SELECT extname FROM pg_extension"),
        }
    if name in ("mysql", "mariadb"):
        current = conn.execute(sa.text("SELECT DATABASE()")).scalar()
        dbs = [current, *schemas]
        out: dict[str, Any] = {}
        for db in dbs:
            q = conn.dialect.identifier_preparer.quote_identifier(db)
            for (table, kind) in conn.execute(sa.text(f"SHOW FULL TABLES FROM {q}")).all():
                what = "VIEW" if kind == "VIEW" else "SEQUENCE" if kind == "SEQUENCE" else "TABLE"
                row = conn.execute(sa.text(f"SHOW CREATE {what} {q}.{conn.dialect.identifier_preparer.quote(table)}"
                                           )).first()
                out[f"my:{db}.{table}"] = re.sub(r" AUTO_INCREMENT=\d+", "", row[1])
            out[f"my:{db}:triggers"] = _rows(conn, "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, "
                                             "EVENT_MANIPULATION, ACTION_STATEMENT FROM information_schema.TRIGGERS "
                                             "WHERE TRIGGER_SCHEMA = :db", db=db)
            out[f"my:{db}:routines"] = _rows(conn, "SELECT ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION FROM "
                                             "information_schema.ROUTINES WHERE ROUTINE_SCHEMA = :db", db=db)
        return out
    out = {}
    for _seq, db, _file in conn.exec_driver_sql("PRAGMA database_list").all():
        q = '"' + db.replace('"', '""') + '"'
        out[f"sqlite:{db}"] = _rows(conn, f"SELECT type, name, tbl_name, sql FROM {q}.sqlite_master")
        for (table,) in conn.exec_driver_sql(f"SELECT name FROM {q}.sqlite_master WHERE type = 'table'").all():
            out[f"sqlite:{db}.{table}:xinfo"] = [list(r) for r in conn.exec_driver_sql(
                f"PRAGMA {q}.table_xinfo(\"{table}\")").all()]
    return out


class Server:
    """Where a case's two databases are built, one after the other, under the same name."""

    def __init__(self, engine: str, url: str | None, workdir: Path) -> None:
        self.engine, self.url, self.workdir = engine, url, workdir

    def fresh(self, name: str, schemas: list[str]) -> str:
        """An empty database ``name`` (its schemas created too); returns its URL."""
        if self.engine == "sqlite":
            folder = self.workdir / uuid.uuid4().hex[:8]
            folder.mkdir()
            return f"sqlite:///{folder / 'main.db'}"
        admin = sa.create_engine(self.url, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                q = conn.dialect.identifier_preparer.quote_identifier
                for db in (name, *schemas) if self.engine == "mysql" else (name,):
                    conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {q(db)}")
                    conn.exec_driver_sql(f"CREATE DATABASE {q(db)}")
        finally:
            admin.dispose()
        url = sa.engine.make_url(self.url).set(database=name).render_as_string(hide_password=False)
        if self.engine == "postgres" and schemas:
            engine = sa.create_engine(url)
            with engine.begin() as conn:
                for schema in schemas:
                    conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
            engine.dispose()
        return url

    def engine_for(self, url: str, schemas: list[str]) -> sa.Engine:
        engine = sa.create_engine(url)
        if self.engine == "sqlite":
            main = Path(sa.engine.make_url(url).database)

            @sa.event.listens_for(engine, "connect")
            def attach(dbapi_conn, _record):  # noqa: ANN001 - the layout dkenv's runtime attaches
                for schema in schemas:
                    dbapi_conn.execute(f"ATTACH DATABASE '{main.with_name(f'{main.stem}.{schema}.db')}' AS \"{schema}\"")
        return engine


@pytest.fixture(scope="module", name="server", params=[
    "sqlite",
    pytest.param("postgres", marks=[pytest.mark.docker, pytest.mark.postgres]),
    pytest.param("mysql", marks=[pytest.mark.docker, pytest.mark.mysql]),
])
def server_fixture(request, tmp_path_factory) -> Iterator[Server]:
    """A server per engine for the module (SQLite: a directory), in a DKENV_SCOPE of its own."""
    workdir = tmp_path_factory.mktemp("parity")
    if request.param == "sqlite":
        yield Server("sqlite", None, workdir)
        return
    request.getfixturevalue("local_images")
    client = request.getfixturevalue("client")
    from tests.integration.conftest import scoped_containers

    scope = f"test-parity-{os.getpid()}-{uuid.uuid4().hex[:6]}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DKENV_SCOPE", scope)
        with dkenv.ephemeral(request.param) as db:
            yield Server(request.param, db.url, workdir)
        assert scoped_containers(client, scope) == []


