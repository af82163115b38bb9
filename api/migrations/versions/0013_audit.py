"""audit (issue 14): findings, themes, tasks with results and photos, labels; CT data on meters, the contract's
power-factor standard, daily supply into areas and feeders (line loss)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 07:13:52.273739
"""
from alembic import op
import sqlalchemy as sa
import api.db


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_themes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('districts', sa.JSON(), nullable=False),
    sa.Column('area_codes', sa.JSON(), nullable=False),
    sa.Column('customer_classes', sa.JSON(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('applicant', sa.String(length=32), nullable=False),
    sa.Column('approver', sa.String(length=32), nullable=True),
    sa.Column('return_reason', sa.String(length=256), nullable=True),
    sa.Column('created_at', api.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', api.db.UTCDateTime(), nullable=False),
    sa.Column('evaluation', sa.JSON(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_themes')),
    sa.UniqueConstraint('number', name=op.f('uq_audit_themes_number'))
    )
    with op.batch_alter_table('audit_themes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_themes_status'), ['status'], unique=False)

    op.create_table('feeder_supply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feeder_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kwh', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('kvarh', sa.Numeric(precision=14, scale=3), nullable=True),
    sa.ForeignKeyConstraint(['feeder_id'], ['feeders.id'], name=op.f('fk_feeder_supply_feeder_id_feeders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feeder_supply')),
    sa.UniqueConstraint('feeder_id', 'day', name='uq_feeder_supply_feeder_day')
    )
    with op.batch_alter_table('feeder_supply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feeder_supply_day'), ['day'], unique=False)

    op.create_table('area_supply',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('transformer_area_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('kwh', sa.Numeric(precision=14, scale=3), nullable=False),
    sa.Column('kvarh', sa.Numeric(precision=14, scale=3), nullable=True),
    sa.ForeignKeyConstraint(['transformer_area_id'], ['transformer_areas.id'], name=op.f('fk_area_supply_transformer_area_id_transformer_areas')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_area_supply')),
    sa.UniqueConstraint('transformer_area_id', 'day', name='uq_area_supply_area_day')
    )
    with op.batch_alter_table('area_supply', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_area_supply_day'), ['day'], unique=False)

    op.create_table('audit_findings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('account_no', sa.String(length=10), nullable=False),
    sa.Column('district', sa.String(length=16), nullable=False),
    sa.Column('area_code', sa.String(length=32), nullable=False),
    sa.Column('customer_class', sa.String(length=8), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('severity', sa.String(length=8), nullable=False),
    sa.Column('start', api.db.UTCDateTime(), nullable=False),
    sa.Column('end', api.db.UTCDateTime(), nullable=False),
    sa.Column('evidence', sa.JSON(), nullable=False),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('theme_id', sa.Integer(), nullable=True),
    sa.Column('detected_at', api.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', api.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_audit_findings_customer_id_customers')),
    sa.ForeignKeyConstraint(['theme_id'], ['audit_themes.id'], name=op.f('fk_audit_findings_theme_id_audit_themes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_findings')),
    sa.UniqueConstraint('customer_id', 'rule', 'start', name='uq_audit_findings_customer_rule_start')
    )
    with op.batch_alter_table('audit_findings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_findings_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_findings_account_no'), ['account_no'], unique=False)
        batch_op.create_index('ix_audit_findings_status_rule', ['status', 'rule'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_findings_theme_id'), ['theme_id'], unique=False)

    op.create_table('audit_tasks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('ticket_number', sa.String(length=20), nullable=False),
    sa.Column('theme_id', sa.Integer(), nullable=True),
    sa.Column('customer_id', sa.Integer(), nullable=True),
    sa.Column('account_no', sa.String(length=10), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('finding_ids', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=8), nullable=False),
    sa.Column('outcome', sa.String(length=8), nullable=True),
    sa.Column('recovered_kwh', sa.Numeric(precision=12, scale=1), nullable=True),
    sa.Column('recovered_fee_fen', sa.Integer(), nullable=True),
    sa.Column('notes', sa.Text(), nullable=True),
    sa.Column('result_by', sa.String(length=32), nullable=True),
    sa.Column('result_at', api.db.UTCDateTime(), nullable=True),
    sa.Column('rectify_by', sa.Date(), nullable=True),
    sa.Column('rectified_at', api.db.UTCDateTime(), nullable=True),
    sa.Column('reviewed_by', sa.String(length=32), nullable=True),
    sa.Column('reviewed_at', api.db.UTCDateTime(), nullable=True),
    sa.Column('review_note', sa.String(length=256), nullable=True),
    sa.Column('created_at', api.db.UTCDateTime(), nullable=False),
    sa.Column('updated_at', api.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_audit_tasks_customer_id_customers')),
    sa.ForeignKeyConstraint(['theme_id'], ['audit_themes.id'], name=op.f('fk_audit_tasks_theme_id_audit_themes')),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name=op.f('fk_audit_tasks_ticket_id_tickets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_tasks')),
    sa.UniqueConstraint('ticket_id', name=op.f('uq_audit_tasks_ticket_id')),
    sa.UniqueConstraint('ticket_number', name=op.f('uq_audit_tasks_ticket_number'))
    )
    with op.batch_alter_table('audit_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_tasks_customer_id'), ['customer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_tasks_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_tasks_theme_id'), ['theme_id'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('theme_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.Integer(), nullable=True),
    sa.Column('finding_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('note', sa.String(length=512), nullable=False),
    sa.Column('at', api.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['audit_findings.id'], name=op.f('fk_audit_events_finding_id_audit_findings')),
    sa.ForeignKeyConstraint(['task_id'], ['audit_tasks.id'], name=op.f('fk_audit_events_task_id_audit_tasks')),
    sa.ForeignKeyConstraint(['theme_id'], ['audit_themes.id'], name=op.f('fk_audit_events_theme_id_audit_themes')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_finding_id'), ['finding_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_task_id'), ['task_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_events_theme_id'), ['theme_id'], unique=False)

    op.create_table('audit_labels',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('customer_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=32), nullable=False),
    sa.Column('label', sa.Integer(), nullable=False),
    sa.Column('outcome', sa.String(length=8), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('at', api.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_audit_labels_customer_id_customers')),
    sa.ForeignKeyConstraint(['task_id'], ['audit_tasks.id'], name=op.f('fk_audit_labels_task_id_audit_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_labels')),
    sa.UniqueConstraint('task_id', 'rule', name='uq_audit_labels_task_rule')
    )
    with op.batch_alter_table('audit_labels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_labels_customer_id'), ['customer_id'], unique=False)

    op.create_table('audit_photos',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=16), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('uploaded_by', sa.String(length=32), nullable=False),
    sa.Column('uploaded_at', api.db.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['task_id'], ['audit_tasks.id'], name=op.f('fk_audit_photos_task_id_audit_tasks')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_photos'))
    )
    with op.batch_alter_table('audit_photos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_photos_task_id'), ['task_id'], unique=False)

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('power_factor_standard', sa.Numeric(precision=3, scale=2), nullable=True))

    with op.batch_alter_table('meters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ct_ratio', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('ct_rated_a', sa.Numeric(precision=4, scale=1), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('meters', schema=None) as batch_op:
        batch_op.drop_column('ct_rated_a')
        batch_op.drop_column('ct_ratio')

    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_column('power_factor_standard')

    with op.batch_alter_table('audit_photos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_photos_task_id'))

    op.drop_table('audit_photos')
    with op.batch_alter_table('audit_labels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_labels_customer_id'))

    op.drop_table('audit_labels')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_theme_id'))
        batch_op.drop_index(batch_op.f('ix_audit_events_task_id'))
        batch_op.drop_index(batch_op.f('ix_audit_events_finding_id'))

    op.drop_table('audit_events')
    with op.batch_alter_table('audit_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_tasks_theme_id'))
        batch_op.drop_index(batch_op.f('ix_audit_tasks_status'))
        batch_op.drop_index(batch_op.f('ix_audit_tasks_customer_id'))

    op.drop_table('audit_tasks')
    with op.batch_alter_table('audit_findings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_findings_theme_id'))
        batch_op.drop_index('ix_audit_findings_status_rule')
        batch_op.drop_index(batch_op.f('ix_audit_findings_customer_id'))
        batch_op.drop_index(batch_op.f('ix_audit_findings_account_no'))

    op.drop_table('audit_findings')
    with op.batch_alter_table('area_supply', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_area_supply_day'))

    op.drop_table('area_supply')
    with op.batch_alter_table('feeder_supply', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feeder_supply_day'))

    op.drop_table('feeder_supply')
    with op.batch_alter_table('audit_themes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_themes_status'))

    op.drop_table('audit_themes')
