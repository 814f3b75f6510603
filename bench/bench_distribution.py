"""Benchmark: pre-distribute one bulletin to many agents behind the station's egress cap.

Workload (issue 5): a 10-minute bulletin (24 kbit/s Opus, ~1.8 MB; random bytes stand in
for audio, the transport does not care) goes to 200 simulated agents through the content
service capped at 2 Mbit/s. The service runs in its own process so its CPU time is its
own; the agents are real ``agent.fetcher.Fetcher`` instances (real DEALER sockets, real
CURVE, real caches on disk with fsync) spread over a few processes, each process behind
a userspace relay that counts the TCP payload both ways. 200 agent *processes* on two
cores would measure CPU contention, not loaxa.

It then turns the measured bytes into bytes per agent per day for a typical commune
day, against streaming every airing as 48 kbit/s MP3 (the usual practice). The content's
bytes per second of audio are measured by default (``--content measured``): a real
10-minute Vietnamese bulletin spoken by espeak-ng goes through the real import pipeline
(``controller.library.import_file``, default settings) and the stored Opus file's size is
what a minute of content costs (about a minute of CPU, once per run); ``--content
nominal`` takes 24 kbit/s plus Ogg pages, instantly.

    .venv/bin/python bench/bench_distribution.py                 # the full run (~25 min)
    .venv/bin/python bench/bench_distribution.py --agents 20     # a quick look
    .venv/bin/python bench/bench_distribution.py --day-only 1.01606 1028  # the day model

Prints figures; results are recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing as mp
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

OPUS_BYTES_PER_S = 24_000 / 8
MP3_BYTES_PER_S = 48_000 / 8
OGG_ALLOWANCE = 1.01  # Ogg page headers on top of the Opus bit rate
NOMINAL_BYTES_PER_S = OPUS_BYTES_PER_S * OGG_ALLOWANCE
BULLETIN_S = 600
SENTENCES = (
    "Kính thưa bà con nhân dân trong xã.",
    "Theo tin từ Trung tâm Dự báo khí tượng thủy văn quốc gia, bão số ba đang di chuyển "
    "theo hướng tây tây bắc, mỗi giờ đi được khoảng mười lăm ki lô mét.",
    "Ủy ban nhân dân xã đề nghị các thôn, bản kiểm tra, chằng chống nhà cửa, chặt tỉa cây "
    "xanh, không để tàu thuyền ra khơi.",
    "Các hộ gia đình ở vùng trũng thấp chuẩn bị sẵn sàng sơ tán khi có lệnh.",
    "Trạm y tế xã thông báo lịch tiêm chủng mở rộng cho trẻ em dưới năm tuổi vào sáng thứ "
    "bảy tuần này.",
    "Đề nghị bà con theo dõi thường xuyên các bản tin trên hệ thống loa truyền thanh.",
)


@dataclass(frozen=True)
class Content:
    """What a second of bulletin audio costs as stored (and sent) content."""

    bytes_per_s: float
    source: str  # how it was found, for the printout


@dataclass(frozen=True)
class Args:
    agents: int
    procs: int
    size: int
    cap_bps: float
    max_concurrent: int
    storm_minutes: float
    content: str
    workdir: Path


# --------------------------------------------------------------------------- the service


def service_main(conn: Connection, library: str, secret: bytes, keys: list[bytes],
                 cap: float, max_concurrent: int) -> None:
    """The controller's side, alone in its process; reports its CPU between marks."""
    import logging

    from controller.dataplane.content_service import ContentService, ServiceLimits

    logging.basicConfig(level=logging.WARNING)
    allowed = set(keys)
    root = Path(library)

    def locate(sha: bytes) -> Path | None:
        path = root / sha.hex()
        return path if path.exists() else None

    alerts: dict[str, int] = {}
    service = ContentService(secret, allowed.__contains__, locate,
                             endpoint="tcp://127.0.0.1:0",
                             limits=ServiceLimits(egress_bytes_per_s=cap,
                                                  max_concurrent=max_concurrent),
                             on_alert=lambda kind, *_: alerts.update(
                                 {kind: alerts.get(kind, 0) + 1}))
    with service:
        conn.send(service.port)
        assert conn.recv() == "begin"
        before = resource.getrusage(resource.RUSAGE_SELF)
        assert conn.recv() == "end"
        after = resource.getrusage(resource.RUSAGE_SELF)
        conn.send({"cpu_s": (after.ru_utime - before.ru_utime)
                   + (after.ru_stime - before.ru_stime),
                   "max_rss_kb": after.ru_maxrss, "stats": service.stats(),
                   "alerts": dict(alerts)})


# --------------------------------------------------------------------------- the agents


def agents_main(conn: Connection, port: int, server_key: bytes,
                identities: list[tuple[bytes, bytes]], sha: bytes, workdir: str) -> None:
    """Simulated agents in one process: real fetchers sharing one ZeroMQ context."""
    import logging

    import zmq

    from agent.cache import Cache
    from agent.fetcher import FetchConfig, Fetcher
    from agent.identity import CurveIdentity
    from controller.demo.relay import Relay

    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # the relay's teardown
    context: zmq.Context[Any] = zmq.Context()
    relay = Relay(port).start()
    # The whole distribution takes longer than the default queued timeout allows for
    # one reminder to be lost; agents in the field behave the same with these values.
    config = FetchConfig(idle_close_s=3600.0)
    fetchers = []
    for i, (public, secret) in enumerate(identities):
        cache = Cache(Path(workdir) / f"agent{i}", 50_000_000)
        fetchers.append(Fetcher(f"tcp://127.0.0.1:{relay.port}", server_key,
                                CurveIdentity(public, secret), cache, config=config,
                                context=context).start())
    conn.send("ready")
    air = conn.recv()
    start = time.monotonic()
    for client in fetchers:
        client.want({sha: air})
    finished: dict[int, float] = {}
    while len(finished) < len(fetchers):
        for i, client in enumerate(fetchers):
            if i not in finished and client.cache.has(sha):
                finished[i] = time.monotonic() - start
        time.sleep(0.05)
    intact = 0
    for client in fetchers:
        path = client.cache.path(sha)
        if path is not None and hashlib.sha256(path.read_bytes()).digest() == sha:
            intact += 1
    reconnects = sum(client.status().reconnects for client in fetchers)
    for client in fetchers:
        client.stop()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    conn.send({"finished": sorted(finished.values()), "intact": intact,
               "bytes_down": relay.bytes_down, "bytes_up": relay.bytes_up,
               "reconnects": reconnects, "cpu_s": usage.ru_utime + usage.ru_stime})
    relay.stop()
    context.term()


def session_cost(port: int, server_key: bytes, identity: tuple[bytes, bytes],
                 workdir: str, conn: Connection) -> None:
    """Bytes of one fetch session with no content: handshake, request, answer."""
    import logging

    import zmq

    from agent.cache import Cache
    from agent.fetcher import FetchConfig, Fetcher, ItemState
    from agent.identity import CurveIdentity
    from controller.demo.relay import Relay

    logging.getLogger("asyncio").setLevel(logging.CRITICAL)  # the relay's teardown
    relay = Relay(port).start()
    context: zmq.Context[Any] = zmq.Context()
    cache = Cache(Path(workdir) / "session", 10_000_000)
    client = Fetcher(f"tcp://127.0.0.1:{relay.port}", server_key, CurveIdentity(*identity),
                     cache, config=FetchConfig(idle_close_s=0.5), context=context).start()
    client.want({hashlib.sha256(b"not in the library").digest(): time.time_ns()})
    while not any(i.state is ItemState.NOT_FOUND for i in client.status().items):
        time.sleep(0.02)
    time.sleep(1.5)  # the idle socket closes
    client.stop()
    time.sleep(0.2)
    conn.send(relay.bytes_down + relay.bytes_up)
    relay.stop()
    context.term()


# --------------------------------------------------------------------------- orchestration


def run(args: Args) -> None:
    import zmq
    import zmq.utils.z85

    spawn = mp.get_context("spawn")
    library = args.workdir / "library"
    library.mkdir(parents=True)
    data = os.urandom(args.size)
    sha = hashlib.sha256(data).digest()
    (library / sha.hex()).write_bytes(data)
    _, server_secret = zmq.curve_keypair()
    server_key = zmq.utils.z85.decode(zmq.curve_public(server_secret))
    identities = []
    for _ in range(args.agents + 1):
        public, secret = zmq.curve_keypair()
        identities.append((zmq.utils.z85.decode(public), zmq.utils.z85.decode(secret)))
    keys = [public for public, _ in identities]

    service_end, service_conn = spawn.Pipe()
    service = spawn.Process(target=service_main, args=(
        service_conn, str(library), server_secret, keys, args.cap_bps / 8,
        args.max_concurrent))
    service.start()
    port = service_end.recv()

    session_end, session_conn = spawn.Pipe()
    probe = spawn.Process(target=session_cost, args=(port, server_key, identities[-1],
                                                     str(args.workdir), session_conn))
    probe.start()
    per_session = session_end.recv()
    probe.join()

    agents = identities[:args.agents]  # the last one is the session probe's
    groups = [agents[i::args.procs] for i in range(args.procs)]
    workers = []
    for n, group in enumerate(g for g in groups if g):
        end, conn = spawn.Pipe()
        process = spawn.Process(target=agents_main, args=(
            conn, port, server_key, group, sha, str(args.workdir / f"proc{n}")))
        process.start()
        workers.append((process, end))
    for _, end in workers:
        assert end.recv() == "ready"
    air = time.time_ns() + 3 * 3600 * 10**9
    service_end.send("begin")
    start = time.monotonic()
    for _, end in workers:
        end.send(air)
    results = [end.recv() for _, end in workers]
    wall = time.monotonic() - start
    service_end.send("end")
    served = service_end.recv()
    for process, _ in workers:
        process.join()
    service.join()

    finished = sorted(t for r in results for t in r["finished"])
    down = sum(r["bytes_down"] for r in results)
    up = sum(r["bytes_up"] for r in results)
    intact = sum(r["intact"] for r in results)
    payload = args.size * args.agents
    per_agent = (down + up) / args.agents
    ratio = per_agent / args.size
    ideal = payload / (args.cap_bps / 8)
    print(f"machine: {platform.node()} nproc={os.cpu_count()} cpu={_cpu_model()} "
          f"python={platform.python_version()}")
    print(f"workload: {args.agents} agents x {args.size:,} bytes, egress cap "
          f"{args.cap_bps / 1e6:g} Mbit/s, max {args.max_concurrent} concurrent transfers, "
          f"{len(workers)} agent processes")
    print(f"verified sha256 end to end: {intact}/{args.agents}")
    print(f"wall time: {wall:.1f} s (content alone at the cap: {ideal:.1f} s; "
          f"first agent done {finished[0]:.1f} s, median {statistics.median(finished):.1f} s, "
          f"last {finished[-1]:.1f} s)")
    print(f"controller CPU: {served['cpu_s']:.2f} s "
          f"({served['cpu_s'] / wall * 100:.1f} % of one core), "
          f"max RSS {served['max_rss_kb'] / 1024:.0f} MB")
    print(f"simulated agents' CPU (all processes): {sum(r['cpu_s'] for r in results):.1f} s")
    print(f"bytes on the wire: down {down:,}  up {up:,}  total {down + up:,}")
    print(f"per agent: {per_agent:,.0f} bytes for {args.size:,} bytes of content "
          f"(overhead {100 * (ratio - 1):.2f} %)")
    print(f"a fetch session with nothing to fetch: {per_session:,} bytes")
    print(f"service: {served['stats']['chunks']:,} chunks, "
          f"{served['stats']['preempted']} pre-emptions, "
          f"{served['stats']['stalled']} stalled, "
          f"{served['stats']['queued_replies']:,} queued notices, "
          f"alerts {served['alerts'] or 'none'} (the probe's not_found is expected); "
          f"agents reconnected {sum(r['reconnects'] for r in results)}"
          " times")
    print(f"effective throughput: {(down + up) / wall * 8 / 1e6:.3f} Mbit/s")
    day(ratio, per_session, args.storm_minutes, content_rate(args.content, args.workdir))


def content_rate(kind: str, workdir: Path) -> Content:
    if kind == "nominal":
        return Content(NOMINAL_BYTES_PER_S, "nominal: Opus 24 kbit/s plus 1 % Ogg pages")
    return measured_content(workdir)


def measured_content(workdir: Path) -> Content:
    """A real 10-minute espeak-ng bulletin through the real import pipeline."""
    from controller.library import ContentStore, ProcessingSettings, import_file

    espeak = shutil.which("espeak-ng")
    if espeak is None:
        sys.exit("--content measured needs espeak-ng (or pass --content nominal)")
    folder = workdir / "measured"
    folder.mkdir(parents=True, exist_ok=True)
    text, n = [], 0
    while sum(map(len, text)) < BULLETIN_S * 16:  # espeak-ng reads ~14 characters a second
        text.append(SENTENCES[n % len(SENTENCES)])
        n += 1
    speech, bulletin = folder / "speech.wav", folder / "bulletin.wav"
    subprocess.run([espeak, "-v", "vi", "-w", str(speech), " ".join(text)], check=True,
                   capture_output=True, timeout=300)
    # Exactly ten minutes (the speech looped if this espeak-ng reads faster).
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y",
                    "-stream_loop", "-1", "-i", str(speech), "-t", str(BULLETIN_S),
                    str(bulletin)], check=True, capture_output=True, timeout=300)
    settings = ProcessingSettings()
    audio = import_file(bulletin, ContentStore(folder / "store"), settings).audio
    rate = audio.size_bytes / (audio.duration_ms / 1000)
    return Content(rate, f"measured: a {audio.duration_ms / 60000:.1f} min espeak-ng "
                         f"bulletin imported at {settings.bitrate_kbps} kbit/s is "
                         f"{audio.size_bytes:,} bytes ({rate * 8 / 1000:.1f} kbit/s, "
                         f"speech at {audio.speech_lufs:.1f} LUFS)")


def day_bytes(ratio: float, per_session: int, storm_minutes: float,
              content_bytes_per_s: float = NOMINAL_BYTES_PER_S) -> tuple[float, float]:
    """Bytes per agent for one commune day: (loaxa, streaming MP3 at every airing).

    Two 15-minute bulletins aired twice each and a storm bulletin aired 8 times. loaxa
    sends each item once (``content_bytes_per_s`` of stored Opus per second of audio),
    times the measured wire overhead, each in its own fetch session; streaming sends
    48 kbit/s MP3 for every minute on air (payload only: its TCP/HTTP overhead is not
    counted against it).
    """
    items = [(15.0, 2), (15.0, 2), (storm_minutes, 8)]
    content = sum(minutes * 60 * content_bytes_per_s for minutes, _ in items)
    loaxa = content * ratio + per_session * len(items)
    mp3 = sum(minutes * 60 * airings for minutes, airings in items) * MP3_BYTES_PER_S
    return loaxa, mp3


def day(ratio: float, per_session: int, storm_minutes: float, content: Content) -> None:
    """A typical commune day per agent: loaxa against streaming MP3 at every airing."""
    rate = content.bytes_per_s
    loaxa, mp3 = day_bytes(ratio, per_session, storm_minutes, rate)
    print(f"day (2 x 15 min bulletins aired twice, a {storm_minutes:g} min storm bulletin "
          f"aired 8 times; wire overhead x{ratio:.4f}, {per_session} bytes per session):")
    print(f"  content: {content.source}")
    print(f"  loaxa  (each item sent once, cached):   {loaxa / 1e6:6.2f} MB/agent/day")
    print(f"  stream (MP3 48 kbit/s at every airing): {mp3 / 1e6:6.2f} MB/agent/day")
    print(f"  ratio: {loaxa / mp3:.3f} (1/{mp3 / loaxa:.1f}); target <= 0.2")
    print("  (loaxa's bytes on the wire: the content once, times the wire overhead, plus a "
          "fetch session per item; against the streamed content alone: MP3 payload bytes "
          "at every airing, without their TCP/HTTP overhead)")
    print("  by storm bulletin length: " + ", ".join(
        f"{m:g} min {a / b:.3f}" for m in (3, 4, 5, 10, 15)
        for a, b in [day_bytes(ratio, per_session, m, rate)]))


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--procs", type=int, default=4, help="agent processes")
    parser.add_argument("--size", type=int, default=1_800_000, help="bulletin bytes")
    parser.add_argument("--cap-mbps", type=float, default=2.0, help="egress cap, Mbit/s")
    parser.add_argument("--max-concurrent", type=int, default=16)
    parser.add_argument("--storm-minutes", type=float, default=5.0)
    parser.add_argument("--content", choices=("measured", "nominal"), default="measured",
                        help="bytes per second of content for the day model: a real "
                             "imported espeak-ng bulletin, or 24 kbit/s nominal")
    parser.add_argument("--day-only", nargs=2, type=float, metavar=("RATIO", "SESSION_BYTES"),
                        help="only the day model, from recorded figures (no transfer)")
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="loaxa-bench-") as workdir:
        if options.day_only:
            day(options.day_only[0], int(options.day_only[1]), options.storm_minutes,
                content_rate(options.content, Path(workdir)))
            return
        run(Args(agents=options.agents, procs=options.procs, size=options.size,
                 cap_bps=options.cap_mbps * 1e6, max_concurrent=options.max_concurrent,
                 storm_minutes=options.storm_minutes, content=options.content,
                 workdir=Path(workdir)))


if __name__ == "__main__":
    main()
    sys.exit(0)
