"""Benchmark: many agents airing one item in sync, on clocked fake sinks (issue 6).

Workload: N playout engines (default 50, split over P processes, default 2 = one per
core), each on a ``ClockedFakeSink`` with a crystal drift spread evenly over +-100 ppm and
a wall-clock offset spread over +-500 ms injected with ``SkewedClock`` (the box's wrong
system clock). The engine reads time through a Clock built by ``--clock-factory``
(``module:function`` taking ``(raw_clock, injected_offset_ns)``); the default "oracle"
factory cancels the offset exactly, standing in for the clock exchange until it exists.
All engines air the same item (default 10 minutes of pink noise, Ogg/Opus 24 kbit/s) at
the same true instant T. Then ``--trials`` emergencies are injected (content cached,
amplifier already on, no attention tone).

Measured from the audio truth: each sink's recording is cross-correlated with the decoded
item to find when sample 0 (start) and the sample 5 s before the end were presented, on
the true monotonic clock; emergency latency is from ``play_now`` to the first non-silent
frame each sink presented.

    .venv/bin/python bench/bench_playout.py                      # the recorded run
    .venv/bin/python bench/bench_playout.py --agents 10 --item-seconds 60   # quick look
    .venv/bin/python bench/bench_playout.py --footprint          # one agent: RSS, CPU,
                                                                 # and the decoder options
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.playout import EmergencyRequest, EngineConfig, PlayoutEngine  # noqa: E402
from agent.playout.pcm import RATE  # noqa: E402
from agent.playout.relay import FakeRelay  # noqa: E402
from agent.playout.sinks import ClockedFakeSink  # noqa: E402
from protocols.clock import Clock, SkewedClock, SystemClock  # noqa: E402
from protocols.messages import Play, PlayOutcome  # noqa: E402
from tests.playout.audio_compare import best_lag  # noqa: E402
from tests.playout.media import Item, noise_item  # noqa: E402
from tests.playout.rig import slot  # noqa: E402

S = 1_000_000_000
MS = 1_000_000
END_BEFORE_S = 5.0  # the "end" probe: the sample this long before the item's end

ClockFactory = Callable[[Clock, int], Clock]


def oracle_clock(raw: Clock, offset_ns: int) -> Clock:
    """A perfectly corrected clock: what the clock exchange should converge to."""
    return SkewedClock(raw, offset_ns=-offset_ns)


def load_factory(spec: str) -> ClockFactory:
    if spec == "oracle":
        return oracle_clock
    module, _, name = spec.partition(":")
    factory: ClockFactory = getattr(importlib.import_module(module), name)
    return factory


def spread(i: int, n: int, half: float) -> float:
    return 0.0 if n == 1 else -half + 2 * half * i / (n - 1)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# --------------------------------------------------------------------------- worker


class EventCounter:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def count(self, code: str, detail: str) -> None:
        self.counts[code] += 1


def worker(args: argparse.Namespace) -> dict[str, object]:
    """Run this process's share of agents; return per-agent measurements as JSON."""
    truth = SystemClock(trust="always")
    cache = Path(args.cache)
    item = Item(bytes.fromhex(args.item_sha), cache / args.item_sha, args.item_seconds)
    em = Item(bytes.fromhex(args.em_sha), cache / args.em_sha, 2.0)
    factory = load_factory(args.clock_factory)
    t_wall = args.t_wall
    t_mono = t_wall - (truth.wall_ns() - truth.monotonic_ns())
    item_ns = round(args.item_seconds * S)
    windows = [(t_mono - 1 * S, t_mono + 3 * S),
               (t_mono + item_ns - round((END_BEFORE_S + 2) * S), 2**62)]
    config = EngineConfig(ahead_ms=args.ahead_ms, amp_lead_ms=1000, amp_tail_ms=3_600_000)
    agents = []
    events = EventCounter()
    for i in range(args.first, args.first + args.count):
        drift = spread(i, args.agents, 100.0)
        offset = round(spread(i, args.agents, 500.0) * MS)
        raw = SkewedClock(truth, offset_ns=offset)
        clock = factory(raw, offset)
        sink = ClockedFakeSink(truth, drift_ppm=drift, record_windows=windows, name=f"a{i}")
        plays: list[Play] = []
        engine = PlayoutEngine(clock, sink, FakeRelay(clock), cache_dir=cache,
                               on_play=plays.append, on_event=events.count,
                               config=config)
        agents.append((i, drift, offset, sink, engine, plays))
    cpu0, wall0 = time.process_time(), time.monotonic()
    for _, _, _, _, engine, _ in agents:
        engine.start()
        engine.set_timeline([slot("bench", item, t_wall)])
    while truth.wall_ns() < t_wall + item_ns + 2 * S:
        time.sleep(0.2)
    cpu_air = (time.process_time() - cpu0) / (time.monotonic() - wall0)
    underruns_air = [sink.underruns() for _, _, _, sink, _, _ in agents]

    # Emergencies: accept times are noted now, first sounds found in the recordings
    # afterwards, so measuring never competes with the engines for the GIL.
    accepted: list[list[int]] = []
    for k in range(args.trials):
        trial = []
        for _, _, _, _, engine, _ in agents:
            trial.append(truth.monotonic_ns())
            engine.play_now(EmergencyRequest(f"e{k}", em.sha, attention_tone=False))
        accepted.append(trial)
        time.sleep(1.0)
        for _, _, _, _, engine, _ in agents:
            engine.stop_emergency(f"e{k}")
        time.sleep(1.5)
    for _, _, _, _, engine, _ in agents:
        engine.close()
    latencies: list[float] = []
    gaps_in_emergency_audio = 0
    for trial in accepted:
        for (_, _, _, sink, _, _), a in zip(agents, trial, strict=True):
            frame = sink.first_sound_after(int(sink.device_frame_at(a)) + 1)
            latencies.append((sink.device_time_ns(frame) - a) / MS if frame is not None
                             else float("inf"))
            if frame is not None:  # an underrun while the emergency itself was heard?
                gaps_in_emergency_audio += sum(1 for _, d, _ in sink.runs()
                                               if frame < d < frame + 2 * RATE)

    reference = item.decoded()
    results = []
    for i, drift, offset, sink, _engine, plays in agents:
        out: dict[str, object] = {"agent": i, "drift_ppm": drift, "offset_ms": offset / MS,
                                  "underruns": sink.underruns(),
                                  "underruns_air": underruns_air[i - args.first],
                                  "outcome": [int(p.outcome) for p in plays
                                              if p.slot_id == "bench"]}
        for name, at_s in (("start", 0.0), ("end", args.item_seconds - END_BEFORE_S)):
            due = t_mono + round(at_s * S)
            guess = round(sink.device_frame_at(due))
            span = RATE // 20
            rec = sink.recording(guess - span, 4800 + 2 * span)
            sample = round(at_s * RATE)
            lag, corr = best_lag(rec, reference[sample * 2:(sample + 4800) * 2])
            out[f"{name}_ns"] = sink.device_time_ns(guess - span + lag)
            out[f"{name}_err_ms"] = (sink.device_time_ns(guess - span + lag) - due) / MS
            out[f"{name}_corr"] = corr
        results.append(out)
    return {"agents": results, "latency_ms": latencies, "cpu_air": cpu_air,
            "events": dict(events.counts),
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
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--item-seconds", type=float, default=600.0)
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--ahead-ms", type=int, default=EngineConfig().ahead_ms)
    parser.add_argument("--clock-factory", default="oracle",
                        help="module:function(raw_clock, offset_ns) -> Clock, or 'oracle'")
    parser.add_argument("--lead-s", type=float, default=8.0)
    parser.add_argument("--footprint", action="store_true",
                        help="measure one agent-like process and the decoder options")
    parser.add_argument("--measure-s", type=float, default=30.0)
    parser.add_argument("--av-python", default=sys.executable,
                        help="an interpreter with PyAV installed, for the comparison")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    for name in ("cache", "item-sha", "em-sha"):
        parser.add_argument(f"--{name}", help=argparse.SUPPRESS)
    for name in ("t-wall", "first", "count"):
        parser.add_argument(f"--{name}", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args)))
        return
    if args.footprint:
        footprint(args.measure_s, args.av_python)
        return

    cache = Path(tempfile.mkdtemp(prefix="bench-playout-"))
    item = noise_item(cache, args.item_seconds, seed=11)
    em = noise_item(cache, 2.0, seed=12)
    t_wall = SystemClock(trust="always").wall_ns() + round(args.lead_s * S)
    per = -(-args.agents // args.processes)
    procs = []
    for p in range(args.processes):
        first, count = p * per, min(per, args.agents - p * per)
        if count <= 0:
            break
        cmd = [sys.executable, __file__, "--worker", "--agents", str(args.agents),
               "--item-seconds", str(args.item_seconds), "--trials", str(args.trials),
               "--ahead-ms", str(args.ahead_ms), "--clock-factory", args.clock_factory,
               "--cache", str(cache), "--item-sha", item.sha.hex(), "--em-sha", em.sha.hex(),
               "--t-wall", str(t_wall), "--first", str(first), "--count", str(count)]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT))
    parts = []
    for proc in procs:
        stdout, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"worker failed with {proc.returncode}")
        parts.append(json.loads(stdout))
    agents = [a for part in parts for a in part["agents"]]
    latencies = [x for part in parts for x in part["latency_ms"]]

    start_err = [abs(a["start_err_ms"]) for a in agents]
    end_err = [abs(a["end_err_ms"]) for a in agents]
    starts = [a["start_ns"] for a in agents]
    ends = [a["end_ns"] for a in agents]
    skew_start = [abs(x - y) / MS for x, y in combinations(starts, 2)]
    skew_end = [abs(x - y) / MS for x, y in combinations(ends, 2)]
    aired = sum(1 for a in agents if a["outcome"] == [int(PlayOutcome.AIRED)])
    print(f"machine: {platform.node()} {platform.machine()} {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, load before run {os.getloadavg()[0]:.2f}")
    print(f"workload: {len(agents)} agents in {len(parts)} processes, drift +-100 ppm, "
          f"offsets +-500 ms, clock factory {args.clock_factory!r}, "
          f"item {args.item_seconds:g} s, ahead {args.ahead_ms} ms")
    print(f"aired: {aired}/{len(agents)}; underruns while airing "
          f"{sum(a['underruns_air'] for a in agents)}, in all "
          f"{sum(a['underruns'] for a in agents)} (of which inside emergency audio "
          f"{sum(p['gaps_in_emergency_audio'] for p in parts)}); min correlation "
          f"{min(min(a['start_corr'], a['end_corr']) for a in agents):.3f}")
    print(f"start error vs T  (ms): p50 {statistics.median(start_err):.3f}  "
          f"p99 {pct(start_err, 99):.3f}  max {max(start_err):.3f}")
    print(f"end error ({END_BEFORE_S:g} s before end) (ms): p50 "
          f"{statistics.median(end_err):.3f}  p99 {pct(end_err, 99):.3f}  max {max(end_err):.3f}")
    print(f"inter-agent skew at start (ms): pairwise p99 {pct(skew_start, 99):.3f}  "
          f"max {max(skew_start):.3f}")
    print(f"inter-agent skew at end   (ms): pairwise p99 {pct(skew_end, 99):.3f}  "
          f"max {max(skew_end):.3f}")
    print(f"emergency accepted -> first sample (ms, {len(latencies)} = agents x trials): "
          f"p50 {statistics.median(latencies):.1f}  p99 {pct(latencies, 99):.1f}  "
          f"max {max(latencies):.1f}")
    cpu = ", ".join(f"{p['cpu_air']:.2f}" for p in parts)
    rss_mb = max(p["maxrss_kb"] for p in parts) / 1024
    events: Counter[str] = Counter()
    for part in parts:
        events.update(part["events"])
    print(f"engine events: {dict(sorted(events.items()))}")
    print(f"CPU while airing: {cpu} cores per process; max RSS per process {rss_mb:.1f} MB")


if __name__ == "__main__":
    main()
