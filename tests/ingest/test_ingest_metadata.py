"""metadata.read_metadata: display size, date, camera and GPS from real files.

Expected GPS/camera/date values for gps-2000.jpg and iphone_7.heic are the
ones photoprism's own EXIF tests assert for these files (internal/meta/exif_test.go).
"""

from __future__ import annotations

import warnings

import pytest
from ingest_cases import DISPLAY_SIZES
from PIL import Image

from mediaapp.ingest.decode import open_image
from mediaapp.ingest.metadata import read_metadata


def test_gps_only_file(formats_dir):
    meta = read_metadata(formats_dir / "metadata" / "photoprism_gps-2000.jpg")
    assert meta["gps_lat"] == pytest.approx(-38.405193, abs=1e-5)   # GPSLatitudeRef S
    assert meta["gps_lon"] == pytest.approx(144.18896, abs=1e-5)
    assert (meta["taken_at"], meta["camera_make"], meta["camera_model"]) == (None, None, None)
    assert (meta["width"], meta["height"], meta["format"], meta["orientation"]) == (494, 327, "JPEG", 1)


def test_phone_heic_date_camera_gps_orientation(formats_dir):
    meta = read_metadata(formats_dir / "containers" / "photoprism_iphone_7.heic")
    assert meta["taken_at"] == "2018-09-10T12:16:13"
    assert (meta["camera_make"], meta["camera_model"]) == ("Apple", "iPhone 7")
    assert meta["gps_lat"] == pytest.approx(34.79745, abs=1e-5)
    assert meta["gps_lon"] == pytest.approx(134.76463, abs=1e-5)
    assert meta["orientation"] == 6
    assert (meta["width"], meta["height"], meta["format"]) == (3024, 4032, "HEIF")


def test_west_longitude_is_negative_and_mpo_is_jpeg(formats_dir):
    meta = read_metadata(formats_dir / "color_depth" / "photoprism_Iceland-P3.jpg")
    assert (meta["camera_make"], meta["camera_model"]) == ("NIKON CORPORATION", "NIKON D800E")
    assert meta["taken_at"] == "2012-08-08T22:07:18"
    assert meta["gps_lat"] == pytest.approx(65 + 3 / 60 + 20.08 / 3600, abs=1e-6)
    assert meta["gps_lon"] == pytest.approx(-(16 + 37 / 60 + 32.53 / 3600), abs=1e-6)
    mpo = read_metadata(formats_dir / "containers" / "pillow_frozenpond.mpo")
    assert (mpo["format"], mpo["camera_make"], mpo["taken_at"]) == ("JPEG", "Nintendo", "2014-03-02T13:30:00")


@pytest.mark.parametrize("n", range(1, 9))
def test_vips_rotation_orientation_and_size(formats_dir, n):
    meta = read_metadata(formats_dir / "orientation" / f"vips_rotation_{n}.jpg")
    assert meta["orientation"] == n
    assert (meta["width"], meta["height"]) == ((308, 410) if n <= 4 else (231, 308))


def test_display_size_of_every_decodable_file(formats_dir):
    for rel, size in DISPLAY_SIZES.items():
        meta = read_metadata(formats_dir / rel)
        assert (meta["width"], meta["height"]) == size, rel


def test_corrupt_exif_gives_missing_fields_not_errors(formats_dir):
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # not even a warning may escape
        meta = read_metadata(formats_dir / "broken" / "pillow_hopper_bad_exif.jpg")
    assert (meta["width"], meta["height"], meta["format"]) == (500, 500, "JPEG")
    assert meta["taken_at"] is None and meta["gps_lat"] is None and meta["camera_make"] is None


def test_open_image_and_path_give_the_same_answer(formats_dir):
    path = formats_dir / "metadata" / "photoprism_panorama360.jpg"
    with open_image(path) as img:
        assert read_metadata(img) == read_metadata(path)


def _jpeg_with_exif(path, base=None, exif_ifd=None, gps=None):
    exif = Image.Exif()
    for tag, value in (base or {}).items():
        exif[tag] = value
    if exif_ifd:
        exif.get_ifd(0x8769).update(exif_ifd)
    if gps:
        exif.get_ifd(0x8825).update(gps)
    Image.new("RGB", (40, 30), "gray").save(path, exif=exif)
    return path


def test_offset_time_and_invalid_values(tmp_path):
    meta = read_metadata(_jpeg_with_exif(
        tmp_path / "a.jpg", base={0x010F: "  Canon\x00", 0x0112: 8},
        exif_ifd={0x9003: "2021:07:04 18:30:05", 0x9011: "+02:00"},
        gps={1: "S", 2: (10.0, 30.0, 0.0), 3: "W", 4: (20.0, 15.0, 36.0)}))
    assert meta["taken_at"] == "2021-07-04T18:30:05+02:00"
    assert meta["camera_make"] == "Canon" and meta["camera_model"] is None
    assert (meta["width"], meta["height"], meta["orientation"]) == (30, 40, 8)
    assert meta["gps_lat"] == pytest.approx(-10.5)
    assert meta["gps_lon"] == pytest.approx(-20.26)

    meta = read_metadata(_jpeg_with_exif(
        tmp_path / "b.jpg", exif_ifd={0x9003: "0000:00:00 00:00:00"},
        gps={1: "N", 2: (95.0, 0.0, 0.0), 3: "E", 4: (20.0, 0.0, 0.0)}))
    assert meta["taken_at"] is None     # placeholder date written by some cameras
    assert meta["gps_lat"] is None and meta["gps_lon"] is None   # latitude out of range


def test_not_an_image_path_raises_decode_error(testdata):
    from mediaapp.ingest.decode import DecodeError

    with pytest.raises(DecodeError):
        read_metadata(testdata / "MANIFEST.md")
