"""Provider tokens in the database (issue 17): WeChat's access token shared by processes without Redis

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 03:00:00
"""
from alembic import op
import sqlalchemy as sa
import api.db


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('provider_tokens',
                    sa.Column('key', sa.String(length=160), nullable=False),
                    sa.Column('value', sa.Text(), nullable=True),
                    sa.Column('expires_at', api.db.UTCDateTime(), nullable=True),
                    sa.PrimaryKeyConstraint('key'))


def downgrade() -> None:
    op.drop_table('provider_tokens')
