"""Session caps: airtime is handed out by precedence before anything airs.

If caps were charged in air order, an early normal item could starve a later priority
item of the same session. Admitting passes in precedence order first (priority, the
operator's placement and rank, then earliest request) means the items refused are
always the least important ones, and they are refused whole: half a bulletin is worse
than none.
"""

from __future__ import annotations

from collections import defaultdict

from .notices import CapExceeded
from .runs import RunSpec, SessionKey


def admit(runs: list[RunSpec], agents: tuple[str, ...]) -> tuple[list[RunSpec],
                                                                   list[CapExceeded]]:
    """The runs that fit their session's cap, and a notice per airing refused.

    Runs that could never fit their window are let through uncharged: the air-time
    rules report them as ``window_passed``, which is the more precise reason.
    """
    admitted: list[RunSpec] = []
    refused: list[CapExceeded] = []
    by_session: dict[SessionKey, list[RunSpec]] = defaultdict(list)
    for run in runs:
        if run.session is None or run.cap_ms is None or not run.can_fit:
            admitted.append(run)
        else:
            by_session[run.session].append(run)
    for (session, session_start), candidates in by_session.items():
        candidates.sort(key=lambda r: (r.best_first, r.order))
        used = 0
        for run in candidates:
            assert run.cap_ms is not None
            if used + run.pass_ms <= run.cap_ms:
                used += run.pass_ms
                admitted.append(run)
                continue
            refused.extend(
                CapExceeded(programme=run.programme, agents=agents, at_ns=a.requested_ns,
                            slot_id=a.base_id, session=session,
                            session_start_ns=session_start, cap_ms=run.cap_ms, used_ms=used,
                            needed_ms=run.pass_ms)
                for a in run.airings)
    return admitted, refused
