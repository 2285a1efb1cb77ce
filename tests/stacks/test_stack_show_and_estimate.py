"""RAW+JPEG stacks in ``mediaapp show --json`` and in the cost estimate before an import (issue 12).

``show`` of a stack's RAW lists the analyses held under its JPEG (the stack is analysed once, through the
JPEG); the estimate prices a pair once, as the import then analyses it. The pair is the shared DNG and its
LibRaw decode saved as a JPEG (``support.shoot_raw_jpeg``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from support import REPLAYED_APIS, open_replay_library, sha256_of, shoot_raw_jpeg

from mediaapp.cli.main import main
from mediaapp.ingest import media
from mediaapp.library import Library


def test_show_json_of_a_stacked_raw_lists_the_analyses_under_its_jpeg(testdata, tmp_path, capsys):
    raw, jpeg = shoot_raw_jpeg(testdata, tmp_path / "photos")
    root = tmp_path / "lib"
    lib = open_replay_library(testdata, tmp_path)
    try:
        assert lib.import_paths([raw.parent]).imported == 2
    finally:
        lib.close()
    assert main(["--library", str(root), "show", "--json", str(raw)]) == 0
    shown = json.loads(capsys.readouterr().out)
    jpeg_sha = sha256_of(jpeg)
    assert shown["stack"]["original"] == sha256_of(raw)
    [member] = shown["stack"]["members"]
    assert member["sha256"] == jpeg_sha and member["paths"] == [str(jpeg)]
    assert set(REPLAYED_APIS) <= set(member)                                   # every answer the JPEG holds...
    assert "Car" in {label["Name"] for label in member["DetectLabels"]["Labels"]}
    assert shown["DetectLabels"] == member["DetectLabels"]            # ...and the RAW shows them as its own
    assert shown["stack"]["through"]["DetectLabels"] == jpeg_sha     # saying whose they are

    assert main(["--library", str(root), "show", "--json", str(jpeg)]) == 0
    assert json.loads(capsys.readouterr().out)["stack"] == {"original": sha256_of(raw), "original_paths": [str(raw)]}

    assert main(["--library", str(root), "show", str(raw)]) == 0     # the text form lists the stack's labels
    assert "labels: " in capsys.readouterr().out


def _estimated_images(tmp_path: Path, photos: Path, **settings) -> int:
    root = tmp_path / "lib"
    lib = Library(root, settings={"workers": 1, "engines": ["rekognition"], "apis": ["DetectLabels"], **settings})
    try:
        est = lib.costs.estimate_import([photos])
        return 0 if est is None else est.images
    finally:
        lib.close()


def test_the_estimate_prices_a_raw_jpeg_pair_once(testdata, tmp_path):
    photos = tmp_path / "photos"
    shoot_raw_jpeg(testdata, photos)
    shutil.copy(testdata / "1_objects/voc/VOC2007/JPEGImages/000004.jpg", photos / "single.jpg")
    assert _estimated_images(tmp_path, photos) == 2                          # the pair once, the single photo
    assert _estimated_images(tmp_path, photos, stack_raw_jpeg=False) == 3    # unstacked: each file


def test_the_estimate_counts_a_pair_with_a_third_file_of_that_name_as_separate_files(testdata, tmp_path):
    photos = tmp_path / "photos"
    raw, _jpeg = shoot_raw_jpeg(testdata, photos)
    media.open_for_analysis(raw).convert("RGB").save(photos / "IMG_0001.png", "PNG")   # which is "the" JPEG?
    assert _estimated_images(tmp_path, photos) == 3
