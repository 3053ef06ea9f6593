"""apple pass web service

Revision ID: 9872ce389354
Revises: 410163bc4778
Create Date: 2026-11-23 16:34:00

"""
from alembic import op
import sqlalchemy as sa

import app.db


# revision identifiers, used by Alembic.
revision = '9872ce389354'
down_revision = '410163bc4778'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('apple_pass_registrations',
    sa.Column('device_library_id', sa.String(length=100), nullable=False),
    sa.Column('pass_type_id', sa.String(length=255), nullable=False),
    sa.Column('serial_number', sa.String(length=64), nullable=False),
    sa.Column('push_token', sa.String(length=200), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(), server_default=sa.text('CURRENT_TIMESTAMP'), nullable=False),
    sa.PrimaryKeyConstraint('device_library_id', 'pass_type_id', 'serial_number', name=op.f('pk_apple_pass_registrations'))
    )
    with op.batch_alter_table('apple_pass_registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_apple_pass_registrations_serial_number'), ['serial_number'], unique=False)
    op.create_table('apple_pass_states',
    sa.Column('card_id', sa.Uuid(), nullable=False),
    sa.Column('content_digest', sa.String(length=64), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_apple_pass_states_card_id_cards')),
    sa.PrimaryKeyConstraint('card_id', name=op.f('pk_apple_pass_states'))
    )


def downgrade():
    op.drop_table('apple_pass_states')
    with op.batch_alter_table('apple_pass_registrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_apple_pass_registrations_serial_number'))
    op.drop_table('apple_pass_registrations')
