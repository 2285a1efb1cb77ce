"""The per-file job an import worker process runs: sniff, hash, metadata, thumbnail.

``process_file`` is a top-level function taking and returning plain picklable
data, so the importer can submit it to a ``ProcessPoolExecutor``. It never
touches the catalog and never raises for a bad file: failures come back in
``FileResult.error_stage`` / ``FileResult.error``. Originals are only ever
opened read-only.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from dataclasses import dataclass

from mediaapp.ingest.decode import DecodeError
from mediaapp.ingest.hashing import sha256_file
from mediaapp.ingest.media import MediaInfo, ThumbnailError, claimed_by_name, handler_for, sniff_path

STAGES = ("read", "sniff", "decode", "thumbnail")
"""Values of ``FileResult.error_stage``, in the order the stages run."""

#: The ``"sniff"`` reason of a non-empty file no media handler recognises by content, by the media its name
#: claims (``MediaHandler.media`` of ``media.claimed_by_name``: ``"image"``, RAW included, or ``"video"``; None
#: when no handler claims the name). See ``unrecognised_reason``.
UNRECOGNISED_REASONS: dict[str | None, str] = {
    "image": "not an image (unrecognised content)",
    "video": "not a decodable video (unrecognised content)",
    None: "not an image or video (unrecognised content)",
}

#: The ``MediaInfo`` fields a ``FileResult`` carries.
_INFO_FIELDS = tuple(f.name for f in dataclasses.fields(MediaInfo))


@dataclass(slots=True)
class FileResult(MediaInfo):
    """What ``process_file`` learned about one file; plain data, picklable.

    The handler's ``MediaInfo`` fields (``format`` a Pillow format name such
    as ``"JPEG"``; ``width``/``height`` pixels after EXIF orientation;
    ``taken_at`` ISO 8601 text; ``gps_lat``/``gps_lon`` decimal degrees;
    ``thumbnail`` the thumbnail's path), plus: ``path`` as given; ``size``
    in bytes and ``mtime_ns`` in nanoseconds (``st_mtime_ns``) from the stat
    taken before reading; ``sha256`` 64 hex characters. On failure ``error_stage`` is one of
    ``STAGES`` (``"read"``: the file could not be read or changed meanwhile;
    ``"sniff"``: empty, or not media by content (``unrecognised_reason``);
    ``"decode"``: an image or video that cannot be decoded, including
    decompression bombs; ``"thumbnail"``: the thumbnail could not be
    written) and ``error`` a readable reason; fields learned before the
    failure stay filled, the rest are None.
    """

    path: str = ""
    size: int | None = None
    mtime_ns: int | None = None
    sha256: str | None = None
    error_stage: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when every stage succeeded."""
        return self.error_stage is None


#: The analysis of one file runs several models (the first job of a worker also loads them).
ANALYSIS_TIMEOUT_FACTOR = 5.0


def job_timeout(size_bytes: int | None, kind: str = "image", *, analysis: bool = False) -> float:
    """Seconds a worker job on one file of ``size_bytes`` bytes and media ``kind`` may run.

    The kind's handler (``MediaHandler.timeout``) gives a base (a worker's
    start-up and model loading) and a rate per MiB (reading and decoding);
    ``analysis`` jobs get ``ANALYSIS_TIMEOUT_FACTOR`` times that. Unknown
    kinds use the image figures; an unknown size counts as 0. Never raises.
    """
    base, per_mib = handler_for(kind).timeout
    seconds = base + per_mib * max(0, size_bytes or 0) / (1 << 20)
    return seconds * (ANALYSIS_TIMEOUT_FACTOR if analysis else 1.0)


def _copy_info(result: FileResult, info: MediaInfo) -> None:
    """Copy the handler's ``MediaInfo`` fields onto ``result`` (a ``MediaInfo`` too)."""
    for key in _INFO_FIELDS:
        setattr(result, key, getattr(info, key))


def _fail(result: FileResult, stage: str, message: str) -> FileResult:
    """Record a failure on ``result`` and return it."""
    result.error_stage, result.error = stage, message
    return result


def _os_reason(exc: OSError) -> str:
    """Readable text for an ``OSError`` (``Permission denied``, ...)."""
    return exc.strerror or str(exc) or type(exc).__name__


def unrecognised_reason(path: str) -> str:
    """The one-line reason (``UNRECOGNISED_REASONS``) for the non-empty file ``path`` that no media handler
    recognises by content, worded by what its name claims: ``x.mp4`` of random bytes is "not a decodable
    video", ``x.jpg`` "not an image", ``notes.txt`` "not an image or video". Reads nothing; never raises."""
    claimed = claimed_by_name(path)
    return UNRECOGNISED_REASONS.get(claimed.media if claimed else None, UNRECOGNISED_REASONS[None])


def process_file(path: str, thumb_dir: str) -> FileResult:
    """Import one file: stat, sniff, hash, decode once for metadata and thumbnail.

    ``path``: the file (absolute, as yielded by ``scan.iter_files``);
    ``thumb_dir``: the thumbnail root (see ``thumbnails.thumbnail_path``).
    The SHA-256 is a separate streaming read; the image is opened once,
    metadata read from its header, then pixels decoded (JPEG in draft mode)
    only when its thumbnail does not exist yet. The stat is repeated at the
    end and a file that changed meanwhile is reported as a ``"read"`` error.

    Never raises for bad input; see ``FileResult`` for the error stages.
    """
    result = FileResult(path=path)
    try:
        st = os.stat(path)
    except OSError as exc:
        return _fail(result, "read", f"cannot read file: {_os_reason(exc)}")
    if not stat.S_ISREG(st.st_mode):
        return _fail(result, "read", "not a regular file")
    result.size, result.mtime_ns = st.st_size, st.st_mtime_ns
    if st.st_size == 0:
        return _fail(result, "sniff", "empty file (0 bytes)")

    try:
        sniffed = sniff_path(path)
        if sniffed is None:
            return _fail(result, "sniff", unrecognised_reason(path))
        fmt = result.format = sniffed.format
        result.sha256 = sha256_file(path)
    except OSError as exc:
        return _fail(result, "read", f"cannot read file: {_os_reason(exc)}")

    what = "video" if sniffed.handler.media == "video" else "image"  # "cannot decode MP4 video: ..."
    try:
        info = sniffed.handler.describe(path, fmt, result.sha256, thumb_dir)
    except DecodeError as exc:
        return _fail(result, "decode", f"cannot decode {fmt} {what}: {exc}")
    except ThumbnailError as exc:
        _copy_info(result, exc.info)
        return _fail(result, "thumbnail", str(exc))
    except OSError as exc:
        return _fail(result, "read", f"cannot read file: {_os_reason(exc)}")
    except Exception as exc:  # a decoder bug must not take the whole import down
        return _fail(result, "decode", f"cannot decode {fmt} {what}: {type(exc).__name__}: {exc}")
    _copy_info(result, info)

    try:
        after = os.stat(path)
    except OSError as exc:
        return _fail(result, "read", f"file disappeared during import: {_os_reason(exc)}")
    if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
        return _fail(result, "read", "file changed while it was being imported; import it again")
    return result
