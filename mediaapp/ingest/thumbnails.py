"""Content-addressed JPEG thumbnails.

A thumbnail lives at ``<dest_dir>/<first 2 hex of sha256>/<sha256>.jpg``, so
identical files share one thumbnail, and a thumbnail that exists and decodes
is never rebuilt (``thumbnail_decodes``: one ~320 px JPEG decode, never the
original). One that does not decode (left truncated by an older version,
which wrote in place) is made again from the original. Files are written
atomically (``write_jpeg``), so readers never see a half-written JPEG; a write
that fails says why in plain words (``write_failure``: "disk full: ...").
Pixels with an
embedded ICC profile (Display P3 phone photos, Adobe RGB) are converted to
sRGB, the colour space viewers assume for untagged JPEGs; the thumbnail
carries no metadata.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageCms

from mediaapp.failures import classify
from mediaapp.fsio import atomic_writer
from mediaapp.ingest.decode import DecodeError, load_rgb, open_image, open_rgb
from mediaapp.ingest.hashing import sha256_file

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
    ``JPEG_QUALITY`` atomically. Skips the work when the thumbnail exists
    and decodes (``thumbnail_decodes``); one that does not is replaced.
    Returns the thumbnail path. Raises ``ValueError`` for a malformed
    ``sha256`` and ``OSError`` when the file cannot be written.
    """
    target = thumbnail_path(dest_dir, sha256)
    if thumbnail_decodes(target):
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
    Returns an existing thumbnail that decodes without reading the original
    (``thumbnail_decodes`` decodes the thumbnail only); one that does not
    decode (truncated, not a JPEG) is rebuilt. Raises ``decode.DecodeError``
    for undecodable images, ``ValueError`` for a malformed ``sha256`` and
    ``OSError`` for I/O failures.
    """
    target = thumbnail_path(dest_dir, sha256)
    if thumbnail_decodes(target, max_side):
        return target
    return save_thumbnail(open_rgb(path, max_side), dest_dir, sha256, max_side)


def thumbnail_decodes(path: str | os.PathLike, max_side: int = THUMB_MAX_SIDE) -> bool:
    """Whether ``path`` is a JPEG that decodes to its end: a usable thumbnail.

    False when the file is missing, cannot be read, is not a JPEG, or is
    truncated or corrupt. Cheap: a thumbnail is at most ``max_side`` pixels
    (default ``THUMB_MAX_SIDE``, about 320), and a larger file found there is
    decoded in JPEG draft mode at that scale. Never raises.
    """
    try:
        with open_image(path, ("JPEG",)) as img:
            load_rgb(img, max_side)
    except (DecodeError, OSError):
        return False
    return True


def write_failure(exc: OSError, target: str | os.PathLike) -> str:
    """The reason, in plain words, that the thumbnail ``target`` could not be written (``OSError`` ``exc``).

    Conditions ``mediaapp.failures.classify`` knows come first by their short
    name, then its advice: ``"disk full: the thumbnail <target> cannot be
    written: the disk is full; free some space and try again ..."`` for
    ``ENOSPC``/``EDQUOT``, ``"read-only: ..."`` for a read-only folder.
    Others give ``"cannot write thumbnail <target>: <strerror>"``. Never raises.
    """
    target = os.fspath(target)
    known = classify(exc, f"the thumbnail {target}")
    if known is not None:
        return f"{known.condition.value}: {known.message}"
    return f"cannot write thumbnail {target}: {exc.strerror or exc}"


def ensure_thumbnail(thumb: str | os.PathLike, original: str | os.PathLike,
                     max_side: int = THUMB_MAX_SIDE,
                     decode: Callable[[str | os.PathLike, int], Image.Image] = open_rgb) -> str | None:
    """Make the stored thumbnail ``thumb`` usable again, rebuilding it from ``original`` when it does not decode.

    ``thumb``: a path ``thumbnail_path`` made (``<dest_dir>/ab/<sha256>.jpg``);
    ``original``: a file imported with that sha256. A thumbnail that decodes
    (``thumbnail_decodes``) is left alone and the original is not read.
    Otherwise the original is hashed (a streaming read) and, when its
    content is still that sha256, decoded at ``max_side`` pixels with
    ``decode(original, max_side)`` (an upright RGB image; the default,
    ``decode.open_rgb``, reads what Pillow reads: pass
    ``media.open_for_analysis`` for camera RAW files too) and the
    thumbnail written again atomically. Blocking: never call it on a GUI
    thread.

    Returns None when the thumbnail decodes (already, or after the rebuild),
    else a sentence saying why it could not be rebuilt (the original cannot
    be read, changed since it was imported, does not decode; the thumbnail
    cannot be written: ``write_failure``, "disk full: ..."). Raises
    ``ValueError`` only when ``thumb`` is not a thumbnail path.
    """
    thumb = os.fspath(thumb)
    sha256 = os.path.splitext(os.path.basename(thumb))[0]
    dest_dir = os.path.dirname(os.path.dirname(thumb))
    if not _SHA256_HEX.match(sha256) or thumbnail_path(dest_dir, sha256) != thumb:
        raise ValueError(f"not a thumbnail path: {thumb!r}")
    if thumbnail_decodes(thumb, max_side):
        return None
    reason = "the stored thumbnail does not decode and"
    try:
        if sha256_file(original) != sha256:
            return f"{reason} the original changed since it was imported; import it again"
        rgb = decode(original, max_side)
    except DecodeError as exc:
        return f"{reason} the original cannot be decoded: {exc}"
    except OSError as exc:
        return f"{reason} the original cannot be read: {exc.strerror or exc}"
    try:
        save_thumbnail(rgb, dest_dir, sha256, max_side)
    except OSError as exc:
        return write_failure(exc, thumb)
    return None


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
