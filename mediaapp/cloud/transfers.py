"""Watching the cloud engine's S3 uploads from the code that started an import: bytes, files, cancel.

The ``rekognition`` engine uploads inside ``Library.import_paths``, in
threads of the importing process (its ``executor`` is ``"thread"``), far
from the CLI's progress bars and the GUI's status line. Whoever starts an
import opens a watch around it::

    with watch_uploads(on_bytes=bar.update, cancel=token) as watch:
        library.import_paths(paths, cancel=token)
    print(describe(watch.totals()))

While a watch is open, every chunk the engine sends is reported to it
(``on_bytes(n)``), every image it puts or finds in the bucket too
(``on_file(uploaded)``), and its ``cancel`` token also cancels the uploads
in flight: a multipart upload is aborted, nothing partial stays in the
bucket. Watches are process-wide (the engine has no other way to reach the
caller); an import runs one at a time per library, so in practice there is
one watch. Callbacks run on the uploading threads: keep them short and
thread-safe (``tqdm.update`` and ``TaskContext.progress`` are).

No Qt and no boto3 here: the UI and the CLI both import it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_lock = threading.Lock()
_watches: list[UploadWatch] = []


@dataclass(frozen=True)
class UploadTotals:
    """What a watch saw: ``bytes_sent`` (bytes put on the wire, all files), ``files_uploaded``
    (objects written), ``files_present`` (objects already in the bucket, nothing sent)."""

    bytes_sent: int = 0
    files_uploaded: int = 0
    files_present: int = 0


class UploadWatch:
    """One subscription to the uploads of this process (see the module docstring).

    ``on_bytes(n)``: ``n`` more bytes sent (int; s3transfer may report a
    negative ``n`` when it rewinds a retried part). ``on_file(uploaded)``:
    one image's object is in the bucket (``uploaded`` False: it already was).
    ``cancel``: any object with a ``cancelled`` property (a
    ``mediaapp.tasks.CancelToken``), or None.
    """

    def __init__(self, on_bytes: Callable[[int], None] | None = None,
                 on_file: Callable[[bool], None] | None = None, cancel=None):
        self.on_bytes = on_bytes
        self.on_file = on_file
        self.cancel = cancel
        self._lock = threading.Lock()
        self._bytes = 0
        self._uploaded = 0
        self._present = 0

    def totals(self) -> UploadTotals:
        """A consistent snapshot of the counts so far (thread-safe)."""
        with self._lock:
            return UploadTotals(self._bytes, self._uploaded, self._present)

    def _add_bytes(self, n: int) -> None:
        with self._lock:
            self._bytes += n
        if self.on_bytes is not None:
            self.on_bytes(n)

    def _add_file(self, uploaded: bool) -> None:
        with self._lock:
            if uploaded:
                self._uploaded += 1
            else:
                self._present += 1
        if self.on_file is not None:
            self.on_file(uploaded)


@contextmanager
def watch_uploads(on_bytes: Callable[[int], None] | None = None, on_file: Callable[[bool], None] | None = None,
                  cancel=None) -> Iterator[UploadWatch]:
    """Open an ``UploadWatch`` for the duration of the ``with`` block (see ``UploadWatch``)."""
    watch = UploadWatch(on_bytes, on_file, cancel)
    with _lock:
        _watches.append(watch)
    try:
        yield watch
    finally:
        with _lock:
            _watches.remove(watch)


def _current() -> list[UploadWatch]:
    with _lock:
        return list(_watches)


def report_bytes(n: int) -> None:
    """Engine side: ``n`` bytes were sent (called per chunk by the S3 store's progress hook)."""
    for watch in _current():
        watch._add_bytes(n)


def report_file(uploaded: bool) -> None:
    """Engine side: one image's object is in the bucket (``uploaded`` False: it was already there)."""
    for watch in _current():
        watch._add_file(uploaded)


class WatchedCancel:
    """A cancel token for the engine's work: cancelled when an ``extra`` token or any open watch's token is.

    ``extra``: tokens of the engine's run (None entries are ignored). Read
    ``cancelled`` as often as needed (a few lock-free attribute reads).
    """

    def __init__(self, *extra):
        self.extra = [t for t in extra if t is not None]

    @property
    def cancelled(self) -> bool:
        """True once any of the tokens is cancelled."""
        if any(t.cancelled for t in self.extra):
            return True
        return any(w.cancel is not None and w.cancel.cancelled for w in _current())


def describe(totals: UploadTotals) -> str:
    """One line for people, e.g. ``"uploaded 3 files (12.4 MiB sent), 2 already in the bucket"``."""
    text = f"uploaded {totals.files_uploaded} file{'s' if totals.files_uploaded != 1 else ''} " \
           f"({format_bytes(totals.bytes_sent)} sent)"
    if totals.files_present:
        text += f", {totals.files_present} already in the bucket"
    return text


def format_bytes(n: int) -> str:
    """Bytes in binary units: ``"512 B"``, ``"1.5 KiB"``, ``"12.4 MiB"``, ``"2.0 GiB"``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if abs(value) < 1024:
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
