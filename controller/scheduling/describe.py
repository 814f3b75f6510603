"""Conflicts and resolver notices as structured, translated entries.

``schedules`` hands back typed values with no text; an operator needs a sentence in
Vietnamese with local times, a script needs the fields. Each entry here is both: a dict
with ``kind``/``code``, a translated ``message`` and the values behind it (UTC instants
as aware datetimes, content as hex).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from controller.i18n import N_, translations
from schedules import (
    AnyNotice,
    CapExceeded,
    Conflict,
    NotCachedInTime,
    Overlap,
    Preempted,
    SessionOverbooked,
    Skipped,
    UnknownTarget,
    WindowPassed,
)

from .names import priority_name

NS = 10**9
MAX_LISTED_AGENTS = 6
TARGET_KINDS = {"village": N_("village"), "cluster": N_("cluster")}


def utc(ns: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ns // NS, dt.UTC) + dt.timedelta(
        microseconds=(ns % NS) // 1000)


def local_text(ns: int, tz: str, with_date: bool = True) -> str:
    moment = utc(ns).astimezone(ZoneInfo(tz))
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def minutes(ms: int) -> str:
    return f"{ms / 60_000:.1f}".rstrip("0").rstrip(".")


def agent_list(agents: tuple[str, ...] | list[str]) -> str:
    shown = ", ".join(agents[:MAX_LISTED_AGENTS])
    return shown + (f" (+{len(agents) - MAX_LISTED_AGENTS})"
                    if len(agents) > MAX_LISTED_AGENTS else "")


def conflict_entry(conflict: Conflict, tz: str, language: str | None) -> dict[str, Any]:
    gettext = translations(language).gettext
    if isinstance(conflict, Overlap):
        verdict = gettext(N_("an override would win") if conflict.overridable else
                          N_("it has a higher precedence: an override would not win"))
        message = gettext(N_("{start}: overlaps {other} ({other_start} to {other_end}, "
                             "{priority}) on agents {agents}; {verdict}.")).format(
            start=local_text(conflict.start_ns, tz), other=conflict.other_programme,
            other_start=local_text(conflict.other_start_ns, tz, False),
            other_end=local_text(conflict.other_end_ns, tz, False),
            priority=priority_name(conflict.other_priority),
            agents=agent_list(conflict.agents), verdict=verdict)
        return {"kind": "overlap", "message": message, "slot_id": conflict.slot_id,
                "start": utc(conflict.start_ns), "end": utc(conflict.end_ns),
                "agents": list(conflict.agents), "other_programme": conflict.other_programme,
                "other_slot_id": conflict.other_slot_id,
                "other_priority": priority_name(conflict.other_priority),
                "other_start": utc(conflict.other_start_ns),
                "other_end": utc(conflict.other_end_ns), "overridable": conflict.overridable}
    if isinstance(conflict, SessionOverbooked):
        message = gettext(N_("Session {session} starting {start} would need {needed} of its "
                             "{cap} minutes ({excess} over) on agents {agents}.")).format(
            session=conflict.session, start=local_text(conflict.session_start_ns, tz),
            needed=minutes(conflict.existing_ms + conflict.proposed_ms),
            cap=minutes(conflict.cap_ms), excess=minutes(conflict.excess_ms),
            agents=agent_list(conflict.agents))
        return {"kind": "session_cap", "message": message, "session": conflict.session,
                "session_start": utc(conflict.session_start_ns),
                "agents": list(conflict.agents), "cap_ms": conflict.cap_ms,
                "existing_ms": conflict.existing_ms, "proposed_ms": conflict.proposed_ms,
                "excess_ms": conflict.excess_ms}
    assert isinstance(conflict, NotCachedInTime)
    if conflict.ready_ns is not None:
        template = N_("Cannot reach {agent} in time: item {content} would only be there at "
                      "{ready}, after {start}; {airings} airings affected.")
    elif conflict.offline and conflict.last_seen_ns is not None:
        template = N_("Cannot reach {agent} in time: it is offline (last seen {last_seen}) "
                      "and does not have item {content}, which airs at {start}; {airings} "
                      "airings affected.")
    elif conflict.offline:
        template = N_("Cannot reach {agent} in time: it has never connected and does not "
                      "have item {content}, which airs at {start}; {airings} airings "
                      "affected.")
    else:
        template = N_("{agent}: item {content} has no way to reach the agent before "
                      "{start} (the library does not hold it); {airings} airings affected.")
    message = gettext(template).format(
        agent=conflict.agent_id, content=conflict.content.hex()[:12],
        start=local_text(conflict.first_start_ns, tz),
        ready=local_text(conflict.ready_ns, tz) if conflict.ready_ns is not None else "",
        last_seen=local_text(conflict.last_seen_ns, tz)
        if conflict.last_seen_ns is not None else "",
        airings=conflict.airings)
    return {"kind": "not_cached_in_time", "message": message,
            "agents": [conflict.agent_id], "content": conflict.content.hex(),
            "slot_id": conflict.first_slot_id, "start": utc(conflict.first_start_ns),
            "ready_at": utc(conflict.ready_ns) if conflict.ready_ns is not None else None,
            "airings": conflict.airings, "offline": conflict.offline,
            "last_seen": utc(conflict.last_seen_ns)
            if conflict.last_seen_ns is not None else None}


def notice_entry(notice: AnyNotice, tz: str, language: str | None) -> dict[str, Any]:
    gettext = translations(language).gettext
    at = local_text(notice.at_ns, tz)
    agents = agent_list(notice.agents)
    if isinstance(notice, CapExceeded):
        message = gettext(N_("{at}: {programme} does not fit in session {session} ({excess} "
                             "minutes over its cap) on agents {agents}.")).format(
            at=at, programme=notice.programme, session=notice.session,
            excess=minutes(notice.excess_ms), agents=agents)
    elif isinstance(notice, Skipped):
        message = gettext(N_("{at}: {programme} is skipped because {busy} is on the air, on "
                             "agents {agents}.")).format(
            at=at, programme=notice.programme, busy=notice.busy_programme, agents=agents)
    elif isinstance(notice, Preempted):
        message = gettext(N_("{at}: {programme} is interrupted by {by} and cannot restart in "
                             "time, on agents {agents}.")).format(
            at=at, programme=notice.programme, by=notice.by_programme, agents=agents)
    elif isinstance(notice, WindowPassed):
        message = gettext(N_("{at}: {programme} cannot start before its window closes at "
                             "{end}, on agents {agents}.")).format(
            at=at, programme=notice.programme, end=local_text(notice.window_end_ns, tz),
            agents=agents)
    elif isinstance(notice, UnknownTarget):
        message = gettext(N_("{programme}: {kind} {target} has no active IP cluster, so "
                             "nothing airs there.")).format(
            programme=notice.programme, kind=gettext(TARGET_KINDS.get(notice.kind,
                                                                      notice.kind)),
            target=notice.target)
    elif notice.code == "outside_session":
        message = gettext(N_("{at}: {programme} falls outside its session "
                             "{session}.")).format(at=at, programme=notice.programme,
                                                   session=getattr(notice, "session", ""))
    else:
        message = gettext(N_("{programme} reaches no agent.")).format(
            programme=notice.programme)
    detail = {key: (value.hex() if isinstance(value, bytes) else value)
              for key, value in msgspec.structs.asdict(notice).items()
              if key not in ("programme", "agents", "at_ns")}
    return {"code": notice.code, "message": message, "programme": notice.programme,
            "agents": list(notice.agents), "at": utc(notice.at_ns), "detail": detail}
