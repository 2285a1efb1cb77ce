"""Helpers shared by the watched-folder tests in ``tests/watch``."""

from __future__ import annotations

from pathlib import Path

from mediaapp.library import Library
from mediaapp.services.watch import FolderWatcher, WatchChange


def start(lib: Library, paths: list[Path], changes: list[WatchChange], **options) -> FolderWatcher:
    """A started watcher of ``paths`` reporting into ``changes``, whose start-up reconcile is done.

    ``options`` go to ``Library.watcher``; ``settle_s`` defaults to 0.3 s so tests do not wait long.
    Asserts the observer is ready within 30 s and idle within 60 s.
    """
    options.setdefault("settle_s", 0.3)
    watcher = lib.watcher(paths, changes.append, **options)
    watcher.start()
    assert watcher.wait_ready(30)
    assert watcher.wait_idle(60)  # the start-up reconcile is done
    return watcher
