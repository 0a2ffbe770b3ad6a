"""records of streams other than encounters; encounters not billed

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 11:10:00
"""
from alembic import op
import sqlalchemy as sa



revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('source_records',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=100), nullable=False),
    sa.Column('stream', sa.String(length=100), nullable=False),
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('cursor', sa.String(length=64), nullable=True),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('payload_sha256', sa.String(length=64), nullable=False),
    sa.Column('first_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_run_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['last_run_id'], ['sync_runs.id'], name=op.f('fk_source_records_last_run_id_sync_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source_records')),
    sa.UniqueConstraint('source', 'stream', 'key', name=op.f('uq_source_records_source'))
    )
    with op.batch_alter_table('encounters', schema=None) as batch_op:
        batch_op.add_column(sa.Column('not_billable_sha256', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('not_billable_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('encounters', schema=None) as batch_op:
        batch_op.drop_column('not_billable_reason')
        batch_op.drop_column('not_billable_sha256')
    op.drop_table('source_records')
