"""Benchmark: 1,000 agents with TLS and a 60 s heartbeat on one controller (issue 4).

Workload: ``--agents`` simulated agents (``bench/simagents.py``) on a real Mosquitto
configured by ``controller/broker/`` (TLS, one password-file account per agent, the
generated ACL, persistence), each with the production defaults of a real agent: a
heartbeat every 60 s (QoS 0, topic alias), an interval extension every 300 s forwarded by
the real ``Forwarder`` after lingering 600 s (so a batch of three extensions and its
signed ack every 15 minutes), MQTT keepalive 120 s, Will delay 90 s, reconnect back-off
1 s doubling to 120 s with jitter. The controller is the real ``FleetLink`` +
``PresenceTracker`` + ingest + rollups, presence flushed every 5 s, in its own process.

1. **Steady state**: after every agent is online and its start-up records are
   acknowledged, ``--steady-s`` seconds (default 900: one whole linger cycle) at
   ``--scale`` times the production rates (default 1: the production rates themselves).
   Reported: controller CPU-seconds per agent-hour (divided by the scale), RSS, broker CPU.
2. **Broker restarts**: Mosquitto is stopped (SIGTERM, persistence saved) and started
   again, at once or after ``--down-s`` seconds (an outage: agents back off meanwhile);
   agents reconnect and publish new births. Measured from the stop until the controller's
   presence shows every agent online *with a new session number* (a session only a
   post-restart birth or heartbeat can carry). Target <= 60 s.

    .venv/bin/python bench/bench_fleet.py --agents 1000
    .venv/bin/python bench/bench_fleet.py --agents 1000 --steady-s 0 --down-s 0 10 30
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.forwarder import ForwardSettings  # noqa: E402
from bench.fleetrig import (  # noqa: E402
    LoadSampler,
    machine,
    proc_cpu_s,
    rig,
    start_controller,
    wait_until,
)
from bench.simagents import SimSettings, start_workers, stop_workers, total  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--steady-s", type=float, default=900.0)
    parser.add_argument("--scale", type=float, default=1.0,
                        help="run heartbeats, extensions, linger and keepalive this much "
                             "faster than production")
    parser.add_argument("--down-s", type=float, nargs="*", default=[0.0, 0.0, 30.0],
                        help="one broker restart per value: how long it stays stopped "
                             "(0: a plain restart; longer: an outage, agents back off)")
    parser.add_argument("--procs", type=int, default=2, help="simulated-agent processes")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    k = args.scale
    info = machine()
    print(f"machine: {info['nproc']} x {info['cpu']}, Linux {info['kernel']}, Python "
          f"{info['python']}, load average {info['loadavg'][0]:.2f} at the start", flush=True)
    result: dict = {"agents": args.agents, "backend": args.backend, "scale": k,
                    "machine": info}
    with rig(args.agents, args.backend) as the_rig:
        settings = SimSettings(
            commune=the_rig.commune, host="127.0.0.1", port=the_rig.port,
            ca_pem=the_rig.ca_pem, trust=the_rig.trust_bundle(),
            heartbeat_s=60.0 / k, extend_s=300.0 / k, keepalive_s=max(1, round(120 / k)),
            forward=ForwardSettings(linger_s=600.0 / k), forward_at_start=True)
        controller = start_controller(the_rig)
        workers = []
        try:
            t = time.monotonic()
            workers = start_workers(the_rig.agents, settings, args.procs)
            assert wait_until(lambda: total(workers)["connected"] == args.agents, 300), \
                f"agents did not connect: {total(workers)}"
            assert wait_until(lambda: controller.ask("stats")["online"] == args.agents, 120)
            # Each agent's start-up records (boot, anchor, open) go at once; extensions
            # journalled since then linger up to 600 s, as a real agent's do.
            assert wait_until(lambda: total(workers)["acked"] >= 3 * args.agents, 120)
            print(f"{args.agents} agents online and their start-up records acknowledged "
                  f"after {time.monotonic() - t:.1f} s", flush=True)
            time.sleep(5)

            # ---------------------------------------------------------- steady state
            broker_pid = the_rig.broker.pid
            if args.steady_s <= 0:
                args.steady_s = 0.0
            assert broker_pid is not None
            c0, b0, s0 = controller.cpu_s(), proc_cpu_s(broker_pid), controller.ask("stats")
            sim0 = total(workers)
            peak = 0
            with LoadSampler() as load:
                start = time.monotonic()
                while time.monotonic() - start < args.steady_s or not peak:
                    time.sleep(min(10.0, max(args.steady_s, 1.0)))
                    peak = max(peak, controller.rss_kb()[0])
                    print(f"  steady {time.monotonic() - start:5.0f} s: controller "
                          f"{controller.cpu_s() - c0:.1f} CPU-s, RSS "
                          f"{controller.rss_kb()[0] / 1024:.0f} MB", flush=True)
                elapsed = time.monotonic() - start
                cpu = controller.cpu_s() - c0
                broker_cpu = proc_cpu_s(broker_pid) - b0
                s1 = controller.ask("stats")
                sim1 = total(workers)
            rss, hwm = controller.rss_kb()
            agent_hours = args.agents * elapsed / 3600
            steady = {
                "seconds": round(elapsed), "controller_cpu_s": round(cpu, 2),
                "cpu_s_per_agent_hour": round(cpu / agent_hours / k, 5),
                "cpu_s_per_agent_hour_at_scale": round(cpu / agent_hours, 5),
                "controller_cores": round(cpu / elapsed, 4),
                "controller_rss_mb": round(rss / 1024, 1),
                "controller_peak_rss_mb": round(max(hwm, peak) / 1024, 1),
                "broker_cpu_s": round(broker_cpu, 2),
                "heartbeats": s1["heartbeats"] - s0["heartbeats"],
                "journal_batches": s1["batches"] - s0["batches"],
                "journal_records": s1["records"] - s0["records"],
                "acks": s1["acks"] - s0["acks"],
                "sim_heartbeats_sent": sim1["heartbeats"] - sim0["heartbeats"],
                "sim_cpu_s": round(sim1["cpu_s"] - sim0["cpu_s"], 1),
                "load": load.summary(),
            }
            result["steady"] = steady
            print(f"\nsteady state, {args.agents} agents, {elapsed:.0f} s at {k:g}x the "
                  f"production rates: {steady['heartbeats']} heartbeats, "
                  f"{steady['journal_batches']} journal batches "
                  f"({steady['journal_records']} records), {steady['acks']} acks")
            print(f"  controller: {cpu:.2f} CPU-s = {steady['controller_cores']:.4f} cores -> "
                  f"{steady['cpu_s_per_agent_hour']:.5f} CPU-s per agent-hour at production "
                  f"rates; RSS {steady['controller_rss_mb']} MB (peak "
                  f"{steady['controller_peak_rss_mb']} MB); broker {broker_cpu:.2f} CPU-s")
            print(f"  {steady['load']}", flush=True)

            # ---------------------------------------------------------- broker restarts
            restarts = []
            for round_no, down_s in enumerate(args.down_s):
                before = controller.ask("sessions")
                c0, sim0 = controller.cpu_s(), total(workers)
                t0 = time.monotonic()
                the_rig.broker.stop()
                stopped = time.monotonic() - t0
                time.sleep(down_s)
                the_rig.broker.start()
                up = time.monotonic() - t0
                broker_pid = the_rig.broker.pid
                assert broker_pid is not None
                broker0 = proc_cpu_s(broker_pid)
                agents_back = None
                all_online = None
                while time.monotonic() - t0 < 300:
                    now = time.monotonic() - t0
                    if agents_back is None and \
                            total(workers)["connected"] == args.agents:
                        agents_back = now
                    sessions = controller.ask("sessions")
                    fresh = sum(1 for agent, (session, online) in sessions.items()
                                if online and session > before.get(agent, (0, False))[0])
                    if fresh == args.agents:
                        all_online = time.monotonic() - t0
                        break
                    time.sleep(0.2)
                sim1 = total(workers)
                entry = {"down_s": down_s, "broker_stop_s": round(stopped, 2),
                         "broker_up_s": round(up, 2),
                         "broker_cpu_s": round(proc_cpu_s(broker_pid) - broker0, 1),
                         "agents_connected_s": round(agents_back, 1) if agents_back else None,
                         "all_online_s": round(all_online, 1) if all_online else None,
                         "controller_cpu_s": round(controller.cpu_s() - c0, 1),
                         "sim_cpu_s": round(sim1["cpu_s"] - sim0["cpu_s"], 1),
                         "failed_connects": sim1["failed_connects"] - sim0["failed_connects"],
                         "reconnects": sim1["connects"] - sim0["connects"]}
                restarts.append(entry)
                print(f"\nbroker restart {round_no + 1} (kept stopped {down_s:g} s): stopped in "
                      f"{stopped:.2f} s, listening again {up:.2f} s after the stop; every agent "
                      f"reconnected after "
                      f"{entry['agents_connected_s']} s; the controller saw all "
                      f"{args.agents} online with new sessions after {entry['all_online_s']} s "
                      f"({(all_online or 0) - up:.1f} s after it was back) "
                      f"(target <= 60 s: "
                      f"{'met' if all_online is not None and all_online <= 60 else 'MISSED'})")
                print(f"  {entry['reconnects']} reconnects, {entry['failed_connects']} refused "
                      f"attempts; broker {entry['broker_cpu_s']} CPU-s, controller "
                      f"{entry['controller_cpu_s']} CPU-s, simulated agents "
                      f"{entry['sim_cpu_s']} CPU-s meanwhile", flush=True)
                time.sleep(20)
            result["restarts"] = restarts
        finally:
            stop_workers(workers)
            controller.stop()
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
