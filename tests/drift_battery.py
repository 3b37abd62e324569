"""A battery of small model sets covering every property `validate_tables` compares, and the
drifts applied to a `create_all` database, one at a time, with the problem kind each must raise.

`battery(engine)` builds the MetaData objects for one engine ("sqlite", "postgres", "mysql"):
features an engine cannot hold (GIN on SQLite, partial indexes on MariaDB, ...) are left out
there, exactly as a datakit author would guard them with `execute_if` / dialect options.
`DRIFTS[engine]` lists (name, expected kind, table, DDL statements).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import mysql as my
from sqlalchemy.dialects import postgresql as pg

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


HAS_CREATE_VIEW = hasattr(sa, "CreateView")  # SQLAlchemy 2.1; the oldest declared (2.0) has none


def battery(engine: str) -> list[sa.MetaData]:
    """The model sets for `engine`: one plain MetaData and one with a naming convention."""
    md = sa.MetaData()
    sa.Table(
        "chk",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("price", sa.Numeric(18, 6), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.CheckConstraint("price > 0", name="chk_price_positive"),
        sa.CheckConstraint("status IN ('new', 'done')", name="chk_status"),
    )
    dflt_columns = [
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(20), server_default="x"),
        sa.Column("qty", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created", sa.DateTime, server_default=sa.func.now()),
        sa.Column("flag", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("ratio", sa.Numeric(5, 2), server_default=sa.text("1.5")),
    ]
    if engine == "mysql":
        dflt_columns.append(
            sa.Column(
                "touched",
                sa.TIMESTAMP,
                nullable=False,
                server_default=sa.text("CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP"),
            )
        )
        dflt_columns.append(sa.Column("doc", sa.JSON))
        dflt_columns.append(
            sa.Column("at6", my.DATETIME(fsp=6), server_default=sa.func.current_timestamp(6))
        )
    sa.Table("dflt", md, *dflt_columns)
    sa.Table(
        "gen",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a", sa.Integer, nullable=False),
        sa.Column("b", sa.Integer, sa.Computed("a * 2", persisted=True if engine == "postgres" else None)),
    )
    sa.Table(
        "serial_t",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("v", sa.String(10)),
    )
    sa.Table(  # SQLite: an INTEGER PRIMARY KEY is the rowid, generated whatever the model says
        "ident",
        md,
        sa.Column("id", sa.Integer, sa.Identity(), primary_key=True),
        sa.Column("v", sa.String(10)),
    )
    if engine == "sqlite":
        sa.Table(  # a BIGINT key is no rowid: create_all cannot make SQLite generate it
            "bigident", md, sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True)
        )
        sa.Table(
            "norowid",
            md,
            sa.Column("id", sa.Integer, primary_key=True),  # no rowid: not generated either
            sa.Column("v", sa.Integer),
            sqlite_with_rowid=False,
            sqlite_strict=True,
        )
    sa.Table(
        "lenck",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(20)),
        sa.CheckConstraint("length(name) > 1", name="ck_lenck_name"),  # MariaDB: octet_length
    )
    sa.Table(  # a non-native enum: create_all adds the CHECK on every engine
        "nnenum",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("mood", sa.Enum("calm", "busy", name="ck_nnenum_mood", native_enum=False,
                                  create_constraint=True)),
    )
    if engine == "postgres":
        sa.Table(
            "flags_pg",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("on", sa.Boolean, nullable=False, server_default="true"),  # stored: true
            sa.Column("off", sa.Boolean, nullable=False, server_default="false"),
        )
        sa.Table("base_t", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("at", sa.Date))
        sa.Table("heir", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("at", sa.Date), sa.Column("extra", sa.Integer),
                 postgresql_inherits="base_t")
        events = sa.Table(
            "events",
            md,
            sa.Column("id", sa.Integer, nullable=False),
            sa.Column("at", sa.Date, nullable=False),
            sa.PrimaryKeyConstraint("id", "at"),
            postgresql_partition_by="RANGE (at)",
        )
        sa.event.listen(events, "after_create", sa.DDL(
            "CREATE TABLE events_2024 PARTITION OF events"
            " FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')"))
        sa.Table("ext", md, sa.Column("id", sa.Integer, primary_key=True),
                 sa.Column("email", pg.CITEXT), sa.Column("attrs", pg.HSTORE))
        sa.Table(
            "staging",
            md,
            sa.Column("id", sa.Integer, sa.Identity(start=100, increment=5), primary_key=True),
            sa.Column("code", sa.String(20, collation="C")),
            prefixes=["UNLOGGED"],
        )
    if engine != "sqlite":
        sa.Table(
            "cmt",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("v", sa.String(10), comment="the value"),
            comment="a commented table",
        )
    sa.Table(
        "uq",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100)),
        sa.UniqueConstraint("email", name="uq_email_full"),
    )
    sa.Table(
        "num",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("amount", sa.Numeric(18, 6)),
        sa.Column("at", sa.DateTime(timezone=True)),
    )
    if engine != "mysql":  # MariaDB has no functional indexes
        expr = sa.Table(
            "expr",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("email", sa.String(100)),
            sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        )
        sa.Index("ix_expr_lower_email", sa.func.lower(expr.c.email), unique=True)
        sa.Index(
            "ix_expr_live_email",
            expr.c.email,
            postgresql_where=expr.c.deleted == sa.false(),
            sqlite_where=expr.c.deleted == sa.false(),
        )
    if engine == "postgres":
        gin = sa.Table(
            "gin_t",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("doc", pg.JSONB),
        )
        sa.Index("ix_gin_doc", gin.c.doc, postgresql_using="gin")
    parent = sa.Table("parent", md, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(  # MySQL treats RESTRICT as NO ACTION: the message must still say RESTRICT
        "rchild",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.Integer,
                  sa.ForeignKey(parent.c.id, name="fk_rchild_parent", ondelete="RESTRICT")),
    )
    sa.Table(
        "child",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column(
            "parent_id", sa.Integer, sa.ForeignKey(parent.c.id, name="fk_child_parent",
                                                   ondelete="CASCADE", onupdate="CASCADE")
        ),
    )
    if engine != "mysql":
        sa.Table(
            "dchild",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column(
                "parent_id",
                sa.Integer,
                sa.ForeignKey(parent.c.id, name="fk_dchild_parent", deferrable=True,
                              initially="DEFERRED"),
            ),
        )
    vt = sa.Table(
        "vt",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("v", sa.Integer),
        sa.Column("changed", sa.Integer, server_default="0"),
    )
    sa.event.listen(vt, "after_create", sa.DDL("CREATE VIEW vt_view AS SELECT id, v FROM vt"))
    sa.event.listen(vt, "before_drop", sa.DDL("DROP VIEW IF EXISTS vt_view"))
    trigger_sql = {
        "sqlite": "CREATE TRIGGER vt_touch AFTER UPDATE ON vt BEGIN"
        " UPDATE vt SET changed = 1 WHERE id = NEW.id AND changed = 0; END",
        "postgres": "CREATE TRIGGER vt_touch BEFORE UPDATE ON vt FOR EACH ROW"
        " EXECUTE FUNCTION suppress_redundant_updates_trigger()",
        "mysql": "CREATE TRIGGER vt_touch BEFORE UPDATE ON vt FOR EACH ROW"
        " SET NEW.changed = 1",
    }[engine]
    sa.event.listen(vt, "after_create", sa.DDL(trigger_sql))
    if HAS_CREATE_VIEW:
        sa.CreateView(sa.select(vt.c.id, vt.c.v).where(vt.c.v > 0), "vt_positive", metadata=md)
    if engine != "sqlite":
        sa.Sequence("order_no_seq", metadata=md, start=500)
    if engine == "mysql":
        sa.Table(  # MariaDB stores nextval(`db`.`order_no_seq`)
            "refs",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("ref", sa.Integer, server_default=sa.text("nextval(order_no_seq)")),
        )
    if engine == "postgres":
        sa.Enum("calm", "busy", name="mood", metadata=md)  # standalone: used by no column
        for extension in ("pg_trgm", "citext", "hstore"):
            sa.event.listen(md, "before_create", sa.DDL(
                f"CREATE EXTENSION IF NOT EXISTS {extension}").execute_if(dialect="postgresql"))
    if engine == "mysql":
        mt = sa.Table(
            "mytab",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("name", sa.String(100)),
            sa.Column("code", sa.String(20, collation="utf8mb4_bin")),
            sa.Column("label", my.VARCHAR(20, charset="latin1")),
            sa.Column("body", sa.Text),
            sa.Column("note", sa.Text),  # MariaDB keys a prefix of it silently
            mysql_engine="InnoDB",
            mysql_charset="utf8mb4",
            mysql_collate="utf8mb4_unicode_ci",
        )
        sa.Index("ix_mytab_name", mt.c.name, mysql_length=10)
        sa.Index("ix_mytab_body", mt.c.body, mysql_prefix="FULLTEXT")
        sa.Index("ix_mytab_note", mt.c.note)
        sa.Table(
            "flags",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("on", sa.Boolean, nullable=False),
            sa.Column("tiny", my.TINYINT(1)),
        )

    named = sa.MetaData(naming_convention=NAMING)
    nc_parent = sa.Table(
        "nc_parent",
        named,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("slug", sa.String(40), nullable=False, unique=True),
        sa.Column("n", sa.Integer, nullable=False, index=True),
        sa.CheckConstraint("n >= 0", name="n_positive"),
    )
    sa.Table(
        "nc_child",
        named,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey(nc_parent.c.id)),
    )
    # create_all truncates a convention name longer than the engine allows (PostgreSQL: 63)
    sa.Table(
        "nc_a_rather_long_table_name_for_truncation",
        named,
        sa.Column("id", sa.BigInteger, primary_key=True),  # SQLite: BIGINT, not the rowid
        sa.Column("another_long_column_name_here", sa.String(20), unique=True),
        sa.Column("n", sa.Integer, server_default=sa.text("-1"), index=True),
        sa.Column("at", sa.DateTime),
        sa.Index("ix_long_n_at_desc", "n", sa.desc("at")),
    )
    return [md, named]


@dataclass(frozen=True)
class Drift:
    name: str
    kind: str  # the Problem.kind it must raise
    table: str  # the Problem.table it must raise it on
    ddl: tuple[str, ...]
    says: str = ""  # a text the problem's detail must contain (the model's own words)


def _d(name: str, kind: str, table: str, *ddl: str, says: str = "") -> Drift:
    return Drift(name, kind, table, ddl, says)


def caught(drift: Drift, problems: list[tuple[str, str, str]]) -> bool:
    """Whether `problems` report `drift`: its kind, on its table, in the model's words."""
    return any((t, k) == (drift.table, drift.kind) and drift.says in d for t, k, d in problems)


def _sqlite_rebuild(table: str, create: str, columns: str) -> tuple[str, ...]:
    """SQLite cannot ALTER most things: rebuild the table with `create` (a CREATE TABLE for
    `table`_new), copying `columns`."""
    return (
        "PRAGMA foreign_keys = OFF",
        create,
        f"INSERT INTO {table}_new ({columns}) SELECT {columns} FROM {table}",
        f"DROP TABLE {table}",
        f"ALTER TABLE {table}_new RENAME TO {table}",
    )


DRIFTS: dict[str, list[Drift]] = {
    "sqlite": [
        _d("drop CHECK", "check", "chk", *_sqlite_rebuild(
            "chk", "CREATE TABLE chk_new (id INTEGER NOT NULL PRIMARY KEY, price NUMERIC(18, 6)"
            " NOT NULL, status VARCHAR(10) NOT NULL, CONSTRAINT chk_status CHECK"
            " (status IN ('new', 'done')))", "id, price, status")),
        _d("change CHECK", "check", "chk", *_sqlite_rebuild(
            "chk", "CREATE TABLE chk_new (id INTEGER NOT NULL PRIMARY KEY, price NUMERIC(18, 6)"
            " NOT NULL, status VARCHAR(10) NOT NULL, CONSTRAINT chk_price_positive CHECK"
            " (price > 10), CONSTRAINT chk_status CHECK (status IN ('new', 'done')))",
            "id, price, status")),
        _d("change server default", "default", "dflt", *_sqlite_rebuild(
            "dflt", "CREATE TABLE dflt_new (id INTEGER NOT NULL PRIMARY KEY, label VARCHAR(20)"
            " DEFAULT 'y', qty INTEGER DEFAULT '0' NOT NULL, created DATETIME DEFAULT"
            " (CURRENT_TIMESTAMP), flag BOOLEAN DEFAULT 0 NOT NULL, ratio NUMERIC(5, 2)"
            " DEFAULT 1.5)", "id, label, qty, created, flag, ratio")),
        _d("generated column made plain", "generated", "gen", *_sqlite_rebuild(
            "gen", "CREATE TABLE gen_new (id INTEGER NOT NULL PRIMARY KEY, a INTEGER NOT NULL,"
            " b INTEGER)", "id, a")),
        _d("generation expression changed", "generated", "gen", *_sqlite_rebuild(
            "gen", "CREATE TABLE gen_new (id INTEGER NOT NULL PRIMARY KEY, a INTEGER NOT NULL,"
            " b INTEGER GENERATED ALWAYS AS (a * 3))", "id, a")),
        _d("full UNIQUE replaced by a partial one", "unique", "uq", *_sqlite_rebuild(
            "uq", "CREATE TABLE uq_new (id INTEGER NOT NULL PRIMARY KEY, email VARCHAR(100))",
            "id, email"), "CREATE UNIQUE INDEX uq_email_part ON uq (email) WHERE id > 10"),
        _d("rowid key made plain", "identity", "serial_t", *_sqlite_rebuild(
            "serial_t", "CREATE TABLE serial_t_new (id INT NOT NULL PRIMARY KEY, v VARCHAR(10))",
            "id, v")),
        _d("numeric(18,6) -> (10,2)", "type_mismatch", "num", *_sqlite_rebuild(
            "num", "CREATE TABLE num_new (id INTEGER NOT NULL PRIMARY KEY, amount NUMERIC(10, 2),"
            " at DATETIME)", "id, amount, at")),
        _d("expression unique index dropped", "unique", "expr",
           "DROP INDEX ix_expr_lower_email", "CREATE INDEX ix_expr_lower_email ON expr (email)"),
        _d("partial index predicate dropped", "index", "expr",
           "DROP INDEX ix_expr_live_email", "CREATE INDEX ix_expr_live_email ON expr (email)"),
        _d("FK ON DELETE changed", "foreign_key", "child", *_sqlite_rebuild(
            "child", "CREATE TABLE child_new (id INTEGER NOT NULL PRIMARY KEY, parent_id INTEGER,"
            " CONSTRAINT fk_child_parent FOREIGN KEY(parent_id) REFERENCES parent (id)"
            " ON DELETE SET NULL ON UPDATE CASCADE)", "id, parent_id")),
        _d("DEFERRABLE dropped", "foreign_key", "dchild", *_sqlite_rebuild(
            "dchild", "CREATE TABLE dchild_new (id INTEGER NOT NULL PRIMARY KEY, parent_id"
            " INTEGER, CONSTRAINT fk_dchild_parent FOREIGN KEY(parent_id) REFERENCES"
            " parent (id))", "id, parent_id")),
        _d("view dropped", "view", "vt", "DROP VIEW vt_view"),
        _d("trigger dropped", "trigger", "vt", "DROP TRIGGER vt_touch"),
        _d("CreateView view dropped", "view", "vt_positive", "DROP VIEW vt_positive"),
        _d("index renamed under a naming convention", "name", "nc_parent",
           "DROP INDEX ix_nc_parent_n", "CREATE INDEX nc_parent_n_idx ON nc_parent (n)"),
        _d("WITHOUT ROWID table rebuilt with a rowid", "table_option", "norowid",
           *_sqlite_rebuild("norowid", "CREATE TABLE norowid_new (id INTEGER NOT NULL,"
                            " v INTEGER, PRIMARY KEY (id)) STRICT", "id, v"),
           says="WITHOUT ROWID"),
        _d("STRICT table rebuilt plainly", "table_option", "norowid",
           *_sqlite_rebuild("norowid", "CREATE TABLE norowid_new (id INTEGER NOT NULL,"
                            " v INTEGER, PRIMARY KEY (id)) WITHOUT ROWID", "id, v"),
           says="STRICT"),
        _d("non-native enum CHECK dropped", "check", "nnenum", *_sqlite_rebuild(
            "nnenum", "CREATE TABLE nnenum_new (id INTEGER NOT NULL PRIMARY KEY,"
            " mood VARCHAR(4))", "id, mood")),
        _d("FK ON DELETE RESTRICT changed", "foreign_key", "rchild", *_sqlite_rebuild(
            "rchild", "CREATE TABLE rchild_new (id INTEGER NOT NULL PRIMARY KEY, parent_id"
            " INTEGER, CONSTRAINT fk_rchild_parent FOREIGN KEY(parent_id) REFERENCES"
            " parent (id) ON DELETE CASCADE)", "id, parent_id"), says="ON DELETE RESTRICT"),
    ],
    "postgres": [
        _d("drop CHECK", "check", "chk", "ALTER TABLE chk DROP CONSTRAINT chk_price_positive"),
        _d("change CHECK", "check", "chk", "ALTER TABLE chk DROP CONSTRAINT chk_price_positive",
           "ALTER TABLE chk ADD CONSTRAINT chk_price_positive CHECK (price > 10)"),
        _d("change IN-list CHECK", "check", "chk", "ALTER TABLE chk DROP CONSTRAINT chk_status",
           "ALTER TABLE chk ADD CONSTRAINT chk_status CHECK (status IN ('new', 'gone'))"),
        _d("change server default", "default", "dflt",
           "ALTER TABLE dflt ALTER COLUMN label SET DEFAULT 'y'"),
        _d("drop server default", "default", "dflt",
           "ALTER TABLE dflt ALTER COLUMN created DROP DEFAULT"),
        _d("generated column made plain", "generated", "gen",
           "ALTER TABLE gen ALTER COLUMN b DROP EXPRESSION"),
        _d("generation expression changed", "generated", "gen", "ALTER TABLE gen DROP COLUMN b",
           "ALTER TABLE gen ADD COLUMN b integer GENERATED ALWAYS AS (a * 3) STORED"),
        _d("serial default dropped", "identity", "serial_t",
           "ALTER TABLE serial_t ALTER COLUMN id DROP DEFAULT"),
        _d("identity dropped", "identity", "ident",
           "ALTER TABLE ident ALTER COLUMN id DROP IDENTITY"),
        _d("identity increment changed", "identity", "staging",
           "ALTER TABLE staging ALTER COLUMN id SET INCREMENT BY 1"),
        _d("UNLOGGED table made logged", "table_option", "staging", "ALTER TABLE staging SET LOGGED"),
        _d("column collation changed", "collation", "staging",
           'ALTER TABLE staging ALTER COLUMN code TYPE varchar(20) COLLATE "POSIX"'),
        _d("column comment changed", "comment", "cmt", "COMMENT ON COLUMN cmt.v IS 'other'"),
        _d("table comment dropped", "comment", "cmt", "COMMENT ON TABLE cmt IS NULL"),
        _d("full UNIQUE replaced by a partial one", "unique", "uq",
           "ALTER TABLE uq DROP CONSTRAINT uq_email_full",
           "CREATE UNIQUE INDEX uq_email_full ON uq (email) WHERE id > 10"),
        _d("partial index predicate dropped", "index", "expr",
           "DROP INDEX ix_expr_live_email", "CREATE INDEX ix_expr_live_email ON expr (email)"),
        _d("expression unique index made plain", "unique", "expr",
           "DROP INDEX ix_expr_lower_email", "CREATE INDEX ix_expr_lower_email ON expr (email)"),
        _d("GIN -> btree", "index", "gin_t", "DROP INDEX ix_gin_doc",
           "CREATE INDEX ix_gin_doc ON gin_t USING btree (doc)"),
        _d("numeric(18,6) -> (10,2)", "type_mismatch", "num",
           "ALTER TABLE num ALTER COLUMN amount TYPE numeric(10, 2)"),
        _d("timestamptz -> timestamp", "type_mismatch", "num",
           "ALTER TABLE num ALTER COLUMN at TYPE timestamp without time zone"),
        _d("FK ON DELETE changed", "foreign_key", "child",
           "ALTER TABLE child DROP CONSTRAINT fk_child_parent",
           "ALTER TABLE child ADD CONSTRAINT fk_child_parent FOREIGN KEY (parent_id)"
           " REFERENCES parent (id) ON UPDATE CASCADE"),
        _d("FK ON UPDATE changed", "foreign_key", "child",
           "ALTER TABLE child DROP CONSTRAINT fk_child_parent",
           "ALTER TABLE child ADD CONSTRAINT fk_child_parent FOREIGN KEY (parent_id)"
           " REFERENCES parent (id) ON DELETE CASCADE"),
        _d("DEFERRABLE dropped", "foreign_key", "dchild",
           "ALTER TABLE dchild ALTER CONSTRAINT fk_dchild_parent NOT DEFERRABLE"),
        _d("INITIALLY DEFERRED -> IMMEDIATE", "foreign_key", "dchild",
           "ALTER TABLE dchild ALTER CONSTRAINT fk_dchild_parent DEFERRABLE INITIALLY IMMEDIATE"),
        _d("view dropped", "view", "vt", "DROP VIEW vt_view"),
        _d("trigger dropped", "trigger", "vt", "DROP TRIGGER vt_touch ON vt"),
        _d("CreateView view dropped", "view", "vt_positive", "DROP VIEW vt_positive"),
        _d("sequence dropped", "sequence", "order_no_seq", "DROP SEQUENCE order_no_seq"),
        _d("extension dropped", "extension", "pg_trgm", "DROP EXTENSION pg_trgm"),
        _d("standalone enum type dropped", "enum", "mood", "DROP TYPE mood"),
        _d("unique constraint renamed under a naming convention", "name", "nc_parent",
           "ALTER TABLE nc_parent RENAME CONSTRAINT uq_nc_parent_slug TO nc_parent_slug_key"),
        _d("CHECK renamed under a naming convention", "name", "nc_parent",
           "ALTER TABLE nc_parent RENAME CONSTRAINT ck_nc_parent_n_positive TO n_not_negative"),
        _d("FK renamed under a naming convention", "name", "nc_child",
           "ALTER TABLE nc_child RENAME CONSTRAINT fk_nc_child_parent_id_nc_parent"
           " TO nc_child_parent_id_fkey"),
        _d("INHERITS parent removed", "table_option", "heir", "ALTER TABLE heir NO INHERIT base_t",
           says="INHERITS (base_t)"),
        _d("partition the DDL creates dropped", "partition", "events", "DROP TABLE events_2024"),
        _d("partition detached", "partition", "events",
           "ALTER TABLE events DETACH PARTITION events_2024"),
        _d("PARTITION BY key changed", "table_option", "events", "DROP TABLE events",
           "CREATE TABLE events (id integer NOT NULL, at date NOT NULL, PRIMARY KEY (id, at))"
           " PARTITION BY LIST (at)", "CREATE TABLE events_2024 PARTITION OF events"
           " FOR VALUES IN ('2024-01-01')", says="PARTITION BY RANGE (at)"),
        _d("table no longer partitioned", "table_option", "events", "DROP TABLE events",
           "CREATE TABLE events (id integer NOT NULL, at date NOT NULL, PRIMARY KEY (id, at))",
           "CREATE TABLE events_2024 (id integer NOT NULL, at date NOT NULL)"),
        _d("non-native enum CHECK dropped", "check", "nnenum",
           "ALTER TABLE nnenum DROP CONSTRAINT ck_nnenum_mood"),
        _d("CITEXT -> TEXT", "type_mismatch", "ext",
           "ALTER TABLE ext ALTER COLUMN email TYPE text", says="CITEXT"),
        _d("HSTORE -> TEXT", "type_mismatch", "ext",
           "ALTER TABLE ext ALTER COLUMN attrs TYPE text", says="HSTORE"),
        _d("boolean default true -> false", "default", "flags_pg",
           "ALTER TABLE flags_pg ALTER COLUMN \"on\" SET DEFAULT false"),
        _d("FK ON DELETE RESTRICT changed", "foreign_key", "rchild",
           "ALTER TABLE rchild DROP CONSTRAINT fk_rchild_parent",
           "ALTER TABLE rchild ADD CONSTRAINT fk_rchild_parent FOREIGN KEY (parent_id)"
           " REFERENCES parent (id) ON DELETE CASCADE", says="ON DELETE RESTRICT"),
    ],
    "mysql": [
        _d("drop CHECK", "check", "chk", "ALTER TABLE chk DROP CONSTRAINT chk_price_positive"),
        _d("change CHECK", "check", "chk", "ALTER TABLE chk DROP CONSTRAINT chk_price_positive",
           "ALTER TABLE chk ADD CONSTRAINT chk_price_positive CHECK (price > 10)"),
        _d("change server default", "default", "dflt",
           "ALTER TABLE dflt ALTER COLUMN label SET DEFAULT 'y'"),
        _d("ON UPDATE CURRENT_TIMESTAMP dropped", "default", "dflt",
           "ALTER TABLE dflt MODIFY touched TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP"),
        _d("generated column made plain", "generated", "gen",
           "ALTER TABLE gen DROP COLUMN b", "ALTER TABLE gen ADD COLUMN b INTEGER NULL"),
        _d("generation expression changed", "generated", "gen",
           "ALTER TABLE gen MODIFY b INTEGER AS (a * 3) VIRTUAL"),
        _d("auto_increment dropped", "identity", "serial_t",
           "ALTER TABLE serial_t MODIFY id INTEGER NOT NULL"),
        _d("column comment changed", "comment", "cmt",
           "ALTER TABLE cmt MODIFY v VARCHAR(10) COMMENT 'other'"),
        _d("table comment changed", "comment", "cmt", "ALTER TABLE cmt COMMENT = 'other'"),
        _d("numeric(18,6) -> (10,2)", "type_mismatch", "num",
           "ALTER TABLE num MODIFY amount NUMERIC(10, 2)"),
        _d("FK ON DELETE changed", "foreign_key", "child",
           "ALTER TABLE child DROP FOREIGN KEY fk_child_parent",
           "ALTER TABLE child ADD CONSTRAINT fk_child_parent FOREIGN KEY (parent_id)"
           " REFERENCES parent (id) ON UPDATE CASCADE"),
        _d("prefix length changed", "index", "mytab", "DROP INDEX ix_mytab_name ON mytab",
           "CREATE INDEX ix_mytab_name ON mytab (name(20))"),
        _d("FULLTEXT made plain", "index", "mytab", "DROP INDEX ix_mytab_body ON mytab",
           "CREATE INDEX ix_mytab_body ON mytab (body(50))"),
        _d("engine changed", "table_option", "mytab", "ALTER TABLE mytab ENGINE = MyISAM"),
        _d("charset/collation changed", "table_option", "mytab",
           "ALTER TABLE mytab DEFAULT CHARACTER SET latin1 COLLATE latin1_swedish_ci"),
        _d("column collation changed", "collation", "mytab",
           "ALTER TABLE mytab MODIFY code VARCHAR(20) COLLATE utf8mb4_general_ci"),
        _d("view dropped", "view", "vt", "DROP VIEW vt_view"),
        _d("trigger dropped", "trigger", "vt", "DROP TRIGGER vt_touch"),
        _d("CreateView view dropped", "view", "vt_positive", "DROP VIEW vt_positive"),
        _d("sequence dropped", "sequence", "order_no_seq", "DROP SEQUENCE order_no_seq"),
        _d("index renamed under a naming convention", "name", "nc_parent",
           "ALTER TABLE nc_parent RENAME INDEX ix_nc_parent_n TO nc_parent_n_idx"),
        _d("CHECK renamed under a naming convention", "name", "nc_parent",
           "ALTER TABLE nc_parent DROP CONSTRAINT ck_nc_parent_n_positive",
           "ALTER TABLE nc_parent ADD CONSTRAINT n_not_negative CHECK (n >= 0)"),
        _d("column charset changed", "collation", "mytab",
           "ALTER TABLE mytab MODIFY label VARCHAR(20) CHARACTER SET utf8mb4"),
        _d("FK ON DELETE RESTRICT changed", "foreign_key", "rchild",
           "ALTER TABLE rchild DROP FOREIGN KEY fk_rchild_parent",
           "ALTER TABLE rchild ADD CONSTRAINT fk_rchild_parent FOREIGN KEY (parent_id)"
           " REFERENCES parent (id) ON DELETE CASCADE", says="ON DELETE RESTRICT"),
        _d("octet_length CHECK changed", "check", "lenck",
           "ALTER TABLE lenck DROP CONSTRAINT ck_lenck_name",
           "ALTER TABLE lenck ADD CONSTRAINT ck_lenck_name CHECK (length(name) > 5)"),
        _d("sequence default changed", "default", "refs",
           "CREATE SEQUENCE other_seq", "ALTER TABLE refs ALTER COLUMN ref SET DEFAULT"
           " nextval(other_seq)"),
        _d("non-native enum CHECK dropped", "check", "nnenum",
           "ALTER TABLE nnenum DROP CONSTRAINT ck_nnenum_mood"),
    ],
}
if not HAS_CREATE_VIEW:
    DRIFTS = {e: [d for d in ds if d.table != "vt_positive"] for e, ds in DRIFTS.items()}


def all_tables(metadatas: list[sa.MetaData]) -> list[sa.Table]:
    return [t for md in metadatas for t in md.sorted_tables]


def create_all(metadatas: list[sa.MetaData], engine: sa.Engine) -> None:
    for md in metadatas:
        md.create_all(engine)


def problems_of(metadatas: list[sa.MetaData], engine: sa.Engine) -> list[tuple[str, str, str]]:
    from dkenv.validate import validate_tables

    return [(p.table, p.kind, p.detail) for p in validate_tables(all_tables(metadatas), engine)]


def apply(engine: sa.Engine, statements: tuple[str, ...]) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
