"""The console's data table: Textual's ``DataTable``, repainted when its columns widen.

Textual (8.2) measures a new row only when the table next goes idle, and caches each
painted cell under a key that leaves out its column's width. A row painted in between
(a pane's worker fills the table while the screen refreshes) kept the narrow columns it
was first painted with, under a header already drawn at the measured width: "Buổ" under
"Tên       ". Clearing the paint caches after a measure that changed a width repaints
the rows at the header's width.
"""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import DataTable
from textual.widgets.data_table import CellType, RowKey


class Table(DataTable[CellType]):
    """A ``DataTable`` whose rows never keep a width their header has outgrown."""

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        before = self._column_widths()
        super()._update_dimensions(new_rows)
        if self._column_widths() != before:
            self._clear_caches()
            self.refresh()

    def _column_widths(self) -> list[int]:
        return [column.get_render_width(self) for column in self.ordered_columns]
