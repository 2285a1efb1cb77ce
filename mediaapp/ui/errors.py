"""The errors panel: every file that failed a stage, with the stage and the reason.

Fed from ``Library.errors()`` (fetched in the background by the main window);
import failures are listed here, never shown as one dialog per file.

An archive can hold thousands of broken files, so the panel is a model/view
table: ``ProblemTableModel`` holds and sorts the rows, ``ProblemFilterProxy``
only filters them, and a ``QTableView`` shows only what is on screen.

Sorting happens in the model with ``list.sort`` on sort keys computed once
per refresh (casefolded text), never through the proxy: a sorting proxy
calls ``data()`` from C++ for every comparison, which took seconds for tens
of thousands of rows.

The Reason column takes the width left over (its tooltip is the whole
reason). A context menu acts on the selected rows: Reveal in folder (the
desktop's file manager, ``QDesktopServices``), Copy path, Retry and Clear.
The panel only asks (Clear is confirmed) and says what it wants
(``retryRequested`` / ``clearRequested`` with the paths); the main window
does it through the import flow and the library.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mediaapp.core.filenames import display_path
from mediaapp.core.types import ImportProblem
from mediaapp.ui import messages
from mediaapp.ui.file_actions import copy_paths, reveal_in_folder

#: Item data role holding the problem's full path (a str), in every column. Qt strings drop the odd
#: bytes of a name that is not UTF-8: code that needs the exact path uses ``ProblemTableModel.problem``.
PATH_ROLE = Qt.ItemDataRole.UserRole

#: Widest the File and Folder columns get when sized to their contents (pixels); Reason takes the rest.
MAX_SIDE_COLUMN_WIDTH = 320


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

    def text(self, column: int) -> str:
        """The displayed text of ``column``."""
        return (self.name, self.stage, self.reason, self.folder)[column]


def _row(problem: ImportProblem) -> _Row:
    """The row of ``problem``, with its filter haystack computed once."""
    shown = display_path(problem.path)  # Qt text cannot hold undecodable bytes
    folder, name = os.path.split(shown)  # dirname and basename in one call
    return _Row(problem.path, problem.stage, problem.message, name or shown, folder,
                "\n".join([shown, problem.stage, problem.message]).casefold())


class ProblemTableModel(QAbstractTableModel):
    """``ImportProblem``s as a flat table (File, Stage, Reason, Folder), sortable by any column.

    The full path is the tooltip of the File and Folder cells and the
    ``PATH_ROLE`` data of every cell; the reason is the Reason cell's tooltip.

    ``sort(column, order)`` orders the rows by the column's text without
    regard to case; rows that compare equal keep the order given to
    ``set_problems``, and column -1 restores that order. The sort stays in
    effect when ``set_problems`` replaces the rows.
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._given: list[_Row] = []  # the order given to set_problems
        self._rows: list[_Row] = []   # the order shown (sorted)
        self._order: list[int] = []   # _rows[i] is _given[_order[i]]
        self._keys: dict[int, list[str]] = {}  # column -> casefolded text of each given row, made on first sort
        self._files = 0
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder

    def set_problems(self, problems: list[ImportProblem]) -> None:
        """Replace the rows with ``problems``, sorted as before (in the order given when unsorted)."""
        given = [_row(p) for p in problems]
        self._keys = {}
        order = self._sorted_order(given, self._sort_column, self._sort_order)
        self.beginResetModel()
        self._given = given
        self._order = order
        self._rows = [given[i] for i in order]
        self._files = len({r.path for r in given})
        self.endResetModel()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the rows by ``column`` (-1: the order given), keeping persistent indexes on their rows."""
        column = column if 0 <= column < len(Column) else -1
        self._sort_column, self._sort_order = column, order
        new_order = self._sorted_order(self._given, column, order)
        if new_order == self._order:
            return
        self.layoutAboutToBeChanged.emit()
        old_order = self._order
        self._order = new_order
        self._rows = [self._given[i] for i in new_order]
        persistent = self.persistentIndexList()
        if persistent:
            position = [0] * len(new_order)  # position[given index] = its new row
            for row, given in enumerate(new_order):
                position[given] = row
            self.changePersistentIndexList(
                persistent, [self.index(position[old_order[i.row()]], i.column()) for i in persistent])
        self.layoutChanged.emit()

    def sort_column(self) -> int:
        """The column the rows are sorted by (-1: the order given)."""
        return self._sort_column

    def sort_order(self) -> Qt.SortOrder:
        """The order of the sort in effect."""
        return self._sort_order

    def _sorted_order(self, rows: list[_Row], column: int, order: Qt.SortOrder) -> list[int]:
        """Indexes into ``rows`` in display order: a stable sort of the order given, in either direction, on
        the casefolded text of ``column`` (computed once per column and refresh)."""
        indexes = list(range(len(rows)))
        if column >= 0:
            keys = self._keys.get(column)
            if keys is None:
                keys = self._keys[column] = [r.text(column).casefold() for r in rows]
            indexes.sort(key=keys.__getitem__, reverse=order == Qt.SortOrder.DescendingOrder)
        return indexes

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
            return r.reason if column == Column.REASON else display_path(r.path)
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
    """Filters a ``ProblemTableModel`` by a text; sorting is passed on to the model.

    A row is kept when the filter text (stripped, matched case-insensitively)
    occurs in its full path, its stage or its reason. The proxy never sorts
    by itself (it keeps the model's row order): ``sort`` asks the source
    model to sort, which is cheap there (see ``ProblemTableModel.sort``).
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._needle = ""
        self.setDynamicSortFilter(False)  # refreshes reset the model, which re-filters anyway

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the source model by ``column`` (-1: the order given); the proxy keeps its order."""
        source = self.sourceModel()
        if source is not None:
            source.sort(column, order)

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

    The context menu (``context_menu``) acts on the selected files:
    ``reveal_action`` opens the folder of the first, ``copy_path_action``
    copies their paths, one per line; ``retry_action`` emits
    ``retryRequested(paths)`` and ``clear_action``, once the user confirmed,
    ``clearRequested(paths)`` (distinct full paths, in display order).
    """

    refreshRequested = Signal()
    countChanged = Signal(int)
    retryRequested = Signal(object)  # list[str]; ``object`` so a name that is not UTF-8 crosses Qt intact
    clearRequested = Signal(object)  # list[str]

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
        header.setStretchLastSection(False)
        header.setSectionResizeMode(Column.REASON, QHeaderView.ResizeMode.Stretch)  # the width left over
        header.setSortIndicatorShown(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # unsorted: the order given
        self.view.setSortingEnabled(True)
        self.view.copyRequested.connect(self.copy_selection)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._show_context_menu)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())
        layout.addWidget(self.view, 1)

        self.reveal_action = self._action("Reveal in folder", self.reveal_selected,
                                          "Open the folder of the file in the file manager")
        self.copy_path_action = self._action("Copy path", self.copy_paths, "Copy the full paths of the files")
        self.retry_action = self._action("Retry", self.retry_selected, "Import these files again")
        self.clear_action = self._action("Clear…", self.ask_clear_selected,
                                         "Remove these problems from the list (the next import tries the files again)")
        self._update_actions()

        self.filter.textChanged.connect(self._apply_filter)
        self._sized = False

    def set_problems(self, problems: list[ImportProblem]) -> None:
        """Show ``problems`` (newest first, as ``Library.errors()`` returns them).

        The filter text and the sort column are kept (the model sorts the new rows).
        """
        self.model.set_problems(problems)
        if problems and not self._sized:
            self._sized = True
            for column in (Column.FILE, Column.STAGE, Column.FOLDER):
                self.view.resizeColumnToContents(column)
                self.view.setColumnWidth(column, min(self.view.columnWidth(column), MAX_SIDE_COLUMN_WIDTH))
        self._update_summary()
        self._update_actions()
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
        text = "\n".join("\t".join((display_path(path), stage, reason))
                          for path, stage, reason in self.selected_rows())
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def selected_paths(self) -> list[str]:
        """The distinct full paths of the selected rows, in display order."""
        return list(dict.fromkeys(path for path, _stage, _reason in self.selected_rows()))

    # -- context menu ---------------------------------------------------------------------------
    def _action(self, text: str, slot, tip: str) -> QAction:
        action = QAction(text, self)
        action.setStatusTip(tip)
        action.setToolTip(tip)
        action.triggered.connect(slot)
        return action

    def _update_actions(self) -> None:
        selected = bool(self.view.selectionModel().selectedRows(Column.FILE))
        for action in (self.reveal_action, self.copy_path_action, self.retry_action, self.clear_action):
            action.setEnabled(selected)

    def context_menu(self) -> QMenu:
        """The menu of the selected rows: Reveal in folder, Copy path, Retry, Clear… (the caller shows it)."""
        menu = QMenu(self)
        for action in (self.reveal_action, self.copy_path_action, None, self.retry_action, self.clear_action):
            menu.addSeparator() if action is None else menu.addAction(action)
        return menu

    def _show_context_menu(self, pos: QPoint) -> None:
        index = self.view.indexAt(pos)
        if index.isValid() and not self.view.selectionModel().isRowSelected(index.row(), QModelIndex()):
            self.view.selectRow(index.row())  # the row right-clicked, unless it is part of the selection
        if not self.selected_paths():
            return
        menu = self.context_menu()
        menu.exec(self.view.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def reveal_selected(self) -> bool:
        """Open the folder holding the first selected file in the desktop's file manager; False when none is
        selected or the desktop could not open it."""
        paths = self.selected_paths()
        return reveal_in_folder(paths[0]) if paths else False

    def copy_paths(self) -> str:
        """Copy the full paths of the selected files to the clipboard, one per line; returns the text copied."""
        return copy_paths(self.selected_paths())

    def retry_selected(self) -> None:
        """Ask for the selected files to be imported again (``retryRequested``)."""
        paths = self.selected_paths()
        if paths:
            self.retryRequested.emit(paths)

    def ask_clear_selected(self) -> None:
        """Confirm, then ask for the selected files' problems to be removed (``clearRequested``)."""
        paths = self.selected_paths()
        if not paths:
            return
        wanted = set(paths)
        rows = sum(1 for path, _stage, _reason in self.rows() if path in wanted)
        answer = messages.ask(
            self, "Clear problems",
            f"Remove the {rows} recorded problem{'s' if rows != 1 else ''} of {len(paths)} "
            f"file{'s' if len(paths) != 1 else ''} from the list?\n\nThe next import of "
            f"{'their folders' if len(paths) != 1 else 'its folder'} tries them again.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes:
            self.clearRequested.emit(paths)

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
