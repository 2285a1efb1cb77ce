"""The People panel's questions: which group to merge into, and whether to take faces from another person.

``MergeDialog`` starts with nothing chosen and its Merge button disabled, so
Enter (or a stray click on OK) merges nobody; ``confirm_reassignment`` asks
before an edit names faces that are already someone else's
(``mediaapp.services.people_model.ReassignmentNeeded``), No by default.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QSortFilterProxyModel, Qt
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QListView,
    QMessageBox,
    QVBoxLayout,
    QWidget,
)

from mediaapp.ui import messages

__all__ = ["KEY_ROLE", "MergeDialog", "confirm_reassignment"]

#: Item data role of the merge choices holding the group key (``person:<id>`` / ``group:<id>``).
KEY_ROLE = Qt.ItemDataRole.UserRole + 1


class MergeDialog(QDialog):
    """Choose the group ``source_title`` is the same person as, among ``choices`` ((group key, title) pairs).

    No choice is preselected and the Merge button stays disabled until the
    user selects one, so pressing Enter right away merges nothing. A filter
    box narrows the list by title (case-insensitive). A double-click on a
    choice accepts it. ``chosen_key()`` gives the key picked, or None.
    """

    def __init__(self, source_title: str, choices: Sequence[tuple[str, str]], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Merge groups")
        self.model = QStandardItemModel(self)
        for key, title in choices:
            item = QStandardItem(title)
            item.setData(key, KEY_ROLE)
            item.setEditable(False)
            self.model.appendRow(item)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter groups")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.view = QListView()
        self.view.setObjectName("mergeTargets")
        self.view.setModel(self.proxy)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.selectionModel().selectionChanged.connect(lambda *_: self._update_ok())
        self.view.doubleClicked.connect(lambda _index: self._accept_if_chosen())
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Merge")
        self.buttons.accepted.connect(self._accept_if_chosen)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"{source_title} is the same person as:"))
        layout.addWidget(self.filter)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.buttons)
        self.filter.setFocus()
        self._update_ok()

    def chosen_key(self) -> str | None:
        """The group key of the selected choice, or None when nothing is selected."""
        rows = self.view.selectionModel().selectedIndexes()
        return rows[0].data(KEY_ROLE) if rows else None

    def choose(self, key: str) -> bool:
        """Select the choice with group key ``key`` (as a click would); False when it is not listed (filtered out)."""
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if index.data(KEY_ROLE) == key:
                self.view.setCurrentIndex(index)  # SingleSelection: current and selected
                return True
        return False

    def _update_ok(self) -> None:
        self.ok_button.setEnabled(self.chosen_key() is not None)

    def _accept_if_chosen(self) -> None:
        if self.chosen_key() is not None:
            self.accept()


def confirm_reassignment(parent: QWidget | None, description: str) -> bool:
    """Ask whether faces named as another person may be named anew (``description``: whose and how many).

    Modal; No is the default button. True for Yes.
    """
    answer = messages.ask(
        parent, "Re-assign faces",
        f"{description[:1].upper()}{description[1:]}.\n\nThose faces are already named as someone else. "
        "Re-assign them?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
