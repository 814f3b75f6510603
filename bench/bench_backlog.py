"""Benchmark: a 24-hour backlog of 1,000 agents drained through the broker (issue 4).

Workload: ``--agents`` simulated agents (``bench/simagents.py``: the real paho client
options, the real ``Forwarder`` — oldest first, at most 200 records / 32 KiB a batch,
window 2, acknowledged — and acks verified with the real ``ControlInbox``), each holding
``--days`` of what a real agent journals with nothing scheduled (boot, anchor, interval
open, an extension every 300 s, a few events, close: 296 records a day) plus the boot,
anchor and open of its current run. Agents connect through a real Mosquitto (TLS, one
account per agent, the generated ACL) and keep sending heartbeats stamped with their send
time; once every agent is online the backlog is released at once ("go"). The controller
is the real ``FleetLink`` + ``JournalIngest`` + ``RollupMaintainer`` in a process of its
own (``bench/fleetrig.py``), on SQLite (WAL, synchronous=FULL) or PostgreSQL.

Measured: records/s from "go" until every record is acknowledged (target >= 20,000), the
latency of live heartbeats meanwhile (receipt at the controller's ``PresenceTracker``
minus the agent's send stamp; target <= 5 s), the controller's CPU and RSS, and at the
end that every record is stored exactly once.

    .venv/bin/python bench/bench_backlog.py --agents 1000 --backend sqlite
    .venv/bin/python bench/bench_backlog.py --agents 1000 --backend postgresql
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.forwarder import ForwardSettings  # noqa: E402
from bench.fleetrig import (  # noqa: E402
    LoadSampler,
    db_backend_cpu,
    db_cpu_delta,
    machine,
    percentile,
    proc_cpu_s,
    rig,
    start_controller,
    verify_exactly_once,
    wait_until,
)
from bench.simagents import SimSettings, start_workers, stop_workers, total  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--days", type=float, default=1.0, help="backlog per agent, in days")
    parser.add_argument("--heartbeat-s", type=float, default=10.0,
                        help="heartbeat interval during the drain (production: 60)")
    parser.add_argument("--procs", type=int, default=2, help="simulated-agent processes")
    parser.add_argument("--timeout", type=float, default=900.0, help="give up after (s)")
    parser.add_argument("--profile", type=Path, default=None,
                        help="write cProfiles of the controller's ingest stages: FILE (the "
                             "commit thread) and FILE.prepare (the gathering thread)")
    parser.add_argument("--no-copy", action="store_true",
                        help="PostgreSQL: ingest with the multi-row upsert, not COPY")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    info = machine()
    print(f"machine: {info['nproc']} x {info['cpu']}, Linux {info['kernel']}, Python "
          f"{info['python']}, load average {info['loadavg'][0]:.2f} at the start", flush=True)
    with rig(args.agents, args.backend) as the_rig:
        settings = SimSettings(
            commune=the_rig.commune, host="127.0.0.1", port=the_rig.port,
            ca_pem=the_rig.ca_pem, trust=the_rig.trust_bundle(),
            heartbeat_s=args.heartbeat_s, backlog_days=args.days, forward_at_start=False,
            forward=ForwardSettings())
        controller = start_controller(the_rig, profile=str(args.profile) if args.profile
                                      else None, bulk_copy=False if args.no_copy else None)
        workers = []
        try:
            t = time.monotonic()
            workers = start_workers(the_rig.agents, settings, args.procs)
            assert wait_until(lambda: total(workers)["connected"] == args.agents, 300), \
                f"agents did not connect: {total(workers)}"
            assert wait_until(lambda: controller.ask("stats")["online"] == args.agents, 120), \
                f"controller does not see every agent: {controller.ask('stats')}"
            print(f"{args.agents} agents online after {time.monotonic() - t:.1f} s", flush=True)
            time.sleep(max(2.0, min(args.heartbeat_s, 10.0)))  # heartbeats flowing
            before = total(workers)
            expected = before["appended"]
            print(f"backlog: {expected} records ({expected / args.agents:.0f} per agent)",
                  flush=True)
            controller.ask("latencies")  # drop the samples from before the drain
            broker_pid = the_rig.broker.pid
            assert broker_pid is not None
            cpu0 = controller.cpu_s()
            broker_cpu0 = proc_cpu_s(broker_pid)
            db_cpu0 = db_backend_cpu(the_rig.db_url)
            stats0 = controller.ask("stats")
            timeline = []
            with LoadSampler() as load:
                go_wall = time.time()
                start = time.monotonic()
                for worker in workers:
                    worker.ask("go")
                peak_rss = 0
                done_at = None
                while time.monotonic() - start < args.timeout:
                    time.sleep(0.5)
                    sims = total(workers)
                    stats = controller.ask("stats")
                    rss, hwm = controller.rss_kb()
                    peak_rss = max(peak_rss, rss)
                    timeline.append((round(time.monotonic() - start, 1),
                                     stats["records"] - stats0["records"], sims["acked"],
                                     stats["queue"], rss))
                    if sims["acked"] >= expected:
                        done_at = time.monotonic()
                        break
                elapsed = (done_at or time.monotonic()) - start
                cpu = controller.cpu_s() - cpu0
                broker_cpu = proc_cpu_s(broker_pid) - broker_cpu0
                db_cpu = db_cpu_delta(db_cpu0, db_backend_cpu(the_rig.db_url))
                sims_after = total(workers)
                stats = controller.ask("stats")
                latencies = controller.ask("latencies")
            rss, hwm = controller.rss_kb()
            # Live extensions journalled meanwhile linger (600 s) like a real agent's:
            # stop journalling and send them, so the exactly-once check covers everything.
            for worker in workers:
                worker.ask("freeze")
            wait_until(lambda: (lambda s: s["acked"] >= s["appended"])(total(workers)), 60)
            if done_at is None:
                print(f"NOT DRAINED after {args.timeout:.0f} s: {sims_after}", flush=True)
            journals: dict[str, tuple[str, int, int, int]] = {}
            for worker in workers:
                journals.update(worker.ask("journals"))
        finally:
            stop_workers(workers)
            controller.stop()
        stored, problems = verify_exactly_once(the_rig.db_url, journals)

    during = [lat / 1e9 for when, lat in latencies if when / 1e9 <= go_wall + elapsed]
    appended = sum(v[1] for v in journals.values())
    drained = expected
    result = {
        "backend": args.backend, "copy": args.backend == "postgresql" and not args.no_copy,
        "agents": args.agents, "days": args.days,
        "heartbeat_s": args.heartbeat_s, "records": appended,
        "drain_s": round(elapsed, 2), "records_per_s": round(drained / elapsed),
        "batches": stats["batches"] - stats0["batches"],
        "records_ingested": stats["records"] - stats0["records"],
        "ingest_errors": stats["ingest_errors"],
        "forwarder_timeouts": sims_after["timeouts"],
        "heartbeats_during": len(during),
        "hb_latency_s": {"p50": round(percentile(during, 50), 3),
                         "p95": round(percentile(during, 95), 3),
                         "p99": round(percentile(during, 99), 3),
                         "max": round(max(during), 3) if during else None,
                         "mean": round(statistics.fmean(during), 3) if during else None},
        "controller_cpu_s": round(cpu, 1),
        "controller_cpu_per_s": round(cpu / elapsed, 2),
        "controller_rss_mb": round(rss / 1024, 1), "controller_peak_rss_mb":
            round(max(hwm, peak_rss) / 1024, 1),
        "broker_cpu_s": round(broker_cpu, 1),
        "postgres_backends_cpu_s": round(db_cpu, 1),
        "sim_agents_cpu_s_total": round(sims_after["cpu_s"] - before["cpu_s"], 1),
        "stored": stored, "exactly_once": not problems, "problems": problems[:10],
        "load": load.summary(),
        "machine": info,
    }
    print(f"\nbackend {args.backend}: {drained} records of backlog from {args.agents} agents "
          f"drained in {elapsed:.1f} s = {result['records_per_s']:,} records/s "
          f"(target >= 20,000: {'met' if result['records_per_s'] >= 20_000 else 'MISSED'})")
    print(f"  ingest: {result['batches']} batches in transactions of up to 20,000 records; "
          f"{result['records_ingested']} records ingested (duplicates included), "
          f"{result['forwarder_timeouts']} forwarder timeouts, "
          f"{result['ingest_errors']} ingest errors")
    hb = result["hb_latency_s"]
    print(f"  live heartbeats during the drain: {len(during)}; latency p50 {hb['p50']} s, "
          f"p95 {hb['p95']} s, p99 {hb['p99']} s, max {hb['max']} s (target <= 5 s: "
          f"{'met' if during and hb['max'] <= 5 else 'MISSED'})")
    print(f"  controller: {cpu:.1f} CPU-s ({cpu / elapsed:.2f} cores), RSS {rss / 1024:.0f} MB "
          f"at the end, peak {result['controller_peak_rss_mb']} MB; broker {broker_cpu:.1f} "
          f"CPU-s; PostgreSQL backends {db_cpu:.1f} CPU-s; simulated agents "
          f"{result['sim_agents_cpu_s_total']} CPU-s in all")
    print(f"  stored {stored} rows; exactly once: {'yes' if not problems else 'NO'}")
    for problem in problems[:10]:
        print(f"    {problem}")
    print(f"  {result['load']}")
    print("  timeline (s, ingested, acked, ingest queue, controller RSS KiB):")
    step = max(1, len(timeline) // 12)
    for row in timeline[::step]:
        print(f"    {row}")
    if args.json:
        print(json.dumps(result))
    return 0 if not problems and done_at is not None else 1


if __name__ == "__main__":
    sys.exit(main())
