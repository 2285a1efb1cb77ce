"""Camera RAW files (ingest/raw.py, media.RawHandler) on the real DNG and KDC of testdata/8_sidecars.

``photoprism_canon_eos_6d.dng``: a Canon EOS 6D frame, LibRaw decodes it at
1224x816; Pillow reads only its 256x171 IFD0 preview as a TIFF. Its embedded
JPEG preview is 1024x683. ``rawpy_RAW_KODAK_DC50.KDC``: a Kodak DC50 frame,
768x512 to LibRaw, 96x64 to Pillow (and its only preview). Mutants (a cut,
zeroed data, a changed Orientation tag) are written into ``tmp_path``.
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mediaapp.ingest import media, raw
from mediaapp.ingest.decode import DecodeError
from mediaapp.ingest.ingest_worker import job_timeout, process_file
from mediaapp.ingest.thumbnails import ensure_thumbnail
from mediaapp.library import Library

DNG = "8_sidecars/photoprism_canon_eos_6d.dng"
KDC = "8_sidecars/rawpy_RAW_KODAK_DC50.KDC"
PLAIN_TIFFS = ("5_formats/orientation/photoprism_rotate_6.tiff", "5_formats/containers/vips_sample.tif",
               "5_formats/color_depth/pillow_tiff_16bit_RGB.tiff", "2_text/tesseract/phototest.tif")
DNG_LAST_TILE_END = 411943   # the end of the DNG's last raw tile (TileOffsets + TileByteCounts of its SubIFD)
DNG_FIRST_TILE = 203486      # where its raw tiles start


def _set_orientation(data: bytes, value: int) -> bytes:
    """``data`` (a little-endian TIFF) with IFD0's Orientation (tag 0x0112, one SHORT) set to ``value``."""
    out = bytearray(data)
    first = struct.unpack_from("<I", out, 4)[0]
    for i in range(struct.unpack_from("<H", out, first)[0]):
        entry = first + 2 + 12 * i
        if struct.unpack_from("<H", out, entry)[0] == 0x0112:
            struct.pack_into("<H", out, entry + 8, value)
            return bytes(out)
    raise AssertionError("no Orientation tag in IFD0")


def _gray(img: Image.Image, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(img.convert("L").resize(size), dtype=float).ravel()


def _similar(a: Image.Image, b: Image.Image) -> float:
    """Correlation of two pictures' grey levels at a common small size."""
    size = (a.width * 90 // max(a.size), a.height * 90 // max(a.size))
    return float(np.corrcoef(_gray(a, size), _gray(b, size))[0, 1])


def test_raw_files_are_sniffed_by_content_and_plain_tiffs_stay_images(testdata, tmp_path):
    assert [h.kind for h in media.HANDLERS] == ["raw", "image", "video"]
    for rel, fmt in ((DNG, "DNG"), (KDC, "KDC")):
        sniffed = media.sniff_path(testdata / rel)
        assert sniffed is not None and (sniffed.handler.kind, sniffed.format) == ("raw", fmt), rel
    for rel in PLAIN_TIFFS:
        sniffed = media.sniff_path(testdata / rel)
        assert sniffed is not None and (sniffed.handler.kind, sniffed.format) == ("image", "TIFF"), rel
    # by content, not by name: a DNG named .tif is a DNG, a TIFF named .dng is a TIFF
    shutil.copy(testdata / DNG, tmp_path / "renamed.tif")
    shutil.copy(testdata / PLAIN_TIFFS[0], tmp_path / "renamed.dng")
    assert media.sniff_format(tmp_path / "renamed.tif") == "DNG"
    assert media.sniff_format(tmp_path / "renamed.dng") == "TIFF"
    assert media.claimed_by_name("x.NEF") is media.handler_for("raw")
    assert media.claimed_by_name("x.tif") is media.handler_for("image")
    assert media.handler_for("no such kind") is media.handler_for("image")


def _spy_on_demosaic(monkeypatch) -> list[bool]:
    """Record the ``half`` argument of each LibRaw demosaic ``raw`` asks for."""
    calls: list[bool] = []
    real = raw._demosaic

    def spy(handle, half):
        calls.append(half)
        return real(handle, half)

    monkeypatch.setattr(raw, "_demosaic", spy)
    return calls


def test_signatures_of_non_tiff_raw_formats():
    assert raw.sniff_signature(b"II*\x00\x10\x00\x00\x00CR\x02\x00" + bytes(20)) == "CR2"
    assert raw.sniff_signature(b"\x00\x00\x00\x18ftypcrx \x00\x00\x00\x01crx isom") == "CR3"
    assert raw.sniff_signature(b"FUJIFILMCCD-RAW 0201FF383501" + bytes(4)) == "RAF"
    assert raw.sniff_signature(b"IIRO\x08\x00\x00\x00" + bytes(24)) == "ORF"
    assert raw.sniff_signature(b"IIU\x00\x18\x00\x00\x00" + bytes(24)) == "RW2"
    assert raw.sniff_signature(b"II*\x00\x08\x00\x00\x00" + bytes(24)) is None   # a TIFF: needs the file
    assert raw.sniff_signature(b"\xff\xd8\xff\xe0" + bytes(28)) is None


def test_dng_and_kdc_import_through_the_library_and_a_cut_dng_is_an_error(testdata, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(testdata / DNG, photos / "canon.dng")
    shutil.copy(testdata / KDC, photos / "kodak.kdc")
    shutil.copy(testdata / PLAIN_TIFFS[0], photos / "plain.tiff")
    (photos / "cut.dng").write_bytes((testdata / DNG).read_bytes()[:300_000])
    lib = Library(tmp_path / "lib", settings={"engines": [], "workers": 1})
    try:
        report = lib.import_paths([photos], engines=[])
        assert report.imported == 3
        shas = [lib.catalog.sha_for_path(str(photos / name)) for name in ("canon.dng", "kodak.kdc", "plain.tiff")]
        assets = {Path(a.paths[0]).name: a for a in lib.assets(shas).values()}
        dng, kdc, tiff = assets["canon.dng"], assets["kodak.kdc"], assets["plain.tiff"]
        assert (dng.format, dng.width, dng.height) == ("DNG", 1224, 816)   # LibRaw's size, not Pillow's 256x171
        assert (dng.camera_make, dng.camera_model) == ("Canon", "Canon EOS 6D")
        assert dng.taken_at == "2019-06-06T07:29:51"
        assert (kdc.format, kdc.width, kdc.height) == ("KDC", 768, 512)    # Pillow: a 96x64 TIFF
        assert kdc.camera_make == "Eastman Kodak Company"
        assert kdc.camera_model == "Kodak Digital Science DC50 Zoom Camera"
        assert kdc.taken_at == "1997-04-23T08:00:47"   # no DateTimeOriginal: LibRaw's reading of the file
        assert tiff.format == "TIFF"                    # the image handler's, as before
        for asset in (dng, kdc):
            with Image.open(asset.thumbnail) as thumb:
                assert thumb.format == "JPEG" and thumb.size == (320, 213 if asset is kdc else 214)
        errors = lib.errors()
        assert [(Path(e.path).name, e.stage) for e in errors] == [("cut.dng", "decode")]
        assert "truncated RAW file" in errors[0].message and "DNG" in errors[0].message
    finally:
        lib.close()


@pytest.mark.parametrize("cut", [400_000, 300_000, 150_000, 5_000, 100])
def test_a_cut_dng_is_a_decode_error_without_a_thumbnail(testdata, tmp_path, cut):
    path = tmp_path / "cut.dng"
    path.write_bytes((testdata / DNG).read_bytes()[:cut])
    thumbs = tmp_path / "thumbs"
    result = process_file(str(path), str(thumbs))
    assert (result.format, result.error_stage) == ("DNG", "decode"), result
    if cut >= 5_000:    # IFD0 is whole: the layout check names the bytes missing
        assert "truncated RAW file" in result.error and f"the file has {cut}" in result.error
    else:               # IFD0 is cut too: LibRaw breaks off, and the RAW name claims it
        assert "truncated or corrupt RAW data" in result.error
    assert result.thumbnail is None and not list(thumbs.rglob("*.jpg"))
    with pytest.raises(DecodeError, match="truncated"):
        media.open_for_analysis(path)


def test_the_complete_dng_passes_the_layout_check(testdata, tmp_path):
    data = (testdata / DNG).read_bytes()
    assert raw.missing_bytes(testdata / DNG) is None
    (tmp_path / "last.dng").write_bytes(data[:DNG_LAST_TILE_END])      # only a trailing pad byte gone
    assert raw.missing_bytes(tmp_path / "last.dng") is None
    (tmp_path / "short.dng").write_bytes(data[:DNG_LAST_TILE_END - 1])
    assert raw.missing_bytes(tmp_path / "short.dng") == (DNG_LAST_TILE_END, DNG_LAST_TILE_END - 1)


def test_zeroed_raw_data_is_a_decode_error_even_with_an_intact_preview(testdata, tmp_path):
    data = bytearray((testdata / DNG).read_bytes())
    data[DNG_FIRST_TILE:] = bytes(len(data) - DNG_FIRST_TILE)
    path = tmp_path / "zeroed.dng"
    path.write_bytes(bytes(data))
    result = process_file(str(path), str(tmp_path / "thumbs"))
    assert result.error_stage == "decode" and "corrupt RAW data" in result.error, result


def test_a_damaged_preview_falls_back_to_demosaicing(testdata, tmp_path):
    data = bytearray((testdata / DNG).read_bytes())
    data[145584:145584 + 57901] = bytes(57901)   # the 1024x683 JPEG preview (its SubIFD's strip)
    path = tmp_path / "no-preview.dng"
    path.write_bytes(bytes(data))
    result = process_file(str(path), str(tmp_path / "thumbs"))
    assert result.ok and (result.width, result.height) == (1224, 816)
    with Image.open(result.thumbnail) as thumb:
        assert thumb.size == (320, 213)          # 816 * 320 / 1224 = 213.3 (the preview, in draft mode: 214)


def test_kdc_thumbnail_is_demosaiced_because_its_preview_is_too_small(testdata, tmp_path, monkeypatch):
    calls = _spy_on_demosaic(monkeypatch)
    result = process_file(str(testdata / KDC), str(tmp_path / "thumbs"))
    assert result.ok and (result.width, result.height) == (768, 512)
    assert calls == [True]        # 96 px preview < 320; 384 px half size is enough
    with Image.open(result.thumbnail) as thumb:
        assert thumb.size == (320, 213)
        pixels = np.asarray(thumb.convert("RGB"), dtype=float)
    assert 40 < pixels.mean() < 220 and pixels.std() > 20        # a picture, not a blank or clipped frame


def test_preview_is_used_when_large_enough_and_demosaic_otherwise(testdata, monkeypatch):
    calls = _spy_on_demosaic(monkeypatch)
    small = raw.decode_raw(testdata / DNG, 1000)       # the 1024 px preview covers 1000
    assert small.size == (1000, 667) and calls == []
    full = media.open_for_analysis(testdata / DNG)     # 2048 wanted; the RAW has 1224; the preview 1024
    assert full.size == (1224, 816) and full.mode == "RGB" and len(calls) == 1
    assert _similar(small, full) > 0.95


# EXIF Orientation -> LibRaw's flip code (dcraw's table) -> the transpose that shows the file upright
_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


@pytest.mark.parametrize(("orientation", "flip"), [(6, 6), (8, 5), (3, 3), (2, 1), (4, 2), (5, 4), (7, 7)])
def test_orientation_is_applied_to_preview_and_demosaic_alike(testdata, tmp_path, orientation, flip):
    upright = raw.decode_raw(testdata / DNG, 1224)
    path = tmp_path / f"rot{orientation}.dng"
    path.write_bytes(_set_orientation((testdata / DNG).read_bytes(), orientation))
    meta, _ = raw.read_raw(path)
    assert meta.flip == flip
    expected = upright.transpose(_UPRIGHT[orientation])
    result = process_file(str(path), str(tmp_path / "thumbs"))
    assert (result.width, result.height) == expected.size
    with Image.open(result.thumbnail) as thumb:                  # from the preview
        assert max(thumb.size) == 320 and abs(thumb.width * expected.height / expected.width - thumb.height) <= 1
        assert _similar(thumb, expected) > 0.95
        assert _similar(thumb, expected.transpose(Image.Transpose.ROTATE_180)) < 0.5
        assert _similar(thumb, expected.transpose(Image.Transpose.FLIP_LEFT_RIGHT)) < 0.8
    demosaiced = raw.decode_raw(path, 2048)                      # from LibRaw's demosaic
    assert demosaiced.size == expected.size and _similar(demosaiced, expected) > 0.95


def test_exif_of_the_dng(testdata):
    meta, picture = raw.read_raw(testdata / DNG)
    assert picture is None
    assert meta.lens == "EF24-105mm f/4L IS USM"
    assert meta.iso == 1000 and meta.f_number == pytest.approx(5.6) and meta.focal_length == 65
    assert meta.exposure_time == pytest.approx(1 / 60)
    assert (meta.gps_lat, meta.gps_lon) == (None, None)


def test_raw_jobs_get_more_time_than_images():
    size = 30 << 20
    assert job_timeout(size, "raw") > job_timeout(size, "image") >= 60


def test_a_broken_raw_thumbnail_is_rebuilt_from_libraw(testdata, tmp_path):
    result = process_file(str(testdata / DNG), str(tmp_path / "thumbs"))
    Path(result.thumbnail).write_bytes(b"not a jpeg")
    assert ensure_thumbnail(result.thumbnail, testdata / DNG, decode=media.open_for_analysis) is None
    with Image.open(result.thumbnail) as thumb:
        assert thumb.size == (320, 214)


def test_rekognition_proxy_of_a_raw_is_decoded_by_libraw(testdata):
    from mediaapp.analysis.rekognition import _probe, jpeg_within

    fmt, size, _dims = _probe(str(testdata / DNG))
    assert (fmt, size) == ("DNG", (testdata / DNG).stat().st_size)
    import io

    with Image.open(io.BytesIO(jpeg_within(str(testdata / DNG), 5 << 20, 4096))) as proxy:
        assert proxy.size == (1224, 816)


def test_a_cut_iso_bmff_raw_is_noticed_by_its_box_sizes(tmp_path):
    """CR3 is ISO-BMFF: a top-level box that runs past the end of the file means the file was cut."""
    ftyp = struct.pack(">I4s4sI4s", 20, b"ftyp", b"crx ", 1, b"crx ")
    whole = ftyp + struct.pack(">I4s", 108, b"mdat") + bytes(100)
    (tmp_path / "whole.cr3").write_bytes(whole)
    (tmp_path / "cut.cr3").write_bytes(whole[:80])
    assert raw.sniff_signature(whole[:32]) == "CR3"
    assert raw.missing_bytes(tmp_path / "whole.cr3") is None
    assert raw.missing_bytes(tmp_path / "cut.cr3") == (128, 80)
