"""An agent process that comes back in the middle of an emergency joins in.

The emergency is a retained, signed document: the agent was cut off (a dead 4G cell)
when it was declared, so it learns of it only when it reconnects, and must then air it
from its cache at once, and prove it with a play record. (The controller's side — the
CLI/API starting an emergency whose retained document reaches an agent that reconnects
halfway — is ``tests/scheduling/test_e2e.py``.)
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from protocols.envelope import Domain, Signer
from protocols.keys import SigningIdentity
from protocols.messages import Emergency, Play, PlayOutcome
from protocols.topics import DocKind, document_topic
from tests.playout.media import noise_item
from tests.support.agent_process import FAST, AgentProcess, provision
from tests.support.broker import RunningBroker
from tests.support.fleet_double import FleetDouble
from tests.support.netem import relay_to
from tests.support.recordings import heard, recordings_in, wall_minus_boottime

pytestmark = pytest.mark.e2e

COMMUNE = "xa-em"


def plays(double: FleetDouble, agent_id: str) -> list[Play]:
    return [r for jid in double.journal_ids(agent_id)
            for r in double.records(agent_id, jid).values() if isinstance(r, Play)]


def test_an_agent_back_mid_emergency_airs_it(tmp_path: Path, broker: RunningBroker) -> None:
    identity = SigningIdentity.generate()
    signer = Signer(identity, 1)
    agent = provision(broker, tmp_path, COMMUNE, "ag-em1", identity)
    item = noise_item(tmp_path, 2.0, seed=5)
    items = agent.data_dir / "cache" / "items"
    items.mkdir(parents=True)
    shutil.copy(item.path, items / item.sha.hex())  # pre-distributed earlier, as usual
    with relay_to(broker.port) as relay, FleetDouble(broker, COMMUNE, signer) as double:
        process = AgentProcess(agent, settings={
            **FAST, "broker__port": str(relay.port), "audio__record_dir": "recordings"})
        process.start()
        try:
            assert double.wait_for(lambda: len(double.heartbeats) >= 2, 30), \
                process.log_text()[-3000:]
            relay.partition("blackhole")
            time.sleep(1.0)
            topic = document_topic(COMMUNE, DocKind.EMERGENCY)
            started = time.time_ns()
            emergency = Emergency(version=1, issued_ns=started, emergency_id="bao-so-3",
                                  active=True, content=item.sha, villages=[],
                                  started_ns=started, repeat_every_s=600, volume=100,
                                  attention_tone=False)
            double.client.publish(topic, signer.seal(Domain.DOCUMENT, topic, emergency),
                                  qos=1, retain=True).wait_for_publish(10)
            time.sleep(2.0)  # the emergency is on the air elsewhere; this box hears nothing
            assert not any(r.segments for r in recordings_in(agent.data_dir / "recordings"))
            healed = time.time_ns()
            relay.heal()
            assert double.wait_for(lambda: any(
                p.content == item.sha for p in plays(double, agent.agent_id)), 40), \
                process.log_text()[-3000:]
            [play] = [p for p in plays(double, agent.agent_id) if p.content == item.sha]
            assert play.outcome is PlayOutcome.AIRED and play.first_sample_ns is not None
            assert play.first_sample_ns > healed
            # The audio truth: the item, heard after the link came back.
            offset = wall_minus_boottime()
            found = heard(recordings_in(agent.data_dir / "recordings"), item.decoded(),
                          play.first_sample_ns - offset)
            assert found.first_mono_ns + offset > healed
            assert abs(found.first_mono_ns + offset - play.first_sample_ns) < 50_000_000
            assert found.matching >= 0.8, found
            stop = Emergency(version=2, issued_ns=time.time_ns(), emergency_id="bao-so-3",
                             active=False, content=item.sha, villages=[], started_ns=started)
            double.client.publish(topic, signer.seal(Domain.DOCUMENT, topic, stop), qos=1,
                                  retain=True).wait_for_publish(10)
        finally:
            code = process.terminate()
    assert code == 0
    assert "Traceback" not in process.log_text()
