"""What the engine is asked to air: plan slots with local facts, and emergencies.

``ScheduledSlot`` wraps the wire ``PlanSlot`` with local facts: whether village
neighbours share the slot (``PlanSlot.village_peers``, so a late agent joins at the right
offset instead of restarting out of step with them; 0 for an extrapolated slot, which no
plan resolved) and whether it was extrapolated from the standing routine past the plan's
horizon (copied into the play record).
"""

from __future__ import annotations

from dataclasses import dataclass

from protocols.messages import PlanSlot


@dataclass(frozen=True, slots=True)
class ScheduledSlot:
    slot: PlanSlot
    village_peers: int = 0  # other clusters of the village airing it (PlanSlot.village_peers)
    extrapolated: bool = False

    @property
    def slot_id(self) -> str:
        return self.slot.slot_id

    @property
    def shared(self) -> bool:
        return self.village_peers > 0


@dataclass(frozen=True, slots=True)
class EmergencyRequest:
    """An emergency to air now (``PlayoutEngine.play_now``), mirroring ``Emergency``.

    ``started_ns`` (wall) anchors the repeats: every agent that knows the same start
    repeats on the same wall-clock grid, so neighbours stay in step from the second
    airing on even if the first one started on message arrival.
    """

    emergency_id: str
    content: bytes
    repeat_every_s: int = 0  # 0 = air once
    volume: int | None = None  # None: the engine's configured emergency volume
    attention_tone: bool = True
    started_ns: int | None = None
