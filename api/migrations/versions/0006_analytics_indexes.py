"""analytics indexes: the supervisor dashboard's ranges over tickets

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 16:00:00.000000
"""
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.create_index('ix_tickets_created_at', ['created_at'], unique=False)
        batch_op.create_index('ix_tickets_district_created', ['district', 'created_at'], unique=False)
        batch_op.create_index('ix_tickets_type_created', ['type', 'created_at'], unique=False)
        batch_op.create_index('ix_tickets_resolved_at', ['resolved_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_resolved_at')
        batch_op.drop_index('ix_tickets_type_created')
        batch_op.drop_index('ix_tickets_district_created')
        batch_op.drop_index('ix_tickets_created_at')
