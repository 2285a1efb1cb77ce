"""Camera RAW files through LibRaw (the ``rawpy`` binding): recognising them, their metadata, their pixels.

Formats are whatever the LibRaw bundled with rawpy reads (``rawpy.libraw_version``;
0.22 with rawpy 0.28): Canon CR2, CR3 and CRW, Nikon NEF and NRW, Sony ARW, SR2
and SRF, Fujifilm RAF, Olympus ORF, Panasonic RW2, Pentax PEF, Adobe DNG, Kodak
KDC and DCR, Samsung SRW, Hasselblad 3FR, Phase One IIQ, Sigma X3F, Minolta MRW
and the rest of LibRaw's camera list. ``media.RawHandler`` is the media handler
built on this module.

Recognition (``sniff_raw``) is by content. Formats with a signature of their
own are known from their first bytes (``sniff_signature``). Most RAW formats
are TIFF files, though, as are scans and editors' exports, so a TIFF header is
read further: a DNG says so in IFD0 (DNGVersion, tag 50706, which the DNG
specification requires there), a CR2 in its header, and any other TIFF is
offered to LibRaw, which parses only headers (0.1-5 ms for the test set's 15
TIFFs) and refuses a plain TIFF as "not RAW file". Those stay with the image
handler.
Signature-less formats (Phase One IIQ) are offered to LibRaw when their name is
a RAW name and their first bytes are no image format's.

Pixels (``read_raw`` for the thumbnail, ``decode_raw`` for analysis) come from
the embedded preview when it is large enough: its longest side at least the
size needed, i.e. the requested side (``THUMB_MAX_SIDE`` = 320 for thumbnails,
``ANALYSIS_MAX_SIDE`` = 2048 for analysis) or the RAW's own longest side when
that is smaller. A JPEG preview is decoded in Pillow's draft mode. Otherwise
LibRaw demosaics: half size (one RGB pixel per 2x2 sensor block, no
interpolation, about four times faster) when half of the RAW's longest side
still reaches the size needed, full size otherwise. Either way the result is
downscaled (Lanczos) to the requested side. LibRaw's ``flip`` (the file's
orientation, 0 = none, 3 = 180 degrees, 5 = 90 counter-clockwise, 6 = 90
clockwise) is applied: LibRaw applies it while demosaicing, and this module
applies it to previews, which cameras store as the sensor saw them.

Metadata (``RawMetadata``) comes from the RAW's own EXIF, read with exifread
(pure Python, maintained, reads the TIFF structure most RAW formats use without
decoding anything and gives Make and Model, which rawpy does not expose, and
the date exactly as written with its OffsetTimeOriginal). A RAW that is not a
TIFF (CR3, RAF) has its EXIF read from the embedded JPEG preview when that
carries one. Values still missing come from LibRaw (rawpy's ``other`` and
``lens``: date, ISO, aperture, shutter, focal length, lens). Width and height
are the size LibRaw decodes at (after its pixel-aspect stretch and the flip).

Integrity: LibRaw decodes some truncated files without an error (a DNG cut 12
KB short of its last tile decodes, the missing part black) and a preview may
survive a cut that loses the RAW data, so before decoding the file's layout is
checked (``missing_bytes``): the image data TIFF IFDs point at (strips, tiles,
JPEG previews), or an ISO-BMFF file's top-level boxes (CR3), must lie within
the file. On import (``read_raw``) the sensor data is also decoded (LibRaw's
``unpack``: decompression, no demosaic; 16 ms for the test DNG), so a RAW whose
data is damaged or blank (all zeros) is refused even when its preview is intact.
Each is a ``DecodeError``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import struct
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import exifread
import rawpy
from PIL import Image

from mediaapp.fsio import open_regular
from mediaapp.ingest.decode import ANALYSIS_MAX_SIDE, DecodeError, max_pixels
from mediaapp.ingest.metadata import exif_datetime, exif_text, gps_degrees
from mediaapp.ingest.scan import sniff_bytes

# exifread reports files without EXIF as log warnings; without a handler of its own Python's last-resort
# handler would print them on stderr. A NullHandler keeps them out unless the app configures logging.
logging.getLogger("exifread").addHandler(logging.NullHandler())

__all__ = ["RAW_EXTENSIONS", "RawMetadata", "decode_raw", "missing_bytes", "read_raw", "sniff_raw",
           "sniff_signature"]

#: Lower-case file name extensions of the RAW formats LibRaw reads (camera makers' names for them). A file
#: with such a name that turns out not to be a RAW file is reported, not skipped. The generic ``.raw`` is left
#: out: too many non-image files use it (Panasonic's early ``.RAW`` files are still recognised by content).
RAW_EXTENSIONS = frozenset({
    ".3fr", ".ari", ".arw", ".bay", ".cap", ".cr2", ".cr3", ".crw", ".dcr", ".dcs", ".dng", ".drf", ".eip",
    ".erf", ".fff", ".iiq", ".k25", ".kdc", ".mdc", ".mef", ".mos", ".mrw", ".nef", ".nrw", ".orf", ".pef",
    ".ptx", ".pxn", ".raf", ".rw2", ".rwl", ".rwz", ".sr2", ".srf", ".srw", ".sti", ".x3f",
})

# -- recognition -----------------------------------------------------------------------------------

_TIFF_HEADERS = (b"II*\x00", b"MM\x00*")
# Signatures from the makers' formats as LibRaw and the public format notes describe them: the
# first bytes of the file (or of the TIFF header's magic number, for ORF and RW2).
_SIGNATURES: tuple[tuple[int, bytes, str], ...] = (
    (0, b"FUJIFILMCCD-RAW", "RAF"),
    (0, b"IIRO", "ORF"), (0, b"IIRS", "ORF"), (0, b"MMOR", "ORF"),
    (0, b"IIU\x00", "RW2"),
    (0, b"\x00MRM", "MRW"),
    (0, b"FOVb", "X3F"),
    (0, b"II\x1a\x00\x00\x00HEAPCCDR", "CRW"),
)
_DNG_VERSION = 0xC612  # DNGVersion, in IFD0 of every DNG


def sniff_signature(head: bytes) -> str | None:
    """The RAW format a file starting with ``head`` (its first 32 bytes or more) is by signature, or None.

    Knows the formats whose first bytes say so: CR2 (a TIFF header followed
    by ``CR`` and major version 2), CR3 (ISO-BMFF with the ``crx `` brand),
    CRW, RAF, ORF, RW2, MRW and X3F. DNG and the other TIFF-based formats
    need more of the file: see ``sniff_raw``. Never raises.
    """
    if head[:4] == b"II*\x00" and head[8:11] == b"CR\x02":
        return "CR2"
    if head[4:12] == b"ftypcrx ":
        return "CR3"
    for offset, magic, name in _SIGNATURES:
        if head[offset:offset + len(magic)] == magic:
            return name
    return None


def sniff_raw(path: str | Path, head: bytes) -> str | None:
    """The RAW format of the file at ``path`` whose first bytes are ``head``, or None when it is not a RAW file.

    ``sniff_signature`` first. A TIFF with DNGVersion in IFD0 is ``"DNG"``.
    Any other TIFF, and a file whose head no image format claims
    (``scan.sniff_bytes``) but whose name is a RAW name (``RAW_EXTENSIONS``),
    is offered to LibRaw, which opens only headers; when it accepts the file
    the format is named after the file's extension (``"NEF"``, ``"KDC"``),
    or ``"RAW"`` when that is no RAW name. A file with a RAW name whose
    headers LibRaw starts reading but cannot finish (cut short) is claimed
    too, so that its import fails as a RAW with LibRaw's reason rather than
    as the small TIFF preview Pillow might still find. Raises ``OSError``
    when the file cannot be read (``fsio.NotRegularFileError`` for a FIFO
    or device).
    """
    found = sniff_signature(head)
    if found is not None:
        return found
    ext = os.path.splitext(os.fspath(path))[1].lower()
    if head[:4] in _TIFF_HEADERS:
        with open_regular(path) as f:
            if _tiff_walk(f, os.fstat(f.fileno()).st_size, ifd0_only=True).dng:
                return "DNG"
    elif sniff_bytes(head) is not None or ext not in RAW_EXTENSIONS:
        return None
    verdict = _libraw_verdict(path)
    if verdict is False or (verdict is None and ext not in RAW_EXTENSIONS):
        return None
    return ext[1:].upper() if ext in RAW_EXTENSIONS else "RAW"


def _libraw_verdict(path: str | Path) -> bool | None:
    """LibRaw's verdict on the file at ``path`` from its headers alone.

    True: a RAW it reads; False: not a RAW it knows; None: it broke off
    reading (an I/O or data error: a file cut short). Raises ``OSError``.
    """
    try:
        with _opened(path):
            return True
    except DecodeError as exc:
        return None if isinstance(exc.__cause__, (rawpy.LibRawIOError, rawpy.LibRawDataError)) else False


# -- integrity -------------------------------------------------------------------------------------

# TIFF field types (TIFF 6.0 section 2, plus BigTIFF's IFD type 13): byte size of one value.
_TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
# Magic numbers after the byte order mark: TIFF's 42, Olympus ORF's "RO"/"RS", Panasonic RW2's 0x55.
_TIFF_MAGICS = {42, 0x4F52, 0x5352, 0x55}
# (offsets tag, byte counts tag): strips, tiles, and the old-style JPEG (TIFF 6.0) many previews use.
_EXTENT_TAGS = ((0x0111, 0x0117), (0x0144, 0x0145), (0x0201, 0x0202))
_SUB_IFDS = 0x014A
_MAX_IFDS = 64             # a RAW has a handful; more means a loop or garbage
_MAX_ENTRIES = 1024        # entries in one IFD
_MAX_VALUES = 1 << 16      # strips or tiles in one IFD read for the check


@dataclass(slots=True)
class _TiffLayout:
    """What ``_tiff_walk`` found: DNGVersion in IFD0; ``(offset, length)`` in bytes of each image data extent."""

    dng: bool = False
    extents: list[tuple[int, int]] = field(default_factory=list)


def _tiff_walk(f: BinaryIO, size: int, *, ifd0_only: bool = False) -> _TiffLayout:
    """Walk the IFDs of the TIFF-structured file ``f`` (``size`` bytes): IFD0's chain and every SubIFD.

    ``ifd0_only``: stop after IFD0 (enough to tell a DNG). Bounded
    (``_MAX_IFDS`` IFDs, ``_MAX_ENTRIES`` entries each, each IFD visited
    once). Anything malformed ends that part of the walk; never raises for
    bad data (``OSError`` propagates).
    """
    layout = _TiffLayout()
    f.seek(0)
    header = f.read(8)
    if len(header) < 8 or header[:2] not in (b"II", b"MM"):
        return layout
    order = "<" if header[:2] == b"II" else ">"
    magic, first = struct.unpack(order + "HI", header[2:8])
    if magic not in _TIFF_MAGICS:
        return layout
    todo: list[tuple[int, bool]] = [(first, True)]
    seen: set[int] = set()
    while todo and len(seen) < _MAX_IFDS:
        offset, is_ifd0 = todo.pop()
        if offset in seen or not 8 <= offset < size:
            continue
        seen.add(offset)
        entries, following = _read_ifd(f, order, offset, size)
        if is_ifd0 and _DNG_VERSION in entries:
            layout.dng = True
        if ifd0_only:
            break
        todo.extend((sub, False) for sub in _values(f, order, entries.get(_SUB_IFDS), size))
        for offsets_tag, counts_tag in _EXTENT_TAGS:
            offsets = _values(f, order, entries.get(offsets_tag), size)
            counts = _values(f, order, entries.get(counts_tag), size)
            layout.extents.extend(zip(offsets, counts))
        if following:
            todo.append((following, False))  # IFD1 (often a thumbnail) and on
    return layout


_Entry = tuple[int, int, bytes]  # (type, count, the 4-byte value or offset field)


def _read_ifd(f: BinaryIO, order: str, offset: int, size: int) -> tuple[dict[int, _Entry], int]:
    """The entries of the IFD at ``offset`` (tag -> ``_Entry``) and the offset of the next IFD (0: none)."""
    f.seek(offset)
    raw_count = f.read(2)
    if len(raw_count) < 2:
        return {}, 0
    count = min(struct.unpack(order + "H", raw_count)[0], _MAX_ENTRIES)
    data = f.read(12 * count + 4)
    count = min(count, len(data) // 12)
    entries: dict[int, _Entry] = {}
    for i in range(count):
        tag, kind, n = struct.unpack_from(order + "HHI", data, 12 * i)
        entries[tag] = (kind, n, data[12 * i + 8:12 * i + 12])
    following = struct.unpack_from(order + "I", data, 12 * count)[0] if len(data) >= 12 * count + 4 else 0
    return entries, following


def _values(f: BinaryIO, order: str, entry: _Entry | None, size: int) -> list[int]:
    """The unsigned integer values (SHORT, LONG or IFD type) of one IFD entry; [] for any other type or bad data."""
    if entry is None:
        return []
    kind, count, field = entry
    codes = {3: "H", 4: "I", 13: "I"}
    if kind not in codes or not 0 < count <= _MAX_VALUES:
        return []
    nbytes = count * _TYPE_SIZES[kind]
    if nbytes <= 4:
        data = field[:nbytes]
    else:
        where = struct.unpack(order + "I", field)[0]
        if where + nbytes > size:
            return []
        f.seek(where)
        data = f.read(nbytes)
        if len(data) < nbytes:
            return []
    return list(struct.unpack(f"{order}{count}{codes[kind]}", data))


def _bmff_needed(f: BinaryIO, size: int) -> int:
    """Where the last top-level ISO-BMFF box of ``f`` ends by its declared size (ISO/IEC 14496-12 4.2)."""
    pos, end = 0, 0
    for _ in range(10000):
        if pos + 8 > size:
            break
        f.seek(pos)
        header = f.read(16)
        box, _kind = struct.unpack_from(">I4s", header)
        if box == 1 and len(header) >= 16:
            box = struct.unpack_from(">Q", header, 8)[0]
        elif box == 0:
            box = size - pos
        if box < 8:
            break
        end = pos + box
        pos = end
    return end


def missing_bytes(path: str | Path) -> tuple[int, int] | None:
    """``(bytes the image data needs, bytes the file has)`` for a RAW file cut short, else None.

    For TIFF-structured files (DNG, CR2, NEF, ARW, ORF, RW2, KDC, ...): the
    furthest end of the strips, tiles and JPEG previews the IFDs point at
    (``_tiff_walk``). For ISO-BMFF files (CR3): the end of the last top-level
    box. Other containers (RAF, CRW, MRW, X3F) are not checked: None. Raises
    ``OSError`` when the file cannot be read.
    """
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        return _missing(f, size)


def _missing(f: BinaryIO, size: int) -> tuple[int, int] | None:
    """``missing_bytes`` on an open file of ``size`` bytes."""
    f.seek(0)
    head = f.read(12)
    if head[4:8] == b"ftyp":
        needed = _bmff_needed(f, size)
    else:
        extents = _tiff_walk(f, size).extents
        needed = max((offset + length for offset, length in extents), default=0)
    return (needed, size) if needed > size else None


# -- LibRaw ----------------------------------------------------------------------------------------

@contextlib.contextmanager
def _libraw_errors() -> Iterator[None]:
    """Translate rawpy's exceptions into ``DecodeError`` with a readable reason."""
    try:
        yield
    except rawpy.LibRawFileUnsupportedError as exc:
        version = ".".join(map(str, rawpy.libraw_version))
        raise DecodeError(f"not a RAW file LibRaw {version} reads ({_text(exc)})") from exc
    except (rawpy.LibRawTooBigError, rawpy.LibRawMemPoolOverflowError) as exc:
        raise DecodeError(f"RAW image too large to decode safely ({_text(exc)})") from exc
    except (rawpy.LibRawUnsufficientMemoryError, MemoryError) as exc:
        raise DecodeError("not enough memory to decode this RAW file") from exc
    except (rawpy.LibRawDataError, rawpy.LibRawIOError) as exc:
        raise DecodeError(f"truncated or corrupt RAW data ({_text(exc)})") from exc
    except (rawpy.LibRawError, rawpy.NotSupportedError) as exc:
        raise DecodeError(f"LibRaw cannot decode this RAW file ({_text(exc)})") from exc


def _text(exc: BaseException) -> str:
    """rawpy's message (it passes LibRaw's C string as bytes) as text."""
    arg = exc.args[0] if exc.args else ""
    text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)
    return text or type(exc).__name__


def _libraw_name(f: BinaryIO, path: str | Path) -> str | None:
    """A name LibRaw can open for the already open ``f``, or None (then the file is handed over in memory).

    On Linux ``/proc/self/fd/N`` reopens the very file ``fsio.open_regular``
    checked (no FIFO put in its place meanwhile) whatever bytes its name
    holds. Elsewhere the path, unless it is not UTF-8 (rawpy encodes it so).
    """
    proc = f"/proc/self/fd/{f.fileno()}"
    if sys.platform.startswith("linux") and os.path.exists(proc):
        return proc
    name = os.fspath(path)
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return name


@contextlib.contextmanager
def _opened(path: str | Path, check: bool = False) -> Iterator[tuple[rawpy.RawPy, BinaryIO, int]]:
    """``(LibRaw handle with headers parsed, the open file, its size in bytes)``; closed afterwards.

    ``check``: refuse a file cut short (``missing_bytes``) first. Raises
    ``DecodeError`` for a file LibRaw refuses, ``OSError`` for one that
    cannot be read.
    """
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if check:
            missing = _missing(f, size)
            if missing:
                raise DecodeError(f"truncated RAW file: its image data needs {missing[0]} bytes, "
                                  f"the file has {missing[1]}")
            f.seek(0)
        raw = rawpy.RawPy()
        try:
            with _libraw_errors():
                name = _libraw_name(f, path)
                if name is None:
                    raw.open_buffer(f)
                else:
                    raw.open_file(name)
            yield raw, f, size
        finally:
            raw.close()


# LibRaw's flip (dcraw's: bit 4 swaps the axes, then bit 2 mirrors rows, bit 1 columns) -> the Pillow
# transpose that shows the picture upright. dcraw maps EXIF orientation 1-8 to flip 0, 1, 3, 2, 4, 6, 7, 5.
_FLIP_TRANSPOSE = {
    1: Image.Transpose.FLIP_LEFT_RIGHT,
    2: Image.Transpose.FLIP_TOP_BOTTOM,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.TRANSPOSE,
    5: Image.Transpose.ROTATE_90,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
}


def _display_size(sizes: Any) -> tuple[int, int]:
    """``(width, height)`` in pixels LibRaw's full-size decode gives: pixel-aspect stretch, then the flip.

    LibRaw stretches non-square pixels the way dcraw's ``stretch`` does:
    rows when the aspect is below 1, columns above.
    """
    width, height, aspect = int(sizes.width), int(sizes.height), float(sizes.pixel_aspect or 1.0)
    if aspect < 1.0:
        height = int(height / aspect + 0.5)
    elif aspect > 1.0:
        width = int(width * aspect + 0.5)
    if int(sizes.flip) & 4:
        width, height = height, width
    return width, height


@dataclass(slots=True)
class RawMetadata:
    """What ``read_raw`` learned of a RAW file; plain data. Unknown values are None.

    ``width``/``height``: pixels of LibRaw's full-size decode, after its
    orientation; ``flip``: LibRaw's orientation code (0 none, 3 180 degrees,
    5 90 counter-clockwise, 6 90 clockwise; 1, 2, 4, 7 mirrored);
    ``taken_at``: ISO 8601 ``YYYY-MM-DDTHH:MM:SS`` (plus ``+hh:mm`` when
    OffsetTimeOriginal says); ``camera_make``/``camera_model``: EXIF
    Make/Model; ``gps_lat``/``gps_lon``: decimal degrees, south and west
    negative; ``lens``: lens model; ``iso``: ISO speed; ``f_number``: the
    aperture as an f-number; ``exposure_time``: shutter time in seconds;
    ``focal_length``: millimetres. The catalog stores the first group
    (``media.MediaInfo``); it has no place for the exposure fields yet.
    """

    width: int
    height: int
    flip: int = 0
    taken_at: str | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    lens: str | None = None
    iso: float | None = None
    f_number: float | None = None
    exposure_time: float | None = None
    focal_length: float | None = None


def read_raw(path: str | Path, thumb_side: int | None = None) -> tuple[RawMetadata, Image.Image | None]:
    """The metadata of the RAW file at ``path`` and, when ``thumb_side`` is given, its picture for a thumbnail.

    One LibRaw open for both. The picture is RGB, upright, its longest side
    at most ``thumb_side`` pixels (the preview when large enough, else a
    half-size demosaic; see the module doc). The sensor data is decoded
    either way, to refuse a damaged RAW now rather than at analysis.
    Raises ``DecodeError`` for a file cut short (``missing_bytes``), one
    LibRaw refuses or cannot decode, one whose sensor data is all zeros, or
    one over Pillow's decompression-bomb limit (``decode.max_pixels``), and
    ``OSError`` for one that cannot be read.
    """
    with _opened(path, check=True) as (raw, f, _size):
        sizes = raw.sizes
        _refuse_too_large(sizes)
        with _libraw_errors():
            raw.unpack()
            blank = not raw.raw_image_visible.any()
        if blank:
            raise DecodeError("the RAW file's image data is blank (all zeros)")
        width, height = _display_size(sizes)
        preview = _extract_preview(raw)
        f.seek(0)
        tags = _exif(f) if f.read(2) in (b"II", b"MM") else {}
        if "Image Make" not in tags and isinstance(preview, bytes):
            tags = _exif(io.BytesIO(preview)) or tags
        meta = _metadata(tags, raw, width, height, int(sizes.flip))
        picture = None
        if thumb_side:
            picture = _picture(raw, preview, int(sizes.flip), min(thumb_side, max(width, height)), max(width, height))
        return meta, picture


def decode_raw(path: str | Path, max_side: int = ANALYSIS_MAX_SIDE) -> Image.Image:
    """The RAW file at ``path`` as an upright RGB picture whose longest side is at most ``max_side`` pixels.

    The preview when its longest side reaches ``max_side`` (or the RAW's own
    longest side, when smaller), else LibRaw's demosaic, half size when that
    is enough (see the module doc). Raises ``DecodeError`` and ``OSError``
    as ``read_raw`` does.
    """
    with _opened(path, check=True) as (raw, _f, _size):
        sizes = raw.sizes
        _refuse_too_large(sizes)
        longest = max(_display_size(sizes))
        return _picture(raw, _extract_preview(raw), int(sizes.flip), min(max_side, longest), longest)


def _refuse_too_large(sizes: Any) -> None:
    """Raise ``DecodeError`` when the RAW has more pixels than ``decode.max_pixels`` allows images."""
    limit = max_pixels()
    pixels = int(sizes.raw_width) * int(sizes.raw_height)
    if limit is not None and pixels > limit:
        raise DecodeError(f"image too large to decode safely: the RAW holds {pixels / 1e6:.0f} Mpx "
                          f"(limit {limit / 1e6:.0f} Mpx)")


# -- pixels ----------------------------------------------------------------------------------------

def _extract_preview(raw: rawpy.RawPy) -> bytes | Any | None:
    """LibRaw's embedded preview: JPEG bytes, an RGB ``uint8`` array (H x W x 3), or None when there is none.

    A preview LibRaw cannot extract (missing, unsupported, damaged) is None:
    the RAW data may still decode.
    """
    try:
        thumb = raw.extract_thumb()
    except rawpy.LibRawError:
        return None
    if thumb.format == rawpy.ThumbFormat.JPEG:
        return bytes(thumb.data)
    data: Any = thumb.data
    return data if getattr(data, "ndim", 0) == 3 and data.shape[2] == 3 else None


def _picture(raw: rawpy.RawPy, preview: bytes | Any | None, flip: int, need: int, longest: int) -> Image.Image:
    """Upright RGB with longest side ``need`` pixels at most: the preview if it reaches ``need``, else a demosaic.

    ``longest``: the longest side of LibRaw's full-size decode, in pixels.
    """
    img = _open_preview(preview, need)
    if img is not None:
        method = _FLIP_TRANSPOSE.get(flip)
        return img.transpose(method) if method is not None else img
    return _fit(Image.fromarray(_demosaic(raw, half=(longest + 1) // 2 >= need)), need)


def _demosaic(raw: rawpy.RawPy, half: bool) -> Any:
    """LibRaw's picture as an 8-bit sRGB ``uint8`` array (H x W x 3), upright (LibRaw applies the flip).

    ``half``: half size, one RGB pixel per 2x2 sensor block. The camera's
    white balance, LibRaw's default demosaic (AHD) and brightness otherwise.
    Raises ``DecodeError``.
    """
    with _libraw_errors():
        return raw.postprocess(half_size=half, use_camera_wb=True, output_bps=8)


def _open_preview(preview: bytes | Any | None, need: int) -> Image.Image | None:
    """The preview decoded to RGB within ``need`` pixels, or None when it is missing, too small or broken."""
    if preview is None:
        return None
    img: Image.Image
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if isinstance(preview, bytes):
                img = Image.open(io.BytesIO(preview), formats=["JPEG"])
                if max(img.size) < need:
                    return None
                img.draft("RGB", (need, need))
                img.load()
            else:
                img = Image.fromarray(preview)
                if max(img.size) < need:
                    return None
            icc = img.info.get("icc_profile") if img.mode == "RGB" else None
            out = _fit(img.convert("RGB") if img.mode != "RGB" else img, need)
    except (OSError, SyntaxError, ValueError, EOFError, struct.error, Image.DecompressionBombError):
        return None
    out.info = {"icc_profile": icc} if icc else {}
    return out


def _fit(img: Image.Image, need: int) -> Image.Image:
    """``img`` downscaled (Lanczos) so its longest side is at most ``need`` pixels (a copy either way)."""
    if max(img.size) <= need:
        return img.copy()
    scale = need / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    return img.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


# -- metadata --------------------------------------------------------------------------------------

def _exif(f: BinaryIO) -> dict[str, Any]:
    """exifread's tags of ``f`` (``"Image Make"`` -> ``IfdTag``), MakerNotes skipped; {} when unreadable.

    Called on TIFF-structured files and JPEG previews only: exifread logs a
    warning for any other container.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tags = exifread.process_file(f, details=False, extract_thumbnail=False)
    except Exception:  # corrupt EXIF never stops an import: the fields are then None
        return {}
    return tags if isinstance(tags, dict) else {}


def _tag(tags: dict[str, Any], name: str) -> Any:
    """The values of EXIF tag ``name`` from the EXIF sub-IFD, else from IFD0 (TIFF/EP cameras put them there)."""
    for ifd in ("EXIF", "Image"):
        tag = tags.get(f"{ifd} {name}")
        if tag is not None:
            return getattr(tag, "values", None)
    return None


def _number(value: Any) -> float | None:
    """The first value of a numeric EXIF tag (a ratio or an integer) as a float, or None."""
    if isinstance(value, (list, tuple)):
        value = value[0] if value else None
    try:
        number = float(value) if value is not None else None
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    return number if number is not None and number == number and number > 0 else None


def _metadata(tags: dict[str, Any], raw: rawpy.RawPy, width: int, height: int, flip: int) -> RawMetadata:
    """``RawMetadata`` from exifread's ``tags``, completed from LibRaw's own reading of the file."""
    meta = RawMetadata(width=width, height=height, flip=flip,
                       camera_make=exif_text(_tag(tags, "Make")), camera_model=exif_text(_tag(tags, "Model")),
                       taken_at=exif_datetime(exif_text(_tag(tags, "DateTimeOriginal")),
                                      exif_text(_tag(tags, "OffsetTimeOriginal"))),
                       lens=exif_text(_tag(tags, "LensModel")), iso=_number(_tag(tags, "ISOSpeedRatings")),
                       f_number=_number(_tag(tags, "FNumber")),
                       exposure_time=_number(_tag(tags, "ExposureTime")),
                       focal_length=_number(_tag(tags, "FocalLength")))
    lat = gps_degrees(_gps(tags, "GPSLatitude"), _gps(tags, "GPSLatitudeRef"), "S", 90.0)
    lon = gps_degrees(_gps(tags, "GPSLongitude"), _gps(tags, "GPSLongitudeRef"), "W", 180.0)
    if lat is not None and lon is not None:
        meta.gps_lat, meta.gps_lon = lat, lon
    try:
        other, lens = raw.other, raw.lens
    except (rawpy.LibRawError, AttributeError, ValueError, OverflowError, OSError):  # older rawpy; a wild date
        return meta
    if meta.taken_at is None and other.timestamp and other.timestamp != datetime.fromtimestamp(0):
        # LibRaw turns the file's local date into a time_t with mktime() and rawpy back with
        # fromtimestamp(): the same local time zone both ways gives the date as written.
        meta.taken_at = other.timestamp.strftime("%Y-%m-%dT%H:%M:%S")
    meta.lens = meta.lens or exif_text(lens.model)
    meta.iso = meta.iso or _number(other.iso_speed)
    meta.f_number = meta.f_number or _number(other.aperture)
    meta.exposure_time = meta.exposure_time or _number(other.shutter_speed)
    meta.focal_length = meta.focal_length or _number(other.focal_length)
    return meta


def _gps(tags: dict[str, Any], name: str) -> Any:
    """The values of GPS tag ``name``, or None."""
    tag = tags.get(f"GPS {name}")
    return getattr(tag, "values", None) if tag is not None else None
