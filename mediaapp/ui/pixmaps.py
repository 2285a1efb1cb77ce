"""Thumbnail loading off the GUI thread, newest request first, and an LRU pixmap cache.

``ThumbnailLoader.request(key, paths)`` puts a request on a stack; a few
worker threads pop the most recent request first (so after a fast scroll the
cells now visible load before the ones scrolled past) and decode a
``QImage`` scaled to at most ``max_side`` pixels. ``loaded(key, image)`` is
then emitted on the GUI thread, where the image becomes a ``QPixmap``
(pixmaps exist only on the GUI thread) and goes into a ``PixmapCache``. A
loader given a ``repair`` function runs it on the worker thread before
decoding (the grid's stored thumbnails are checked and rebuilt there, see
``asset_list.repair_stored_thumbnail``); what it reports arrives as
``problem(key, message)``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QObject, QRunnable, QSize, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QImage, QImageReader, QPixmap

from mediaapp.fsio import open_regular

#: Longest side, in pixels, thumbnails are decoded at (the grid draws them at most this big).
THUMBNAIL_MAX_SIDE = 256
#: Default byte budget of the pixmap cache (about 380 thumbnails of 256x256 at 32 bits).
DEFAULT_CACHE_BYTES = 96 * 1024 * 1024
#: Requests kept waiting at most; older ones are forgotten (they are asked again when painted).
MAX_PENDING = 600
#: Decoded images at most on their way to the GUI thread (queued signals, 192 KB each at 256 px): the
#: workers wait for the GUI thread beyond that, so a fast scroll cannot pile up images in the event queue.
MAX_UNDELIVERED = 16
#: Seconds a worker waits for the GUI thread to take results before decoding on anyway.
ROOM_WAIT = 1.0

#: A loader's ``repair`` hook: given a request's paths, on a worker thread, the paths to decode
#: instead and a sentence for the user (None when all is well).
Repair = Callable[[tuple[str, ...]], tuple[tuple[str, ...], str | None]]


def load_image(paths: Sequence[str], max_side: int = THUMBNAIL_MAX_SIDE) -> QImage | None:
    """Decode the first readable of ``paths`` scaled to fit ``max_side`` x ``max_side`` pixels.

    EXIF orientation is applied. Returns an ``RGB32``/``ARGB32_Premultiplied``
    ``QImage`` (cheap to turn into a pixmap), or None when no path can be
    decoded. The bytes are read by Python with ``mediaapp.fsio.open_regular``
    and decoded from memory: Qt's own file names cannot hold bytes that are
    not UTF-8, and a FIFO put in a file's place must not block a thread.
    Safe on any thread (``QImage`` is not a GUI-thread-only class); never
    call it on the GUI thread, it reads files.
    """
    for path in paths:
        if not path:
            continue
        try:
            with open_regular(path) as f:
                data = f.read()
        except OSError:
            continue
        image = _decode(data, max_side)
        if image is not None:
            return image
    return None


def _decode(data: bytes, max_side: int) -> QImage | None:
    """Decode encoded image ``data`` scaled to fit ``max_side``; None when Qt cannot read it."""
    array = QByteArray(data)
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buffer)
    try:
        reader.setAutoTransform(True)
        size = reader.size()
        if size.isValid() and (size.width() > max_side or size.height() > max_side):
            reader.setScaledSize(size.scaled(QSize(max_side, max_side), Qt.AspectRatioMode.KeepAspectRatio))
        image = reader.read()
    finally:
        reader.setDevice(None)  # the reader must not outlive its buffer (Qt does not own it)
        buffer.close()
    if image.isNull():
        return None
    if max(image.width(), image.height()) > max_side:  # readers that ignore setScaledSize
        image = image.scaled(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    fmt = QImage.Format.Format_ARGB32_Premultiplied if image.hasAlphaChannel() else QImage.Format.Format_RGB32
    return image.convertToFormat(fmt)


#: A blurred thumbnail is drawn from a copy this many times smaller (smooth-scaled down, then up): at 1/24
#: of a 256 px thumbnail (about 10 px) shapes are gone and only the colours remain.
BLUR_FACTOR = 24


def blurred_pixmap(pixmap: QPixmap) -> QPixmap:
    """``pixmap`` blurred beyond recognition: smooth-scaled down by ``BLUR_FACTOR`` and back up (same size).

    Two smooth rescales: costly, so the grid model caches the result (``BLUR_SUFFIX``).
    """
    if pixmap.isNull():
        return pixmap
    small = pixmap.scaled(max(1, pixmap.width() // BLUR_FACTOR), max(1, pixmap.height() // BLUR_FACTOR),
                          Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation)
    return small.scaled(pixmap.width(), pixmap.height(), Qt.AspectRatioMode.IgnoreAspectRatio,
                        Qt.TransformationMode.SmoothTransformation)


#: ``PixmapCache`` key suffix of a thumbnail's blurred copy (``sha256 + BLUR_SUFFIX``).
BLUR_SUFFIX = ":blur"


class PixmapCache:
    """A least-recently-used cache of ``QPixmap``s bounded by a byte budget.

    The cost of a pixmap is ``width * height * depth / 8`` bytes.
    ``max_bytes`` is the budget; inserting beyond it evicts the least
    recently used entries (a single pixmap larger than the budget is not
    kept). GUI thread only.
    """

    def __init__(self, max_bytes: int = DEFAULT_CACHE_BYTES):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._items: OrderedDict[str, tuple[QPixmap, int]] = OrderedDict()

    @staticmethod
    def cost(pixmap: QPixmap) -> int:
        """Bytes ``pixmap`` occupies."""
        return pixmap.width() * pixmap.height() * max(pixmap.depth(), 1) // 8

    def get(self, key: str) -> QPixmap | None:
        """The pixmap for ``key`` (now most recently used), or None."""
        item = self._items.get(key)
        if item is None:
            return None
        self._items.move_to_end(key)
        return item[0]

    def __contains__(self, key: str) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def put(self, key: str, pixmap: QPixmap) -> None:
        """Insert or replace ``key``, then evict the oldest entries until within budget."""
        self.remove(key)
        cost = self.cost(pixmap)
        if cost > self.max_bytes:
            return
        self._items[key] = (pixmap, cost)
        self.bytes += cost
        while self.bytes > self.max_bytes:
            _, (_, old_cost) = self._items.popitem(last=False)
            self.bytes -= old_cost

    def remove(self, key: str) -> None:
        """Forget ``key`` (no error when absent)."""
        item = self._items.pop(key, None)
        if item is not None:
            self.bytes -= item[1]

    def clear(self) -> None:
        """Forget everything."""
        self._items.clear()
        self.bytes = 0


class _LoaderBridge(QObject):
    done = Signal(str, object, object)  # key, QImage or None, problem text or None


class _Drain(QRunnable):
    """Pops requests newest-first until the stack is empty."""

    def __init__(self, loader: ThumbnailLoader):
        super().__init__()
        self.loader = loader
        self.bridge = loader._bridge

    def run(self) -> None:  # worker thread
        loader, bridge = self.loader, self.bridge
        self.loader = None
        try:
            while True:
                job = loader._pop()
                if job is None:
                    return
                key, paths, max_side = job
                problem = None
                try:
                    if loader.repair is not None:
                        paths, problem = loader.repair(paths)
                    image = load_image(paths, max_side)
                except Exception as exc:  # a bug must not end the drain: the cell shows as failed
                    image, problem = None, problem or f"{type(exc).__name__}: {exc}"
                bridge.done.emit(key, image, problem)
        finally:
            loader._drain_ended()


class ThumbnailLoader(QObject):
    """Decodes thumbnails on ``threads`` worker threads, most recent request first.

    ``loaded(key, image)`` carries a ``QImage`` (GUI thread); ``failed(key)``
    says no path could be decoded. A key already waiting is moved to the top
    instead of queued twice; a key being decoded is not queued again.
    ``repair`` (optional, a ``Repair``) runs on the worker thread before each
    decode and may replace the paths; a message it returns is emitted as
    ``problem(key, message)`` before ``loaded``/``failed``. At most
    ``MAX_UNDELIVERED`` decoded images wait for the GUI thread at a time;
    ``forget`` drops the waiting requests of rows scrolled far away.
    """

    loaded = Signal(str, QImage)
    failed = Signal(str)
    problem = Signal(str, str)

    def __init__(self, threads: int = 2, max_side: int = THUMBNAIL_MAX_SIDE, parent: QObject | None = None,
                 repair: Repair | None = None):
        super().__init__(parent)
        self.max_side = max_side
        self.repair = repair
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._threads = threads
        self._bridge = _LoaderBridge(self)
        self._bridge.done.connect(self._on_done, Qt.ConnectionType.QueuedConnection)
        self._lock = threading.Lock()
        self._room = threading.Condition(self._lock)  # signalled when the GUI thread takes a result
        self._stack: OrderedDict[str, tuple[tuple[str, ...], int]] = OrderedDict()
        self._in_progress: set[str] = set()
        self._drains = 0

    def request(self, key: str, paths: Sequence[str]) -> None:
        """Ask for the thumbnail ``key`` decoded from the first readable of ``paths``."""
        with self._lock:
            if key in self._in_progress:
                return
            if key in self._stack:
                self._stack.move_to_end(key)
            else:
                self._stack[key] = (tuple(paths), self.max_side)
                while len(self._stack) > MAX_PENDING:
                    self._stack.popitem(last=False)
            start = self._drains < self._threads
            if start:
                self._drains += 1
        if start:
            self.pool.start(_Drain(self))

    def pending(self) -> int:
        """Requests waiting or being decoded."""
        with self._lock:
            return len(self._stack) + len(self._in_progress)

    def cancel_all(self) -> None:
        """Forget every waiting request (decodes already running still finish)."""
        with self._room:
            self._stack.clear()
            self._room.notify_all()  # a drain waiting for room finds nothing left and ends

    def forget(self, keys: Iterable[str]) -> None:
        """Forget the waiting requests of ``keys`` (rows scrolled far away); decodes already running finish."""
        with self._lock:
            for key in keys:
                self._stack.pop(key, None)

    def _pop(self) -> tuple[str, tuple[str, ...], int] | None:
        """The newest request, once fewer than ``MAX_UNDELIVERED`` decodes await the GUI thread (worker side).

        Waits at most ``ROOM_WAIT`` seconds for the GUI thread to take
        results (it may be busy, or closing), then goes on anyway. None
        when no request is left.
        """
        with self._room:
            deadline = None
            while self._stack and len(self._in_progress) >= MAX_UNDELIVERED:
                deadline = deadline or time.monotonic() + ROOM_WAIT
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._room.wait(left)
            if not self._stack:
                return None
            key, (paths, max_side) = self._stack.popitem(last=True)
            self._in_progress.add(key)
            return key, paths, max_side

    def _drain_ended(self) -> None:
        with self._lock:
            self._drains -= 1
            restart = bool(self._stack) and self._drains < self._threads
            if restart:
                self._drains += 1
        if restart:  # a request slipped in between the last pop and the end of the drain
            self.pool.start(_Drain(self))

    @Slot(str, object, object)
    def _on_done(self, key: str, image: QImage | None, problem: str | None) -> None:
        with self._room:
            self._in_progress.discard(key)
            self._room.notify_all()
        if problem:
            self.problem.emit(key, problem)
        if image is None:
            self.failed.emit(key)
        else:
            self.loaded.emit(key, image)
