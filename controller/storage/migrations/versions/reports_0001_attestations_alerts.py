"""reports: attestations of legacy clusters, alerts, collected communes

Revision ID: reports_0001
Revises: 
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

from controller.storage.types import UTCDateTime


revision = 'reports_0001'
down_revision = None
branch_labels = ('reports',)
depends_on = 'core_0002'


def upgrade() -> None:

    op.create_table('attestation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=32), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('cluster_id', sa.Integer(), nullable=True),
    sa.Column('station_id', sa.Integer(), nullable=True),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('attested_by', sa.String(length=64), nullable=False),
    sa.Column('attested_at', UTCDateTime(), nullable=False),
    sa.Column('withdrawn_by', sa.String(length=64), nullable=True),
    sa.Column('withdrawn_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['cluster_id'], ['cluster.id'], ),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uid')
    )
    with op.batch_alter_table('attestation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_attestation_cluster_id'), ['cluster_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attestation_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_attestation_station_id'), ['station_id'], unique=False)

    op.create_table('alert',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('subject', sa.String(length=128), nullable=False),
    sa.Column('raised_at', UTCDateTime(), nullable=False),
    sa.Column('cleared_at', UTCDateTime(), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index('ix_alert_subject', ['commune_id', 'kind', 'subject'], unique=False)

    op.create_table('collected_commune',
    sa.Column('commune', sa.String(length=64), nullable=False),
    sa.Column('last_batch', sa.BigInteger(), nullable=False),
    sa.Column('last_batch_at', UTCDateTime(), nullable=True),
    sa.Column('sent_at', UTCDateTime(), nullable=True),
    sa.Column('batches', sa.BigInteger(), nullable=False),
    sa.Column('records', sa.BigInteger(), nullable=False),
    sa.Column('registry_digest', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('commune')
    )


def downgrade() -> None:

    op.drop_table('collected_commune')
    with op.batch_alter_table('alert', schema=None) as batch_op:
        batch_op.drop_index('ix_alert_subject')
        batch_op.drop_index(batch_op.f('ix_alert_commune_id'))

    op.drop_table('alert')
    with op.batch_alter_table('attestation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_attestation_station_id'))
        batch_op.drop_index(batch_op.f('ix_attestation_commune_id'))
        batch_op.drop_index(batch_op.f('ix_attestation_cluster_id'))

    op.drop_table('attestation')
