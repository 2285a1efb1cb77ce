"""File ▸ Watch folders for changes: a photo dropped into an imported folder shows up in the grid by itself.

The watcher's changes reach the window through a queued signal: the slot
runs on the GUI thread, and the grid refreshes once the import landed. The
choice is remembered in the library's settings.
"""

from __future__ import annotations

import shutil
import threading

from support import REPLAY_PHOTOS, replay_folder

from mediaapp.library import Library
from mediaapp.settings import load_settings, read_settings, save_settings
from mediaapp.ui.main_window import MainWindow
from mediaapp.ui.watch_status import WatchStatus

PHOTO = "1_objects/voc/VOC2007/JPEGImages/000003.jpg"


def _imported(testdata, tmp_path):
    """A replay library (DetectLabels only) that imported ``REPLAY_PHOTOS``, closed; ``(root, photos)``."""
    root, photos = replay_folder(testdata, tmp_path)
    save_settings(root, {**load_settings(root), "apis": ["DetectLabels"]})
    lib = Library(root)
    try:
        assert lib.import_paths([photos]).imported == len(REPLAY_PHOTOS)
    finally:
        lib.close()
    return root, photos


def test_watching_toggle_imports_dropped_photos_into_the_grid_and_is_remembered(qtbot, testdata, tmp_path,
                                                                               monkeypatch):
    root, photos = _imported(testdata, tmp_path)

    threads: list[bool] = []
    original = WatchStatus._on_change

    def on_change(self, change):
        threads.append(threading.current_thread() is threading.main_thread())
        original(self, change)

    monkeypatch.setattr(WatchStatus, "_on_change", on_change)
    window = MainWindow(root)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.libraryOpened, timeout=30000):
        pass
    qtbot.waitUntil(lambda: window.model.rowCount() == len(REPLAY_PHOTOS), timeout=20000)
    assert not window.watch_action.isChecked()

    window.watch_action.trigger()  # on
    assert window.watch_action.isChecked()
    qtbot.waitUntil(lambda: window.watching.watcher is not None, timeout=20000)
    assert window.watching.label.text() == "Watching 1 folder"
    qtbot.waitUntil(lambda: read_settings(root).watch_enabled, timeout=10000)

    shutil.copy(testdata / PHOTO, photos / "dropped.jpg")
    qtbot.waitUntil(lambda: window.model.rowCount() == len(REPLAY_PHOTOS) + 1, timeout=15000)
    assert threads and all(threads)  # every change was handled on the GUI thread

    window.watch_action.trigger()  # off
    qtbot.waitUntil(lambda: not read_settings(root).watch_enabled, timeout=10000)
    assert window.watching.watcher is None and not window.watching.label.isVisible()
    window.close()


def test_turning_watching_off_while_it_starts_leaves_nothing_watching(qtbot, testdata, tmp_path):
    """On, then off before the watcher's start (on a worker) came back: no watcher stays running, and a
    second "on" while a start is in flight starts no second watcher."""
    root, _photos = _imported(testdata, tmp_path)
    window = MainWindow(root)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.libraryOpened, timeout=30000):
        pass
    library = window.library
    started: list = []
    real_watcher = library.watcher
    library.watcher = lambda *args, **kwargs: started.append(real_watcher(*args, **kwargs)) or started[-1]

    window.watching.set_enabled(True)
    window.watching.set_enabled(True)   # a second "on" while the first start is in flight
    window.watching.set_enabled(False)  # off before the start came back
    qtbot.waitUntil(lambda: len(started) == 1 and not started[0].running, timeout=20000)
    qtbot.wait(300)
    assert len(started) == 1 and window.watching.watcher is None
    assert not window.watching.label.isVisible()
    qtbot.waitUntil(lambda: window.runner.idle, timeout=10000)  # every save of the choice ran
    assert not read_settings(root).watch_enabled               # the last choice is the one saved
    window.close()


def test_repeated_toggles_leave_the_library_holding_only_the_running_watcher(qtbot, testdata, tmp_path):
    """Each On/Off makes a watcher; once stopped the library forgets it (it used to keep every one until close)."""
    root, _photos = _imported(testdata, tmp_path)
    window = MainWindow(root)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.libraryOpened, timeout=30000):
        pass
    library = window.library
    for _ in range(3):
        window.watching.set_enabled(True)
        qtbot.waitUntil(lambda: window.watching.watcher is not None, timeout=20000)
        assert library.watchers == [window.watching.watcher]
        stopping = window.watching.watcher
        window.watching.set_enabled(False)
        qtbot.waitUntil(lambda w=stopping: not w.running and library.watchers == [], timeout=20000)
    never_started = library.watcher([tmp_path])
    assert library.watchers == [never_started]
    never_started.stop()
    assert library.watchers == []
    qtbot.waitUntil(lambda: window.runner.idle, timeout=10000)
    window.close()


def test_the_status_label_counts_only_the_folders_that_are_watched(qtbot, testdata, tmp_path):
    """A watched folder that does not exist is not counted as watched: "Watching 1 folder (1 not found)"."""
    root, photos = _imported(testdata, tmp_path)
    save_settings(root, {**load_settings(root), "watch_folders": [str(photos), str(tmp_path / "unplugged")],
                         "watch_enabled": True})
    window = MainWindow(root)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitUntil(lambda: window.watching.watcher is not None, timeout=30000)
    assert window.watching.label.text() == "Watching 1 folder (1 not found)"
    window.close()


def test_remembering_the_watch_choice_changes_only_that_setting(tmp_path):
    """The toggle's save keeps what others stored meanwhile (the relabel offer's ``relabel_notice``)."""
    from mediaapp.ui.watch_status import _remember

    root = tmp_path / "lib"
    lib = Library(root)
    try:
        stored = load_settings(root)
        stored["relabel_notice"] = {"gui": "efficientnet-lite0@test"}  # as RelabelService.mark_shown saves it
        save_settings(root, stored)
        _remember(lib, True)
        assert read_settings(root).watch_enabled and lib.settings.watch_enabled
        assert load_settings(root)["relabel_notice"] == {"gui": "efficientnet-lite0@test"}
    finally:
        lib.close()
