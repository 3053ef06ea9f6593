"""Alembic environment: migrate the database of the Flask app that runs the command.

The URL and the metadata come from the app (``flask --app app db ...``), so migrations always
run against what ``DATABASE_URL`` selects. Batch mode lets the same revisions alter tables on
SQLite, where every change is a table rebuild.
"""

import logging

from alembic import context
from flask import current_app

log = logging.getLogger("alembic.env")
if not logging.getLogger().handlers:
    # Show "Running upgrade a -> b" lines when run from the command line.
    logging.basicConfig(level=logging.INFO, format="%(message)s")

migrate_extension = current_app.extensions["migrate"]
target_metadata = migrate_extension.db.metadata
engine = migrate_extension.db.engine


def run_migrations_offline() -> None:
    """Print the SQL instead of running it (``flask db upgrade --sql``)."""
    context.configure(
        url=engine.url,
        target_metadata=target_metadata,
        literal_binds=True,
        **migrate_extension.configure_args,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a connection of the app's engine."""

    def skip_empty_revision(context, revision, directives):  # noqa: ANN001
        if (
            getattr(context.config.cmd_opts, "autogenerate", False)
            and directives[0].upgrade_ops.is_empty()
        ):
            directives[:] = []
            log.info("no changes in the schema")

    options = dict(migrate_extension.configure_args)
    options.setdefault("process_revision_directives", skip_empty_revision)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, **options)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
