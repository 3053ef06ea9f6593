"""rewards, reward claims and stamp cards

Revision ID: 410163bc4778
Revises: e511b04af04f
Create Date: 2026-11-23 16:33:00

"""
from alembic import op
import sqlalchemy as sa

import app.db


# revision identifiers, used by Alembic.
revision = '410163bc4778'
down_revision = 'e511b04af04f'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rewards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('image_url', sa.String(length=500), nullable=True),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('cost_points', sa.Integer(), nullable=False),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('per_member_limit', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('active_from', app.db.UTCDateTime(), nullable=True),
    sa.Column('active_until', app.db.UTCDateTime(), nullable=True),
    sa.Column('amount_off_cents', sa.Integer(), nullable=True),
    sa.Column('percent_off', sa.Integer(), nullable=True),
    sa.Column('percent_cap_cents', sa.Integer(), nullable=True),
    sa.Column('sku', sa.String(length=64), nullable=True),
    sa.Column('min_basket_cents', sa.Integer(), server_default='0', nullable=False),
    sa.Column('coupon_valid_days', sa.Integer(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(), nullable=False),
    sa.CheckConstraint('cost_points >= 1', name=op.f('ck_rewards_cost_positive')),
    sa.CheckConstraint('stock IS NULL OR stock >= 0', name=op.f('ck_rewards_stock_not_negative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rewards'))
    )
    op.create_table('stamp_programmes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('description', sa.Text(), server_default='', nullable=False),
    sa.Column('category', sa.String(length=64), nullable=True),
    sa.Column('skus', sa.JSON(), nullable=False),
    sa.Column('stamps_needed', sa.Integer(), nullable=False),
    sa.Column('reward_benefit', sa.JSON(), nullable=False),
    sa.Column('coupon_valid_days', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.CheckConstraint('stamps_needed >= 1', name=op.f('ck_stamp_programmes_stamps_needed_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stamp_programmes'))
    )
    op.create_table('reward_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('reward_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('points_spent', sa.Integer(), nullable=False),
    sa.Column('ledger_entry_id', sa.Integer(), nullable=True),
    sa.Column('coupon_id', sa.Integer(), nullable=True),
    sa.Column('fulfilment_status', sa.String(length=20), nullable=True),
    sa.Column('refund_entry_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_reward_claims_member_id_members')),
    sa.ForeignKeyConstraint(['reward_id'], ['rewards.id'], name=op.f('fk_reward_claims_reward_id_rewards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reward_claims')),
    sa.UniqueConstraint('refund_entry_id', name=op.f('uq_reward_claims_refund_entry_id'))
    )
    with op.batch_alter_table('reward_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reward_claims_fulfilment_status'), ['fulfilment_status'], unique=False)
        batch_op.create_index('ix_reward_claims_member_reward', ['member_id', 'reward_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_reward_claims_reward_id'), ['reward_id'], unique=False)
    op.create_table('stamp_cards',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('programme_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('stamps', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rewards_issued', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_stamp_cards_member_id_members')),
    sa.ForeignKeyConstraint(['programme_id'], ['stamp_programmes.id'], name=op.f('fk_stamp_cards_programme_id_stamp_programmes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stamp_cards')),
    sa.UniqueConstraint('programme_id', 'member_id', name=op.f('uq_stamp_cards_programme_id_member_id'))
    )
    with op.batch_alter_table('stamp_cards', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stamp_cards_member_id'), ['member_id'], unique=False)
    op.create_table('reward_fulfilment_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['reward_claims.id'], name=op.f('fk_reward_fulfilment_events_claim_id_reward_claims')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reward_fulfilment_events'))
    )
    with op.batch_alter_table('reward_fulfilment_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reward_fulfilment_events_claim_id'), ['claim_id'], unique=False)
    op.create_table('stamp_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('card_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('stamps', sa.Integer(), nullable=False),
    sa.Column('receipt_ref', sa.String(length=100), nullable=True),
    sa.Column('coupon_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['stamp_cards.id'], name=op.f('fk_stamp_entries_card_id_stamp_cards')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stamp_entries'))
    )
    with op.batch_alter_table('stamp_entries', schema=None) as batch_op:
        batch_op.create_index('ix_stamp_entries_card_receipt', ['card_id', 'receipt_ref'], unique=False)


def downgrade():
    with op.batch_alter_table('stamp_entries', schema=None) as batch_op:
        batch_op.drop_index('ix_stamp_entries_card_receipt')
    op.drop_table('stamp_entries')
    with op.batch_alter_table('reward_fulfilment_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reward_fulfilment_events_claim_id'))
    op.drop_table('reward_fulfilment_events')
    with op.batch_alter_table('stamp_cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stamp_cards_member_id'))
    op.drop_table('stamp_cards')
    with op.batch_alter_table('reward_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reward_claims_reward_id'))
        batch_op.drop_index('ix_reward_claims_member_reward')
        batch_op.drop_index(batch_op.f('ix_reward_claims_fulfilment_status'))
    op.drop_table('reward_claims')
    op.drop_table('stamp_programmes')
    op.drop_table('rewards')
