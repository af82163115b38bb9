"""EV charging queue (issue 16): customers waiting for a connector, called with a reservation and an arrival
window; a session's orderly-charging wish (departure, energy wanted, whether it may charge later)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 17:20:00
"""
from alembic import op
import sqlalchemy as sa
import api.db


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('charging_queue',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('id_tag', sa.String(length=20), nullable=False),
    sa.Column('kind', sa.String(length=2), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('joined_at', api.db.UTCDateTime(), nullable=False),
    sa.Column('called_at', api.db.UTCDateTime(), nullable=True),
    sa.Column('window_until', api.db.UTCDateTime(), nullable=True),
    sa.Column('connector_id', sa.Integer(), nullable=True),
    sa.Column('transaction_id', sa.Integer(), nullable=True),
    sa.Column('ended_at', api.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['connector_id'], ['charging_connectors.id'], ),
    sa.ForeignKeyConstraint(['station_id'], ['charging_stations.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_charging_queue_id_tag'), 'charging_queue', ['id_tag'], unique=False)
    op.create_index('ix_charging_queue_station_status', 'charging_queue', ['station_id', 'status'], unique=False)
    with op.batch_alter_table('charging_transactions') as batch:
        batch.add_column(sa.Column('departure_at', api.db.UTCDateTime(), nullable=True))
        batch.add_column(sa.Column('kwh_requested', sa.Numeric(precision=8, scale=2), nullable=True))
        batch.add_column(sa.Column('allow_delay', sa.Boolean(), nullable=False, server_default='0'))


def downgrade() -> None:
    with op.batch_alter_table('charging_transactions') as batch:
        batch.drop_column('allow_delay')
        batch.drop_column('kwh_requested')
        batch.drop_column('departure_at')
    op.drop_index('ix_charging_queue_station_status', table_name='charging_queue')
    op.drop_index(op.f('ix_charging_queue_id_tag'), table_name='charging_queue')
    op.drop_table('charging_queue')
