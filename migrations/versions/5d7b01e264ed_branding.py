"""the shop's branding (name, colours, logo), edited in the back office

Revision ID: 5d7b01e264ed
Revises: e3e88711dbfd
Create Date: 2026-12-01 22:17:41.232982

"""
from alembic import op
import sqlalchemy as sa

import app.db


# revision identifiers, used by Alembic.
revision = '5d7b01e264ed'
down_revision = 'e3e88711dbfd'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('branding',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('primary_color', sa.String(length=7), nullable=False),
    sa.Column('accent_color', sa.String(length=7), nullable=False),
    sa.Column('logo_type', sa.String(length=20), nullable=True),
    sa.Column('logo_sha256', sa.String(length=64), nullable=True),
    sa.Column('logo', sa.LargeBinary(), nullable=True),
    sa.Column('updated_at', app.db.UTCDateTime(), nullable=False),
    sa.Column('updated_by_staff_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_staff_id'], ['staff_accounts.id'], name=op.f('fk_branding_updated_by_staff_id_staff_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_branding'))
    )


def downgrade():
    op.drop_table('branding')
