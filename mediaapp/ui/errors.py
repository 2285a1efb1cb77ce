"""The errors panel: every file that failed a stage, with the stage and the reason.

Fed from ``Library.errors()`` (fetched in the background by the main window);
import failures are listed here, never shown as one dialog per file.

An archive can hold thousands of broken files, so the panel is a model/view
table: ``ProblemTableModel`` holds the rows, ``ProblemFilterProxy`` filters
and sorts them, and a ``QTableView`` shows only what is on screen.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel,
                            Qt, Signal)
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QTableView,
                               QToolButton, QVBoxLayout, QWidget)

from mediaapp.core.types import ImportProblem

#: Item data role holding the problem's full path (a str), in every column.
PATH_ROLE = Qt.ItemDataRole.UserRole

#: Width given to the Reason column when the table is filled (reasons are long).
REASON_WIDTH = 420


class Column(enum.IntEnum):
    """The columns of ``ProblemTableModel``."""

    FILE = 0     #: the file name
    STAGE = 1    #: the stage that failed (ingest, analyse, ...)
    REASON = 2   #: the readable reason
    FOLDER = 3   #: the folder holding the file


HEADERS = {Column.FILE: "File", Column.STAGE: "Stage", Column.REASON: "Reason", Column.FOLDER: "Folder"}


@dataclass(frozen=True, slots=True)
class _Row:
    path: str
    stage: str
    reason: str
    name: str
    folder: str
    haystack: str  # casefolded path, stage and reason, matched by the filter


class ProblemTableModel(QAbstractTableModel):
    """``ImportProblem``s as a flat table (File, Stage, Reason, Folder).

    The full path is the tooltip of the File and Folder cells and the
    ``PATH_ROLE`` data of every cell; the reason is the Reason cell's tooltip.
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._rows: list[_Row] = []
        self._files = 0

    def set_problems(self, problems: list[ImportProblem]) -> None:
        """Replace the rows with ``problems``, in the order given."""
        rows = []
        for p in problems:
            rows.append(_Row(p.path, p.stage, p.message, os.path.basename(p.path) or p.path,
                             os.path.dirname(p.path), "\n".join([p.path, p.stage, p.message]).casefold()))
        self.beginResetModel()
        self._rows = rows
        self._files = len({r.path for r in rows})
        self.endResetModel()

    def problem(self, row: int) -> tuple[str, str, str]:
        """(path, stage, reason) of source row ``row``."""
        r = self._rows[row]
        return r.path, r.stage, r.reason

    def matches(self, row: int, needle: str) -> bool:
        """Whether the casefolded ``needle`` occurs in row ``row``'s path, stage or reason."""
        return needle in self._rows[row].haystack

    def file_count(self) -> int:
        """How many distinct paths the rows name."""
        return self._files

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        """Number of problems (0 under any valid parent: the table is flat)."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        """Number of columns (0 under any valid parent)."""
        return 0 if parent.isValid() else len(Column)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Display text, tooltip or full path (``PATH_ROLE``) of one cell."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        r = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return (r.name, r.stage, r.reason, r.folder)[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            return r.reason if column == Column.REASON else r.path
        if role == PATH_ROLE:
            return r.path
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Column titles (no row headers)."""
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(Column)):
            return HEADERS[Column(section)]
        return None


class ProblemFilterProxy(QSortFilterProxyModel):
    """Filters a ``ProblemTableModel`` by a text and sorts it by any column.

    A row is kept when the filter text (stripped, matched case-insensitively)
    occurs in its full path, its stage or its reason. Sorting compares the
    displayed text without regard to case; rows that compare equal keep the
    model's order.
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._needle = ""
        self.setSortCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

    def set_filter_text(self, text: str) -> None:
        """Keep only rows containing ``text`` (all rows when it is blank)."""
        needle = text.strip().casefold()
        if needle == self._needle:
            return
        if hasattr(self, "endFilterChange"):  # Qt 6.10+, where this replaces the deprecated invalidateRowsFilter
            self.beginFilterChange()
            self._needle = needle
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self._needle = needle
            self.invalidateRowsFilter()

    def filter_text(self) -> str:
        """The filter in effect (stripped and casefolded)."""
        return self._needle

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        """Whether source row ``source_row`` contains the filter text."""
        if not self._needle:
            return True
        source = self.sourceModel()
        return isinstance(source, ProblemTableModel) and source.matches(source_row, self._needle)


class ProblemTableView(QTableView):
    """A table view that emits ``copyRequested`` for the Copy key (Ctrl+C)."""

    copyRequested = Signal()

    def keyPressEvent(self, event) -> None:
        """Turn the Copy key into ``copyRequested``; other keys as usual."""
        if event.matches(QKeySequence.StandardKey.Copy):
            self.copyRequested.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class ErrorsPanel(QWidget):
    """A filterable, sortable table of ``ImportProblem``s (path, stage, reason).

    ``refreshRequested`` is emitted by the Refresh button; ``countChanged(n)``
    when new problems are shown (``n`` problems in all, filter aside). Ctrl+C
    in the table copies the selected rows as tab-separated path, stage and
    reason, one line per row, in display order. Until a column header is
    clicked the rows keep the order given to ``set_problems``.
    """

    refreshRequested = Signal()
    countChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        top = QHBoxLayout()
        self.summary = QLabel("No problems recorded")
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by path, stage or reason")
        self.filter.setClearButtonEnabled(True)
        refresh = QToolButton()
        refresh.setText("Refresh")
        refresh.clicked.connect(self.refreshRequested)
        top.addWidget(self.summary)
        top.addWidget(self.filter, 1)
        top.addWidget(refresh)
        layout.addLayout(top)

        self.model = ProblemTableModel(self)
        self.proxy = ProblemFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = ProblemTableView()
        self.view.setObjectName("errors")
        self.view.setModel(self.proxy)
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setShowGrid(False)
        rows = self.view.verticalHeader()
        rows.hide()
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # uniform row heights
        rows.setDefaultSectionSize(self.view.fontMetrics().height() + 6)
        header = self.view.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # unsorted: the order given
        self.view.setSortingEnabled(True)
        self.view.copyRequested.connect(self.copy_selection)
        layout.addWidget(self.view, 1)

        self.filter.textChanged.connect(self._apply_filter)
        self._sized = False

    def set_problems(self, problems: list[ImportProblem]) -> None:
        """Show ``problems`` (newest first, as ``Library.errors()`` returns them).

        The filter text and the sort column are kept.
        """
        self.model.set_problems(problems)
        if problems and not self._sized:
            self._sized = True
            for column in (Column.FILE, Column.STAGE):
                self.view.resizeColumnToContents(column)
            self.view.setColumnWidth(Column.REASON, max(self.view.columnWidth(Column.REASON), REASON_WIDTH))
        self._update_summary()
        self.countChanged.emit(self.model.rowCount())

    def rows(self) -> list[tuple[str, str, str]]:
        """(path, stage, reason) of every row shown, in display order."""
        return [self._row_at(row) for row in range(self.proxy.rowCount())]

    def selected_rows(self) -> list[tuple[str, str, str]]:
        """(path, stage, reason) of the selected rows shown, in display order."""
        selection = self.view.selectionModel()
        rows = sorted(index.row() for index in selection.selectedRows(Column.FILE))
        return [self._row_at(row) for row in rows]

    def copy_selection(self) -> str:
        """Copy the selected rows to the clipboard as tab-separated lines; returns the text copied.

        Nothing is copied (and ``""`` returned) when no row is selected.
        """
        text = "\n".join("\t".join(row) for row in self.selected_rows())
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def _row_at(self, proxy_row: int) -> tuple[str, str, str]:
        return self.model.problem(self.proxy.mapToSource(self.proxy.index(proxy_row, 0)).row())

    def _apply_filter(self, text: str) -> None:
        self.proxy.set_filter_text(text)
        self._update_summary()

    def _update_summary(self) -> None:
        total = self.model.rowCount()
        if not total:
            self.summary.setText("No problems recorded")
            return
        text = f"{total} problems in {self.model.file_count()} files"
        if self.proxy.filter_text():
            text += f", {self.proxy.rowCount()} shown"
        self.summary.setText(text)
