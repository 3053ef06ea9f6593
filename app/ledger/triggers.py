"""The database refuses to change or delete a ledger entry.

The ledger is append-only by contract, and the contract is enforced where every writer must
pass: in the database, not only in the ORM. ``TRIGGER_DDL`` holds the statements per dialect;
``attach_immutability_triggers`` runs them right after ``CREATE TABLE ledger_entries`` (so
``create_all`` in the tests installs them), and the Alembic migration that creates the table
executes the same list (``for statement in TRIGGER_DDL[op.get_bind().dialect.name]``).

* SQLite: ``BEFORE UPDATE`` and ``BEFORE DELETE`` triggers that ``RAISE(ABORT, ...)``.
* PostgreSQL: a plpgsql function that raises, fired ``BEFORE UPDATE OR DELETE`` for each row.
  ``TRUNCATE`` is left alone on purpose: it is an operator's tool, not something the
  application ever issues.

Both raise the message ``ledger entries are immutable``; the driver reports it as an
``IntegrityError`` (SQLite) or a ``DBAPIError`` with SQLSTATE 23001 (PostgreSQL).
"""

from __future__ import annotations

from sqlalchemy import DDL, FromClause, event

IMMUTABLE_MESSAGE = "ledger entries are immutable"

TRIGGER_DDL: dict[str, list[str]] = {
    "sqlite": [
        "CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries "
        f"BEGIN SELECT RAISE(ABORT, '{IMMUTABLE_MESSAGE}'); END;",
        "CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries "
        f"BEGIN SELECT RAISE(ABORT, '{IMMUTABLE_MESSAGE}'); END;",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION ledger_entries_refuse_change() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        f"RAISE EXCEPTION '{IMMUTABLE_MESSAGE}' USING ERRCODE = 'restrict_violation'; "
        "END; $$;",
        "CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries "
        "FOR EACH ROW EXECUTE FUNCTION ledger_entries_refuse_change();",
    ],
}

# What undoes TRIGGER_DDL, for the migration's downgrade.
DROP_TRIGGER_DDL: dict[str, list[str]] = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS ledger_entries_no_update;",
        "DROP TRIGGER IF EXISTS ledger_entries_no_delete;",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS ledger_entries_immutable ON ledger_entries;",
        "DROP FUNCTION IF EXISTS ledger_entries_refuse_change();",
    ],
}


def attach_immutability_triggers(table: FromClause) -> None:
    """Install the triggers whenever ``table`` is created through SQLAlchemy metadata."""
    for dialect, statements in TRIGGER_DDL.items():
        for statement in statements:
            ddl = DDL(statement)  # type: ignore[no-untyped-call]
            event.listen(table, "after_create", ddl.execute_if(dialect=dialect))
