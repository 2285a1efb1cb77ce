"""An unmounted watched drive must not empty the catalog (reviewer finding on issue 12).

An unmounted drive leaves an empty (or missing) mount point: the reconcile
scan and the watcher's deletion events must then retire nothing below that
root, say so in one notice, and look again at the next reconcile. Real
inotify observers on temporary folders and a replay library, as in
``test_watch.py``.
"""

from __future__ import annotations

import os
import shutil

from support import REPLAY_PHOTOS, eventually
from watch_support import start

from mediaapp.library import Library
from mediaapp.services.watch import WatchChange


def catalogued(lib: Library, folder) -> set[str]:
    """Catalogued paths below ``folder``."""
    return set(lib.catalog.known_files(under=[str(folder)]))


def unmounted_notices(changes: list[WatchChange], root) -> list[WatchChange]:
    return [c for c in changes if c.kind == "notice" and c.path == str(root) and "looks unmounted" in c.message]


def test_an_empty_mount_point_retires_nothing_and_is_looked_at_again(library, tmp_path):
    photos = tmp_path / "photos"
    before = catalogued(library, photos)
    assert len(before) == len(REPLAY_PHOTOS)
    away = tmp_path / "drive-contents"
    shutil.move(str(photos), str(away))  # "unmounted" while nothing watched: an empty mount point is left
    photos.mkdir()
    changes: list[WatchChange] = []
    watcher = start(library, [photos], changes, reconcile_s=0)
    try:
        assert catalogued(library, photos) == before
        assert not [c for c in changes if c.kind == "removed"]
        notices = unmounted_notices(changes, photos)
        assert len(notices) == 1 and "is empty" in notices[0].message and "nothing retired" in notices[0].message
        assert watcher.reconcile_now().wait(30)  # still unmounted: still nothing retired, no second line
        assert catalogued(library, photos) == before and len(unmounted_notices(changes, photos)) == 1

        # the drive comes back without one file: the next reconcile retires exactly that one
        photos.rmdir()
        shutil.move(str(away), str(photos))
        gone = photos / os.path.basename(REPLAY_PHOTOS[0])
        os.remove(gone)
        assert watcher.wait_idle(30)
        assert watcher.reconcile_now().wait(30)
        assert eventually(lambda: catalogued(library, photos) == before - {str(gone)})
    finally:
        watcher.stop()


def test_a_missing_root_retires_nothing_and_says_so(library, tmp_path):
    photos = tmp_path / "photos"
    before = catalogued(library, photos)
    shutil.move(str(photos), str(tmp_path / "elsewhere"))
    changes: list[WatchChange] = []
    watcher = start(library, [photos], changes, reconcile_s=0)
    try:
        assert catalogued(library, photos) == before
        notices = unmounted_notices(changes, photos)
        assert len(notices) == 1 and "is missing" in notices[0].message
    finally:
        watcher.stop()


def test_a_root_that_is_no_longer_a_mount_point_retires_nothing(library, tmp_path, monkeypatch):
    photos = tmp_path / "photos"
    before = catalogued(library, photos)
    mounted = {str(photos): True}
    real_ismount = os.path.ismount
    monkeypatch.setattr(os.path, "ismount", lambda p: mounted.get(os.fspath(p), real_ismount(p)))
    changes: list[WatchChange] = []
    watcher = start(library, [photos], changes, reconcile_s=0)
    try:
        # unmounted; something wrote one stray file into the bare mount point
        mounted[str(photos)] = False
        for name in os.listdir(photos):
            os.rename(photos / name, tmp_path / name)  # moved out as an unmount would hide them
        (photos / "stray.txt").write_text("not a photo")
        assert watcher.wait_idle(30)
        assert watcher.reconcile_now().wait(30)
        assert catalogued(library, photos) == before
        notices = unmounted_notices(changes, photos)
        assert notices and "no longer a mount point" in notices[-1].message
    finally:
        watcher.stop()


def test_a_watched_root_that_disappears_keeps_its_files_in_the_catalog(library, tmp_path):
    photos = tmp_path / "photos"
    before = catalogued(library, photos)
    changes: list[WatchChange] = []
    watcher = start(library, [photos], changes, reconcile_s=0)
    try:
        os.rename(photos, tmp_path / "gone")  # the drive vanishes at once: a moved-away (deleted) event for the root
        assert watcher.wait_idle(30)
        assert catalogued(library, photos) == before
        assert not [c for c in changes if c.kind == "removed"]
        assert watcher.reconcile_now().wait(30)
        assert catalogued(library, photos) == before
        assert len(unmounted_notices(changes, photos)) == 1
    finally:
        watcher.stop()
