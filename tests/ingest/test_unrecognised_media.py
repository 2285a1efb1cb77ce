"""A file no media handler recognises is reported by what its name claims: a video name gets "not a decodable
video", an image name "not an image", any other name "not an image or video" (the importer skips those quietly)."""

from __future__ import annotations

import random
import shutil

import pytest

from mediaapp.ingest.ingest_worker import UNRECOGNISED_REASONS, process_file, unrecognised_reason
from mediaapp.library import Library

#: 64 KiB of seeded random bytes: no image or video signature (checked by the tests below, which would fail).
NOISE = random.Random(12).randbytes(64 * 1024)


@pytest.mark.parametrize(("name", "says"), [
    ("x.mp4", "not a decodable video (unrecognised content)"),
    ("clip.MOV", "not a decodable video (unrecognised content)"),
    ("x.avi", "not a decodable video (unrecognised content)"),
    ("x.jpg", "not an image (unrecognised content)"),
    ("x.cr2", "not an image (unrecognised content)"),           # a RAW name claims an image
    ("notes.txt", "not an image or video (unrecognised content)"),
    ("no-extension", "not an image or video (unrecognised content)"),
])
def test_the_worker_says_what_the_name_claimed(tmp_path, name, says):
    path = tmp_path / name
    path.write_bytes(NOISE)
    result = process_file(str(path), str(tmp_path / "thumbs"))
    assert (result.error_stage, result.error) == ("sniff", says)
    assert unrecognised_reason(str(path)) == says and says in UNRECOGNISED_REASONS.values()
    assert result.size == len(NOISE) and result.sha256 is None and result.thumbnail is None


def test_an_import_reports_claimed_names_and_skips_the_rest(testdata, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("x.mp4", "x.jpg", "notes.txt"):
        (photos / name).write_bytes(NOISE)
    shutil.copyfile(testdata / "1_objects/voc/VOC2007/JPEGImages/000004.jpg", photos / "real.jpg")
    lib = Library(tmp_path / "lib", settings={"engines": [], "workers": 1})
    try:
        report = lib.import_paths([photos])
        assert report.imported == 1 and report.skipped == 1                        # real.jpg; notes.txt
        expected = {("x.mp4", "sniff", "not a decodable video (unrecognised content)"),
                    ("x.jpg", "sniff", "not an image (unrecognised content)")}
        assert {(p.path.rsplit("/", 1)[-1], p.stage, p.message) for p in report.failed} == expected
        assert {(e.path.rsplit("/", 1)[-1], e.stage, e.message) for e in lib.errors()} == expected
    finally:
        lib.close()
