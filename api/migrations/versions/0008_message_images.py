"""message images (the charts the bot shows stay in the transcript) and messages by time (dashboard)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25 16:58:23.322808
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('image', sa.String(length=512), nullable=True))
        batch_op.create_index('ix_messages_at', ['at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_at')
        batch_op.drop_column('image')
