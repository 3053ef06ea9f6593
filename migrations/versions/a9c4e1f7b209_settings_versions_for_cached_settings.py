"""settings versions: cached settings are reloaded by every process when their version moves

Revision ID: a9c4e1f7b209
Revises: dfe14ed52559
Create Date: 2026-12-01 22:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'a9c4e1f7b209'
down_revision = 'dfe14ed52559'
branch_labels = None
depends_on = None

CACHED_SETTINGS = ('earning-programme', 'tier-ladder', 'fraud-rules', 'coupon-settings')


def upgrade():
    versions = op.create_table('settings_versions',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_settings_versions'))
    )
    op.bulk_insert(versions, [{'name': name, 'version': 0} for name in CACHED_SETTINGS])


def downgrade():
    op.drop_table('settings_versions')
