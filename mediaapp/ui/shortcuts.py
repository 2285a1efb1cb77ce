"""Help ▸ Keyboard shortcuts: every shortcut of a window, read from its actions when the dialog opens.

``shortcut_rows`` walks the window's ``QAction``s (its own, its menus', its
docks' and panels'), so a shortcut added, changed or removed anywhere shows
up here without editing a list. ``ShortcutTableModel`` serves the rows to a
``QTableView`` in ``ShortcutsDialog``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QHeaderView,
    QLineEdit,
    QMainWindow,
    QMenu,
    QTableView,
    QVBoxLayout,
    QWidget,
)

__all__ = ["ShortcutColumn", "ShortcutRow", "ShortcutTableModel", "ShortcutsDialog", "action_title", "shortcut_rows"]


@dataclass(frozen=True)
class ShortcutRow:
    """One line of the shortcuts list.

    ``where``: the menu holding the action (``File``, ``People``...), else
    the dock it works in, else ``Window``; ``action``: its text without
    ``&`` and ``…``; ``keys``: its shortcuts in the platform's notation,
    comma-separated; ``tip``: its status tip ("" when none).
    """

    where: str
    action: str
    keys: str
    tip: str


class ShortcutColumn(enum.IntEnum):
    """The columns of ``ShortcutTableModel``."""

    ACTION = 0
    KEYS = 1
    WHERE = 2


HEADERS = {ShortcutColumn.ACTION: "Action", ShortcutColumn.KEYS: "Shortcut", ShortcutColumn.WHERE: "Where"}


def action_title(text: str) -> str:
    """An action's text as a list shows it: ``&Import folder…`` -> ``Import folder`` (``&&`` stays ``&``)."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&").replace("…", "").strip()


def _menus(window: QMainWindow) -> list[QMenu]:
    """The menus of ``window``'s menu bar, with their submenus, in menu bar order."""
    out: list[QMenu] = []
    pending = [a.menu() for a in window.menuBar().actions()]
    while pending:
        menu = pending.pop(0)
        if isinstance(menu, QMenu):
            out.append(menu)
            pending += [a.menu() for a in menu.actions() if a.menu() is not None]
    return out


def _dock_title(action: QAction) -> str | None:
    """The title of the dock ``action``'s parent widget sits in, or None."""
    widget = action.parent()
    while isinstance(widget, QWidget):
        if isinstance(widget, QDockWidget):
            return action_title(widget.windowTitle())
        widget = widget.parentWidget()
    return None


def shortcut_rows(window: QMainWindow) -> list[ShortcutRow]:
    """Every action of ``window`` with at least one shortcut, one row each: menu actions first, in menu order,
    then the others (dock and panel actions) by place and title. An action is listed once."""
    rows: list[ShortcutRow] = []
    seen: set[int] = set()

    def add(action: QAction, where: str) -> None:
        if id(action) in seen or action.isSeparator() or not action.shortcuts():
            return
        seen.add(id(action))
        keys = ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts())
        rows.append(ShortcutRow(where, action_title(action.text()), keys, action.statusTip()))

    for menu in _menus(window):
        for action in menu.actions():
            add(action, action_title(menu.title()))
    listed = len(rows)
    for action in [*window.actions(), *window.findChildren(QAction)]:
        add(action, _dock_title(action) or "Window")
    return rows[:listed] + sorted(rows[listed:], key=lambda r: (r.where.casefold(), r.action.casefold()))


class ShortcutTableModel(QAbstractTableModel):
    """``ShortcutRow``s as a table (Action, Shortcut, Where); the status tip is each row's tooltip."""

    def __init__(self, rows: list[ShortcutRow], parent: QObject | None = None):
        super().__init__(parent)
        self._rows = list(rows)

    def rows(self) -> list[ShortcutRow]:
        """The rows, in order."""
        return list(self._rows)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        """Number of shortcuts (0 under any valid parent)."""
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        """Three columns (0 under any valid parent)."""
        return 0 if parent.isValid() else len(ShortcutColumn)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Display text of a cell, or the action's status tip as tooltip."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return (row.action, row.keys, row.where)[index.column()]
        if role == Qt.ItemDataRole.ToolTipRole:
            return row.tip or None
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Column titles."""
        if (orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole
                and 0 <= section < len(ShortcutColumn)):
            return HEADERS[ShortcutColumn(section)]
        return None


class ShortcutsDialog(QDialog):
    """The list of ``window``'s keyboard shortcuts (``shortcut_rows``, read when the dialog is made), with a
    filter box matching any column."""

    def __init__(self, window: QMainWindow, parent: QWidget | None = None):
        super().__init__(parent or window)
        self.setWindowTitle("Keyboard shortcuts")
        self.model = ShortcutTableModel(shortcut_rows(window), self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by action, key or menu")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.view = QTableView()
        self.view.setObjectName("shortcuts")
        self.view.setModel(self.proxy)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.verticalHeader().hide()
        self.view.setShowGrid(False)
        header = self.view.horizontalHeader()
        header.setSectionResizeMode(ShortcutColumn.ACTION, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(ShortcutColumn.KEYS, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(ShortcutColumn.WHERE, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.view, 1)
        layout.addWidget(buttons)
        self.resize(560, 480)
