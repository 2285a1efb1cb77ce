"""Small widgets: the debounced search bar and the thumbnail grid view."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QLineEdit, QListView, QWidget

#: Milliseconds the search bar waits after the last keystroke before searching.
SEARCH_DEBOUNCE_MS = 300
#: Grid cells laid out per event-loop turn (``QListView.LayoutMode.Batched``).
GRID_LAYOUT_BATCH = 2000


class SearchBar(QLineEdit):
    """A line edit that emits ``searchChanged(text)`` once typing pauses.

    The signal fires ``debounce_ms`` milliseconds after the last edit, at
    once on Enter, and never twice in a row for the same (stripped) text.
    Escape clears the field.
    """

    searchChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None, debounce_ms: int = SEARCH_DEBOUNCE_MS):
        super().__init__(parent)
        self.setPlaceholderText("Search text, labels, people, file names…  (Ctrl+F)")
        self.setClearButtonEnabled(True)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(debounce_ms)
        self._timer.timeout.connect(self._emit)
        self._last = ""
        self.textEdited.connect(lambda _text: self._timer.start())
        self.textChanged.connect(self._on_text_changed)
        self.returnPressed.connect(self._emit)

    def _on_text_changed(self, text: str) -> None:
        if not text:  # the clear button or setText(""): no need to wait
            self._emit()

    def _emit(self) -> None:
        self._timer.stop()
        text = self.text().strip()
        if text != self._last:
            self._last = text
            self.searchChanged.emit(text)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Escape clears the search; other keys edit as usual."""
        if event.key() == Qt.Key.Key_Escape and self.text():
            self.clear()
            return
        super().keyPressEvent(event)


class AssetGridView(QListView):
    """The thumbnail grid: icon-mode list view with keyboard navigation.

    Arrows, PageUp/PageDown, Home/End move the current cell (Qt's own
    navigation); Enter/Return emits ``openRequested(index)`` for the current
    cell, as does a double click.
    """

    openRequested = Signal(QModelIndex)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(True)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        # the model has a row per hit (100,000s): lay the cells out GRID_LAYOUT_BATCH at a time between
        # events, so the first screen shows at once instead of after laying out every cell
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(GRID_LAYOUT_BATCH)
        self.setSpacing(4)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMouseTracking(True)
        self.setIconSize(QSize(180, 180))
        self.doubleClicked.connect(self.openRequested)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Enter/Return opens the current cell; everything else is Qt's navigation."""
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.currentIndex().isValid():
            self.openRequested.emit(self.currentIndex())
            event.accept()
            return
        super().keyPressEvent(event)
