"""``ThumbnailDelegate``: paints one grid cell (thumbnail, boxes of the matching labels, file name).

Everything painted comes from the model's roles (``mediaapp.ui.asset_list.Roles``):
no file or database access happens in ``paint()``. Until the thumbnail
is loaded, the image area is laid out from the asset's dimensions, so the
boxes are already in place over the placeholder.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem

from mediaapp.core.types import Asset
from mediaapp.ui.asset_list import Roles
from mediaapp.ui.boxes import BoxSpec, LabelColors, box_specs, fit_rect, paint_boxes
from mediaapp.ui.pixmaps import BLUR_FACTOR, blurred_pixmap  # noqa: F401  (their home was here)

#: Stack badges' words by the stacked file's extension (lower case); any other is "RAW+JPEG".
_STACK_WORDS = {".heic": "RAW+HEIC", ".heif": "RAW+HEIF", ".avif": "RAW+AVIF"}


def stack_badge(asset: Asset | None) -> str | None:
    """The badge of a RAW+JPEG stack's cell (``"RAW+JPEG"``, ``"RAW+HEIC"``), or None for a single file.

    ``asset`` is the row's ``Asset`` (or None); a stack's original lists
    its other files in ``Asset.stack_paths``.
    """
    paths = asset.stack_paths if asset is not None else []
    if not paths:
        return None
    return _STACK_WORDS.get(os.path.splitext(paths[0])[1].lower(), "RAW+JPEG")


def duration_badge(asset: Asset | None) -> str | None:
    """The duration badge of a video's cell, ``M:SS`` or ``H:MM:SS`` (``0:30``, ``1:02:03``); None for a still.

    ``asset.duration_ms`` is in milliseconds; seconds are rounded to the nearest
    (a 2.4 s clip reads ``0:02``), as video players show a length.
    """
    if asset is None or asset.media_kind != "video" or asset.duration_ms is None:
        return None
    minutes, seconds = divmod(round(asset.duration_ms / 1000), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


#: The tag on a blurred thumbnail ("Blur unsafe thumbnails"); a click shows it (the tooltip says so).
UNSAFE_BADGE = "Unsafe"
#: Default side, in pixels, of the square a thumbnail is drawn in.
DEFAULT_THUMB_SIDE = 180
PADDING = 6


class ThumbnailDelegate(QStyledItemDelegate):
    """Draws a thumbnail cell; ``show_boxes`` toggles the bounding boxes.

    ``thumb_side`` is the side of the square each thumbnail fits in
    (pixels); change it with ``set_thumb_side`` and relayout the view.
    ``colors`` gives the labels' box colours (the window's ``LabelColors``;
    by default one of the grid's own), so labels in the grid never share one.
    """

    def __init__(self, parent=None, thumb_side: int = DEFAULT_THUMB_SIDE, colors: LabelColors | None = None):
        super().__init__(parent)
        self.colors = colors if colors is not None else LabelColors()
        self.thumb_side = thumb_side
        self.show_boxes = True
        self.tag_font = QFont()
        self.tag_font.setPointSizeF(max(self.tag_font.pointSizeF() * 0.8, 7.0))

    def set_thumb_side(self, side: int) -> None:
        """Set the thumbnail square's side in pixels (clamped to 64-256)."""
        self.thumb_side = max(64, min(256, int(side)))

    def caption_height(self, option: QStyleOptionViewItem | None = None) -> int:
        """Height in pixels of the file-name line under the thumbnail."""
        metrics = option.fontMetrics if option is not None else QFontMetrics(QFont())
        return metrics.height() + 4

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        """Every cell has the same size: the thumbnail square, padding and a caption line."""
        side = self.thumb_side + 2 * PADDING
        return QSize(side, side + self.caption_height(option))

    def image_area(self, cell: QRectF) -> QRectF:
        """The square inside ``cell`` where the thumbnail is fitted."""
        return QRectF(cell.x() + PADDING, cell.y() + PADDING, self.thumb_side, self.thumb_side)

    def image_rect(self, cell: QRectF, index: QModelIndex | QPersistentModelIndex) -> QRectF:
        """Where the image of ``index`` is drawn inside ``cell`` (aspect kept, centred)."""
        area = self.image_area(cell)
        pixmap = index.data(Roles.THUMBNAIL) if index.data(Roles.THUMBNAIL_READY) else None
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            return fit_rect(pixmap.width(), pixmap.height(), area)
        asset = index.data(Roles.ASSET)
        if asset is not None and asset.width and asset.height:
            return fit_rect(asset.width, asset.height, area)
        return area

    def boxes_for(self, cell: QRectF, index: QModelIndex | QPersistentModelIndex) -> list[BoxSpec]:
        """The boxes drawn over the thumbnail of ``index`` in ``cell`` (empty when boxes are off)."""
        asset = index.data(Roles.ASSET)
        if not self.show_boxes or (asset is not None and asset.media_kind == "video"):
            return []  # a video's boxes belong to its frames, not to the poster (the detail view's timeline)
        return box_specs(self.image_rect(cell, index), index.data(Roles.DETECTIONS) or [], colors=self.colors)

    def draw_boxes(self, painter: QPainter, specs: list[BoxSpec], clip: QRectF) -> None:
        """Paint ``specs`` clipped to ``clip`` (a hook tests can observe)."""
        paint_boxes(painter, specs, pen_width=2.0, font=self.tag_font, clip=clip,
                    show_text=self.thumb_side >= 96)

    def draw_badge(self, painter: QPainter, text: str, image: QRectF,
                   corner: Qt.Corner = Qt.Corner.TopLeftCorner) -> None:
        """Paint ``text`` as a small dark tag in the top-left (or ``corner``) of ``image`` (a stack's "RAW+JPEG")."""
        metrics = QFontMetrics(self.tag_font)
        rect = QRectF(image.x() + 3, image.y() + 3, metrics.horizontalAdvance(text) + 8, metrics.height() + 2)
        if corner == Qt.Corner.BottomRightCorner:
            rect.moveBottomRight(image.bottomRight() - QPointF(3, 3))
        painter.save()
        painter.setFont(self.tag_font)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawRoundedRect(rect, 3, 3)
        painter.setPen(QColor("white"))
        painter.drawText(rect, int(Qt.AlignmentFlag.AlignCenter), text)
        painter.restore()

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        """Paint the cell: selection background, thumbnail or placeholder, boxes, caption, focus."""
        painter.save()
        cell = QRectF(option.rect)
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(cell.adjusted(1, 1, -1, -1), palette.color(QPalette.ColorRole.Highlight))
        elif option.state & QStyle.StateFlag.State_MouseOver:
            painter.fillRect(cell.adjusted(1, 1, -1, -1), palette.color(QPalette.ColorRole.Midlight))

        target = self.image_rect(cell, index)
        pixmap = index.data(Roles.THUMBNAIL)
        blurred = bool(index.data(Roles.BLURRED))
        if index.data(Roles.THUMBNAIL_READY) and isinstance(pixmap, QPixmap):
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            shown = pixmap
            if blurred:  # blurred once per thumbnail and cached by the model (Roles.BLURRED_THUMBNAIL)
                cached = index.data(Roles.BLURRED_THUMBNAIL)
                shown = cached if isinstance(cached, QPixmap) else blurred_pixmap(pixmap)
            painter.drawPixmap(target, shown, QRectF(shown.rect()))
        else:
            painter.fillRect(target, QColor("#3a3a3a"))
            if isinstance(pixmap, QPixmap) and not pixmap.isNull() and index.data(Roles.THUMBNAIL_FAILED):
                icon = fit_rect(pixmap.width(), pixmap.height(), target.adjusted(
                    target.width() / 3, target.height() / 3, -target.width() / 3, -target.height() / 3))
                painter.drawPixmap(icon, pixmap, QRectF(pixmap.rect()))

        specs = [] if blurred else self.boxes_for(cell, index)  # boxes would outline what is hidden
        if specs:
            self.draw_boxes(painter, specs, target)
        if blurred:
            self.draw_badge(painter, UNSAFE_BADGE, target)
        badge = stack_badge(index.data(Roles.ASSET))
        if badge:
            self.draw_badge(painter, badge, target)
        duration = duration_badge(index.data(Roles.ASSET))
        if duration:  # a video's poster: its length in the bottom-right corner, as video players show it
            self.draw_badge(painter, duration, target, corner=Qt.Corner.BottomRightCorner)

        text_rect = QRectF(cell.x() + PADDING, cell.y() + PADDING + self.thumb_side + 2,
                           cell.width() - 2 * PADDING, self.caption_height(option) - 2)
        name = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
        painter.setPen(palette.color(role))
        elided = option.fontMetrics.elidedText(name, Qt.TextElideMode.ElideMiddle, int(text_rect.width()))
        painter.drawText(text_rect, int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop), elided)

        if option.state & QStyle.StateFlag.State_HasFocus:
            pen = QPen(palette.color(QPalette.ColorRole.Highlight).lighter(140), 1, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(cell.adjusted(1, 1, -2, -2))
        painter.restore()
