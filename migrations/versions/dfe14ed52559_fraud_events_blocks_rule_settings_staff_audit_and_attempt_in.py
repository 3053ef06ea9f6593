"""fraud events, blocks, rule settings, staff audit and attempt indexes

Revision ID: dfe14ed52559
Revises: 9872ce389354
Create Date: 2026-11-23 16:35:00

"""
from alembic import op
import sqlalchemy as sa

import app.db


# revision identifiers, used by Alembic.
revision = 'dfe14ed52559'
down_revision = '9872ce389354'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('card_blocks',
    sa.Column('card_id', sa.String(length=36), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('blocked_by', sa.Integer(), nullable=True),
    sa.Column('blocked_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.ForeignKeyConstraint(['blocked_by'], ['staff_accounts.id'], name=op.f('fk_card_blocks_blocked_by_staff_accounts')),
    sa.PrimaryKeyConstraint('card_id', name=op.f('pk_card_blocks'))
    )
    op.create_table('fraud_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('severity', sa.String(length=10), nullable=False),
    sa.Column('action', sa.String(length=10), nullable=False),
    sa.Column('subject', sa.String(length=80), nullable=False),
    sa.Column('status', sa.String(length=10), server_default='open', nullable=False),
    sa.Column('resolution', sa.String(length=12), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('card_id', sa.String(length=36), nullable=True),
    sa.Column('till_id', sa.Integer(), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('client_address', sa.String(length=45), nullable=True),
    sa.Column('approved_by', sa.Integer(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.Column('last_seen_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('resolved_at', app.db.UTCDateTime(), nullable=True),
    sa.Column('resolved_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['approved_by'], ['staff_accounts.id'], name=op.f('fk_fraud_events_approved_by_staff_accounts')),
    sa.ForeignKeyConstraint(['resolved_by'], ['staff_accounts.id'], name=op.f('fk_fraud_events_resolved_by_staff_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fraud_events'))
    )
    with op.batch_alter_table('fraud_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fraud_events_member_id'), ['member_id'], unique=False)
        batch_op.create_index('ix_fraud_events_open_subject', ['rule', 'subject', 'status'], unique=False)
        batch_op.create_index('ix_fraud_events_rule_time', ['rule', 'created_at'], unique=False)
        batch_op.create_index('ix_fraud_events_status_time', ['status', 'created_at'], unique=False)
        batch_op.create_index('ix_fraud_events_store_time', ['store_id', 'created_at'], unique=False)
    op.create_table('fraud_rule_settings',
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('updated_by', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by'], ['staff_accounts.id'], name=op.f('fk_fraud_rule_settings_updated_by_staff_accounts')),
    sa.PrimaryKeyConstraint('rule', name=op.f('pk_fraud_rule_settings'))
    )
    op.create_table('staff_audit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('target_type', sa.String(length=20), nullable=False),
    sa.Column('target_id', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('at', app.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff_accounts.id'], name=op.f('fk_staff_audit_staff_id_staff_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_audit'))
    )
    with op.batch_alter_table('staff_audit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_audit_at'), ['at'], unique=False)
        batch_op.create_index('ix_staff_audit_staff_time', ['staff_id', 'at'], unique=False)
    op.create_table('fraud_event_attempts',
    sa.Column('event_id', sa.Integer(), nullable=False),
    sa.Column('attempt_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['attempt_id'], ['attempts.id'], name=op.f('fk_fraud_event_attempts_attempt_id_attempts'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['fraud_events.id'], name=op.f('fk_fraud_event_attempts_event_id_fraud_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'attempt_id', name=op.f('pk_fraud_event_attempts'))
    )
    with op.batch_alter_table('fraud_event_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fraud_event_attempts_attempt_id'), ['attempt_id'], unique=False)
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.create_index('ix_attempts_address_time', ['client_address', 'occurred_at'], unique=False)
        batch_op.create_index('ix_attempts_card_time', ['card_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_attempts_staff_time', ['staff_id', 'occurred_at'], unique=False)
        batch_op.create_index('ix_attempts_store_time', ['store_id', 'occurred_at'], unique=False)


def downgrade():
    with op.batch_alter_table('attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_attempts_store_time')
        batch_op.drop_index('ix_attempts_staff_time')
        batch_op.drop_index('ix_attempts_card_time')
        batch_op.drop_index('ix_attempts_address_time')
    with op.batch_alter_table('fraud_event_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fraud_event_attempts_attempt_id'))
    op.drop_table('fraud_event_attempts')
    with op.batch_alter_table('staff_audit', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_audit_staff_time')
        batch_op.drop_index(batch_op.f('ix_staff_audit_at'))
    op.drop_table('staff_audit')
    op.drop_table('fraud_rule_settings')
    with op.batch_alter_table('fraud_events', schema=None) as batch_op:
        batch_op.drop_index('ix_fraud_events_store_time')
        batch_op.drop_index('ix_fraud_events_status_time')
        batch_op.drop_index('ix_fraud_events_rule_time')
        batch_op.drop_index('ix_fraud_events_open_subject')
        batch_op.drop_index(batch_op.f('ix_fraud_events_member_id'))
    op.drop_table('fraud_events')
    op.drop_table('card_blocks')
