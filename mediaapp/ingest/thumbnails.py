"""Content-addressed JPEG thumbnails.

A thumbnail lives at ``<dest_dir>/<first 2 hex of sha256>/<sha256>.jpg``, so
identical files share one thumbnail and a thumbnail that exists is never
rebuilt. Files are written atomically (``write_jpeg``), so readers never see
a half-written JPEG. Pixels with an
embedded ICC profile (Display P3 phone photos, Adobe RGB) are converted to
sRGB, the colour space viewers assume for untagged JPEGs; the thumbnail
carries no metadata.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

from PIL import Image, ImageCms

from mediaapp.fsio import atomic_writer
from mediaapp.ingest.decode import open_rgb

THUMB_MAX_SIDE = 320
"""Default longest side of a thumbnail, in pixels."""
JPEG_QUALITY = 85
"""Pillow JPEG quality (1-95) for thumbnails: small files, no visible blocking at 320 px."""

_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_SRGB = ImageCms.createProfile("sRGB")
_transforms: dict[bytes, ImageCms.ImageCmsTransform | None] = {}


def thumbnail_path(dest_dir: str | Path, sha256: str) -> str:
    """Where the thumbnail of the asset ``sha256`` lives: ``dest_dir/ab/<sha256>.jpg``.

    Raises ``ValueError`` unless ``sha256`` is 64 lowercase hex characters
    (which also keeps the path inside ``dest_dir``).
    """
    if not _SHA256_HEX.match(sha256):
        raise ValueError(f"not a lowercase hex SHA-256: {sha256!r}")
    return os.path.join(os.fspath(dest_dir), sha256[:2], sha256 + ".jpg")


def save_thumbnail(img: Image.Image, dest_dir: str | Path, sha256: str,
                   max_side: int = THUMB_MAX_SIDE) -> str:
    """Write ``img`` (already orientation-corrected RGB) as the thumbnail of ``sha256``.

    Downscales further if its longest side exceeds ``max_side`` pixels,
    converts an embedded ICC profile to sRGB, and saves JPEG quality
    ``JPEG_QUALITY`` atomically. Skips the work when the thumbnail exists.
    Returns the thumbnail path. Raises ``ValueError`` for a malformed
    ``sha256`` and ``OSError`` when the file cannot be written.
    """
    target = thumbnail_path(dest_dir, sha256)
    if os.path.exists(target):
        return target
    if max(img.size) > max_side:
        img = img.copy()
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return write_jpeg(_to_srgb(img), target, JPEG_QUALITY)


def write_jpeg(img: Image.Image, target: str | os.PathLike, quality: int) -> str:
    """Save ``img`` (converted to RGB) as a JPEG at ``target`` atomically, readable by its owner only.

    Through ``mediaapp.fsio.atomic_writer``: a new temporary file in the
    target's folder (created when missing), size-checked and ``fsync``-ed,
    then renamed, so readers never see a half-written file and a full disk
    leaves no truncated one under the final name. The file gets mode 0600
    (thumbnails and face crops show the owner's photos). Returns ``target``
    as a string. Raises ``OSError`` when the file cannot be written.
    """
    target = os.fspath(target)
    if img.mode != "RGB":
        img = img.convert("RGB")
    with atomic_writer(target) as f:
        img.save(f, "JPEG", quality=quality)
    return target


def make_thumbnail(path: str | Path, dest_dir: str | Path, sha256: str,
                   max_side: int = THUMB_MAX_SIDE) -> str:
    """Decode ``path`` and write its thumbnail (longest side ``max_side`` pixels, orientation applied).

    Uses ``decode.open_rgb`` (JPEG draft mode: decodes at 1/2-1/8 scale).
    Returns the existing thumbnail without decoding when it is already there.
    Raises ``decode.DecodeError`` for undecodable images, ``ValueError`` for
    a malformed ``sha256`` and ``OSError`` for I/O failures.
    """
    target = thumbnail_path(dest_dir, sha256)
    if os.path.exists(target):
        return target
    return save_thumbnail(open_rgb(path, max_side), dest_dir, sha256, max_side)


def _to_srgb(img: Image.Image) -> Image.Image:
    """Convert ``img`` from its embedded ICC profile to sRGB; unchanged if none or on failure.

    Transforms are cached per profile (a worker sees the same few camera
    profiles over and over); profiles that describe themselves as sRGB are
    left alone.
    """
    icc = img.info.get("icc_profile")
    if not icc or img.mode != "RGB":
        return img
    key = hashlib.sha1(icc).digest()
    if key not in _transforms:
        try:
            profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            if "srgb" in ImageCms.getProfileDescription(profile).lower():
                _transforms[key] = None
            else:
                _transforms[key] = ImageCms.buildTransform(profile, _SRGB, "RGB", "RGB")
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            _transforms[key] = None
    transform = _transforms[key]
    if transform is None:
        return img
    try:
        return ImageCms.applyTransform(img, transform)
    except (ImageCms.PyCMSError, ValueError):
        return img
