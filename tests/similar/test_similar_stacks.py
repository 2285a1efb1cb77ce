"""A RAW+JPEG stack is found and used as one photo by "more like this" and near-duplicates (as its RAW)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from mediaapp.core.types import Query
from mediaapp.ingest import media

DNG = "8_sidecars/photoprism_canon_eos_6d.dng"


@pytest.fixture(scope="module")
def stacked(testdata, tmp_path_factory):
    """A camera's RAW+JPEG pair, a half-size copy of its JPEG, and an unrelated photo, imported."""
    from mediaapp.library import Library

    root = tmp_path_factory.mktemp("similar-stack")
    photos = root / "photos"
    photos.mkdir()
    raw, jpeg = photos / "IMG_0001.dng", photos / "IMG_0001.JPG"
    shutil.copy(testdata / DNG, raw)
    picture = media.open_for_analysis(raw).convert("RGB")
    picture.save(jpeg, "JPEG", quality=90)
    picture.resize((picture.width // 2, picture.height // 2), Image.Resampling.LANCZOS).save(
        photos / "copy.jpg", "JPEG", quality=85)
    shutil.copy(testdata / "6_imagenet/n02980441_castle.JPEG", photos / "castle.jpg")
    lib = Library(root / "lib", settings={"engines": ["local"], "workers": 1, "apis": ["DetectLabels"],
                                          "faces_enabled": False})
    report = lib.import_paths([photos])
    assert report.imported == 4 and not report.failed, report.failed
    yield lib, photos
    lib.close()


def test_the_stack_is_found_as_its_raw_and_can_be_the_example(stacked):
    lib, photos = stacked
    hits = lib.search(Query(like=lib.like(photos / "copy.jpg"), limit=None)).hits
    assert [Path(h.path).name for h in hits] == ["IMG_0001.dng", "castle.jpg"]   # the JPEG is no hit of its own
    hits = lib.search(Query(like=lib.like(photos / "IMG_0001.dng"), limit=None)).hits
    assert Path(hits[0].path).name == "copy.jpg"


def test_the_stack_and_the_copy_are_one_group(stacked):
    lib, _photos = stacked
    groups = lib.duplicates()
    assert [sorted(Path(m.path).name for m in g.members) for g in groups] == [["IMG_0001.dng", "copy.jpg"]]
    assert all(m.sharpness is not None for m in groups[0].members)   # the RAW has its JPEG's
