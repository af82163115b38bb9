"""WeChat account binding (issue 17): the 户号 a chat user verified, several per user, one the default

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 02:40:00
"""
from alembic import op
import sqlalchemy as sa
import api.db


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('account_bindings',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('chat_user', sa.String(length=64), nullable=False),
                    sa.Column('account_no', sa.String(length=10), nullable=False),
                    sa.Column('is_default', sa.Boolean(), nullable=False),
                    sa.Column('bound_at', api.db.UTCDateTime(), nullable=False),
                    sa.PrimaryKeyConstraint('id'),
                    sa.UniqueConstraint('chat_user', 'account_no', name='uq_account_bindings_user_account'))
    op.create_index(op.f('ix_account_bindings_chat_user'), 'account_bindings', ['chat_user'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_account_bindings_chat_user'), table_name='account_bindings')
    op.drop_table('account_bindings')
