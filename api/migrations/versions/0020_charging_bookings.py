"""Charging bookings (issue 16): a queue entry may be booked for a later arrival time

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 07:00:00
"""
from alembic import op
import sqlalchemy as sa
import api.db


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('charging_queue', schema=None) as batch_op:
        batch_op.add_column(sa.Column('arrive_at', api.db.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('charging_queue', schema=None) as batch_op:
        batch_op.drop_column('arrive_at')
