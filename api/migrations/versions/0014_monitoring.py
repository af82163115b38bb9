"""proactive service (issue 15): alerts and what was done about them, planned-outage announcements; one meter
event per meter, time, kind and phase (the intake ignores a re-sent event)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 13:10:00
"""
from alembic import op
import sqlalchemy as sa
import api.db


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('monitoring_alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('subject', sa.String(length=32), nullable=False),
    sa.Column('open_key', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('district', sa.String(length=16), nullable=True),
    sa.Column('transformer_area_id', sa.Integer(), nullable=True),
    sa.Column('feeder_id', sa.Integer(), nullable=True),
    sa.Column('meter_id', sa.Integer(), nullable=True),
    sa.Column('started_at', api.db.UTCDateTime(), nullable=False),
    sa.Column('detected_at', api.db.UTCDateTime(), nullable=False),
    sa.Column('cleared_at', api.db.UTCDateTime(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('policy', sa.String(length=160), nullable=False),
    sa.Column('ticket_number', sa.String(length=20), nullable=True),
    sa.Column('customers_notified', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['feeder_id'], ['feeders.id'], ),
    sa.ForeignKeyConstraint(['meter_id'], ['meters.id'], ),
    sa.ForeignKeyConstraint(['transformer_area_id'], ['transformer_areas.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('open_key')
    )
    op.create_index('ix_monitoring_alerts_detected', 'monitoring_alerts', ['detected_at'], unique=False)
    op.create_index(op.f('ix_monitoring_alerts_kind'), 'monitoring_alerts', ['kind'], unique=False)
    op.create_table('monitoring_alert_actions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('at', api.db.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['alert_id'], ['monitoring_alerts.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index(op.f('ix_monitoring_alert_actions_alert_id'), 'monitoring_alert_actions', ['alert_id'], unique=False)
    op.create_table('planned_outage_announcements',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('notice_no', sa.String(length=32), nullable=False),
    sa.Column('step', sa.String(length=12), nullable=False),
    sa.Column('at', api.db.UTCDateTime(), nullable=False),
    sa.Column('customers', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('uq_planned_announcement', 'planned_outage_announcements', ['notice_no', 'step'], unique=True)
    # events stored twice before the intake existed keep their first copy
    op.execute("DELETE FROM meter_events WHERE id NOT IN (SELECT min(id) FROM meter_events "
               "GROUP BY meter_id, ts, kind, coalesce(phase, ''))")
    op.create_index('uq_meter_events_key', 'meter_events',
                    ['meter_id', 'ts', 'kind', sa.text("coalesce(phase, '')")], unique=True)
    op.drop_index('ix_meter_events_meter_ts', table_name='meter_events')  # the unique index leads with the same


def downgrade() -> None:
    op.create_index('ix_meter_events_meter_ts', 'meter_events', ['meter_id', 'ts'], unique=False)
    op.drop_index('uq_meter_events_key', table_name='meter_events')
    op.drop_index('uq_planned_announcement', table_name='planned_outage_announcements')
    op.drop_table('planned_outage_announcements')
    op.drop_index(op.f('ix_monitoring_alert_actions_alert_id'), table_name='monitoring_alert_actions')
    op.drop_table('monitoring_alert_actions')
    op.drop_index(op.f('ix_monitoring_alerts_kind'), table_name='monitoring_alerts')
    op.drop_index('ix_monitoring_alerts_detected', table_name='monitoring_alerts')
    op.drop_table('monitoring_alerts')
