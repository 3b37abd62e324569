"""Alembic's environment, written for dkenv and for running ``alembic upgrade head`` by hand.

A caller that already holds a connection (dkenv, tests) passes it as
``config.attributes["connection"]``; otherwise the engine comes from ``sqlalchemy.url``.
"""

from alembic import context
from sqlalchemy import engine_from_config, pool

config = context.config
target_metadata = None  # autogenerate: from shop.models import SQLModel; SQLModel.metadata


def run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run(connection)
        return
    engine = engine_from_config(config.get_section(config.config_ini_section, {}),
                                prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as connection:
        run(connection)


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_online()
