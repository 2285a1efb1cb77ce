"""Help ▸ About and the window's centre message show a library folder literally: a name with markup is escaped in
the box's rich text, and the message is plain text."""

from __future__ import annotations

from PySide6.QtGui import Qt, QTextDocument  # QtGui's Qt has mightBeRichText
from PySide6.QtWidgets import QMessageBox

from mediaapp.ui.main_window import MainWindow
from mediaapp.ui.window_actions import about_html


def _shown(text: str) -> str:
    """What a rich-text label shows for ``text`` (Qt's HTML subset, rendered to plain text)."""
    document = QTextDocument()
    document.setHtml(text)
    return document.toPlainText()


def test_about_shows_a_library_folder_with_markup_in_its_name_literally(qtbot, tmp_path, monkeypatch):
    root = tmp_path / "<b>x&y</b>"
    window = MainWindow(None)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.libraryOpened, timeout=30000):
        window.open_library(root)                  # a real (new, empty) library in that folder
    boxes: list[tuple[object, str, str]] = []
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, text: boxes.append((parent, title, text)))
    window.about_action.trigger()                  # Help ▸ About

    assert len(boxes) == 1
    parent, title, text = boxes[0]
    assert parent is window and title == "About Media Library"
    assert Qt.mightBeRichText(text)                # the box renders it as rich text...
    shown = _shown(text)
    assert f"Library: {root}" in shown             # ...and the folder's name shows as typed
    assert "&lt;b&gt;x&amp;y&lt;/b&gt;" in text
    assert shown.startswith("Media Library\n")     # the app's own markup still applies (bold title, breaks)
    window.close()


def test_about_without_a_library_says_none():
    assert "Library: none" in _shown(about_html(None))


def test_a_library_that_cannot_open_is_named_literally_in_the_centre_message(qtbot, tmp_path):
    root = tmp_path / "<b>x&y</b>"
    root.mkdir(parents=True)                                          # "<b>x&y<" holding "b>"
    (root / "catalog.sqlite").write_bytes(b"not a database, " * 64)   # the catalog cannot be opened
    window = MainWindow(None)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.libraryFailed, timeout=30000) as failed:
        window.open_library(root)
    assert str(root) in failed.args[0]
    assert window.hint.textFormat() == Qt.TextFormat.PlainText
    assert f"Cannot open the library {root}" in window.hint.text()      # shown as typed, not as bold "x&y"
    window.close()
