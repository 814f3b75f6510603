"""Upgrading a database that already has rollups: the windows they were kept for are
registered as built (so the first report does not rebuild a year of them), and a
window never rolled up is not."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from controller.storage.database import Database
from controller.storage.migrate import upgrade
from controller.uptime.definition import load_definition
from controller.uptime.windows import registered


def test_rollups_before_the_upgrade_register_their_window(db_url: str) -> None:
    db = Database(db_url)
    upgrade(db.engine, "uptime_0002")
    now = dt.datetime(2026, 11, 5, tzinfo=dt.UTC)
    with db.engine.begin() as conn:
        commune = conn.execute(text(
            "INSERT INTO admin_unit (key, level, created_at) VALUES ('xa-a', 'commune', :now) "
            "RETURNING id"), {"now": now}).scalar_one()
        conn.execute(text(
            "INSERT INTO uptime_day (agent_id, window_key, day, commune_id, up_ms_e0, "
            "up_ms_e1, up_ms_e2, up_ms_e3, unanchored_ms, updated_at) VALUES "
            "('ag-1', '0430-2130@Asia/Ho_Chi_Minh', :day, :commune, 0, 1000, 0, 0, 0, :now)"),
            {"day": dt.date(2026, 11, 1), "commune": commune, "now": now})
    upgrade(db.engine)
    found = registered(db)
    assert [(w.window_key, w.start_local, w.end_local, w.tz) for w in found] == [
        ("0430-2130@Asia/Ho_Chi_Minh", "04:30", "21:30", "Asia/Ho_Chi_Minh")]
    assert found[0].window_key == load_definition().window.key  # what the code computes
    db.dispose()


def test_a_fresh_database_has_no_window_registered(db_url: str) -> None:
    db = Database(db_url)
    upgrade(db.engine)
    assert registered(db) == []  # the first report builds (cheaply: nothing stored yet)
    db.dispose()
