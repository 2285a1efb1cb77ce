""""More like this" of a RAW+JPEG stack's JPEG: the JPEG is the file the stack was analysed through, so it is a
valid example; it stands for its stack (the RAW, under whose sha256 the stack's vector is kept)."""

from __future__ import annotations

import shutil
from pathlib import Path

from support import shoot_raw_jpeg

from mediaapp.core.types import Query


def test_like_of_a_stacks_jpeg_is_the_stack(testdata, tmp_path):
    from mediaapp.library import Library

    photos = tmp_path / "photos"
    raw, jpeg = shoot_raw_jpeg(testdata, photos)
    shutil.copy(testdata / "6_imagenet/n02980441_castle.JPEG", photos / "castle.jpg")
    lib = Library(tmp_path / "lib", settings={"engines": ["local"], "workers": 1, "apis": ["DetectLabels"],
                                              "faces_enabled": False})
    try:
        report = lib.import_paths([photos])
        assert report.imported == 3 and not report.failed, report.failed
        example = lib.like(jpeg)                       # refused before: "has no image embedding yet"
        assert example == lib.like(raw)
        hits = lib.search(Query(like=example, limit=None)).hits
        assert [Path(h.path).name for h in hits] == ["castle.jpg"]   # neither file of the stack is its own match
    finally:
        lib.close()
