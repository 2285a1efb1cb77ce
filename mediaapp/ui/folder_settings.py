"""The Settings dialog's "Folders" section: RAW+JPEG stacking, watched folders, per-folder XMP sidecars.

``FolderSettingsBox`` edits a copy of the settings dict's keys
``stack_raw_jpeg`` ("Stack RAW+JPEG pairs", ``mediaapp.catalog.stacks``),
``watch_folders`` / ``watch_polling`` / ``watch_reconcile_s`` (the folder
watcher, ``mediaapp.services.watch``) and the folder rules of ``sidecars``
(``sidecars.folders``: folder -> on, the deepest wins; ``mediaapp.settings.sidecars_on_for``).
Each folder list is a ``FolderList``: a ``QListView`` over a
``QStringListModel`` (Qt's model/view, not an item widget) with Add… and
Remove buttons; Delete or Backspace in the focused list removes like Remove.
The box never writes files and never touches the library:
``mediaapp.ui.settings_flow.SettingsFlow`` saves the values and applies a
changed stacking setting on a worker (``Library.restack``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QStringListModel, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

__all__ = ["FolderList", "FolderSettingsBox"]

#: Seconds per unit of the reconcile interval's spin box (it shows minutes; the setting is in seconds).
MINUTE_S = 60
#: Rows the lists show before they scroll (each is as tall as this many lines of text).
LIST_ROWS = 4


def _choose_folder(parent: QWidget, title: str, start: str) -> str:
    """Ask for a folder with Qt's folder dialog; "" when cancelled."""
    return QFileDialog.getExistingDirectory(parent, title, start)


def _wrapped(text: str) -> QLabel:
    """A help label that wraps (the dialog must fit a laptop screen, ``ui/scrolling.py``)."""
    label = QLabel(text)
    label.setWordWrap(True)
    return label


class FolderList(QWidget):
    """An editable list of absolute folder paths: a ``QListView`` on a ``QStringListModel``, Add… and Remove.

    ``folders()`` gives the list in order. Add… asks with ``choose(parent,
    title, start) -> path`` (default: ``QFileDialog.getExistingDirectory``;
    "" when cancelled); a folder already listed is selected, not added twice.
    Remove drops the selected rows (several may be selected); so do Delete
    and Backspace while the list view has the focus (``remove_action``, a
    ``QAction`` on the view with a widget-with-children shortcut context, so
    another list's or the dialog's keys are not taken). The button and the
    keys both call ``remove_selected`` and are enabled together (only with a
    selection). Nothing is asked: removing only edits the list, and Cancel
    discards the edit.
    """

    def __init__(self, folders: Iterable[str], title: str, parent: QWidget | None = None, *,
                 choose: Callable[[QWidget, str, str], str] = _choose_folder):
        super().__init__(parent)
        self.title = title
        self.choose = choose
        self.model = QStringListModel([os.fspath(f) for f in folders], self)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setUniformItemSizes(True)
        self.view.setMaximumHeight(self.view.fontMetrics().height() * (LIST_ROWS + 1) + 8)
        self.add_button = QPushButton("Add…")
        self.add_button.clicked.connect(self.add)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        self.remove_action = QAction("Remove", self.view)
        self.remove_action.setShortcuts([QKeySequence(Qt.Key.Key_Delete), QKeySequence(Qt.Key.Key_Backspace)])
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.remove_action.triggered.connect(self.remove_selected)
        self.view.addAction(self.remove_action)
        buttons = QVBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view, 1)
        layout.addLayout(buttons)
        self.view.selectionModel().selectionChanged.connect(self._update_enabled)
        self._update_enabled()

    def folders(self) -> list[str]:
        """The listed folders, in order."""
        return list(self.model.stringList())

    def add(self) -> str:
        """Ask for a folder and list it (absolute); returns it, or "" when the user cancelled."""
        listed = self.folders()
        chosen = self.choose(self, self.title, listed[-1] if listed else os.path.expanduser("~"))
        if not chosen:
            return ""
        folder = os.path.abspath(os.path.expanduser(chosen))
        if folder not in listed:
            row = self.model.rowCount()
            self.model.insertRows(row, 1)
            self.model.setData(self.model.index(row), folder)
        self.view.selectionModel().select(self.model.index(self.folders().index(folder)),
                                          QItemSelectionModel.SelectionFlag.ClearAndSelect)
        return folder

    def remove_selected(self) -> None:
        """Remove the selected folders from the list (nothing on disk changes)."""
        for row in sorted((i.row() for i in self.view.selectionModel().selectedRows()), reverse=True):
            self.model.removeRows(row, 1)
        self._update_enabled()

    def _update_enabled(self, *_args: Any) -> None:
        selected = self.view.selectionModel().hasSelection()
        self.remove_button.setEnabled(selected)
        self.remove_action.setEnabled(selected)


class FolderSettingsBox(QGroupBox):
    """The Settings dialog's "Folders" section, filled from ``settings`` (``settings.json``'s dict).

    ``apply_to(values)`` writes the edited keys into ``values`` (a copy of the
    settings dict): ``stack_raw_jpeg``, ``watch_folders``, ``watch_polling``,
    ``watch_reconcile_s`` (seconds; the box shows minutes, 0 = only when
    watching starts) and ``sidecars["folders"]`` (the listed folders on;
    folders turned off by hand or with the CLI's ``xmp off`` are kept).
    ``choose`` is the folder dialog (see ``FolderList``).
    """

    def __init__(self, settings: dict[str, Any], parent: QWidget | None = None, *,
                 choose: Callable[[QWidget, str, str], str] = _choose_folder):
        super().__init__("Folders", parent)
        self._settings = settings
        form = QFormLayout(self)
        self.stack_raw_jpeg = QCheckBox("Stack RAW+JPEG pairs")
        self.stack_raw_jpeg.setObjectName("stackRawJpeg")
        self.stack_raw_jpeg.setToolTip("A camera's RAW and the JPEG of the same name beside it are shown, "
                                       "analysed and searched once, as the RAW. Applies to the whole library "
                                       "when you press OK.")
        self.stack_raw_jpeg.setChecked(bool(settings.get("stack_raw_jpeg", True)))
        form.addRow(self.stack_raw_jpeg)
        form.addRow(_wrapped("Watched folders (File ▸ Watch folders for changes; none: the imported folders)"))
        self.watch_folders = FolderList(settings.get("watch_folders") or [], "Watch folder", choose=choose)
        self.watch_folders.setObjectName("watchFolders")
        form.addRow(self.watch_folders)
        self.watch_polling = QCheckBox("Check for changes by polling (for folders inotify cannot follow)")
        self.watch_polling.setObjectName("watchPolling")
        self.watch_polling.setToolTip("Network shares are always polled. Polling reads each watched folder "
                                      "every few seconds, which costs more than inotify.")
        self.watch_polling.setChecked(bool(settings.get("watch_polling", False)))
        form.addRow(self.watch_polling)
        self.reconcile = QSpinBox()
        self.reconcile.setObjectName("watchReconcile")
        self.reconcile.setRange(0, 24 * 60)
        self.reconcile.setSuffix(" min")
        self.reconcile.setSpecialValueText("only when watching starts")
        self.reconcile.setToolTip("How often the watched folders are compared with the library in full, to "
                                  "catch anything the change notifications missed")
        self.reconcile.setValue(round(float(settings.get("watch_reconcile_s", 600.0)) / MINUTE_S))
        form.addRow("Full check every", self.reconcile)
        form.addRow(_wrapped("Write XMP sidecars in these folders too (and below them)"))
        rules = dict((settings.get("sidecars") or {}).get("folders") or {})
        self.sidecar_folders = FolderList([f for f, on in rules.items() if on], "Write XMP sidecars in",
                                          choose=choose)
        self.sidecar_folders.setObjectName("sidecarFolders")
        form.addRow(self.sidecar_folders)

    def reconcile_s(self) -> float:
        """The reconcile interval as edited, in seconds (the setting's unit); unchanged minutes keep the exact value."""
        before = float(self._settings.get("watch_reconcile_s", 600.0))
        if self.reconcile.value() == round(before / MINUTE_S):
            return before
        return float(self.reconcile.value() * MINUTE_S)

    def apply_to(self, values: dict[str, Any]) -> None:
        """Write this section's settings into ``values`` (a settings dict; changed in place)."""
        values["stack_raw_jpeg"] = self.stack_raw_jpeg.isChecked()
        values["watch_folders"] = self.watch_folders.folders()
        values["watch_polling"] = self.watch_polling.isChecked()
        values["watch_reconcile_s"] = self.reconcile_s()
        sidecars = dict(values.get("sidecars") or {})
        rules = {f: on for f, on in (sidecars.get("folders") or {}).items() if not on}  # opt-outs are kept
        rules.update({f: True for f in self.sidecar_folders.folders()})
        sidecars["folders"] = rules
        values["sidecars"] = sidecars
