"""Video files through PyAV (FFmpeg's libraries, bundled in the ``av`` wheels): probe, poster, sampled frames.

What the video handler (``mediaapp.ingest.media.VideoHandler``, a thin
adapter over this module) needs, and nothing of the rest of the app:

- ``sniff_video(head)``: the container by its first bytes (ISO-BMFF/QuickTime,
  AVI, Matroska/WebM, ASF, FLV, MPEG program streams);
- ``probe_video(path)``: duration, frame size, codec, frame rate and the
  container's ``creation_time`` (``VideoInfo``), checked against hard limits;
- ``poster_frame(path, max_side)``: the picture shown in the grid, a frame
  about 1 s (at most 10 % of the duration) in, skipping black frames;
- ``sample_frames(path, ...)``: the frames the engines analyse, one every
  ``every_s`` seconds with a cap on their number, of which only scene changes
  are kept (a frame nearly identical to the last kept one is dropped).

Every failure to open or decode is one ``DecodeError`` whose message says
what is wrong (``"no video stream"``, ``"cut short or damaged: ..."``);
files over the limits (``MAX_DURATION_S``, ``MAX_PIXELS``) are refused
before any frame is decoded, and each sample decodes at most
``MAX_DECODE_PER_SAMPLE`` frames, so a huge or corrupt file fails quickly.
Originals are opened read-only, by FFmpeg's own file reader.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import av
import numpy as np
from PIL import Image

from mediaapp.ingest.decode import DecodeError

__all__ = [
    "MAX_DECODE_PER_SAMPLE",
    "MAX_DURATION_S",
    "MAX_PIXELS",
    "MAX_SAMPLES",
    "SAMPLE_EVERY_S",
    "VIDEO_EXTENSIONS",
    "SampledFrame",
    "VideoInfo",
    "frame_at",
    "iter_sampled_frames",
    "poster_frame",
    "probe_video",
    "sample_frames",
    "sniff_video",
]

#: File name extensions of the containers ``sniff_video`` knows (lower case, with the dot).
VIDEO_EXTENSIONS = frozenset({".mp4", ".m4v", ".mov", ".qt", ".3gp", ".3g2", ".avi", ".mkv", ".webm", ".wmv",
                              ".asf", ".flv", ".mpg", ".mpeg"})

#: Longest video accepted: 12 hours. A longer duration in a header is almost always a damaged header; a
#: real one would take hours to sample. Refused with a ``DecodeError`` before any frame is decoded.
MAX_DURATION_S = 12 * 3600
#: Largest frame accepted, in pixels: 8K UHD (7680x4320) with a margin (8192x8192). FFmpeg would try to
#: allocate whatever a damaged header claims.
MAX_PIXELS = 8192 * 8192
#: Frames one sample may decode forward from the keyframe before it gives up and takes the last decoded
#: one (a 10 s GOP at 30 frames/s is 300). Bounds the work on long-GOP and damaged files.
MAX_DECODE_PER_SAMPLE = 600
#: Default sampling: one frame every 2 s, at most 48 frames (a longer video is sampled every
#: duration/48 s). On the 2-core development machine the local engine takes about 1-2 s per frame, so
#: a video's analysis stays within a minute or two whatever its length.
SAMPLE_EVERY_S = 2.0
MAX_SAMPLES = 48
#: Scene-change threshold: the mean absolute difference (0-255) of two frames' 32x32 grey signatures
#: below which the later frame shows the same scene and is not analysed again. 6 (about 2.5 %) keeps a
#: camera pan and a cut, and drops a static shot's repeats; chosen on the shared test videos.
SCENE_CHANGE_MIN_DIFF = 6.0
#: Longest stretch without an analysed frame: a sample this long after the last kept one is kept even when
#: the scene looks the same (a slow pan over a dark scene changes the signature little, its content a lot).
MAX_GAP_S = 10.0
#: A frame whose mean luminance (0-255) is below this is black (a fade-in): the poster looks further in.
BLACK_LUMA = 16.0

# ISO-BMFF / QuickTime brands of video files; a HEIF/AVIF still image has other brands (mif1, heic, avif),
# which the image handler, asked first, claims.
_MP4_BRANDS = {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"M4VH", b"M4VP",
               b"dash", b"msnv", b"XAVC", b"f4v ", b"MSNV", b"NDAS", b"mmp4"}
_MOV_BRANDS = {b"qt  "}
_3GP_PREFIXES = (b"3gp", b"3g2", b"3ge", b"3gg")
# Top-level atoms a QuickTime file without ``ftyp`` (older cameras) may start with.
_QT_ATOMS = {b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}


@dataclass(frozen=True, slots=True)
class VideoInfo:
    """What ``probe_video`` reads from a video's headers.

    ``format``: the sniffed container name (``MP4``, ``MOV``, ``AVI``...);
    ``container``: FFmpeg's format name (``mov,mp4,m4a,3gp,3g2,mj2``);
    ``codec``: FFmpeg's codec name of the first video stream (``h264``, ``hevc``);
    ``width``/``height``: coded frame size in pixels (before any rotation);
    ``duration_ms``: milliseconds; ``frame_rate``: frames per second (the
    stream's average rate, else FFmpeg's guess; None when unknown);
    ``taken_at``: the container's (else the stream's) ``creation_time`` as
    ISO 8601 text in UTC (QuickTime stores UTC), None when absent.
    """

    format: str
    container: str
    codec: str
    width: int
    height: int
    duration_ms: int
    frame_rate: float | None
    taken_at: str | None


@dataclass(frozen=True, slots=True)
class SampledFrame:
    """One frame for analysis: ``timestamp_ms`` from the video's start, and the RGB ``image`` (rotation applied)."""

    timestamp_ms: int
    image: Image.Image


def sniff_video(head: bytes) -> str | None:
    """The container of a file starting with ``head`` (at least 32 bytes; 256 for ISO-BMFF brand lists), or None.

    ``MP4``, ``MOV``, ``3GP`` (ISO-BMFF ``ftyp`` brands; a QuickTime file
    may start with a ``moov``/``mdat``/``wide`` atom instead), ``AVI``
    (RIFF ``AVI ``), ``MKV`` / ``WEBM`` (EBML, told apart by the DocType),
    ``WMV`` (ASF header GUID), ``FLV``, ``MPEG`` (program stream pack
    header). Never raises.
    """
    if len(head) < 12:
        return None
    if head[4:8] == b"ftyp":
        size = struct.unpack_from(">I", head, 0)[0]
        major = head[8:12]
        brands = [major] + [head[i:i + 4] for i in range(16, min(size, len(head)) - 3, 4)]
        if major in _MOV_BRANDS:
            return "MOV"
        if major.startswith(_3GP_PREFIXES):
            return "3GP"
        if any(b in _MP4_BRANDS for b in brands) and not any(b in {b"mif1", b"msf1", b"heic", b"avif"}
                                                              for b in brands):
            return "MP4"
        return None
    if head[4:8] in _QT_ATOMS and struct.unpack_from(">I", head, 0)[0] >= 8 and head[4:8] != b"free":
        return "MOV"
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return "AVI"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "WEBM" if b"webm" in head[:64] else "MKV"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11\xa6\xd9\x00\xaa\x00\x62\xce\x6c"):
        return "WMV"
    if head.startswith(b"FLV\x01"):
        return "FLV"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "MPEG"
    return None


def _open(path: str | Path) -> av.container.InputContainer:
    """Open ``path`` for reading with FFmpeg; ``DecodeError`` when it is not a video container FFmpeg reads."""
    try:
        return av.open(str(path), mode="r", metadata_errors="replace")
    except av.error.FileNotFoundError as exc:
        raise FileNotFoundError(str(path)) from exc
    except av.error.PermissionError as exc:
        raise PermissionError(str(path)) from exc
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as exc:
        raise DecodeError(f"not a video FFmpeg can read: {_reason(exc)}") from exc


def _reason(exc: BaseException) -> str:
    """FFmpeg's error text without the file name PyAV appends (the caller names the file)."""
    if isinstance(exc, av.error.FFmpegError):
        return str(exc.strerror or exc).strip() or type(exc).__name__
    return str(exc) or type(exc).__name__


def _stream(container: av.container.InputContainer) -> av.VideoStream:
    """The container's first video stream; ``DecodeError`` when it has none (an audio-only MP4)."""
    if not container.streams.video:
        raise DecodeError("no video stream (an audio-only file?)")
    stream = container.streams.video[0]
    stream.thread_type = "AUTO"
    return stream


def _duration_s(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    """Duration in seconds: the stream's, else the container's; 0.0 when neither header says."""
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return 0.0


def _rate(stream: av.VideoStream) -> float | None:
    """Frames per second: the average rate, else FFmpeg's guess; None when unknown or absurd."""
    for rate in (stream.average_rate, stream.guessed_rate):
        if rate and 0 < float(rate) <= 1000:
            return round(float(rate), 3)
    return None


def _creation_time(container: av.container.InputContainer, stream: av.VideoStream) -> str | None:
    """The ``creation_time`` tag (container first, then stream) as ISO 8601 UTC; None when absent or unreadable."""
    for tags in (container.metadata, stream.metadata):
        text = (tags or {}).get("creation_time")
        if not text:
            continue
        try:
            stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        except ValueError:
            continue
        if stamp.year <= 1904:  # QuickTime's epoch: a camera that never set its clock
            continue
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).isoformat(timespec="seconds")
    return None


def _check_limits(width: int, height: int, duration_s: float) -> None:
    """``DecodeError`` for a frame size or duration outside ``MAX_PIXELS`` / ``MAX_DURATION_S``."""
    if width <= 0 or height <= 0:
        raise DecodeError("the video stream has no frame size (damaged header?)")
    if width * height > MAX_PIXELS:
        raise DecodeError(f"frame size {width}x{height} exceeds the limit of {MAX_PIXELS} pixels")
    if duration_s > MAX_DURATION_S:
        raise DecodeError(f"duration {duration_s / 3600:.1f} h exceeds the limit of {MAX_DURATION_S // 3600} h")


def probe_video(path: str | Path, fmt: str | None = None) -> VideoInfo:
    """Read the headers of the video at ``path`` (container ``fmt`` as sniffed, else sniffed here).

    Decodes no frame. Raises ``DecodeError`` for a file FFmpeg cannot read,
    one without a video stream, and one over ``MAX_PIXELS`` or
    ``MAX_DURATION_S``; ``OSError`` when the file cannot be opened.
    """
    if fmt is None:
        with open(path, "rb") as f:
            fmt = sniff_video(f.read(256)) or "VIDEO"
    with _open(path) as container:
        stream = _stream(container)
        width, height = stream.codec_context.width, stream.codec_context.height
        duration = _duration_s(container, stream)
        _check_limits(width, height, duration)
        return VideoInfo(format=fmt, container=container.format.name, codec=stream.codec_context.name,
                         width=width, height=height, duration_ms=round(duration * 1000),
                         frame_rate=_rate(stream), taken_at=_creation_time(container, stream))


def _to_image(frame: av.VideoFrame, max_side: int | None) -> Image.Image:
    """The frame as RGB, rotated as its display matrix says (``frame.rotation``), longest side <= ``max_side``."""
    img = frame.to_image()
    rotation = round(frame.rotation or 0) % 360
    if rotation:
        img = img.rotate(rotation, expand=True)  # the display matrix's angle is counter-clockwise, as PIL's
    if max_side is not None and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return img


#: How early a decoded (not key) frame may be and still stand for a time: half a frame at 25 frames/s.
_HALF_FRAME_S = 0.02


class _Reader:
    """Frames at chosen times from one open container: seeks to the keyframe before a time and decodes forward.

    Times are from the video's first frame: ``start`` (seconds) is the
    stream's start time, which MPEG program streams put after 0. A time
    close after the last decoded frame (within ``seek_gap_s``) is reached by
    decoding on, without a seek. ``frame_at`` raises ``DecodeError`` on
    FFmpeg errors and returns None past the end.
    """

    def __init__(self, container: av.container.InputContainer, stream: av.VideoStream, seek_gap_s: float = 4.0):
        self.container, self.stream, self.seek_gap_s = container, stream, seek_gap_s
        self.frames: Iterator[av.VideoFrame] | None = None
        self.last: av.VideoFrame | None = None
        if stream.start_time is not None and stream.time_base is not None:
            self.start = float(stream.start_time * stream.time_base)
        else:
            self.start = (container.start_time or 0) / av.time_base

    def offset_ms(self, frame: av.VideoFrame, fallback_s: float) -> int:
        """``frame``'s time from the video's start in milliseconds (``fallback_s`` when it has none), never < 0."""
        seconds = frame.time - self.start if frame.time is not None else fallback_s
        return round(max(0.0, seconds) * 1000)

    def _restart(self, t: float) -> None:
        if t > 0 and self.stream.time_base:
            self.container.seek(int(t / self.stream.time_base), stream=self.stream, backward=True, any_frame=False)
        else:
            self.container.seek(0)
        self.frames = self.container.decode(self.stream)
        self.last = None

    def frame_at(self, t: float, tolerance: float) -> av.VideoFrame | None:
        """The first frame at or after ``t - tolerance`` seconds (the keyframe itself when it is that close)."""
        t += self.start
        last_time = self.last.time if self.last is not None and self.last.time is not None else None
        if self.frames is None or last_time is None or not (last_time < t <= last_time + self.seek_gap_s):
            self._restart(t)
        assert self.frames is not None
        first = self.last is None  # just sought: the keyframe may stand for ``t`` when within ``tolerance``
        try:
            for _ in range(MAX_DECODE_PER_SAMPLE):
                frame = next(self.frames, None)
                if frame is None:
                    return self.last
                self.last = frame
                if frame.time is None or frame.time >= t - (tolerance if first else _HALF_FRAME_S):
                    return frame
                first = False
        except av.error.FFmpegError as exc:
            if self.last is not None:
                return self.last  # a damaged tail: keep what decoded
            raise DecodeError(f"cut short or damaged: {_reason(exc)}") from exc
        return self.last


def _luma(img: Image.Image) -> float:
    """Mean luminance (0-255) of ``img``."""
    return float(np.asarray(img.convert("L").resize((32, 32))).mean())


def poster_frame(path: str | Path, max_side: int | None = None) -> tuple[Image.Image, VideoInfo]:
    """The poster of the video at ``path`` (RGB, longest side <= ``max_side``) and its ``VideoInfo``.

    The first frame about 1 s in (at most 10 % of the duration); when that
    is black (mean luminance below ``BLACK_LUMA``: a fade-in), the frames at
    25 % and 50 % are tried and the first that is not black is taken (else
    the brightest). The width and height in the ``VideoInfo`` are the
    displayed ones (after rotation). Raises as ``probe_video``, and
    ``DecodeError`` when no frame decodes (a truncated or damaged file).
    """
    info = probe_video(path)
    duration = info.duration_ms / 1000
    candidates = [min(1.0, 0.1 * duration)] + ([0.25 * duration, 0.5 * duration] if duration > 2 else [])
    best: tuple[float, Image.Image] | None = None
    with _open(path) as container:
        stream = _stream(container)
        reader = _Reader(container, stream)
        for t in candidates:
            try:
                frame = reader.frame_at(t, tolerance=0.5)
            except DecodeError:
                if best is None and t == candidates[-1]:
                    raise
                continue
            if frame is None:
                continue
            img = _to_image(frame, max_side)
            luma = _luma(img)
            if best is None or luma > best[0]:
                best = (luma, img)
            if luma >= BLACK_LUMA:
                break
    if best is None:
        raise DecodeError("no frame could be decoded (cut short or damaged)")
    img = best[1]
    width, height = info.width, info.height
    if (img.width > img.height) != (width > height) and width != height:
        width, height = height, width  # rotated by 90 degrees for display
    return img, VideoInfo(info.format, info.container, info.codec, width, height, info.duration_ms,
                          info.frame_rate, info.taken_at)


def _signature(img: Image.Image) -> np.ndarray:
    """A 32x32 grey thumbnail as float32: what ``SCENE_CHANGE_MIN_DIFF`` compares."""
    return np.asarray(img.convert("L").resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float32)


def sample_frames(path: str | Path, max_side: int | None = None, every_s: float = SAMPLE_EVERY_S,
                  max_samples: int = MAX_SAMPLES, min_diff: float = SCENE_CHANGE_MIN_DIFF,
                  max_gap_s: float = MAX_GAP_S) -> list[SampledFrame]:
    """The frames of the video at ``path`` the engines analyse, in time order: ``iter_sampled_frames`` as a list.

    Raises as ``probe_video``, and ``DecodeError`` when no frame decodes.
    """
    return list(iter_sampled_frames(path, probe_video(path), max_side, every_s, max_samples, min_diff, max_gap_s))


def iter_sampled_frames(path: str | Path, info: VideoInfo, max_side: int | None = None,
                        every_s: float = SAMPLE_EVERY_S, max_samples: int = MAX_SAMPLES,
                        min_diff: float = SCENE_CHANGE_MIN_DIFF,
                        max_gap_s: float = MAX_GAP_S) -> Iterator[SampledFrame]:
    """The frames of the video at ``path`` (``info``: its ``probe_video``) the engines analyse, one at a time.

    A generator, so only one decoded frame is held at a time (48 frames of
    2048x1152 RGB held together would be 340 MB); the container stays open
    until it is exhausted or closed.

    One frame every ``every_s`` seconds from the start, stretched to
    ``duration / max_samples`` for long videos so at most ``max_samples``
    are decoded. A sample is taken from the keyframe before its time when
    that keyframe is within half the interval, else by decoding forward
    (at most ``MAX_DECODE_PER_SAMPLE`` frames). Of these, a frame whose grey
    signature differs from the last kept frame's by less than ``min_diff``
    (mean absolute difference, 0-255) is dropped: only scene changes are
    analysed (0 keeps every sample), unless ``max_gap_s`` seconds have passed
    since the last kept frame. The first frame is always kept.
    Images are RGB with rotation applied, longest side at most ``max_side``.
    Raises (while iterated) ``OSError`` when the file cannot be opened and
    ``DecodeError`` when no frame decodes; a file damaged part way gives the
    frames before the damage.
    """
    duration = info.duration_ms / 1000
    interval = max(every_s, duration / max(1, max_samples))
    count = max(1, min(max_samples, math.floor(duration / interval) + 1)) if duration > 0 else 1
    last: SampledFrame | None = None
    last_sig: np.ndarray | None = None
    seen_pts: set[int] = set()
    with _open(path) as container:
        stream = _stream(container)
        reader = _Reader(container, stream, seek_gap_s=max(4.0, interval * 1.5))
        for i in range(count):
            t = i * interval
            try:
                frame = reader.frame_at(t, tolerance=interval / 2)
            except DecodeError:
                if last is not None:
                    break
                raise
            if frame is None or frame.pts in seen_pts:
                continue
            if frame.pts is not None:
                seen_pts.add(frame.pts)
            img = _to_image(frame, max_side)
            sig = _signature(img)
            stamp_ms = reader.offset_ms(frame, t)
            if (last is not None and last_sig is not None and float(np.abs(sig - last_sig).mean()) < min_diff
                    and stamp_ms - last.timestamp_ms < max_gap_s * 1000):
                continue
            last_sig = sig
            last = SampledFrame(stamp_ms, img)
            yield last
    if last is None:
        raise DecodeError("no frame could be decoded (cut short or damaged)")


def frame_at(path: str | Path, timestamp_ms: int, max_side: int | None = None) -> Image.Image:
    """The frame shown at ``timestamp_ms`` (the first frame at or after it), RGB with rotation applied.

    For the detail view's timeline. Raises as ``probe_video``, and
    ``DecodeError`` when no frame decodes there.
    """
    info = probe_video(path)
    t = min(max(0, timestamp_ms), info.duration_ms) / 1000
    with _open(path) as container:
        stream = _stream(container)
        rate = info.frame_rate or 30.0
        frame = _Reader(container, stream).frame_at(t, tolerance=0.5 / rate)
    if frame is None:
        raise DecodeError(f"no frame could be decoded at {timestamp_ms} ms")
    return _to_image(frame, max_side)

