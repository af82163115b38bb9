"""EV charging (issue 16): stations, OCPP charge points with their credential, connectors, id tags,
transactions and their meter values (one row per transaction, time and measurand)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 13:10:00
"""
from alembic import op
import sqlalchemy as sa
import api.db


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('charging_stations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('district', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=128), nullable=False),
    sa.Column('lat', sa.Float(), nullable=False),
    sa.Column('lon', sa.Float(), nullable=False),
    sa.Column('transformer_area_id', sa.Integer(), nullable=True),
    sa.Column('energy_fen_per_kwh', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.Column('service_fen_per_kwh', sa.Numeric(precision=10, scale=2), nullable=False),
    sa.ForeignKeyConstraint(['transformer_area_id'], ['transformer_areas.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index(op.f('ix_charging_stations_district'), 'charging_stations', ['district'], unique=False)
    op.create_index(op.f('ix_charging_stations_transformer_area_id'), 'charging_stations', ['transformer_area_id'],
                    unique=False)
    op.create_table('charge_points',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('charge_point_id', sa.String(length=48), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('secret_hash', sa.String(length=200), nullable=False),
    sa.Column('vendor', sa.String(length=32), nullable=True),
    sa.Column('model', sa.String(length=32), nullable=True),
    sa.Column('serial_number', sa.String(length=32), nullable=True),
    sa.Column('firmware_version', sa.String(length=64), nullable=True),
    sa.Column('booted_at', api.db.UTCDateTime(), nullable=True),
    sa.Column('last_heartbeat_at', api.db.UTCDateTime(), nullable=True),
    sa.Column('connected', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('error_code', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['station_id'], ['charging_stations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('charge_point_id')
    )
    op.create_index(op.f('ix_charge_points_station_id'), 'charge_points', ['station_id'], unique=False)
    op.create_table('charging_connectors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('charger_id', sa.Integer(), nullable=False),
    sa.Column('connector_no', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=2), nullable=False),
    sa.Column('rated_kw', sa.Numeric(precision=6, scale=1), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('error_code', sa.String(length=32), nullable=False),
    sa.Column('info', sa.String(length=64), nullable=True),
    sa.Column('status_at', api.db.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['charger_id'], ['charge_points.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_charging_connectors_no', 'charging_connectors', ['charger_id', 'connector_no'], unique=True)
    op.create_table('charging_id_tags',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('id_tag', sa.String(length=20), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('account_no', sa.String(length=10), nullable=True),
    sa.Column('expires_at', api.db.UTCDateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('id_tag')
    )
    op.create_index(op.f('ix_charging_id_tags_account_no'), 'charging_id_tags', ['account_no'], unique=False)
    op.create_table('charging_transactions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('connector_id', sa.Integer(), nullable=False),
    sa.Column('id_tag', sa.String(length=20), nullable=False),
    sa.Column('reservation_id', sa.Integer(), nullable=True),
    sa.Column('meter_start', sa.Integer(), nullable=False),
    sa.Column('meter_stop', sa.Integer(), nullable=True),
    sa.Column('started_at', api.db.UTCDateTime(), nullable=False),
    sa.Column('stopped_at', api.db.UTCDateTime(), nullable=True),
    sa.Column('stop_reason', sa.String(length=20), nullable=True),
    sa.Column('energy_kwh', sa.Numeric(precision=10, scale=3), nullable=True),
    sa.Column('cost_fen', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['connector_id'], ['charging_connectors.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_charging_transactions_start', 'charging_transactions', ['connector_id', 'started_at'],
                    unique=True)
    op.create_index('ix_charging_transactions_started', 'charging_transactions', ['started_at'], unique=False)
    op.create_index(op.f('ix_charging_transactions_id_tag'), 'charging_transactions', ['id_tag'], unique=False)
    op.create_table('charging_meter_values',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transaction_id', sa.Integer(), nullable=False),
    sa.Column('ts', api.db.UTCDateTime(), nullable=False),
    sa.Column('measurand', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('unit', sa.String(length=12), nullable=False),
    sa.ForeignKeyConstraint(['transaction_id'], ['charging_transactions.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_charging_meter_values_key', 'charging_meter_values', ['transaction_id', 'ts', 'measurand'],
                    unique=True)


def downgrade() -> None:
    op.drop_index('uq_charging_meter_values_key', table_name='charging_meter_values')
    op.drop_table('charging_meter_values')
    op.drop_index(op.f('ix_charging_transactions_id_tag'), table_name='charging_transactions')
    op.drop_index('ix_charging_transactions_started', table_name='charging_transactions')
    op.drop_index('uq_charging_transactions_start', table_name='charging_transactions')
    op.drop_table('charging_transactions')
    op.drop_index(op.f('ix_charging_id_tags_account_no'), table_name='charging_id_tags')
    op.drop_table('charging_id_tags')
    op.drop_index('uq_charging_connectors_no', table_name='charging_connectors')
    op.drop_table('charging_connectors')
    op.drop_index(op.f('ix_charge_points_station_id'), table_name='charge_points')
    op.drop_table('charge_points')
    op.drop_index(op.f('ix_charging_stations_transformer_area_id'), table_name='charging_stations')
    op.drop_index(op.f('ix_charging_stations_district'), table_name='charging_stations')
    op.drop_table('charging_stations')
