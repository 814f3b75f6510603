"""Benchmark: control-plane bytes per agent per day, with nothing scheduled (issue 4).

Workload: one real agent process (``python -m agent run``, provisioned as enrolment
would) dials the broker through the userspace relay (``controller/demo/relay.py``), which
counts TCP payload in both directions — TLS records included, TCP/IP headers not. The
other end is the real controller fleet link (``FleetLink`` + presence + ingest + signed
acks, in its own process, ``bench/fleetrig.py``) on a real Mosquitto with loaxa's
generated TLS/auth/ACL configuration. The broker logs at debug level here (a line per
MQTT packet) so every message kind can be counted exactly.

1. **Per message kind**, each measured alone over ``--window-s`` at a fast rate, the
   others silenced: a heartbeat (QoS 0, topic alias), a keepalive exchange (PINGREQ +
   PINGRESP), a journal batch of three interval extensions with its PUBACK, the signed
   ack and the agent's PUBACK; plus the connection itself (TLS handshake, CONNECT,
   subscriptions, retained trust bundle, birth, telemetry, the start-up batch and ack).
2. **The arithmetic** at production intervals: 1,440 heartbeats (60 s), 720 keepalive
   exchanges (120 s: the agent sends heartbeats but receives almost nothing, so paho
   pings every keepalive), 96 batches (an extension every 300 s, lingering 600 s: three
   extensions a batch every 15 minutes), one connection.
3. **A compressed day**: the agent with every production interval divided by
   ``--scale`` (default 60: a day in 24 minutes, keepalive 2 s, heartbeat 1 s, extension
   5 s, linger 10 s), measured end to end; the bytes of a compressed day are the bytes of a
   day (same messages, same sizes, give or take a byte of msgpack in counters that grow).

Target: <= 300 KB per agent per day.

    .venv/bin/python bench/bench_control_bytes.py                 # about 27 minutes
    .venv/bin/python bench/bench_control_bytes.py --scale 240     # a quicker look
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fleetrig import machine, prepare_registry, start_controller, wait_until  # noqa: E402
from controller.broker.accounts import Role  # noqa: E402
from controller.broker.files import BrokerLayout, ListenerSettings, write_broker_files  # noqa: E402
from controller.broker.process import MosquittoProcess  # noqa: E402
from controller.demo.relay import Relay  # noqa: E402
from protocols.keys import SigningIdentity  # noqa: E402
from tests.support.agent_process import AgentProcess, provision  # noqa: E402
from tests.support.broker import RunningBroker  # noqa: E402
from tests.support.ports import free_port  # noqa: E402

COMMUNE = "xa-bytes"
AGENT = "ag-bytes-1"
DAY = 86_400
KB = 1000
BASE = {"testing__short_intervals": "true", "clock__trust": "always",
        "audio__sink": "null", "amplifier__driver": "none",
        "broker__reconnect_min_s": "0.2", "broker__reconnect_max_s": "2"}
QUIET = {"heartbeat__interval_s": "3600", "heartbeat__telemetry_min_s": "3600",
         "journal__extend_s": "3600", "broker__keepalive_s": "900", "journal__linger_s": "0"}


class BrokerLog:
    """Counts MQTT packets of one client in Mosquitto's debug log."""

    def __init__(self, path: Path, client: str) -> None:
        self.path = path
        self.client = client
        self._offset = 0

    def mark(self) -> None:
        self._offset = self.path.stat().st_size

    def counts(self) -> dict[str, int]:
        with self.path.open("rb") as handle:
            handle.seek(self._offset)
            text = handle.read().decode(errors="replace")
        c = re.escape(self.client)
        found: dict[str, int] = {}
        patterns = {
            "pingreq": rf"Received PINGREQ from {c}\b",
            "hb": rf"Received PUBLISH from {c} \(d\d, q0, r0, m\d+, '[^']*/hb'",
            "journal": rf"Received PUBLISH from {c} \(d\d, q1, r0, m\d+, '[^']*/journal'",
            "ack": rf"Sending PUBLISH to {c} \(d\d, q1, r0, m\d+, '[^']*/ack'",
            "birth": rf"Received PUBLISH from {c} \(d\d, q1, r1, m\d+, '[^']*/birth'",
            "telemetry": rf"Received PUBLISH from {c} \(d\d, q1, r1, m\d+, '[^']*/telemetry'",
            "connect": rf"New client connected from .* as {c} ",
        }
        for name, pattern in patterns.items():
            found[name] = len(re.findall(pattern, text))
        return found


class Bench:
    def __init__(self, root: Path) -> None:
        self.root = root
        layout = BrokerLayout(root / "broker")
        port = free_port()
        write_broker_files(layout, ListenerSettings(port=port), [])
        with layout.config.open("a") as handle:  # one line per packet, to count kinds
            handle.write("log_type debug\nlog_type subscribe\n")
        process = MosquittoProcess(layout, port)
        process.start()
        self.broker = RunningBroker(layout, process)
        self.ctl = self.broker.add("ctl-bench", Role.CONTROLLER, COMMUNE)
        self.identity = SigningIdentity.generate()
        self.relay = Relay(port).start()
        self.agent = provision(self.broker, root / "agents", COMMUNE, AGENT, self.identity,
                               port=self.relay.port)
        db_url = f"sqlite:///{root / 'loaxa.db'}"
        commune_id = prepare_registry(db_url, COMMUNE, [AGENT])
        self.controller = start_controller(SimpleNamespace(
            commune=COMMUNE, commune_id=commune_id, db_url=db_url, port=port,
            controller_password=self.ctl.password, ca_pem=self.broker.ca_pem,
            identity=self.identity))
        self.log = BrokerLog(layout.log, f"loaxa-{AGENT}")

    def close(self) -> None:
        self.controller.stop()
        self.relay.stop()
        self.broker.process.stop()

    def bytes(self) -> int:
        return self.relay.bytes_up + self.relay.bytes_down

    def run(self, settings: dict[str, str], window_s: float, settle_s: float = 3.0,
            ) -> tuple[int, dict[str, int], dict[str, int], float, int]:
        """Start the agent with ``settings``; after it has settled, count bytes and
        packets over ``window_s``. Returns (bytes, broker counts, controller deltas,
        seconds, start-up bytes)."""
        process = AgentProcess(self.agent, settings={**BASE, **settings})
        before_start = self.bytes()
        process.start()
        try:
            stats0 = self.controller.ask("stats")
            assert wait_until(lambda: self.controller.ask("stats")["heartbeats"] >
                              stats0["heartbeats"] or process.log_text().count("connected ("),
                              30), process.log_text()[-2000:]
            time.sleep(settle_s)
            startup = self.bytes() - before_start
            s0 = self.controller.ask("stats")
            self.log.mark()
            b0, t0 = self.bytes(), time.monotonic()
            time.sleep(window_s)
            b1, t1 = self.bytes(), time.monotonic()
            counts = self.log.counts()
            s1 = self.controller.ask("stats")
        finally:
            process.kill9()
        deltas = {k: s1[k] - s0[k] for k in ("heartbeats", "batches", "records", "acks")}
        time.sleep(0.5)
        return b1 - b0, counts, deltas, t1 - t0, startup


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=60.0)
    parser.add_argument("--window-s", type=float, default=30.0)
    parser.add_argument("--day-fraction", type=float, default=1.0,
                        help="run only this fraction of the compressed day (extrapolated)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    info = machine()
    print(f"machine: {info['nproc']} x {info['cpu']}, Linux {info['kernel']}, Python "
          f"{info['python']}, load average {info['loadavg'][0]:.2f} at the start", flush=True)
    result: dict = {"machine": info, "scale": args.scale}
    with tempfile.TemporaryDirectory(prefix="loaxa-bytes-") as tmp:
        bench = Bench(Path(tmp))
        try:
            w = args.window_s
            # --- 1. each kind alone
            silent_bytes, silent_counts, _, silent_s, startup = bench.run(dict(QUIET), 10.0)
            hb_bytes, hb_counts, hb_d, _, _ = bench.run(
                {**QUIET, "heartbeat__interval_s": "0.5"}, w)
            hb = hb_bytes / max(hb_d["heartbeats"], 1)  # QoS 0 over loopback: none lost
            ping_bytes, ping_counts, _, _, _ = bench.run(
                {**QUIET, "broker__keepalive_s": "2"}, w)
            ping = ping_bytes / max(ping_counts["pingreq"], 1)
            batch_bytes, batch_counts, batch_d, _, _ = bench.run(
                {**QUIET, "journal__extend_s": "1", "journal__linger_s": "2"}, w)
            batch = batch_bytes / max(batch_counts["journal"], 1)
            per_batch = batch_d["records"] / max(batch_d["batches"], 1)
            kinds = {
                "heartbeat": {"bytes": round(hb, 1), "broker_log": hb_counts["hb"],
                              "controller_saw": hb_d["heartbeats"]},
                "keepalive_exchange": {"bytes": round(ping, 1), "seen": ping_counts["pingreq"]},
                "batch_with_ack": {"bytes": round(batch, 1), "seen": batch_counts["journal"],
                                   "acks": batch_counts["ack"],
                                   "records_per_batch": round(per_batch, 2)},
                "connection_startup": {"bytes": startup},
                "silence_10s": {"bytes": silent_bytes, "packets": silent_counts},
            }
            result["kinds"] = kinds
            print("\nper message kind (TCP payload both ways, TLS included):")
            print(f"  heartbeat (QoS 0, topic alias)           {hb:7.1f} B   "
                  f"({hb_d['heartbeats']} in {w:.0f} s; broker log {hb_counts['hb']})")
            print(f"  keepalive PINGREQ + PINGRESP             {ping:7.1f} B   "
                  f"({ping_counts['pingreq']} in {w:.0f} s)")
            print(f"  batch of {per_batch:.1f} extensions + PUBACK + ack + PUBACK "
                  f"{batch:7.1f} B   ({batch_counts['journal']} batches, "
                  f"{batch_counts['ack']} acks)")
            print(f"  connection (TLS handshake .. start-up batch and ack)  {startup} B")
            print(f"  nothing at all for {silent_s:.0f} s                {silent_bytes} B "
                  f"({silent_counts})", flush=True)
            # --- 2. the arithmetic at production intervals
            day = {"heartbeat": DAY / 60 * hb, "keepalive": DAY / 120 * ping,
                   "journal": DAY / 900 * batch, "connection": float(startup)}
            arithmetic = sum(day.values())
            result["arithmetic_bytes_per_day"] = {k: round(v) for k, v in day.items()}
            result["arithmetic_total"] = round(arithmetic)
            print("\nat production intervals, per day:")
            print(f"  1,440 heartbeats x {hb:.1f} B            = {day['heartbeat'] / KB:7.1f} KB")
            print(f"    720 keepalive exchanges x {ping:.1f} B   = {day['keepalive'] / KB:7.1f} KB")
            print(f"     96 batches (3 extensions) x {batch:.1f} B = "
                  f"{day['journal'] / KB:7.1f} KB")
            print(f"      1 connection x {startup} B            = {day['connection'] / KB:7.1f} KB")
            print(f"  total                                 = {arithmetic / KB:7.1f} KB "
                  f"(target <= 300 KB: {'met' if arithmetic <= 300_000 else 'MISSED'})",
                  flush=True)
            # --- 3. a compressed day, end to end
            k = args.scale
            compressed = {"heartbeat__interval_s": f"{60 / k:g}",
                          "heartbeat__telemetry_min_s": f"{60 / k:g}",
                          "journal__extend_s": f"{300 / k:g}",
                          "journal__linger_s": f"{600 / k:g}",
                          "broker__keepalive_s": f"{max(1, round(120 / k))}"}
            print(f"\ncompressed day: every interval / {k:g} ({compressed}), "
                  f"{DAY / k:.0f} s ...", flush=True)
            process = AgentProcess(bench.agent, settings={**BASE, **compressed})
            bench.log.mark()
            s0 = bench.controller.ask("stats")
            b0 = bench.bytes()
            t0 = time.monotonic()
            process.start()
            try:
                time.sleep(DAY / k * args.day_fraction)
                measured = bench.bytes() - b0
                elapsed = time.monotonic() - t0
                counts = bench.log.counts()
                s1 = bench.controller.ask("stats")
            finally:
                process.kill9()
            per_day = measured * (DAY / k) / elapsed
            hb_seen = max(counts["hb"], s1["heartbeats"] - s0["heartbeats"])
            counts["hb"] = hb_seen
            deltas = {key: s1[key] - s0[key] for key in ("heartbeats", "batches", "records",
                                                         "acks")}
            model = (counts["hb"] * hb + counts["pingreq"] * ping + counts["journal"] * batch
                     + counts["connect"] * startup)
            result["compressed_day"] = {"measured_bytes": measured, "seconds": round(elapsed),
                                        "per_day_bytes": round(per_day), "packets": counts,
                                        "controller": deltas,
                                        "model_for_these_counts": round(model)}
            print(f"  measured {measured} B in {elapsed:.0f} s -> {per_day / KB:.1f} KB per "
                  f"agent per day (target <= 300 KB: "
                  f"{'met' if per_day <= 300_000 else 'MISSED'})")
            print(f"  packets: {counts}; controller: {deltas}")
            print(f"  the per-kind costs x these counts predict {model / KB:.1f} KB "
                  f"({(model - measured) / measured * 100:+.1f} %)")
        finally:
            bench.close()
    print(f"  load average {info['loadavg'][0]:.2f} at the start")
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
