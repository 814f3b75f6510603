"""Emergencies stored on both backends: started without approval only with the emergency
permission, audited, superseded, stopped, acknowledged by an approver; pins; and a day's
timeline with its emergencies."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlmodel import select

from controller.events import EmergencyAcknowledged, EmergencyStarted, EmergencyStopped
from controller.registry.errors import Conflict, Forbidden, Invalid, NotFound
from controller.scheduling import ItemRef, ProgrammeInput
from controller.storage.tables.audit import AuditEntry
from protocols.messages import DocVersion
from schedules import Daily, Once

from .conftest import MORNING, MUSIC, STORM, TOMORROW, Commune


def audit_of(commune: Commune, prefix: str) -> list[AuditEntry]:
    with commune.kit.db.session() as session:
        return [e for e in session.exec(select(AuditEntry).order_by(
            AuditEntry.id))  # type: ignore[arg-type]
            if e.action.startswith(prefix)]


def test_emergency_needs_the_permission_not_an_approval(commune: Commune) -> None:
    emergencies = commune.services.emergencies
    for username in ("op-a", "appr-a", "viewer-a"):
        with pytest.raises(Forbidden):
            emergencies.start(commune.who(username), "xa-a", content=STORM)
    started = emergencies.start(commune.who("em-a"), "xa-a", title="Tin bão số 3",
                                villages=["thon-a2"], repeat_every_s=600, volume=90,
                                attention_tone=False)
    assert (started.active, started.content, started.villages, started.repeat_every_s,
            started.volume, started.attention_tone, started.started_by) == (
        True, STORM, ["thon-a2"], 600, 90, False, "em-a")
    assert started.document_version is None  # no fleet link in this test: stored, pending
    [entry] = audit_of(commune, "emergency.")
    detail = json.loads(entry.detail)
    assert (entry.action, entry.username, entry.target, detail["approval"]) == (
        "emergency.start", "em-a", started.id, "bypassed")
    assert [e.id for e in emergencies.list_emergencies(commune.who("viewer-a"), "xa-a",
                                                       unacknowledged=True)] == [started.id]
    with pytest.raises(Forbidden):
        emergencies.acknowledge(commune.who("em-a"), "xa-a", started.id)
    with pytest.raises(Forbidden):
        emergencies.stop(commune.who("op-a"), "xa-a")
    stopped = emergencies.stop(commune.who("em-a"), "xa-a")
    assert (stopped.active, stopped.stop_reason, stopped.stopped_by) == (False, "stopped",
                                                                         "em-a")
    with pytest.raises(Conflict):
        emergencies.stop(commune.who("em-a"), "xa-a")
    acknowledged = emergencies.acknowledge(commune.who("appr-a"), "xa-a", started.id,
                                           "Bão đổ bộ, phát đúng quy trình")
    assert (acknowledged.acknowledged_by, acknowledged.acknowledgement) == (
        "appr-a", "Bão đổ bộ, phát đúng quy trình")
    with pytest.raises(Conflict):
        emergencies.acknowledge(commune.who("appr-a"), "xa-a", started.id)
    assert emergencies.list_emergencies(commune.who("appr-a"), "xa-a",
                                        unacknowledged=True) == []
    assert [e.action for e in audit_of(commune, "emergency.")] == [
        "emergency.start", "emergency.stop", "emergency.acknowledge"]
    kinds = [type(e) for e in commune.kit.events
             if isinstance(e, EmergencyStarted | EmergencyStopped | EmergencyAcknowledged)]
    assert kinds == [EmergencyStarted, EmergencyStopped, EmergencyAcknowledged]


def test_a_new_emergency_supersedes_the_one_on_the_air(commune: Commune) -> None:
    emergencies = commune.services.emergencies
    first = emergencies.start(commune.who("em-a"), "xa-a", content=STORM)
    second = emergencies.start(commune.who("em-a"), "xa-a", content=MORNING,
                               villages=["thon-a1"])
    listed = {e.id: e for e in emergencies.list_emergencies(commune.who("op-a"), "xa-a")}
    assert listed[first.id].stop_reason == "superseded" and listed[second.id].active
    assert [e.id for e in emergencies.list_emergencies(commune.who("op-a"), "xa-a",
                                                       active=True)] == [second.id]
    with pytest.raises(Invalid):
        emergencies.start(commune.who("em-a"), "xa-a", content=STORM, villages=["thon-b1"])
    with pytest.raises(NotFound):
        emergencies.start(commune.who("em-a"), "xa-a", content="e" * 64)
    with pytest.raises(NotFound):
        emergencies.start(commune.who("em-a"), "xa-a", title="Không có")
    with pytest.raises(NotFound):
        emergencies.acknowledge(commune.who("appr-a"), "xa-a", "em-unknown")


def test_announcing_records_the_document_version(commune: Commune) -> None:
    """With a broadcaster plugged in (the daemon's), each state's document version is kept;
    a state left unannounced is announced by ``reconcile`` (at the next start)."""
    announced: list[tuple[str, bool]] = []

    class Recording:
        def announce(self, emergency):  # type: ignore[no-untyped-def]
            announced.append((emergency.id, emergency.stopped_at is None))
            return DocVersion(1, len(announced))

    emergencies = commune.services.emergencies
    started = emergencies.start(commune.who("em-a"), "xa-a", content=STORM)
    assert not emergencies.reconcile(commune.commune_id)  # still no way to announce it
    emergencies.plug(Recording())
    assert emergencies.reconcile(commune.commune_id)
    assert announced == [(started.id, True)]
    assert emergencies.list_emergencies(commune.who("op-a"), "xa-a")[0].document_version \
        == "1.1"
    stopped = emergencies.stop(commune.who("appr-a"), "xa-a")
    assert stopped.document_version == "1.2" and announced[-1] == (started.id, False)
    assert not emergencies.reconcile(commune.commune_id)  # nothing pending


def test_pins(commune: Commune) -> None:
    pins = commune.services.pins
    with pytest.raises(Forbidden):
        pins.pin(commune.who("viewer-a"), "xa-a", STORM)
    with pytest.raises(NotFound):
        pins.pin(commune.who("op-a"), "xa-a", "e" * 64)
    with pytest.raises(Invalid):
        pins.pin(commune.who("op-a"), "xa-a", "not-a-sha")
    pinned = pins.pin(commune.who("op-a"), "xa-a", STORM.upper(), "cảnh báo bão")
    assert (pinned.content, pinned.title, pinned.note) == (STORM, "Tin bão số 3",
                                                           "cảnh báo bão")
    assert [p.content for p in pins.list_pins(commune.who("viewer-a"), "xa-a")] == [STORM]
    # the library now knows the content is needed
    assert commune.services.usage.users_of("xa-a", STORM) == ["pin"]
    pins.unpin(commune.who("op-a"), "xa-a", STORM)
    with pytest.raises(NotFound):
        pins.unpin(commune.who("op-a"), "xa-a", STORM)


def test_a_day_of_the_commune(commune: Commune) -> None:
    programmes = commune.services.programmes
    programmes.create(commune.who("op-a"), "xa-a", ProgrammeInput(
        title="Tin sáng", items=(ItemRef(content=MORNING),), recurrence=Daily(
            at=dt.time(5))), key="sang")
    programmes.create(commune.who("op-a"), "xa-a", ProgrammeInput(
        title="Nhạc thôn 2", items=(ItemRef(title="Nhạc chờ"),), recurrence=Once(
            on=TOMORROW, at=dt.time(6)), villages=frozenset({"thon-a2"})), key="nhac")
    programmes.create(commune.who("op-a"), "xa-a", ProgrammeInput(
        title="Nháp", items=(ItemRef(content=STORM),), recurrence=Daily(at=dt.time(7))),
        key="nhap")
    for key in ("sang", "nhac"):
        programmes.approve(commune.who("appr-a"), "xa-a", key)
    emergency = commune.services.emergencies.start(commune.who("em-a"), "xa-a",
                                                   content=STORM)
    day = commune.services.timeline.day(commune.who("viewer-a"), "xa-a", TOMORROW)
    rows = [(e.programme, e.start.astimezone(dt.timezone(dt.timedelta(hours=7))).time(),
             e.agents, e.villages, e.content_title) for e in day.entries]
    assert rows == [
        ("sang", dt.time(5), ["ag-1", "ag-2", "ag-3"], ["thon-a1", "thon-a2"],
         "Bản tin sáng"),
        ("nhac", dt.time(6), ["ag-3"], ["thon-a2"], "Nhạc chờ")]  # never the draft
    assert day.entries[1].title == "Nhạc thôn 2" and day.agents == ["ag-1", "ag-2", "ag-3"]
    assert [e.id for e in day.emergencies] == [emergency.id]  # on the air until stopped
    assert commune.services.usage.users_of("xa-a", STORM) == ["nhap", emergency.id]
    commune.advance(3600)
    commune.services.emergencies.stop(commune.who("em-a"), "xa-a")
    assert commune.services.timeline.day(commune.who("viewer-a"), "xa-a",
                                         TOMORROW).emergencies == []
    today = commune.services.timeline.day(commune.who("viewer-a"), "xa-a")
    assert [(e.id, e.active) for e in today.emergencies] == [(emergency.id, False)]
    assert commune.services.usage.users_of("xa-a", MUSIC) == ["nhac"]
    assert commune.services.usage.users_of("xa-a", STORM) == ["nhap"]
