"""Sub-hourly readings (issue 15): meters collected at 96 points a day report 15-minute intervals

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 14:40:00
"""
from alembic import op
import sqlalchemy as sa
import api.db


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'reading_intervals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('meter_id', sa.Integer(), nullable=False),
        sa.Column('ts', api.db.UTCDateTime(), nullable=False),
        sa.Column('minutes', sa.Integer(), nullable=False),
        sa.Column('kwh', sa.Numeric(precision=10, scale=3), nullable=False),
        sa.Column('kw', sa.Numeric(precision=10, scale=3), nullable=False),
        sa.Column('voltage_a', sa.Numeric(precision=6, scale=1), nullable=False),
        sa.Column('current_a', sa.Numeric(precision=8, scale=2), nullable=False),
        sa.Column('voltage_b', sa.Numeric(precision=6, scale=1), nullable=True),
        sa.Column('current_b', sa.Numeric(precision=8, scale=2), nullable=True),
        sa.Column('voltage_c', sa.Numeric(precision=6, scale=1), nullable=True),
        sa.Column('current_c', sa.Numeric(precision=8, scale=2), nullable=True),
        sa.ForeignKeyConstraint(['meter_id'], ['meters.id'], ),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('meter_id', 'ts', name='uq_reading_intervals_meter_ts'),
    )


def downgrade() -> None:
    op.drop_table('reading_intervals')
