"""Benchmark: many agents airing one item in sync, on clocked fake sinks (issue 6).

Workload: N playout engines (default 50, split over P processes, default 2 = one per
core), each an agent box whose one crystal runs a drift spread evenly over +-100 ppm (its
monotonic and wall clocks) and whose wall clock starts off by an offset drawn uniformly
from +-500 ms (``bench/clockworld.py``); each plays on a ``ClockedFakeSink`` whose crystal
has the same drift against true time, stamping presentation on the box's monotonic clock.
The engine's Clock (``--clock``):

* ``exchange`` (default): the clock-exchange estimate — a real ``agent.clocksync``
  ``ExchangeClock`` fed by a real ``ClockSyncClient`` (CURVE DEALER) asking a real
  controller ``TimeService`` (CURVE ROUTER, its ZAP handler allowing the bench agents'
  keys) in the parent process, through the userspace relay with ``--link-delay-ms`` plus
  uniform ``--link-jitter-ms`` each way (default 5 + 0..5 ms), polling as an agent does
  by default (a burst of 8 at 1 s, then growing x1.5 to every 16 s) with the estimator's
  production configuration. The clients start from nothing ``--converge-s`` (default
  300 s) before T: an agent booted five minutes before the bulletin;
* ``oracle``: the box's monotonic clock mapped to true time exactly (what a perfect
  exchange would give), for comparison.

All engines air the same item (default 10 minutes of pink noise, Ogg/Opus 24 kbit/s) at
the same true instant T. Then ``--trials`` emergencies are injected (content cached but
not kept ready, amplifier already on, no attention tone) by calling ``play_now``: the
engine alone, many to a process.

``--emergency-only`` measures what issue 6 names instead, on real agents: from the
agent *accepting* a signed emergency document to the first emergency sample its card
presents (``bench/emergencyworld.py``). ``--agents`` (default 10) real ``AgentService``s
behind a real Mosquitto, by default each in a process of its own (one engine per
process, as deployed; ``--processes`` fewer for contention), amplifier already on.
``--trials`` (default 20) commune-wide emergencies alternate between a pinned item
(kept ready by every agent) and one that is only cached; each airs 1 s, then is stopped.

Measured from the audio truth: each sink's recording is cross-correlated with the decoded
item to find when sample 0 (start) and the sample 5 s before the end were presented, on
the true monotonic clock; emergency latency is from ``play_now`` to the first non-silent
frame each sink presented. The clock estimate's own error against true time is read just
before T and at the end probe.

    .venv/bin/python bench/bench_playout.py                      # the recorded run
    .venv/bin/python bench/bench_playout.py --clock oracle       # the comparison
    .venv/bin/python bench/bench_playout.py --agents 10 --item-seconds 60 --converge-s 30
    .venv/bin/python bench/bench_playout.py --footprint          # one agent: RSS, CPU,
                                                                 # and the decoder options
    .venv/bin/python bench/bench_playout.py --emergency-only     # 10 agent processes
    .venv/bin/python bench/bench_playout.py --emergency-only --agents 50 --processes 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from itertools import combinations
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import zmq  # noqa: E402

from agent.clocksync import ClockSyncClient, ExchangeClock, PollConfig  # noqa: E402
from agent.identity import CurveIdentity  # noqa: E402
from agent.playout import EmergencyRequest, EngineConfig, PlayoutEngine  # noqa: E402
from agent.playout.pcm import RATE  # noqa: E402
from agent.playout.relay import FakeRelay  # noqa: E402
from agent.playout.sinks import ClockedFakeSink  # noqa: E402
from bench.clockworld import (  # noqa: E402
    DriftingClock,
    OracleClock,
    WarningCounter,
    clock_error_ns,
    load_key,
    make_keys,
    time_service,
)
from protocols.clock import Clock, SystemClock  # noqa: E402
from protocols.messages import Play, PlayOutcome  # noqa: E402
from tests.playout.audio_compare import best_lag  # noqa: E402
from tests.playout.media import Item, noise_item  # noqa: E402
from tests.playout.rig import slot  # noqa: E402
from tests.support.broker import running_broker  # noqa: E402

S = 1_000_000_000
MS = 1_000_000
END_BEFORE_S = 5.0  # the "end" probe: the sample this long before the item's end


def spread(i: int, n: int, half: float) -> float:
    return 0.0 if n == 1 else -half + 2 * half * i / (n - 1)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def dist(values: list[float], digits: int = 3) -> str:
    return "  ".join(f"{name} {pct(values, q):.{digits}f}"
                     for name, q in (("p50", 50), ("p95", 95), ("p99", 99), ("max", 100)))


def box_of(i: int, n: int, seed: int, truth: Clock) -> DriftingClock:
    """Agent ``i``'s box: drift spread evenly, offset and boot drawn from the seed."""
    rng = random.Random(f"{seed}:{i}")
    offset = round(rng.uniform(-500.0, 500.0) * MS)
    boot = rng.randrange(60 * S, 30 * 86_400 * S)
    return DriftingClock(truth, offset_ns=offset, drift_ppm=spread(i, n, 100.0), boot_ns=boot)


# --------------------------------------------------------------------------- worker


class EventCounter:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def count(self, code: str, detail: str) -> None:
        self.counts[code] += 1


def probe_clocks(agents: list[dict[str, Any]], truth: Clock) -> list[dict[str, Any]]:
    """Each engine clock's error against true wall time, and what the estimate says."""
    out = []
    for a in agents:
        clock = a["clock"]
        error = clock_error_ns(clock, truth)
        entry: dict[str, Any] = {"error_ms": None if error is None else error / MS,
                                 "trusted": clock.quality().trusted}
        if isinstance(clock, ExchangeClock):
            snap = clock.snapshot()
            box = a["box"]
            entry.update(
                uncertainty_ms=None if snap.uncertainty_us is None else snap.uncertainty_us / 1e3,
                drift_error_ppm=None if snap.drift_ppm is None
                else snap.drift_ppm - box.drift_ppm,
                samples=snap.samples, steps=snap.steps, resets=snap.resets)
        out.append(entry)
    return out


def sleep_until_wall(truth: Clock, wall_ns: int) -> None:
    while (left := wall_ns - truth.wall_ns()) > 0:
        time.sleep(min(left / S, 0.2))


def worker(args: argparse.Namespace) -> dict[str, object]:
    """Run this process's share of agents; return per-agent measurements as JSON."""
    truth = SystemClock(trust="always")
    estimate_warnings = WarningCounter("loaxa.agent.clocksync")  # resets: in the snapshots
    cache = Path(args.cache)
    item = Item(bytes.fromhex(args.item_sha), cache / args.item_sha, args.item_seconds)
    em = Item(bytes.fromhex(args.em_sha), cache / args.em_sha, 2.0)
    t_wall = args.t_wall
    mapping = truth.wall_ns() - truth.monotonic_ns()
    t_mono = t_wall - mapping
    item_ns = round(args.item_seconds * S)
    config = EngineConfig(ahead_ms=args.ahead_ms, amp_lead_ms=1000, amp_tail_ms=3_600_000)
    context: zmq.Context[Any] | None = zmq.Context() if args.clock == "exchange" else None
    poll = PollConfig(burst_interval_s=args.burst_s, burst_count=args.burst_count,
                      interval_s=args.poll_min_s, max_interval_s=args.poll_max_s)
    agents: list[dict[str, Any]] = []
    events = EventCounter()
    for i in range(args.first, args.first + args.count):
        box = box_of(i, args.agents, args.seed, truth)
        client = None
        clock: Clock
        if context is not None:
            public, secret = load_key(Path(args.keys), i)
            clock = ExchangeClock(box)  # the estimator's production configuration
            client = ClockSyncClient(args.endpoint, bytes.fromhex(args.server_key),
                                     CurveIdentity(public, secret), clock, poll=poll,
                                     context=context)
        else:
            clock = OracleClock(box, mapping)
        windows = [(box.agent_mono(t_mono - 1 * S), box.agent_mono(t_mono + 3 * S)),
                   (box.agent_mono(t_mono + item_ns - round((END_BEFORE_S + 2) * S)), 2**62)]
        # The card's crystal runs the box's drift against true time, so against the box's
        # own monotonic clock (on which it stamps presentation) it runs true.
        sink = ClockedFakeSink(box, drift_ppm=0.0, record_windows=windows, name=f"a{i}")
        plays: list[Play] = []
        engine = PlayoutEngine(clock, sink, FakeRelay(clock), cache_dir=cache,
                               on_play=plays.append, on_event=events.count, config=config)
        agents.append({"i": i, "box": box, "clock": clock, "client": client, "sink": sink,
                       "engine": engine, "plays": plays})
    started_wall = truth.wall_ns()
    for a in agents:
        if a["client"] is not None:
            a["client"].start()
    for a in agents:
        a["engine"].start()
        a["engine"].set_timeline([slot("bench", item, t_wall)])
    sleep_until_wall(truth, t_wall - 1 * S)
    at_start = probe_clocks(agents, truth)
    cpu0, wall0 = time.process_time(), time.monotonic()
    sleep_until_wall(truth, t_wall + item_ns - round(END_BEFORE_S * S))
    at_end = probe_clocks(agents, truth)
    sleep_until_wall(truth, t_wall + item_ns + 2 * S)
    cpu_air = (time.process_time() - cpu0) / (time.monotonic() - wall0)
    underruns_air = [a["sink"].underruns() for a in agents]

    # Emergencies: accept times are noted now, first sounds found in the recordings
    # afterwards, so measuring never competes with the engines for the GIL.
    accepted: list[list[int]] = []
    for k in range(args.trials):
        trial = []
        for a in agents:
            trial.append(truth.monotonic_ns())
            a["engine"].play_now(EmergencyRequest(f"e{k}", em.sha, attention_tone=False))
        accepted.append(trial)
        time.sleep(1.0)
        for a in agents:
            a["engine"].stop_emergency(f"e{k}")
        time.sleep(1.5)
    for a in agents:
        a["engine"].close()
    exchange_stats: list[dict[str, int]] = []
    for a in agents:
        if a["client"] is not None:
            a["client"].stop()
            exchange_stats.append(a["client"].stats())
    if context is not None:
        context.term()
    latencies: list[float] = []
    gaps_in_emergency_audio = 0
    for trial in accepted:
        for a, t in zip(agents, trial, strict=True):
            sink, box = a["sink"], a["box"]
            frame = sink.first_sound_after(int(sink.device_frame_at(box.agent_mono(t))) + 1)
            latencies.append((box.true_mono(sink.device_time_ns(frame)) - t) / MS
                             if frame is not None else float("inf"))
            if frame is not None:  # an underrun while the emergency itself was heard?
                gaps_in_emergency_audio += sum(1 for _, d, _ in sink.runs()
                                               if frame < d < frame + 2 * RATE)

    reference = item.decoded()
    results = []
    for k, a in enumerate(agents):
        sink, box = a["sink"], a["box"]
        out: dict[str, object] = {"agent": a["i"], "drift_ppm": box.drift_ppm,
                                  "offset_ms": box.offset_ns / MS,
                                  "underruns": sink.underruns(),
                                  "underruns_air": underruns_air[k],
                                  "outcome": [int(p.outcome) for p in a["plays"]
                                              if p.slot_id == "bench"],
                                  "clock_at_start": at_start[k], "clock_at_end": at_end[k]}
        for name, at_s in (("start", 0.0), ("end", args.item_seconds - END_BEFORE_S)):
            due = t_mono + round(at_s * S)
            guess = round(sink.device_frame_at(box.agent_mono(due)))
            span = RATE // 20
            rec = sink.recording(guess - span, 4800 + 2 * span)
            sample = round(at_s * RATE)
            lag, corr = best_lag(rec, reference[sample * 2:(sample + 4800) * 2])
            presented = box.true_mono(sink.device_time_ns(guess - span + lag))
            out[f"{name}_ns"] = presented
            out[f"{name}_err_ms"] = (presented - due) / MS
            out[f"{name}_corr"] = corr
        results.append(out)
    return {"agents": results, "latency_ms": latencies, "cpu_air": cpu_air,
            "events": dict(events.counts), "exchange": exchange_stats,
            "converge_s": (t_wall - started_wall) / S,
            "estimate_warnings": len(estimate_warnings.messages),
            "gaps_in_emergency_audio": gaps_in_emergency_audio,
            "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}


# --------------------------------------------------------------------------- footprint


def _rss_mb(pid: str = "self") -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


_RSS = """
def _rss_mb():
    with open("/proc/self/status") as f:
        return next(int(x.split()[1]) for x in f if x.startswith("VmRSS")) / 1024
"""

_FOOTPRINT = _RSS + """
import sys, time
sys.path.insert(0, {root!r})
from pathlib import Path
base = _rss_mb()
import msgspec, nacl.signing, paho.mqtt.client, sqlite3, zmq  # what the agent loads anyway
import protocols.codec, protocols.envelope, protocols.messages
deps = _rss_mb()
from agent.playout import EngineConfig, PlayoutEngine
from agent.playout.relay import FakeRelay
from agent.playout.sinks import NullSink
from protocols.clock import SystemClock
from tests.playout.rig import slot
from tests.playout.media import Item
playout = _rss_mb()
clock = SystemClock(trust="always")
item = Item(bytes.fromhex({sha!r}), Path({path!r}), {seconds})
engine = PlayoutEngine(clock, NullSink(clock), FakeRelay(clock), cache_dir=Path({cache!r}))
engine.start()
engine.set_timeline([slot("footprint", item, clock.wall_ns() + 500_000_000)])
time.sleep(1.5)
c0, w0, peak = time.process_time(), time.monotonic(), 0.0
while time.monotonic() - w0 < {measure}:
    time.sleep(0.5)
    peak = max(peak, _rss_mb())
cpu = (time.process_time() - c0) / (time.monotonic() - w0)
playing = engine.now_playing() is not None
engine.close()
print(f"agent-like process: python {{base:.1f}} MB, + agent deps {{deps:.1f}} MB, "
      f"+ agent.playout {{playout:.1f}} MB, while playing peak {{peak:.1f}} MB; "
      f"CPU {{100 * cpu:.1f}}% of one core (playing: {{playing}})")
"""


_AV_PROBE = _RSS + """
import time
a = _rss_mb()
import av
b = _rss_mb()
t = time.process_time()
container = av.open({path!r})
resampler = av.AudioResampler(format="s16", layout="mono", rate=48000)
n = sum(o.samples for f in container.decode(audio=0) for o in resampler.resample(f))
c = _rss_mb()
print(f"PyAV {{av.__version__}}: import adds {{b - a:.1f}} MB RSS, {{c - a:.1f}} MB "
      f"after decoding; "
      f"{{n / 48000:.0f}} s decoded in {{time.process_time() - t:.2f}} s CPU")
"""


def footprint(measure_s: float, av_python: str) -> None:
    """One engine in an agent-like process, and what the decoder alternatives cost."""
    cache = Path(tempfile.mkdtemp(prefix="bench-footprint-"))
    item = noise_item(cache, 600.0, seed=13)
    code = _FOOTPRINT.format(root=str(ROOT), sha=item.sha.hex(), path=str(item.path),
                             seconds=item.seconds, cache=str(cache), measure=measure_s)
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    # the decoder alternatives, each decoding the whole 10-minute item
    from agent.playout.decoder import decode_pcm
    t = time.process_time()
    with item.path.open("rb") as f:
        frames = sum(len(c) // 2 for c in decode_pcm(f))
    print(f"libopus (ctypes, in process): {frames / RATE:.0f} s decoded in "
          f"{time.process_time() - t:.2f} s CPU")
    av_probe = _AV_PROBE.format(path=str(item.path))
    result = subprocess.run([av_python, "-c", av_probe], capture_output=True, text=True)
    print(result.stdout.strip() or f"PyAV: {result.stderr.strip().splitlines()[-1:]}")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    proc = subprocess.Popen(["ffmpeg", "-nostdin", "-loglevel", "error", "-i", str(item.path),
                             "-f", "s16le", "-ac", "1", "-ar", "48000", "-"],
                            stdout=subprocess.PIPE)
    assert proc.stdout is not None
    first = proc.stdout.read(9600)
    first_ms = (time.monotonic() - t0) * 1000
    rss = _rss_mb(str(proc.pid))
    with open(f"/proc/{proc.pid}/smaps_rollup") as f:
        pss = next(int(line.split()[1]) for line in f if line.startswith("Pss:")) / 1024
    rest = len(first) + sum(len(b) for b in iter(lambda: proc.stdout.read(1 << 16), b""))
    proc.wait()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    print(f"ffmpeg subprocess: first PCM after {first_ms:.0f} ms, child RSS {rss:.1f} MB "
          f"(PSS {pss:.1f} MB), {rest / 2 / RATE:.0f} s decoded in {cpu:.2f} s CPU")


# --------------------------------------------------------------------------- parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, help="default 50 (10 with --emergency-only)")
    parser.add_argument("--processes", type=int,
                        help="default 2 (with --emergency-only: one per agent)")
    parser.add_argument("--item-seconds", type=float, default=600.0)
    parser.add_argument("--trials", type=int, help="default 10 (20 with --emergency-only)")
    parser.add_argument("--emergency-only", action="store_true",
                        help="real agents: emergency accepted -> first sample only")
    parser.add_argument("--em-seconds", type=float, default=20.0,
                        help="length of the emergency items (--emergency-only)")
    parser.add_argument("--ahead-ms", type=int, default=EngineConfig().ahead_ms)
    parser.add_argument("--clock", choices=("exchange", "oracle"), default="exchange",
                        help="the engines' clock: the real clock exchange, or exact truth")
    parser.add_argument("--seed", type=int, default=1, help="draws the offsets and boots")
    parser.add_argument("--converge-s", type=float, default=300.0,
                        help="clients start this long before T (exchange)")
    parser.add_argument("--lead-s", type=float, default=8.0,
                        help="T this long after the workers start (oracle)")
    parser.add_argument("--link-delay-ms", type=float, default=5.0,
                        help="relay delay each way (exchange)")
    parser.add_argument("--link-jitter-ms", type=float, default=5.0,
                        help="plus uniform 0..this each way, per chunk (exchange)")
    parser.add_argument("--no-relay", action="store_true",
                        help="dial the time service directly over loopback")
    parser.add_argument("--burst-s", type=float, default=1.0, help="agent [clock] burst_s")
    parser.add_argument("--burst-count", type=int, default=PollConfig().burst_count,
                        help="poll every --burst-s until the window holds this many "
                             "exchanges (the agent's policy)")
    parser.add_argument("--poll-min-s", type=float, default=16.0,
                        help="agent [clock] poll_min_s")
    parser.add_argument("--poll-max-s", type=float, default=256.0,
                        help="agent [clock] poll_max_s")
    parser.add_argument("--json", type=Path, help="also write the raw results here")
    parser.add_argument("--footprint", action="store_true",
                        help="measure one agent-like process and the decoder options")
    parser.add_argument("--measure-s", type=float, default=30.0)
    parser.add_argument("--av-python", default=sys.executable,
                        help="an interpreter with PyAV installed, for the comparison")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--agent-worker", action="store_true", help=argparse.SUPPRESS)
    for name in ("cache", "item-sha", "em-sha", "keys", "endpoint", "server-key", "configs",
                 "pinned"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    for name in ("t-wall", "first", "count"):
        parser.add_argument(f"--{name}", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.agent_worker:
        from bench.emergencyworld import agent_worker

        agent_worker(args)
        return
    if args.emergency_only:
        emergency_only(args)
        return
    args.agents = args.agents or 50
    args.processes = args.processes or 2
    args.trials = args.trials or 10
    if args.worker:
        print(json.dumps(worker(args)))
        return
    if args.footprint:
        footprint(args.measure_s, args.av_python)
        return

    load = os.getloadavg()[0]
    began = time.monotonic()
    cache = Path(tempfile.mkdtemp(prefix="bench-playout-"))
    item = noise_item(cache, args.item_seconds, seed=11)
    em = noise_item(cache, 2.0, seed=12)
    keys = cache / "agent-keys.json"
    public_keys = make_keys(args.agents, keys) if args.clock == "exchange" else []
    service_warnings = WarningCounter("loaxa.dataplane.time")
    with time_service(public_keys, delay_ms=args.link_delay_ms,
                      jitter_ms=args.link_jitter_ms,
                      relay=not args.no_relay) if args.clock == "exchange" \
            else contextlib.nullcontext() as served:
        lead = args.converge_s + 5.0 if args.clock == "exchange" else args.lead_s
        t_wall = SystemClock(trust="always").wall_ns() + round(lead * S)
        per = -(-args.agents // args.processes)
        procs = []
        for p in range(args.processes):
            first, count = p * per, min(per, args.agents - p * per)
            if count <= 0:
                break
            cmd = [sys.executable, __file__, "--worker", "--agents", str(args.agents),
                   "--item-seconds", str(args.item_seconds), "--trials", str(args.trials),
                   "--ahead-ms", str(args.ahead_ms), "--clock", args.clock,
                   "--seed", str(args.seed), "--burst-s", str(args.burst_s),
                   "--burst-count", str(args.burst_count),
                   "--poll-min-s", str(args.poll_min_s), "--poll-max-s", str(args.poll_max_s),
                   "--cache", str(cache), "--item-sha", item.sha.hex(),
                   "--em-sha", em.sha.hex(), "--t-wall", str(t_wall),
                   "--first", str(first), "--count", str(count)]
            if served is not None:
                endpoint, server_key, _service, _relay = served
                cmd += ["--keys", str(keys), "--endpoint", endpoint,
                        "--server-key", server_key.hex()]
            procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT))
        parts = []
        for proc in procs:
            stdout, _ = proc.communicate()
            if proc.returncode != 0:
                raise SystemExit(f"worker failed with {proc.returncode}")
            parts.append(json.loads(stdout))
        service_stats = served[2].stats() if served is not None else {}
        link = served[3] if served is not None else None
    link_bytes = link.bytes if link is not None else 0
    elapsed = time.monotonic() - began
    shutil.rmtree(cache, ignore_errors=True)  # the item, and the bench agents' keys
    if args.json is not None:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "parts": parts, "service": service_stats}))
    service_stats["warnings"] = service_warnings.messages  # type: ignore[assignment]
    report(args, parts, load, elapsed, service_stats, link_bytes)


def report(args: argparse.Namespace, parts: list[dict[str, Any]], load: float,
           elapsed: float, service_stats: dict[str, Any], link_bytes: int) -> None:
    agents = [a for part in parts for a in part["agents"]]
    latencies = [x for part in parts for x in part["latency_ms"]]
    start_err = [abs(a["start_err_ms"]) for a in agents]
    end_err = [abs(a["end_err_ms"]) for a in agents]
    starts = [a["start_ns"] for a in agents]
    ends = [a["end_ns"] for a in agents]
    skew_start = [abs(x - y) / MS for x, y in combinations(starts, 2)]
    skew_end = [abs(x - y) / MS for x, y in combinations(ends, 2)]
    aired = sum(1 for a in agents if a["outcome"] == [int(PlayOutcome.AIRED)])
    print(f"machine: {platform.node()} {platform.machine()}, nproc {os.cpu_count()}, "
          f"Python {platform.python_version()}, libzmq {zmq.zmq_version()}, "
          f"load average before the run {load:.2f}, after {os.getloadavg()[0]:.2f}")
    if args.clock == "exchange":
        link = ("loopback, no relay" if args.no_relay else
                f"relay {args.link_delay_ms:g} ms + uniform 0-{args.link_jitter_ms:g} ms "
                f"each way")
        clock = (f"exchange ({link}; poll every {args.burst_s:g} s until "
                 f"{args.burst_count} samples, then x1.5 up to "
                 f"{args.poll_min_s:g} s, max {args.poll_max_s:g} s; clients started "
                 f"{min(p['converge_s'] for p in parts):.1f}-"
                 f"{max(p['converge_s'] for p in parts):.1f} s before T)")
    else:
        clock = "oracle (exact truth)"
    print(f"workload: {len(agents)} agents in {len(parts)} processes, drift +-100 ppm "
          f"(box and card), offsets uniform +-500 ms (seed {args.seed}), clock {clock}, "
          f"item {args.item_seconds:g} s, ahead {args.ahead_ms} ms; wall time {elapsed:.0f} s")
    print(f"aired: {aired}/{len(agents)}; underruns while airing "
          f"{sum(a['underruns_air'] for a in agents)}, in all "
          f"{sum(a['underruns'] for a in agents)} (of which inside emergency audio "
          f"{sum(p['gaps_in_emergency_audio'] for p in parts)}); min correlation "
          f"{min(min(a['start_corr'], a['end_corr']) for a in agents):.3f}")
    print(f"start error vs T (ms, {len(agents)} agents):          {dist(start_err)}")
    print(f"error {END_BEFORE_S:g} s before the end (ms):             {dist(end_err)}")
    print(f"inter-agent skew at start (ms, {len(skew_start)} pairs): {dist(skew_start)}")
    print(f"inter-agent skew at end   (ms, {len(skew_end)} pairs): {dist(skew_end)}")
    print(f"emergency play_now -> first sample, engine only, item not kept ready "
          f"(ms, {len(latencies)}): {dist(latencies, 1)}")
    for when in ("start", "end"):
        probes = [a[f"clock_at_{when}"] for a in agents]
        errors = [abs(c["error_ms"]) for c in probes if c["error_ms"] is not None]
        trusted = sum(1 for c in probes if c["trusted"])
        line = (f"engine clock vs truth {'just before T' if when == 'start' else 'at end'}"
                f" (ms): {dist(errors)}; trusted {trusted}/{len(probes)}")
        if args.clock == "exchange":
            bounds = [c["uncertainty_ms"] for c in probes if c.get("uncertainty_ms") is not None]
            drifts = [abs(c["drift_error_ppm"]) for c in probes
                      if c.get("drift_error_ppm") is not None]
            samples = [c["samples"] for c in probes]
            steps = sum(c["steps"] for c in probes)
            resets = sum(c["resets"] for c in probes)
            line += (f"; reported bound median {statistics.median(bounds):.2f} ms"
                     if bounds else "; no bound")
            line += (f"; |drift error| median {statistics.median(drifts):.2f} max "
                     f"{max(drifts):.2f} ppm ({len(drifts)} fitted)" if drifts
                     else "; drift not fitted")
            line += (f"; samples {min(samples)}-{max(samples)}; steps {steps}; "
                     f"estimate restarts {resets}")
        print(line)
    if args.clock == "exchange":
        stats: Counter[str] = Counter()
        for part in parts:
            for s in part["exchange"]:
                stats.update(s)
        warnings = service_stats.pop("warnings", [])
        print(f"exchanges: {dict(sorted(stats.items()))}; service {service_stats}; "
              f"relay bytes {link_bytes}")
        print(f"time service warnings: {len(warnings)} {warnings[:6]}")
    cpu = ", ".join(f"{p['cpu_air']:.2f}" for p in parts)
    rss_mb = max(p["maxrss_kb"] for p in parts) / 1024
    events: Counter[str] = Counter()
    for part in parts:
        events.update(part["events"])
    print(f"engine events: {dict(sorted(events.items()))}")
    print(f"CPU while airing: {cpu} cores per process; max RSS per process {rss_mb:.1f} MB")


# --------------------------------------------------------------------------- emergencies


def emergency_only(args: argparse.Namespace) -> None:
    """Real agents: a signed emergency document accepted -> its first sample presented."""
    from bench.emergencyworld import Fleet

    agents = args.agents or 10
    processes = min(args.processes or agents, agents)
    trials = args.trials or 20
    loads = [os.getloadavg()[0]]
    began = time.monotonic()
    published: dict[str, int] = {}
    parts: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench-emergency-") as tmp, \
            running_broker(Path(tmp) / "broker") as broker:
        root = Path(tmp)
        media = root / "media"
        media.mkdir()
        pinned = noise_item(media, args.em_seconds, seed=12)
        cached = noise_item(media, args.em_seconds, seed=13)
        with Fleet(broker, root, agents, pinned, cached) as fleet:
            fleet.publish_plans()
            per = -(-agents // processes)
            procs = []
            for p in range(processes):
                group = fleet.agents[p * per:(p + 1) * per]
                if not group:
                    break
                cmd = [sys.executable, __file__, "--agent-worker",
                       "--configs", ",".join(str(a.config) for a in group),
                       "--pinned", pinned.sha.hex()]
                procs.append(subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                              stdout=subprocess.PIPE, text=True, cwd=ROOT))
            try:
                for proc in procs:
                    assert proc.stdout is not None
                    if proc.stdout.readline().strip() != "ready":
                        raise SystemExit("an agent worker failed to start (see its stderr)")
                # The amplifiers on (and kept on: a 10-minute tail), as the target assumes.
                fleet.emergency("warm-up", pinned)
                time.sleep(3.0)
                fleet.emergency("warm-up", None)
                time.sleep(1.5)
                loads.append(os.getloadavg()[0])
                for k in range(trials):
                    item, kind = (pinned, "pinned") if k % 2 == 0 else (cached, "cached")
                    eid = f"e{k}-{kind}"
                    published[eid] = fleet.emergency(eid, item)
                    time.sleep(1.0)
                    fleet.emergency(eid, None)
                    time.sleep(1.5)
                loads.append(os.getloadavg()[0])
            finally:
                for proc in procs:
                    assert proc.stdin is not None and proc.stdout is not None
                    proc.stdin.close()
                    out = proc.stdout.read()
                    if proc.wait(60) == 0 and out.strip():
                        parts.extend(json.loads(out.strip().splitlines()[-1]))
    elapsed = time.monotonic() - began
    if args.json is not None:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "agents": parts, "published": published}))
    emergency_report(args, agents, len(procs), trials, parts, published, loads, elapsed)


def emergency_report(args: argparse.Namespace, agents: int, processes: int, trials: int,
                     parts: list[dict[str, Any]], published: dict[str, int],
                     loads: list[float], elapsed: float) -> None:
    during = ", ".join(f"{x:.2f}" for x in loads[1:]) or "?"
    print(f"machine: {platform.node()} {platform.machine()}, nproc {os.cpu_count()}, "
          f"Python {platform.python_version()}; load average (1 min) before the run "
          f"{loads[0]:.2f}, when the trials began and ended {during}, after "
          f"{os.getloadavg()[0]:.2f}")
    print(f"workload: {agents} real agents (AgentService) in {processes} processes "
          f"({-(-agents // processes)} per process), real Mosquitto (TLS); {trials} "
          f"commune-wide emergencies alternating a pinned item (kept ready) and a cached "
          f"one, {args.em_seconds:g} s Ogg/Opus items, amplifier already on, no attention "
          f"tone; wall time {elapsed:.0f} s")
    if len(parts) != agents:
        print(f"WARNING: results from {len(parts)} of {agents} agents")
    for kind in ("pinned", "cached"):
        from_accept, from_publish, verify = [], [], []
        unheard = 0
        for a in parts:
            for eid, first in a["first"].items():
                if not eid.endswith(kind):
                    continue
                accepted = a["accepted"][eid]
                if first is None:
                    unheard += 1
                    continue
                from_accept.append((first - accepted) / MS)
                from_publish.append((first - published[eid]) / MS)
                verify.append((accepted - a["received"][eid]) / MS)
        expected = agents * len([e for e in published if e.endswith(kind)])
        label = "pinned, kept ready" if kind == "pinned" else "cached, not pinned"
        if not from_accept:
            print(f"{label}: nothing heard")
            continue
        print(f"{label}: {len(from_accept)} of {expected} emergencies heard"
              f"{f', {unheard} accepted but not heard' if unheard else ''}")
        print(f"  accepted -> first sample (ms):  {dist(from_accept, 1)}")
        print(f"  published -> first sample (ms): {dist(from_publish, 1)}")
        print(f"  received -> accepted, inbox (ms): {dist(verify, 2)}")


if __name__ == "__main__":
    main()
