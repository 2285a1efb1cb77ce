"""Thumbnails that do not decode are made again; a full disk is reported as "disk full".

An older version could leave a truncated thumbnail under its final name (the
writer was not atomic then). Such a file must not be kept forever: the import
path (``describe``) and ``make_thumbnail`` check that an existing thumbnail
decodes (a ~320 px JPEG: cheap) and rebuild it when it does not, while a good
thumbnail is kept without decoding the original.
"""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import pytest
from PIL import Image

from mediaapp import fsio
from mediaapp.ingest import thumbnails
from mediaapp.ingest.hashing import sha256_file
from mediaapp.ingest.ingest_worker import process_file
from mediaapp.ingest.thumbnails import make_thumbnail, thumbnail_path

PHOTO = "1_objects/voc/VOC2007/JPEGImages/000004.jpg"  # seven cars, 500x406
TRUNCATED = 8192  # bytes of the thumbnail an interrupted older writer left


def _decodes(path: str | Path) -> tuple[int, int]:
    """The size of a JPEG that decodes to its end (Pillow raises for a truncated one)."""
    with Image.open(path) as img:
        assert img.format == "JPEG"
        img.load()
        return img.size


def _truncate(path: str | Path, size: int = TRUNCATED) -> None:
    data = Path(path).read_bytes()
    assert len(data) > size
    Path(path).write_bytes(data[:size])
    with pytest.raises(OSError, match="truncated"):
        _decodes(path)


@pytest.fixture
def photo(testdata) -> Path:
    return testdata / PHOTO


def test_make_thumbnail_rebuilds_a_truncated_thumbnail(photo, tmp_path):
    sha = sha256_file(photo)
    target = make_thumbnail(photo, tmp_path, sha)
    size = _decodes(target)
    _truncate(target)
    assert make_thumbnail(photo, tmp_path, sha) == target
    assert _decodes(target) == size == (320, 260)


def test_import_rebuilds_a_truncated_thumbnail(photo, tmp_path):
    first = process_file(str(photo), str(tmp_path))
    assert first.ok
    _truncate(first.thumbnail)
    again = process_file(str(photo), str(tmp_path))
    assert again.ok and again.thumbnail == first.thumbnail
    assert _decodes(again.thumbnail) == (320, 260)


def test_a_thumbnail_that_is_not_a_jpeg_is_rebuilt(photo, tmp_path):
    sha = sha256_file(photo)
    target = Path(thumbnail_path(tmp_path, sha))
    target.parent.mkdir(parents=True)
    Image.new("RGB", (320, 260), "white").save(target, "PNG")  # a picture, but not what a thumbnail is
    assert not thumbnails.thumbnail_decodes(target)
    make_thumbnail(photo, tmp_path, sha)
    assert _decodes(target) == (320, 260)


def test_a_good_thumbnail_is_kept_without_decoding_the_original(photo, tmp_path, monkeypatch):
    sha = sha256_file(photo)
    target = make_thumbnail(photo, tmp_path, sha)
    before = os.stat(target)

    def no_decoding(*args, **kwargs):
        raise AssertionError("the original was decoded")

    monkeypatch.setattr(thumbnails, "open_rgb", no_decoding)
    monkeypatch.setattr("mediaapp.ingest.media.load_rgb", no_decoding)
    assert make_thumbnail(photo, tmp_path, sha) == target
    assert process_file(str(photo), str(tmp_path)).ok
    after = os.stat(target)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)  # not rewritten


class _FullDisk(io.FileIO):
    """A file whose every write fails as on a full disk.

    It offers no ``fileno()``, so Pillow's encoder writes through ``write``
    (with a descriptor it writes from C, past any Python-level patch).
    """

    def write(self, data) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fileno(self) -> int:
        raise io.UnsupportedOperation("fileno")


def _fill_disk(monkeypatch, where: str) -> None:
    """Make ``mediaapp.fsio.atomic_writer`` fail with ENOSPC at its ``write`` calls or at its ``fsync``."""
    if where == "write":
        real = os.fdopen

        def fdopen(fd, mode="r", *args, **kwargs):
            return _FullDisk(fd, "wb") if "w" in mode else real(fd, mode, *args, **kwargs)

        monkeypatch.setattr(fsio.os, "fdopen", fdopen)
    else:  # file systems with delayed allocation report a full disk when the data is flushed
        def fsync(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(fsio.os, "fsync", fsync)


@pytest.fixture(params=["write", "fsync"])
def full_disk(request, monkeypatch):
    """Every file ``mediaapp.fsio.atomic_writer`` writes fails with ENOSPC (at a write, or at the fsync)."""
    _fill_disk(monkeypatch, request.param)


def test_a_full_disk_is_a_thumbnail_error_saying_disk_full(photo, tmp_path, full_disk):
    result = process_file(str(photo), str(tmp_path))
    assert result.error_stage == "thumbnail"
    assert result.error.startswith("disk full: ") and "free some space" in result.error, result.error
    assert (result.width, result.height) == (500, 406)  # what was learned before stays
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []  # no temporary file, no truncated thumbnail


def test_ensure_thumbnail_rebuilds_or_says_why_not(photo, tmp_path, monkeypatch):
    sha = sha256_file(photo)
    target = make_thumbnail(photo, tmp_path, sha)
    assert thumbnails.ensure_thumbnail(target, photo) is None  # good: nothing to do
    _truncate(target)
    assert thumbnails.ensure_thumbnail(target, photo) is None  # rebuilt
    assert _decodes(target) == (320, 260)

    _truncate(target)
    other = tmp_path / "other.jpg"
    other.write_bytes(photo.read_bytes()[:-10])  # not the content the thumbnail was made for
    assert "changed since it was imported" in thumbnails.ensure_thumbnail(target, other)
    assert "cannot be read" in thumbnails.ensure_thumbnail(target, tmp_path / "gone.jpg")
    _fill_disk(monkeypatch, "write")
    assert thumbnails.ensure_thumbnail(target, photo).startswith("disk full: ")
    assert os.path.getsize(target) == TRUNCATED  # the failed write left the old file alone
    with pytest.raises(ValueError):
        thumbnails.ensure_thumbnail(tmp_path / "not-a-thumbnail.jpg", photo)
