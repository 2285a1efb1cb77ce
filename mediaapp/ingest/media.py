"""Media handlers: what each media type supplies to the import pipeline and the engines.

A handler recognises its files by content (``sniff``) and names the file
name extensions that claim it (a file with such a name that is not one is
reported, not skipped). In a worker process it fills a ``FileResult`` with
the file's metadata and writes its thumbnail (``describe``), and it decodes
the file into the RGB picture engines analyse (``decode_for_analysis``).
``timeout`` bounds a worker job on one file. Two handlers are registered:
camera RAW files (``RawHandler`` over ``ingest/raw.py``, asked first) and
images (``ImageHandler``). Video is one more ``MediaHandler`` subclass
registered here (plus a catalog migration for what it stores), not edits
across the pipeline.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from PIL import Image

from mediaapp.fsio import open_regular
from mediaapp.ingest import raw, video
from mediaapp.ingest.decode import (
    ANALYSIS_DRAFT_FRACTION,
    ANALYSIS_MAX_SIDE,
    DecodeError,
    load_rgb,
    open_image,
    open_rgb,
)
from mediaapp.ingest.embedded import EmbeddedMetadata, from_pillow, from_scan
from mediaapp.ingest.metadata import read_metadata
from mediaapp.ingest.scan import SNIFF_BYTES, sniff_bytes
from mediaapp.ingest.thumbnails import THUMB_MAX_SIDE, save_thumbnail, thumbnail_decodes, thumbnail_path, write_failure

__all__ = ["HANDLERS", "ImageHandler", "MediaHandler", "MediaInfo", "RawHandler", "Sniffed", "VideoHandler",
           "claimed_by_name", "frames_for_analysis", "handler_for", "open_for_analysis", "register_handler",
           "sniff_format", "sniff_path", "video_frame"]

#: Leading bytes read to sniff a file: enough for every handler's signature (an ISO-BMFF ``ftyp``
#: box with a long brand list is read further, up to this).
MAX_SNIFF_BYTES = 256


@dataclass(slots=True)
class MediaInfo:
    """What a handler learned of one file (``describe``): plain, picklable data.

    ``format``: the decoder's format name; ``width``/``height``: pixels after
    orientation; ``taken_at``: ISO 8601 text; ``camera_make``/``camera_model``;
    ``gps_lat``/``gps_lon``: decimal degrees; ``thumbnail``: the thumbnail's
    path. Unknown values are None. ``media_kind``: ``"image"`` or
    ``"video"``, what the asset is analysed and shown as (``MediaHandler.media``);
    for a video, ``duration_ms`` (milliseconds), ``codec`` (FFmpeg's name,
    ``h264``) and ``frame_rate`` (frames per second).
    """

    format: str | None = None
    width: int | None = None
    height: int | None = None
    taken_at: str | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    thumbnail: str | None = None
    media_kind: str = "image"
    duration_ms: int | None = None
    codec: str | None = None
    frame_rate: float | None = None


class MediaHandler:
    """One media type. Subclasses set ``kind`` and ``extensions`` and override the methods.

    ``kind``: the media kind (``"image"``), also the key of its job
    timeout; ``extensions``: lower-case file name extensions (with the dot)
    that claim this media; ``timeout``: (base seconds, seconds per MiB) a
    worker job on one file may take before it is stopped; ``media``: what
    its files are analysed as, ``"image"`` (the image APIs) or ``"video"``
    (the video ``Get*`` APIs, ``mediaapp.core.apis.apis_for_media``).
    """

    kind: ClassVar[str]
    media: ClassVar[str] = "image"
    extensions: ClassVar[frozenset[str]] = frozenset()
    timeout: ClassVar[tuple[float, float]] = (60.0, 1.0)

    def sniff(self, head: bytes) -> str | None:  # pragma: no cover - abstract
        """The format name of a file starting with ``head`` (at least 32 bytes when the file has them), or None."""
        raise NotImplementedError

    def sniff_file(self, path: str | Path, head: bytes) -> str | None:
        """The format name of the file at ``path`` whose first bytes are ``head``, or None (``sniff_path`` asks this).

        ``sniff(head)`` unless overridden by a handler whose formats a few
        bytes cannot tell apart (TIFF-based RAW files from plain TIFFs), which
        reads further. Raises ``OSError`` when the file cannot be read.
        """
        return self.sniff(head)

    def describe(self, path: str, fmt: str, sha256: str, thumb_dir: str) -> MediaInfo:
        """The metadata of ``path`` (format ``fmt``, content ``sha256``), its thumbnail written below ``thumb_dir``.

        Runs in a worker process. Raises ``DecodeError`` for a file that
        cannot be decoded, ``OSError`` for one that cannot be read, and
        ``ThumbnailError`` when the thumbnail cannot be written.
        """
        raise NotImplementedError  # pragma: no cover - abstract

    def decode_for_analysis(self, path: str | Path, max_side: int = ANALYSIS_MAX_SIDE) -> Image.Image:
        """The RGB picture engines analyse, longest side at most ``max_side`` pixels, orientation applied.

        Raises ``DecodeError`` for a file that cannot be decoded and ``OSError`` for one that cannot be read.
        """
        raise NotImplementedError  # pragma: no cover - abstract

    def frames_for_analysis(self, path: str | Path,
                            max_side: int = ANALYSIS_MAX_SIDE) -> tuple[video.VideoInfo, Iterator[video.SampledFrame]]:
        """A video's ``VideoInfo`` and the frames engines analyse (``media == "video"`` handlers only).

        Default: ``DecodeError`` (not a video). Raises ``DecodeError`` /
        ``OSError`` like ``decode_for_analysis``.
        """
        raise DecodeError("not a video")

    def embedded_metadata(self, path: str, fmt: str) -> EmbeddedMetadata:
        """The XMP packet and IPTC-IIM datasets inside ``path`` (format ``fmt``), for the ``metadata`` engine.

        Default: the bytes are scanned for an XMP packet (``embedded.from_scan``;
        XMP specification part 3 allows it for any format), no IPTC. Raises
        ``DecodeError`` / ``OSError`` for a file that cannot be opened or read.
        """
        return from_scan(path)


class ThumbnailError(Exception):
    """A thumbnail could not be written (full disk, permissions); the message names the file.

    ``info`` holds what was learned before (the metadata).
    """

    def __init__(self, message: str, info: MediaInfo):
        super().__init__(message)
        self.info = info


# Pillow plugins to try for each sniffed image format. HEIF and AVIF share a
# container, and which library reads which brand depends on versions.
_PILLOW_FORMATS = {"JPEG": ("JPEG", "MPO"), "HEIF": ("HEIF", "AVIF"), "AVIF": ("AVIF", "HEIF")}
_IMAGE_FIELDS = ("format", "width", "height", "taken_at", "camera_make", "camera_model", "gps_lat", "gps_lon")


def _with_thumbnail(info: MediaInfo, rgb: Image.Image | None, thumb_dir: str, sha256: str) -> MediaInfo:
    """``info`` with its thumbnail: ``rgb`` written (``save_thumbnail``), or the good one already there (None).

    Raises ``ThumbnailError`` (carrying ``info``) when the write fails; its
    message starts with the condition (``"disk full: ..."``, ``thumbnails.write_failure``).
    """
    thumb = thumbnail_path(thumb_dir, sha256)
    try:
        info.thumbnail = thumb if rgb is None else save_thumbnail(rgb, thumb_dir, sha256)
    except OSError as exc:
        raise ThumbnailError(write_failure(exc, thumb), info) from exc
    except ValueError as exc:
        raise ThumbnailError(f"cannot write thumbnail {thumb}: {exc}", info) from exc
    return info


class ImageHandler(MediaHandler):
    """Still images Pillow (with pillow-heif) decodes: JPEG, PNG, WebP, TIFF, GIF, BMP, HEIF, AVIF.

    Timeout: ``describe`` on a 34 MiB 4000x3000 PNG took 0.18 s on the 2-core
    development machine (about 190 MiB/s), so 1 s per MiB plus 60 s for a
    worker's start-up leaves a wide margin for slow disks and network shares.
    """

    kind = "image"
    extensions = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".dib", ".tif", ".tiff",
                            ".webp", ".heic", ".heif", ".hif", ".avif", ".mpo"})
    timeout = (60.0, 1.0)

    def sniff(self, head: bytes) -> str | None:
        """Pillow's format name (``mediaapp.ingest.scan.sniff_bytes``), or None."""
        return sniff_bytes(head)

    def describe(self, path: str, fmt: str, sha256: str, thumb_dir: str) -> MediaInfo:
        """Metadata from the image header, then pixels decoded (JPEG in draft mode) unless a good thumbnail exists.

        A thumbnail that does not decode (``thumbnails.thumbnail_decodes``:
        truncated by an older version) is made again. A write that fails
        raises ``ThumbnailError`` whose message starts with the condition
        (``"disk full: ..."``, ``thumbnails.write_failure``).
        """
        thumb = thumbnail_path(thumb_dir, sha256)
        rgb = None
        with open_image(path, _PILLOW_FORMATS.get(fmt, (fmt,))) as img:
            meta = read_metadata(img)
            info = MediaInfo(**{key: meta[key] for key in _IMAGE_FIELDS})
            if not thumbnail_decodes(thumb):
                rgb = load_rgb(img, THUMB_MAX_SIDE)
        return _with_thumbnail(info, rgb, thumb_dir, sha256)

    def decode_for_analysis(self, path: str | Path, max_side: int = ANALYSIS_MAX_SIDE) -> Image.Image:
        """``mediaapp.ingest.decode.open_rgb(path, max_side, ANALYSIS_DRAFT_FRACTION)``: a JPEG the DCT scaling
        gets to within 3% under ``max_side`` is decoded at that scale and enlarged (a 12 MP photo: 2000 px, then
        2048), much faster than decoding it in full."""
        return open_rgb(path, max_side, ANALYSIS_DRAFT_FRACTION)

    def embedded_metadata(self, path: str, fmt: str) -> EmbeddedMetadata:
        """What Pillow finds reading the header (``embedded.from_pillow``); raises as ``decode.open_image``."""
        with open_image(path, _PILLOW_FORMATS.get(fmt, (fmt,))) as img:
            return from_pillow(img)


class RawHandler(MediaHandler):
    """Camera RAW files LibRaw decodes (CR2, CR3, NEF, ARW, RAF, ORF, RW2, DNG, KDC, ...): ``mediaapp.ingest.raw``.

    Asked before the image handler, which would take a TIFF-based RAW for a
    TIFF and show its small IFD0 preview. Width and height are the size
    LibRaw decodes at; the thumbnail and the analysis picture come from the
    embedded preview when it is large enough, else from a (half-size)
    demosaic. Timeout: on the 2-core development machine ``describe``
    (which also decodes the sensor data, see ``raw.read_raw``) took 20-30 ms
    on the test set's DNG and KDC (0.39 and 0.09 MiB) and LibRaw's slowest
    path, a full-size AHD demosaic, 54 ms for the KDC's 0.39 Mpx: about
    0.6 s per MiB, 7 Mpx/s. 4 s per MiB (four times the image rate) plus
    60 s for a worker's start-up keeps a margin of several times that for
    slow disks and 50-150 MB medium-format files.
    """

    kind = "raw"
    extensions = raw.RAW_EXTENSIONS
    timeout = (60.0, 4.0)

    def sniff(self, head: bytes) -> str | None:
        """The RAW format known by its first bytes alone (``raw.sniff_signature``), or None."""
        return raw.sniff_signature(head)

    def sniff_file(self, path: str | Path, head: bytes) -> str | None:
        """The RAW format of the file (``raw.sniff_raw``: DNG tags, LibRaw's verdict on other TIFFs), or None."""
        return raw.sniff_raw(path, head)

    def describe(self, path: str, fmt: str, sha256: str, thumb_dir: str) -> MediaInfo:
        """EXIF and LibRaw's size (``raw.read_raw``), and the thumbnail unless a good one exists.

        Raises ``DecodeError`` (cut short, refused or undecodable by LibRaw),
        ``OSError`` and ``ThumbnailError`` as ``MediaHandler.describe`` says.
        """
        thumb = thumbnail_path(thumb_dir, sha256)
        meta, rgb = raw.read_raw(path, None if thumbnail_decodes(thumb) else THUMB_MAX_SIDE)
        info = MediaInfo(format=fmt, width=meta.width, height=meta.height, taken_at=meta.taken_at,
                         camera_make=meta.camera_make, camera_model=meta.camera_model,
                         gps_lat=meta.gps_lat, gps_lon=meta.gps_lon)
        return _with_thumbnail(info, rgb, thumb_dir, sha256)

    def decode_for_analysis(self, path: str | Path, max_side: int = ANALYSIS_MAX_SIDE) -> Image.Image:
        """``mediaapp.ingest.raw.decode_raw(path, max_side)``: the preview when large enough, else a demosaic."""
        return raw.decode_raw(path, max_side)


class VideoHandler(MediaHandler):
    """Videos FFmpeg decodes through PyAV (MP4, MOV, 3GP, AVI, MKV, WebM, WMV, FLV, MPEG): ``mediaapp.ingest.video``.

    Registered last: a HEIF still (also ISO-BMFF) is the image handler's.
    ``describe`` reads the headers (duration, size, codec, frame rate,
    ``creation_time`` as ``taken_at``) and makes the poster the thumbnail;
    engines analyse the sampled frames (``frames_for_analysis``) and answer
    the video ``Get*`` APIs (``media = "video"``); ``decode_for_analysis``
    is the poster. Timeout: ``describe`` decodes at most a few frames (8-75
    ms on the shared test videos on the 2-core development machine), and an
    analysis decodes up to ``video.MAX_SAMPLES`` frames and runs every model
    on each (1-2 s a frame there), so the base is twice the image handler's
    (its analysis job gets ``ANALYSIS_TIMEOUT_FACTOR`` times that: 20 minutes)
    and 1 s per MiB covers reading and seeking through a large file.
    """

    kind = "video"
    media = "video"
    extensions = video.VIDEO_EXTENSIONS
    timeout = (240.0, 1.0)

    def sniff(self, head: bytes) -> str | None:
        """The container known by its first bytes (``video.sniff_video``), or None."""
        return video.sniff_video(head)

    def describe(self, path: str, fmt: str, sha256: str, thumb_dir: str) -> MediaInfo:
        """Headers (``video.probe_video``) and the poster frame as the thumbnail (``video.poster_frame``).

        The poster is decoded even when a thumbnail exists (its frame size
        after rotation is the asset's). Raises ``DecodeError`` (no video
        stream, over the limits, cut short or damaged), ``OSError`` and
        ``ThumbnailError`` as ``MediaHandler.describe`` says.
        """
        poster, found = video.poster_frame(path, THUMB_MAX_SIDE)
        info = MediaInfo(format=fmt, width=found.width, height=found.height, taken_at=found.taken_at,
                         media_kind="video", duration_ms=found.duration_ms, codec=found.codec,
                         frame_rate=found.frame_rate)
        thumb = thumbnail_path(thumb_dir, sha256)
        return _with_thumbnail(info, None if thumbnail_decodes(thumb) else poster, thumb_dir, sha256)

    def decode_for_analysis(self, path: str | Path, max_side: int = ANALYSIS_MAX_SIDE) -> Image.Image:
        """The poster frame (``video.poster_frame``), for an engine that analyses a video as one picture."""
        return video.poster_frame(path, max_side)[0]

    def frames_for_analysis(self, path: str | Path,
                            max_side: int = ANALYSIS_MAX_SIDE) -> tuple[video.VideoInfo, Iterator[video.SampledFrame]]:
        """``video.probe_video`` and ``video.iter_sampled_frames`` (scene changes, every 2 s, at most 48), one
        frame decoded at a time; the iterator raises ``DecodeError`` when no frame decodes."""
        info = video.probe_video(path)
        return info, video.iter_sampled_frames(path, info, max_side)

    def embedded_metadata(self, path: str, fmt: str) -> EmbeddedMetadata:
        """No embedded block is read from a video (its XMP sits in a container box, not scanned); sidecars still are."""
        return EmbeddedMetadata()


#: The registered handlers, asked in order; the first that recognises a file handles it.
HANDLERS: list[MediaHandler] = [ImageHandler()]


def register_handler(handler: MediaHandler, *, before: str | None = None) -> MediaHandler:
    """Add ``handler`` after the others, or just before the handler of kind ``before``; returns it.

    A handler of the same kind is replaced. ``before`` lets a handler claim
    files another would also take (RAW files that are TIFFs).
    """
    rest = [h for h in HANDLERS if h.kind != handler.kind]
    at = next((i for i, h in enumerate(rest) if h.kind == before), len(rest))
    HANDLERS[:] = rest[:at] + [handler] + rest[at:]
    return handler


register_handler(RawHandler(), before="image")
register_handler(VideoHandler())


@dataclass(frozen=True, slots=True)
class Sniffed:
    """A file recognised by content: its ``handler`` and ``format`` name."""

    handler: MediaHandler
    format: str


def _head(path: str | Path) -> bytes:
    """The file's first ``SNIFF_BYTES``, and for an ISO-BMFF file the rest of its ``ftyp`` box (to 256 bytes)."""
    with open_regular(path) as f:
        head = f.read(SNIFF_BYTES)
        if head[4:8] == b"ftyp" and len(head) == SNIFF_BYTES:
            box = struct.unpack_from(">I", head, 0)[0]
            if box > SNIFF_BYTES:
                head += f.read(min(box, MAX_SNIFF_BYTES) - SNIFF_BYTES)
    return head


def sniff_path(path: str | Path) -> Sniffed | None:
    """The handler and format of the file at ``path`` by content, or None when no handler knows it.

    The file is opened with ``mediaapp.fsio.open_regular`` (a FIFO or device
    is refused, never waited on). Raises ``OSError`` when it cannot be read.
    """
    head = _head(path)
    for handler in HANDLERS:
        fmt = handler.sniff_file(path, head)
        if fmt is not None:
            return Sniffed(handler, fmt)
    return None


def sniff_format(path: str | Path) -> str | None:
    """The format name of the file at ``path`` by content, not extension (any handler), or None.

    TIFF-based RAW files (DNG, NEF, CR2) carry the TIFF signature too; the
    RAW handler, asked first, names them (``"DNG"``), and plain TIFFs are ``"TIFF"``.
    Raises ``OSError`` when the file cannot be read (``fsio.NotRegularFileError``
    when it is not a regular file).
    """
    sniffed = sniff_path(path)
    return sniffed.format if sniffed else None


def claimed_by_name(path: str | Path) -> MediaHandler | None:
    """The handler whose ``extensions`` claim ``path``'s name, or None."""
    ext = os.path.splitext(os.fspath(path))[1].lower()
    return next((h for h in HANDLERS if ext in h.extensions), None)


def handler_for(kind: str) -> MediaHandler:
    """The handler of media ``kind``; the image handler for an unknown kind."""
    found = next((h for h in HANDLERS if h.kind == kind), None)
    return found or next(h for h in HANDLERS if h.kind == "image")


def read_embedded(path: str) -> EmbeddedMetadata:
    """The metadata blocks inside ``path``, read by the handler that recognises it (``embedded_metadata``).

    Raises ``DecodeError`` for a file no handler recognises or whose header
    does not decode, ``OSError`` for one that cannot be read.
    """
    sniffed = sniff_path(path)
    if sniffed is None:
        raise DecodeError("not a media file this app reads (unrecognised content)")
    return sniffed.handler.embedded_metadata(path, sniffed.format)


def frames_for_analysis(path: str | Path,
                        max_side: int = ANALYSIS_MAX_SIDE) -> tuple[video.VideoInfo, Iterator[video.SampledFrame]]:
    """A video's ``VideoInfo`` and sampled frames, by the handler that recognises it (``frames_for_analysis``).

    The frames come one at a time (an iterator: one decoded frame held at
    once). Raises ``DecodeError`` for a file that is not a video this app
    reads or cannot be decoded, ``OSError`` for one that cannot be read;
    the iterator raises ``DecodeError`` when no frame decodes.
    """
    sniffed = sniff_path(path)
    if sniffed is None:
        raise DecodeError("not a media file this app reads (unrecognised content)")
    return sniffed.handler.frames_for_analysis(path, max_side)


def video_frame(path: str | Path, timestamp_ms: int, max_side: int | None = None) -> Image.Image:
    """The frame of the video at ``path`` shown at ``timestamp_ms`` (``video.frame_at``): the detail view's jump.

    Raises ``DecodeError`` for a file that is not a video or has no frame
    there, ``OSError`` for one that cannot be read.
    """
    sniffed = sniff_path(path)
    if sniffed is None or sniffed.handler.media != "video":
        raise DecodeError("not a video this app reads")
    return video.frame_at(path, timestamp_ms, max_side)


def open_for_analysis(path: str | Path, max_side: int = ANALYSIS_MAX_SIDE) -> Image.Image:
    """Decode ``path`` for analysis with the handler that recognises it (``decode_for_analysis``).

    Raises ``DecodeError`` for a file no handler recognises or that cannot
    be decoded, ``OSError`` for one that cannot be read.
    """
    sniffed = sniff_path(path)
    if sniffed is None:
        raise DecodeError("not a media file this app reads (unrecognised content)")
    return sniffed.handler.decode_for_analysis(path, max_side)
