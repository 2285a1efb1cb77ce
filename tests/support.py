"""Helpers shared by the top-level tests: a small real-data import set and a file hash."""

from __future__ import annotations

import hashlib
from pathlib import Path

#: A small, varied import set: (source under testdata, name in the import folder).
SAMPLE_FILES = [
    ("1_objects/voc/VOC2012/JPEGImages/2007_000032.jpg", "people/2007_000032.jpg"),
    ("1_objects/voc/VOC2007/JPEGImages/000004.jpg", "cars/000004.jpg"),
    ("1_objects/voc/VOC2007/JPEGImages/000004.jpg", "cars/copy of 000004.jpg"),
    ("5_formats/containers/photoprism_example.bmp", "formats/example.bmp"),
    ("5_formats/orientation/vips_rotation_6.jpg", "formats/rotation_6.jpg"),
    ("5_formats/broken/photoprism_this-is-a-jpeg.png", "formats/this-is-a-jpeg.png"),
    ("5_formats/broken/pillow_broken.png", "broken/broken.png"),
    ("5_formats/broken/vips_truncated.jpg", "broken/truncated.jpg"),
]


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file (test helper)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()

