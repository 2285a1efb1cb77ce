"""Modal message boxes show their text as plain text (``mediaapp.ui.messages``): a folder, URL or exception text
holding markup such as ``<b>x&y</b>`` is shown as typed, not as bold "x&y". Also the suite's guard
(``tests/conftest.py``): a modal box no test expected fails the test instead of blocking it forever."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import Qt as GuiQt  # QtGui's Qt has mightBeRichText
from PySide6.QtWidgets import QApplication, QLabel, QMessageBox, QWidget
from support import REPLAY_PHOTOS, replay_settings

from mediaapp.settings import DEFAULTS, save_settings
from mediaapp.ui import messages

MARKUP = "<b>x&y</b>"
Button = QMessageBox.StandardButton


class Shown:
    """Replaces ``QMessageBox.exec``: records what each box would show, then answers ``answer``."""

    def __init__(self, answer: QMessageBox.StandardButton):
        self.answer = answer
        self.boxes: list[dict[str, object]] = []

    def __call__(self, box: QMessageBox) -> int:
        label = box.findChild(QLabel, "qt_msgbox_label")  # the label Qt shows the text in
        self.boxes.append({"title": box.windowTitle(), "text": box.text(), "format": box.textFormat(),
                           "label_format": label.textFormat() if label is not None else None,
                           "icon": box.icon(), "buttons": box.standardButtons(),
                           "default": box.standardButton(box.defaultButton()) if box.defaultButton() else None,
                           "parent": box.parent()})
        return int(self.answer.value)


def test_plain_message_shows_markup_literally(qtbot):
    parent = QWidget()
    qtbot.addWidget(parent)
    text = f"Move 2 files to /photos/{MARKUP}?\n\nThey are moved, not deleted."
    assert GuiQt.mightBeRichText(text)                   # Qt's AutoText would render it as rich text
    box = messages.plain_message(parent, QMessageBox.Icon.Question, "Move", text, Button.Yes | Button.Cancel,
                                 Button.Cancel)
    assert box.textFormat() == Qt.TextFormat.PlainText and box.text() == text
    assert box.findChild(QLabel, "qt_msgbox_label").textFormat() == Qt.TextFormat.PlainText
    assert box.standardButtons() == Button.Yes | Button.Cancel
    assert box.defaultButton() is box.button(Button.Cancel) and box.parent() is parent


def test_ask_and_warn_show_a_plain_text_box_and_answer_the_button_pressed(qtbot, monkeypatch):
    parent = QWidget()
    qtbot.addWidget(parent)
    shown = Shown(Button.No)
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown(box))
    answer = messages.ask(parent, "Forget <i>all</i>", f"Forget {MARKUP}?")
    assert answer == Button.No and isinstance(answer, QMessageBox.StandardButton)
    shown.answer = Button.Yes
    assert messages.warn(parent, "Not saved", f"cannot write {MARKUP}") is None
    question, warning = shown.boxes
    assert question == {"title": "Forget <i>all</i>", "text": f"Forget {MARKUP}?",
                        "format": Qt.TextFormat.PlainText, "label_format": Qt.TextFormat.PlainText,
                        "icon": QMessageBox.Icon.Question, "buttons": Button.Yes | Button.No,
                        "default": Button.No, "parent": parent}
    assert warning["text"] == f"cannot write {MARKUP}" and warning["format"] == Qt.TextFormat.PlainText
    assert warning["icon"] == QMessageBox.Icon.Warning and warning["buttons"] == Button.Ok


def test_the_settings_dialog_names_an_index_url_with_markup_literally(qtbot, monkeypatch):
    from mediaapp.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(dict(DEFAULTS))
    qtbot.addWidget(dialog)
    dialog.backend.setCurrentIndex(dialog.backend.findData("opensearch"))
    url = f"https://search.example:9200/{MARKUP}"
    dialog.url.setText(url)
    shown = Shown(Button.No)
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown(box))
    assert dialog.ask_reindex() == "no"
    shown.answer = Button.Cancel
    assert dialog.ask_reindex() == "cancel"
    box = shown.boxes[0]
    assert box["title"] == "Fill the new search index?" and box["format"] == Qt.TextFormat.PlainText
    assert f"The library will search the OpenSearch index at {url}. Fill it" in str(box["text"])
    assert box["buttons"] == Button.Yes | Button.No | Button.Cancel and box["default"] == Button.Yes
    assert box["parent"] is dialog


def test_sidecars_not_written_in_a_folder_with_markup_are_listed_literally(testdata, tmp_path, qtbot, monkeypatch):
    """File ▸ Write XMP sidecars… with one sidecar's name taken by a folder, in a folder named ``<b>x&y</b>``:
    the warning listing it goes through ``messages.warn`` and its box shows the path as typed."""
    from mediaapp.library import Library
    from mediaapp.ui.background import BackgroundRunner
    from mediaapp.ui.sidecar_flow import SidecarFlow

    photos = tmp_path / MARKUP                       # "<b>x&y<" holding "b>"
    photos.mkdir(parents=True)
    (photos / "car.jpg").write_bytes((testdata / REPLAY_PHOTOS[0]).read_bytes())
    root = tmp_path / "lib"
    root.mkdir()
    save_settings(root, {**replay_settings(testdata), "apis": ["DetectLabels"]})   # sidecars off: asked first
    library = Library(root)
    window = QWidget()
    qtbot.addWidget(window)
    runner = BackgroundRunner(parent=window)
    flow = SidecarFlow(runner, window)
    warned: list[tuple[str, str]] = []
    real_warn = messages.warn
    monkeypatch.setattr(messages, "warn", lambda parent, title, text: warned.append((title, text))
                        or real_warn(parent, title, text))
    shown = Shown(Button.Yes)                        # "Turn XMP sidecars on?": Yes; the warning: OK
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown(box))
    try:
        library.import_paths([photos])
        (photos / "car.jpg.xmp").mkdir()             # its sidecar's name is taken
        with qtbot.waitSignal(flow.finished, timeout=30000):
            flow.write(library)
        qtbot.waitUntil(lambda: bool(warned), timeout=30000)
    finally:
        runner.shutdown()
        library.close()
    [(title, text)] = warned
    assert title == "Some XMP sidecars were not written" and f"{photos / 'car.jpg'}" in text
    question, warning = shown.boxes
    assert question["title"] == "Write XMP sidecars" and question["format"] == Qt.TextFormat.PlainText
    assert warning["title"] == title and warning["text"] == text
    assert warning["format"] == Qt.TextFormat.PlainText and warning["icon"] == QMessageBox.Icon.Warning


def test_an_unexpected_modal_box_fails_the_test_instead_of_blocking_it(qtbot):
    """The conftest guard: ``exec()`` and the static functions raise, naming the box, instead of waiting."""
    parent = QWidget()
    qtbot.addWidget(parent)
    box = QMessageBox(QMessageBox.Icon.Warning, "Guarded title", "nobody answers this", Button.Ok, parent)
    closer = QTimer()                                # without the guard, close the box after 2 s rather than hang

    def close_modal() -> None:
        modal = QApplication.activeModalWidget()
        if isinstance(modal, QMessageBox):
            modal.reject()

    closer.timeout.connect(close_modal)
    closer.start(2000)
    try:
        with pytest.raises(AssertionError, match="unexpected modal message box 'Guarded title'"):
            box.exec()
        with pytest.raises(AssertionError, match=r"unexpected modal message box 'Static title': 'why'"):
            QMessageBox.warning(parent, "Static title", "why")
    finally:
        closer.stop()
