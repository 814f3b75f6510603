"""uptime: the service windows whose rollups are built and kept current

Revision ID: uptime_0003
Revises: uptime_0002
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

from controller.storage.types import UTCDateTime

revision = 'uptime_0003'
down_revision = 'uptime_0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    windows = op.create_table('uptime_window',
    sa.Column('window_key', sa.String(length=64), nullable=False),
    sa.Column('start_local', sa.String(length=8), nullable=False),
    sa.Column('end_local', sa.String(length=8), nullable=False),
    sa.Column('tz', sa.String(length=64), nullable=False),
    sa.Column('definition', sa.String(length=64), nullable=False),
    sa.Column('built_at', UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('window_key')
    )
    # The windows rolled up so far were maintained by every ingest since the station
    # (or collector) started: register them as built. Keys read "0430-2130@Zone/City".
    keys = op.get_bind().execute(sa.text(
        "SELECT DISTINCT window_key FROM uptime_day")).scalars().all()
    now = dt.datetime.now(dt.UTC)
    rows = []
    for key in keys:
        hours, _, tz = key.partition("@")
        start, _, end = hours.partition("-")
        if len(start) == 4 and len(end) == 4 and tz:
            rows.append({"window_key": key, "start_local": f"{start[:2]}:{start[2:]}",
                         "end_local": f"{end[:2]}:{end[2:]}", "tz": tz,
                         "definition": "(before uptime_0003)", "built_at": now})
    if rows:
        op.bulk_insert(windows, rows)


def downgrade() -> None:
    op.drop_table('uptime_window')
