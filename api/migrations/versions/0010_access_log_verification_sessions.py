"""access log, verification attempts, revoked staff sessions (issue 13)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:00:00
"""
from alembic import op
import sqlalchemy as sa
import api.db


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('access_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', api.db.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('path', sa.String(length=256), nullable=False),
    sa.Column('subject_kind', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=32), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_access_log'))
    )
    op.create_index('ix_access_log_actor_at', 'access_log', ['actor', 'at'], unique=False)
    op.create_index('ix_access_log_subject', 'access_log', ['subject_kind', 'subject', 'at'], unique=False)
    op.create_index(op.f('ix_access_log_at'), 'access_log', ['at'], unique=False)
    op.create_table('verification_attempts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account_no', sa.String(length=10), nullable=False),
    sa.Column('conversation_id', sa.String(length=64), nullable=True),
    sa.Column('at', api.db.UTCDateTime(), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_verification_attempts'))
    )
    op.create_index('ix_verification_attempts_account_at', 'verification_attempts', ['account_no', 'at'], unique=False)
    op.create_index('ix_verification_attempts_conversation_at', 'verification_attempts',
                    ['conversation_id', 'at'], unique=False)
    op.create_table('staff_revoked_sessions',
    sa.Column('token_id', sa.String(length=36), nullable=False),
    sa.Column('expires_at', api.db.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('token_id', name=op.f('pk_staff_revoked_sessions'))
    )
    op.create_index(op.f('ix_staff_revoked_sessions_expires_at'), 'staff_revoked_sessions', ['expires_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_staff_revoked_sessions_expires_at'), table_name='staff_revoked_sessions')
    op.drop_table('staff_revoked_sessions')
    op.drop_index('ix_verification_attempts_conversation_at', table_name='verification_attempts')
    op.drop_index('ix_verification_attempts_account_at', table_name='verification_attempts')
    op.drop_table('verification_attempts')
    op.drop_index(op.f('ix_access_log_at'), table_name='access_log')
    op.drop_index('ix_access_log_subject', table_name='access_log')
    op.drop_index('ix_access_log_actor_at', table_name='access_log')
    op.drop_table('access_log')
