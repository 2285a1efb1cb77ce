"""decode: the decompression-bomb policy, ISO-BMFF size reading and open_rgb's contract."""

from __future__ import annotations

import pytest
from PIL import Image

from mediaapp.ingest.decode import DecodeError, bmff_declared_size, open_rgb


def test_bomb_limit_is_pillows_hard_limit(tmp_path, monkeypatch):
    # Scale Pillow's guard down so tiny files sit either side of it: images
    # between MAX_IMAGE_PIXELS and twice that decode, bigger ones are refused.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    ok, bomb = tmp_path / "ok.png", tmp_path / "bomb.png"
    Image.new("RGB", (50, 30), "red").save(ok)       # 1500 px: over the warning, under the error
    Image.new("RGB", (50, 50), "red").save(bomb)     # 2500 px: over 2 x 1000
    assert open_rgb(ok).size == (50, 30)
    with pytest.raises(DecodeError, match="too large"):
        open_rgb(bomb)


def test_bmff_declared_sizes(formats_dir):
    assert bmff_declared_size(formats_dir / "broken" / "vips_17000x17000.avif") == (17000, 17000)
    # Stored size; the irot property turns it to 640x427 on display.
    assert bmff_declared_size(formats_dir / "orientation" / "pillow_avif_rot1mir0.avif") == (427, 640)
    assert bmff_declared_size(formats_dir / "metadata" / "pillow_iptc.jpg") is None


def test_open_rgb_contract(formats_dir):
    img = open_rgb(formats_dir / "containers" / "photoprism_animated.gif", 200)
    assert (img.mode, img.size) == ("RGB", (200, 160))
    full = open_rgb(formats_dir / "orientation" / "vips_rotation_6.jpg")
    assert (full.mode, full.size) == ("RGB", (231, 308))
    assert "exif" not in full.info                  # its orientation is already applied
    p3 = open_rgb(formats_dir / "color_depth" / "photoprism_Iceland-P3.jpg", 320)
    assert p3.info.get("icc_profile")               # kept for colour management
    with pytest.raises(DecodeError, match="truncated"):
        open_rgb(formats_dir / "broken" / "vips_truncated.jpg", 320)
    with pytest.raises(FileNotFoundError):
        open_rgb(formats_dir / "absent.jpg")


def test_a_file_that_only_starts_like_a_jpeg_gets_a_readable_reason(tmp_path):
    from mediaapp.ingest.ingest_worker import process_file

    fake = tmp_path / "fake.jpg"
    fake.write_bytes(b"\xff\xd8\xff" + b"not really a jpeg at all, just text!!!!!!")  # 44 bytes
    result = process_file(str(fake), str(tmp_path / "thumbs"))
    assert result.error_stage == "decode"
    assert result.error == ("cannot decode JPEG image: JPEG data is corrupt or uses a variant the decoder does not"
                            " support")
