"""acknowledgments, remittances, denials, job runs

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 07:51:50.975167
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('inbound_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clearinghouse', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.BigInteger(), nullable=False),
    sa.Column('kinds', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('stored_path', sa.String(length=500), nullable=True),
    sa.Column('validation', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_files')),
    sa.UniqueConstraint('sha256', name=op.f('uq_inbound_files_sha256'))
    )
    with op.batch_alter_table('inbound_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_files_status'), ['status'], unique=False)

    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=100), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('counts', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('host', sa.String(length=100), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs'))
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_job_runs_job'), ['job'], unique=False)

    op.create_table('inbound_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('clearinghouse', sa.String(length=100), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('duplicate', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['inbound_files.id'], name=op.f('fk_inbound_deliveries_file_id_inbound_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_deliveries'))
    )
    with op.batch_alter_table('inbound_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_deliveries_file_id'), ['file_id'], unique=False)

    op.create_table('remittances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('payer_key', sa.String(length=80), nullable=False),
    sa.Column('trace_number', sa.String(length=80), nullable=False),
    sa.Column('payer_name', sa.String(length=100), nullable=False),
    sa.Column('payee_name', sa.String(length=100), nullable=False),
    sa.Column('payee_id', sa.String(length=80), nullable=True),
    sa.Column('control_number', sa.String(length=9), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('method', sa.String(length=3), nullable=False),
    sa.Column('payment_date', sa.Date(), nullable=True),
    sa.Column('claim_count', sa.Integer(), nullable=False),
    sa.Column('total_charge', sa.BigInteger(), nullable=False),
    sa.Column('total_paid', sa.BigInteger(), nullable=False),
    sa.Column('provider_adjustment_total', sa.BigInteger(), nullable=False),
    sa.Column('fhir', sa.Text(), nullable=True),
    sa.Column('hook_error', sa.Text(), nullable=True),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['file_id'], ['inbound_files.id'], name=op.f('fk_remittances_file_id_inbound_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remittances')),
    sa.UniqueConstraint('payer_key', 'trace_number', name=op.f('uq_remittances_payer_key'))
    )
    with op.batch_alter_table('remittances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remittances_file_id'), ['file_id'], unique=False)

    op.create_table('provider_adjustments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('remittance_id', sa.Integer(), nullable=False),
    sa.Column('provider_id', sa.String(length=80), nullable=False),
    sa.Column('fiscal_date', sa.Date(), nullable=True),
    sa.Column('reason', sa.String(length=2), nullable=False),
    sa.Column('reference', sa.String(length=80), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['remittance_id'], ['remittances.id'], name=op.f('fk_provider_adjustments_remittance_id_remittances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_provider_adjustments'))
    )
    with op.batch_alter_table('provider_adjustments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_provider_adjustments_remittance_id'), ['remittance_id'], unique=False)

    op.create_table('acknowledgments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('file_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('claim_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('reference', sa.String(length=80), nullable=False),
    sa.Column('outcome', sa.String(length=30), nullable=False),
    sa.Column('codes', sa.String(length=200), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('payer_claim_number', sa.String(length=50), nullable=True),
    sa.Column('matched', sa.Boolean(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_acknowledgments_batch_id_batches')),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_acknowledgments_claim_id_claims')),
    sa.ForeignKeyConstraint(['file_id'], ['inbound_files.id'], name=op.f('fk_acknowledgments_file_id_inbound_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_acknowledgments'))
    )
    with op.batch_alter_table('acknowledgments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_acknowledgments_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_acknowledgments_claim_id'), ['claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_acknowledgments_file_id'), ['file_id'], unique=False)

    op.create_table('remittance_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('remittance_id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=True),
    sa.Column('pcn', sa.String(length=38), nullable=False),
    sa.Column('status_code', sa.String(length=2), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('charge', sa.BigInteger(), nullable=False),
    sa.Column('paid', sa.BigInteger(), nullable=False),
    sa.Column('patient_responsibility', sa.BigInteger(), nullable=False),
    sa.Column('allowed', sa.BigInteger(), nullable=True),
    sa.Column('payer_claim_number', sa.String(length=50), nullable=True),
    sa.Column('adjustments', sa.Text(), nullable=False),
    sa.Column('remarks', sa.Text(), nullable=False),
    sa.Column('match', sa.String(length=20), nullable=False),
    sa.Column('match_note', sa.Text(), nullable=True),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.Column('reversed_by_id', sa.Integer(), nullable=True),
    sa.Column('fhir', sa.Text(), nullable=True),
    sa.Column('segment', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_remittance_claims_claim_id_claims')),
    sa.ForeignKeyConstraint(['remittance_id'], ['remittances.id'], name=op.f('fk_remittance_claims_remittance_id_remittances')),
    sa.ForeignKeyConstraint(['reversed_by_id'], ['remittance_claims.id'], name=op.f('fk_remittance_claims_reversed_by_id_remittance_claims')),
    sa.ForeignKeyConstraint(['reverses_id'], ['remittance_claims.id'], name=op.f('fk_remittance_claims_reverses_id_remittance_claims')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remittance_claims'))
    )
    with op.batch_alter_table('remittance_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remittance_claims_claim_id'), ['claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_remittance_claims_match'), ['match'], unique=False)
        batch_op.create_index(batch_op.f('ix_remittance_claims_pcn'), ['pcn'], unique=False)
        batch_op.create_index(batch_op.f('ix_remittance_claims_remittance_id'), ['remittance_id'], unique=False)

    op.create_table('remittance_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('remittance_claim_id', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=True),
    sa.Column('matched_by', sa.String(length=20), nullable=False),
    sa.Column('procedure', sa.String(length=48), nullable=False),
    sa.Column('modifiers', sa.String(length=20), nullable=False),
    sa.Column('charge', sa.BigInteger(), nullable=False),
    sa.Column('paid', sa.BigInteger(), nullable=False),
    sa.Column('allowed', sa.BigInteger(), nullable=True),
    sa.Column('units', sa.String(length=15), nullable=True),
    sa.Column('control_number', sa.String(length=50), nullable=True),
    sa.Column('service_date', sa.Date(), nullable=True),
    sa.Column('adjustments', sa.Text(), nullable=False),
    sa.Column('remarks', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['remittance_claim_id'], ['remittance_claims.id'], name=op.f('fk_remittance_lines_remittance_claim_id_remittance_claims')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remittance_lines'))
    )
    with op.batch_alter_table('remittance_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remittance_lines_remittance_claim_id'), ['remittance_claim_id'], unique=False)

    op.create_table('denials',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('remittance_claim_id', sa.Integer(), nullable=False),
    sa.Column('remittance_line_id', sa.Integer(), nullable=True),
    sa.Column('claim_id', sa.Integer(), nullable=True),
    sa.Column('group', sa.String(length=2), nullable=False),
    sa.Column('reason', sa.String(length=5), nullable=False),
    sa.Column('remarks', sa.String(length=200), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('explanation', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('resolution', sa.String(length=40), nullable=True),
    sa.Column('resolved_by', sa.String(length=100), nullable=True),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('replacement_version', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_denials_claim_id_claims')),
    sa.ForeignKeyConstraint(['remittance_claim_id'], ['remittance_claims.id'], name=op.f('fk_denials_remittance_claim_id_remittance_claims')),
    sa.ForeignKeyConstraint(['remittance_line_id'], ['remittance_lines.id'], name=op.f('fk_denials_remittance_line_id_remittance_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_denials'))
    )
    with op.batch_alter_table('denials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_denials_category'), ['category'], unique=False)
        batch_op.create_index(batch_op.f('ix_denials_claim_id'), ['claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_denials_remittance_claim_id'), ['remittance_claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_denials_status'), ['status'], unique=False)

    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ack_status', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('ack_detail', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('acked_at', sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table('claim_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('payer_claim_number', sa.String(length=50), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('claim_versions', schema=None) as batch_op:
        batch_op.drop_column('payer_claim_number')

    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_column('acked_at')
        batch_op.drop_column('ack_detail')
        batch_op.drop_column('ack_status')

    with op.batch_alter_table('denials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_denials_status'))
        batch_op.drop_index(batch_op.f('ix_denials_remittance_claim_id'))
        batch_op.drop_index(batch_op.f('ix_denials_claim_id'))
        batch_op.drop_index(batch_op.f('ix_denials_category'))

    op.drop_table('denials')
    with op.batch_alter_table('remittance_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remittance_lines_remittance_claim_id'))

    op.drop_table('remittance_lines')
    with op.batch_alter_table('remittance_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remittance_claims_remittance_id'))
        batch_op.drop_index(batch_op.f('ix_remittance_claims_pcn'))
        batch_op.drop_index(batch_op.f('ix_remittance_claims_match'))
        batch_op.drop_index(batch_op.f('ix_remittance_claims_claim_id'))

    op.drop_table('remittance_claims')
    with op.batch_alter_table('acknowledgments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_acknowledgments_file_id'))
        batch_op.drop_index(batch_op.f('ix_acknowledgments_claim_id'))
        batch_op.drop_index(batch_op.f('ix_acknowledgments_batch_id'))

    op.drop_table('acknowledgments')
    with op.batch_alter_table('provider_adjustments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_provider_adjustments_remittance_id'))

    op.drop_table('provider_adjustments')
    with op.batch_alter_table('remittances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remittances_file_id'))

    op.drop_table('remittances')
    with op.batch_alter_table('inbound_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_deliveries_file_id'))

    op.drop_table('inbound_deliveries')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_job_runs_job'))

    op.drop_table('job_runs')
    with op.batch_alter_table('inbound_files', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_files_status'))

    op.drop_table('inbound_files')
