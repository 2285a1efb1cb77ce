"""The grid's stored thumbnails: one that does not decode is made again off the GUI thread, or the cell says why.

Qt's JPEG reader shows a truncated JPEG as a picture grey below the cut, so
without a check a thumbnail an older version left truncated would be shown
that way for ever. The check and the rebuild run on the loader's worker
threads; the GUI thread reads no file.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import threading
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from mediaapp import fsio
from mediaapp.ingest import thumbnails
from mediaapp.ui.asset_list import AssetListModel, Roles

PHOTO = "1_objects/voc/VOC2007/JPEGImages/000004.jpg"  # seven cars, 500x406


@pytest.fixture
def model(runner):
    model = AssetListModel(runner)
    yield model
    model.loader.cancel_all()
    model.loader.pool.waitForDone(10000)


@pytest.fixture
def library(testdata, tmp_path):
    """A library holding one real photo (no analysis), its stored thumbnail cut to 8 KiB."""
    from mediaapp.library import Library

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy2(testdata / PHOTO, photos / "cars.jpg")
    lib = Library(tmp_path / "lib", settings={"engines": [], "workers": 1})
    assert lib.import_paths([photos]).imported == 1
    yield lib
    lib.close()


def stored_thumbnail(library) -> Path:
    (asset,) = library.assets(library.catalog.all_sha256s()).values()
    path = Path(asset.thumbnail)
    return path if path.is_absolute() else Path(library.root) / path


def truncate(path: Path, size: int = 8192) -> None:
    path.write_bytes(path.read_bytes()[:size])


def jpeg_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as img:
        img.load()  # raises for a truncated JPEG
        return img.size


def show_first_row(qtbot, model, library):
    with qtbot.waitSignal(model.pageLoaded, timeout=20000):
        model.set_library(library)
    index = model.index(0)
    index.data(Roles.THUMBNAIL)  # asking queues the load
    qtbot.waitUntil(lambda: index.data(Roles.THUMBNAIL_READY) or index.data(Roles.THUMBNAIL_FAILED), timeout=20000)
    return index


def test_a_truncated_thumbnail_is_rebuilt_off_the_gui_thread(qtbot, model, library, monkeypatch):
    thumb = stored_thumbnail(library)
    size = jpeg_size(thumb)
    truncate(thumb)
    threads = []
    real = thumbnails.ensure_thumbnail

    def spy(*args, **kwargs):
        threads.append(threading.current_thread())
        return real(*args, **kwargs)

    monkeypatch.setattr(thumbnails, "ensure_thumbnail", spy)
    index = show_first_row(qtbot, model, library)
    assert index.data(Roles.THUMBNAIL_READY) and not index.data(Roles.THUMBNAIL_FAILED)
    assert jpeg_size(thumb) == size  # whole again, on disk
    assert threads and threading.main_thread() not in threads
    pixmap = index.data(Roles.THUMBNAIL)
    assert abs(pixmap.width() / pixmap.height() - 500 / 406) < 0.03
    assert index.data(Qt.ItemDataRole.ToolTipRole) == str(library.root.parent / "photos" / "cars.jpg")


def test_a_thumbnail_that_cannot_be_rebuilt_fails_with_the_reason(qtbot, model, library):
    thumb = stored_thumbnail(library)
    truncate(thumb)
    original = library.root.parent / "photos" / "cars.jpg"
    original.unlink()
    index = show_first_row(qtbot, model, library)
    assert index.data(Roles.THUMBNAIL_FAILED)  # not the truncated picture, grey below the cut
    tip = index.data(Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith(str(original)) and "the stored thumbnail does not decode" in tip
    assert "cannot be read" in tip


class _FullDisk(io.FileIO):
    def write(self, data) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fileno(self) -> int:
        raise io.UnsupportedOperation("fileno")


def test_a_full_disk_during_the_rebuild_says_disk_full(qtbot, model, library, monkeypatch):
    thumb = stored_thumbnail(library)
    truncate(thumb)
    real = os.fdopen
    monkeypatch.setattr(fsio.os, "fdopen",
                        lambda fd, mode="r", *a, **k: _FullDisk(fd, "wb") if "w" in mode else real(fd, mode, *a, **k))
    index = show_first_row(qtbot, model, library)
    # the original still shows (decoded on the loader's thread), and the cell says why the thumbnail is not fixed
    assert index.data(Roles.THUMBNAIL_READY)
    tip = index.data(Qt.ItemDataRole.ToolTipRole)
    assert "disk full: the thumbnail " in tip and "free some space" in tip
    assert thumb.stat().st_size == 8192  # left as it was
