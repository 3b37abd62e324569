"""The engine seam: one small object per database engine."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from dkenv.engines.defaults import classify

if TYPE_CHECKING:
    from sqlalchemy import Column, Connection

#: (kind, schema, name) of a catalog object; kind is engine-specific ("table", "type", ...).
CatalogObject = tuple[str, str, str]

_PG_ONLY_FUNCS = re.compile(
    r"\b(gen_random_uuid|uuid_generate_v[1-5]|nextval|txid_current|pg_\w+)\s*\(", re.IGNORECASE
)

#: The fix for PostgreSQL's infinite timestamps on engines without them.
INFINITY_FIX = (
    "use NULL for 'no end' (server_default=None, nullable) or a far-future literal such as "
    "server_default='9999-12-31 23:59:59'"
)


@dataclass(frozen=True)
class DefaultRewrite:
    """A server default carried to another engine, or why it cannot be."""

    sql: str | None
    error: str | None = None
    fix: str | None = None


def answer_select_one(conn: Any) -> None:
    """``SELECT 1`` on a fresh DBAPI connection, which is then closed: a readiness attempt's end."""
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            cur.fetchone()
    finally:
        conn.close()


@dataclass(frozen=True)
class Engine:
    """What dkenv needs to know about one database engine."""

    name: str
    dialects: tuple[str, ...]
    #: How messages name the engine.
    label: str = ""
    #: How one-engine findings and report columns name it ("... on MySQL"); ``label`` when empty.
    short_label: str = ""
    driver: str = ""
    #: SQLAlchemy async drivers for this engine, in order of preference; each is also the
    #: name of the module to import and of the PyPI package that provides it.
    async_drivers: tuple[str, ...] = ()
    default_image: str | None = None
    image_env: str | None = None
    container_port: int | None = None
    default_user: str | None = None
    default_database: str | None = None
    data_dir: str | None = None
    #: Where the server puts its Unix socket in the container, and the socket's name: a local
    #: engine's containers get a folder of this machine mounted there (:mod:`dkenv.engines.side_door`).
    socket_dir: str | None = None
    socket_file: str | None = None
    #: Whether a database can become a named template that isolated databases are copied from
    #: (PostgreSQL's template databases, SQLite's files; MySQL has no such thing).
    snapshots: bool = True
    extra: dict[str, str] = field(default_factory=dict)

    # -- how the engine runs --------------------------------------------------------------
    #: No server: the database is a file or memory in this process (SQLite), no container.
    embedded = False
    #: A schema is a database attached to each connection (SQLite), not created on a server.
    attaches_schemas = False

    #: Isolated databases a pool keeps ready per datakit set (tests' per-test databases):
    #: enough that a returned one is reset before the test after next asks for it.  SQLite
    #: builds none ahead (a file copy costs less than a pool thread's interpreter-lock hand-over).
    ready_databases = 2
    #: The first hand-out waits until all of them are built.  MySQL: building one moves the
    #: server's schema-write count, so resets while the pool grows behind the first tests must
    #: compare fingerprints (~10 ms each) and those tests waited for them (p95 of 200 hand-outs
    #: 0.5-4 ms, by how many of the first 15 waited; built first: ~0.1 s more to the first test).
    fills_before_first_hand_out = False

    #: The default schema a connection sees is its database (MySQL), not one shared name
    #: (PostgreSQL's ``public``, SQLite's ``main``): a dialect set up on one database cannot
    #: answer for another one's default schema.
    default_schema_is_database = False

    def throwaway_connect_args(self, url: str) -> dict[str, str]:
        """DBAPI connect arguments for a database that is thrown away after a test: skip what
        only a crash would need (what a transaction sees and rolls back is unchanged)."""
        return {}
    #: The driver sends BEGIN only before DML, so a SAVEPOINT opened first is not inside a
    #: transaction unless BEGIN is sent explicitly (Python's sqlite3).
    needs_explicit_begin = False

    #: The environment variables a ``local`` target reads (for hints), e.g. ``PG*``.
    local_env_vars = ""
    #: Compile with sequences assumed, or None to let the dialect decide: an unconnected
    #: MySQL dialect cannot know that the server (MariaDB) has sequences.
    offline_sequences: ClassVar[bool | None] = None
    #: CREATE VIEW over a missing table or column succeeds and fails on first use (SQLite):
    #: a deploy selects from each new view to find out.
    views_checked_lazily = False
    #: Undo drops the objects of a schema it created before the schema, in committed batches
    #: (PostgreSQL: one DROP SCHEMA ... CASCADE over 1000 tables passes max_locks_per_transaction).
    drops_schema_contents_first = False

    # -- what the live catalog shows (validation) ------------------------------------------
    # Plain class attributes, not dataclass fields: each engine class states its rules, and
    # the base values are what dkenv assumes of another SQLAlchemy dialect (see
    # :func:`dkenv.engines.rules_for_dialect`).

    #: Identifiers compare case-insensitively (SQLite, MySQL); PostgreSQL keeps them as quoted.
    folds_identifiers = True
    #: The schema a catalog reader reports for unqualified tables when the dialect has none
    #: (SQLite's ``main``); None: the dialect's ``default_schema_name``.
    catalog_default_schema: ClassVar[str | None] = None
    #: Tables and columns carry comments.
    has_comments = False
    #: The declared integer width / string length is kept (SQLite's affinity forgets both).
    compares_integer_width = True
    compares_string_length = True
    #: A DATETIME / TIME keeps its time zone: ``timestamp`` and ``timestamptz`` are distinct
    #: types (PostgreSQL); elsewhere an aware value is stored as its wall-clock time.
    stores_timezone = False
    #: Only the rowid alias (a lone INTEGER PRIMARY KEY) is generated by the database (SQLite).
    generates_rowid_alias_only = False
    #: Whether the catalog shows a column is generated (identity, serial, AUTO_INCREMENT).
    reports_autoincrement = False
    #: Identity columns keep ALWAYS / START / INCREMENT (PostgreSQL).
    has_identity_options = False
    #: Column character sets are compared (MySQL: a collation names its charset).
    compares_charset = False
    #: Column collations are compared.
    compares_collation = False
    #: The name every primary key gets whatever the model says (MySQL's PRIMARY), or None.
    fixed_primary_key_name: ClassVar[str | None] = None
    #: The primary key keeps the model's name (PostgreSQL).
    names_primary_key = False
    #: Foreign keys keep the model's name (not SQLite, which reports none).
    names_foreign_keys = True
    #: Foreign keys may point into another schema (not across SQLite's attached databases).
    cross_schema_foreign_keys = True
    #: DEFERRABLE / INITIALLY on foreign keys (PostgreSQL, SQLite; not MySQL).
    has_deferrable = False
    #: Partial indexes (``<dialect>_where``).
    has_partial_indexes = False
    #: Index access methods (``postgresql_using``).
    has_index_methods = False
    #: Index prefix lengths and FULLTEXT / SPATIAL kinds (MySQL).
    has_index_prefixes = False
    #: Types added by extensions (citext, hstore, PostGIS) are compared by name (PostgreSQL).
    has_extension_types = False
    #: TINYINT is how BOOLEAN is stored (MySQL/MariaDB).
    tinyint_is_boolean = False
    #: JSON may be stored as text (MySQL's MariaDB LONGTEXT, SQLite).
    json_as_text = False
    #: INTERVAL is a native type (else emulated as an epoch DATETIME).
    native_interval = False
    #: BOOLEAN is stored as an integer (SQLite).
    boolean_as_integer = False

    #: The server adds an index for every foreign key (MySQL): not an extra index.
    indexes_foreign_keys = False
    #: The function of the CHECK the server adds behind every JSON column (MariaDB's
    #: ``json_valid``), or None.
    json_check_function: ClassVar[str | None] = None

    def end_sessions(self, conn: Connection, database: str) -> None:
        """End other sessions on ``database`` before it is dropped (PostgreSQL refuses else)."""

    # -- loading rows (dkenv.data) -------------------------------------------------------
    #: The driver whose COPY FROM STDIN bulk-loads rows (psycopg2 on PostgreSQL), or None.
    copy_driver: ClassVar[str | None] = None
    #: Rows inserted with their own keys leave the key's sequence behind (PostgreSQL); MySQL's
    #: AUTO_INCREMENT and SQLite's rowid follow explicit values by themselves.
    explicit_keys_leave_sequences = False
    #: Any error ends the transaction, so a lookup that may fail runs in a savepoint (PostgreSQL).
    error_aborts_transaction = False
    #: The session has SQL modes that decide whether bad values are refused or cut (MySQL).
    has_sql_modes = False

    def defer_foreign_keys(self, conn: Connection, tables: Sequence[Any]) -> Callable[[], None] | None:
        """Postpone foreign key checks for the rest of this transaction (a load in any order).

        Returns what undoes it afterwards, or None when this connection may not postpone them.
        """
        return lambda: None

    # -- what column types become (dkenv check) ------------------------------------------
    #: The row size limit of inline (VARCHAR/CHAR) columns in bytes (MySQL), or None.
    max_row_bytes: ClassVar[int | None] = None
    #: SQLAlchemy's UUID compiles to a UUID type the server lacks (MySQL; MariaDB 10.7+ has it).
    rejects_uuid_type = False
    #: PostgreSQL's JSONB is stored as plain JSON text (SQLite).
    jsonb_as_json = False
    #: NUMERIC without precision is DECIMAL(10,0): fractions are lost (MySQL).
    bare_numeric_is_integer = False
    #: NUMERIC is an exact decimal (SQLite keeps a 64-bit float).
    exact_numeric = True
    #: DATETIME / TIME keep microseconds unless told otherwise (MySQL needs fsp=6).
    keeps_fractional_seconds = True

    # -- names and keys (dkenv check) -------------------------------------------------------
    #: Identifiers longer than this many bytes are cut with only a NOTICE (PostgreSQL), or None.
    truncates_identifiers_at: ClassVar[int | None] = None
    #: Identifiers longer than this many characters are refused (MySQL), or None.
    rejects_identifiers_over: ClassVar[int | None] = None
    #: How the server names an unnamed foreign key (``{table}``, ``{number}``), when it
    #: counts against the identifier limit (MySQL's ``<table>_ibfk_<n>``), or None.
    generated_fk_name: ClassVar[str | None] = None
    #: At most this many schemas (SQLite's attached databases), or None.
    max_schemas: ClassVar[int | None] = None
    #: The largest index key in bytes (InnoDB), and keys on TEXT/BLOB need a prefix length.
    max_index_key_bytes: ClassVar[int | None] = None
    #: A foreign key needs the same integer type on both ends (MySQL).
    fk_needs_same_integer_type = False
    #: A foreign key to a non-unique target is refused at CREATE TABLE (not SQLite: on insert).
    checks_fk_target_at_create = True

    # -- enums (dkenv check) -------------------------------------------------------------
    #: A native enum is a named type of its own, shared by every table using it (PostgreSQL).
    named_enum_types = False
    #: Unknown enum labels are rejected without SQLAlchemy's CHECK (not SQLite's VARCHAR).
    enforces_enum_labels = True
    #: Enum labels compare case-insensitively (MySQL).
    enum_labels_fold_case = False

    # -- server defaults (dkenv check) ---------------------------------------------------
    #: Server defaults are taken as written: PostgreSQL's SQL is where they come from.
    defaults_as_written = False
    #: ``value::type`` casts are SQL here (PostgreSQL).
    has_double_colon_casts = False
    #: A column holds any value unchecked: text in a DATE or BOOLEAN is stored as text (SQLite).
    dynamic_typing = False
    #: An unknown function in a DEFAULT passes CREATE TABLE and fails on the first INSERT
    #: that uses it (SQLite).
    resolves_default_functions_late = False
    #: A literal DEFAULT on TEXT/BLOB/JSON is refused (MySQL 8; MariaDB accepts it).
    rejects_text_literal_default = False
    #: An integer default on a BOOLEAN column is refused (PostgreSQL: integer is not boolean).
    strict_boolean = False
    #: Some functions come from extensions a fresh database lacks (PostgreSQL's uuid-ossp).
    has_extensions = False

    @property
    def dialect(self) -> str:
        """The SQLAlchemy dialect name the engine's catalog readers are registered under."""
        return self.dialects[0]

    def fold(self, name: str) -> str:
        """An identifier as this engine compares it."""
        return name.lower() if self.folds_identifiers else name

    def enforced_fk_rule(self, rule: str) -> str:
        """An ON DELETE / ON UPDATE rule (upper case) as the engine enforces it."""
        return rule

    # -- what a deploy created (dkenv.schema.catalog) -------------------------------------
    #: Statements that turn foreign key checks off for a drop, and on again (None: drops cascade).
    foreign_keys_off: ClassVar[str | None] = None
    foreign_keys_on: ClassVar[str | None] = None

    def user_objects(self, conn: Connection, schemas: Sequence[str | None]) -> set[CatalogObject]:
        """Every user object the database holds, as (kind, schema, name), in one query."""
        raise NotImplementedError

    def drop_object_sql(self, prep: Any, kind: str, schema: str, name: str) -> str | None:
        """The statement that drops one object :meth:`user_objects` listed (None: nothing to run)."""
        raise NotImplementedError

    # -- URLs ---------------------------------------------------------------
    def url(
        self,
        *,
        host: str | None = None,
        port: int | None = None,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
    ) -> str:
        """A SQLAlchemy URL string; a ``host`` starting with ``/`` is a Unix socket directory/path."""
        raise NotImplementedError

    def container_environment(self, *, user: str, password: str, database: str) -> dict[str, str]:
        """Environment for the official image (and dkenv's own images, which honour it)."""
        raise NotImplementedError

    def client_environment(self, *, host: str, port: int, user: str, password: str,
                           database: str) -> dict[str, str]:
        """The variables the engine's own clients read (``psql``'s PG*, ``mysql``'s MYSQL_*)."""
        return {}

    def not_ready_errors(self) -> tuple[type[BaseException], ...]:
        """Driver errors that mean "the server is not there yet": refused, reset, starting up."""
        return (OSError,)

    def probe_ready(self, host: str, port: int, user: str, password: str, database: str,
                    timeout: float) -> None:
        """One readiness attempt: a real connection and ``SELECT 1`` straight through the DBAPI
        driver (SQLAlchemy would add import time to ``dkenv up`` for nothing); raises when the
        server does not answer yet. ``timeout``: seconds this attempt may take."""
        raise NotImplementedError(f"{self.label or self.name} runs without a server")

    # -- schemas ------------------------------------------------------------
    def schema_exists(self, conn: Connection, schema: str) -> bool:
        raise NotImplementedError

    def create_schema(self, conn: Connection, schema: str) -> None:
        raise NotImplementedError

    def drop_schema(self, conn: Connection, schema: str) -> None:
        raise NotImplementedError

    # -- defaults -----------------------------------------------------------
    def rewrite_server_default(self, column: Column, sql: str) -> DefaultRewrite:
        """Carry a textual server default to this engine (identity on PostgreSQL).

        The current time or date in any PostgreSQL spelling (``now()``, ``('now'::text)::date``,
        ``now()::date``, ``'now'::timestamp``) becomes this engine's CURRENT_TIMESTAMP /
        CURRENT_DATE / CURRENT_TIME; a constant under casts (``'G'::mpaa_rating``) loses the
        casts; PostgreSQL-only functions and ``'infinity'`` are errors with the portable fix.
        """
        text = sql.strip()
        kind, literal = classify(text, column)
        if kind == "timestamp":
            return DefaultRewrite(self.current_timestamp_default(column))
        if kind == "date":
            return DefaultRewrite(self.current_date_default(column))
        if kind == "time":
            return DefaultRewrite(self.current_time_default(column))
        if kind == "infinity":
            return self.infinity_default(column, literal or text)
        if kind == "literal":
            return DefaultRewrite(literal)
        func = _PG_ONLY_FUNCS.search(text)
        if func:
            name = func.group(1)
            fix = (
                "default_factory=uuid.uuid4 (set client-side, works on every engine)"
                if "uuid" in name.lower()
                else "an autoincrement primary key or a client-side default_factory"
            )
            return DefaultRewrite(
                None,
                error=f"server default {text!r} is PostgreSQL-only and does not exist on {self.name}",
                fix=f"use {fix}",
            )
        return DefaultRewrite(text)

    def check_literal_default(self, column: Column, value: str) -> DefaultRewrite:
        """A plain string ``server_default`` (SQLAlchemy quotes it): valid here, or why not.

        Only ``'infinity'`` on a date/time column is refused today (MySQL/MariaDB reject it
        with error 1067); every other string is carried as written.
        """
        from dkenv.engines.defaults import is_infinity

        quoted = "'" + value.replace("'", "''") + "'"
        if is_infinity(value) and classify(quoted, column)[0] == "infinity":
            return self.infinity_default(column, quoted)
        return DefaultRewrite(quoted)

    def infinity_default(self, column: Column, literal: str) -> DefaultRewrite:
        """PostgreSQL's infinite timestamp: carried as the string (SQLite keeps any text)."""
        return DefaultRewrite(literal)

    def current_time_default(self, column: Column) -> str:
        return "CURRENT_TIME"

    def current_timestamp_default(self, column: Column) -> str:
        return "CURRENT_TIMESTAMP"

    def current_date_default(self, column: Column) -> str:
        return "CURRENT_DATE"
