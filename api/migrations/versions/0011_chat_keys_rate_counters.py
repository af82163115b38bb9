"""web chat keys (server-issued conversation ids with a secret) and shared rate counters (issue 13)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 18:30:00
"""
import sqlalchemy as sa
from alembic import op

import api.db

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('chat_keys',
    sa.Column('conversation_id', sa.String(length=64), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('issued_at', api.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('conversation_id', name=op.f('pk_chat_keys'))
    )
    op.create_table('rate_counters',
    sa.Column('key', sa.String(length=96), nullable=False),
    sa.Column('window_start', sa.Integer(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('expires_at', api.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', 'window_start', name=op.f('pk_rate_counters'))
    )
    op.create_index(op.f('ix_rate_counters_expires_at'), 'rate_counters', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_rate_counters_expires_at'), table_name='rate_counters')
    op.drop_table('rate_counters')
    op.drop_table('chat_keys')
