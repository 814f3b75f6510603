"""Alerts as API events, end to end: a real station (``loaxa controller run`` with its
embedded Mosquitto) raises an alert, a ``/v1/events`` WebSocket client receives it,
``/v1/alerts`` lists it open; the operator fixes the cause, and the client receives its
clearing while ``/v1/alerts`` shows it cleared.

The alert is "village not reached": a village whose only cluster is a wired one nobody
has attested fails indicator 1 at once (no threshold to wait out), and the operator's
attestation (``loaxa attest cluster``) is what reaches it again.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from websockets.sync.client import ClientConnection, unix_connect

from tests.support.station_process import running_station

pytestmark = pytest.mark.e2e
BOUND_S = 90  # for a loaded CI machine; the evaluator runs every 5 s


def next_event(events: ClientConnection, wanted: str, deadline: float) -> dict[str, Any]:
    """The next event of kind ``wanted`` (others, e.g. audit records, are passed over)."""
    while True:
        left = deadline - time.monotonic()
        assert left > 0, f"no {wanted} event within {BOUND_S} s"
        try:
            event = json.loads(events.recv(timeout=left))
        except TimeoutError:
            continue
        if event["kind"] == wanted:
            return event


def test_an_alert_reaches_websocket_clients_and_the_alert_list_then_clears(
        tmp_path: Path) -> None:
    config = "\n[alerts]\ninterval_s = 5\nvillage_days = 1\n"
    with running_station(tmp_path, config) as (operator, _daemon, log):
        socket = tmp_path / "data" / "api.sock"
        with unix_connect(str(socket), uri="ws://loaxa/v1/events",
                          open_timeout=10) as events:
            operator.json("units", "create", "thon-1", "--level", "village", "--name",
                          "Thôn 1", "--parent", "xa-demo")
            operator.json("stations", "create", "xa-demo", "st-1", "--name", "Đài xã",
                          "--kind", "wired")
            operator.json("clusters", "create", "xa-demo", "c-1", "--name", "Cụm 1",
                          "--kind", "wired", "--station", "st-1", "--village", "thon-1")
            raised = next_event(events, "alert_village_unreached",
                                time.monotonic() + BOUND_S)
            assert (raised["commune"], raised["subject"], raised["village"]) == \
                ("xa-demo", "thon-1", "thon-1")
            listed = operator.json("alerts", "--open")
            assert [(a["id"], a["kind"], a["subject"], a["cleared_at"]) for a in listed] == \
                [(raised["alert_id"], "alert_village_unreached", "thon-1", None)]

            # The operator attests the wired cluster from yesterday (station's days).
            today = dt.datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date()
            operator.json("attest", "cluster", "xa-demo", "c-1", "--from",
                          (today - dt.timedelta(days=1)).isoformat(), "--note", "kiểm tra")
            cleared = next_event(events, "alert_cleared", time.monotonic() + BOUND_S)
            assert (cleared["alert_id"], cleared["alert_kind"], cleared["subject"]) == \
                (raised["alert_id"], "alert_village_unreached", "thon-1")
        assert operator.json("alerts", "--open") == []
        everything = operator.json("alerts")
        assert [(a["id"], a["cleared_at"] is not None) for a in everything] == \
            [(raised["alert_id"], True)]
        assert "Traceback" not in log.read_text()
