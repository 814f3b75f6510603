"""``loaxa library transfers ITEM... --watch``: bulletins reaching the agents' caches.

Follows each item's distribution view (``GET .../library/{item}/distribution``, the
same standings the ``content_transfer`` events carry) until every agent that needs the
items holds them or has failed, or until the timeout:

* on a terminal: a progress bar per agent and item, redrawn in place;
* otherwise (logs, pipes): one line per change of state;
* with ``--json``: one JSON object per change (state or percent), then a summary object.

The exit code says whether every targeted agent has the items (0), or not (1: failed
transfers, or the timeout).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import click

from controller.i18n import N_, _

from .output import pad, width

BAR_WIDTH = 24
POLL_S = 0.5
TRANSFER_STATES = {
    "waiting": N_("not asked for yet"), "queued": N_("waiting for its turn"),
    "sending": N_("being sent"), "late": N_("late for its air time"),
    "cached": N_("in the agent's cache"), "failed": N_("not delivered")}
FINISHED = ("cached", "failed")


def state_text(row: dict[str, Any]) -> str:
    text = _(TRANSFER_STATES.get(row["state"], row["state"]))
    return f"{text} ({row['reason']})" if row.get("reason") else text


def bar(percent: int) -> str:
    filled = BAR_WIDTH * max(0, min(100, percent)) // 100
    return "[" + "#" * filled + "." * (BAR_WIDTH - filled) + f"] {percent:3d}%"


@dataclass
class Watch:
    """Draws the standings of every (item, agent) pair and says when all are done."""

    mode: str  # tty | lines | json
    out: Callable[[str], None] = click.echo
    last: dict[tuple[str, str], tuple[str, int]] = field(default_factory=dict)
    drawn: int = 0  # lines of the previous frame (tty)

    def show(self, reports: list[dict[str, Any]]) -> None:
        rows = [(report, row) for report in reports for row in report["agents"]]
        if self.mode == "tty":
            self._frame(reports, rows)
            return
        for report, row in rows:
            key = (report["sha256"], row["agent_id"])
            now = (row["state"], row["percent"])
            before = self.last.get(key)
            self.last[key] = now
            if self.mode == "json":
                if now != before:
                    self.out(json.dumps({"sha256": report["sha256"], "title": report["title"],
                                         **row}, ensure_ascii=False, sort_keys=True))
            elif before is None or before[0] != now[0]:
                self.out(_("{agent} «{title}»: {percent}% {state}").format(
                    agent=row["agent_id"], title=report["title"], percent=row["percent"],
                    state=state_text(row)))

    def _frame(self, reports: list[dict[str, Any]],
               rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
        agents = max((width(row["agent_id"]) for _report, row in rows), default=0)
        titles = max((min(24, width(r["title"])) for r in reports), default=0)
        lines = [f"{pad(report['title'][:24], titles)}  {pad(row['agent_id'], agents)}  "
                 f"{bar(row['percent'])}  {state_text(row)}" for report, row in rows]
        lines.append(summary_text(reports))
        # Back to the first line of the previous frame, overwrite, clear what is left.
        up = f"\x1b[{self.drawn}F" if self.drawn else ""
        self.out(up + "\n".join(f"{line}\x1b[K" for line in lines) + "\x1b[J")
        self.drawn = len(lines)

    def end(self, reports: list[dict[str, Any]], timed_out: bool) -> None:
        counts = tally(reports)
        if self.mode == "json":
            self.out(json.dumps({"done": not timed_out and counts["pending"] == 0,
                                 "timed_out": timed_out, **counts}, sort_keys=True))
            return
        if self.mode == "lines":
            self.out(summary_text(reports))
        if timed_out and not counts["agents"]:
            self.out(_("Gave up waiting: no agent needs these bulletins (are they pinned or "
                       "programmed, and the plans published?)."))
        elif timed_out:
            self.out(_("Gave up waiting: {pending} transfer(s) not finished.").format(
                pending=counts["pending"]))


def tally(reports: list[dict[str, Any]]) -> dict[str, int]:
    targeted = [a for r in reports for a in r["agents"] if a["targeted"]]
    return {"agents": len(targeted),
            "cached": sum(1 for a in targeted if a["state"] == "cached"),
            "failed": sum(1 for a in targeted if a["state"] == "failed"),
            "pending": sum(r["pending"] for r in reports)}


def summary_text(reports: list[dict[str, Any]]) -> str:
    counts = tally(reports)
    return _("{cached}/{agents} in the agents' caches, {failed} not delivered, {pending} on "
             "the way.").format(**counts)


def finished(reports: list[dict[str, Any]]) -> bool:
    """Every item is targeted at some agent, and no targeted agent is still waiting."""
    return bool(reports) and all(r["agents"] and r["pending"] == 0 for r in reports)


def watch(fetch: Callable[[], list[dict[str, Any]]], mode: str, timeout_s: float,
          out: Callable[[str], None] = click.echo) -> bool:
    """Follow until done or the timeout; whether every targeted agent has the items."""
    view = Watch(mode, out)
    deadline = time.monotonic() + timeout_s
    while True:
        reports = fetch()
        view.show(reports)
        done = finished(reports)
        timed_out = not done and time.monotonic() >= deadline
        if done or timed_out:
            view.end(reports, timed_out)
            return done and tally(reports)["failed"] == 0
        time.sleep(POLL_S)
