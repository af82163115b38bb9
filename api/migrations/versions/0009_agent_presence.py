"""agent presence belongs to the agent desk: 在线/小休, heartbeat and chat limit move from staff_users

The staff domain keeps accounts and roles; the agent desk (api.conversations) keeps who is
present, so the columns move with their data.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 17:00:00
"""
from alembic import op
import sqlalchemy as sa
import api.db


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('agent_presence',
    sa.Column('username', sa.String(length=32), nullable=False),
    sa.Column('status', sa.String(length=8), server_default='offline', nullable=False),
    sa.Column('last_seen_at', api.db.UTCDateTime(), nullable=True),
    sa.Column('max_chats', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_agent_presence'))
    )
    op.execute("INSERT INTO agent_presence (username, status, last_seen_at, max_chats) "
               "SELECT username, agent_status, last_seen_at, max_chats FROM staff_users "
               "WHERE agent_status <> 'offline' OR last_seen_at IS NOT NULL OR max_chats IS NOT NULL")
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.drop_column('max_chats')
        batch_op.drop_column('last_seen_at')
        batch_op.drop_column('agent_status')


def downgrade() -> None:
    with op.batch_alter_table('staff_users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('agent_status', sa.String(length=8), server_default='offline', nullable=False))
        batch_op.add_column(sa.Column('last_seen_at', api.db.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('max_chats', sa.Integer(), nullable=True))
    op.execute("UPDATE staff_users SET "
               "agent_status = COALESCE((SELECT p.status FROM agent_presence p "
               "WHERE p.username = staff_users.username), 'offline'), "
               "last_seen_at = (SELECT p.last_seen_at FROM agent_presence p WHERE p.username = staff_users.username), "
               "max_chats = (SELECT p.max_chats FROM agent_presence p WHERE p.username = staff_users.username)")
    op.drop_table('agent_presence')
