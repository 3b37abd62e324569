"""What the PostgreSQL and MySQL/MariaDB builders of isolated databases share.

An autocommit admin engine on the server's own database (CREATE/DROP DATABASE need it), URLs
and quoting, and :func:`deploy_into`: a datakit set deployed by dkenv's own deployer (its
checks, errors and default probes) into a template or a first database, with its data.
The builders themselves: :mod:`dkenv.databases.postgres` (template copies) and
:mod:`dkenv.databases.mysql` (DDL replay).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dkenv.config import Target
from dkenv.engines.mysql import loopback_args
from dkenv.errors import DeployError
from dkenv.schema import user_names

if TYPE_CHECKING:
    import sqlalchemy as sa

def admin_engine(url: str) -> sa.Engine:
    """An autocommit engine on the server's own database: CREATE/DROP DATABASE need autocommit."""
    from sqlalchemy import create_engine

    return create_engine(url, isolation_level="AUTOCOMMIT", pool_size=2, max_overflow=6,
                         pool_pre_ping=False, connect_args={"connect_timeout": 5, **loopback_args(url)})


@functools.lru_cache(maxsize=512)
def url_for(url: str, database: str) -> str:
    """``url`` on ``database``: asked for each database at every hand-out and recycle, so kept."""
    return parsed_url(url).set(database=database).render_as_string(hide_password=False)


@functools.lru_cache(maxsize=512)
def parsed_url(url: str) -> Any:
    """``make_url(url)``, kept: SQLAlchemy's URLs are immutable, parsing one costs ~0.1 ms."""
    from sqlalchemy.engine import make_url

    return make_url(url)


def hung_up(fileno: int) -> bool:
    """Whether the server ended an idle connection: anything to read on its socket (the
    server's last words, or the end of the stream) says so.  No round trip, no new connection."""
    import select

    try:
        readable, _, _ = select.select([fileno], [], [], 0)
    except (OSError, ValueError):  # closed already
        return True
    return bool(readable)


def pg_quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def my_quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def deploy_into(url: str, engine: str, label: str, kits: Sequence[Any],
                schema_map: Mapping[str, str] | None = None, data: Sequence[Any] = (),
                build: str = "models") -> None:
    """Deploy ``kits`` in order with dkenv's own deployer (its checks, errors and default probes),
    then load the ``data`` directories into them.

    ``schema_map`` renames schemas (MySQL isolated databases) through ``schema_translate_map``;
    an error names the user's tables, not the renamed ones.  ``build="migrations"`` runs each
    datakit's Alembic history instead of the deployer (data loads after it all the same).

    Every builder compiled the datakits' whole DDL before (:func:`build_ddl`, the template's key,
    or MySQL's replay script), which raised whatever :func:`dkenv.deploy.precompile` would: the
    deployer does not compile them a second time (one compile per datakit per build).
    """
    from dkenv.deploy import deploy_data_objects
    from dkenv.servers.runtime import open_runtime

    target = Target(name=label, db_type=engine, kind="url", url=url, description=label,
                    options={"schema_map": dict(schema_map)} if schema_map else {})
    # closed at the end: a template must have no connections when it is copied
    with open_runtime(target) as rt:
        try:
            if build == "migrations":
                from dkenv.migrations import migrate_kits

                migrate_kits(kits, rt)
            else:
                for kit in kits:  # compiled already; a template's warnings are nobody's news
                    deploy_data_objects(kit, rt, precompiled=[])
            if data:
                from dkenv.data import load_data

                load_data(rt, data, kits)
        except DeployError as exc:
            if not schema_map:
                raise
            raise DeployError(user_names(exc.message, schema_map) or exc.message,
                              user_names(exc.hint, schema_map)) from None


#: Bumped when what a load leaves in a database changes (2: sequences moved past loaded keys),
#: so a template an older dkenv left on a reused server is not handed out again.
LOADER_VERSION = 2


def build_ddl(kits: Sequence[Any], engine: Any, build: str) -> list[str]:
    """What a template's name hashes: the compiled DDL of the models, or for a migrations build
    the content of each datakit's history (a new revision, a new template)."""
    if build == "migrations":
        from dkenv.migrations import history_of

        return [f"-- migrations {kit.name} {history_of(kit).content_hash()}" for kit in kits]
    from dkenv.schema import compile_ddl

    return compile_ddl(kits, engine)


def data_key(data: Sequence[Any]) -> list[str]:
    """A pseudo-statement that puts the data files' content hash into a template key."""
    if not data:
        return []
    from dkenv.data import content_hash

    return [f"-- data {content_hash(data)} (loader {LOADER_VERSION})"]


