"""The per-file job an import worker process runs: sniff, hash, metadata, thumbnail.

``process_file`` is a top-level function taking and returning plain picklable
data, so the importer can submit it to a ``ProcessPoolExecutor``. It never
touches the catalog and never raises for a bad file: failures come back in
``FileResult.error_stage`` / ``FileResult.error``. Originals are only ever
opened read-only.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from mediaapp.ingest.decode import DecodeError, load_rgb, open_image
from mediaapp.ingest.hashing import sha256_file
from mediaapp.ingest.metadata import read_metadata
from mediaapp.ingest.scan import sniff_format
from mediaapp.ingest.thumbnails import THUMB_MAX_SIDE, save_thumbnail, thumbnail_path

STAGES = ("read", "sniff", "decode", "thumbnail")
"""Values of ``FileResult.error_stage``, in the order the stages run."""

# Pillow plugins to try for each sniffed format. HEIF and AVIF share a
# container, and which library reads which brand depends on versions.
_PILLOW_FORMATS = {"JPEG": ("JPEG", "MPO"), "HEIF": ("HEIF", "AVIF"), "AVIF": ("AVIF", "HEIF")}


@dataclass(slots=True)
class FileResult:
    """What ``process_file`` learned about one file; plain data, picklable.

    ``path`` as given; ``size`` in bytes and ``mtime_ns`` in nanoseconds
    (``st_mtime_ns``) from the stat taken before reading; ``sha256`` 64 hex
    characters; ``format`` a Pillow format name (``"JPEG"``, ``"PNG"``,
    ``"HEIF"``...); ``width``/``height`` pixels after EXIF orientation;
    ``taken_at`` ISO 8601 text; ``gps_lat``/``gps_lon`` decimal degrees;
    ``thumbnail`` the thumbnail's path. On failure ``error_stage`` is one of
    ``STAGES`` (``"read"``: the file could not be read or changed meanwhile;
    ``"sniff"``: empty or not an image; ``"decode"``: an image that cannot be
    decoded, including decompression bombs; ``"thumbnail"``: the thumbnail
    could not be written) and ``error`` a readable reason; fields learned
    before the failure stay filled, the rest are None.
    """

    path: str
    size: int | None = None
    mtime_ns: int | None = None
    sha256: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    taken_at: str | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    thumbnail: str | None = None
    error_stage: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when every stage succeeded."""
        return self.error_stage is None


#: Per media kind, (base seconds, seconds per MiB) a worker job on one file may take before it is
#: stopped (``WorkerPool.run``'s ``timeout``). The base covers a worker's start-up and model loading;
#: the per-MiB part covers reading and decoding: ``process_file`` on a 34 MiB 4000x3000 PNG took
#: 0.18 s on the 2-core development machine (about 190 MiB/s), so 1 s per MiB leaves a wide margin
#: for slow disks and network shares. RAW demosaicing and video get their own entries when those
#: media kinds arrive.
JOB_TIMEOUTS = {"image": (60.0, 1.0)}
#: The analysis of one file runs several models (the first job of a worker also loads them).
ANALYSIS_TIMEOUT_FACTOR = 5.0


def job_timeout(size_bytes: int | None, kind: str = "image", *, analysis: bool = False) -> float:
    """Seconds a worker job on one file of ``size_bytes`` bytes and media ``kind`` may run.

    ``JOB_TIMEOUTS[kind]`` gives a base and a rate per MiB; ``analysis``
    jobs get ``ANALYSIS_TIMEOUT_FACTOR`` times that. Unknown kinds use the
    image figures; an unknown size counts as 0. Never raises.
    """
    base, per_mib = JOB_TIMEOUTS.get(kind, JOB_TIMEOUTS["image"])
    seconds = base + per_mib * max(0, size_bytes or 0) / (1 << 20)
    return seconds * (ANALYSIS_TIMEOUT_FACTOR if analysis else 1.0)


def _fail(result: FileResult, stage: str, message: str) -> FileResult:
    """Record a failure on ``result`` and return it."""
    result.error_stage, result.error = stage, message
    return result


def _os_reason(exc: OSError) -> str:
    """Readable text for an ``OSError`` (``Permission denied``, ...)."""
    return exc.strerror or str(exc) or type(exc).__name__


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
        fmt = sniff_format(path)
        if fmt is None:
            return _fail(result, "sniff", "not an image (unrecognised content)")
        result.format = fmt
        result.sha256 = sha256_file(path)
    except OSError as exc:
        return _fail(result, "read", f"cannot read file: {_os_reason(exc)}")

    rgb = None
    thumb = thumbnail_path(thumb_dir, result.sha256)
    try:
        with open_image(path, _PILLOW_FORMATS.get(fmt, (fmt,))) as img:
            meta = read_metadata(img)
            for key in ("format", "width", "height", "taken_at", "camera_make",
                        "camera_model", "gps_lat", "gps_lon"):
                setattr(result, key, meta[key])
            if not os.path.exists(thumb):
                rgb = load_rgb(img, THUMB_MAX_SIDE)
    except DecodeError as exc:
        return _fail(result, "decode", f"cannot decode {fmt} image: {exc}")
    except OSError as exc:
        return _fail(result, "read", f"cannot read file: {_os_reason(exc)}")
    except Exception as exc:  # a decoder bug must not take the whole import down
        return _fail(result, "decode", f"cannot decode {fmt} image: {type(exc).__name__}: {exc}")

    try:
        result.thumbnail = thumb if rgb is None else save_thumbnail(rgb, thumb_dir, result.sha256)
    except (OSError, ValueError) as exc:
        reason = _os_reason(exc) if isinstance(exc, OSError) else str(exc)
        return _fail(result, "thumbnail", f"cannot write thumbnail {thumb}: {reason}")

    try:
        after = os.stat(path)
    except OSError as exc:
        return _fail(result, "read", f"file disappeared during import: {_os_reason(exc)}")
    if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
        return _fail(result, "read", "file changed while it was being imported; import it again")
    return result
