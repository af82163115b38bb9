"""forecasting: cached load forecasts, model choices, trained models

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 16:47:55.759934
"""
from alembic import op
import sqlalchemy as sa
import api.db


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('forecast_model_choices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=32), nullable=False),
    sa.Column('chosen_at', api.db.UTCDateTime(), nullable=False),
    sa.Column('horizon', sa.Integer(), nullable=False),
    sa.Column('origins', sa.Integer(), nullable=False),
    sa.Column('series', sa.Integer(), nullable=False),
    sa.Column('metrics', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forecast_model_choices')),
    sa.UniqueConstraint('level', name=op.f('uq_forecast_model_choices_level'))
    )
    op.create_table('forecast_models',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=32), nullable=False),
    sa.Column('trained_at', api.db.UTCDateTime(), nullable=False),
    sa.Column('data_end', api.db.UTCDateTime(), nullable=False),
    sa.Column('series', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_forecast_models')),
    sa.UniqueConstraint('level', name=op.f('uq_forecast_models_level'))
    )
    op.create_table('load_forecasts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('key', sa.String(length=32), nullable=False),
    sa.Column('origin', api.db.UTCDateTime(), nullable=False),
    sa.Column('made_at', api.db.UTCDateTime(), nullable=False),
    sa.Column('model', sa.String(length=32), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_load_forecasts')),
    sa.UniqueConstraint('level', 'key', name='uq_load_forecasts_level_key')
    )


def downgrade() -> None:
    op.drop_table('load_forecasts')
    op.drop_table('forecast_models')
    op.drop_table('forecast_model_choices')
