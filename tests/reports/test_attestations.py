"""Attestations: who may attest, what can be attested, how long it counts, and that
every attestation and withdrawal is audited (who, when) and announced."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from controller.audit import AuditFilter
from controller.events import AttestationChanged
from controller.registry.errors import Forbidden, Invalid, NotFound
from controller.reports.attestations import Target, covers
from controller.reports.period import Period
from controller.storage.tables.registry import ClusterKind
from controller.storage.tables.reports import Attestation
from tests.station.kit import SYSTEM, Kit, make_kit
from tests.station.speed import cheap_password_hashing  # noqa: F401


@pytest.fixture
def kit(tmp_path: Path) -> Iterator[Kit]:
    station = make_kit(f"sqlite:///{tmp_path / 'attest.db'}", tmp_path)
    station.services.stations.create_cluster(SYSTEM, "xa-b", "c-fm", "Cụm FM", ClusterKind.FM,
                                             "st-b", "thon-b1")
    station.events.clear()
    yield station
    station.close()


def test_an_operator_attests_and_it_is_audited(kit: Kit) -> None:
    service = kit.services.reporting.attestations
    view = service.attest(kit.who("op-b"), "xa-b", Target.CLUSTER, "c-fm",
                          dt.date(2025, 12, 1), note="kiểm tra tại chỗ")
    # Without an end, as long as the bundled definition allows: 92 days.
    assert (view.period_start, view.period_end) == (dt.date(2025, 12, 1), dt.date(2026, 3, 2))
    assert (view.attested_by, view.attested_at) == ("op-b", kit.time.now())
    entry = kit.services.audit.query(kit.who("admin"), AuditFilter(action="attestation."))
    assert [(e.username, e.action, e.target) for e in entry.entries] == [
        ("op-b", "attestation.create", "cluster:c-fm")]
    assert [type(e) for e in kit.events if isinstance(e, AttestationChanged)] == \
        [AttestationChanged]
    withdrawn = service.withdraw(kit.who("op-b"), view.id)
    assert withdrawn.withdrawn_by == "op-b" and withdrawn.withdrawn_at == kit.time.now()
    assert service.attestations(kit.who("op-b"), "xa-b") == []
    assert [a.id for a in service.attestations(kit.who("op-b"), "xa-b", withdrawn=True)] == \
        [view.id]
    actions = [e.action for e in kit.services.audit.query(
        kit.who("admin"), AuditFilter(action="attestation.")).entries]
    assert actions == ["attestation.withdraw", "attestation.create"]


def test_a_whole_legacy_station(kit: Kit) -> None:
    view = kit.services.reporting.attestations.attest(
        kit.who("op-b"), "xa-b", Target.STATION, "st-b", dt.date(2025, 12, 20),
        dt.date(2025, 12, 31))
    assert (view.target, view.key) == (Target.STATION, "st-b")
    with pytest.raises(Invalid):  # xa-a's station has no wired or FM cluster
        kit.services.reporting.attestations.attest(SYSTEM, "xa-a", Target.STATION, "st-a",
                                                   dt.date(2025, 12, 20))


@pytest.mark.parametrize(("who", "commune", "error"), [
    ("viewer-a", "xa-a", Forbidden),  # a viewer reads, does not attest
    ("prov", "xa-b", Forbidden),  # a province viewer neither
    ("op-b", "xa-a", NotFound),  # another commune: not even confirmed to exist
])
def test_who_may_not_attest(kit: Kit, who: str, commune: str, error: type) -> None:
    cluster = "c-fm" if commune == "xa-b" else "c-thon-a1"
    with pytest.raises(error):
        kit.services.reporting.attestations.attest(kit.who(who), commune, Target.CLUSTER,
                                                   cluster, dt.date(2025, 12, 1))
    with kit.db.session() as session:
        assert session.exec(select(Attestation)).all() == []


@pytest.mark.parametrize(("key", "start", "end", "message"), [
    ("c-thon-b1", dt.date(2025, 12, 1), None, "IP cluster"),
    ("c-fm", dt.date(2026, 1, 2), None, "future"),
    ("c-fm", dt.date(2025, 10, 1), dt.date(2026, 1, 1), "at most 92 days"),
    ("c-fm", dt.date(2025, 12, 2), dt.date(2025, 12, 1), "before it starts"),
])
def test_what_cannot_be_attested(kit: Kit, key: str, start: dt.date, end: dt.date | None,
                                 message: str) -> None:
    with pytest.raises(Invalid, match=message):
        kit.services.reporting.attestations.attest(SYSTEM,
                                                   "xa-b", Target.CLUSTER, key, start, end)


def row(start: str, end: str, withdrawn: bool = False) -> Attestation:
    return Attestation(uid="0" * 32, commune_id=1, period_start=dt.date.fromisoformat(start),
                       period_end=dt.date.fromisoformat(end), attested_by="op",
                       withdrawn_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if withdrawn
                       else None)


def test_coverage_of_a_period() -> None:
    q3 = Period(dt.date(2026, 7, 1), dt.date(2026, 9, 30))  # 92 days
    today = dt.date(2026, 12, 31)
    assert covers([row("2026-07-01", "2026-09-30")], q3, today, 92)
    assert not covers([row("2026-07-02", "2026-09-30")], q3, today, 92)  # misses 07-01
    # Two attestations, back to back, cover it; a gap of a day does not.
    assert covers([row("2026-08-01", "2026-09-30"), row("2026-07-01", "2026-07-31")], q3,
                  today, 92)
    assert not covers([row("2026-08-02", "2026-09-30"), row("2026-07-01", "2026-07-31")],
                      q3, today, 92)
    # The definition caps what one attestation covers, whatever it claims.
    assert not covers([row("2026-07-01", "2026-12-31")], q3, today, 60)
    assert not covers([row("2026-07-01", "2026-09-30", withdrawn=True)], q3, today, 92)
    # A period still running only needs covering up to today.
    assert covers([row("2026-07-01", "2026-08-15")], q3, dt.date(2026, 8, 15), 92)
