"""``loaxa schedule ...``: sessions, programmes (drafts, conflicts, approval), pins, the
commune's day and an agent's plan.

Programming that conflicts with the approved schedule prints the conflicts (translated,
or the API's structured list with ``--json``) and exits with code 5; the same command
with ``--resolve override`` or ``--resolve append`` accepts it that way. Every command
works on the station's own commune unless ``--commune`` names another.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import click
import httpx

from controller.i18n import _

from .common import DATE, choice, confirm, seg
from .context import api, context
from .errors import EXIT_REFUSED, EXIT_UNAVAILABLE, CliError
from .output import STATE, emit, json_option, say, show_fields, show_table

PRIORITIES = ["fill", "normal", "priority", "emergency"]
POLICIES = ["preempt", "queue_after", "skip_if_busy"]
RESOLUTIONS = ["override", "append"]
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "all")
STATUSES = ["draft", "approved", "superseded", "withdrawn"]
SHA = re.compile(r"^[0-9a-fA-F]{64}$")
DATETIME = click.DateTime(formats=["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"])


# ---------------------------------------------------------------------------- helpers


def commune_option(function: Any) -> Any:
    return click.option("--commune", help=_("The commune (default: this station's)."))(
        function)


def commune_of(commune: str | None) -> str:
    return commune or context().settings().station.commune


def station_tz() -> str:
    return context().settings().station.timezone


def clock_time(value: str) -> str:
    """``HH:MM`` or ``HH:MM:SS`` as the API wants it; a clear usage error otherwise."""
    for pattern in ("%H:%M", "%H:%M:%S"):
        try:
            return dt.datetime.strptime(value, pattern).time().isoformat()
        except ValueError:
            continue
    raise click.BadParameter(_("use HH:MM, e.g. 05:30 ({value})").format(value=value))


def optional_time(value: str | None) -> str | None:
    return clock_time(value) if value is not None else None


def names(value: str | None) -> list[str] | None:
    """``"a, b"`` -> ``["a", "b"]``."""
    if value is None:
        return None
    return [part.strip() for part in value.split(",") if part.strip()]


def weekday_list(value: str | None) -> list[str] | None:
    found = names(value)
    if found is None:
        return None
    bad = [name for name in found if name not in WEEKDAYS]
    if bad or not found:
        raise click.BadParameter(_("weekdays are mon, tue, wed, thu, fri, sat, sun or all "
                                   "({value})").format(value=value))
    return found


def item_of(value: str) -> dict[str, Any]:
    """An item: a SHA-256 (``SHA:SECONDS`` for content the library does not hold yet),
    or else a library title."""
    sha, _sep, seconds = value.partition(":")
    if SHA.match(sha):
        item: dict[str, Any] = {"content": sha.lower()}
        if seconds:
            try:
                item["duration_ms"] = int(float(seconds) * 1000)
            except ValueError:
                raise click.BadParameter(_("SHA:SECONDS, e.g. {sha}:90").format(
                    sha=sha[:8] + "...")) from None
        return item
    return {"title": value}


def local(value: str | None, tz: str | None, with_date: bool = False) -> str:
    if not value:
        return "-"
    moment = dt.datetime.fromisoformat(value)
    if tz:
        moment = moment.astimezone(ZoneInfo(tz))
    return moment.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def request(method: str, path: str, body: Any = None) -> Any:
    """Like ``ApiClient.call``, except that a programme conflict (409
    ``schedule_conflict``) is shown with its conflicts and ends the command (exit 5)."""
    client = api()
    try:
        response = client.http.request(method, f"/v1{path}", json=body)
    except (httpx.ConnectError, httpx.ConnectTimeout, FileNotFoundError,
            ConnectionRefusedError) as exc:
        raise CliError(_("Cannot reach the controller at {where}: is it running? "
                         "({error})").format(where=client.where, error=exc),
                       code="unreachable", exit_code=EXIT_UNAVAILABLE) from None
    except httpx.HTTPError as exc:
        raise CliError(_("The connection to the controller failed: {error}").format(
            error=exc), code="unreachable", exit_code=EXIT_UNAVAILABLE) from None
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if response.status_code == 409 and isinstance(payload, dict) \
            and payload.get("code") == "schedule_conflict":
        show_conflicts(payload)
        raise click.exceptions.Exit(EXIT_REFUSED)
    if response.status_code >= 400:
        if isinstance(payload, dict) and "code" in payload and "message" in payload:
            raise CliError(str(payload["message"]), code=str(payload["code"]),
                           details=list(payload.get("details") or []))
        raise CliError(_("The controller answered {status}.").format(
            status=response.status_code))
    return payload


def listed(lines: list[str], limit: int = 12) -> list[str]:
    """At most ``limit`` lines (a daily clash is one conflict a day); --json has all."""
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], "  " + _("... and {count} more (all of them with --json)").format(
        count=len(lines) - limit)]


def show_conflicts(payload: dict[str, Any]) -> None:
    if STATE.json:
        click.echo(json.dumps({"error": payload}, ensure_ascii=False, indent=2,
                              sort_keys=True))
    click.echo(_("Error: {message}").format(message=payload.get("message", "")), err=True)
    for line in listed([f"  - {c.get('message', '')}" for c in payload.get("conflicts", [])]
                       + [f"  ! {n.get('message', '')}" for n in payload.get("impact", [])]):
        click.echo(line, err=True)
    hint = _("To accept it, run the command again with --resolve override (it wins over "
             "what is on the air at its priority) or --resolve append (it goes after).")
    if not payload.get("overridable", True):
        hint += " " + _("A higher priority is in the way: an override would not win.")
    click.echo(hint, err=True)


def show_accepted(data: dict[str, Any]) -> None:
    """Conflicts accepted with a resolution, and what the resolver will not air."""
    for line in listed(["  - " + _("accepted: {message}").format(message=c["message"])
                        for c in data.get("conflicts", [])]
                       + ["  ! " + n["message"] for n in data.get("impact", [])]):
        say(line)


# ---------------------------------------------------------------------------- sessions


@click.group("schedule", help=_("Broadcast sessions, programmes and plans."))
def schedule() -> None:
    pass


@schedule.group("session", help=_("Broadcast sessions (daily windows with a cap)."))
def session_group() -> None:
    pass


def session_rows(rows: list[dict[str, Any]]) -> None:
    show_table([{_("Key"): r["key"], _("Name"): r["name"], _("Start"): r["start"],
                 _("Cap (min)"): r["cap_minutes"],
                 _("Window (min)"): r["length_minutes"] or r["cap_minutes"],
                 _("Days"): r["weekdays"], _("Programmes"): r["programmes"]} for r in rows],
               [_("Key"), _("Name"), _("Start"), _("Cap (min)"), _("Window (min)"),
                _("Days"), _("Programmes")], empty=_("No sessions yet."))


@session_group.command("list", help=_("The commune's sessions."))
@commune_option
@json_option
def session_list(commune: str | None) -> None:
    emit(api().call("GET", f"/communes/{seg(commune_of(commune))}/sessions"), session_rows)


@session_group.command("show", help=_("One session."))
@click.argument("key")
@commune_option
@json_option
def session_show(key: str, commune: str | None) -> None:
    emit(api().call("GET", f"/communes/{seg(commune_of(commune))}/sessions/{seg(key)}"),
         lambda r: session_rows([r]))


@session_group.command("add", help=_("Add a session, e.g. --start 05:00 --cap 45."))
@click.argument("key")
@click.option("--start", required=True, help=_("Local start time (HH:MM)."))
@click.option("--cap", "cap", type=click.IntRange(1, 1440), required=True,
              help=_("Airtime cap in minutes."))
@click.option("--length", type=click.IntRange(1, 1440),
              help=_("Window length in minutes (default: the cap)."))
@click.option("--weekdays", help=_("Days it runs: mon,tue,... or all (default)."))
@click.option("--name", default="", help=_("Its name."))
@commune_option
@json_option
def session_add(key: str, start: str, cap: int, length: int | None, weekdays: str | None,
                name: str, commune: str | None) -> None:
    body = {"key": key, "name": name, "start": clock_time(start), "cap_minutes": cap,
            "length_minutes": length, "weekdays": weekday_list(weekdays) or ["all"]}
    result = api().call("POST", f"/communes/{seg(commune_of(commune))}/sessions", body=body)
    emit(result, lambda r: say(_("Created {key}.").format(key=r["key"])))


@session_group.command("edit", help=_("Change a session."))
@click.argument("key")
@click.option("--start", help=_("Local start time (HH:MM)."))
@click.option("--cap", type=click.IntRange(1, 1440), help=_("Airtime cap in minutes."))
@click.option("--length", type=click.IntRange(1, 1440), help=_("Window length in minutes."))
@click.option("--weekdays", help=_("Days it runs: mon,tue,... or all."))
@click.option("--name", help=_("Its name."))
@commune_option
@json_option
def session_edit(key: str, start: str | None, cap: int | None, length: int | None,
                 weekdays: str | None, name: str | None, commune: str | None) -> None:
    body = {k: v for k, v in {"start": optional_time(start), "cap_minutes": cap,
                              "length_minutes": length, "weekdays": weekday_list(weekdays),
                              "name": name}.items() if v is not None}
    result = api().call("PATCH", f"/communes/{seg(commune_of(commune))}/sessions/{seg(key)}",
                        body=body)
    emit(result, lambda r: say(_("Updated {key}.").format(key=r["key"])))


@session_group.command("delete", help=_("Delete a session that holds no programme."))
@click.argument("key")
@click.option("--yes", is_flag=True, help=_("Do not ask for confirmation."))
@commune_option
@json_option
def session_delete(key: str, yes: bool, commune: str | None) -> None:
    confirm(_("Delete session {key}?").format(key=key), yes)
    api().call("DELETE", f"/communes/{seg(commune_of(commune))}/sessions/{seg(key)}")
    emit({"deleted": key}, lambda _r: say(_("Deleted {key}.").format(key=key)))


# ---------------------------------------------------------------------------- programmes


def programme_options(adding: bool) -> Callable[[Any], Any]:
    """The options that describe a programme (all optional when editing)."""
    def decorate(function: Any) -> Any:
        options = [
            click.option("--title", required=adding, help=_("Its title.")),
            click.option("--item", "items", multiple=True,
                         help=_("An item: a library title, or a SHA-256 (SHA:SECONDS for "
                                "content not in the library yet). Repeat for a playlist.")),
            click.option("--once", "once", type=DATE, help=_("Air on this date only.")),
            click.option("--daily", is_flag=True, help=_("Air every day.")),
            click.option("--weekly", help=_("Air on these days: mon,thu,...")),
            click.option("--first", type=DATE, help=_("Date range: first day.")),
            click.option("--last", type=DATE, help=_("Date range: last day.")),
            click.option("--every", type=click.IntRange(1, 7 * 1440),
                         help=_("Repeat every N minutes (storm bulletins) from --start to "
                                "--end.")),
            click.option("--start", "start_at", type=DATETIME,
                         help=_("With --every: from (YYYY-MM-DD HH:MM).")),
            click.option("--end", "end_at", type=DATETIME,
                         help=_("With --every: until (YYYY-MM-DD HH:MM).")),
            click.option("--daily-from", help=_("With --every: only from this time each "
                                                "day (HH:MM).")),
            click.option("--daily-until", help=_("With --every: only until this time each "
                                                 "day (HH:MM).")),
            click.option("--since", type=DATE, help=_("With --daily/--weekly: from this "
                                                      "date.")),
            click.option("--weekdays", help=_("With a date range: only these days.")),
            click.option("--at", help=_("Local time (HH:MM); default: its session's start.")),
            click.option("--session", help=_("The session it airs in.")),
            click.option("--villages", help=_("Only these villages (a,b); default: the "
                                              "whole commune.")),
            click.option("--clusters", help=_("Only these clusters (a,b).")),
            click.option("--priority", type=choice(PRIORITIES), help=_("Priority "
                                                                       "(default normal).")),
            click.option("--policy", type=choice(POLICIES),
                         help=_("When something else is on the air (default queue_after).")),
            click.option("--repeat", type=click.IntRange(1, 999), help=_("Passes per "
                                                                         "occurrence.")),
            click.option("--gap", type=click.IntRange(0, 86_400),
                         help=_("Seconds between passes.")),
            click.option("--rank", type=click.IntRange(-1000, 1000),
                         help=_("Order among clashing items of one priority (lower "
                                "first).")),
            click.option("--max-delay", type=click.IntRange(0, 1440),
                         help=_("How many minutes late it may still start.")),
            click.option("--resolve", type=choice(RESOLUTIONS),
                         help=_("Accept conflicts: override or append.")),
        ]
        if not adding:
            options.append(click.option("--no-session", is_flag=True,
                                        help=_("Take it out of its session.")))
        for option in reversed(options):
            function = option(function)
        return function
    return decorate


def recurrence(o: dict[str, Any]) -> dict[str, Any] | None:
    """The ``recurrence`` object from the options, or None if none was given."""
    at = optional_time(o.get("at"))
    chosen = [name for name in ("once", "daily", "weekly", "first", "every")
              if o.get(name)]
    if len(chosen) > 1 or (o.get("first") is None) != (o.get("last") is None):
        raise click.UsageError(_("Choose one of --once, --daily, --weekly, --first/--last "
                                 "or --every."))
    if not chosen:
        return None
    since = o["since"].date().isoformat() if o.get("since") else None
    if chosen == ["once"]:
        return {"kind": "once", "on": o["once"].date().isoformat(), "at": at}
    if chosen == ["daily"]:
        return {"kind": "daily", "at": at, "since": since}
    if chosen == ["weekly"]:
        return {"kind": "weekly", "weekdays": weekday_list(o["weekly"]), "at": at,
                "since": since}
    if chosen == ["first"]:
        return {"kind": "range", "first": o["first"].date().isoformat(),
                "last": o["last"].date().isoformat(), "at": at,
                "weekdays": weekday_list(o.get("weekdays")) or ["all"]}
    if o.get("start_at") is None or o.get("end_at") is None:
        raise click.UsageError(_("--every needs --start and --end."))
    return {"kind": "every", "minutes": o["every"], "start": o["start_at"].isoformat(),
            "end": o["end_at"].isoformat(), "daily_from": optional_time(o.get("daily_from")),
            "daily_until": optional_time(o.get("daily_until"))}


def programme_body(o: dict[str, Any], adding: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": o.get("title"), "items": [item_of(v) for v in o["items"]] or None,
        "recurrence": recurrence(o), "session": o.get("session"),
        "villages": names(o.get("villages")), "clusters": names(o.get("clusters")),
        "priority": o.get("priority"), "policy": o.get("policy"), "repeat": o.get("repeat"),
        "repeat_gap_s": o.get("gap"), "rank": o.get("rank"),
        "max_delay_minutes": o.get("max_delay"), "resolve": o.get("resolve")}
    body = {k: v for k, v in body.items() if v is not None}
    if adding:
        if "items" not in body:
            raise click.UsageError(_("Give at least one --item."))
        if "recurrence" not in body:
            raise click.UsageError(_("Say when it airs: --once, --daily, --weekly, "
                                     "--first/--last or --every."))
    elif o.get("no_session"):
        body["session"] = None
    return body


def programme_rows(rows: list[dict[str, Any]]) -> None:
    show_table([{_("Key"): r["key"], _("Title"): r["title"], _("Status"): status_text(r),
                 _("Revision"): r["revision"], _("On the air"): r["on_air_revision"],
                 _("Priority"): r["priority"], _("Session"): r["session"],
                 _("When"): when_text(r["recurrence"])} for r in rows],
               [_("Key"), _("Title"), _("Status"), _("Revision"), _("On the air"),
                _("Priority"), _("Session"), _("When")], empty=_("No programmes yet."))


def status_text(row: dict[str, Any]) -> str:
    texts = {"draft": _("draft"), "approved": _("approved"), "superseded": _("superseded"),
             "withdrawn": _("withdrawn")}
    return texts.get(str(row["status"]), str(row["status"]))


def when_text(rule: dict[str, Any]) -> str:
    at = rule.get("at") or _("session start")
    kind = rule["kind"]
    if kind == "once":
        return f"{rule['on']} {at}"
    if kind == "daily":
        return _("daily {at}").format(at=at)
    if kind == "weekly":
        return f"{','.join(rule['weekdays'])} {at}"
    if kind == "range":
        return f"{rule['first']}..{rule['last']} {at}"
    return _("every {minutes} min, {start}..{end}").format(
        minutes=rule["minutes"], start=rule["start"], end=rule["end"])


def programme_detail(r: dict[str, Any]) -> None:
    show_fields({_("Key"): r["key"], _("Title"): r["title"], _("Status"): status_text(r),
                 _("Revision"): r["revision"], _("On the air"): r["on_air_revision"],
                 _("When"): when_text(r["recurrence"]), _("Session"): r["session"],
                 _("Priority"): r["priority"], _("Policy"): r["policy"],
                 _("Placement"): r["placement"],
                 _("Villages"): r["villages"] or _("whole commune"),
                 _("Target clusters"): r["clusters"], _("Repeat"): r["repeat"],
                 _("Items"): [i["title"] or i["content"][:12] for i in r["items"]],
                 _("Created by"): r["created_by"], _("Approved by"): r["approved_by"]})
    if r.get("revisions"):
        say("")
        show_table([{_("Revision"): v["revision"], _("Status"): status_text(v),
                     _("Created by"): v["created_by"], _("Approved by"): v["approved_by"],
                     _("Ended by"): v["ended_by"]} for v in r["revisions"]],
                   [_("Revision"), _("Status"), _("Created by"), _("Approved by"),
                    _("Ended by")])


def programmes_path(commune: str | None, *rest: str) -> str:
    return "/".join([f"/communes/{seg(commune_of(commune))}/programmes",
                     *(seg(r) for r in rest)])


@schedule.command("list", help=_("The commune's programmes."))
@click.option("--status", type=choice(STATUSES), help=_("Only this status."))
@commune_option
@json_option
def programme_list(status: str | None, commune: str | None) -> None:
    emit(api().call("GET", programmes_path(commune), params={"status": status}),
         programme_rows)


@schedule.command("show", help=_("One programme, with its revisions."))
@click.argument("key")
@commune_option
@json_option
def programme_show(key: str, commune: str | None) -> None:
    emit(api().call("GET", programmes_path(commune, key)), programme_detail)


@schedule.command("add", help=_("Programme an item or a playlist (a draft until "
                                "approved)."))
@click.option("--id", "key", help=_("Its id (default: generated)."))
@programme_options(adding=True)
@commune_option
@json_option
def programme_add(key: str | None, commune: str | None, **options: Any) -> None:
    body = {**programme_body(options, adding=True), "key": key}
    result = request("POST", programmes_path(commune), {k: v for k, v in body.items()
                                                        if v is not None})

    def human(data: dict[str, Any]) -> None:
        say(_("Created draft {key}; an approver must approve it before it airs.").format(
            key=data["key"]))
        show_accepted(data)

    emit(result, human)


@schedule.command("check", help=_("What adding this programme would conflict with (stores "
                                  "nothing)."))
@click.option("--id", "key", help=_("An existing programme: check this edit of it."))
@programme_options(adding=True)
@commune_option
@json_option
def programme_check(key: str | None, commune: str | None, **options: Any) -> None:
    body = {**programme_body(options, adding=True), "key": key}
    result = request("POST", programmes_path(commune, "check"),
                     {k: v for k, v in body.items() if v is not None})

    def human(data: dict[str, Any]) -> None:
        if data["ok"]:
            say(_("No conflicts."))
        for line in listed(["  - " + c["message"] for c in data["conflicts"]]
                           + ["  ! " + n["message"] for n in data["impact"]]):
            say(line)

    emit(result, human)


@schedule.command("edit", help=_("Change a programme (an approved one keeps airing until "
                                 "the edit is approved)."))
@click.argument("key")
@programme_options(adding=False)
@commune_option
@json_option
def programme_edit(key: str, commune: str | None, **options: Any) -> None:
    body = programme_body(options, adding=False)
    if not {k for k in body if k != "resolve"}:
        raise click.UsageError(_("Nothing to change."))
    result = request("PATCH", programmes_path(commune, key), body)

    def human(data: dict[str, Any]) -> None:
        say(_("Draft revision {revision} of {key} waits for approval.").format(
            revision=data["revision"], key=data["key"]))
        show_accepted(data)

    emit(result, human)


@schedule.command("approve", help=_("Approve the waiting draft (approvers only)."))
@click.argument("key")
@click.option("--resolve", type=choice(RESOLUTIONS),
              help=_("Accept conflicts: override or append."))
@commune_option
@json_option
def programme_approve(key: str, resolve: str | None, commune: str | None) -> None:
    body = {"resolve": resolve} if resolve else {}
    result = request("POST", programmes_path(commune, key, "approve"), body)

    def human(data: dict[str, Any]) -> None:
        say(_("Approved {key} (revision {revision}): it goes to the agents with the next "
              "plans.").format(key=data["key"], revision=data["revision"]))
        show_accepted(data)

    emit(result, human)


@schedule.command("withdraw", help=_("Take a programme off the air."))
@click.argument("key")
@click.option("--yes", is_flag=True, help=_("Do not ask for confirmation."))
@commune_option
@json_option
def programme_withdraw(key: str, yes: bool, commune: str | None) -> None:
    confirm(_("Take programme {key} off the air?").format(key=key), yes)
    result = api().call("POST", programmes_path(commune, key, "withdraw"))
    emit(result, lambda r: say(_("Withdrew {key}.").format(key=r["key"])))


@schedule.command("delete", help=_("Delete a programme's waiting draft."))
@click.argument("key")
@click.option("--yes", is_flag=True, help=_("Do not ask for confirmation."))
@commune_option
@json_option
def programme_delete(key: str, yes: bool, commune: str | None) -> None:
    confirm(_("Delete the draft of {key}?").format(key=key), yes)
    api().call("DELETE", programmes_path(commune, key, "draft"))
    emit({"deleted": key}, lambda _r: say(_("Deleted the draft of {key}.").format(key=key)))


# ---------------------------------------------------------------------------- day & plan


def show_timeline(data: dict[str, Any]) -> None:
    tz = data["tz"]
    say(_("{commune}, {day} ({tz}): {count} agents").format(
        commune=data["commune"], day=data["day"], tz=tz, count=len(data["agents"])))
    show_table([{_("Time"): f"{local(e['start'], tz)}-{local(e['end'], tz)}",
                 _("Programme"): e["programme"], _("Title"): e["title"],
                 _("Item"): e["content_title"] or e["content"][:12],
                 _("Priority"): e["priority"], _("Villages"): e["villages"],
                 _("Agents"): e["agents"]} for e in data["entries"]],
               [_("Time"), _("Programme"), _("Title"), _("Item"), _("Priority"),
                _("Villages"), _("Agents")], empty=_("Nothing airs that day."))
    for emergency in data["emergencies"]:
        say(_("EMERGENCY {id}: {title}, {start} to {end}, villages: {villages}").format(
            id=emergency["id"], title=emergency["title"],
            start=local(emergency["started_at"], tz),
            end=local(emergency["stopped_at"], tz) if emergency["stopped_at"]
            else _("still on the air"),
            villages=", ".join(emergency["villages"]) or _("whole commune")))
    for notice in data["notices"]:
        say("  ! " + notice["message"])


@schedule.command("timeline", help=_("What airs where and when on a day."))
@click.option("--date", "day", type=DATE, help=_("The day (YYYY-MM-DD; default today)."))
@commune_option
@json_option
def timeline(day: dt.datetime | None, commune: str | None) -> None:
    emit(api().call("GET", f"/communes/{seg(commune_of(commune))}/timeline",
                    params={"day": day.date().isoformat() if day else None}), show_timeline)


def show_plan(data: dict[str, Any]) -> None:
    if data["version"] is None:
        say(_("Nothing has been published to {agent} yet.").format(agent=data["agent_id"]))
        return
    tz = data["tz"]
    show_fields({_("Agent"): data["agent_id"], _("Version"): data["version"],
                 _("Published"): local(data["published_at"], tz, True),
                 _("Horizon"): local(data["horizon_end"], tz, True),
                 _("Routine items"): len(data["routine"]), _("Pinned"): len(data["pins"])})
    say("")
    show_table([{_("Start"): local(s["start"], tz, True), _("End"): local(s["end"], tz),
                 _("Programme"): s["programme"], _("Item"): s["content"][:12],
                 _("Priority"): s["priority"], _("Peers"): s["village_peers"],
                 _("Fragment"): s["fragment"]} for s in data["slots"]],
               [_("Start"), _("End"), _("Programme"), _("Item"), _("Priority"), _("Peers"),
                _("Fragment")], empty=_("No slots in this plan."))
    if data["withdrawn"]:
        say("")
        say(_("Withdrawn before they aired:"))
        show_table([{_("Start"): local(s["start"], tz, True), _("Programme"): s["programme"],
                     _("Withdrawn"): local(s["withdrawn_at"], tz, True)}
                    for s in data["withdrawn"]],
                   [_("Start"), _("Programme"), _("Withdrawn")])


@schedule.command("plan", help=_("What was last published to an agent."))
@click.argument("agent_id")
@click.option("--withdrawn", is_flag=True, help=_("Also the slots later plans withdrew."))
@json_option
def plan(agent_id: str, withdrawn: bool) -> None:
    emit(api().call("GET", f"/agents/{seg(agent_id)}/plan",
                    params={"withdrawn": "true" if withdrawn else None}), show_plan)


# ---------------------------------------------------------------------------- pins


@schedule.command("pins", help=_("Content every agent keeps cached."))
@commune_option
@json_option
def pins(commune: str | None) -> None:
    emit(api().call("GET", f"/communes/{seg(commune_of(commune))}/pins"),
         lambda rows: show_table([{_("Item"): r["title"] or "-", "SHA-256": r["content"],
                                   _("Note"): r["note"], _("Pinned by"): r["pinned_by"]}
                                  for r in rows],
                                 [_("Item"), "SHA-256", _("Note"), _("Pinned by")],
                                 empty=_("Nothing is pinned.")))


@schedule.command("pin", help=_("Keep a library item cached on every agent (e.g. a "
                                "warning for emergencies)."))
@click.argument("content")
@click.option("--note", default="", help=_("Why."))
@commune_option
@json_option
def pin(content: str, note: str, commune: str | None) -> None:
    result = api().call("POST", f"/communes/{seg(commune_of(commune))}/pins",
                        body={"content": content.lower(), "note": note})
    emit(result, lambda r: say(_("Pinned {item}.").format(item=r["title"] or r["content"])))


@schedule.command("unpin", help=_("Stop keeping an item cached everywhere."))
@click.argument("content")
@commune_option
@json_option
def unpin(content: str, commune: str | None) -> None:
    api().call("DELETE", f"/communes/{seg(commune_of(commune))}/pins/{seg(content.lower())}")
    emit({"unpinned": content.lower()}, lambda _r: say(_("Unpinned {item}.").format(
        item=content.lower())))


COMMANDS = [schedule]
