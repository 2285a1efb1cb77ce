"""Image metadata for the catalog: display size, capture date, camera and GPS.

Everything comes from the image header and EXIF through Pillow's
``getexif()`` and ``get_ifd()``; no pixels are decoded (except for PNGs whose
EXIF chunk follows the image data, which Pillow must read through: pixels that
do not decode then raise ``DecodeError``, see
``decode.load_if_exif_follows_pixels``). Corrupt or missing EXIF never raises:
the affected fields are simply None. Tag numbers are from the EXIF 2.3
specification (CIPA DC-008).
"""

from __future__ import annotations

import math
import re
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

from PIL import ExifTags, Image

from mediaapp.ingest.decode import exif_orientation, load_if_exif_follows_pixels, open_image

_MAKE, _MODEL = 0x010F, 0x0110
_DATETIME_ORIGINAL, _OFFSET_TIME_ORIGINAL = 0x9003, 0x9011
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON = 1, 2, 3, 4
_TIFF_WIDTH, _TIFF_LENGTH = 256, 257

_EXIF_DATE = re.compile(r"^\s*(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})")
_EXIF_OFFSET = re.compile(r"^\s*([+-])(\d{2}):(\d{2})\s*$")

# Pillow names MPO (multi-picture JPEG) separately; to the library it is a JPEG.
_FORMAT_ALIASES = {"MPO": "JPEG"}


def read_metadata(img_or_path: Image.Image | str | Path) -> dict[str, Any]:
    """Read the catalog metadata of an image.

    ``img_or_path``: a path, or a Pillow image fresh from ``Image.open`` /
    ``decode.open_image`` (not yet ``load()``-ed or drafted: draft mode
    shrinks ``size``). Returns a dict with:

    - ``width``, ``height``: pixels after EXIF orientation (orientations 5-8
      swap the stored width and height);
    - ``format``: Pillow's format name, MPO reported as ``"JPEG"``;
    - ``orientation``: EXIF Orientation 1-8 as Pillow reports it (1 when
      absent; pillow-heif reports 1 because it applies HEIF's rotation itself);
    - ``taken_at``: EXIF DateTimeOriginal as ISO 8601 ``YYYY-MM-DDTHH:MM:SS``,
      followed by OffsetTimeOriginal (``+02:00``) when present; None when
      missing or not a real date (e.g. ``0000:00:00 00:00:00``);
    - ``camera_make``, ``camera_model``: EXIF Make/Model, stripped, or None;
    - ``gps_lat``, ``gps_lon``: decimal degrees (south and west negative,
      from GPSLatitudeRef/GPSLongitudeRef; a missing Ref counts as N/E), or
      None when absent or out of range.

    Never raises for bad EXIF. Raises ``decode.DecodeError`` when the file is
    not a decodable image (with a path), or when its EXIF can only be reached
    through pixels that do not decode (a PNG whose ``eXIf`` chunk follows a
    corrupt or truncated image data stream); ``OSError`` when it cannot be read.
    """
    if not isinstance(img_or_path, Image.Image):
        with open_image(img_or_path) as img:
            return read_metadata(img)
    img = img_or_path
    load_if_exif_follows_pixels(img)  # else a pixel decode failure would pass for "no EXIF"
    orientation = exif_orientation(img)
    width, height = _stored_size(img)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    meta: dict[str, Any] = {
        "width": width, "height": height,
        "format": _FORMAT_ALIASES.get(img.format or "", img.format),
        "orientation": orientation, "taken_at": None,
        "camera_make": None, "camera_model": None, "gps_lat": None, "gps_lon": None,
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns "Corrupt EXIF data" and carries on
        try:
            exif = img.getexif()
        except Exception:
            return meta
        for key, tag in (("camera_make", _MAKE), ("camera_model", _MODEL)):
            meta[key] = _guarded(lambda tag=tag: exif_text(exif.get(tag)))
        meta["taken_at"] = _guarded(lambda: _taken_at(exif.get_ifd(ExifTags.IFD.Exif)))
        gps = _guarded(lambda: _gps(exif.get_ifd(ExifTags.IFD.GPSInfo)))
        if gps:
            meta["gps_lat"], meta["gps_lon"] = gps
    return meta


def _guarded(read):
    """Run one field reader; any exception from corrupt EXIF means None."""
    try:
        return read()
    except Exception:
        return None


def _stored_size(img: Image.Image) -> tuple[int, int]:
    """Width and height in pixels as stored, before orientation.

    Pillow's TIFF plugin already reports the oriented size for TIFFs with
    orientation 5-8, so for TIFF the ImageWidth/ImageLength tags are used.
    """
    tags = getattr(img, "tag_v2", None)
    if img.format == "TIFF" and tags is not None:
        w, h = tags.get(_TIFF_WIDTH), tags.get(_TIFF_LENGTH)
        if isinstance(w, int) and isinstance(h, int):
            return w, h
    return img.size


def exif_text(value: Any) -> str | None:
    """An EXIF ASCII value (``str`` or ``bytes``) as clean text (NULs and surrounding spaces removed), or None.

    Shared by every EXIF reader (Pillow's here, exifread's for RAW files in ``mediaapp.ingest.raw``).
    """
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str):
        return None
    value = value.replace("\x00", "").strip()
    return value or None


def exif_datetime(text: str | None, offset: str | None = None) -> str | None:
    """EXIF ``YYYY:MM:DD HH:MM:SS`` (dashes and a ``T`` accepted too) as ISO 8601 ``YYYY-MM-DDTHH:MM:SS``.

    ``offset`` (EXIF OffsetTime*, ``+hh:mm``) is appended when valid (at
    most 14 hours). None for a missing or impossible date
    (``0000:00:00 00:00:00``, month 13).
    """
    match = _EXIF_DATE.match(text or "")
    if not match:
        return None
    try:
        stamp = datetime(*(int(part) for part in match.groups()))
    except ValueError:  # 0000:00:00, month 13, ...
        return None
    iso = stamp.strftime("%Y-%m-%dT%H:%M:%S")
    zone = _EXIF_OFFSET.match(offset or "")
    if zone and int(zone[2]) <= 14 and int(zone[3]) < 60:
        iso += f"{zone[1]}{zone[2]}:{zone[3]}"
    return iso


def _taken_at(exif_ifd: Any) -> str | None:
    """DateTimeOriginal (+ OffsetTimeOriginal) from the EXIF sub-IFD as ISO 8601, or None."""
    return exif_datetime(exif_text(exif_ifd.get(_DATETIME_ORIGINAL)),
                         exif_text(exif_ifd.get(_OFFSET_TIME_ORIGINAL)))


def _gps(gps_ifd: Any) -> tuple[float, float] | None:
    """``(latitude, longitude)`` in decimal degrees from the GPS IFD, or None."""
    lat = gps_degrees(gps_ifd.get(_GPS_LAT), gps_ifd.get(_GPS_LAT_REF), "S", 90.0)
    lon = gps_degrees(gps_ifd.get(_GPS_LON), gps_ifd.get(_GPS_LON_REF), "W", 180.0)
    if lat is None or lon is None:
        return None
    return lat, lon


def gps_degrees(dms: Any, ref: Any, negative_ref: str, limit: float) -> float | None:
    """EXIF GPS degrees/minutes/seconds (1 to 3 rationals) to signed decimal degrees within +-``limit``, or None.

    ``ref`` (GPSLatitudeRef/GPSLongitudeRef) starting with ``negative_ref``
    ("S" or "W") makes the value negative; a missing ``ref`` counts as
    north/east. Values that are not numbers or lie outside the range give None.
    """
    if dms is None:
        return None
    parts = dms if isinstance(dms, (tuple, list)) else (dms,)
    if not 1 <= len(parts) <= 3:
        return None
    try:
        value = sum(float(part) / 60 ** i for i, part in enumerate(parts))
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if not math.isfinite(value) or not 0 <= value <= limit:
        return None
    if (exif_text(ref) or "").upper().startswith(negative_ref):
        value = -value
    return value
