"""Watched folders (issue 12): files dropped, moved and deleted in a watched folder reach the library by themselves.

Real inotify (and polling) observers on temporary folders, a replay library
(real recorded Rekognition answers) and real photos from the shared test
data. Each check polls the library's search with a deadline: a behaviour
("searchable within 10 seconds, with no import call"), not a timing benchmark
(``benchmarks/watch_bench.py`` measures).
"""

from __future__ import annotations

import errno
import os
import shutil
import time
from pathlib import Path

import pytest
import replay_engine
from support import REPLAY_PHOTOS, REPLAYED_APIS, eventually, replay_folder
from watch_support import start

from mediaapp.core.types import Query
from mediaapp.library import Library
from mediaapp.services.watch import fs_type, is_temp_name, needs_polling

NEW_PHOTO = "1_objects/voc/VOC2007/JPEGImages/000003.jpg"
OTHER_PHOTO = "1_objects/voc/VOC2012/JPEGImages/2007_000032.jpg"


def in_folder(lib: Library, folder: Path, label: str = "Car") -> set[str]:
    """Paths of the assets searchable by ``label`` whose path lies in ``folder``."""
    page = lib.search(Query(labels=(label,), folder=str(folder), limit=None))
    found = lib.assets(h.sha256 for h in page.hits)
    return {p for a in found.values() for p in a.paths if p.startswith(str(folder) + os.sep)}


@pytest.fixture
def changes():
    """The ``WatchChange``s a watcher reported (its ``on_change``)."""
    return []


def test_a_photo_copied_into_a_watched_folder_is_searchable_without_an_import_call(library, testdata, tmp_path,
                                                                                   changes):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    watcher = start(library, [inbox], changes)
    assert watcher.modes == {str(inbox): "inotify"}
    replay_engine.CALLS.clear()
    shutil.copy(testdata / NEW_PHOTO, inbox / "dropped.jpg")
    assert eventually(lambda: in_folder(library, inbox) == {str(inbox / "dropped.jpg")})
    assert replay_engine.CALLS  # analysed by the library's engine
    assert [c.kind for c in changes if c.path == str(inbox / "dropped.jpg")] == ["added"]


def test_a_file_written_in_many_bursts_is_imported_once_when_it_holds_still(library, testdata, tmp_path, changes):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    start(library, [inbox], changes, settle_s=0.5)
    data = (testdata / NEW_PHOTO).read_bytes()
    with open(inbox / "slow.jpg", "wb") as fh:  # a slow copy: a partial JPEG must not be imported
        for i in range(0, len(data), 4096):
            fh.write(data[i:i + 4096])
            fh.flush()
            time.sleep(0.02)
    assert eventually(lambda: in_folder(library, inbox) == {str(inbox / "slow.jpg")})
    time.sleep(1.0)
    assert [c.kind for c in changes if c.path == str(inbox / "slow.jpg")] == ["added"]
    assert not library.errors()


def test_a_moved_file_keeps_its_analyses_and_a_deleted_one_leaves_search(library, tmp_path, changes):
    photos = tmp_path / "photos"
    (photos / "sub").mkdir()
    start(library, [photos], changes)
    moved_from, moved_to = photos / Path(REPLAY_PHOTOS[0]).name, photos / "sub" / "renamed.jpg"
    sha = library.catalog.sha_for_path(str(moved_from))
    assert sha is not None
    replay_engine.CALLS.clear()
    os.rename(moved_from, moved_to)
    assert eventually(lambda: library.catalog.sha_for_path(str(moved_to)) == sha)
    assert library.catalog.sha_for_path(str(moved_from)) is None
    assert eventually(lambda: str(moved_to) in in_folder(library, photos / "sub"))
    assert library.detections([sha])[sha]  # the stored analyses are kept...
    assert replay_engine.CALLS == []       # ...and no engine was asked again
    # the watcher reports a change after applying it: under load the report may come a little later
    assert eventually(lambda: any(c.kind == "moved" and c.dest == str(moved_to) for c in changes))

    deleted = photos / Path(REPLAY_PHOTOS[1]).name
    os.remove(deleted)
    assert eventually(lambda: str(deleted) not in in_folder(library, photos))
    with pytest.raises(KeyError):
        library.show(deleted)
    assert eventually(lambda: any(c.kind == "removed" and c.path == str(deleted) for c in changes))

    # a whole folder moved within the watched tree keeps its files' analyses too
    os.rename(photos / "sub", photos / "album")
    assert eventually(lambda: library.catalog.sha_for_path(str(photos / "album" / "renamed.jpg")) == sha)
    assert replay_engine.CALLS == []


def test_forced_polling_imports_and_retires(library, testdata, tmp_path, changes):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    watcher = start(library, [inbox], changes, force_polling=True, poll_interval_s=0.5)
    assert watcher.modes == {str(inbox): "polling"}
    assert any(c.kind == "notice" and "polling" in c.message for c in changes)
    shutil.copy(testdata / NEW_PHOTO, inbox / "polled.jpg")
    assert eventually(lambda: in_folder(library, inbox) == {str(inbox / "polled.jpg")})
    os.remove(inbox / "polled.jpg")
    assert eventually(lambda: in_folder(library, inbox) == set())


def test_own_writes_hidden_and_partial_files_and_the_library_folder_are_ignored(library, testdata, tmp_path,
                                                                               changes):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    own = inbox / "written-by-us.jpg"
    start(library, [inbox, library.root], changes, ignore=lambda path: path == own)
    shutil.copy(testdata / NEW_PHOTO, own)
    shutil.copy(testdata / NEW_PHOTO, inbox / ".hidden.jpg")
    shutil.copy(testdata / NEW_PHOTO, inbox / "download.jpg.part")
    shutil.copy(testdata / NEW_PHOTO, library.root / "thumbnails" / "not-a-library-photo.jpg")
    shutil.copy(testdata / OTHER_PHOTO, inbox / "theirs.jpg")
    assert eventually(lambda: library.catalog.sha_for_path(str(inbox / "theirs.jpg")) is not None)
    time.sleep(1.0)
    known = library.catalog.known_files()
    assert not [p for p in known if p.startswith(str(library.root))]
    assert [p for p in known if p.startswith(str(inbox))] == [str(inbox / "theirs.jpg")]
    assert {c.path for c in changes if c.kind != "notice"} == {str(inbox / "theirs.jpg")}


def test_an_unreadable_subfolder_gives_one_message_and_the_rest_is_watched(library, testdata, tmp_path, changes,
                                                                          monkeypatch):
    inbox = tmp_path / "inbox"
    locked = inbox / "locked"
    locked.mkdir(parents=True)
    shutil.copy(testdata / OTHER_PHOTO, locked / "inside.jpg")
    if os.geteuid() == 0:  # root reads a mode-000 folder anyway: refuse the listing as the kernel would
        real_scandir = os.scandir

        def scandir(path="."):
            if os.fspath(path) in (str(locked), os.fsencode(locked)):
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(path))
            return real_scandir(path)

        monkeypatch.setattr(os, "scandir", scandir)
    else:
        locked.chmod(0)
    try:
        watcher = start(library, [inbox], changes, reconcile_s=0.5)
        shutil.copy(testdata / NEW_PHOTO, inbox / "visible.jpg")
        assert eventually(lambda: in_folder(library, inbox) == {str(inbox / "visible.jpg")})
        time.sleep(1.2)  # a reconcile or two ran meanwhile
        notices = [c for c in changes if c.kind == "notice"]
        assert [c.path for c in notices] == [str(locked)]
        assert "cannot be read" in notices[0].message and "the rest is" in notices[0].message
        assert watcher.modes == {str(inbox): "inotify"}
    finally:
        locked.chmod(0o755)


def test_the_inotify_watch_limit_falls_back_to_polling_with_a_clear_message(library, testdata, tmp_path, changes,
                                                                            monkeypatch):
    from watchdog.observers.inotify import InotifyObserver

    def refuse(*args, **kwargs):
        raise OSError(errno.ENOSPC, "inotify watch limit reached")

    monkeypatch.setattr(InotifyObserver, "schedule", refuse)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    watcher = start(library, [inbox], changes, poll_interval_s=0.5)
    assert watcher.modes == {str(inbox): "polling"}
    notices = [c.message for c in changes if c.kind == "notice"]
    assert len(notices) == 1 and "max_user_watches" in notices[0] and "polling" in notices[0]
    shutil.copy(testdata / NEW_PHOTO, inbox / "dropped.jpg")
    assert eventually(lambda: in_folder(library, inbox) == {str(inbox / "dropped.jpg")})


def test_the_start_up_reconcile_catches_what_changed_while_nothing_watched(library, testdata, tmp_path, changes):
    photos = tmp_path / "photos"
    gone = photos / Path(REPLAY_PHOTOS[2]).name
    os.remove(gone)
    shutil.copy(testdata / NEW_PHOTO, photos / "while-away.jpg")
    start(library, [photos], changes, reconcile_at_start=True)
    assert str(photos / "while-away.jpg") in in_folder(library, photos)
    assert str(gone) not in in_folder(library, photos)
    kinds = {(c.kind, c.path) for c in changes}
    assert {("added", str(photos / "while-away.jpg")), ("removed", str(gone))} <= kinds


def test_network_shares_are_polled(tmp_path):
    table = tmp_path / "mounts"
    table.write_text("/dev/vda / ext4 rw 0 0\n"
                     "server:/export /mnt/nfs\\040share nfs4 rw 0 0\n"
                     "//nas/photos /mnt/smb cifs rw 0 0\n"
                     "me@host:/ /mnt/ssh fuse.sshfs rw 0 0\n"
                     "/dev/sdb1 /mnt/usb fuseblk rw 0 0\n")
    assert fs_type("/mnt/nfs share/2024", str(table)) == "nfs4"
    assert fs_type("/mnt/nfs", str(table)) == "ext4"  # not below "/mnt/nfs share"
    assert [needs_polling(fs_type(p, str(table))) for p in ("/mnt/nfs share/a", "/mnt/smb/b", "/mnt/ssh/c",
                                                            "/mnt/usb/d", "/home/e")] == [True, True, True,
                                                                                           False, False]


def test_temporary_names():
    assert [is_temp_name(n) for n in (".~tmp", "IMG_1.jpg.part", ".IMG_1.jpg.swp", "x.crdownload", "notes.txt~",
                                      "IMG_1.jpg", "raw.CR2")] == [True] * 5 + [False] * 2


def test_the_sidecar_writers_own_writes_do_not_trigger_the_watcher(testdata, tmp_path, changes):
    root, photos = replay_folder(testdata, tmp_path)
    lib = Library(root, settings={"apis": REPLAYED_APIS, "sidecars": {"enabled": True, "min_confidence": 0}})
    try:
        assert lib.import_paths([photos]).imported == len(REPLAY_PHOTOS)
        start(lib, [photos], changes)  # ignore: the library's own sidecar writer (``is_own_write``)
        dropped = photos / "dropped.jpg"
        shutil.copy(testdata / NEW_PHOTO, dropped)
        sidecar = photos / "dropped.jpg.xmp"
        assert eventually(lambda: sidecar.exists())  # written after the watched import, as after any import
        time.sleep(1.5)  # the sidecar's events settled meanwhile
        assert [c.kind for c in changes if c.kind != "notice"] == ["added"]
        # a sidecar another tool changes is ours no longer: its image is read again
        with open(sidecar, "a", encoding="utf-8") as fh:
            fh.write("\n")
        assert eventually(lambda: [c.kind for c in changes if c.path == str(dropped)] == ["added", "changed"])
    finally:
        lib.close()
