"""what claim lists filter on: payer, rendering provider, date of service, patient key on claims

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 11:45:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

_FROM_LINES = ("(SELECT cl.{column} FROM claim_lines cl JOIN claim_versions v ON v.id = cl.version_id "
               "WHERE cl.claim_id = claims.id AND v.version = claims.current_version ORDER BY {order} LIMIT 1)")


def upgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payer_id', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('rendering_npi', sa.String(length=10), nullable=True))
        batch_op.add_column(sa.Column('service_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('patient_key', sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f('ix_claims_payer_id'), ['payer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_claims_rendering_npi'), ['rendering_npi'], unique=False)
        batch_op.create_index(batch_op.f('ix_claims_service_date'), ['service_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_claims_patient_key'), ['patient_key'], unique=False)
    # claims scrubbed before this migration: from the lines kept for their current version
    op.execute("UPDATE claims SET "
               f"payer_id = {_FROM_LINES.format(column='payer_id', order='cl.id')}, "
               f"rendering_npi = {_FROM_LINES.format(column='rendering_npi', order='cl.id')}, "
               f"service_date = {_FROM_LINES.format(column='service_date', order='cl.service_date')}, "
               f"patient_key = {_FROM_LINES.format(column='patient_key', order='cl.id')}")


def downgrade() -> None:
    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claims_patient_key'))
        batch_op.drop_index(batch_op.f('ix_claims_service_date'))
        batch_op.drop_index(batch_op.f('ix_claims_rendering_npi'))
        batch_op.drop_index(batch_op.f('ix_claims_payer_id'))
        batch_op.drop_column('patient_key')
        batch_op.drop_column('service_date')
        batch_op.drop_column('rendering_npi')
        batch_op.drop_column('payer_id')
