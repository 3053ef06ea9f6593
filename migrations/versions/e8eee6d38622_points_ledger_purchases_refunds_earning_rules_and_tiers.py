"""points ledger, purchases, refunds, earning rules and tiers

Revision ID: e8eee6d38622
Revises: 5d804275126e
Create Date: 2026-11-23 16:31:00

"""
from alembic import op
import sqlalchemy as sa

import app.db


# revision identifiers, used by Alembic.
revision = 'e8eee6d38622'
down_revision = '5d804275126e'
branch_labels = None
depends_on = None

LEDGER_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries "
        "BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;",
        "CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries "
        "BEGIN SELECT RAISE(ABORT, 'ledger entries are immutable'); END;",
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION ledger_entries_refuse_change() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'ledger entries are immutable' USING ERRCODE = 'restrict_violation'; "
        "END; $$;",
        "CREATE TRIGGER ledger_entries_immutable BEFORE UPDATE OR DELETE ON ledger_entries "
        "FOR EACH ROW EXECUTE FUNCTION ledger_entries_refuse_change();",
    ],
}
DROP_LEDGER_TRIGGERS = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS ledger_entries_no_update;",
        "DROP TRIGGER IF EXISTS ledger_entries_no_delete;",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS ledger_entries_immutable ON ledger_entries;",
        "DROP FUNCTION IF EXISTS ledger_entries_refuse_change();",
    ],
}


def upgrade():
    op.create_table('earning_bonus_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('match', sa.String(length=10), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('multiplier_percent', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_earning_bonus_rules')),
    sa.UniqueConstraint('match', 'value', name=op.f('uq_earning_bonus_rules_match_value'))
    )
    op.create_table('tiers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('threshold_points', sa.Integer(), nullable=False),
    sa.Column('multiplier_percent', sa.Integer(), nullable=False),
    sa.Column('benefits', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tiers')),
    sa.UniqueConstraint('code', name=op.f('uq_tiers_code'))
    )
    op.create_table('member_tier_status',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('period_start', app.db.UTCDateTime(), nullable=False),
    sa.Column('period_tier', sa.String(length=40), nullable=False),
    sa.Column('gained_at', app.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_member_tier_status_member_id_members')),
    sa.PrimaryKeyConstraint('member_id', name=op.f('pk_member_tier_status'))
    )
    op.create_table('points_programme',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('base_points', sa.Integer(), nullable=False),
    sa.Column('per_amount_cents', sa.Integer(), nullable=False),
    sa.Column('expire_after_inactive_days', sa.Integer(), nullable=True),
    sa.Column('tier_window_days', sa.Integer(), nullable=False),
    sa.Column('tier_period_months', sa.Integer(), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by'], ['staff_accounts.id'], name=op.f('fk_points_programme_updated_by_staff_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_points_programme'))
    )
    op.create_table('promotions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('multiplier_percent', sa.Integer(), nullable=False),
    sa.Column('starts_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('ends_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('store_ids', sa.JSON(), nullable=True),
    sa.Column('created_by', sa.Integer(), nullable=True),
    sa.Column('cancelled_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['staff_accounts.id'], name=op.f('fk_promotions_created_by_staff_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_promotions'))
    )
    with op.batch_alter_table('promotions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_promotions_ends_at'), ['ends_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_promotions_starts_at'), ['starts_at'], unique=False)
    op.create_table('ledger_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('balance_after', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('reference_type', sa.String(length=30), nullable=True),
    sa.Column('reference_id', sa.String(length=100), nullable=True),
    sa.Column('till_id', sa.Integer(), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.CheckConstraint("kind IN ('earn', 'refund', 'reward', 'adjust', 'expire', 'bonus', 'reversal')", name=op.f('ck_ledger_entries_kind')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_ledger_entries_member_id_members')),
    sa.ForeignKeyConstraint(['reverses_id'], ['ledger_entries.id'], name=op.f('fk_ledger_entries_reverses_id_ledger_entries')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_accounts.id'], name=op.f('fk_ledger_entries_staff_id_staff_accounts')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_ledger_entries_store_id_stores')),
    sa.ForeignKeyConstraint(['till_id'], ['tills.id'], name=op.f('fk_ledger_entries_till_id_tills')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_ledger_entries_reverses_id'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index('ix_ledger_entries_member_time', ['member_id', 'created_at'], unique=False)
        batch_op.create_index('uq_ledger_entries_expiry', ['member_id', 'reference_id'], unique=True, sqlite_where=sa.text("kind = 'expire'"), postgresql_where=sa.text("kind = 'expire'"))
    op.create_table('purchases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('receipt_id', sa.String(length=64), nullable=False),
    sa.Column('till_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.String(length=36), nullable=True),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('lines', sa.JSON(), nullable=True),
    sa.Column('points_earned', sa.Integer(), nullable=False),
    sa.Column('refunded_cents', sa.Integer(), server_default='0', nullable=False),
    sa.Column('points_refunded', sa.Integer(), server_default='0', nullable=False),
    sa.Column('ledger_entry_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledger_entries.id'], name=op.f('fk_purchases_ledger_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_purchases_member_id_members')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_accounts.id'], name=op.f('fk_purchases_staff_id_staff_accounts')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_purchases_store_id_stores')),
    sa.ForeignKeyConstraint(['till_id'], ['tills.id'], name=op.f('fk_purchases_till_id_tills')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchases')),
    sa.UniqueConstraint('store_id', 'receipt_id', name=op.f('uq_purchases_store_id_receipt_id'))
    )
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purchases_member_id'), ['member_id'], unique=False)
    op.create_table('purchase_refunds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purchase_id', sa.Integer(), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('points_refunded', sa.Integer(), nullable=False),
    sa.Column('ledger_entry_id', sa.Integer(), nullable=False),
    sa.Column('till_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['ledger_entry_id'], ['ledger_entries.id'], name=op.f('fk_purchase_refunds_ledger_entry_id_ledger_entries')),
    sa.ForeignKeyConstraint(['purchase_id'], ['purchases.id'], name=op.f('fk_purchase_refunds_purchase_id_purchases')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_accounts.id'], name=op.f('fk_purchase_refunds_staff_id_staff_accounts')),
    sa.ForeignKeyConstraint(['till_id'], ['tills.id'], name=op.f('fk_purchase_refunds_till_id_tills')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_refunds'))
    )
    with op.batch_alter_table('purchase_refunds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_purchase_refunds_purchase_id'), ['purchase_id'], unique=False)
    # The database itself refuses to change or delete a ledger entry (see app/ledger/triggers.py).
    for statement in LEDGER_TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)


def downgrade():
    for statement in DROP_LEDGER_TRIGGERS[op.get_bind().dialect.name]:
        op.execute(statement)
    with op.batch_alter_table('purchase_refunds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purchase_refunds_purchase_id'))
    op.drop_table('purchase_refunds')
    with op.batch_alter_table('purchases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_purchases_member_id'))
    op.drop_table('purchases')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index('uq_ledger_entries_expiry', sqlite_where=sa.text("kind = 'expire'"), postgresql_where=sa.text("kind = 'expire'"))
        batch_op.drop_index('ix_ledger_entries_member_time')
    op.drop_table('ledger_entries')
    with op.batch_alter_table('promotions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_promotions_starts_at'))
        batch_op.drop_index(batch_op.f('ix_promotions_ends_at'))
    op.drop_table('promotions')
    op.drop_table('points_programme')
    op.drop_table('member_tier_status')
    op.drop_table('tiers')
    op.drop_table('earning_bonus_rules')
