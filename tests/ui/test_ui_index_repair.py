"""Opening a library whose search index was damaged rebuilds it off the GUI thread, with progress, and says so."""

from __future__ import annotations

from PySide6.QtCore import Qt
from support import replay_library

from mediaapp.search.factory import INDEX_FILE
from mediaapp.ui.main_window import MainWindow


def test_a_damaged_index_is_rebuilt_while_the_library_opens(qtbot, testdata, tmp_path):
    root = replay_library(testdata, tmp_path)
    (root / INDEX_FILE).write_bytes(b"not a database" * 300)
    window = MainWindow(None)
    qtbot.addWidget(window)
    shown: list[str] = []
    window.statusBar().messageChanged.connect(shown.append)
    with qtbot.waitSignal(window.model.pageLoaded, timeout=30000):
        window.open_library(root)
    assert window.model.rowCount() == 3  # every photo found again: the index was rebuilt
    assert any(t.startswith("Rebuilding the search index from the catalog") for t in shown)
    note = window.statusBar().currentMessage()
    assert note.startswith("The search index was damaged (file is not a database)")
    assert note.endswith("it was rebuilt from the catalog (3 images).")
    assert window.model.index(0).data(Qt.ItemDataRole.DisplayRole)
    window.close()
