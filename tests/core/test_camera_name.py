"""The camera shown for an asset names the make once, read from real files' EXIF.

Failed on b6754a3: a Canon's camera read "Canon Canon EOS 5D Mark III".
"""

from __future__ import annotations

import pytest

from mediaapp.core.types import Asset
from mediaapp.ingest.metadata import read_metadata


@pytest.mark.parametrize(("photo", "shown"), [
    ("3_faces/face_recognition/obama.jpg", "Canon EOS 5D Mark III"),
    ("3_faces/face_recognition/alex_lacamoire1_test.jpg", "NIKON D810"),
    ("6_imagenet/n04153751_screw.JPEG", "KODAK LS743 ZOOM DIGITAL CAMERA"),
    ("6_imagenet/n03337140_file.JPEG", "Panasonic DMC-TZ3"),           # the model does not repeat the make
    ("5_formats/metadata/photoprism_no-exif-data.jpg", None),
])
def test_the_make_is_shown_once(testdata, photo, shown):
    meta = read_metadata(testdata / photo)
    asset = Asset("0" * 64, 1, "JPEG", 1, 1, camera_make=meta["camera_make"], camera_model=meta["camera_model"])
    assert asset.camera == shown


def test_make_or_model_alone():
    assert Asset("0" * 64, 1, "JPEG", 1, 1, camera_make="Leica").camera == "Leica"
    assert Asset("0" * 64, 1, "JPEG", 1, 1, camera_model="X100V").camera == "X100V"
