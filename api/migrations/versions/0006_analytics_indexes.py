"""analytics indexes: the supervisor dashboard's ranges over tickets

Two covering indexes: ranges of created_at (volume, SLA, durations, satisfaction per type, district
and day) and of resolved_at (crews' busy time). Every column the dashboard reads there is in the
index, so SQLite and PostgreSQL (index-only scans) never read the wide ticket rows.

PostgreSQL also gets extended statistics on the dashboard's grouping (type, district, Beijing day):
without them the planner takes every row for a group of its own and sorts (spilling to disk) instead
of hashing a few thousand groups. Alembic's autogenerate does not compare statistics objects.

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
        batch_op.create_index('ix_tickets_analytics', ['created_at', 'type', 'district', 'parent_id', 'arrive_by',
                                                       'sla_breached_at', 'assigned_at', 'arrived_at', 'resolved_at',
                                                       'satisfaction'], unique=False)
        batch_op.create_index('ix_tickets_resolved_work', ['resolved_at', 'accepted_at', 'closed_at', 'crew_id',
                                                           'parent_id', 'type'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("CREATE STATISTICS st_tickets_analytics_cube (ndistinct) "
                   "ON type, district, ((created_at + interval '8 hours')::date) FROM tickets")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP STATISTICS IF EXISTS st_tickets_analytics_cube")
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_index('ix_tickets_resolved_work')
        batch_op.drop_index('ix_tickets_analytics')
