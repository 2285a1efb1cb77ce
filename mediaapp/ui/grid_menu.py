"""The thumbnail grid's context menu: what a user does with the selected photos.

Right-clicking a cell that is not selected selects it alone (as file managers
do); right-clicking inside the selection keeps it, so the actions apply to
every selected photo: Open (the detail view, the cell right-clicked), Open
with the default application, Reveal in folder, Copy path (one per line),
Re-analyse (the selected files, through the import flow and its cost
question), Show errors (the Errors panel, filtered to the file) and More like
this (the photos most similar to the cell right-clicked). The
menu only says what it wants through signals; the main window does it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QAbstractItemView, QMenu

from mediaapp.ui.file_actions import copy_paths, open_with_default_app, reveal_in_folder

__all__ = ["GridMenu"]


class GridMenu(QObject):
    """The context menu of ``view`` (the grid), whose row ``i`` holds the file ``path_of(i)`` (None while unknown).

    Signals: ``openRequested(index)`` (the detail view of a cell),
    ``reanalyseRequested(paths)`` and ``errorsRequested(paths)``, with the
    selected files' exact paths (``object``: a name that is not UTF-8
    crosses Qt intact), in grid order. The actions are public so the window
    can put them in its menus and tests can trigger them.
    """

    openRequested = Signal(QModelIndex)
    likeRequested = Signal(object)  # str: the path of the cell right-clicked ("More like this")
    reanalyseRequested = Signal(object)  # list[str]
    errorsRequested = Signal(object)  # list[str]

    def __init__(self, view: QAbstractItemView, path_of: Callable[[int], str | None], parent: QObject | None = None):
        super().__init__(parent)
        self.view = view
        self.path_of = path_of
        self._clicked = QModelIndex()
        self.open_action = self._action("&Open", lambda: self.openRequested.emit(self._target()))
        self.open_external_action = self._action("Open with &default application",
                                                 lambda: self._each(open_with_default_app, first_only=True))
        self.reveal_action = self._action("&Reveal in folder", lambda: self._each(reveal_in_folder, first_only=True))
        self.copy_action = self._action("&Copy path", lambda: copy_paths(self.selected_paths()),
                                        QKeySequence.StandardKey.Copy)
        self.reanalyse_action = self._action("Re-&analyse", lambda: self._emit(self.reanalyseRequested))
        self.errors_action = self._action("Show &errors", lambda: self._emit(self.errorsRequested))
        self.like_action = self._action("More &like this", self._emit_like)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._show)

    def _action(self, text: str, slot: Callable[[], object], shortcut: QKeySequence.StandardKey | None = None
                ) -> QAction:
        action = QAction(text, self.view)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            self.view.addAction(action)  # Ctrl+C in the grid copies the selected paths
        action.triggered.connect(lambda _checked=False: slot())
        return action

    def selected_paths(self) -> list[str]:
        """The exact paths of the selected cells, in grid order (the current cell when none is selected).

        Cells whose page is not loaded yet (a Select all over a large
        result) are left out: their paths are not known on the GUI thread.
        """
        rows = sorted({index.row() for index in self.view.selectionModel().selectedIndexes()})
        if not rows and self.view.currentIndex().isValid():
            rows = [self.view.currentIndex().row()]
        paths = (self.path_of(row) for row in rows)
        return list(dict.fromkeys(path for path in paths if path is not None))

    def menu(self) -> QMenu:
        """The menu for the current selection (the caller shows it); actions disabled when nothing is selected."""
        menu = QMenu(self.view)
        some = bool(self.selected_paths())
        for action in (self.open_action, self.open_external_action, self.reveal_action, None, self.copy_action,
                       None, self.like_action, self.reanalyse_action, self.errors_action):
            if action is None:
                menu.addSeparator()
                continue
            action.setEnabled(some)
            menu.addAction(action)
        return menu

    def prepare(self, pos: QPoint) -> bool:
        """Select as a right-click at ``pos`` (viewport pixels) does; True when there is something to act on.

        A cell outside the selection becomes the selection; inside it, the
        selection stays. The cell is the target of Open.
        """
        index = self.view.indexAt(pos)
        selection = self.view.selectionModel()
        if index.isValid() and not selection.isSelected(index):
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self._clicked = index if index.isValid() else self.view.currentIndex()
        return bool(self.selected_paths())

    def _show(self, pos: QPoint) -> None:
        if not self.prepare(pos):
            return
        menu = self.menu()
        menu.exec(self.view.viewport().mapToGlobal(pos))
        menu.deleteLater()

    def _emit_like(self) -> None:
        """``likeRequested`` with the path of the cell the menu was opened on (nothing while it is unknown)."""
        target = self._target()
        path = self.path_of(target.row()) if target.isValid() else None
        if path is not None:
            self.likeRequested.emit(path)

    def _target(self) -> QModelIndex:
        """The cell the menu was opened on, else the current cell."""
        return self._clicked if self._clicked.isValid() else self.view.currentIndex()

    def _each(self, act: Callable[[str], object], first_only: bool = False) -> None:
        paths = self.selected_paths()
        for path in paths[:1] if first_only else paths:
            act(path)

    def _emit(self, signal) -> None:
        paths = self.selected_paths()
        if paths:
            signal.emit(paths)
