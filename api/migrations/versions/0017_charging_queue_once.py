"""EV charging queue: one active entry per id tag (a partial unique index), and the chat an entry was joined
from (its notices go there)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 00:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

ACTIVE = sa.text("status IN ('waiting', 'called', 'charging')")


def upgrade() -> None:
    with op.batch_alter_table('charging_queue') as batch:
        batch.add_column(sa.Column('conversation_id', sa.String(length=64), nullable=True))
    # before the index could hold, two joins at once could give a card two active entries: keep the newest
    op.execute("UPDATE charging_queue SET status = 'cancelled' WHERE status IN ('waiting', 'called', 'charging') "
               "AND id NOT IN (SELECT MAX(id) FROM charging_queue WHERE status IN ('waiting', 'called', 'charging') "
               "GROUP BY id_tag)")
    op.create_index('uq_charging_queue_active_tag', 'charging_queue', ['id_tag'], unique=True,
                    sqlite_where=ACTIVE, postgresql_where=ACTIVE)


def downgrade() -> None:
    op.drop_index('uq_charging_queue_active_tag', table_name='charging_queue')
    with op.batch_alter_table('charging_queue') as batch:
        batch.drop_column('conversation_id')
