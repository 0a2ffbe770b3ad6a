"""eligibility: 270 inquiries and their 271 answers; batches carry 837P or 270

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27 14:35:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=10), server_default='837P', nullable=False))
    op.create_table('eligibility_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=True),
    sa.Column('appointment_key', sa.String(length=300), nullable=True),
    sa.Column('appointment_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('patient_key', sa.String(length=200), nullable=False),
    sa.Column('payer_id', sa.String(length=80), nullable=False),
    sa.Column('payer_name', sa.String(length=200), nullable=True),
    sa.Column('service_date', sa.Date(), nullable=True),
    sa.Column('service_types', sa.String(length=100), nullable=False),
    sa.Column('trace_number', sa.String(length=50), nullable=False),
    sa.Column('inquiry', sa.Text(), nullable=False),
    sa.Column('inquiry_sha256', sa.String(length=64), nullable=False),
    sa.Column('transport', sa.String(length=20), nullable=False),
    sa.Column('clearinghouse', sa.String(length=100), nullable=True),
    sa.Column('batch_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('coverage_status', sa.String(length=40), nullable=True),
    sa.Column('risks', sa.String(length=300), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('response', sa.Text(), nullable=True),
    sa.Column('inbound_file_id', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_eligibility_checks_batch_id_batches')),
    sa.ForeignKeyConstraint(['inbound_file_id'], ['inbound_files.id'],
                            name=op.f('fk_eligibility_checks_inbound_file_id_inbound_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_eligibility_checks')),
    sa.UniqueConstraint('trace_number', name=op.f('uq_eligibility_checks_trace_number'))
    )
    with op.batch_alter_table('eligibility_checks', schema=None) as batch_op:
        batch_op.create_index('ix_eligibility_checks_appointment', ['source', 'appointment_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_eligibility_checks_appointment_start'), ['appointment_start'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_eligibility_checks_batch_id'), ['batch_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_eligibility_checks_patient_key'), ['patient_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_eligibility_checks_payer_id'), ['payer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_eligibility_checks_status'), ['status'], unique=False)


def downgrade() -> None:
    op.drop_table('eligibility_checks')
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_column('kind')
