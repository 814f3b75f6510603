"""The unit tree as a graph, for questions about scope ("is this village under that
province?") rather than about names on a date.

Edges come from every version valid on the given date *or later*, plus merges: a unit
being moved on a future date is then in scope for the admins of both its old and new
parent until the move takes effect, and a merged commune stays in the scope of whoever
holds the commune it was merged into (its old records remain reachable).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from sqlmodel import Session, col, or_, select

from controller.storage.tables.registry import AdminUnit, AdminUnitVersion, UnitLevel


@dataclass
class UnitGraph:
    levels: dict[int, UnitLevel] = field(default_factory=dict)
    keys: dict[int, str] = field(default_factory=dict)
    children: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    parents: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))

    @classmethod
    def load(cls, session: Session, on: dt.date) -> UnitGraph:
        graph = cls()
        for unit in session.exec(select(AdminUnit)):
            assert unit.id is not None
            graph.levels[unit.id] = unit.level
            graph.keys[unit.id] = unit.key
            if unit.merged_into_id is not None:
                graph._edge(unit.merged_into_id, unit.id)
        versions = session.exec(select(AdminUnitVersion).where(
            col(AdminUnitVersion.parent_id).is_not(None),
            or_(col(AdminUnitVersion.valid_to).is_(None), col(AdminUnitVersion.valid_to) > on)))
        for version in versions:
            assert version.parent_id is not None
            graph._edge(version.parent_id, version.unit_id)
        return graph

    def _edge(self, parent: int, child: int) -> None:
        self.children[parent].add(child)
        self.parents[child].add(parent)

    def below(self, roots: set[int]) -> set[int]:
        """``roots`` and every unit under them."""
        return self.below_in(self.children, roots)

    def above(self, unit: int) -> set[int]:
        """``unit`` and every unit it sits under (through any current or future parent)."""
        return self.below_in(self.parents, {unit})

    @staticmethod
    def below_in(edges: dict[int, set[int]], roots: set[int]) -> set[int]:
        seen: set[int] = set()
        stack = list(roots)
        while stack:
            unit = stack.pop()
            if unit in seen:
                continue
            seen.add(unit)
            stack.extend(edges.get(unit, ()))
        return seen

    def roots(self) -> set[int]:
        """Units with no parent (and not merged away)."""
        return {u for u in self.levels if not self.parents.get(u)}

    def commune_of(self, unit: int) -> int | None:
        """The commune a unit belongs to: itself, or the commune above a village."""
        for candidate in [unit, *sorted(self.above(unit) - {unit})]:
            if self.levels.get(candidate) is UnitLevel.COMMUNE:
                return candidate
        return None
