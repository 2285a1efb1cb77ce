"""Issue 10's "done when", through the command line on real photos: a library imported with the default
(local) engine finds dogs, beaches and birds by label at the default minimum confidence (50).

The shared ImageNet photos hold no beach class (Seashore, Sandbar), so the two beach photos come from
``5_formats`` (a PhotoPrism sample with GPS, Pillow's big-ICC-profile test photo). Castle, pizza and a
street scene are there to be left out.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mediaapp.cli.main import main

#: file name in the library's folder -> shared test photo.
PHOTOS = {
    "setter.jpg": "6_imagenet/n02100877_Irish_setter.JPEG",
    "corgi.jpg": "6_imagenet/n02113023_Pembroke.JPEG",
    "junco.jpg": "6_imagenet/n01534433_junco.JPEG",
    "oystercatcher.jpg": "6_imagenet/n02037110_oystercatcher.JPEG",
    "beach.jpg": "5_formats/metadata/photoprism_gps-2000.jpg",
    "sea.jpg": "5_formats/color_depth/pillow_icc_profile_big.jpg",
    "castle.jpg": "6_imagenet/n02980441_castle.JPEG",
    "pizza.jpg": "6_imagenet/n07873807_pizza.JPEG",
    "street.jpg": "1_objects/voc/VOC2007/JPEGImages/000004.jpg",
}


@pytest.fixture(scope="module")
def library(testdata, tmp_path_factory) -> Path:
    """The photos imported with ``mediaapp import`` at the defaults; returns the library folder."""
    photos = tmp_path_factory.mktemp("done-when") / "photos"
    photos.mkdir()
    for name, rel in PHOTOS.items():
        shutil.copyfile(testdata / rel, photos / name)
    root = tmp_path_factory.mktemp("done-when-lib") / "lib"
    assert main(["--library", str(root), "import", str(photos)]) == 0
    return root


@pytest.mark.parametrize(("label", "found"), [
    ("Dog", {"setter.jpg", "corgi.jpg"}),
    ("Beach", {"beach.jpg", "sea.jpg"}),
    ("Bird", {"junco.jpg", "oystercatcher.jpg"}),
])
def test_search_by_label_finds_them_at_the_defaults(library, capsys, label, found):
    capsys.readouterr()
    assert main(["--library", str(library), "search", "--label", label]) == 0
    hits = {Path(line).name for line in capsys.readouterr().out.splitlines() if line.strip()}
    assert hits == found
