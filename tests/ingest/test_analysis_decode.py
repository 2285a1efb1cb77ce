"""The analysis decode of large JPEGs: DCT scaling chosen by the longest side, and the picture it gives.

The photos are made from real test photos enlarged to camera sizes in
``tmp_path`` (nothing is copied into the repository).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mediaapp.ingest.decode import ANALYSIS_DRAFT_FRACTION, ANALYSIS_MAX_SIDE, draft_box, load_rgb, open_image
from mediaapp.ingest.media import open_for_analysis


def _enlarged(src, dst, size: tuple[int, int]):
    """``src`` enlarged (bicubic) to ``size`` and saved as a quality-92 JPEG at ``dst``."""
    with Image.open(src) as img:
        img.convert("RGB").resize(size, Image.Resampling.BICUBIC).save(dst, quality=92)
    return dst


@pytest.fixture(scope="module")
def photo_12mp(testdata, tmp_path_factory):
    """A 4000x3000 JPEG made from a VOC photo (the common 12 MP camera size)."""
    src = sorted((testdata / "1_objects").rglob("*.jpg"))[0]
    return _enlarged(src, tmp_path_factory.mktemp("decode") / "photo_4000x3000.jpg", (4000, 3000))


def test_draft_box_follows_the_longest_side():
    # Pillow's draft takes the smaller of width // box_w and height // box_h: a square box made the
    # shorter side decide, so a 6000x4000 photo was decoded in full for 2048.
    assert draft_box((6000, 4000), 2048) == (2048, 1366)
    assert draft_box((4000, 6000), 2048) == (1366, 2048)
    assert draft_box((4000, 3000), 2048) == (2048, 1536)
    assert draft_box((4000, 3000), 2048, 0.97) == (1987, 1491)


def test_24mp_jpeg_decodes_at_half_scale(testdata, tmp_path):
    src = sorted((testdata / "1_objects").rglob("*.jpg"))[0]
    path = _enlarged(src, tmp_path / "photo_6000x4000.jpg", (6000, 4000))
    with open_image(path) as img:
        out = load_rgb(img, ANALYSIS_MAX_SIDE)
        assert img.size == (3000, 2000)           # the DCT scaled it by 1/2 (was 6000x4000: decoded in full)
    assert out.size == (2048, 1365)


def test_12mp_jpeg_decodes_from_the_dct_and_keeps_the_analysis_size(photo_12mp):
    with open_image(photo_12mp) as img:
        out = load_rgb(img, ANALYSIS_MAX_SIDE, ANALYSIS_DRAFT_FRACTION)
        assert img.size == (2000, 1500)           # 1/2 DCT scaling, within 3% of 2048
    assert (out.mode, out.size) == ("RGB", (2048, 1536))  # enlarged back to the analysis size
    assert open_for_analysis(photo_12mp).size == (2048, 1536)
    with open_image(photo_12mp) as img:
        load_rgb(img, ANALYSIS_MAX_SIDE)          # without the fraction: the full 12 Mpx decode
        assert img.size == (4000, 3000)


def test_12mp_analysis_picture_matches_the_full_decode(photo_12mp):
    with open_image(photo_12mp) as img:
        full = np.asarray(load_rgb(img, ANALYSIS_MAX_SIDE), dtype=np.float64)
    fast = np.asarray(open_for_analysis(photo_12mp), dtype=np.float64)
    assert fast.shape == full.shape
    assert np.abs(fast - full).mean() < 2.0       # of 255: the same picture, up to resampling
