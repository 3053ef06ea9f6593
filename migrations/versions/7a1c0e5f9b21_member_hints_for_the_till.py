"""members.had_membership and members.was_referred: hints that spare a purchase two lookups

Revision ID: 7a1c0e5f9b21
Revises: 5d7b01e264ed
Create Date: 2026-12-07 20:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '7a1c0e5f9b21'
down_revision = '5d7b01e264ed'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (SQLite takes a NOT NULL column with a default): a batch operation would
    # copy the members table, which SQLite refuses while other tables' rows point at it.
    op.add_column('members', sa.Column('had_membership', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column('members', sa.Column('was_referred', sa.Boolean(), server_default=sa.false(), nullable=False))
    # The hints of the members who have the rows already.
    members = sa.table(
        'members',
        sa.column('id', sa.Integer),
        sa.column('had_membership', sa.Boolean),
        sa.column('was_referred', sa.Boolean),
    )
    memberships = sa.table('memberships', sa.column('member_id', sa.Integer))
    referrals = sa.table('referrals', sa.column('referee_id', sa.Integer))
    op.execute(
        members.update()
        .where(members.c.id.in_(sa.select(memberships.c.member_id)))
        .values(had_membership=sa.true())
    )
    op.execute(
        members.update()
        .where(members.c.id.in_(sa.select(referrals.c.referee_id)))
        .values(was_referred=sa.true())
    )


def downgrade():
    op.drop_column('members', 'was_referred')
    op.drop_column('members', 'had_membership')
