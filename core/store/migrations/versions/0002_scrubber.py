"""scrubber findings, claim lines, overrides, audit log

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 05:59:55.738208
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('action', sa.String(length=50), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_audit_log_claim_id_claims')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_claim_id'), ['claim_id'], unique=False)

    op.create_table('finding_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=100), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_finding_overrides_claim_id_claims')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_finding_overrides')),
    sa.UniqueConstraint('claim_id', 'version', 'rule', name=op.f('uq_finding_overrides_claim_id'))
    )
    with op.batch_alter_table('finding_overrides', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finding_overrides_claim_id'), ['claim_id'], unique=False)

    op.create_table('claim_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('claim_id', sa.Integer(), nullable=False),
    sa.Column('pcn', sa.String(length=17), nullable=False),
    sa.Column('patient_key', sa.String(length=200), nullable=False),
    sa.Column('payer_id', sa.String(length=80), nullable=True),
    sa.Column('rendering_npi', sa.String(length=10), nullable=True),
    sa.Column('code', sa.String(length=10), nullable=False),
    sa.Column('service_date', sa.Date(), nullable=False),
    sa.Column('authorization', sa.String(length=80), nullable=True),
    sa.ForeignKeyConstraint(['claim_id'], ['claims.id'], name=op.f('fk_claim_lines_claim_id_claims')),
    sa.ForeignKeyConstraint(['version_id'], ['claim_versions.id'], name=op.f('fk_claim_lines_version_id_claim_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_lines'))
    )
    with op.batch_alter_table('claim_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_claim_lines_claim_id'), ['claim_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_claim_lines_patient_key'), ['patient_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_claim_lines_version_id'), ['version_id'], unique=False)

    with op.batch_alter_table('claim_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('findings', sa.Text(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('claim_versions', schema=None) as batch_op:
        batch_op.drop_column('findings')

    with op.batch_alter_table('claim_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_claim_lines_version_id'))
        batch_op.drop_index(batch_op.f('ix_claim_lines_patient_key'))
        batch_op.drop_index(batch_op.f('ix_claim_lines_claim_id'))

    op.drop_table('claim_lines')
    with op.batch_alter_table('finding_overrides', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finding_overrides_claim_id'))

    op.drop_table('finding_overrides')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_claim_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
