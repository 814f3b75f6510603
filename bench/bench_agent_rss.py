"""Benchmark: the real agent process's memory, idle and while playing (issue 4).

Workload: one real ``python -m agent run -c FILE`` (the systemd unit's command),
provisioned as enrolment would (``tests/support/agent_process.py``) against a real
Mosquitto with loaxa's TLS/auth/ACL configuration, on the production defaults (60 s
heartbeat, 300 s extensions, 120 s keepalive), with the playout engine the service runs
(``agent.broadcaster.Broadcaster``: cache, fetcher, engine) on the clocked stand-in sound
card (``audio.sink = fake``: a real sink's timing without a sound card) and the fake
amplifier relay. Its data-plane endpoint points at a closed port, so the fetcher exists
and retries, as in the field when the controller is away.

1. **Idle**: ``--idle-s`` seconds after the agent reports itself started.
2. **Playing**: a signed, retained emergency document (commune-wide) asks it to air a
   cached ``--item-s`` item (Ogg/Opus 24 kbit/s pink noise, put in the agent's cache
   beforehand), with the attention tone; RSS is sampled every 0.5 s while it plays, and
   the journal's play record proves it aired.

Reported: VmRSS and PSS (``/proc/PID/smaps_rollup``: shared pages divided among the
processes that map them), VmHWM, and CPU. Target: <= 50 MB RSS.

    .venv/bin/python bench/bench_agent_rss.py
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.cache import Cache  # noqa: E402
from bench.fleetrig import machine, proc_cpu_s, proc_rss_kb  # noqa: E402
from controller.broker.accounts import Role  # noqa: E402
from protocols.envelope import Domain, Signer  # noqa: E402
from protocols.keys import SigningIdentity  # noqa: E402
from protocols.messages import Emergency, Play, PlayOutcome  # noqa: E402
from protocols.topics import DocKind, document_topic  # noqa: E402
from tests.playout.media import noise_item  # noqa: E402
from tests.support.agent_process import AgentProcess, provision  # noqa: E402
from tests.support.broker import running_broker  # noqa: E402

COMMUNE = "xa-rss"
AGENT = "ag-rss-1"
PRODUCTION = {"clock__trust": "always", "audio__sink": "fake", "amplifier__driver": "fake"}


def pss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def sample(pid: int, seconds: float, every: float = 0.5) -> dict[str, float]:
    rss, pss = [], []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rss.append(proc_rss_kb(pid)[0])
        pss.append(pss_kb(pid))
        time.sleep(every)
    return {"rss_mb_last": rss[-1] / 1024, "rss_mb_max": max(rss) / 1024,
            "pss_mb_last": pss[-1] / 1024, "pss_mb_max": max(pss) / 1024}


def plays(journal: Path) -> list[Play]:
    conn = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT body FROM records WHERE kind = 7").fetchall()
    finally:
        conn.close()
    import msgspec

    return [msgspec.msgpack.decode(bytes(body), type=Play) for (body,) in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--idle-s", type=float, default=90.0)
    parser.add_argument("--item-s", type=float, default=120.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    info = machine()
    print(f"machine: {info['nproc']} x {info['cpu']}, Linux {info['kernel']}, Python "
          f"{info['python']}, load average {info['loadavg'][0]:.2f} at the start", flush=True)
    identity = SigningIdentity.generate()
    signer = Signer(identity, 1)
    result: dict = {"machine": info}
    with tempfile.TemporaryDirectory(prefix="loaxa-rss-") as tmp, \
            running_broker(Path(tmp) / "broker") as broker:
        root = Path(tmp)
        broker.add("ctl", Role.CONTROLLER, COMMUNE)
        agent = provision(broker, root / "agents", COMMUNE, AGENT, identity)
        media = root / "media"
        media.mkdir()
        item = noise_item(media, args.item_s)
        Cache(agent.data_dir / "cache", 512 * 1024 * 1024).put(item.sha,
                                                              item.path.read_bytes())
        process = AgentProcess(agent, settings=dict(PRODUCTION))
        process.start()
        try:
            process.wait_started(60)
            started = time.monotonic()
            cpu0 = proc_cpu_s(process.pid)
            idle = sample(process.pid, args.idle_s)
            idle_cpu = proc_cpu_s(process.pid) - cpu0
            idle_elapsed = time.monotonic() - started
            print(f"idle ({idle_elapsed:.0f} s): RSS {idle['rss_mb_last']:.1f} MB (max "
                  f"{idle['rss_mb_max']:.1f}), PSS {idle['pss_mb_last']:.1f} MB, CPU "
                  f"{idle_cpu:.2f} s", flush=True)
            topic = document_topic(COMMUNE, DocKind.EMERGENCY)
            now = time.time_ns()
            emergency = Emergency(version=1, issued_ns=now, emergency_id="bench-storm",
                                  active=True, content=item.sha, villages=[],
                                  started_ns=now, repeat_every_s=0, volume=90,
                                  attention_tone=True)
            with broker.client("ctl") as ctl:
                assert ctl.connected.wait(10)
                ctl.publish(topic, signer.seal(Domain.DOCUMENT, topic, emergency), retain=True)
                cpu1 = proc_cpu_s(process.pid)
                playing = sample(process.pid, args.item_s + 8)
                play_cpu = proc_cpu_s(process.pid) - cpu1
                stop = Emergency(version=2, issued_ns=time.time_ns(),
                                 emergency_id="bench-storm", active=False, content=None,
                                 villages=[], started_ns=now)
                ctl.publish(topic, signer.seal(Domain.DOCUMENT, topic, stop), retain=True)
                time.sleep(2)
            _rss, hwm = proc_rss_kb(process.pid)
            print(f"playing ({args.item_s:.0f} s item + attention tone): RSS max "
                  f"{playing['rss_mb_max']:.1f} MB, PSS max {playing['pss_mb_max']:.1f} MB, "
                  f"CPU {play_cpu:.2f} s; VmHWM over the whole run {hwm / 1024:.1f} MB",
                  flush=True)
        finally:
            code = process.terminate()
        aired = plays(agent.journal_path)
        outcomes = [PlayOutcome(p.outcome).name for p in aired]
        print(f"play records in the journal: {outcomes}; agent exit code {code}")
        log_tail = process.log_text()[-2000:]
    ok = any(p.outcome == PlayOutcome.AIRED for p in aired)
    if not ok:
        print(f"the item was not aired; agent log tail:\n{log_tail}")
    result.update(idle=idle, idle_cpu_s=round(idle_cpu, 2), idle_s=round(idle_elapsed),
                  playing=playing, playing_cpu_s=round(play_cpu, 2), vmhwm_mb=hwm / 1024,
                  plays=outcomes)
    worst = max(idle["rss_mb_max"], playing["rss_mb_max"], hwm / 1024)
    print(f"\nagent RSS: idle {idle['rss_mb_last']:.1f} MB, playing up to "
          f"{playing['rss_mb_max']:.1f} MB, high-water mark {hwm / 1024:.1f} MB (target "
          f"<= 50 MB: {'met' if worst <= 50 else 'MISSED'})")
    if args.json:
        print(json.dumps(result, default=str))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
