"""core: the controller's CURVE key pair, and when a signing key's status changed

Revision ID: core_0002
Revises: core_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from controller.storage.types import UTCDateTime


revision = 'core_0002'
down_revision = 'core_0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('curve_key',
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('public_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('secret_key', sa.LargeBinary(length=32), nullable=False),
    sa.Column('created_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('commune_id')
    )
    with op.batch_alter_table('signing_key', schema=None) as batch_op:
        batch_op.add_column(sa.Column('changed_at', UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('signing_key', schema=None) as batch_op:
        batch_op.drop_column('changed_at')
    op.drop_table('curve_key')
