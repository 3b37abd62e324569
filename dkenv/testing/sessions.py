"""The fixtures users otherwise write by hand: a connection, a SQLModel ``Session``, an async engine.

    @pytest.mark.dkenv(datakits=["examples/bronze-pagila"])
    def test_add(dkenv_session):                     # a Session on the test's own database
        dkenv_session.add(Actor(first_name="A", last_name="B")); dkenv_session.commit()

    def test_async(dkenv_async_engine):              # asyncpg / aiomysql / aiosqlite, schemas seen
        asyncio.run(main(dkenv_async_engine))

In the default ``isolation="database"`` each is bound to the test's own database and closed
after the test.  In ``isolation="transaction"`` (:mod:`dkenv.testing.isolation`)
``dkenv_connection`` is the connection holding the test's transaction and ``dkenv_session`` is
joined to it with ``join_transaction_mode="create_savepoint"``: the code under test may
``commit()``, all of it is rolled back after the test.  An async engine opens connections of
its own, which cannot see that transaction: ``dkenv_async_engine`` is refused there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from dkenv.testing.isolation import isolation_of, refuse_in_transaction, transaction

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import AsyncEngine
    from sqlmodel import Session

    from dkenv.databases import IsolatedDatabase


# Each fixture names dkenv_database as an argument: that puts dkenv_engine_name in the test's
# fixture closure, which is what parametrizes the test over --dkenv-engines.
@pytest.fixture
def dkenv_connection(request: pytest.FixtureRequest, dkenv_database: IsolatedDatabase) -> Iterator[sa.Connection]:
    """A connection to the test's database; in transaction isolation, the one holding its transaction."""
    if isolation_of(request) == "transaction":
        with transaction(request, dkenv_database) as conn:
            yield conn
        return
    if "dkenv_engine" in request.fixturenames:  # the test's engine too: one engine, one connection
        with request.getfixturevalue("dkenv_engine").connect() as conn:
            yield conn
        return
    engine = dkenv_database.create_engine()  # no fixture lookup: a test's setup is on its path
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.pool.dispose()


@pytest.fixture
def dkenv_session(request: pytest.FixtureRequest, dkenv_database: IsolatedDatabase) -> Iterator[Session]:
    """A SQLModel ``Session`` on the test's database, closed after the test.

    Transaction isolation: joined to ``dkenv_connection``'s transaction; its ``commit()``
    releases a savepoint, and everything is rolled back after the test.
    """
    from sqlmodel import Session

    if isolation_of(request) == "transaction":
        conn = request.getfixturevalue("dkenv_connection")
        session = Session(bind=conn, join_transaction_mode="create_savepoint")
    else:
        session = Session(request.getfixturevalue("dkenv_engine"))
    with session:
        yield session


@pytest.fixture
def dkenv_async_engine(request: pytest.FixtureRequest, dkenv_database: IsolatedDatabase) -> Iterator[AsyncEngine]:
    """An ``AsyncEngine`` on the test's database (first installed async driver; schemas seen as
    by ``dkenv_engine``).  No pool: use it from ``asyncio.run`` or any test event loop."""
    from dkenv.errors import DkenvError

    refuse_in_transaction(request, "dkenv_async_engine", "dkenv_session or dkenv_connection")
    try:
        engine = dkenv_database.create_async_engine()
    except DkenvError as exc:
        failure = f"{request.node.nodeid}: dkenv_async_engine: {exc}"
    else:
        failure = ""
    if failure:  # outside the except block: one line, no "during handling of..." chain
        pytest.fail(failure, pytrace=False)
    yield engine  # disposed with the database (NullPool: no connection outlives its event loop)


__all__ = ["dkenv_async_engine", "dkenv_connection", "dkenv_session"]
