"""Staff sign-in failures counted in the shared rate limiter (issue 13): the table of attempts goes

Failed sign-ins, lockouts and the addresses an account signed in from are counted by api.core.ratelimit
(Redis when REDIS_URL is set, the table rate_counters otherwise), so every API process sees the same
counts. The attempts table had no other reader (the access log is `access_log`; the last sign-in is
staff_users.last_login_at). Its rows are not carried over: at worst a lockout in progress ends early.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 16:00:00
"""
from alembic import op
import sqlalchemy as sa
import api.db


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('staff_login_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempts_user_at')
        batch_op.drop_index('ix_login_attempts_ip_at')
    op.drop_table('staff_login_attempts')


def downgrade() -> None:
    op.create_table('staff_login_attempts',
                    sa.Column('id', sa.Integer(), nullable=False),
                    sa.Column('username', sa.String(length=32), nullable=False),
                    sa.Column('ip', sa.String(length=45), nullable=False),
                    sa.Column('at', api.db.UTCDateTime(), nullable=False),
                    sa.Column('ok', sa.Boolean(), nullable=False),
                    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_login_attempts')))
    with op.batch_alter_table('staff_login_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_login_attempts_ip_at', ['ip', 'at'], unique=False)
        batch_op.create_index('ix_login_attempts_user_at', ['username', 'at'], unique=False)
