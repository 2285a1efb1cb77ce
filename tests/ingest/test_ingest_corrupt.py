"""Corrupt and truncated mutants of real PNG, BMP, HEIC and AVIF files: each is a decode error, never a blank thumbnail.

The mutants are built from the real files in testdata/5_formats at test time:
truncations, a header followed by zeros (a sparse file several MiB long, as a
crashed copy or a pre-allocated download leaves behind) and a zeroed stretch of
image data. The rule is the one truncated JPEGs already follow
(``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` stays off): an image whose pixel data
is missing or does not decode is refused with a ``decode`` error, while a file
whose data is complete and decodes (a BMP whose pixel bytes are zero is a black
picture) imports.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mediaapp.ingest.decode import DecodeError, open_rgb
from mediaapp.ingest.ingest_worker import process_file
from mediaapp.ingest.metadata import read_metadata

ZEROS = 4 << 20  # bytes of zeros after a kept header: the file is sparse, so this costs no disk


def _png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """``(type, offset of the chunk, data length)`` of each chunk of a PNG."""
    out, pos = [], 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        out.append((kind, pos, length))
        pos += 12 + length
        if kind == b"IEND":
            break
    return out


def _header_then_zeros(path: Path, head: bytes, zeros: int = ZEROS) -> Path:
    """Write ``head`` then ``zeros`` zero bytes to ``path`` as a sparse file."""
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(len(head) + zeros)
    return path


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _assert_decode_error(path: Path, thumbs: Path, words: tuple[str, ...] = ("truncated", "corrupt")) -> None:
    result = process_file(str(path), str(thumbs))
    assert result.error_stage == "decode", (path.name, result.error_stage, result.error, result.thumbnail)
    assert any(w in result.error for w in words), result.error
    assert result.thumbnail is None
    assert not list(thumbs.rglob("*.jpg")), "no thumbnail may be written for an undecodable file"


# -- PNG -----------------------------------------------------------------------------------------

def test_png_header_followed_by_megabytes_of_zeros_is_a_decode_error(formats_dir, tmp_path):
    """The fuzz case: signature, IHDR and an IDAT chunk header survive, the rest is zeros.

    The PNG's eXIf chunk follows its IDAT, so reading its metadata makes Pillow
    decode the pixels; that decode failure was swallowed as "no EXIF" and the
    half-decoded, fully transparent image became a blank white thumbnail.
    """
    data = (formats_dir / "orientation" / "photoprism_rotate_6.png").read_bytes()
    (_kind, idat, _), = [c for c in _png_chunks(data) if c[0] == b"IDAT"]
    mutant = _header_then_zeros(tmp_path / "zeros.png", data[:idat + 8])  # up to and with the IDAT header
    assert mutant.stat().st_size > ZEROS
    _assert_decode_error(mutant, tmp_path / "thumbs")
    with pytest.raises(DecodeError):
        read_metadata(mutant)


@pytest.mark.parametrize("rel", ["orientation/photoprism_rotate_6.png", "orientation/pillow_xmp_tags_orientation.png",
                                 "color_depth/pillow_apng_mode_16bit.png"])
def test_png_with_zeroed_image_data_is_a_decode_error(formats_dir, tmp_path, rel):
    """Zeros over the first IDAT's compressed data (its header and CRC kept): zlib rejects the stream."""
    data = bytearray((formats_dir / rel).read_bytes())
    _kind, pos, length = next(c for c in _png_chunks(bytes(data)) if c[0] == b"IDAT")
    data[pos + 8:pos + 8 + length] = bytes(length)
    _assert_decode_error(_write(tmp_path / Path(rel).name, bytes(data)), tmp_path / "thumbs")


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.999])
def test_truncated_png_is_a_decode_error(formats_dir, tmp_path, fraction):
    data = (formats_dir / "orientation" / "pillow_xmp_tags_orientation.png").read_bytes()
    _assert_decode_error(_write(tmp_path / "cut.png", data[:int(len(data) * fraction)]), tmp_path / "thumbs")


def test_png_whose_exif_follows_its_pixels_still_imports_upright(formats_dir, tmp_path):
    """The intact file the mutants come from: metadata needs its pixels, and they decode."""
    result = process_file(str(formats_dir / "orientation" / "photoprism_rotate_6.png"), str(tmp_path))
    assert result.ok and (result.width, result.height) == (960, 1395)
    with Image.open(result.thumbnail) as thumb:
        pixels = np.asarray(thumb.convert("L"), dtype=float)
    assert pixels.std() > 10  # a real picture, not a flat one


# -- BMP -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fraction", [0.05, 0.5, 0.99])
def test_truncated_bmp_is_a_decode_error(formats_dir, tmp_path, fraction):
    data = (formats_dir / "containers" / "photoprism_example.bmp").read_bytes()
    _assert_decode_error(_write(tmp_path / "cut.bmp", data[:int(len(data) * fraction)]), tmp_path / "thumbs")


def test_bmp_with_zeroed_header_fields_is_a_decode_error(formats_dir, tmp_path):
    """The 14-byte file header kept, the info header (size, depth) zeros: no picture is described."""
    data = (formats_dir / "containers" / "photoprism_example.bmp").read_bytes()
    mutant = _header_then_zeros(tmp_path / "zeros.bmp", data[:18])
    _assert_decode_error(mutant, tmp_path / "thumbs", ("corrupt", "not a recognised", "Unsupported"))


def test_bmp_whose_pixels_are_zero_is_a_black_picture(formats_dir, tmp_path):
    """Headers intact, pixel bytes all zero: a valid (black) 24-bit BMP, which imports."""
    data = (formats_dir / "containers" / "photoprism_example.bmp").read_bytes()
    offset = struct.unpack_from("<I", data, 10)[0]
    mutant = _write(tmp_path / "black.bmp", data[:offset] + bytes(len(data) - offset))
    result = process_file(str(mutant), str(tmp_path / "thumbs"))
    assert result.ok and (result.width, result.height) == (100, 67)
    with Image.open(result.thumbnail) as thumb:
        assert max(thumb.convert("L").getextrema()) < 16


# -- HEIC / AVIF ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("rel", "fraction"), [
    ("containers/pillow_heif_xiaomi.heic", 0.1),      # a grid image: libheif skips the missing tiles
    ("containers/pillow_heif_xiaomi.heic", 0.9),
    ("containers/photoprism_iphone_7.heic", 0.5),
    ("containers/photoprism_iphone_7.heic", 0.98),
    ("containers/pillow_heif_zPug_3.heic", 0.75),     # one coded image: libde265 decodes what is there
])
def test_truncated_heic_is_a_decode_error(formats_dir, tmp_path, rel, fraction):
    """libheif fills what is missing without an error; the file's own item locations show the loss."""
    data = (formats_dir / rel).read_bytes()
    mutant = _write(tmp_path / Path(rel).name, data[:int(len(data) * fraction)])
    _assert_decode_error(mutant, tmp_path / "thumbs", ("truncated",))
    with pytest.raises(DecodeError, match="truncated"):
        open_rgb(mutant, 2048)  # the analysis decode refuses it too


@pytest.mark.parametrize("rel", ["containers/pillow_heif_xiaomi.heic", "containers/photoprism_iphone_7.heic",
                                 "containers/pillow_heif_zPug_3.heic", "orientation/pillow_avif_rot1mir0.avif",
                                 "containers/photoprism_fox.profile0.8bpc.yuv420.avif",
                                 "containers/photoprism_star.avifs"])
def test_heif_header_then_zeros_is_a_decode_error(formats_dir, tmp_path, rel):
    data = (formats_dir / rel).read_bytes()
    mutant = _header_then_zeros(tmp_path / Path(rel).name, data[:64])
    _assert_decode_error(mutant, tmp_path / "thumbs", ("corrupt", "truncated"))


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("rel", ["orientation/pillow_avif_rot1mir0.avif",
                                 "containers/photoprism_fox.profile0.8bpc.yuv420.avif"])
def test_truncated_avif_is_a_decode_error(formats_dir, tmp_path, rel, fraction):
    data = (formats_dir / rel).read_bytes()
    _assert_decode_error(_write(tmp_path / Path(rel).name, data[:int(len(data) * fraction)]), tmp_path / "thumbs",
                         ("corrupt", "truncated"))


def test_intact_heif_files_import(formats_dir, tmp_path):
    """The completeness check reads the files' own item locations; every intact HEIF/AVIF passes it."""
    for rel in ("containers/pillow_heif_xiaomi.heic", "containers/photoprism_iphone_7.heic",
                "containers/pillow_heif_zPug_3.heic", "containers/photoprism_star.avifs",
                "containers/photoprism_fox.profile0.8bpc.yuv420.avif", "orientation/pillow_avif_rot1mir0.avif"):
        assert process_file(str(formats_dir / rel), str(tmp_path)).ok, rel


# -- the import pipeline -------------------------------------------------------------------------

def test_import_records_one_decode_error_row_per_corrupt_file(formats_dir, tmp_path):
    from mediaapp.library import Library

    folder = tmp_path / "photos"
    folder.mkdir()
    png = (formats_dir / "orientation" / "photoprism_rotate_6.png").read_bytes()
    idat = next(c for c in _png_chunks(png) if c[0] == b"IDAT")[1]
    _header_then_zeros(folder / "zeros.png", png[:idat + 8])
    heic = (formats_dir / "containers" / "pillow_heif_xiaomi.heic").read_bytes()
    _write(folder / "cut.heic", heic[:len(heic) // 2])
    _write(folder / "good.bmp", (formats_dir / "containers" / "photoprism_example.bmp").read_bytes())
    lib = Library(tmp_path / "lib", settings={"engines": [], "workers": 1})
    try:
        report = lib.import_paths([folder])
        assert report.imported == 1
        errors = {Path(e.path).name: (e.stage, e.message) for e in lib.errors()}
        assert set(errors) == {"zeros.png", "cut.heic"}
        assert all(stage == "decode" for stage, _ in errors.values()), errors
        assert "cannot decode PNG image" in errors["zeros.png"][1]
        assert "truncated" in errors["cut.heic"][1]
        assert len(list((tmp_path / "lib" / "thumbnails").rglob("*.jpg"))) == 1
    finally:
        lib.close()
