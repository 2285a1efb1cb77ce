"""``AssetListModel``: the search results as a paged list model that keeps only the pages near the view.

The model shows the hits of one ``Query``. Its ``rowCount`` is the total
number of hits as soon as the first page has arrived, so the view lays out
every cell at once and row ``i`` is always the ``i``-th hit of the query.
Pages of ``page_size`` hits are fetched on a worker (``Library.search``,
then ``Library.assets`` and ``Library.matching_detections`` for the page)
when a view reads a row whose page is not loaded; until then the row shows a
placeholder. Pages are read with keyset paging: each page's last hit gives
the cursor (``SearchPage.cursor``) the next page starts from, so reading
page 500 costs what page 1 costs; a page far from every known cursor (a
jump with the scroll bar) is read with an offset from the nearest one.

Memory stays bounded however far the view scrolls: at most ``max_rows``
rows (whole pages, at least ``MIN_PAGES``) stay loaded, those nearest the
rows read last; farther pages are evicted with their thumbnails, waiting
thumbnail requests and tooltips, and fetched again from their cursor (the
same rows, even if hits before them changed) when shown again. A result
computed for an older query is dropped (``Generation``). Thumbnails are
requested from a ``ThumbnailLoader`` the first time a row's thumbnail is
read and a placeholder is returned until the pixmap is cached. The loader
checks each stored thumbnail on its worker thread and rebuilds one that
does not decode from the original (``repair_stored_thumbnail``); when that
fails the cell's tooltip says why.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

from mediaapp.core.filenames import display_path
from mediaapp.core.redact import redact
from mediaapp.core.types import Asset, Detection, Query, SearchCursor, SearchHit
from mediaapp.ingest import thumbnails
from mediaapp.ui.background import BackgroundRunner, Generation
from mediaapp.ui.formatting import local_datetime
from mediaapp.ui.pixmaps import BLUR_SUFFIX, THUMBNAIL_MAX_SIDE, PixmapCache, ThumbnailLoader, blurred_pixmap

#: Hits fetched per page.
PAGE_SIZE = 200
#: Rows kept loaded at most by default (whole pages, those nearest the view); farther pages are evicted.
MAX_LOADED_ROWS = 2000
#: Pages kept loaded at least, whatever the page size: the rows on screen and the pages fetched ahead.
MIN_PAGES = 6
#: Page fetches running at once at most (the pages on screen after a jump; one fetched ahead runs alone).
MAX_FETCHES = 2


class Roles(enum.IntEnum):
    """Item data roles of ``AssetListModel`` (besides Display, ToolTip, Decoration)."""

    SHA256 = Qt.ItemDataRole.UserRole + 1   #: str, the asset's sha256
    PATH = Qt.ItemDataRole.UserRole + 2     #: str, the hit's representative file path (Qt drops the odd
    #: bytes of a name that is not UTF-8; ``row(i).path`` is exact)
    THUMBNAIL = Qt.ItemDataRole.UserRole + 3  #: QPixmap: the thumbnail, or the placeholder
    THUMBNAIL_READY = Qt.ItemDataRole.UserRole + 4  #: bool: True once the real thumbnail is cached
    DETECTIONS = Qt.ItemDataRole.UserRole + 5  #: list[Detection]: boxes to draw for the query
    ASSET = Qt.ItemDataRole.UserRole + 6    #: Asset | None: size, format, dimensions, paths
    THUMBNAIL_FAILED = Qt.ItemDataRole.UserRole + 7  #: bool: no thumbnail could be decoded
    #: bool: the thumbnail is shown blurred ("Blur unsafe thumbnails" is on, the image is flagged as unsafe
    #: content, and it was not clicked since; ``AssetListModel.reveal``)
    BLURRED = Qt.ItemDataRole.UserRole + 16
    #: QPixmap | None: the loaded thumbnail blurred (``pixmaps.blurred_pixmap``), made once and kept in the
    #: pixmap cache under ``sha256 + pixmaps.BLUR_SUFFIX`` until its row leaves; None before it is loaded
    BLURRED_THUMBNAIL = Qt.ItemDataRole.UserRole + 17


@dataclass(slots=True)
class AssetRow:
    """One result row: the hit, its asset and the detections to draw.

    ``thumbnail_paths`` are tried in order (the library's thumbnail JPEG,
    then the original file). ``unsafe``: flagged as unsafe content
    (``Library.unsafe``; only read while the grid blurs such thumbnails).
    """

    sha256: str
    path: str
    asset: Asset | None = None
    detections: list[Detection] = field(default_factory=list)
    thumbnail_paths: tuple[str, ...] = ()
    unsafe: bool = False


@dataclass(slots=True)
class ResultPage:
    """What one background fetch returns: rows ``offset..offset+len(rows)``, the ``total`` hits, and the
    ``cursor`` after the last row (``SearchPage.cursor``; None when the page is empty)."""

    offset: int
    rows: list[AssetRow]
    total: int
    cursor: SearchCursor | None = None


def thumbnail_candidates(library, asset: Asset | None, path: str) -> tuple[str, ...]:
    """Files to decode a thumbnail from: the stored thumbnail (made absolute), then the original."""
    out: list[str] = []
    if asset is not None and asset.thumbnail:
        thumb = asset.thumbnail
        if not os.path.isabs(thumb):
            thumb = os.path.join(str(library.root), thumb)
        out.append(thumb)
    out.append(path)
    return tuple(out)


def repair_stored_thumbnail(paths: tuple[str, ...]) -> tuple[tuple[str, ...], str | None]:
    """The grid loader's ``repair`` hook (``pixmaps.Repair``): a stored thumbnail must decode, or be made again.

    ``paths`` are ``thumbnail_candidates``: the stored thumbnail, then the
    original. A thumbnail that decodes is used as it is; one that does not
    (truncated by an older version) is rebuilt from the original by
    ``mediaapp.ingest.thumbnails.ensure_thumbnail``. When that fails, the
    paths to decode are the original alone (never the broken thumbnail,
    which Qt would show grey below the cut) and the second value says why.
    Requests without a stored thumbnail pass through. Runs on the loader's
    worker thread: it reads files and may decode the original. Never raises.
    """
    if len(paths) < 2:
        return paths, None
    try:
        problem = thumbnails.ensure_thumbnail(paths[0], paths[1])
    except ValueError:  # not a thumbnail the library made: decode the paths as they are
        return paths, None
    return (paths, None) if problem is None else (paths[1:], problem)


def fetch_page(library, query: Query, offset: int, limit: int, after: SearchCursor | None = None,
               after_row: int = 0, blur: bool = False) -> ResultPage:
    """Run one page of ``query`` against ``library`` (blocking; call on a worker thread).

    Returns the hits ``offset..offset+limit`` with their assets and the
    boxed detections matching ``query``. ``after`` is the cursor of the hit
    just before row ``after_row`` (None with ``after_row`` 0: the start):
    the search seeks to it and skips ``offset - after_row`` more hits, so a
    page read from its own cursor skips none. Raises whatever
    ``Library.search`` raises (e.g. ``SearchUnavailableError``), and
    ``ValueError`` when ``offset < after_row``. ``blur``: also read which
    hits are flagged as unsafe content (``AssetRow.unsafe``).
    """
    if offset < after_row:
        raise ValueError(f"row {offset} is before the cursor's row {after_row}")
    page = library.search(replace(query, limit=limit, offset=offset - after_row, after=after))
    hits: list[SearchHit] = page.hits
    shas = [h.sha256 for h in hits]
    assets = library.assets(shas) if shas else {}
    detections = library.matching_detections(query, shas) if shas else {}
    unsafe = library.unsafe(shas) if blur and shas else set()
    rows = []
    for hit in hits:
        asset = assets.get(hit.sha256)
        rows.append(AssetRow(hit.sha256, hit.path, asset, list(detections.get(hit.sha256, [])),
                             thumbnail_candidates(library, asset, hit.path), hit.sha256 in unsafe))
    return ResultPage(offset, rows, page.total, page.cursor)


def placeholder_pixmap(side: int = THUMBNAIL_MAX_SIDE, failed: bool = False) -> QPixmap:
    """A flat grey square shown while a thumbnail loads (a crossed one when it failed)."""
    pixmap = QPixmap(side, side)
    pixmap.fill(QColor("#3a3a3a") if not failed else QColor("#4a2f2f"))
    if failed:
        painter = QPainter(pixmap)
        painter.setPen(QColor("#a06060"))
        painter.drawLine(side // 4, side // 4, 3 * side // 4, 3 * side // 4)
        painter.drawLine(3 * side // 4, side // 4, side // 4, 3 * side // 4)
        painter.end()
    return pixmap


class AssetListModel(QAbstractListModel):
    """The hits of the current query (``rowCount`` is their total), loaded page by page around the view.

    ``runner`` runs the library calls; ``loader`` / ``cache`` load and keep
    thumbnails (created when not given); ``page_size`` hits per fetch (read
    when a query starts); ``max_rows`` rows stay loaded at most (module
    docstring). Signals (GUI thread): ``pageLoaded(generation, offset,
    count)`` after a page's rows are filled in, ``totalChanged(total)``,
    ``searchFailed(message)``, ``busyChanged(bool)``.
    """

    pageLoaded = Signal(int, int, int)
    totalChanged = Signal(int)
    searchFailed = Signal(str)
    busyChanged = Signal(bool)

    def __init__(self, runner: BackgroundRunner, loader: ThumbnailLoader | None = None,
                 cache: PixmapCache | None = None, page_size: int = PAGE_SIZE, parent: QObject | None = None,
                 max_rows: int = MAX_LOADED_ROWS):
        super().__init__(parent)
        self.runner = runner
        self.loader = loader or ThumbnailLoader(parent=self, repair=repair_stored_thumbnail)
        self.cache = cache or PixmapCache()
        self.page_size = page_size
        self.max_rows = max_rows
        self.library = None
        self.query = Query()
        self.generation = Generation()
        self._boxes_generation = Generation()  # see reload_boxes
        self.total = 0
        self._count = 0  # rows the views see: 0 until the first page arrives, then the total
        self._size = max(1, page_size)  # the page size of the current query
        self._pages: dict[int, list[AssetRow]] = {}  # page number -> its rows (the loaded pages)
        self._starts: dict[int, SearchCursor] = {}  # page number -> the cursor of the hit before its first row
        self._wanted: dict[int, bool] = {}  # pages asked for, not loaded yet -> only fetched ahead?
        self._inflight: set[int] = set()  # the pages being fetched for the current query
        self._focus = 0  # the page of the row read last: where the view is
        self._row_of: dict[str, int] = {}  # sha256 -> row, for the loaded rows
        self._waiting: list[tuple[int, int, Callable[[], None]]] = []  # (generation, row, callback): when_loaded
        self._failed_thumbs: set[str] = set()
        self.blur_unsafe = False  # "Blur unsafe thumbnails": see set_blur_unsafe
        self._revealed: set[str] = set()  # sha256s clicked while blurred: shown as they are from then on
        self._thumb_problems: dict[str, str] = {}  # sha256 -> why its stored thumbnail could not be fixed
        self._placeholder: QPixmap | None = None
        self._broken: QPixmap | None = None
        self._pump_timer = QTimer(self)
        self._pump_timer.setSingleShot(True)
        self._pump_timer.setInterval(0)  # after the paint that asked: every visible page is known by then
        self._pump_timer.timeout.connect(self._pump)
        self.loader.loaded.connect(self._on_thumbnail)
        self.loader.failed.connect(self._on_thumbnail_failed)
        self.loader.problem.connect(self._on_thumbnail_problem)

    # -- query ----------------------------------------------------------------------------------
    def set_library(self, library) -> None:
        """Show results from ``library`` (None: empty); re-runs the current query."""
        self.library = library
        self.cache.clear()
        self.loader.cancel_all()
        self.set_query(self.query)

    def set_query(self, query: Query) -> int:
        """Replace the results with those of ``query``; returns the new generation.

        Rows are cleared at once and the first page is fetched in the
        background; results of earlier queries still in flight are dropped.
        """
        self.query = query
        generation = self.generation.bump()
        self.beginResetModel()
        self._size = max(1, int(self.page_size))
        self._pages = {}
        self._starts = {}
        self._wanted = {}
        self._row_of = {}
        self._waiting = []
        self._focus = 0
        self._count = self.total = 0
        self._failed_thumbs.clear()
        self._thumb_problems.clear()
        self.endResetModel()
        self.loader.cancel_all()
        was = self.busy
        self._inflight = set()  # their results will be dropped (an older generation)
        if was:
            self.busyChanged.emit(False)
        if self.library is not None:
            self._fetch(0)
        else:
            self.totalChanged.emit(0)
        return generation

    def refresh(self) -> int:
        """Run the current query again (after an import); returns the new generation."""
        return self.set_query(self.query)

    def set_blur_unsafe(self, on: bool, reload: bool = True) -> None:
        """Blur the thumbnails of images flagged as unsafe content until clicked (the library setting).

        Turning it on reads the flags again (the query runs again, since
        pages loaded with it off do not carry them; ``reload`` False when
        the caller sets a query next anyway); turning it off shows every
        thumbnail as it is at once.
        """
        on = bool(on)
        if on == self.blur_unsafe:
            return
        self.blur_unsafe = on
        if on and reload and self.library is not None:
            self.refresh()
        elif self._count:
            self.dataChanged.emit(self.index(0), self.index(self._count - 1), [Roles.BLURRED])

    def reveal(self, index: QModelIndex | QPersistentModelIndex) -> bool:
        """Show the row at ``index`` unblurred from now on (the user clicked it); True when it was blurred."""
        if not index.isValid() or not index.data(Roles.BLURRED):
            return False
        self._revealed.add(str(index.data(Roles.SHA256)))
        self.dataChanged.emit(index, index, [Roles.BLURRED])
        return True

    def reload_boxes(self) -> None:
        """Read the boxes of the loaded rows again (names changed), without running the search again.

        Only ``Roles.DETECTIONS`` of those rows changes (``dataChanged``); the
        rows, their order and the scroll position stay. A result that
        arrives after the query changed is dropped.
        """
        library, query, shas = self.library, self.query, self.sha256s()
        if library is None or not shas:
            return
        generation, reload = self.generation.value, self._boxes_generation.bump()

        def done(detections: dict[str, list[Detection]]) -> None:
            # dropped when the query changed, or a later reload was asked for (it may arrive first)
            if not self.generation.is_current(generation) or not self._boxes_generation.is_current(reload):
                return
            for sha, dets in detections.items():
                row = self.loaded_row(self._row_of.get(sha, -1), touch=False)
                if row is not None and row.sha256 == sha:
                    row.detections = list(dets)
                    index = self.index(self._row_of[sha])
                    self.dataChanged.emit(index, index, [Roles.DETECTIONS])

        self.runner.run(lambda ctx: library.matching_detections(query, shas), on_success=done, label="boxes")

    @property
    def busy(self) -> bool:
        """True while a page is being fetched."""
        return bool(self._inflight)

    @property
    def max_pages(self) -> int:
        """Pages kept loaded at most: ``max_rows`` rows in whole pages, never fewer than ``MIN_PAGES``."""
        return max(MIN_PAGES, self.max_rows // self._size)

    def loaded_pages(self) -> int:
        """How many pages are loaded now (at most ``max_pages``)."""
        return len(self._pages)

    # -- paging ---------------------------------------------------------------------------------
    def _want(self, page: int, ahead: bool = False) -> None:
        """Ask for ``page``: a row of it was read, or (``ahead``) the view is heading there.

        Fetched soon, unless the view moves on first (``_pump``).
        """
        if page in self._pages or page in self._inflight or not 0 <= page * self._size < self._count:
            return
        if not ahead or page not in self._wanted:
            self._wanted[page] = ahead
        if not self._pump_timer.isActive():
            self._pump_timer.start()

    def _touch(self, page: int) -> None:
        """The view reads ``page``: it is where the view is; the next page its way is fetched ahead."""
        if page != self._focus:
            step = 1 if page > self._focus else -1
            self._focus = page
            self._want(page + step, ahead=True)

    def _start_of(self, page: int) -> tuple[SearchCursor | None, int]:
        """The known cursor nearest before ``page``'s first row, and that cursor's row (``(None, 0)``: the start)."""
        known = [p for p in self._starts if p <= page]
        if not known:
            return None, 0
        best = max(known)
        return self._starts[best], best * self._size

    def _pump(self) -> None:
        """Start fetching the wanted pages that matter most.

        Pages too far from the view to be kept are forgotten, unless a
        ``when_loaded`` callback waits for them (those go first). Then the
        pages whose rows were read, nearest the view first (a page whose
        cursor is known before one that needs an offset), up to
        ``MAX_FETCHES`` at once, so a jump never waits behind a fetch for
        the place the view left; a page fetched ahead only starts when
        nothing else runs (by then its cursor is usually known).
        """
        if self.library is None:
            return
        reach = self.max_pages // 2
        pinned = {row // self._size for _gen, row, _fn in self._waiting}
        wanted = {p: ahead for p, ahead in self._wanted.items()
                  if p not in self._pages and p not in self._inflight and p * self._size < self._count
                  and (p in pinned or abs(p - self._focus) <= reach)}
        wanted.update((p, False) for p in pinned if p not in self._pages and p not in self._inflight)
        self._wanted = wanted
        while self._wanted and len(self._inflight) < MAX_FETCHES:
            page = min(self._wanted, key=lambda p: (p not in pinned, self._wanted[p], abs(p - self._focus),
                                                    p != 0 and p not in self._starts, p))
            if self._wanted[page] and self._inflight:
                return  # fetched ahead: only when nothing else runs
            del self._wanted[page]
            self._fetch(page)

    def _fetch(self, page: int) -> None:
        generation = self.generation.value
        library, query, size, blur = self.library, self.query, self._size, self.blur_unsafe
        after, after_row = self._start_of(page)
        self._set_inflight(page, True)
        self.runner.run(lambda ctx: fetch_page(library, query, page * size, size, after, after_row, blur),
                        on_success=lambda result: self._on_page(generation, page, result),
                        on_failure=lambda exc: self._on_page_failed(generation, page, exc),
                        label="search")

    def _set_inflight(self, page: int, running: bool) -> None:
        """Note that ``page`` is being fetched (or no longer); ``busyChanged`` when that starts or ends all fetching."""
        was = self.busy
        if running:
            self._inflight.add(page)
        else:
            self._inflight.discard(page)
        if self.busy != was:
            self.busyChanged.emit(self.busy)

    def _on_page(self, generation: int, page: int, result: ResultPage) -> None:
        if not self.generation.is_current(generation):
            return
        self._set_inflight(page, False)
        self._resize(result.total)
        if result.total != self.total:
            self.total = result.total
            self.totalChanged.emit(result.total)
        first = page * self._size
        rows = result.rows[:max(0, self._count - first)]
        if rows:
            self._pages[page] = rows
            for i, row in enumerate(rows):
                self._row_of[row.sha256] = first + i
            if result.cursor is not None and len(rows) == self._size:
                self._starts[page + 1] = result.cursor
            self.dataChanged.emit(self.index(first), self.index(first + len(rows) - 1))
        self.pageLoaded.emit(generation, first, len(rows))
        self._call_waiting()
        self._evict()
        self._pump()

    def _resize(self, total: int) -> None:
        """Make ``rowCount`` ``total`` (rows added or removed at the end; removed rows' pages dropped)."""
        if total > self._count:
            self.beginInsertRows(QModelIndex(), self._count, total - 1)
            self._count = total
            self.endInsertRows()
        elif total < self._count:
            self.beginRemoveRows(QModelIndex(), total, self._count - 1)
            self._count = total
            for page in [p for p in self._pages if (p + 1) * self._size > total]:
                self._drop_page(page, keep=max(0, total - page * self._size))
            self.endRemoveRows()

    def _evict(self) -> None:
        """Drop the pages farthest from the view until at most ``max_pages`` are loaded."""
        extra = len(self._pages) - self.max_pages
        if extra <= 0:
            return
        for page in sorted(self._pages, key=lambda p: (-abs(p - self._focus), p))[:extra]:
            self._drop_page(page)

    def _drop_page(self, page: int, keep: int = 0) -> None:
        """Forget the rows of ``page`` after its first ``keep`` ones, with their thumbnails and requests."""
        rows = self._pages.pop(page)
        gone = rows[keep:]
        if keep:
            self._pages[page] = rows[:keep]
        keys = [r.sha256 for r in gone]
        first = page * self._size + keep
        for i, key in enumerate(keys):
            if self._row_of.get(key) == first + i:
                del self._row_of[key]
            if key not in self._row_of:  # the same asset may still be loaded on another row
                self.cache.remove(key)
                self.cache.remove(key + BLUR_SUFFIX)
                self._failed_thumbs.discard(key)
                self._thumb_problems.pop(key, None)
        self.loader.forget(keys)

    def _on_page_failed(self, generation: int, page: int, exc: BaseException) -> None:
        if not self.generation.is_current(generation):
            return
        self._set_inflight(page, False)
        if not self._count:
            self.total = 0
            self.totalChanged.emit(0)
        self.searchFailed.emit(redact(str(exc) or type(exc).__name__))
        self._pump()

    def request_rows(self, first: int, last: int) -> None:
        """Fetch the pages holding rows ``first..last`` (those not loaded) soon, as if a view showed them."""
        if self._count <= 0 or last < first:
            return
        first, last = max(0, first), min(self._count - 1, last)
        for page in range(first // self._size, last // self._size + 1):
            self._focus = page
            self._want(page)

    def when_loaded(self, row: int, callback: Callable[[], None]) -> None:
        """Call ``callback()`` once row ``row`` is loaded (now, if it is); its page is fetched if needed.

        Forgotten when the query changes first. GUI thread.
        """
        if self.loaded_row(row) is not None:
            callback()
            return
        self._waiting.append((self.generation.value, row, callback))
        self.request_rows(row, row)

    def _call_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        for generation, row, callback in waiting:
            if generation != self.generation.value:
                continue
            if self.loaded_row(row, touch=False) is None:
                self._waiting.append((generation, row, callback))
            else:
                callback()

    # -- Qt model API ---------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        """Every hit of the query once its first page arrived (0 before, and for any valid parent)."""
        return 0 if parent.isValid() else self._count

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        """Selectable and enabled; never editable."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """The row's data for ``role`` (see ``Roles``); None for unknown roles or rows.

        A row whose page is not loaded asks for it and reads as a
        placeholder: no text, no asset, no boxes, the loading pixmap.
        """
        if not index.isValid():
            return None
        row = self.loaded_row(index.row())
        if row is None:
            return self._pending_data(role) if 0 <= index.row() < self._count else None
        if role == Qt.ItemDataRole.DisplayRole:
            return display_path(os.path.basename(row.path))
        if role == Qt.ItemDataRole.ToolTipRole:
            problem = self._thumb_problems.get(row.sha256)
            taken = local_datetime(row.asset.taken_at) if row.asset is not None else ""
            stacked = row.asset.stack_paths if row.asset is not None else []
            return (display_path(row.path) + (f"\nTaken {taken}" if taken else "")
                    + "".join(f"\nStacked with {display_path(os.path.basename(p))}" for p in stacked)
                    + (f"\nThumbnail: {problem}" if problem else "")
                    + ("\nBlurred: flagged as unsafe content. Click to show it."
                       if self.blur_unsafe and row.unsafe and row.sha256 not in self._revealed else ""))
        if role == Roles.SHA256:
            return row.sha256
        if role == Roles.PATH:
            return row.path
        if role == Roles.ASSET:
            return row.asset
        if role == Roles.DETECTIONS:
            return row.detections
        if role in (Roles.THUMBNAIL, Qt.ItemDataRole.DecorationRole):
            return self.thumbnail(row)
        if role == Roles.THUMBNAIL_READY:
            return row.sha256 in self.cache
        if role == Roles.THUMBNAIL_FAILED:
            return row.sha256 in self._failed_thumbs
        if role == Roles.BLURRED:
            return self.blur_unsafe and row.unsafe and row.sha256 not in self._revealed
        if role == Roles.BLURRED_THUMBNAIL:
            return self.blurred_thumbnail(row)
        return None

    def _pending_data(self, role: int) -> Any:
        """What a row not loaded yet shows for ``role``."""
        if role in (Roles.THUMBNAIL, Qt.ItemDataRole.DecorationRole):
            return self._loading_pixmap()
        if role in (Roles.THUMBNAIL_READY, Roles.THUMBNAIL_FAILED, Roles.BLURRED):
            return False
        if role == Roles.DETECTIONS:
            return []
        if role == Qt.ItemDataRole.DisplayRole:
            return ""
        return None

    def loaded_row(self, i: int, touch: bool = True) -> AssetRow | None:
        """The ``AssetRow`` at row ``i`` if its page is loaded, else None (its page is then asked for).

        ``touch`` (default) also marks the view as being at that row: its
        page is kept and its neighbours are fetched ahead. Never blocks.
        """
        if not 0 <= i < self._count:
            return None
        page, k = divmod(i, self._size)
        if touch:
            self._touch(page)
        rows = self._pages.get(page)
        if rows is None:
            if touch:
                self._want(page)
            return None
        return rows[k] if k < len(rows) else None

    def is_loaded(self, i: int) -> bool:
        """Whether row ``i``'s data is loaded (without asking for it)."""
        return self.loaded_row(i, touch=False) is not None

    def row(self, i: int) -> AssetRow:
        """The ``AssetRow`` at row ``i``.

        Raises ``IndexError`` when ``i`` is out of range or its page is not
        loaded (not fetched yet, or evicted; it is asked for: see
        ``loaded_row`` and ``when_loaded``).
        """
        row = self.loaded_row(i)
        if row is None:
            raise IndexError(f"row {i} is not loaded" if 0 <= i < self._count else f"row {i} out of range")
        return row

    def row_of(self, sha256: str) -> int:
        """The loaded row showing ``sha256``, or -1."""
        return self._row_of.get(sha256, -1)

    def sha256s(self) -> list[str]:
        """The sha256 of every loaded row, in row order (every row, once all pages are loaded)."""
        return [r.sha256 for page in sorted(self._pages) for r in self._pages[page]]

    # -- thumbnails -----------------------------------------------------------------------------
    def thumbnail(self, row: AssetRow) -> QPixmap:
        """The cached thumbnail of ``row``, else a placeholder (and a load request is queued)."""
        pixmap = self.cache.get(row.sha256)
        if pixmap is not None:
            return pixmap
        if row.sha256 in self._failed_thumbs:
            if self._broken is None:
                self._broken = placeholder_pixmap(64, failed=True)
            return self._broken
        self.loader.request(row.sha256, row.thumbnail_paths)
        return self._loading_pixmap()

    def blurred_thumbnail(self, row: AssetRow) -> QPixmap | None:
        """``row``'s loaded thumbnail blurred, made on first use and cached (``sha256 + BLUR_SUFFIX``); else None."""
        key = row.sha256 + BLUR_SUFFIX
        blurred = self.cache.get(key)
        if blurred is None:
            pixmap = self.cache.get(row.sha256)
            if pixmap is None:
                return None
            blurred = blurred_pixmap(pixmap)
            self.cache.put(key, blurred)
        return blurred

    def _loading_pixmap(self) -> QPixmap:
        if self._placeholder is None:
            self._placeholder = placeholder_pixmap(64)
        return self._placeholder

    def _on_thumbnail(self, key: str, image: QImage) -> None:
        if key not in self._row_of:  # its row was evicted (or the query changed) while it decoded
            return
        self.cache.put(key, QPixmap.fromImage(image))
        self.cache.remove(key + BLUR_SUFFIX)  # blurred again from the new thumbnail when shown
        self._changed(key)

    def _on_thumbnail_failed(self, key: str) -> None:
        if key not in self._row_of:
            return
        self._failed_thumbs.add(key)
        self._changed(key)

    def _on_thumbnail_problem(self, key: str, message: str) -> None:
        if key not in self._row_of:
            return
        self._thumb_problems[key] = message
        i = self._row_of.get(key)
        if i is not None:
            index = self.index(i)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.ToolTipRole])

    def _changed(self, key: str) -> None:
        i = self._row_of.get(key)
        if i is not None:
            index = self.index(i)
            self.dataChanged.emit(index, index, [Roles.THUMBNAIL, Qt.ItemDataRole.DecorationRole,
                                                 Roles.THUMBNAIL_READY, Roles.THUMBNAIL_FAILED])
