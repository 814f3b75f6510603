"""programmes, sessions, pins, emergencies, published plans, retained documents

Revision ID: schedule_0002
Revises: schedule_0001
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

from controller.storage.types import UTCDateTime


revision = 'schedule_0002'
down_revision = 'schedule_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('broadcast_session',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('start', sa.Time(), nullable=False),
    sa.Column('cap_minutes', sa.SmallInteger(), nullable=False),
    sa.Column('length_minutes', sa.SmallInteger(), nullable=True),
    sa.Column('weekdays', sa.SmallInteger(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('commune_id', 'key')
    )
    with op.batch_alter_table('broadcast_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_broadcast_session_commune_id'), ['commune_id'], unique=False)

    op.create_table('content_pin',
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('content', sa.String(length=64), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('pinned_by', sa.String(length=64), nullable=False),
    sa.Column('pinned_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('commune_id', 'content')
    )
    op.create_table('emergency_broadcast',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('content', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('villages', sa.Text(), nullable=False),
    sa.Column('repeat_every_s', sa.BigInteger(), nullable=False),
    sa.Column('volume', sa.SmallInteger(), nullable=False),
    sa.Column('attention_tone', sa.Boolean(), nullable=False),
    sa.Column('started_ns', sa.BigInteger(), nullable=False),
    sa.Column('started_at', UTCDateTime(), nullable=False),
    sa.Column('started_by', sa.String(length=64), nullable=False),
    sa.Column('stopped_at', UTCDateTime(), nullable=True),
    sa.Column('stopped_by', sa.String(length=64), nullable=True),
    sa.Column('stop_reason', sa.String(length=16), nullable=True),
    sa.Column('acknowledged_at', UTCDateTime(), nullable=True),
    sa.Column('acknowledged_by', sa.String(length=64), nullable=True),
    sa.Column('acknowledgement', sa.String(length=500), nullable=False),
    sa.Column('start_epoch', sa.BigInteger(), nullable=True),
    sa.Column('start_version', sa.BigInteger(), nullable=True),
    sa.Column('stop_epoch', sa.BigInteger(), nullable=True),
    sa.Column('stop_version', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('emergency_broadcast', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_emergency_broadcast_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index('ix_emergency_broadcast_commune_started', ['commune_id', 'started_ns'], unique=False)

    op.create_table('programme_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('status', sa.Enum('draft', 'approved', 'superseded', 'withdrawn', name='programmestatus', native_enum=False, length=16), nullable=False),
    sa.Column('priority', sa.SmallInteger(), nullable=False),
    sa.Column('session_key', sa.String(length=64), nullable=True),
    sa.Column('spec', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.Column('approved_by', sa.String(length=64), nullable=True),
    sa.Column('approved_at', UTCDateTime(), nullable=True),
    sa.Column('ended_by', sa.String(length=64), nullable=True),
    sa.Column('ended_at', UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('commune_id', 'key', 'revision')
    )
    with op.batch_alter_table('programme_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programme_revision_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index('ix_programme_revision_commune_status', ['commune_id', 'status'], unique=False)

    op.create_table('retained_document',
    sa.Column('topic', sa.String(length=200), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.Column('published_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('topic')
    )
    with op.batch_alter_table('retained_document', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_retained_document_commune_id'), ['commune_id'], unique=False)

    op.create_table('published_plan',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('plan_epoch', sa.BigInteger(), nullable=False),
    sa.Column('plan_version', sa.BigInteger(), nullable=False),
    sa.Column('published_at', UTCDateTime(), nullable=False),
    sa.Column('horizon_end_ns', sa.BigInteger(), nullable=False),
    sa.Column('slot_count', sa.Integer(), nullable=False),
    sa.Column('document', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('agent_id')
    )
    with op.batch_alter_table('published_plan', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_published_plan_commune_id'), ['commune_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('published_plan', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_published_plan_commune_id'))

    op.drop_table('published_plan')
    with op.batch_alter_table('retained_document', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_retained_document_commune_id'))

    op.drop_table('retained_document')
    with op.batch_alter_table('programme_revision', schema=None) as batch_op:
        batch_op.drop_index('ix_programme_revision_commune_status')
        batch_op.drop_index(batch_op.f('ix_programme_revision_commune_id'))

    op.drop_table('programme_revision')
    with op.batch_alter_table('emergency_broadcast', schema=None) as batch_op:
        batch_op.drop_index('ix_emergency_broadcast_commune_started')
        batch_op.drop_index(batch_op.f('ix_emergency_broadcast_commune_id'))

    op.drop_table('emergency_broadcast')
    op.drop_table('content_pin')
    with op.batch_alter_table('broadcast_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_broadcast_session_commune_id'))

    op.drop_table('broadcast_session')
