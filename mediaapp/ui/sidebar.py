"""The filter sidebar: folders, label and person facets with counts, the confidence slider.

The sidebar only holds filter state and shows counts it is given; the main
window builds the ``Query`` from it and fetches the counts in the background.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QListView,
    QListWidget,
    QListWidgetItem,
    QRadioButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mediaapp.core.filenames import display_path
from mediaapp.search.index_base import FacetCount
from mediaapp.ui.boxes import label_color, swatch_icon

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
COUNT_ROLE = Qt.ItemDataRole.UserRole + 2


class FacetList(QListWidget):
    """A list of checkable facet values with counts ("Dog  (12)").

    ``set_counts`` replaces the values but keeps the checked ones (shown
    first, with count 0 when they no longer occur). ``checkedChanged(names)``
    is emitted with the checked names (a tuple, in list order) when the user
    toggles an item.
    """

    checkedChanged = Signal(tuple)

    def __init__(self, parent: QWidget | None = None, colored: bool = True):
        super().__init__(parent)
        self.colored = colored
        self.setUniformItemSizes(True)
        self.setIconSize(QSize(12, 12))
        self._updating = False
        self.itemChanged.connect(self._on_item_changed)
        self.itemActivated.connect(self._toggle)

    def set_counts(self, counts: Iterable[FacetCount]) -> None:
        """Show ``counts`` (ordered as given), keeping checked values checked."""
        checked = self.checked()
        by_name = {c.name.casefold(): c for c in counts}
        self._updating = True
        try:
            self.clear()
            shown: set[str] = set()
            for name in checked:
                c = by_name.get(name.casefold())
                self._add(c.name if c else name, c.count if c else 0, True)
                shown.add(name.casefold())
            for c in by_name.values():
                if c.name.casefold() not in shown:
                    self._add(c.name, c.count, False)
        finally:
            self._updating = False

    def _add(self, name: str, count: int, checked: bool) -> None:
        item = QListWidgetItem(f"{name}  ({count})")
        item.setData(NAME_ROLE, name)
        item.setData(COUNT_ROLE, count)
        item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsSelectable)
        item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
        if self.colored:
            item.setIcon(swatch_icon(label_color(name)))
        self.addItem(item)

    def checked(self) -> tuple[str, ...]:
        """Names of the checked items."""
        return tuple(self.item(i).data(NAME_ROLE) for i in range(self.count())
                     if self.item(i).checkState() == Qt.CheckState.Checked)

    def counts(self) -> dict[str, int]:
        """Name -> count of every item shown."""
        return {self.item(i).data(NAME_ROLE): self.item(i).data(COUNT_ROLE) for i in range(self.count())}

    def set_checked(self, names: Iterable[str], checked: bool = True) -> None:
        """Check (or uncheck) the named items; emits ``checkedChanged`` once if anything changed."""
        wanted = {n.casefold() for n in names}
        changed = False
        self._updating = True
        try:
            for i in range(self.count()):
                item = self.item(i)
                if item.data(NAME_ROLE).casefold() in wanted:
                    state = Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked
                    if item.checkState() != state:
                        item.setCheckState(state)
                        changed = True
        finally:
            self._updating = False
        if changed:
            self.checkedChanged.emit(self.checked())

    def clear_checks(self) -> None:
        """Uncheck everything (emits ``checkedChanged`` if anything was checked)."""
        self.set_checked([self.item(i).data(NAME_ROLE) for i in range(self.count())], False)

    def _toggle(self, item: QListWidgetItem) -> None:
        item.setCheckState(Qt.CheckState.Unchecked if item.checkState() == Qt.CheckState.Checked
                           else Qt.CheckState.Checked)

    def _on_item_changed(self, _item: QListWidgetItem) -> None:
        if not self._updating:
            self.checkedChanged.emit(self.checked())


def folder_title(path: str) -> str:
    """How the folder list names ``path``: its parent's name and its own ("photos/2019")."""
    stripped = path.rstrip(os.sep)
    name = os.path.basename(stripped) or path
    parent = os.path.basename(os.path.dirname(stripped))
    return f"{parent}/{name}" if parent else name


class FolderListModel(QAbstractListModel):
    """The folder filter's rows: "All folders  (N)" first, then each folder with its file count.

    ``NAME_ROLE`` is the folder's path (``""`` for the All folders row),
    ``COUNT_ROLE`` its file count (the total for the All folders row); a
    folder's tooltip is its full path.
    """

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._folders: list[tuple[str, int, str]] = []  # path, count, display text
        self._total = 0

    def set_folders(self, folders: list[tuple[str, int]]) -> None:
        """Replace the folders with ``folders`` (path, file count), in the order given."""
        rows = [(path, int(count), f"{display_path(folder_title(path))}  ({count})") for path, count in folders]
        self.beginResetModel()
        self._folders = rows
        self._total = sum(count for _, count, _ in rows)
        self.endResetModel()

    def folder(self, row: int) -> str:
        """The path of row ``row`` (``""`` for All folders and for rows out of range)."""
        return self._folders[row - 1][0] if 1 <= row <= len(self._folders) else ""

    def row_of(self, folder: str | None) -> int:
        """The row showing ``folder`` (0, All folders, for ``""``, None or a folder not listed)."""
        if folder:
            for row, (path, _count, _text) in enumerate(self._folders, start=1):
                if path == folder:
                    return row
        return 0

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        """The All folders row plus one row per folder (0 under any valid parent)."""
        return 0 if parent.isValid() else len(self._folders) + 1

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Display text, tooltip, path (``NAME_ROLE``) or file count (``COUNT_ROLE``) of one row."""
        if not index.isValid() or not 0 <= index.row() <= len(self._folders):
            return None
        if index.row() == 0:
            path, count, text, tip = "", self._total, f"All folders  ({self._total})", None
        else:
            path, count, text = self._folders[index.row() - 1]
            tip = display_path(path)
        if role == Qt.ItemDataRole.DisplayRole:
            return text
        if role == Qt.ItemDataRole.ToolTipRole:
            return tip
        if role == NAME_ROLE:
            return path
        if role == COUNT_ROLE:
            return count
        return None


def _heading(text: str, clear: FacetList | None = None) -> QWidget:
    row = QWidget()
    layout = QHBoxLayout(row)
    layout.setContentsMargins(0, 6, 0, 0)
    label = QLabel(f"<b>{text}</b>")
    layout.addWidget(label)
    layout.addStretch(1)
    if clear is not None:
        button = QToolButton()
        button.setText("Clear")
        button.setAutoRaise(True)
        button.setToolTip(f"Uncheck every {text.lower()} filter")
        button.clicked.connect(clear.clear_checks)
        layout.addWidget(button)
    return row


class Sidebar(QWidget):
    """Folders, labels (all/any), people and the minimum confidence.

    Signals: ``folderChanged(folder)`` (``""`` for all folders),
    ``labelsChanged(names, match_all)``, ``personsChanged(names)``,
    ``confidenceChanged(percent)`` (0-100, when the slider is released or
    moved by keyboard).
    """

    folderChanged = Signal(object)  # str; ``object`` so a name that is not UTF-8 crosses Qt intact
    labelsChanged = Signal(tuple, bool)
    personsChanged = Signal(tuple)
    confidenceChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)

        layout.addWidget(_heading("Folders"))
        self.folder_model = FolderListModel(self)
        self.folders = QListView()
        self.folders.setObjectName("folders")
        self.folders.setModel(self.folder_model)
        self.folders.setUniformItemSizes(True)
        self.folders.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.folders.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.folders.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.folders.selectionModel().currentChanged.connect(self._on_folder)
        self._updating_folders = False
        layout.addWidget(self.folders, 2)

        self.labels = FacetList()
        self.labels.setObjectName("labels")
        layout.addWidget(_heading("Labels", self.labels))
        match_row = QWidget()
        match_layout = QHBoxLayout(match_row)
        match_layout.setContentsMargins(0, 0, 0, 0)
        match_layout.addWidget(QLabel("Match"))
        self.match_all = QRadioButton("all")
        self.match_all.setToolTip("Images having every checked label")
        self.match_any = QRadioButton("any")
        self.match_any.setToolTip("Images having at least one checked label")
        self.match_all.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.match_all)
        group.addButton(self.match_any)
        match_layout.addWidget(self.match_all)
        match_layout.addWidget(self.match_any)
        match_layout.addStretch(1)
        layout.addWidget(match_row)
        layout.addWidget(self.labels, 4)
        self.labels.checkedChanged.connect(lambda _names: self._emit_labels())
        self.match_all.toggled.connect(lambda _on: self._emit_labels())

        self.persons = FacetList()
        self.persons.setObjectName("persons")
        layout.addWidget(_heading("People", self.persons))
        layout.addWidget(self.persons, 2)
        self.persons.checkedChanged.connect(self.personsChanged)

        self.confidence_label = QLabel()
        layout.addWidget(self.confidence_label)
        self.confidence = QSlider(Qt.Orientation.Horizontal)
        self.confidence.setObjectName("confidence")
        self.confidence.setRange(0, 100)
        self.confidence.setSingleStep(5)
        self.confidence.setPageStep(10)
        self.confidence.setTracking(False)
        self.confidence.setToolTip("Only labels, faces and boxes at least this confident")
        self.confidence.sliderMoved.connect(self._show_confidence)
        self.confidence.valueChanged.connect(self._on_confidence)
        layout.addWidget(self.confidence)
        self._show_confidence(self.confidence.value())

    # -- state ----------------------------------------------------------------------------------
    def selected_folder(self) -> str | None:
        """The folder filter, or None for all folders."""
        index = self.folders.currentIndex()
        folder = self.folder_model.folder(index.row()) if index.isValid() else ""
        return folder or None

    def min_confidence(self) -> int:
        """The slider's value, 0-100 (percent)."""
        return self.confidence.value()

    def set_min_confidence(self, value: int) -> None:
        """Move the slider (emits ``confidenceChanged`` when the value changes)."""
        self.confidence.setValue(int(value))
        self._show_confidence(self.confidence.value())

    def set_folders(self, folders: list[tuple[str, int]]) -> None:
        """Show ``folders`` (path, file count); keeps the selected folder if it still exists."""
        current = self.selected_folder()
        self._updating_folders = True
        try:
            self.folder_model.set_folders(folders)
            index = self.folder_model.index(self.folder_model.row_of(current))
            self.folders.setCurrentIndex(index)
            self.folders.scrollTo(index)
        finally:
            self._updating_folders = False
        selected = self.folder_model.folder(index.row())
        if (selected or None) != current:
            self.folderChanged.emit(selected)

    def _on_folder(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._updating_folders:
            self.folderChanged.emit(self.folder_model.folder(current.row()) if current.isValid() else "")

    def _emit_labels(self) -> None:
        self.labelsChanged.emit(self.labels.checked(), self.match_all.isChecked())

    def _show_confidence(self, value: int) -> None:
        self.confidence_label.setText(f"<b>Minimum confidence</b>: {value}%")

    def _on_confidence(self, value: int) -> None:
        self._show_confidence(value)
        self.confidenceChanged.emit(value)
