"""The errors panel: every file that failed a stage, with the stage and the reason.

Fed from ``Library.errors()`` (fetched in the background by the main window);
import failures are listed here, never shown as one dialog per file.
"""

from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QLineEdit, QToolButton, QTreeWidget,
                               QTreeWidgetItem, QVBoxLayout, QWidget)

from mediaapp.core.types import ImportProblem


class ErrorsPanel(QWidget):
    """A filterable table of ``ImportProblem``s (path, stage, reason).

    ``refreshRequested`` is emitted by the Refresh button. Ctrl+C copies the
    selected rows as tab-separated text.
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
        self.filter.textChanged.connect(self._apply_filter)
        refresh = QToolButton()
        refresh.setText("Refresh")
        refresh.clicked.connect(self.refreshRequested)
        top.addWidget(self.summary)
        top.addWidget(self.filter, 1)
        top.addWidget(refresh)
        layout.addLayout(top)
        self.tree = QTreeWidget()
        self.tree.setObjectName("errors")
        self.tree.setHeaderLabels(["File", "Stage", "Reason", "Folder"])
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSortingEnabled(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setUniformRowHeights(True)
        layout.addWidget(self.tree, 1)
        self.problems: list[ImportProblem] = []

    def set_problems(self, problems: list[ImportProblem]) -> None:
        """Show ``problems`` (newest first, as ``Library.errors()`` returns them)."""
        self.problems = list(problems)
        self.tree.setSortingEnabled(False)
        self.tree.clear()
        for p in self.problems:
            item = QTreeWidgetItem([os.path.basename(p.path) or p.path, p.stage, p.message, os.path.dirname(p.path)])
            item.setToolTip(0, p.path)
            item.setToolTip(2, p.message)
            item.setData(0, Qt.ItemDataRole.UserRole, p.path)
            self.tree.addTopLevelItem(item)
        self.tree.setSortingEnabled(True)
        for col in (0, 1):
            self.tree.resizeColumnToContents(col)
        self.tree.setColumnWidth(2, max(self.tree.columnWidth(2), 420))
        files = len({p.path for p in self.problems})
        self.summary.setText(f"{len(self.problems)} problems in {files} files" if self.problems
                             else "No problems recorded")
        self._apply_filter(self.filter.text())
        self.countChanged.emit(len(self.problems))

    def rows(self) -> list[tuple[str, str, str]]:
        """(path, stage, reason) of every row shown, in display order."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if not item.isHidden():
                out.append((item.data(0, Qt.ItemDataRole.UserRole), item.text(1), item.text(2)))
        return out

    def _apply_filter(self, text: str) -> None:
        needle = text.strip().casefold()
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            hay = " ".join([item.data(0, Qt.ItemDataRole.UserRole), item.text(1), item.text(2)]).casefold()
            item.setHidden(bool(needle) and needle not in hay)

    def keyPressEvent(self, event) -> None:
        """Ctrl+C copies the selected rows (path, stage, reason) to the clipboard."""
        if event.matches(QKeySequence.StandardKey.Copy):
            lines = ["\t".join([it.data(0, Qt.ItemDataRole.UserRole), it.text(1), it.text(2)])
                     for it in self.tree.selectedItems()]
            if lines:
                QGuiApplication.clipboard().setText("\n".join(lines))
            event.accept()
            return
        super().keyPressEvent(event)
