"""A commune frozen in time, for snapshot tests: canned API answers (as the real API
shapes them) behind a :class:`Connection`, and a fixed clock, so that every run renders
the same screen.

Xã Demo at 10:05 (station time, 2026-03-02): three villages, four clusters (one wired),
three agents (online and playing, offline, not yet enrolled), a programme on the air, a
later one, and two open alerts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from controller.cli.client import ApiClient
from controller.tui.connection import ApiError, Connection

NOW = dt.datetime(2026, 3, 2, 3, 5, tzinfo=dt.UTC)  # 10:05 in Asia/Ho_Chi_Minh
COMMUNE = "xa-demo"


def at(hour: int, minute: int, day: int = 2) -> str:
    """An instant given in station time (UTC+7), as the API writes it (UTC)."""
    local = dt.datetime(2026, 3, day, hour, minute, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    return local.astimezone(dt.UTC).isoformat()


def live(connectivity: str, last_seen: str | None = None, playing: str | None = None,
         volume: int | None = None, amp_on: bool | None = None,
         software: str | None = None, clock_offset_us: int | None = None) -> dict[str, Any]:
    return {"connectivity": connectivity, "last_seen": last_seen, "playing": playing,
            "volume": volume, "amp_on": amp_on, "software": software,
            "clock_offset_us": clock_offset_us}


def agent(agent_id: str, cluster: str, village: str, status: str,
          state: dict[str, Any]) -> dict[str, Any]:
    return {"id": agent_id, "commune": COMMUNE, "cluster": cluster, "village": village,
            "status": status, "serial": None, "sim_iccid": None, "imei": None,
            "install_date": None, "latitude": None, "longitude": None, "notes": None,
            "created_at": at(8, 0, 1), "enrolled_at": at(8, 5, 1), "revoked_at": None,
            "has_key": status == "active", "live": state}


def unit(key: str, level: str, name: str, parent: str | None) -> dict[str, Any]:
    return {"key": key, "level": level, "name": name, "parent": parent, "code": None,
            "valid_from": "2025-07-01", "valid_to": None, "merged_into": None}


UNITS = [
    unit(COMMUNE, "commune", "Xã Demo", None),
    unit("thon-dong", "village", "Thôn Đông", COMMUNE),
    unit("thon-tay", "village", "Thôn Tây", COMMUNE),
    unit("thon-bac", "village", "Thôn Bắc", COMMUNE),
]
CLUSTERS = [
    {"commune": COMMUNE, "key": "c-dong-1", "name": "Cụm 1", "kind": "ip",
     "station": "st-1", "village": "thon-dong", "agent": "ag-dong1", "created_at": at(8, 0, 1)},
    {"commune": COMMUNE, "key": "c-dong-2", "name": "Cụm 2", "kind": "wired",
     "station": "st-1", "village": "thon-dong", "agent": None, "created_at": at(8, 0, 1)},
    {"commune": COMMUNE, "key": "c-tay-1", "name": "Cụm 1", "kind": "ip",
     "station": "st-1", "village": "thon-tay", "agent": "ag-tay1", "created_at": at(8, 0, 1)},
    {"commune": COMMUNE, "key": "c-bac-1", "name": "Cụm 1", "kind": "ip",
     "station": "st-1", "village": "thon-bac", "agent": "ag-bac1", "created_at": at(8, 0, 1)},
]
AGENTS = [
    agent("ag-bac1", "c-bac-1", "thon-bac", "pending", live("unknown")),
    agent("ag-dong1", "c-dong-1", "thon-dong", "active",
          live("online", at(10, 4), "Tin thời tiết", 70, True, "loaxa-agent 0.1.0", 2300)),
    agent("ag-tay1", "c-tay-1", "thon-tay", "active",
          live("offline", at(21, 40, 1), None, 55, False, "loaxa-agent 0.1.0", None)),
]
ALERTS = [
    {"id": 7, "commune": COMMUNE, "kind": "alert_agent_offline", "subject": "ag-tay1",
     "raised_at": at(21, 50, 1), "cleared_at": None, "detail": {}},
    {"id": 8, "commune": COMMUNE, "kind": "alert_airing_missed", "subject": "thon-tay",
     "raised_at": at(10, 1), "cleared_at": None, "detail": {}},
]


def entry(slot: str, title: str, start: str, end: str, priority: str = "normal"
          ) -> dict[str, Any]:
    return {"slot_id": slot, "programme": slot, "title": title, "start": start, "end": end,
            "duration_ms": 0, "content": "ab" * 32, "content_title": title,
            "priority": priority, "policy": "preempt", "fragment": False, "session": None,
            "agents": ["ag-dong1", "ag-tay1"], "villages": ["thon-dong", "thon-tay"]}


TIMELINE = {
    "commune": COMMUNE, "day": "2026-03-02", "tz": "Asia/Ho_Chi_Minh",
    "start": at(0, 0), "end": at(0, 0, 3),
    "entries": [entry("s-1", "Tiếp sóng VOV", at(5, 0), at(5, 30)),
                entry("s-2", "Tin thời tiết", at(10, 0), at(10, 15), "priority"),
                entry("s-3", "Bản tin chiều", at(17, 0), at(17, 20))],
    "emergencies": [], "notices": [], "agents": ["ag-dong1", "ag-tay1"],
}
TELEMETRY = {
    "agent_id": "ag-dong1", "online": True, "last_seen": at(10, 4),
    "heartbeat": {"uptime_s": 7500, "disk_free_mb": 11800, "volume": 70, "amp_on": True,
                  "playing": "Tin thời tiết", "clock_source": 1, "clock_offset_us": 2300,
                  "link": {"tx_bytes": 1, "rx_bytes": 2, "reconnects": 0, "rssi_dbm": -71},
                  "backlog_records": 0, "backlog_oldest_s": 0, "cpu_temp_dc": 481},
    "telemetry": {"cache": {"items": 12, "bytes": 1, "quota_bytes": 2, "missing": 0}},
}
JOURNAL = [
    {"seq": 9, "kind": "play", "at": at(9, 30), "time_trusted": True, "code": "aired",
     "detail": "s-0"},
    {"seq": 8, "kind": "event", "at": at(8, 12), "time_trusted": True, "code": "cmd-volume",
     "detail": "70"},
    {"seq": 2, "kind": "interval_open", "at": at(7, 55), "time_trusted": True,
     "code": "sink", "detail": ""},
    {"seq": 1, "kind": "boot", "at": at(7, 54), "time_trusted": False, "code": "boot",
     "detail": "loaxa-agent 0.1.0"},
]
ISSUED = {"code": "K7QX-M3PD-W9TA", "agent_id": "ag-moi1", "commune": COMMUNE,
          "cluster": "c-bac-1", "expires_at": at(10, 5, 5),
          "command": "loaxa agent enroll --endpoint=tcp://dai.xa-demo.vn:7712 "
                     "'--server-key=rq:Fx3-tx.}9dC' --code=K7QX-M3PD-W9TA"}
ME = {"username": "canbo", "display_name": "Cán bộ", "unix_user": None, "language": None,
      "disabled": False, "has_password": True, "created_at": at(8, 0, 1),
      "grants": [{"unit": COMMUNE, "level": "commune", "role": "operator",
                  "emergency": True, "granted_at": at(8, 0, 1)}]}


class FrozenConnection(Connection):
    """Answers from the tables above; records what was sent."""

    def __init__(self) -> None:
        super().__init__(lambda: ApiClient(socket=None))
        self.sent: list[tuple[str, str, Any]] = []
        self.down = False  # True: every call fails as if the controller were unreachable
        self.routes: dict[tuple[str, str], Any] = {
            ("GET", "/me"): ME, ("GET", "/units"): UNITS, ("GET", "/clusters"): CLUSTERS,
            ("GET", "/agents"): AGENTS, ("GET", "/alerts"): ALERTS,
            ("GET", f"/communes/{COMMUNE}/timeline"): TIMELINE,
        }
        self.routes[("POST", f"/communes/{COMMUNE}/enrolment-codes")] = ISSUED
        for a in AGENTS:
            self.routes[("GET", f"/agents/{a['id']}")] = a
            self.routes[("GET", f"/agents/{a['id']}/telemetry")] = (
                TELEMETRY if a["id"] == "ag-dong1" else
                {"agent_id": a["id"], "online": False, "last_seen": None, "heartbeat": {},
                 "telemetry": {}})
            self.routes[("GET", f"/agents/{a['id']}/journal")] = (
                JOURNAL if a["id"] == "ag-dong1" else [])

    async def call(self, method: str, path: str, *, body: Any = None,
                   params: Mapping[str, Any] | None = None) -> Any:
        self.sent.append((method, path, body))
        if self.down:
            self.last_error = "Cannot reach the controller"
            self._set_online(False)
            raise ApiError("unreachable", "unreachable")
        try:
            answer = self.routes[(method, path)]
        except KeyError:
            raise ApiError("not here", "not_found") from None
        self._set_online(True)
        return answer
