"""File ▸ Watch folders for changes: the window's folder watcher and its status-bar label.

``WatchStatus`` starts and stops the library's ``FolderWatcher``
(``Library.watcher``, ``services/watch.py``) on a worker of the window's
``BackgroundRunner``; the watcher then runs on its own thread, importing
through the library. The GUI thread never imports, hashes or walks folders.
Each change the watcher reports crosses to the GUI thread through a queued
Qt signal (the watcher's thread never touches a widget); a burst of
changes is coalesced into one ``OpChanges(library=True)`` announcement
(``ANNOUNCE_MS``), so the grid, facets and folders refresh once. The
choice is remembered in the library's settings (``watch_enabled``).

The folders watched are the library's ``watch_folders`` setting, or, when
it is empty, the top folders of what was imported (``Library.folders``).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QMainWindow

from mediaapp.core.filenames import display_path
from mediaapp.paths import top_folders
from mediaapp.ui.background import BackgroundRunner
from mediaapp.ui.operations import OpChanges, Operations

#: Milliseconds a burst of watched changes is gathered before the window refreshes once.
ANNOUNCE_MS = 700


def watched_folders(library: Any) -> list[str]:
    """The folders to watch for ``library``: ``settings.watch_folders``, else the top imported folders.

    Blocking (reads the catalog): call it on a worker.
    """
    folders = list(library.settings.watch_folders)
    return folders or top_folders([folder for folder, _count in library.folders()])


class WatchStatus(QObject):
    """The window's watcher: ``set_library`` on each opened library, ``set_enabled`` from the menu toggle.

    ``changeArrived(WatchChange)`` is emitted by the watcher's thread and
    delivered queued on the GUI thread; ``stateChanged(bool)`` tells the
    menu toggle whether watching is on. ``label`` is the status-bar text
    ("Watching 2 folders"). Messages (notices, a burst's summary) go to the
    window's status bar.
    """

    changeArrived = Signal(object)
    stateChanged = Signal(bool)

    def __init__(self, window: QMainWindow, runner: BackgroundRunner, ops: Operations):
        super().__init__(window)
        self.window = window
        self.runner = runner
        self.ops = ops
        self.library: Any = None
        self.watcher: Any = None
        #: The start in flight on a worker (a token), or None: a stop or a newer start makes it stale.
        self._starting: object | None = None
        #: The newest choice (library, on) and the lock that keeps its saves in order (they run on workers).
        self._choice: tuple[Any, bool] = (None, False)
        self._save_lock = threading.Lock()
        self.label = QLabel()
        self.label.setObjectName("watchStatus")
        self.label.hide()
        window.statusBar().addPermanentWidget(self.label)
        self._burst: Counter[str] = Counter()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(ANNOUNCE_MS)
        self._timer.timeout.connect(self._announce)
        self.changeArrived.connect(self._on_change, Qt.ConnectionType.QueuedConnection)

    # -- control (GUI thread) -----------------------------------------------------------------
    def set_library(self, library: Any) -> None:
        """Follow a newly opened ``library``: stop watching the old one, start if its settings say so."""
        self._stop()
        self.library = library
        on = bool(library is not None and library.settings.watch_enabled)
        self.stateChanged.emit(on)
        if on:
            self._start(library)

    def set_enabled(self, on: bool) -> None:
        """Turn watching on or off for the open library, and remember it (saved on a worker)."""
        library = self.library
        if library is None:
            self.stateChanged.emit(False)
            return
        if on and self.watcher is None and self._starting is None:
            self._start(library)
        elif not on:
            self._stop()
        self._choice = (library, on)

        def save(ctx: Any) -> None:  # one save at a time, each of the newest choice: the last one wins
            with self._save_lock:
                chosen, newest = self._choice
                _remember(library, newest if chosen is library else on)

        self.runner.run(save, label="save settings")

    def _start(self, library: Any) -> None:
        emit = self.changeArrived.emit  # thread-safe: the connection is queued to the GUI thread
        token = self._starting = object()

        def start(ctx: Any) -> tuple[Any, list[str]]:
            folders = watched_folders(library)
            if not folders:
                return None, []
            watcher = library.watcher(folders, emit)
            watcher.start()
            watcher.wait_ready()
            return watcher, folders

        self.label.setText("Starting to watch folders…")
        self.label.show()
        self.runner.run(start, on_success=lambda result: self._started(token, library, *result),
                        on_failure=lambda exc: self._failed(token, exc), label="watch folders")

    def _started(self, token: object, library: Any, watcher: Any, folders: list[str]) -> None:
        current = token is self._starting and library is self.library  # not stopped or replaced meanwhile
        if token is self._starting:
            self._starting = None
        if not current or watcher is None:
            if watcher is not None:
                self.runner.run(lambda ctx: watcher.stop(), label="stop watching")
            if watcher is None and current:
                self.label.hide()
                self.window.statusBar().showMessage("Nothing to watch yet: import a folder first", 10000)
                self.stateChanged.emit(False)
            return
        self.watcher = watcher
        polled = sum(1 for mode in watcher.modes.values() if mode == "polling")
        missing = sum(1 for mode in watcher.modes.values() if mode == "unwatched")  # gone or unreadable
        watched = len(folders) - missing
        text = f"Watching {watched} folder{'s' if watched != 1 else ''}"
        extras = ([f"{polled} polled"] if polled else []) + ([f"{missing} not found"] if missing else [])
        self.label.setText(text + (f" ({', '.join(extras)})" if extras else ""))
        self.label.setToolTip("\n".join(display_path(f) for f in folders))

    def _failed(self, token: object, exc: BaseException) -> None:
        if token is not self._starting:  # stopped or replaced meanwhile: nothing to report
            return
        self._starting = None
        self.label.hide()
        self.window.statusBar().showMessage(f"Cannot watch the folders: {exc}", 15000)
        self.stateChanged.emit(False)

    def _stop(self) -> None:
        watcher, self.watcher = self.watcher, None
        self._starting = None  # a start still in flight stops its watcher when it arrives
        self.label.hide()
        if watcher is not None:
            self.runner.run(lambda ctx: watcher.stop(), label="stop watching")

    # -- changes (GUI thread, queued from the watcher's thread) ---------------------------------
    def _on_change(self, change: Any) -> None:
        if change.kind == "notice":
            where = f"{display_path(change.path)}: " if change.path else ""
            self.window.statusBar().showMessage(f"Watched folders: {where}{change.message}", 15000)
            if self.watcher is not None and not self.watcher.running:
                self._stop()
                self.stateChanged.emit(False)
            return
        self._burst[change.kind] += 1
        if not self._timer.isActive():
            self._timer.start()

    def _announce(self) -> None:
        counts, self._burst = self._burst, Counter()
        if not counts:
            return
        parts = [f"{n} {kind}" for kind, n in sorted(counts.items())]
        self.window.statusBar().showMessage("Watched folders: " + ", ".join(parts), 8000)
        self.ops.announce(OpChanges(library=True))


def _remember(library: Any, on: bool) -> None:
    """Save ``watch_enabled = on`` in ``library``'s settings (worker thread).

    Only that key of the stored file changes: saving the whole session's
    settings wrote back a stale copy of keys other code saves on its own
    (``relabel_notice``, so the relabel offer came back) and this session's overrides.
    """
    from mediaapp.settings import store_settings

    library.update_settings(watch_enabled=on)
    store_settings(library.root, watch_enabled=on)
