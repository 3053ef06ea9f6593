"""coupons, campaigns, redemptions and offline sync conflicts

Revision ID: e511b04af04f
Revises: e8eee6d38622
Create Date: 2026-11-23 16:32:00

"""
from alembic import op
import sqlalchemy as sa

import app.db


# revision identifiers, used by Alembic.
revision = 'e511b04af04f'
down_revision = 'e8eee6d38622'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('campaigns',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('audience', sa.String(length=12), nullable=False),
    sa.Column('benefit', sa.JSON(), nullable=False),
    sa.Column('valid_from', app.db.UTCDateTime(), nullable=True),
    sa.Column('valid_until', app.db.UTCDateTime(), nullable=True),
    sa.Column('store_ids', sa.JSON(), nullable=True),
    sa.Column('min_basket_cents', sa.Integer(), server_default='0', nullable=False),
    sa.Column('max_uses_per_member', sa.Integer(), nullable=True),
    sa.Column('code_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_by_staff_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('export_sealed', sa.LargeBinary(), nullable=True),
    sa.Column('exported_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('exported_by_staff_id', sa.Integer(), nullable=True),
    sa.Column('exported_via', sa.String(length=10), nullable=True),
    sa.Column('voided_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('voided_by_staff_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['created_by_staff_id'], ['staff_accounts.id'], name=op.f('fk_campaigns_created_by_staff_id_staff_accounts')),
    sa.ForeignKeyConstraint(['exported_by_staff_id'], ['staff_accounts.id'], name=op.f('fk_campaigns_exported_by_staff_id_staff_accounts')),
    sa.ForeignKeyConstraint(['voided_by_staff_id'], ['staff_accounts.id'], name=op.f('fk_campaigns_voided_by_staff_id_staff_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaigns'))
    )
    op.create_table('coupon_settings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('offline_floor_limit_cents', sa.Integer(), nullable=False),
    sa.Column('offline_floor_limit_points', sa.Integer(), nullable=False),
    sa.Column('offline_max_age_hours', sa.Integer(), nullable=False),
    sa.Column('reversal_window_minutes', sa.Integer(), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('updated_by_staff_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_staff_id'], ['staff_accounts.id'], name=op.f('fk_coupon_settings_updated_by_staff_id_staff_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupon_settings'))
    )
    op.create_table('coupons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('sealed_code', sa.LargeBinary(), nullable=True),
    sa.Column('campaign_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=30), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=True),
    sa.Column('benefit', sa.JSON(), nullable=False),
    sa.Column('valid_from', app.db.UTCDateTime(), nullable=True),
    sa.Column('valid_until', app.db.UTCDateTime(), nullable=True),
    sa.Column('store_ids', sa.JSON(), nullable=True),
    sa.Column('min_basket_cents', sa.Integer(), server_default='0', nullable=False),
    sa.Column('max_uses_per_member', sa.Integer(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('voided_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('voided_by_staff_id', sa.Integer(), nullable=True),
    sa.Column('void_reason', sa.String(length=200), nullable=True),
    sa.Column('redeemed_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('redemption_id', sa.Uuid(), nullable=True),
    sa.Column('use_count', sa.Integer(), server_default='0', nullable=False),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_coupons_campaign_id_campaigns')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_coupons_member_id_members')),
    sa.ForeignKeyConstraint(['voided_by_staff_id'], ['staff_accounts.id'], name=op.f('fk_coupons_voided_by_staff_id_staff_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupons')),
    sa.UniqueConstraint('code_hash', name=op.f('uq_coupons_code_hash'))
    )
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_coupons_campaign_id'), ['campaign_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_coupons_member_id'), ['member_id'], unique=False)
    op.create_table('coupon_redemptions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('coupon_id', sa.Integer(), nullable=False),
    sa.Column('use_no', sa.Integer(), nullable=False),
    sa.Column('redeemed_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('local_time', app.db.UTCDateTime(), nullable=True),
    sa.Column('till_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('card_id', sa.String(length=36), nullable=True),
    sa.Column('receipt_id', sa.String(length=64), nullable=False),
    sa.Column('basket_cents', sa.Integer(), nullable=False),
    sa.Column('discount_cents', sa.Integer(), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('bonus_points', sa.Integer(), server_default='0', nullable=False),
    sa.Column('free_sku', sa.String(length=64), nullable=True),
    sa.Column('ledger_entry_id', sa.Integer(), nullable=True),
    sa.Column('offline', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=True),
    sa.Column('flag', sa.String(length=40), nullable=True),
    sa.Column('reversed_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('reversed_by_staff_id', sa.Integer(), nullable=True),
    sa.Column('reversed_at_till_id', sa.Integer(), nullable=True),
    sa.Column('reversal_reason', sa.String(length=200), nullable=True),
    sa.Column('reversal_ledger_entry_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['coupon_id'], ['coupons.id'], name=op.f('fk_coupon_redemptions_coupon_id_coupons')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_coupon_redemptions_member_id_members')),
    sa.ForeignKeyConstraint(['reversed_at_till_id'], ['tills.id'], name=op.f('fk_coupon_redemptions_reversed_at_till_id_tills')),
    sa.ForeignKeyConstraint(['reversed_by_staff_id'], ['staff_accounts.id'], name=op.f('fk_coupon_redemptions_reversed_by_staff_id_staff_accounts')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_accounts.id'], name=op.f('fk_coupon_redemptions_staff_id_staff_accounts')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_coupon_redemptions_store_id_stores')),
    sa.ForeignKeyConstraint(['till_id'], ['tills.id'], name=op.f('fk_coupon_redemptions_till_id_tills')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_coupon_redemptions')),
    sa.UniqueConstraint('coupon_id', 'use_no', name=op.f('uq_coupon_redemptions_coupon_id_use_no'))
    )
    with op.batch_alter_table('coupon_redemptions', schema=None) as batch_op:
        batch_op.create_index('ix_coupon_redemptions_member_time', ['member_id', 'redeemed_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_coupon_redemptions_till_id'), ['till_id'], unique=False)
    op.create_table('sync_conflicts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('event_type', sa.String(length=20), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('local_time', app.db.UTCDateTime(), nullable=True),
    sa.Column('till_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=60), nullable=False),
    sa.Column('detail', sa.String(length=300), nullable=False),
    sa.Column('coupon_id', sa.Integer(), nullable=True),
    sa.Column('code_fingerprint', sa.String(length=32), nullable=True),
    sa.Column('receipt_id', sa.String(length=64), nullable=True),
    sa.Column('claimed_discount_cents', sa.Integer(), nullable=True),
    sa.Column('winning_redemption_id', sa.Uuid(), nullable=True),
    sa.Column('redemption_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=10), server_default='open', nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('resolved_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('resolved_by_staff_id', sa.Integer(), nullable=True),
    sa.Column('resolution_note', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['coupon_id'], ['coupons.id'], name=op.f('fk_sync_conflicts_coupon_id_coupons')),
    sa.ForeignKeyConstraint(['resolved_by_staff_id'], ['staff_accounts.id'], name=op.f('fk_sync_conflicts_resolved_by_staff_id_staff_accounts')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_accounts.id'], name=op.f('fk_sync_conflicts_staff_id_staff_accounts')),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_sync_conflicts_store_id_stores')),
    sa.ForeignKeyConstraint(['till_id'], ['tills.id'], name=op.f('fk_sync_conflicts_till_id_tills')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_conflicts'))
    )
    with op.batch_alter_table('sync_conflicts', schema=None) as batch_op:
        batch_op.create_index('ix_sync_conflicts_status_time', ['status', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_sync_conflicts_till_id'), ['till_id'], unique=False)


def downgrade():
    with op.batch_alter_table('sync_conflicts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sync_conflicts_till_id'))
        batch_op.drop_index('ix_sync_conflicts_status_time')
    op.drop_table('sync_conflicts')
    with op.batch_alter_table('coupon_redemptions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coupon_redemptions_till_id'))
        batch_op.drop_index('ix_coupon_redemptions_member_time')
    op.drop_table('coupon_redemptions')
    with op.batch_alter_table('coupons', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_coupons_member_id'))
        batch_op.drop_index(batch_op.f('ix_coupons_campaign_id'))
    op.drop_table('coupons')
    op.drop_table('coupon_settings')
    op.drop_table('campaigns')
