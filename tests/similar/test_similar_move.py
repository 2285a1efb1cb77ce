"""``Similar.move`` (the Duplicates view's "Move the others…", ``Library.move_files``): sidecars go along,
nothing is ever overwritten, even across file systems and when a file appears meanwhile. Real RAW + XMP files."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
from pathlib import Path

import pytest

from mediaapp.catalog.db import Catalog
from mediaapp.search.vectors import VectorStore
from mediaapp.services import similar as similar_module
from mediaapp.services.similar import Similar

RAW = "8_sidecars/photoprism_canon_eos_6d.dng"
XMP = "8_sidecars/photoprism_canon_eos_6d.xmp"
JPEG = "8_sidecars/photoprism_IMG_4120.JPG"


def _similar(tmp_path: Path, files: list[Path]) -> Similar:
    catalog = Catalog(tmp_path / "catalog.sqlite")
    for f in files:
        sha = hashlib.sha256(f.read_bytes()).hexdigest()
        catalog.add_file(path=str(f), size=f.stat().st_size, mtime_ns=f.stat().st_mtime_ns, sha256=sha,
                         asset={"format": "X", "width": 1, "height": 1, "taken_at": None})
    return Similar(catalog, VectorStore(tmp_path / "vectors"))


def _copy(testdata: Path, src: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(testdata / src, dest)
    return dest


def test_a_photo_takes_its_sidecars_along_and_a_shared_one_is_copied(testdata, tmp_path):
    old = tmp_path / "old"
    raw = _copy(testdata, RAW, old / "shot.dng")
    jpeg = _copy(testdata, JPEG, old / "shot.jpg")           # same stem: shot.xmp may be the RAW's too
    shared = _copy(testdata, XMP, old / "shot.xmp")
    own = _copy(testdata, XMP, old / "shot.jpg.xmp")
    lone = _copy(testdata, RAW, old / "lone.dng")
    lone_xmp = _copy(testdata, XMP, old / "lone.xmp")
    xmp_bytes = (testdata / XMP).read_bytes()
    sim = _similar(tmp_path, [raw, jpeg, lone])
    new = tmp_path / "new"
    moves, problems = sim.move([str(jpeg), str(lone)], new)
    assert problems == []
    assert moves == [(str(jpeg), str(new / "shot.jpg")), (str(lone), str(new / "lone.dng"))]
    assert (new / "shot.jpg.xmp").read_bytes() == xmp_bytes and not own.exists()      # its own: moved
    assert (new / "shot.xmp").read_bytes() == xmp_bytes and shared.exists()           # shared with shot.dng: copied
    assert (new / "lone.xmp").read_bytes() == xmp_bytes and not lone_xmp.exists()     # nobody else's: moved
    assert raw.exists() and not jpeg.exists()
    assert sim.catalog.sha_for_path(str(new / "shot.jpg")) is not None
    assert sim.catalog.sha_for_path(str(raw)) is not None                              # other files stay


def test_a_renamed_photo_renames_its_sidecar_and_a_taken_sidecar_name_is_reported(testdata, tmp_path):
    raw = _copy(testdata, RAW, tmp_path / "old" / "shot.dng")
    _copy(testdata, XMP, tmp_path / "old" / "shot.dng.xmp")
    new = tmp_path / "new"
    _copy(testdata, JPEG, new / "shot.dng")                  # the name is taken: the RAW becomes "shot (2).dng"
    _copy(testdata, JPEG, new / "shot (2).dng.xmp")          # ...and its sidecar's new name is taken too
    moves, problems = _similar(tmp_path, [raw]).move([str(raw)], new)
    assert moves == [(str(raw), str(new / "shot (2).dng"))]
    assert len(problems) == 1 and "shot.dng.xmp: left where it is" in problems[0]
    assert (tmp_path / "old" / "shot.dng.xmp").exists()
    assert (new / "shot (2).dng.xmp").read_bytes() == (testdata / JPEG).read_bytes()   # not overwritten


def test_across_file_systems_a_file_appearing_meanwhile_is_never_overwritten(testdata, tmp_path, monkeypatch):
    raw = _copy(testdata, RAW, tmp_path / "old" / "shot.dng")
    new = tmp_path / "new"
    new.mkdir()
    intruder = b"someone else's file"
    real_link = os.link

    def link(src, dst, *args, **kwargs):
        if Path(src).parent != new:        # from the old folder: "another file system"
            Path(dst).write_bytes(intruder)  # ...and a file of that name appears right then
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        return real_link(src, dst, *args, **kwargs)

    monkeypatch.setattr(similar_module.os, "link", link)
    moves, problems = _similar(tmp_path, [raw]).move([str(raw)], new)
    assert problems == [] and moves == [(str(raw), str(new / "shot (2).dng"))]
    assert (new / "shot.dng").read_bytes() == intruder
    assert (new / "shot (2).dng").read_bytes() == (testdata / RAW).read_bytes() and not raw.exists()
    assert sorted(p.name for p in new.iterdir()) == ["shot (2).dng", "shot.dng"]   # no temporary file left


@pytest.mark.parametrize("errno_", [errno.EPERM])
def test_without_hard_links_the_name_is_created_exclusively(testdata, tmp_path, monkeypatch, errno_):
    raw = _copy(testdata, RAW, tmp_path / "old" / "shot.dng")
    new = tmp_path / "new"
    _copy(testdata, JPEG, new / "shot.dng")

    def link(src, dst, *args, **kwargs):
        raise OSError(errno_, os.strerror(errno_))

    monkeypatch.setattr(similar_module.os, "link", link)
    moves, problems = _similar(tmp_path, [raw]).move([str(raw)], new)
    assert problems == [] and moves == [(str(raw), str(new / "shot (2).dng"))]
    assert (new / "shot.dng").read_bytes() == (testdata / JPEG).read_bytes()
    assert (new / "shot (2).dng").read_bytes() == (testdata / RAW).read_bytes() and not raw.exists()
    assert sorted(p.name for p in new.iterdir()) == ["shot (2).dng", "shot.dng"]


def test_a_file_whose_old_name_cannot_be_removed_is_not_left_twice(testdata, tmp_path, monkeypatch):
    raw = _copy(testdata, RAW, tmp_path / "old" / "shot.dng")
    new = tmp_path / "new"
    real_unlink = os.unlink

    def unlink(path, *args, **kwargs):
        if Path(path) == raw:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(similar_module.os, "unlink", unlink)
    moves, problems = _similar(tmp_path, [raw]).move([str(raw)], new)
    assert moves == [] and len(problems) == 1 and "cannot move it" in problems[0]
    assert raw.exists() and list(new.iterdir()) == []
