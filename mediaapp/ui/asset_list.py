"""``AssetListModel``: the search results as a lazily paged list model.

The model shows the hits of one ``Query``. Pages of ``page_size`` hits are
fetched on a worker (``Library.search`` with ``limit``/``offset``, then
``Library.assets`` and ``Library.matching_detections`` for the page) when
the view asks for more (``canFetchMore``/``fetchMore``). A result computed
for an older query is dropped (``Generation``). Thumbnails are requested
from a ``ThumbnailLoader`` the first time a row's thumbnail is read and a
placeholder is returned until the pixmap is cached.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field, replace
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap

from mediaapp.core.filenames import display_path
from mediaapp.core.types import Asset, Detection, Query, SearchHit
from mediaapp.ui.background import BackgroundRunner, Generation
from mediaapp.ui.pixmaps import THUMBNAIL_MAX_SIDE, PixmapCache, ThumbnailLoader

#: Hits fetched per page.
PAGE_SIZE = 200


class Roles(enum.IntEnum):
    """Item data roles of ``AssetListModel`` (besides Display, ToolTip, Decoration)."""

    SHA256 = Qt.ItemDataRole.UserRole + 1   #: str, the asset's sha256
    PATH = Qt.ItemDataRole.UserRole + 2     #: str, the hit's representative file path (Qt drops the odd
    #: bytes of a name that is not UTF-8; ``row_at(row).path`` is exact)
    THUMBNAIL = Qt.ItemDataRole.UserRole + 3  #: QPixmap: the thumbnail, or the placeholder
    THUMBNAIL_READY = Qt.ItemDataRole.UserRole + 4  #: bool: True once the real thumbnail is cached
    DETECTIONS = Qt.ItemDataRole.UserRole + 5  #: list[Detection]: boxes to draw for the query
    ASSET = Qt.ItemDataRole.UserRole + 6    #: Asset | None: size, format, dimensions, paths
    THUMBNAIL_FAILED = Qt.ItemDataRole.UserRole + 7  #: bool: no thumbnail could be decoded


@dataclass(slots=True)
class AssetRow:
    """One result row: the hit, its asset and the detections to draw.

    ``thumbnail_paths`` are tried in order (the library's thumbnail JPEG,
    then the original file).
    """

    sha256: str
    path: str
    asset: Asset | None = None
    detections: list[Detection] = field(default_factory=list)
    thumbnail_paths: tuple[str, ...] = ()


@dataclass(slots=True)
class ResultPage:
    """What one background fetch returns: rows ``offset..offset+len(rows)`` and the ``total`` hits."""

    offset: int
    rows: list[AssetRow]
    total: int


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


def fetch_page(library, query: Query, offset: int, limit: int) -> ResultPage:
    """Run one page of ``query`` against ``library`` (blocking; call on a worker thread).

    Returns the hits ``offset..offset+limit`` with their assets and the
    boxed detections matching ``query``. Raises whatever ``Library.search``
    raises (e.g. ``SearchUnavailableError``).
    """
    page = library.search(replace(query, limit=limit, offset=offset))
    hits: list[SearchHit] = page.hits
    shas = [h.sha256 for h in hits]
    assets = library.assets(shas) if shas else {}
    detections = library.matching_detections(query, shas) if shas else {}
    rows = []
    for hit in hits:
        asset = assets.get(hit.sha256)
        rows.append(AssetRow(hit.sha256, hit.path, asset, list(detections.get(hit.sha256, [])),
                             thumbnail_candidates(library, asset, hit.path)))
    return ResultPage(offset, rows, page.total)


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
    """The hits of the current query, fetched lazily page by page.

    ``runner`` runs the library calls; ``loader`` / ``cache`` load and keep
    thumbnails (created when not given). Signals (GUI thread):
    ``pageLoaded(generation, offset, count)`` after a page is inserted,
    ``totalChanged(total)``, ``searchFailed(message)``, ``busyChanged(bool)``.
    """

    pageLoaded = Signal(int, int, int)
    totalChanged = Signal(int)
    searchFailed = Signal(str)
    busyChanged = Signal(bool)

    def __init__(self, runner: BackgroundRunner, loader: ThumbnailLoader | None = None,
                 cache: PixmapCache | None = None, page_size: int = PAGE_SIZE, parent: QObject | None = None):
        super().__init__(parent)
        self.runner = runner
        self.loader = loader or ThumbnailLoader(parent=self)
        self.cache = cache or PixmapCache()
        self.page_size = page_size
        self.library = None
        self.query = Query()
        self.generation = Generation()
        self._boxes_generation = Generation()  # see reload_boxes
        self.total = 0
        self._rows: list[AssetRow] = []
        self._row_of: dict[str, int] = {}
        self._fetching = False
        self._failed_thumbs: set[str] = set()
        self._placeholder: QPixmap | None = None
        self._broken: QPixmap | None = None
        self.loader.loaded.connect(self._on_thumbnail)
        self.loader.failed.connect(self._on_thumbnail_failed)

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
        self._rows = []
        self._row_of = {}
        self.total = 0
        self._failed_thumbs.clear()
        self.endResetModel()
        self.loader.cancel_all()
        self._fetching = False
        if self.library is not None:
            self._fetch(generation, 0)
        else:
            self.totalChanged.emit(0)
        return generation

    def refresh(self) -> int:
        """Run the current query again (after an import); returns the new generation."""
        return self.set_query(self.query)

    def reload_boxes(self) -> None:
        """Read the boxes of the loaded rows again (names changed), without running the search again.

        Only ``Roles.DETECTIONS`` of those rows changes (``dataChanged``); the
        rows, their order and the scroll position stay. A result that
        arrives after the query changed is dropped.
        """
        library, query, shas = self.library, self.query, [r.sha256 for r in self._rows]
        if library is None or not shas:
            return
        generation, reload = self.generation.value, self._boxes_generation.bump()

        def done(detections: dict[str, list[Detection]]) -> None:
            # dropped when the query changed, or a later reload was asked for (it may arrive first)
            if not self.generation.is_current(generation) or not self._boxes_generation.is_current(reload):
                return
            for sha, dets in detections.items():
                row = self._row_of.get(sha)
                if row is not None:
                    self._rows[row].detections = list(dets)
                    index = self.index(row)
                    self.dataChanged.emit(index, index, [Roles.DETECTIONS])

        self.runner.run(lambda ctx: library.matching_detections(query, shas), on_success=done, label="boxes")

    @property
    def busy(self) -> bool:
        """True while a page is being fetched."""
        return self._fetching

    def _fetch(self, generation: int, offset: int) -> None:
        library, query, limit = self.library, self.query, self.page_size
        self._set_fetching(True)
        self.runner.run(lambda ctx: fetch_page(library, query, offset, limit),
                        on_success=lambda page: self._on_page(generation, page),
                        on_failure=lambda exc: self._on_page_failed(generation, exc),
                        label="search")

    def _set_fetching(self, value: bool) -> None:
        if self._fetching != value:
            self._fetching = value
            self.busyChanged.emit(value)

    def _on_page(self, generation: int, page: ResultPage) -> None:
        if not self.generation.is_current(generation):
            return
        self._set_fetching(False)
        if page.offset != len(self._rows):  # a page for a position we no longer need
            self.generation.dropped += 1
            return
        new = [r for r in page.rows if r.sha256 not in self._row_of]  # the index changed between pages
        if new:
            first = len(self._rows)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for i, row in enumerate(new):
                self._row_of[row.sha256] = first + i
            self._rows.extend(new)
            self.endInsertRows()
        total = page.total if page.rows else len(self._rows)
        if total != self.total:
            self.total = total
            self.totalChanged.emit(total)
        self.pageLoaded.emit(generation, page.offset, len(new))

    def _on_page_failed(self, generation: int, exc: BaseException) -> None:
        if not self.generation.is_current(generation):
            return
        self._set_fetching(False)
        self.total = len(self._rows)
        self.totalChanged.emit(self.total)
        self.searchFailed.emit(str(exc) or type(exc).__name__)

    # -- Qt model API ---------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        """Rows loaded so far (0 for any valid parent: this is a flat list)."""
        return 0 if parent.isValid() else len(self._rows)

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:
        """True when more hits exist than are loaded and no page is being fetched."""
        return (not parent.isValid() and self.library is not None and not self._fetching
                and len(self._rows) < self.total)

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:
        """Fetch the next page in the background (rows are inserted when it arrives)."""
        if self.canFetchMore(parent):
            self._fetch(self.generation.value, len(self._rows))

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        """Selectable and enabled; never editable."""
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemNeverHasChildren

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """The row's data for ``role`` (see ``Roles``); None for unknown roles or rows."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        row = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return display_path(os.path.basename(row.path))
        if role == Qt.ItemDataRole.ToolTipRole:
            return display_path(row.path)
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
        return None

    def row(self, i: int) -> AssetRow:
        """The ``AssetRow`` at row ``i``; raises ``IndexError``."""
        return self._rows[i]

    def row_of(self, sha256: str) -> int:
        """The row showing ``sha256``, or -1."""
        return self._row_of.get(sha256, -1)

    def sha256s(self) -> list[str]:
        """The sha256 of every loaded row, in order."""
        return [r.sha256 for r in self._rows]

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
        if self._placeholder is None:
            self._placeholder = placeholder_pixmap(64)
        return self._placeholder

    def _on_thumbnail(self, key: str, image: QImage) -> None:
        self.cache.put(key, QPixmap.fromImage(image))
        self._changed(key)

    def _on_thumbnail_failed(self, key: str) -> None:
        self._failed_thumbs.add(key)
        self._changed(key)

    def _changed(self, key: str) -> None:
        i = self._row_of.get(key)
        if i is not None:
            index = self.index(i)
            self.dataChanged.emit(index, index, [Roles.THUMBNAIL, Qt.ItemDataRole.DecorationRole,
                                                 Roles.THUMBNAIL_READY, Roles.THUMBNAIL_FAILED])
