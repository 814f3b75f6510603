"""library items

Revision ID: library_0001
Revises: 
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

from controller.storage.types import UTCDateTime


revision = 'library_0001'
down_revision = None
branch_labels = ('library',)
depends_on = 'core_0002'


def upgrade() -> None:

    op.create_table('library_item',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('source_name', sa.String(length=260), nullable=False),
    sa.Column('source_format', sa.String(length=32), nullable=False),
    sa.Column('imported_by', sa.Integer(), nullable=True),
    sa.Column('imported_at', UTCDateTime(), nullable=False),
    sa.Column('duration_ms', sa.BigInteger(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('bitrate_bps', sa.Integer(), nullable=False),
    sa.Column('integrated_lufs', sa.Float(), nullable=False),
    sa.Column('speech_lufs', sa.Float(), nullable=False),
    sa.Column('true_peak_dbtp', sa.Float(), nullable=False),
    sa.Column('chime', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.ForeignKeyConstraint(['imported_by'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('commune_id', 'sha256')
    )
    with op.batch_alter_table('library_item', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_library_item_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_library_item_sha256'), ['sha256'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('library_item', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_library_item_sha256'))
        batch_op.drop_index(batch_op.f('ix_library_item_commune_id'))

    op.drop_table('library_item')

