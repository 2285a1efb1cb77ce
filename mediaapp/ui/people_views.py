"""The People panel's models and delegate: the group list, the face grid, and how a face is drawn.

``GroupListModel`` (every named person, then the clusters of unknown faces)
and ``FaceListModel`` (the faces of one group) serve their rows from plain
data the panel loaded off the GUI thread; crops come from a ``PixmapCache``
filled by a ``ThumbnailLoader``, so ``FaceDelegate.paint`` never touches a
file or the database.
"""

from __future__ import annotations

import enum
import os
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from mediaapp.core.filenames import display_path
from mediaapp.ui.boxes import LabelColors
from mediaapp.ui.pixmaps import PixmapCache, ThumbnailLoader

#: Side, in pixels, faces are drawn at in the panel (crops are 112 px JPEGs).
FACE_SIDE = 96
#: Side, in pixels, of a group's crop in the group list.
GROUP_ICON_SIDE = 40
#: Bytes of decoded crops kept (about 650 crops of 112x112 at 32 bits).
CROP_CACHE_BYTES = 32 * 1024 * 1024


def person_key(person_id: int) -> str:
    """The group key of a person (``mediaapp.services.people_service.group_key``)."""
    from mediaapp.services.people_model import group_key

    return group_key(person_id=person_id)


class PeopleRoles(enum.IntEnum):
    """Item data roles of the People models (besides Display, ToolTip, Decoration)."""

    KEY = Qt.ItemDataRole.UserRole + 1      #: str: the group key (``person:<id>`` / ``group:<id>``)
    GROUP = Qt.ItemDataRole.UserRole + 2    #: FaceGroup
    FACE_ID = Qt.ItemDataRole.UserRole + 3  #: int: the face id
    FACE = Qt.ItemDataRole.UserRole + 4     #: FaceInfo
    PIXMAP_READY = Qt.ItemDataRole.UserRole + 5  #: bool: the crop is decoded and cached


class _CropModel(QAbstractListModel):
    """Shared crop handling: rows name a crop path; its pixmap is requested on first read."""

    def __init__(self, loader: ThumbnailLoader, cache: PixmapCache, parent: QObject | None = None):
        super().__init__(parent)
        self.loader = loader
        self.cache = cache
        self._rows: list = []
        self._failed: set[str] = set()
        self._placeholder: QPixmap | None = None
        loader.loaded.connect(self._on_loaded)
        loader.failed.connect(self._on_failed)

    def _crop_of(self, item) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        """The number of rows (0 under any valid parent: a flat list)."""
        return 0 if parent.isValid() else len(self._rows)

    def item(self, row: int):
        """The item at ``row``; raises ``IndexError``."""
        return self._rows[row]

    def items(self) -> list:
        """Every item, in row order."""
        return list(self._rows)

    def set_items(self, items: list) -> None:
        """Replace the rows."""
        self.beginResetModel()
        self._rows = list(items)
        self.endResetModel()

    def pixmap(self, item) -> QPixmap:
        """The cached crop of ``item``, else a grey placeholder (and a decode request is queued)."""
        crop = self._crop_of(item)
        if crop:
            cached = self.cache.get(crop)
            if cached is not None:
                return cached
            if crop not in self._failed:
                self.loader.request(crop, [crop])
        if self._placeholder is None:
            self._placeholder = QPixmap(FACE_SIDE, FACE_SIDE)
            self._placeholder.fill(QColor("#3a3a3a"))
        return self._placeholder

    def _on_loaded(self, key: str, image: QImage) -> None:
        if key not in self.cache:
            self.cache.put(key, QPixmap.fromImage(image))
        self._changed(key)

    def _on_failed(self, key: str) -> None:
        self._failed.add(key)
        self._changed(key)

    def _changed(self, key: str) -> None:
        for i, item in enumerate(self._rows):
            if self._crop_of(item) == key:
                index = self.index(i)
                self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole, PeopleRoles.PIXMAP_READY])


class GroupListModel(_CropModel):
    """The groups of the People panel (``FaceGroup`` rows: named persons, then unknown clusters)."""

    def _crop_of(self, item) -> str | None:
        return item.cover

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Display: title and face count; Decoration: the cover crop; see ``PeopleRoles``."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        group = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{group.title}  ({len(group.face_ids)})"
        if role == Qt.ItemDataRole.DecorationRole:
            return self.pixmap(group).scaled(GROUP_ICON_SIDE, GROUP_ICON_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                                             Qt.TransformationMode.SmoothTransformation)
        if role == Qt.ItemDataRole.ToolTipRole:
            if group.name is None:
                return f"{len(group.face_ids)} unknown faces in {group.photos} photos: name them to find them all"
            extra = f", enrolled from {group.examples} example(s)" if group.examples else ""
            return f"{group.name}: {len(group.face_ids)} faces in {group.photos} photos{extra}"
        if role == PeopleRoles.KEY:
            return group.key
        if role == PeopleRoles.GROUP:
            return group
        if role == PeopleRoles.PIXMAP_READY:
            return bool(group.cover) and group.cover in self.cache
        return None

    def row_of(self, key: str) -> int:
        """The row of the group ``key``, or -1."""
        return next((i for i, g in enumerate(self._rows) if g.key == key), -1)


class FaceListModel(_CropModel):
    """The faces of one group (``FaceInfo`` rows)."""

    def _crop_of(self, item) -> str | None:
        return item.crop

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Display: the photo's file name; Decoration: the crop; ToolTip: path, name and similarity."""
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        face = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return display_path(os.path.basename(face.path)) if face.path else "(not in the library)"
        if role == Qt.ItemDataRole.DecorationRole:
            return self.pixmap(face)
        if role == Qt.ItemDataRole.ToolTipRole:
            who = face.person_name or "unknown"
            how = {"user": "named by you", "example": "enrolled example",
                   "auto": f"similarity {face.similarity:.0f}%" if face.similarity is not None else ""}.get(
                face.assigned_by or "", "")
            status = f"{who} {('(' + how + ')') if how else ''}".strip()
            return "\n".join(x for x in (display_path(face.path or ""), status) if x)
        if role == PeopleRoles.FACE_ID:
            return face.id
        if role == PeopleRoles.FACE:
            return face
        if role == PeopleRoles.PIXMAP_READY:
            return bool(face.crop) and face.crop in self.cache
        return None


class FaceDelegate(QStyledItemDelegate):
    """Paints a face cell: the crop, a frame in the person's colour for named faces, the photo's name under it.

    Everything comes from the model's roles; ``paint`` reads no file.
    ``colors``: the window's ``LabelColors`` (a person's boxes and frames
    match); by default one of its own.
    """

    def __init__(self, parent: QObject | None = None, colors: LabelColors | None = None):
        super().__init__(parent)
        self.colors = colors if colors is not None else LabelColors()

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        """Every cell: the face square plus a caption line, with padding."""
        return QSize(FACE_SIDE + 8, FACE_SIDE + option.fontMetrics.height() + 10)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        """Paint selection, crop (or placeholder), frame and caption."""
        painter.save()
        cell = QRectF(option.rect)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(cell.adjusted(1, 1, -1, -1), option.palette.color(QPalette.ColorRole.Highlight))
        target = QRectF(cell.x() + 4, cell.y() + 4, FACE_SIDE, FACE_SIDE)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawPixmap(target, pixmap, QRectF(pixmap.rect()))
        face = index.data(PeopleRoles.FACE)
        if face is not None and face.person_name:
            painter.setPen(self.colors.color(face.person_name))
            painter.drawRect(target.adjusted(0.5, 0.5, -0.5, -0.5))
        text = QRectF(cell.x() + 2, target.bottom() + 3, cell.width() - 4, option.fontMetrics.height())
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(option.palette.color(role))
        caption = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        painter.drawText(text, int(Qt.AlignmentFlag.AlignHCenter),
                         option.fontMetrics.elidedText(caption, Qt.TextElideMode.ElideMiddle, int(text.width())))
        painter.restore()
