"""guess counters in the database (brute-force defence without Redis)

Revision ID: b0fdc6779a9d
Revises: 958f071fab96
Create Date: 2026-12-01 22:36:12.424298

"""
from alembic import op
import sqlalchemy as sa

import app.db


# revision identifiers, used by Alembic.
revision = 'b0fdc6779a9d'
down_revision = '958f071fab96'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('guess_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('failed_at', app.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_guess_failures'))
    )
    with op.batch_alter_table('guess_failures', schema=None) as batch_op:
        batch_op.create_index('ix_guess_failures_key_time', ['key', 'failed_at'], unique=False)

    op.create_table('guess_lockouts',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('locked_until', app.db.UTCDateTime(), nullable=True),
    sa.Column('level', sa.Integer(), nullable=False),
    sa.Column('forget_level_at', app.db.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_guess_lockouts'))
    )


def downgrade():
    op.drop_table('guess_lockouts')
    with op.batch_alter_table('guess_failures', schema=None) as batch_op:
        batch_op.drop_index('ix_guess_failures_key_time')

    op.drop_table('guess_failures')
