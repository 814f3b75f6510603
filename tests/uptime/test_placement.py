"""Placement by anchors: a wall-clock step changes nothing; untrusted time is re-anchored."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from controller.uptime.placement import Anchor, Span, place
from controller.uptime.window import DEFAULT_WINDOW, ServiceWindow

S = 10**9
T0 = 1_795_000_000 * S


def test_no_anchor_means_unplaceable() -> None:
    assert place([Span(1, 0, 10 * S, 1)], []) is None


def test_spans_before_the_anchor_are_placed_backwards() -> None:
    # Time became trusted at mono 100 s, when the wall clock read T0.
    pieces = place([Span(1, 10 * S, 200 * S, 1)], [Anchor(100 * S, T0)])
    assert pieces is not None
    assert [(p.start_ns, p.end_ns) for p in pieces] == [(T0 - 90 * S, T0 + 100 * S)]


def test_a_better_quality_anchor_becomes_the_reference() -> None:
    estimated = Anchor(10 * S, T0 + 10 * S + 3 * 10**6, quality=1)  # clock exchange, 3 ms off
    synced = Anchor(500 * S, T0 + 500 * S, quality=2)  # chrony later
    pieces = place([Span(1, 0, 100 * S, 1)], [estimated, synced])
    assert pieces is not None and pieces[0].start_ns == T0


spans_strategy = st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 10**5),
                                    st.integers(0, 3)), max_size=20)


@given(spans=spans_strategy,
       steps=st.lists(st.tuples(st.integers(1, 10**6), st.integers(-(10**5), 10**5)),
                      max_size=5))
def test_wall_clock_steps_change_nothing(spans: list[tuple[int, int, int]],
                                         steps: list[tuple[int, int]]) -> None:
    span_list = [Span(i, s * S, (s + d) * S, e) for i, (s, d, e) in enumerate(spans)]
    first = [Anchor(0, T0)]
    stepped = first + [Anchor(m * S, T0 + m * S + delta * S) for m, delta in steps]
    assert place(span_list, stepped) == place(span_list, first)


def test_service_window_in_local_time() -> None:
    day = dt.date(2026, 11, 18)
    start, end = DEFAULT_WINDOW.on(day)
    assert (end - start) == 17 * 3600 * S
    # 04:30 in Hanoi is 21:30 UTC the day before.
    assert dt.datetime.fromtimestamp(start / S, dt.UTC) == dt.datetime(2026, 11, 17, 21, 30,
                                                                     tzinfo=dt.UTC)
    assert list(DEFAULT_WINDOW.days_between(start, end)) == [day]
    assert DEFAULT_WINDOW.key == "0430-2130@Asia/Ho_Chi_Minh"
    assert ServiceWindow(dt.time(5), dt.time(6)).overlap_ns(day, start, end) == 3600 * S
