"""Forwarder and collector store, end to end in one process, through a link that loses,
duplicates and reorders batches and acks: every record is stored exactly once at the
region (PostgreSQL), and the region computes the same indicators as the communes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from controller.collector.forwarder import Forwarder, ForwardOptions
from controller.collector.store import CollectorStore, qualify
from controller.reports.builder import ReportBuilder, Request
from controller.reports.period import Period
from protocols.clock import ManualClock
from protocols.codec import encode
from protocols.collect import AckStatus, CollectAck, CollectBatch, batch_decoder
from tests.reports import scenario

from .support import COMMUNES, collector_database, make_communes, stored

pytestmark = pytest.mark.postgres
S = 10**9


def test_every_record_once_through_a_lossy_link(tmp_path: Path) -> None:
    fleet = scenario.Fleet.build()
    communes = make_communes(tmp_path, fleet)
    clock = ManualClock(wall_ns=int(scenario.NOW.timestamp()) * S)
    rng = random.Random(20261105)
    wire: list[tuple[str, bytes]] = []
    forwarders = {key: Forwarder(c.db, key, c.commune_id,
                                 lambda payload, key=key: wire.append((key, payload)) or True,
                                 clock, ForwardOptions(batch_records=150, ack_timeout_s=1.0,
                                                       ack_timeout_max_s=4.0))
                  for key, c in communes.items()}
    decoder = batch_decoder()
    with collector_database() as region:
        store = CollectorStore(region, scenario.DEFINITION)
        for commune in communes.values():
            commune.ingest(commune.first)
        delivered = duplicates = 0
        for round_ in range(400):
            if round_ == 25:  # the rest arrives at the communes later (backfill)
                for commune in communes.values():
                    commune.ingest(commune.second)
            for forwarder in forwarders.values():
                forwarder.pump()
            in_transit, wire[:] = wire[:], []
            rng.shuffle(in_transit)
            acks: list[CollectAck] = []
            for key, payload in in_transit:
                if rng.random() < 0.3:
                    continue  # the batch is lost on the way
                batch = decoder.decode(payload)
                assert isinstance(batch, CollectBatch)
                copies = 2 if rng.random() < 0.25 else 1
                for _ in range(copies):
                    acks.append(store.store(key, batch))
                    delivered += 1
                duplicates += copies - 1
            rng.shuffle(acks)
            for ack in acks:
                if rng.random() < 0.3:
                    continue  # the ack is lost
                forwarders[ack.commune].on_ack(ack)
            clock.advance(int(1.5 * S))
            if round_ > 25 and not wire and all(
                    f.in_flight is None and not f.pump() for f in forwarders.values()):
                break
        else:
            pytest.fail("the forwarders never caught up")
        assert delivered > 10 and duplicates > 0  # the link really misbehaved
        for key, commune in communes.items():
            plans = sum(p.agent_id in scenario.COMMUNE_AGENTS[key] for p in fleet.plans)
            assert stored(region, key) == (commune.records, commune.gaps, plans)
            assert stored(commune.db, key) == stored(region, key)
        region_report = ReportBuilder(region).build(Request(
            Period(*scenario.PERIOD), scenario.DEFINITION, scenario.NOW, unit="tinh-a"))
    agents = {a.agent_id: (a.up_ms, a.targeted, a.aired) for a in region_report.agents}
    assert agents == {qualify("xa-a", "ag-a1"): (234_000_000, 10, 10),
                      qualify("xa-a", "ag-a2"): (241_200_000, 0, 0),
                      qualify("xa-a", "ag-a3"): (176_400_000, 4, 1),
                      qualify("xa-a", "ag-a4"): (244_800_000, 10, 9),
                      qualify("xa-b", "ag-b1"): (181_800_000, 8, 6)}
    region = region_report.region
    assert (region.communes_dat, len(region.communes)) == (1, 2)
    assert (region.converted, region.stations) == (2, 4)
    assert {v.key: v.reached for v in region_report.villages} == {
        "xa-a.thon-a1": True, "xa-a.thon-a2": True, "xa-a.thon-a3": True,
        "xa-b.thon-b1": False, "xa-b.thon-b2": True, "xa-b.thon-c1": False}
    assert set(COMMUNES) == {c.key for c in region_report.communes}


def test_a_batch_for_another_commune_is_refused(tmp_path: Path) -> None:
    with collector_database() as region:
        store = CollectorStore(region, scenario.DEFINITION)
        batch = CollectBatch(commune="xa-b", batch=1, sent_ns=0)
        ack = store.store("xa-a", batch)
        assert ack.status is AckStatus.REFUSED and "another commune" in ack.reason
        assert store.store("xa-b", batch).status is AckStatus.STORED  # positive control
        limited = CollectorStore(region, scenario.DEFINITION, communes=["xa-b"])
        assert limited.store("xa-a", CollectBatch("xa-a", 1, 0)).status is AckStatus.REFUSED
    assert encode(ack)  # an ack always encodes (it goes back over the wire)
