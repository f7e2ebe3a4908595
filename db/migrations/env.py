"""Alembic environment: the URL comes from cupboard's configuration, not alembic.ini."""

from __future__ import annotations

from alembic import context

from cupboard.db import database_url, get_engine
from cupboard.models import Base

config = context.config
url = config.attributes.get("database_url") or database_url()


def run_migrations_online() -> None:
    engine = get_engine(url)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it and dropping the original; with foreign
            # keys enforced, dropping a table that other rows point at (patients, cases)
            # fails on any database holding data. So they are off while migrating (the
            # pragma only takes effect outside a transaction: on the driver's connection,
            # before SQLAlchemy begins one) and every reference is checked afterwards.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        try:
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=True,  # SQLite ALTER TABLE support
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
                if sqlite:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                    if broken:
                        raise RuntimeError(f"migration left broken references: {broken[:5]}")
            connection.commit()
        finally:
            if sqlite:
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=ON")


def run_migrations_offline() -> None:
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
