"""An agent process restarted around an airing: what aired is not aired again; what was
cut by a crash joins its neighbours, restarts within the grace, or is missed (DESIGN §3,
issue 6 item 7).

Real agent processes on the clocked fake card, a real broker, the plan a signed document;
the journal's play records (as the station receives them) say what the agent decided,
the card's recording of the second run says what was heard.
"""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import pytest

from agent.broadcaster import Recording
from protocols.envelope import Domain, Signer
from protocols.keys import SigningIdentity
from protocols.messages import HardTimePolicy, Plan, PlanSlot, Play, PlayOutcome, Priority
from protocols.topics import DocKind, document_topic
from tests.playout.media import Item, noise_item
from tests.support.agent_process import FAST, AgentProcess, ProvisionedAgent, provision
from tests.support.broker import RunningBroker
from tests.support.fleet_double import FleetDouble
from tests.support.recordings import heard, recordings_in, wall_minus_boottime

pytestmark = pytest.mark.e2e

COMMUNE = "xa-restart"
S = 1_000_000_000
MS = 1_000_000
RATE = 48_000


def plays(double: FleetDouble, agent_id: str, slot_id: str) -> list[Play]:
    return [r for jid in double.journal_ids(agent_id)
            for r in double.records(agent_id, jid).values()
            if isinstance(r, Play) and r.slot_id == slot_id]


def cached(agent: ProvisionedAgent, *items: Item) -> None:
    folder = agent.data_dir / "cache" / "items"
    folder.mkdir(parents=True, exist_ok=True)
    for item in items:  # pre-distributed earlier, as usual
        shutil.copy(item.path, folder / item.sha.hex())


def plan_slot(slot_id: str, item: Item, start_ns: int, *, duration_s: float,
              peers: int = 0) -> PlanSlot:
    return PlanSlot(slot_id=slot_id, programme="ban-tin", start_ns=start_ns, content=item.sha,
                    duration_ms=round(duration_s * 1000), priority=Priority.NORMAL,
                    policy=HardTimePolicy.PREEMPT, window_end_ns=start_ns + 60 * S,
                    village_peers=peers)


def publish_plan(double: FleetDouble, signer: Signer, agent: ProvisionedAgent,
                 slots: list[PlanSlot]) -> None:
    now = time.time_ns()
    topic = document_topic(COMMUNE, DocKind.PLAN, agent.agent_id)
    plan = Plan(version=1, issued_ns=now, agent_id=agent.agent_id, tz="Asia/Ho_Chi_Minh",
                horizon_end_ns=now + 7 * 86_400 * S, slots=slots)
    double.client.publish(topic, signer.seal(Domain.DOCUMENT, topic, plan), qos=1,
                          retain=True).wait_for_publish(10)


def second_run(agent: ProvisionedAgent, process: AgentProcess) -> list[Recording]:
    runs = [r for r in recordings_in(agent.data_dir / "recordings") if r.pid == process.pid]
    assert len(runs) == 1, [r.pid for r in recordings_in(agent.data_dir / "recordings")]
    return runs


def test_a_slot_that_aired_is_not_aired_again_after_a_restart(
        tmp_path: Path, broker: RunningBroker) -> None:
    identity = SigningIdentity.generate()
    signer = Signer(identity, 1)
    agent = provision(broker, tmp_path, COMMUNE, "ag-aired", identity)
    bulletin, later = noise_item(tmp_path, 2.0, seed=31), noise_item(tmp_path, 2.0, seed=32)
    cached(agent, bulletin, later)
    with FleetDouble(broker, COMMUNE, signer) as double:
        process = AgentProcess(agent, settings={**FAST, "audio__record_dir": "recordings"})
        process.start()
        try:
            assert double.wait_for(lambda: len(double.heartbeats_of(agent.agent_id)) >= 1,
                                   40), process.log_text()[-3000:]
            t = time.time_ns() + 3 * S
            # The bulletin's slot is 30 s long, its audio 2 s: a restart a few seconds
            # after it aired still falls inside the slot (and inside the 30 s grace), so
            # only the journal can tell the new run that it already aired.
            publish_plan(double, signer, agent, [
                plan_slot("ban-tin-sang", bulletin, t, duration_s=30.0),
                plan_slot("ban-tin-tiep", later, t + 16 * S, duration_s=2.0)])
            assert double.wait_for(lambda: plays(double, agent.agent_id, "ban-tin-sang"), 40), \
                process.log_text()[-3000:]
            assert process.terminate() == 0
            process.start()
            process.wait_started()
            restarted = time.time_ns()
            assert restarted < t + 14 * S, "the restart came too late to show anything"
            assert double.wait_for(lambda: plays(double, agent.agent_id, "ban-tin-tiep"), 40), \
                process.log_text()[-3000:]
            time.sleep(0.5)  # a second record of the first slot would have come with it
        finally:
            process.terminate()
    [first] = plays(double, agent.agent_id, "ban-tin-sang")
    [then] = plays(double, agent.agent_id, "ban-tin-tiep")
    assert first.outcome is PlayOutcome.AIRED and first.first_sample_ns is not None
    assert first.first_sample_ns < restarted
    assert then.outcome is PlayOutcome.AIRED, then  # the new run airs its plan...
    # ...and what its card presented is the later slot alone, from its start on.
    offset = wall_minus_boottime()
    segments = [s for r in second_run(agent, process) for s in r.segments]
    assert segments, "the second run presented nothing"
    assert min(start for start, _ in segments) + offset > t + 16 * S - 5 * MS
    found = heard(second_run(agent, process), later.decoded(), t + 16 * S - offset)
    assert found.matching >= 0.8, found


CASES = ("restart", "join", "missed", "stopped")


def test_an_agent_cut_while_airing_rejoins_per_the_design(
        tmp_path: Path, broker: RunningBroker) -> None:
    """A crash (or a power cut) mid-airing leaves no play record: the restarted agent
    finds the slot running. Unshared, it restarts it from the start within the grace
    (here 30 s: "restart") or misses it beyond (here 1 s: "missed"); shared with village
    peers, it joins them at the sample they are airing ("join"). A clean stop ("stopped":
    an upgrade, an operator's restart) records the cut airing PARTIAL, and the next run
    still restarts it. Four agents, one per case, go through it side by side."""
    identity = SigningIdentity.generate()
    signer = Signer(identity, 1)
    bulletin, later = noise_item(tmp_path, 12.0, seed=33), noise_item(tmp_path, 1.0, seed=34)
    agents = {case: provision(broker, tmp_path / case, COMMUNE, f"ag-{case}", identity)
              for case in CASES}
    processes = {}
    for case, agent in agents.items():
        cached(agent, bulletin, later)
        processes[case] = AgentProcess(agent, settings={
            **FAST, "audio__record_dir": "recordings",
            "audio__grace_s": "1" if case == "missed" else "30"})
    with FleetDouble(broker, COMMUNE, signer) as double:
        try:
            for process in processes.values():
                process.start()
            for agent in agents.values():
                assert double.wait_for(lambda a=agent: len(double.heartbeats_of(a.agent_id))
                                       >= 1, 40), processes_log(processes)
            t = time.time_ns() + 3 * S
            for case, agent in agents.items():
                publish_plan(double, signer, agent, [
                    plan_slot("ban-tin", bulletin, t, duration_s=12.0,
                              peers=2 if case == "join" else 0),
                    plan_slot("ban-tin-tiep", later, t + 20 * S, duration_s=1.0)])
            for agent in agents.values():
                assert double.wait_for(lambda a=agent: any(
                    hb.playing == "ban-tin" for _, hb in double.heartbeats_of(a.agent_id)),
                    30), processes_log(processes)
            time.sleep(max(0.0, (t + 2 * S - time.time_ns()) / S))
            for case, process in processes.items():
                if case == "stopped":  # mid-airing: recorded PARTIAL, "engine stopped"
                    process.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
                else:
                    process.kill9()  # mid-airing: its play record was never written
            assert processes["stopped"].proc.wait(15) == 0  # type: ignore[union-attr]
            restarted = {}  # when each new run began: what it airs comes after
            for case, process in processes.items():
                restarted[case] = time.time_ns()
                process.start()
            for process in processes.values():
                process.wait_started()
            assert time.time_ns() < t + 8 * S, "the restarts came too late to show anything"
            for agent in agents.values():
                assert double.wait_for(lambda a=agent: plays(double, a.agent_id,
                                                             "ban-tin-tiep"), 40), \
                    processes_log(processes)
        finally:
            for process in processes.values():
                process.terminate()
    for case, agent in agents.items():
        check_second_run(double, agent, processes[case], case, bulletin, t, restarted[case])


def processes_log(processes: dict[str, AgentProcess]) -> str:
    return "\n".join(f"--- {case}\n{p.log_text()[-1500:]}" for case, p in processes.items())


def check_second_run(double: FleetDouble, agent: ProvisionedAgent, process: AgentProcess,
                     case: str, bulletin: Item, t: int, restarted: int) -> None:
    records = plays(double, agent.agent_id, "ban-tin")
    if case == "stopped":
        assert len(records) == 2, records
        cut, play = records  # the first run's PARTIAL, then the second run's
        assert cut.outcome is PlayOutcome.PARTIAL and cut.reason == "engine stopped", cut
        assert cut.first_sample_ns is not None and cut.first_sample_ns < restarted
        case = "restart"  # and from here on it is exactly the crash's restart
    else:
        [play] = records  # the second run's: the first left none
    assert plays(double, agent.agent_id, "ban-tin-tiep")[0].outcome is PlayOutcome.AIRED
    offset = wall_minus_boottime()
    runs = second_run(agent, process)
    reference = bulletin.decoded()
    if case == "missed":
        assert play.outcome is PlayOutcome.MISSED, play
        assert "beyond the 1 s grace" in play.reason, play.reason
        assert play.first_sample_ns is None
        # nothing of it heard: the second run's card presented only the later slot
        assert min(start for r in runs for start, _ in r.segments) + offset > t + 20 * S - 5 * MS
    elif case == "restart":
        assert play.outcome is PlayOutcome.AIRED, play
        assert play.reason.startswith("started ") and play.reason.endswith(
            "s late (within grace)"), play.reason
        assert play.first_sample_ns is not None and play.first_sample_ns > restarted
        found = heard(runs, reference, play.first_sample_ns - offset)  # from its sample 0
        assert found.matching >= 0.8, found
    else:
        assert play.outcome is PlayOutcome.PARTIAL, play
        assert play.reason.startswith("joined at +") and play.reason.endswith(
            "(village peers airing)"), play.reason
        joined_s = float(play.reason.split("+")[1].split(" ")[0])
        due = t + round(joined_s * S)  # where the neighbours are in the item by then
        assert due > restarted and play.first_sample_ns is not None
        assert abs(play.first_sample_ns - due) < 5 * MS, (play.first_sample_ns - due) / MS
        sample = round(joined_s * RATE)
        found = heard(runs, reference[sample * 2:], due - offset)
        assert found.matching >= 0.8, found
        assert abs(found.first_mono_ns + offset - due) < 20 * MS, found.first_mono_ns
