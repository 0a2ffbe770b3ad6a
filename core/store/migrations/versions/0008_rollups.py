"""claims.charge, ix_claims_status_id, and the rollup tables the dashboard reads, kept by triggers

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 14:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

_COUNT = dict(type_=sa.BigInteger(), nullable=False)


def _counts(*names):
    return [sa.Column(name, **_COUNT) for name in names]


def upgrade() -> None:
    from claimbridge.store import rollups

    with op.batch_alter_table('claims', schema=None) as batch_op:
        batch_op.add_column(sa.Column('charge', sa.BigInteger(), nullable=True))
        batch_op.create_index('ix_claims_status_id', ['status', 'id'], unique=False)
    # the current version's FHIR Claim total, in cents
    if op.get_bind().dialect.name == "postgresql":
        total = "round(((v.fhir::json -> 'total' ->> 'value')::numeric) * 100)::bigint"
    else:
        total = "CAST(round(json_extract(v.fhir, '$.total.value') * 100) AS INTEGER)"
    op.execute(f"UPDATE claims SET charge = (SELECT {total} FROM claim_versions v WHERE v.claim_id = claims.id "
               "AND v.version = claims.current_version AND v.fhir IS NOT NULL)")

    op.create_table('rollup_claims_by_status',
                    sa.Column('status', sa.String(length=30), nullable=False),
                    sa.Column('payer_id', sa.String(length=80), nullable=False),
                    *_counts('claims'),
                    sa.PrimaryKeyConstraint('status', 'payer_id', name=op.f('pk_rollup_claims_by_status')))
    op.create_table('rollup_claims_by_day',
                    sa.Column('status', sa.String(length=30), nullable=False),
                    sa.Column('payer_id', sa.String(length=80), nullable=False),
                    sa.Column('service_date', sa.Date(), nullable=False),
                    *_counts('claims', 'charge', 'outstanding_claims', 'outstanding'),
                    sa.PrimaryKeyConstraint('status', 'payer_id', 'service_date',
                                            name=op.f('pk_rollup_claims_by_day')))
    op.create_table('rollup_adjudications',
                    sa.Column('payer_id', sa.String(length=80), nullable=False),
                    sa.Column('payer_name', sa.String(length=100), nullable=False),
                    *_counts('claims', 'denied'),
                    sa.PrimaryKeyConstraint('payer_id', 'payer_name', name=op.f('pk_rollup_adjudications')))
    op.create_table('rollup_denial_categories',
                    sa.Column('category', sa.String(length=40), nullable=False),
                    *_counts('claims', 'amount'),
                    sa.PrimaryKeyConstraint('category', name=op.f('pk_rollup_denial_categories')))
    op.create_table('rollup_payment_days',
                    sa.Column('payer_id', sa.String(length=80), nullable=False),
                    sa.Column('payer_name', sa.String(length=100), nullable=False),
                    sa.Column('days', sa.Integer(), nullable=False),
                    *_counts('payments', 'paid', 'charge'),
                    sa.PrimaryKeyConstraint('payer_id', 'payer_name', 'days', name=op.f('pk_rollup_payment_days')))
    op.create_table('rollup_outcomes',
                    sa.Column('outcome', sa.String(length=20), nullable=False),
                    *_counts('payments', 'charge', 'paid', 'patient_responsibility'),
                    sa.PrimaryKeyConstraint('outcome', name=op.f('pk_rollup_outcomes')))
    op.create_table('rollup_open_denials',
                    sa.Column('category', sa.String(length=40), nullable=False),
                    *_counts('denials', 'amount'),
                    sa.PrimaryKeyConstraint('category', name=op.f('pk_rollup_open_denials')))
    op.create_table('rollup_totals',
                    sa.Column('name', sa.String(length=40), nullable=False),
                    *_counts('count', 'amount'),
                    sa.PrimaryKeyConstraint('name', name=op.f('pk_rollup_totals')))
    op.create_table('rollup_claim_facts',
                    sa.Column('claim_id', sa.Integer(), nullable=False),
                    sa.Column('status', sa.String(length=30), nullable=False),
                    sa.Column('payer_id', sa.String(length=80), nullable=False),
                    sa.Column('service_date', sa.Date(), nullable=True),
                    *_counts('charge', 'outstanding'),
                    sa.PrimaryKeyConstraint('claim_id', name=op.f('pk_rollup_claim_facts')))
    op.create_table('rollup_adjudication_facts',
                    sa.Column('claim_id', sa.Integer(), nullable=False),
                    sa.Column('payer_id', sa.String(length=80), nullable=False),
                    sa.Column('payer_name', sa.String(length=100), nullable=False),
                    sa.Column('denied', sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint('claim_id', name=op.f('pk_rollup_adjudication_facts')))
    op.create_table('rollup_category_facts',
                    sa.Column('claim_id', sa.Integer(), nullable=False),
                    sa.Column('category', sa.String(length=40), nullable=False),
                    *_counts('amount'),
                    sa.PrimaryKeyConstraint('claim_id', 'category', name=op.f('pk_rollup_category_facts')))
    op.create_table('rollup_payment_facts',
                    sa.Column('claim_id', sa.Integer(), nullable=False),
                    sa.Column('payer_name', sa.String(length=100), nullable=False),
                    sa.Column('days', sa.Integer(), nullable=False),
                    sa.Column('payer_id', sa.String(length=80), nullable=False),
                    *_counts('payments', 'paid', 'charge'),
                    sa.PrimaryKeyConstraint('claim_id', 'payer_name', 'days', name=op.f('pk_rollup_payment_facts')))
    connection = op.get_bind()
    rollups.rebuild(connection)
    rollups.create_triggers(connection)


def downgrade() -> None:
    from claimbridge.store import rollups

    rollups.drop_triggers(op.get_bind())
    for table in (*rollups.FACT_TABLES, *rollups.ROLLUP_TABLES):
        op.drop_table(table)
    op.drop_index('ix_claims_status_id', table_name='claims')
    # not a batch (SQLite would copy claims and DROP the original, which rows of other tables refer to)
    op.execute("ALTER TABLE claims DROP COLUMN charge")
