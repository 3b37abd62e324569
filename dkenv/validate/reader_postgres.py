"""PostgreSQL's live catalog: SQLAlchemy's bulk reflection (``Inspector.get_multi_*``, a fixed
number of queries per schema involved) plus one ``pg_catalog`` query for what the inspector
does not give in bulk: views, sequences, triggers, enum types, UNLOGGED tables, inheritance
and partitions (``pg_inherits``, ``pg_get_partkeydef``), the names of column types that are
not built in (``citext``, ``hstore``: the inspector reads CITEXT as TEXT's family and does
not know HSTORE) of every schema at once, and extensions."""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from dkenv.engines.postgres import POSTGRES
from dkenv.validate.live import Catalog, LiveObjects, LiveTable
from dkenv.validate.readers import (
    catalog_reader,
    column_from_reflection,
    foreign_key_from_reflection,
    index_from_reflection,
)


def reflect_postgres(
    conn: Connection, wanted: dict[str | None, list[str]], default_schema: str
) -> tuple[Catalog, LiveObjects]:
    catalog: Catalog = defaultdict(LiveTable)
    inspector = sa.inspect(conn)
    for schema, names in wanted.items():
        kw = {"schema": schema, "filter_names": names}
        folded_schema = schema or default_schema
        for (_, table), cols in inspector.get_multi_columns(**kw).items():
            live = catalog[(folded_schema, table)]
            for col in cols:
                live.columns[col["name"]] = column_from_reflection(col)
        for (_, table), pk in inspector.get_multi_pk_constraint(**kw).items():
            if pk and pk.get("constrained_columns"):
                catalog[(folded_schema, table)].primary_key = frozenset(pk["constrained_columns"])
                catalog[(folded_schema, table)].pk_name = pk.get("name")
        for (_, table), fk_list in inspector.get_multi_foreign_keys(**kw).items():
            catalog[(folded_schema, table)].foreign_keys.extend(
                foreign_key_from_reflection(fk, default_schema, "postgresql") for fk in fk_list
            )
        # get_indexes lists the indexes behind unique constraints too (duplicates_constraint)
        for (_, table), ix_list in inspector.get_multi_indexes(**kw).items():
            catalog[(folded_schema, table)].indexes.extend(
                index_from_reflection(ix, "postgresql") for ix in ix_list
            )
        for (_, table), ck_list in inspector.get_multi_check_constraints(**kw).items():
            catalog[(folded_schema, table)].checks.extend(
                (ck.get("name"), ck["sqltext"]) for ck in ck_list
            )
        for (_, table), comment in inspector.get_multi_table_comment(**kw).items():
            catalog[(folded_schema, table)].comment = (comment or {}).get("text")

    objects = LiveObjects(
        supports=frozenset({"view", "trigger", "sequence", "extension", "enum", "partition"})
    )
    schemas = sorted({schema or default_schema for schema in wanted} | {default_schema})
    rows = conn.execute(
        sa.text(
            "SELECT n.nspname, c.relname, c.relkind::text, NULL, NULL FROM pg_catalog.pg_class c"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('v', 'm', 'S') AND n.nspname IN :schemas"
            " UNION ALL SELECT n.nspname, t.tgname, 't', NULL, NULL FROM pg_catalog.pg_trigger t"
            " JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE NOT t.tgisinternal AND n.nspname IN :schemas"
            " UNION ALL SELECT n.nspname, c.relname, 'u', NULL, NULL FROM pg_catalog.pg_class c"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'u' AND n.nspname IN :schemas"
            " UNION ALL SELECT n.nspname, t.typname, 'E', NULL, NULL FROM pg_catalog.pg_type t"
            " JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace"
            " WHERE t.typtype = 'e' AND n.nspname IN :schemas"
            " UNION ALL SELECT n.nspname, c.relname, CASE WHEN c.relispartition THEN 'P' ELSE 'I'"
            " END, pn.nspname, p.relname FROM pg_catalog.pg_inherits i"
            " JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_catalog.pg_class p ON p.oid = i.inhparent"
            " JOIN pg_catalog.pg_namespace pn ON pn.oid = p.relnamespace"
            " WHERE n.nspname IN :schemas"
            " UNION ALL SELECT n.nspname, c.relname, 'K', pg_catalog.pg_get_partkeydef(c.oid), NULL"
            " FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'p' AND n.nspname IN :schemas"
            " UNION ALL SELECT n.nspname, c.relname, 'X', a.attname,"
            " pg_catalog.format_type(a.atttypid, a.atttypmod) FROM pg_catalog.pg_attribute a"
            " JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_catalog.pg_type ty ON ty.oid = a.atttypid"
            " WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p')"
            " AND ty.typnamespace <> 'pg_catalog'::regnamespace AND n.nspname IN :schemas"
            " UNION ALL SELECT '', extname, 'e', NULL, NULL FROM pg_catalog.pg_extension"
        ).bindparams(sa.bindparam("schemas", expanding=True)),
        {"schemas": schemas},
    ).all()
    for schema, name, kind, extra, more in rows:
        live = catalog.get((schema, name))
        if kind in ("v", "m"):
            objects.views.add((schema, name))
        elif kind == "S":
            objects.sequences.add((schema, name))
        elif kind == "t":
            objects.triggers.add((schema, name))
        elif kind == "E":
            objects.enums.add((schema, name))
        elif kind == "P":
            objects.partitions[(schema, name)] = (extra, more)
        elif kind == "e":
            objects.extensions.add(name)
        elif live is None:
            continue
        elif kind == "u":
            live.options["persistence"] = "unlogged"
        elif kind == "I":
            parents = [p for p in live.options.get("inherits", "").split(",") if p]
            live.options["inherits"] = ",".join(sorted([*parents, f"{extra}.{more}"]))
        elif kind == "K":
            live.options["partition_by"] = extra
        elif kind == "X" and extra in live.columns:
            live.columns[extra].type_name = more
    return catalog, objects


@catalog_reader(POSTGRES)
def _read(conn: Connection, wanted: dict[str | None, list[str]], schemas: set[str],
          default_schema: str) -> tuple[Catalog, LiveObjects, set[str] | None]:
    catalog, objects = reflect_postgres(conn, wanted, default_schema)
    return catalog, objects, None
