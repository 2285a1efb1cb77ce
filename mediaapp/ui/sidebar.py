"""The filter sidebar: folders, label and person facets with counts, the confidence slider.

The sidebar only holds filter state and shows counts it is given; the main
window builds the ``Query`` from it and fetches the counts in the background.
Facets are model/view (``FacetModel`` behind a ``QSortFilterProxyModel`` in a
``FacetList``): a filter box narrows the labels, and a list keeps its order
while the mouse is over it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSize,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QRadioButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mediaapp.core.filenames import display_path
from mediaapp.search.index_base import FacetCount
from mediaapp.ui.boxes import LabelColors, swatch_icon

NAME_ROLE = Qt.ItemDataRole.UserRole + 1
COUNT_ROLE = Qt.ItemDataRole.UserRole + 2


@dataclass(slots=True)
class _Facet:
    """One row of a ``FacetModel``: a value, its count, whether it is checked."""

    name: str
    count: int
    checked: bool


class FacetModel(QAbstractListModel):
    """Checkable facet values with counts ("Dog  (12)"), in the order given to ``set_rows``.

    Display: ``name  (count)``; ``NAME_ROLE`` the name, ``COUNT_ROLE`` the
    count; CheckStateRole is editable by the user (``userToggled`` follows);
    Decoration: a swatch of the name's colour from ``colors`` (none without).
    """

    userToggled = Signal()

    def __init__(self, colors: LabelColors | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.colors = colors
        self._rows: list[_Facet] = []

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        """The number of values (0 under any valid parent: a flat list)."""
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Display text, check state, swatch, name (``NAME_ROLE``) or count (``COUNT_ROLE``) of one row."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{row.name}  ({row.count})"
        if role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Checked if row.checked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.DecorationRole and self.colors is not None:
            return swatch_icon(self.colors.color(row.name))
        if role == NAME_ROLE:
            return row.name
        if role == COUNT_ROLE:
            return row.count
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        """Enabled, selectable and checkable rows."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsUserCheckable

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any,
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Check or uncheck a row (CheckStateRole, as the view does for a click); emits ``userToggled``."""
        if role != Qt.ItemDataRole.CheckStateRole or not index.isValid() or not 0 <= index.row() < len(self._rows):
            return False
        checked = Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) else value
        if self._rows[index.row()].checked == checked:
            return False
        self._rows[index.row()].checked = checked
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        self.userToggled.emit()
        return True

    def rows(self) -> list[tuple[str, int, bool]]:
        """(name, count, checked) of every row, in order."""
        return [(r.name, r.count, r.checked) for r in self._rows]

    def set_rows(self, rows: list[tuple[str, int, bool]]) -> None:
        """Show ``rows`` (name, count, checked) in this order; the same names in the same order only change
        their counts and checks (no reset: the view keeps its current row and scroll position)."""
        new = [_Facet(name, int(count), bool(checked)) for name, count, checked in rows]
        if [r.name for r in new] == [r.name for r in self._rows]:
            for i, row in enumerate(new):
                if (row.count, row.checked) != (self._rows[i].count, self._rows[i].checked):
                    self._rows[i] = row
                    index = self.index(i)
                    self.dataChanged.emit(index, index)
            return
        self.beginResetModel()
        self._rows = new
        self.endResetModel()

    def set_checked_rows(self, names: set[str], checked: bool) -> bool:
        """Check (or uncheck) the rows whose casefolded name is in ``names``; True when one changed (no
        ``userToggled``: the caller reports it)."""
        changed = False
        for i, row in enumerate(self._rows):
            if row.name.casefold() in names and row.checked != checked:
                row.checked = checked
                index = self.index(i)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
                changed = True
        return changed


class FacetList(QListView):
    """A list of checkable facet values with counts ("Dog  (12)"): a ``FacetModel`` behind a filter proxy.

    ``set_counts`` replaces the values but keeps the checked ones (shown
    first, with count 0 when they no longer occur). While the mouse is over
    the list its order stays as it is: new counts only change the numbers
    (values gone show 0, new ones are added at the end), and the list takes
    the new order when the mouse leaves, so a value never moves under the
    cursor between two clicks. ``set_filter_text`` shows only the values
    containing a text (case-insensitive; checked values stay checked while
    hidden). ``checkedChanged(names)`` is emitted with the checked names (a
    tuple, in list order) when the user toggles an item. Swatches come from
    ``colors`` when ``colored`` (by default a ``LabelColors`` of its own).
    """

    checkedChanged = Signal(tuple)

    def __init__(self, parent: QWidget | None = None, colored: bool = True, colors: LabelColors | None = None):
        super().__init__(parent)
        self.colored = colored
        colors = colors if colors is not None else LabelColors()
        self.facet_model = FacetModel(colors if colored else None, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.facet_model)
        self.proxy.setFilterRole(NAME_ROLE)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setModel(self.proxy)
        self.setUniformItemSizes(True)
        self.setIconSize(QSize(12, 12))
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self._hovered = False
        self._latest: list[FacetCount] = []
        self.facet_model.userToggled.connect(lambda: self.checkedChanged.emit(self.checked()))
        self.activated.connect(self._toggle)

    # -- values ---------------------------------------------------------------------------------
    def set_counts(self, counts: Iterable[FacetCount]) -> None:
        """Show ``counts`` (ordered as given), keeping checked values checked; the order waits while the mouse
        is over the list (see the class docstring)."""
        self._latest = list(counts)
        if self._hovered:
            self._update_counts_in_place()
        else:
            self._lay_out()

    def _lay_out(self) -> None:
        """Checked values first (in their order), then ``_latest`` in its order."""
        by_name = {c.name.casefold(): c for c in self._latest}
        rows: list[tuple[str, int, bool]] = []
        shown: set[str] = set()
        for name in self.checked():
            c = by_name.get(name.casefold())
            rows.append((c.name if c else name, c.count if c else 0, True))
            shown.add(name.casefold())
        rows += [(c.name, c.count, False) for key, c in by_name.items() if key not in shown]
        current = self.currentIndex().data(NAME_ROLE)
        self.facet_model.set_rows(rows)
        if current is not None and not self.currentIndex().isValid():
            row = self.row_of(current)
            if row >= 0:
                self.setCurrentIndex(self.proxy.index(row, 0))

    def _update_counts_in_place(self) -> None:
        """New counts for the rows shown, in their order; values gone show 0, new ones go last."""
        by_name = {c.name.casefold(): c for c in self._latest}
        rows = []
        for name, _count, checked in self.facet_model.rows():
            c = by_name.pop(name.casefold(), None)
            rows.append((name, c.count if c else 0, checked))
        rows += [(c.name, c.count, False) for c in by_name.values()]
        self.facet_model.set_rows(rows)

    def order_frozen(self) -> bool:
        """True while the mouse is over the list (new counts keep the order)."""
        return self._hovered

    def enterEvent(self, event) -> None:
        """The mouse came over the list: hold the order."""
        self._hovered = True
        super().enterEvent(event)

    def leaveEvent(self, event) -> None:
        """The mouse left: take the order of the latest counts."""
        self._hovered = False
        self._lay_out()
        super().leaveEvent(event)

    def set_filter_text(self, text: str) -> None:
        """Show only the values whose name contains ``text`` (stripped; case-insensitive); all for blank."""
        self.proxy.setFilterFixedString(text.strip())

    def row_of(self, name: str) -> int:
        """The row (among those shown through the filter) of value ``name`` (case-insensitive), or -1."""
        wanted = name.casefold()
        for row in range(self.proxy.rowCount()):
            if str(self.proxy.index(row, 0).data(NAME_ROLE)).casefold() == wanted:
                return row
        return -1

    def names(self) -> list[str]:
        """The names shown (through the filter), in list order."""
        return [self.proxy.index(row, 0).data(NAME_ROLE) for row in range(self.proxy.rowCount())]

    # -- checks ---------------------------------------------------------------------------------
    def checked(self) -> tuple[str, ...]:
        """Names of the checked values (hidden by the filter or not), in list order."""
        return tuple(name for name, _count, checked in self.facet_model.rows() if checked)

    def counts(self) -> dict[str, int]:
        """Name -> count of every value (hidden by the filter or not), in list order."""
        return {name: count for name, count, _checked in self.facet_model.rows()}

    def set_checked(self, names: Iterable[str], checked: bool = True) -> None:
        """Check (or uncheck) the named values; emits ``checkedChanged`` once if anything changed."""
        if self.facet_model.set_checked_rows({n.casefold() for n in names}, checked):
            self.checkedChanged.emit(self.checked())

    def clear_checks(self) -> None:
        """Uncheck everything (emits ``checkedChanged`` if anything was checked)."""
        self.set_checked(self.checked(), False)

    def _toggle(self, index: QModelIndex) -> None:
        if index.isValid():
            state = index.data(Qt.ItemDataRole.CheckStateRole)
            self.model().setData(index, Qt.CheckState.Unchecked if state == Qt.CheckState.Checked
                                 else Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)


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
    """Folders, labels (all/any, with a filter box), people, face attributes and the minimum confidence.

    Signals: ``folderChanged(folder)`` (``""`` for all folders),
    ``labelsChanged(names, match_all)``, ``personsChanged(names)``,
    ``faceAttributesChanged(names)`` (the Faces facet: ``eyes-closed``, ``smiling``...),
    ``moderationChanged(names, safe_only)`` (the "Unsafe content" facet: moderation labels and
    ``unchecked``; "Safe only" leaves out flagged images),
    ``confidenceChanged(percent)`` (0-100, when the slider is released or
    moved by keyboard). ``colors``: the window's ``LabelColors`` for the
    facet swatches (the boxes' colours).
    """

    folderChanged = Signal(object)  # str; ``object`` so a name that is not UTF-8 crosses Qt intact
    labelsChanged = Signal(tuple, bool)
    personsChanged = Signal(tuple)
    faceAttributesChanged = Signal(tuple)
    moderationChanged = Signal(tuple, bool)
    confidenceChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None, colors: LabelColors | None = None):
        super().__init__(parent)
        colors = colors if colors is not None else LabelColors()
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

        self.labels = FacetList(colors=colors)
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
        self.label_filter = QLineEdit()
        self.label_filter.setObjectName("labelFilter")
        self.label_filter.setPlaceholderText("Filter labels")
        self.label_filter.setClearButtonEnabled(True)
        self.label_filter.textChanged.connect(self.labels.set_filter_text)
        layout.addWidget(self.label_filter)
        layout.addWidget(self.labels, 4)
        self.labels.checkedChanged.connect(lambda _names: self._emit_labels())
        self.match_all.toggled.connect(lambda _on: self._emit_labels())

        self.persons = FacetList(colors=colors)
        self.persons.setObjectName("persons")
        layout.addWidget(_heading("People", self.persons))
        layout.addWidget(self.persons, 2)
        self.persons.checkedChanged.connect(self.personsChanged)

        self.faces = FacetList(colored=False)
        self.faces.setObjectName("faces")
        self.faces.setToolTip("Faces with every checked attribute on one face (with people checked: on their faces)")
        layout.addWidget(_heading("Faces", self.faces))
        layout.addWidget(self.faces, 1)
        self.faces.checkedChanged.connect(self.faceAttributesChanged)

        self.moderation = FacetList(colored=False)
        self.moderation.setObjectName("moderation")
        self.moderation.setToolTip("Images flagged as unsafe content with the checked labels (any of them); "
                                   "'unchecked': images never checked for it")
        layout.addWidget(_heading("Unsafe content", self.moderation))
        self.safe_only = QCheckBox("Safe only")
        self.safe_only.setObjectName("safeOnly")
        self.safe_only.setToolTip("Leave out images flagged as unsafe content (images never checked are kept)")
        layout.addWidget(self.safe_only)
        layout.addWidget(self.moderation, 1)
        self.moderation.checkedChanged.connect(lambda _names: self._emit_moderation())
        self.safe_only.toggled.connect(lambda _on: self._emit_moderation())

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

    def _emit_moderation(self) -> None:
        self.moderationChanged.emit(self.moderation.checked(), self.safe_only.isChecked())

    def _emit_labels(self) -> None:
        self.labelsChanged.emit(self.labels.checked(), self.match_all.isChecked())

    def _show_confidence(self, value: int) -> None:
        self.confidence_label.setText(f"<b>Minimum confidence</b>: {value}%")

    def _on_confidence(self, value: int) -> None:
        self._show_confidence(value)
        self.confidenceChanged.emit(value)
