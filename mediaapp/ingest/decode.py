"""Decoding images into orientation-corrected RGB pixels with Pillow.

HEIC/HEIF and AVIF are read through pillow-heif's Pillow plugin (and Pillow's
own AVIF plugin where it has one).

Decompression bombs: Pillow refuses images above ``2 * Image.MAX_IMAGE_PIXELS``
(about 179 Mpx with Pillow's default) with ``DecompressionBombError``; that
refusal becomes ``DecodeError``. Pillow's softer warning at half that size is
silenced rather than escalated, so real 100-150 Mpx photos (medium-format
cameras, stitched panoramas) still import; for JPEG, draft mode keeps their
memory small anyway. AVIF/HEIF files whose declared size is beyond what the
codec library accepts (libavif refuses more than 16384 x 16384) are reported
with their declared dimensions, read from the file's ``ispe`` box.

Typical use decodes a file once for both metadata and pixels::

    with open_image(path) as img:        # header only, no pixel decoding yet
        meta = read_metadata(img)        # mediaapp.ingest.metadata
        rgb = load_rgb(img, max_side=320)
"""

from __future__ import annotations

import contextlib
import math
import os
import struct
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

from PIL import Image, UnidentifiedImageError
from PIL.JpegImagePlugin import JpegImageFile
from PIL.PngImagePlugin import PngImageFile

from mediaapp.fsio import open_regular

try:  # pillow-heif registers HEIF and AVIF openers with Pillow
    import pillow_heif

    pillow_heif.register_heif_opener()
    if hasattr(pillow_heif, "register_avif_opener"):
        try:
            pillow_heif.register_avif_opener()
        except Exception:  # newer Pillow reads AVIF itself
            pass
except ImportError:  # pragma: no cover - pillow-heif is a hard dependency
    pillow_heif = None


class DecodeError(Exception):
    """The file is not an image Pillow can decode; ``str()`` is the readable reason."""


def max_pixels() -> int | None:
    """The largest image (width x height, in pixels) decoded: Pillow's bomb-error limit.

    ``2 * PIL.Image.MAX_IMAGE_PIXELS`` (about 179 Mpx by default), or None when
    the guard was switched off by setting ``MAX_IMAGE_PIXELS`` to None.
    """
    limit = Image.MAX_IMAGE_PIXELS
    return None if limit is None else 2 * limit


@contextlib.contextmanager
def _decode_errors(path: str | Path, formats: Sequence[str] | None = None) -> Iterator[None]:
    """Translate Pillow's exceptions into ``DecodeError`` with a readable reason.

    ``FileNotFoundError``, ``PermissionError`` and ``IsADirectoryError`` pass
    through unchanged (they are I/O problems, not bad image data).
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    except Image.DecompressionBombError as exc:
        raise DecodeError(f"image too large to decode safely (decompression bomb guard): {exc}") from exc
    except UnidentifiedImageError as exc:
        raise DecodeError(_unidentified_reason(path, formats)) from exc
    except (SyntaxError, ValueError, EOFError, struct.error, IndexError, TypeError) as exc:
        text = str(exc)
        if "too large" in text.lower():  # e.g. PNG text chunks over MAX_TEXT_CHUNK
            raise DecodeError(f"image too large to decode safely: {text}") from exc
        raise DecodeError(f"corrupt image data: {text or type(exc).__name__}") from exc
    except OSError as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise DecodeError(f"truncated or corrupt image: {exc}") from exc
    except MemoryError as exc:
        raise DecodeError("not enough memory to decode this image") from exc


def _unidentified_reason(path: str | Path, formats: Sequence[str] | None) -> str:
    """Explain why Pillow could not identify ``path`` (sniffed as ``formats[0]`` if given)."""
    if not formats:
        return "not a recognised image format"
    fmt = formats[0]
    if fmt in ("HEIF", "AVIF"):
        size = bmff_declared_size(path)
        limit = max_pixels()
        if size and limit and size[0] * size[1] > limit:
            w, h = size
            return (f"image too large to decode safely: {fmt} declares {w}x{h} pixels "
                    f"({w * h / 1e6:.0f} Mpx, limit {limit / 1e6:.0f} Mpx)")
    return f"{fmt} data is corrupt or uses a variant the decoder does not support"


@contextlib.contextmanager
def open_image(path: str | Path, formats: Sequence[str] | None = None) -> Iterator[Image.Image]:
    """Open ``path`` lazily, as a context manager: parse the header, decode no pixels yet.

    ``formats``: Pillow format names to try (e.g. ``("JPEG",)`` from
    ``media.sniff_path``); None tries every registered plugin. Restricting it
    stops exotic plugins from misreading a file. Yields a Pillow image whose
    ``size`` is the stored (pre-orientation) size in pixels; the image and
    the file are closed when the ``with`` block ends. The file is opened with
    ``mediaapp.fsio.open_regular``, so a FIFO or device put in the file's
    place is refused at once instead of blocking.

    Raises ``DecodeError`` (unidentifiable, corrupt, or over the bomb limit)
    and ``OSError`` (missing file, permission denied, directory, not a
    regular file: ``fsio.NotRegularFileError``).
    """
    wanted = None
    if formats:
        Image.init()  # Pillow registers most plugins lazily
        # only names this Pillow knows (Pillow 13 reads MPO through its JPEG plugin; older ones
        # register MPO separately): naming an unknown one makes Image.open raise KeyError
        wanted = [f for f in formats if f in Image.OPEN] or None
    with open_regular(path) as fp:
        with _decode_errors(path, formats):
            img = Image.open(fp, formats=wanted)
        img.filename = os.fspath(path)  # as Image.open(path) would set it (read by _heif_orientation)
        with img:
            yield img


def load_rgb(img: Image.Image, max_side: int | None = None, draft_fraction: float = 1.0) -> Image.Image:
    """Decode an image from ``open_image`` into RGB with EXIF orientation applied.

    ``max_side`` (pixels): when given, JPEG (and MPO) decoding uses Pillow's
    draft mode: libjpeg's DCT scaling by 1/2, 1/4 or 1/8, the longest side
    never below ``max_side`` (a 4000x3000 JPEG decodes at 500x375 for 320, a
    6000x4000 one at 3000x2000 for 2048; see ``draft_box``), and the result
    is then downscaled (Lanczos after an integer box reduction) so its longest
    side is at most ``max_side``. ``draft_fraction`` (0-1): the DCT scaling
    may leave the longest side down to ``draft_fraction * max_side``; that
    picture is then enlarged (Lanczos) to ``max_side``, so the result's size
    is the same either way: with ``ANALYSIS_DRAFT_FRACTION`` a 12 MP
    4000x3000 photo decodes to 2000x1500 and comes out at 2048x1536, as a
    full decode scaled down would. Resizing happens before the orientation
    transpose and the RGB conversion, so those touch only the small image.
    Multi-frame files give their first frame. Draft mode changes ``img.size``:
    read sizes (``metadata.read_metadata``) before calling this. The result's
    ``info`` holds only ``icc_profile``, when the file has an RGB one.

    An HEIF/AVIF file whose item data runs past its end is refused as
    truncated (``bmff_missing_bytes``): libheif decodes such files without
    an error, filling what is missing, where Pillow refuses a truncated JPEG
    or PNG.

    Raises ``DecodeError`` with a readable reason for truncated or corrupt data.
    """
    _refuse_truncated_bmff(img)
    with _decode_errors(getattr(img, "filename", "") or "<image>"):
        stored_side = max(img.size)
        if max_side and isinstance(img, JpegImageFile):
            img.draft("RGB", draft_box(img.size, max_side, draft_fraction))
        img.load()
        # Read after load(): Pillow's TIFF plugin applies the orientation
        # itself while loading and then removes the tag.
        method = _TRANSPOSE.get(exif_orientation(img))
        out: Image.Image = img
        # Down to max_side; or up to it when the draft stopped short of it (draft_fraction < 1).
        if max_side and (max(out.size) > max_side or max(out.size) < max_side < stored_side):
            if out.mode not in _RESIZABLE_MODES:
                out = _to_rgb(out)
            w, h = out.size
            scale = max_side / max(w, h)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            out = out.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
        if out.mode != "RGB":
            out = _to_rgb(out)
        if method is not None:
            out = out.transpose(method)
        elif out is img:
            out = img.copy()  # never hand back the file-backed image itself
        # EXIF/XMP describe the file, not these pixels (their orientation is
        # now applied); keep only an RGB colour profile (a CMYK or grey one
        # would not describe the converted RGB pixels).
        icc = img.info.get("icc_profile") if img.mode in _RGB_PROFILE_MODES else None
        out.info = {"icc_profile": icc} if icc else {}
        return out


#: Longest side (pixels) images are decoded at for analysis (``open_rgb(path, ANALYSIS_MAX_SIDE)``).
#: The analysers downscale further as their models need; 2048 keeps small text legible.
ANALYSIS_MAX_SIDE = 2048

#: The analysis decode's ``draft_fraction`` (``ImageHandler.decode_for_analysis``): a JPEG whose DCT scaling
#: by 1/2 (1/4, 1/8) leaves its longest side at 97% of ``ANALYSIS_MAX_SIDE`` or more is decoded at that scale
#: and enlarged by at most 3% (Lanczos) to ``ANALYSIS_MAX_SIDE``. The common 12 MP photos (4000x3000,
#: 4032x3024) then take about 90 ms (2000-2016 px straight from the DCT, then the enlargement) instead of
#: 210-320 ms (12 Mpx decoded, then reduced), one core. The analysers still get 2048 px: used as it comes
#: from the DCT (2000 px), the small text of a tesseract page pasted into a 4000x3000 photo was read with word
#: recall 0.88 instead of 1.00 (the text detector is sensitive to that scale); enlarged, 1.00.
ANALYSIS_DRAFT_FRACTION = 0.97


def draft_box(size: tuple[int, int], max_side: int, fraction: float = 1.0) -> tuple[int, int]:
    """The ``(width, height)`` for ``Image.draft`` that keeps the longest side of ``size`` >= ``fraction * max_side``.

    Pillow's JPEG draft picks the largest DCT scale 1/s (s in 1, 2, 4, 8)
    with ``s <= min(width // box_w, height // box_h)``; a box of the image's
    own aspect ratio makes that the longest side's rule (a square box would
    let the shorter side decide: a 6000x4000 photo would decode in full for
    2048). ``size`` is the stored size in pixels; ``fraction`` in (0, 1].
    """
    width, height = size
    side = max(1, math.ceil(max_side * fraction))
    scale = side / max(width, height, 1)
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))

# EXIF Orientation (TIFF/EP, EXIF 2.3 tag 0x0112) -> the transpose that displays it.
_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_RESIZABLE_MODES = ("RGB", "RGBA", "L", "LA", "CMYK")
_RGB_PROFILE_MODES = ("RGB", "RGBA", "RGBX", "P", "PA")


def load_if_exif_follows_pixels(img: Image.Image) -> None:
    """Decode ``img``'s pixels now when Pillow can reach its EXIF only through them.

    Pillow's PNG plugin finds an ``eXIf`` chunk stored after the image data
    only by decoding the image (``getexif()`` calls ``load()``). Called
    before any EXIF is read (``metadata.read_metadata``), this makes a pixel
    decode failure a ``DecodeError``: EXIF readers treat every exception as
    "no EXIF", and after a failed ``load()`` Pillow keeps the half-decoded
    (zero-filled, for RGBA fully transparent) image and a second ``load()``
    returns it without complaint. No-op for other formats, for PNGs whose
    EXIF precedes the pixels and for images already loaded.

    Raises ``DecodeError`` with a readable reason for truncated or corrupt pixel data.
    """
    if isinstance(img, PngImageFile) and "exif" not in img.info and img.tile:
        with _decode_errors(getattr(img, "filename", "") or "<image>"):
            img.load()


def exif_orientation(img: Image.Image) -> int:
    """EXIF Orientation (1-8) still to apply to ``img``'s pixels as Pillow reports them.

    1 when absent, out of range, or the EXIF block is unreadable. Pillow's
    TIFF plugin reports the tag until ``load()`` applies it. pillow-heif
    applies HEIF's ``irot``/``imir`` while decoding and reports 1; for HEIF
    files without them the original EXIF tag counts (see ``_heif_orientation``).
    Never raises.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            value = img.getexif().get(0x0112, 1)
        if value == 1 and img.format == "HEIF":
            value = _heif_orientation(img)
    except Exception:  # corrupt EXIF must never stop an import
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def open_rgb(path: str | Path, max_side: int | None = None, draft_fraction: float = 1.0) -> Image.Image:
    """Decode ``path`` into an RGB image with EXIF orientation applied.

    ``max_side`` (pixels): when given, JPEG decoding uses Pillow's draft mode
    to decode at a reduced scale (a power-of-two DCT scaling, never below
    ``max_side``), and the result is then downscaled so its longest side is
    at most ``max_side``; ``draft_fraction`` as ``load_rgb``. Multi-frame files give their first frame.

    Raises ``DecodeError`` with a readable reason for unreadable, truncated,
    unidentifiable or oversized (decompression bomb) files, and ``OSError``
    when the file cannot be opened at all.
    """
    with open_image(path) as img:
        return load_rgb(img, max_side, draft_fraction)


def bmff_declared_size(path: str | Path) -> tuple[int, int] | None:
    """Largest ``(width, height)`` in pixels declared by an HEIF/AVIF file's ``ispe`` boxes.

    Reads the item properties without decoding anything (see
    ``_bmff_properties``). Used to explain files the codec refuses. Returns
    None when the file has no readable ``ispe`` box; never raises for bad
    data (``OSError`` still propagates).
    """
    best: tuple[int, int] | None = None
    for kind, payload in _bmff_properties(path):
        if kind == b"ispe" and len(payload) >= 12:
            w, h = struct.unpack_from(">II", payload, 4)  # after version+flags
            if best is None or w * h > best[0] * best[1]:
                best = (w, h)
    return best


def _bmff_head(path: str | Path) -> bytes:
    """The first MiB of ``path``, where an HEIF file's ``meta`` box sits in practice."""
    with open_regular(path) as f:
        return f.read(1 << 20)


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """``(box type, body start, body end)`` of each ISO base media file format box in ``data[start:end]``.

    ISO/IEC 14496-12 box headers: 32-bit size and type, a 64-bit size when
    the size is 1, "to the end" when it is 0. A malformed header ends the walk.
    """
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1 and pos + 16 <= end:
            size, header = struct.unpack_from(">Q", data, pos + 8)[0], 16
        elif size == 0:
            size = end - pos
        if size < header:
            return
        yield kind, pos + header, min(pos + size, end)
        pos += size


def _meta_children(data: bytes) -> Iterator[tuple[bytes, int, int]]:
    """The boxes inside the top-level ``meta`` box (a FullBox: 4 bytes of version and flags first)."""
    for kind, body, end in _boxes(data, 0, len(data)):
        if kind == b"meta":
            yield from _boxes(data, body + 4, end)
            return


def _bmff_properties(path: str | Path) -> list[tuple[bytes, bytes]]:
    """``(box type, payload)`` of every HEIF item property (``meta/iprp/ipco`` children).

    Walks ISO base media file format boxes (ISO/IEC 14496-12; the item
    property layout is HEIF's, ISO/IEC 23008-12) in the first MiB of the file,
    where the ``meta`` box sits in practice. Malformed boxes end the walk.
    """
    data = _bmff_head(path)
    found: list[tuple[bytes, bytes]] = []
    for kind, body, end in _meta_children(data):
        if kind != b"iprp":
            continue
        for kind2, body2, end2 in _boxes(data, body, end):
            if kind2 == b"ipco":
                found.extend((pkind, data[pbody:pend]) for pkind, pbody, pend in _boxes(data, body2, end2))
    return found


def _iloc_file_extents(data: bytes, body: int, end: int) -> Iterator[tuple[int, int]]:
    """``(offset, length)`` in bytes of each item extent an ``iloc`` box places in this file.

    ISO/IEC 14496-12 section 8.11.3 (versions 0-2). Only extents stored at
    file offsets (construction method 0, data reference 0: this file) are
    given; ``idat``-relative and item-relative ones are skipped. A box cut
    short ends the listing.
    """
    pos = body

    def read(width: int) -> int:
        nonlocal pos
        if pos + width > end:
            raise EOFError
        value = int.from_bytes(data[pos:pos + width], "big")
        pos += width
        return value

    try:
        version = read(1)
        read(3)  # flags
        sizes = read(2)
        offset_size, length_size = sizes >> 12, (sizes >> 8) & 0xF
        base_offset_size, index_size = (sizes >> 4) & 0xF, sizes & 0xF if version in (1, 2) else 0
        if version > 2:
            return
        count = read(2 if version < 2 else 4)
        for _ in range(count):
            read(2 if version < 2 else 4)  # item_ID
            method = read(2) & 0xF if version in (1, 2) else 0
            reference = read(2)
            base = read(base_offset_size)
            for _ in range(read(2)):
                if index_size:
                    read(index_size)
                offset, length = read(offset_size), read(length_size)
                if method == 0 and reference == 0:
                    yield base + offset, length
    except EOFError:
        return


def bmff_missing_bytes(path: str | Path) -> tuple[int, int] | None:
    """``(bytes the items need, bytes the file has)`` for an HEIF/AVIF file cut short, else None.

    Reads the ``iloc`` box of the top-level ``meta`` box (in the first MiB)
    and finds where the last item extent stored in this file ends. None
    when every extent lies within the file, or when the file has no
    readable ``iloc`` box (nothing to compare). Never raises for bad data;
    ``OSError`` propagates.
    """
    with open_regular(path) as f:
        data = f.read(1 << 20)
        size = os.fstat(f.fileno()).st_size
    needed = 0
    for kind, body, end in _meta_children(data):
        if kind == b"iloc":
            needed = max((offset + length for offset, length in _iloc_file_extents(data, body, end)), default=0)
    return (needed, size) if needed > size else None


def _refuse_truncated_bmff(img: Image.Image) -> None:
    """Raise ``DecodeError`` when ``img`` is an HEIF/AVIF file whose item data runs past its end."""
    path = getattr(img, "filename", None)
    if img.format not in ("HEIF", "AVIF") or not path:
        return
    try:
        missing = bmff_missing_bytes(path)
    except OSError:
        return  # the decoder reports an unreadable file itself
    if missing:
        needed, size = missing
        raise DecodeError(f"truncated or corrupt image: {img.format} file is truncated "
                          f"(its image data needs {needed} bytes, the file has {size})")


def _heif_orientation(img: Image.Image) -> int:
    """EXIF orientation to apply to a pillow-heif image, which reports 1 after its own rotation.

    HEIF states rotation/mirroring in ``irot``/``imir`` properties, which
    libheif applies while decoding; the HEIF standard says to ignore the EXIF
    tag then. Some writers (seen in ``photoprism_iphone_7.heic``) store only
    the EXIF tag, so when the file has no ``irot``/``imir`` the original EXIF
    value that pillow-heif kept in ``info["original_orientation"]`` is used.
    """
    original = img.info.get("original_orientation")
    if not isinstance(original, int) or not 2 <= original <= 8:
        return 1
    path = getattr(img, "filename", None)
    if not path:
        return 1
    try:
        kinds = {kind for kind, _ in _bmff_properties(path)}
    except OSError:
        return 1
    return 1 if kinds & {b"irot", b"imir"} else original


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGB, compositing transparency over white.

    16-bit modes (``I;16``, ``I``) are scaled to 8 bits first; CMYK goes
    through Pillow's conversion.
    """
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda v: v / 256).convert("L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return img.convert("RGB")
