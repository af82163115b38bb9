"""Pictures customers send (issue 17): a WeChat image is kept with its conversation, not only acknowledged

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 18:20:00
"""
from alembic import op
import sqlalchemy as sa
import api.db


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'customer_images',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('conversation_id', sa.String(length=64), nullable=False),
        sa.Column('message_id', sa.Integer(), nullable=False),
        sa.Column('content_type', sa.String(length=32), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('source_ref', sa.String(length=128), nullable=True),
        sa.Column('at', api.db.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], ),
        sa.ForeignKeyConstraint(['message_id'], ['messages.id'], ),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('customer_images', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customer_images_conversation_id'), ['conversation_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('customer_images', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customer_images_conversation_id'))
    op.drop_table('customer_images')
