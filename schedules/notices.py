"""What the resolver could not air as programmed, as typed values.

No user-facing text here: each notice is a tagged struct (the tag is its stable
``code``) with the data a CLI, API or TUI needs to render a clear, translated message.
Notices are per *lane* (agents with identical timelines), so ``agents`` lists every
agent concerned instead of repeating the notice fifty times.
"""

from __future__ import annotations

import msgspec


class Notice(msgspec.Struct, frozen=True, kw_only=True, tag_field="code"):
    programme: str
    agents: tuple[str, ...]
    at_ns: int  # when the programme asked to air (UTC)

    @property
    def code(self) -> str:
        return str(type(self).__struct_config__.tag)


class CapExceeded(Notice, frozen=True, kw_only=True, tag="cap_exceeded"):
    """A pass did not fit in what was left of its session's airtime cap."""

    slot_id: str
    session: str
    session_start_ns: int
    cap_ms: int
    used_ms: int  # airtime already given to other items of the session
    needed_ms: int  # what this pass needed

    @property
    def excess_ms(self) -> int:
        return self.used_ms + self.needed_ms - self.cap_ms


class OutsideSession(Notice, frozen=True, kw_only=True, tag="outside_session"):
    """The occurrence's time is in none of its session's windows (wrong day or time)."""

    session: str


class Skipped(Notice, frozen=True, kw_only=True, tag="skipped_busy"):
    """``skip_if_busy``: something else was on air when it was due."""

    slot_id: str
    busy_programme: str
    busy_slot_id: str


class Preempted(Notice, frozen=True, kw_only=True, tag="preempted"):
    """Interrupted, and could not restart before its window closed."""

    slot_id: str
    by_programme: str
    by_slot_id: str
    window_end_ns: int


class WindowPassed(Notice, frozen=True, kw_only=True, tag="window_passed"):
    """Could not start early enough to finish inside its window (queued too long, or
    the session ends before the item would)."""

    slot_id: str
    earliest_ns: int  # the first moment it could have started
    window_end_ns: int


class UnknownTarget(Notice, frozen=True, kw_only=True, tag="unknown_target"):
    """A targeted village or cluster that the topology does not have."""

    kind: str  # "village" | "cluster"
    target: str


class NoAgents(Notice, frozen=True, kw_only=True, tag="no_agents"):
    """The programme's targets reach no agent at all."""


AnyNotice = CapExceeded | OutsideSession | Skipped | Preempted | WindowPassed \
    | UnknownTarget | NoAgents


def notice_order(notice: Notice) -> tuple[int, str, str, bytes]:
    """A total order, so reports do not depend on the order programmes were given in."""
    return notice.at_ns, notice.programme, notice.code, msgspec.msgpack.encode(notice)
