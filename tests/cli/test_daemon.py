"""The whole station as an operator runs it: ``loaxa admin init``, ``loaxa controller run``
with its embedded Mosquitto, the CLI over the local socket, an agent claiming its code
over ZeroMQ, revocation cutting it off the broker, a backup, a clean stop, and a restore
that moves the signing epoch forward."""

from __future__ import annotations

import shlex
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq
import zmq.utils.z85

from agent.enroll import claim
from agent.identity import CurveIdentity
from tests.station.enrolment_rig import MqttProbe
from tests.support.station_process import Operator, running_station

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def station(tmp_path: Path) -> Iterator[tuple[Operator, subprocess.Popen[str], Path]]:
    with running_station(tmp_path) as running:
        yield running


def test_station_end_to_end(station: tuple[Operator, subprocess.Popen[str], Path]) -> None:
    operator, daemon, log = station
    assert operator.json("whoami")["username"] == "admin"
    operator.json("units", "create", "thon-1", "--level", "village", "--name", "Thôn 1",
                  "--parent", "xa-demo")
    operator.json("stations", "create", "xa-demo", "st-1", "--name", "Đài xã", "--kind", "ip")
    operator.json("clusters", "create", "xa-demo", "c-1", "--name", "Cụm 1", "--kind", "ip",
                  "--station", "st-1", "--village", "thon-1")
    issued = operator.json("enrol", "issue", "xa-demo", "--cluster", "c-1")
    words = shlex.split(issued["command"])
    options = dict(word.split("=", 1) for word in words if word.startswith("--"))
    endpoint = options["--endpoint"]
    server_key = zmq.utils.z85.decode(options["--server-key"])

    public, secret = zmq.curve_keypair()
    device = CurveIdentity(zmq.utils.z85.decode(public), zmq.utils.z85.decode(secret))
    granted = claim(endpoint, server_key, issued["code"], device, timeout_s=15)
    assert (granted.commune, granted.village, granted.cluster) == ("xa-demo", "thon-1", "c-1")
    agent = operator.json("agents", "show", granted.agent_id)
    assert agent["status"] == "active" and agent["has_key"]

    probe = MqttProbe(granted.broker)
    try:
        assert probe.connected.wait(15), log.read_text()
        revoked = operator.json("agents", "revoke", granted.agent_id, "--yes")
        assert revoked["broker_synced"]
        assert probe.disconnected.wait(5), "the revoked agent is still on the broker"
    finally:
        probe.close()
    actions = {e["action"] for e in operator.json("audit", "--limit", "100")["entries"]}
    assert {"enrolment.issue", "agent.claim", "agent.revoke", "cluster.create"} <= actions

    backup = operator.json("backup", "now")
    epoch = operator.json("keys", "list", "xa-demo")["epoch"]
    daemon.send_signal(signal.SIGTERM)
    assert daemon.wait(20) == 0, log.read_text()
    assert "Traceback" not in log.read_text()

    restore = operator.json("backup", "restore", str(Path(log.parent, "data", "backups",
                                                          backup["name"])), "--yes")
    assert restore["epochs"] == {"xa-demo": epoch + 1}
