"""Alembic environment of the store, driven by :mod:`modelsync.store.migrate` (no alembic.ini).

Online, the caller hands over an open SQLAlchemy connection in ``config.attributes["connection"]``
and owns its transaction. Offline (``--sql``), the URL comes from the ``sqlalchemy.url`` option.
"""

from __future__ import annotations

from alembic import context

from modelsync.store.schema import metadata

config = context.config
connection = config.attributes.get("connection")

if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()
elif connection is None:
    raise RuntimeError("run the store's migrations through modelsync.store.migrate")
else:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
