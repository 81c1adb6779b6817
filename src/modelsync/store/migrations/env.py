"""Alembic environment of the store, driven by :mod:`modelsync.store.migrate` (no alembic.ini).

Online, the caller hands over an open SQLAlchemy connection in ``config.attributes["connection"]``
and owns its transaction. Offline (``--sql``), the URL comes from the ``sqlalchemy.url`` option.
Comparisons leave out the text index (:func:`~modelsync.store.schema.is_search_object`), which
the migrations create outside the metadata.
"""

from __future__ import annotations

from alembic import context

from modelsync.store.schema import is_search_object, metadata

config = context.config


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Compare everything but the text index's tables and index."""
    return not is_search_object(name)


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
        include_name=include_name,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
