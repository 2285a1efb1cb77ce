"""What an empty library shows instead of a blank grid, and the files a drop onto the window carries.

``EmptyLibraryPanel`` is the call to action: an Import button
(``importRequested``), the hint that folders and photos can be dropped on
the window, and, while the analysis models are not on this computer yet, a
line saying what the first import downloads once and how big it is
(``set_downloads``, from ``Library.pending_downloads``: the sizes of the
pinned model manifest). ``dropped_paths`` reads the local files and folders
of a drag's ``QMimeData``.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QMimeData, Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QStyle, QVBoxLayout, QWidget

__all__ = ["EmptyLibraryPanel", "download_text", "dropped_paths", "megabytes"]


def megabytes(size: int) -> str:
    """``size`` bytes as whole decimal megabytes, e.g. ``"145 MB"`` (as the model manifest and the CLI count)."""
    return f"{size / 1e6:.0f} MB"


def download_text(downloads: Mapping[str, int]) -> str:
    """One sentence naming what would be downloaded (description -> bytes) and the total size; "" for nothing."""
    if not downloads:
        return ""
    total = sum(downloads.values())
    return f"{' and '.join(downloads)}: {megabytes(total)}"


def dropped_paths(mime: QMimeData) -> list[str]:
    """The local files and folders a drag carries (``file://`` URLs), in order; empty when it carries none."""
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile() and url.toLocalFile()]


class EmptyLibraryPanel(QWidget):
    """The first-run call to action shown in place of the grid while the library holds no image.

    ``import_button`` emits ``importRequested``; ``drop_hint`` says that
    folders and photos can be dropped on the window; ``models_line`` (hidden
    until ``set_downloads`` names something) says what the first import
    downloads once, and its size.
    """

    importRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("emptyLibrary")
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        title = QLabel("<h2>This library is empty</h2>")
        title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout.addWidget(title)
        self.import_button = QPushButton("Import a folder…")
        self.import_button.setObjectName("emptyImport")
        self.import_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DirOpenIcon))
        self.import_button.setDefault(True)
        self.import_button.setToolTip("Choose a folder of photos to import (Ctrl+I)")
        self.import_button.clicked.connect(self.importRequested)
        layout.addWidget(self.import_button, 0, Qt.AlignmentFlag.AlignCenter)
        self.drop_hint = QLabel("…or drop folders and photos anywhere on this window.")
        self.drop_hint.setObjectName("dropHint")
        self.drop_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_hint.setWordWrap(True)
        layout.addWidget(self.drop_hint)
        self.models_line = QLabel()
        self.models_line.setObjectName("modelsLine")
        self.models_line.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.models_line.setWordWrap(True)
        self.models_line.setStyleSheet("color: palette(placeholder-text);")
        self.models_line.hide()
        layout.addWidget(self.models_line)
        layout.addStretch(3)

    def set_downloads(self, downloads: Mapping[str, int]) -> None:
        """Say what the first import downloads once (description -> bytes), or hide the line when nothing."""
        text = download_text(downloads)
        if text:
            self.models_line.setText(f"The first import downloads {text}, once, for every library on this "
                                     "computer; you are asked before it starts.")
        self.models_line.setVisible(bool(text))
