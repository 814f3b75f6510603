"""uptime: monthly rollups, airings per slot/day/month, journal cursors

Revision ID: uptime_0002
Revises: uptime_0001
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

from controller.storage.types import UTCDateTime


revision = 'uptime_0002'
down_revision = 'uptime_0001'
branch_labels = None
depends_on = 'schedule_0001'


def upgrade() -> None:

    op.create_table('uptime_month',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('window_key', sa.String(length=64), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('up_ms_e0', sa.BigInteger(), nullable=False),
    sa.Column('up_ms_e1', sa.BigInteger(), nullable=False),
    sa.Column('up_ms_e2', sa.BigInteger(), nullable=False),
    sa.Column('up_ms_e3', sa.BigInteger(), nullable=False),
    sa.Column('unanchored_ms', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('agent_id', 'window_key', 'month')
    )
    with op.batch_alter_table('uptime_month', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_uptime_month_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_uptime_month_month'), ['month'], unique=False)

    op.create_table('airing_slot',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('slot_id', sa.String(length=96), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('start_ns', sa.BigInteger(), nullable=False),
    sa.Column('targeted', sa.Boolean(), nullable=True),
    sa.Column('programme_id', sa.String(length=64), nullable=True),
    sa.Column('window_end_ns', sa.BigInteger(), nullable=True),
    sa.Column('outcome', sa.SmallInteger(), nullable=True),
    sa.Column('play_journal_id', sa.String(length=32), nullable=True),
    sa.Column('play_seq', sa.BigInteger(), nullable=True),
    sa.Column('first_sample_ns', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('agent_id', 'slot_id')
    )
    with op.batch_alter_table('airing_slot', schema=None) as batch_op:
        batch_op.create_index('ix_airing_slot_agent_start', ['agent_id', 'start_ns'], unique=False)
        batch_op.create_index(batch_op.f('ix_airing_slot_commune_id'), ['commune_id'], unique=False)

    op.create_table('airing_day',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('targeted', sa.Integer(), nullable=False),
    sa.Column('aired', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('agent_id', 'zone', 'day')
    )
    with op.batch_alter_table('airing_day', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_airing_day_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_airing_day_day'), ['day'], unique=False)

    op.create_table('airing_month',
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('zone', sa.String(length=64), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('targeted', sa.Integer(), nullable=False),
    sa.Column('aired', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('agent_id', 'zone', 'month')
    )
    with op.batch_alter_table('airing_month', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_airing_month_commune_id'), ['commune_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_airing_month_month'), ['month'], unique=False)

    op.create_table('journal_cursor',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('agent_id', sa.String(length=64), nullable=False),
    sa.Column('journal_id', sa.String(length=32), nullable=False),
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('through', sa.BigInteger(), nullable=False),
    sa.Column('holes', sa.Text(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('name', 'agent_id', 'journal_id')
    )
    with op.batch_alter_table('journal_cursor', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_cursor_commune_id'), ['commune_id'], unique=False)

    op.create_table('cursor_state',
    sa.Column('commune_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['commune_id'], ['admin_unit.id'], ),
    sa.PrimaryKeyConstraint('commune_id', 'name')
    )

    op.create_index('ix_journal_record_anchors', 'journal_record',
                    ['agent_id', 'journal_id', 'boot'], unique=False,
                    postgresql_where=sa.text('kind = 2'), sqlite_where=sa.text('kind = 2'))

    # Months of the days already rolled up (a station upgraded with a year of history).
    op.execute(sa.text(
        "INSERT INTO uptime_month (agent_id, window_key, month, commune_id, up_ms_e0, "
        "up_ms_e1, up_ms_e2, up_ms_e3, unanchored_ms, updated_at) "
        "SELECT agent_id, window_key, month, MIN(commune_id), SUM(up_ms_e0), SUM(up_ms_e1), "
        "SUM(up_ms_e2), SUM(up_ms_e3), SUM(unanchored_ms), MAX(updated_at) FROM ("
        "SELECT *, " + _month_of_day() + " AS month FROM uptime_day) AS days "
        "GROUP BY agent_id, window_key, month"))


def _month_of_day() -> str:
    if op.get_bind().dialect.name == "sqlite":
        return "date(day, 'start of month')"
    return "CAST(date_trunc('month', day) AS date)"


def downgrade() -> None:

    op.drop_index('ix_journal_record_anchors', table_name='journal_record')
    op.drop_table('cursor_state')
    with op.batch_alter_table('journal_cursor', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_cursor_commune_id'))

    op.drop_table('journal_cursor')
    with op.batch_alter_table('airing_month', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_airing_month_month'))
        batch_op.drop_index(batch_op.f('ix_airing_month_commune_id'))

    op.drop_table('airing_month')
    with op.batch_alter_table('airing_day', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_airing_day_day'))
        batch_op.drop_index(batch_op.f('ix_airing_day_commune_id'))

    op.drop_table('airing_day')
    with op.batch_alter_table('airing_slot', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_airing_slot_commune_id'))
        batch_op.drop_index('ix_airing_slot_agent_start')

    op.drop_table('airing_slot')
    with op.batch_alter_table('uptime_month', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_uptime_month_month'))
        batch_op.drop_index(batch_op.f('ix_uptime_month_commune_id'))

    op.drop_table('uptime_month')
