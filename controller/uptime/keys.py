"""Selecting rows by many composite keys in a way both databases can search.

A row-value list (``(a, b) IN ((...), ...)``) reads naturally but SQLite plans it as a
scan of the whole table. Grouping the keys by their first column gives an OR of
``a = ? AND b IN (...)`` branches, each an index search on SQLite (multi-index OR) and
PostgreSQL (bitmap OR) alike.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_


def pairs_in(first: Any, second: Any, pairs: Iterable[tuple[Hashable, Any]]
             ) -> ColumnElement[bool]:
    groups: dict[Any, set[Any]] = defaultdict(set)
    for a, b in pairs:
        groups[a].add(b)
    if not groups:
        return false()
    return or_(*[and_(first == a, second.in_(sorted(values)))
                 for a, values in sorted(groups.items(), key=lambda item: str(item[0]))])
