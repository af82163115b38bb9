"""verification attempts counted per client address: the address a web chat was issued to (issue 13)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 21:30:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('chat_keys') as batch:
        batch.add_column(sa.Column('address', sa.String(length=64), nullable=True))
    with op.batch_alter_table('verification_attempts') as batch:
        batch.add_column(sa.Column('address', sa.String(length=64), nullable=True))
    op.create_index('ix_verification_attempts_address_at', 'verification_attempts', ['address', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_verification_attempts_address_at', table_name='verification_attempts')
    with op.batch_alter_table('verification_attempts') as batch:
        batch.drop_column('address')
    with op.batch_alter_table('chat_keys') as batch:
        batch.drop_column('address')
