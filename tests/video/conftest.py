"""Videos for the video tests: the shared ones, and ones made here with PyAV from a real VOC photo."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from video_support import VOC_PLANES, write_video


@pytest.fixture
def planes_video(testdata, tmp_path) -> Path:
    """4 s of MP4: 2 s black, then 2 s of the VOC photo of aeroplanes and people (its scene change at 2 s)."""
    photo = Image.open(testdata / VOC_PLANES).convert("RGB")
    black = Image.new("RGB", photo.size)
    return write_video(tmp_path / "planes.mp4", [black, black, photo, photo],
                       metadata={"creation_time": "2021-06-01T10:20:30.000000Z"})


@pytest.fixture
def make_video(tmp_path):
    """``write_video`` for a test: ``make_video(name, frames, **options)`` writes below ``tmp_path``."""
    return lambda name, frames, **options: write_video(tmp_path / name, frames, **options)
