"""PostgreSQL: a template that notes its own schema changes, so a reset need not look for them.

A returned copy of a template is reset (emptied) only when its schema is still the
template's.  Without help that takes a scan of every catalog of the database for row
versions newer than the copy (:func:`dkenv.databases.recycle.pg_schema_check`): ~0.85 ms of
server time per test on PostgreSQL 15, on a two-core machine as much as the test itself.

Where dkenv is a superuser (its own containers), the template gets two event triggers
instead: on ``ddl_command_end`` and ``sql_drop`` a function advances a sequence, so "did the
schema change?" is one row read.  Event triggers see every DDL command of the database
(including GRANT, COMMENT, CREATE EXTENSION, REFRESH MATERIALIZED VIEW and DDL run by
functions), whatever ``session_replication_role`` (``ENABLE ALWAYS``); commands on temporary
objects are ignored (``DISCARD TEMP`` drops those).  What they cannot see is still read from
the catalogs, which are small: large objects, the event triggers themselves, ``pg_index``
(``CLUSTER`` marks an index), per-database settings and prepared transactions.  A DDL
statement that rolled back still counts: the copy is dropped and a new one made, which is
never wrong, only slower.

The sequence and the function live in ``pg_catalog``, which SQLAlchemy's inspector, Alembic
and dkenv's own validation leave out, so the datakit's schema looks as deployed.
"""

from __future__ import annotations

from typing import Any

SEQUENCE = "pg_catalog.dkenv_schema_changes"
FUNCTION = "pg_catalog.dkenv_note_schema_change"
TRIGGERS = ("dkenv_schema_changes", "dkenv_schema_drops")
#: Part of the template's name: templates built before the watch existed are not reused.
KEY = "schema-watch-1"

INSTALL = f"""
SET LOCAL allow_system_table_mods = on;
CREATE SEQUENCE {SEQUENCE};
CREATE FUNCTION {FUNCTION}() RETURNS event_trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog AS $dkenv$
BEGIN
  IF TG_EVENT = 'sql_drop' THEN
    IF EXISTS (SELECT 1 FROM pg_event_trigger_dropped_objects() WHERE NOT is_temporary) THEN
      PERFORM nextval('{SEQUENCE}');
    END IF;
  ELSIF TG_TAG LIKE 'DROP %' THEN
    NULL;  -- what a DROP removed is reported to sql_drop
  ELSIF NOT EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands())
     OR EXISTS (SELECT 1 FROM pg_event_trigger_ddl_commands()
                WHERE schema_name IS NULL OR schema_name NOT LIKE 'pg\\_temp%') THEN
    PERFORM nextval('{SEQUENCE}');
  END IF;
END $dkenv$;
CREATE EVENT TRIGGER {TRIGGERS[0]} ON ddl_command_end EXECUTE FUNCTION {FUNCTION}();
CREATE EVENT TRIGGER {TRIGGERS[1]} ON sql_drop EXECUTE FUNCTION {FUNCTION}();
ALTER EVENT TRIGGER {TRIGGERS[0]} ENABLE ALWAYS;
ALTER EVENT TRIGGER {TRIGGERS[1]} ENABLE ALWAYS;
"""

#: The catalogs DDL event triggers do not cover, scanned for row versions newer than the copy.
_UNWATCHED = ("pg_largeobject", "pg_largeobject_metadata", "pg_event_trigger", "pg_index")


def install(conn: Any) -> bool:
    """Install the watch into the database the DBAPI connection ``conn`` (a superuser's, not in
    autocommit) is on, and commit; False (nothing installed) where the server refuses it --
    before PostgreSQL 12 ``allow_system_table_mods`` cannot be set in a session -- and the
    template's copies are then checked by scanning the catalogs."""
    try:
        with conn.cursor() as cursor:
            cursor.execute(INSTALL)
        conn.commit()
    except Exception:  # noqa: BLE001 - an older or restricted server: no watch, the scan stands in
        conn.rollback()
        return False
    return True


def state(cursor: Any) -> tuple[int, bool, str, int] | None:
    """The watch of the database ``cursor`` (DBAPI) is on: the sequence's position, the
    event triggers as ``name+enabled`` and the large-object count; None where it has none."""
    cursor.execute(f"SELECT to_regclass('{SEQUENCE}') IS NOT NULL")
    if not cursor.fetchone()[0]:
        return None
    cursor.execute(f"SELECT last_value, is_called, (SELECT string_agg(evtname::text || evtenabled::text, ',' ORDER BY evtname) "
                   f"FROM pg_event_trigger), (SELECT count(*) FROM pg_largeobject_metadata) FROM {SEQUENCE}")
    value, called, triggers, objects = cursor.fetchone()
    if triggers != ",".join(f"{name}A" for name in sorted(TRIGGERS)):
        return None  # not the watch as installed (a disabled trigger, another's): scan the catalogs
    return int(value), bool(called), triggers, int(objects)


def check(watch: tuple[int, bool, str, int], next_xid: int) -> str:
    """A query answering "did anything but rows change?" as the full catalog scan does, from
    the watch's ``state`` and the first transaction id after the copy was made."""
    value, called, triggers, objects = watch
    newer = f"age(xmin) <= age('{int(next_xid)}'::xid)"
    parts = [f"(SELECT last_value <> {value} OR is_called <> {called} FROM {SEQUENCE})",
             "(SELECT string_agg(evtname::text || evtenabled::text, ',' ORDER BY evtname) FROM pg_event_trigger) "
             f"IS DISTINCT FROM '{triggers}'",
             f"(SELECT count(*) FROM pg_largeobject_metadata) <> {objects}",
             *(f"EXISTS (SELECT 1 FROM pg_catalog.{name} WHERE {newer})" for name in _UNWATCHED),
             "EXISTS (SELECT 1 FROM pg_db_role_setting WHERE setdatabase = "
             "(SELECT oid FROM pg_database WHERE datname = current_database()))",
             "EXISTS (SELECT 1 FROM pg_prepared_xacts WHERE database = current_database())"]
    return "SELECT " + " OR ".join(parts)
