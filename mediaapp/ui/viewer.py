"""Looking at one image closely: the zoomable canvas with its boxes, the preview decode, the full-screen viewer.

``ImageCanvas`` draws an image with its detections' boxes at any zoom. The
zoom is a scale in widget (logical) pixels per pixel of the original image:
"Fit" shows the whole image, "1:1" one image pixel per device pixel.
The wheel zooms about the pointer (plain or with Ctrl: the canvas has
nothing else to scroll), ``+``/``=`` and ``-`` zoom about the centre, ``1``
is 1:1 and ``0`` is Fit; a double click toggles Fit and 1:1, and dragging
pans an image larger than the view. Boxes are ratios of the image, mapped
onto the rectangle the image is drawn in, so they stay on their objects at
every zoom and pan.

Text boxes come in two levels: lines (the default) or words, never both (a
word's box would cover its line's). A text box's caption (the text and its
confidence) shows only while the pointer is over the box; labels keep their
tags, which say what each colour means.

The picture is decoded on a worker by the media handler that reads the file
(``mediaapp.ingest.media.open_for_analysis``: HEIC, AVIF and the rest, EXIF
orientation applied), bounded by ``preview_side``: the screen's longest side
in device pixels, not the 320 px thumbnail.

``FullScreenViewer`` shows one image at a time on the whole screen; the
window feeds it the grid's results one by one (``stepRequested``).
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QGuiApplication,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from mediaapp.core.filenames import display_path
from mediaapp.core.types import Detection, DetectionKind
from mediaapp.ui.background import BackgroundRunner, Generation
from mediaapp.ui.boxes import BoxSpec, LabelColors, box_specs, paint_boxes
from mediaapp.ui.pixmaps import load_image

#: Longest side, in pixels, of the preview when no screen is known (tests without a display).
DEFAULT_PREVIEW_SIDE = 2048
#: Bounds of ``preview_side``, pixels: never below (a small screen still zooms in well), never above (memory).
MIN_PREVIEW_SIDE = 1024
MAX_PREVIEW_SIDE = 8192
#: Factor of one zoom step (a key press, a button, one notch of the wheel).
ZOOM_STEP = 1.25
#: Largest zoom, in device pixels per image pixel.
MAX_ZOOM = 16.0
#: One notch of a mouse wheel, in ``QWheelEvent.angleDelta`` units (eighths of a degree).
WHEEL_NOTCH = 120


class TextBoxes(enum.Enum):
    """Which detected-text boxes the canvas draws: none, the lines (default) or the words."""

    OFF = "off"
    LINES = "lines"
    WORDS = "words"


def preview_side(widget: QWidget | None = None) -> int:
    """The longest side, in pixels, to decode a preview at: the screen's longest side times its device pixel ratio.

    Uses ``widget``'s screen (else the primary screen), bounded to
    ``MIN_PREVIEW_SIDE``..``MAX_PREVIEW_SIDE``; ``DEFAULT_PREVIEW_SIDE``
    when there is no screen. GUI thread only.
    """
    screen = widget.screen() if widget is not None else None
    screen = screen or QGuiApplication.primaryScreen()
    if screen is None:
        return DEFAULT_PREVIEW_SIDE
    size = screen.size()
    side = round(max(size.width(), size.height()) * screen.devicePixelRatio())
    return max(MIN_PREVIEW_SIDE, min(MAX_PREVIEW_SIDE, side))


def decode_preview(paths: Sequence[str], max_side: int) -> QImage | None:
    """Decode the first of ``paths`` that can be read, scaled to fit ``max_side`` x ``max_side`` pixels.

    Each file is decoded by the media handler that recognises its content
    (``mediaapp.ingest.media.open_for_analysis``: orientation applied, HEIC
    and AVIF included); a file no handler decodes is tried with Qt's readers
    (``pixmaps.load_image``). Returns an ``RGB32`` ``QImage`` that owns its
    pixels, or None when no path can be decoded. Blocking and file-reading:
    call it on a worker thread, never the GUI thread.
    """
    from mediaapp.ingest.decode import DecodeError
    from mediaapp.ingest.media import open_for_analysis

    for path in paths:
        if not path:
            continue
        try:
            rgb = open_for_analysis(path, max_side)
        except (DecodeError, OSError):
            image = load_image([path], max_side)
            if image is not None:
                return image
            continue
        rgb = rgb.convert("RGB") if rgb.mode != "RGB" else rgb
        width, height = rgb.size
        data = rgb.tobytes()
        image = QImage(data, width, height, 3 * width, QImage.Format.Format_RGB888)
        return image.convertToFormat(QImage.Format.Format_RGB32)  # a copy: ``data`` may go
    return None


@dataclass
class ViewData:
    """One image for the full-screen viewer: what ``load_view`` gathered on a worker.

    ``size``: the original image's pixels (orientation applied) when the
    catalog knows them, else None; ``image``: the preview (None when it
    cannot be decoded).
    """

    sha256: str
    path: str
    size: tuple[int, int] | None
    image: QImage | None
    detections: list[Detection] = field(default_factory=list)


def load_view(library, sha256: str, path: str, thumbnail_paths: Sequence[str] = (),
              max_side: int = DEFAULT_PREVIEW_SIDE) -> ViewData:
    """The asset's size, its detections and its preview (``decode_preview``); blocking, call on a worker.

    The preview comes from ``path`` or another file of the asset, and from
    its stored thumbnail when no original can be decoded.
    """
    asset = library.assets([sha256]).get(sha256)
    detections = library.detections([sha256]).get(sha256, [])
    files = [path] + [p for p in (asset.paths if asset else []) if p != path]
    image = decode_preview(files + list(thumbnail_paths), max_side)
    size = (asset.width, asset.height) if asset is not None and asset.width and asset.height else None
    return ViewData(sha256, path, size, image, list(detections))


def _is_word(det: Detection) -> bool:
    return (det.text_type or "").upper() == "WORD"


class ImageCanvas(QWidget):
    """Draws an image at any zoom with its detections' boxes and tags (see the module docstring).

    ``set_image`` / ``set_detections`` change what is shown; ``highlight``
    draws one detection thicker. ``show_boxes`` turns every box off;
    ``set_text_boxes`` picks the text level (``TextBoxes``). Box colours come
    from ``colors`` (the window's ``LabelColors``; by default the canvas's
    own). ``margin``: pixels left empty around the image at Fit.
    ``zoomChanged(scale)`` follows every zoom change (``scale()``).
    """

    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None, colors: LabelColors | None = None, margin: int = 8):
        super().__init__(parent)
        self.colors = colors if colors is not None else LabelColors()
        self.margin = margin
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 200)
        self.setMouseTracking(True)  # hover captions
        self.pixmap: QPixmap | None = None
        self.image_size = QSize()
        self.detections: list[Detection] = []
        self.highlight: Detection | None = None
        self.show_boxes = True
        self.text_boxes = TextBoxes.LINES
        self.message = ""
        #: The text box under the pointer (its caption is drawn), or None.
        self.hovered: BoxSpec | None = None
        self._zoom: float | None = None  # None: Fit; else widget pixels per image pixel
        self._center = QPointF(0.5, 0.5)  # the image point (ratios) at the centre of the view when zoomed
        self._drag: QPointF | None = None

    # -- content ----------------------------------------------------------------------------------
    def set_image(self, pixmap: QPixmap | None, size: QSize | None = None, message: str = "") -> None:
        """Show ``pixmap`` at Fit (None: ``message`` on a blank canvas).

        ``size``: the original image's size in pixels (zoom and 1:1 are
        relative to it; the pixmap may be a smaller preview); default the
        pixmap's size.
        """
        self.pixmap = pixmap
        self.image_size = size or (pixmap.size() if pixmap is not None else QSize())
        self.message = message
        self.hovered = None
        self._zoom = None
        self._center = QPointF(0.5, 0.5)
        self.zoomChanged.emit(self.scale())
        self.update()

    def set_detections(self, detections: list[Detection]) -> None:
        """The detections whose boxes are drawn."""
        self.detections = list(detections)
        self.highlight = None
        self.hovered = None
        self.update()

    def set_text_boxes(self, level: TextBoxes) -> None:
        """Draw no text boxes, the lines' or the words'."""
        self.text_boxes = TextBoxes(level)
        self.hovered = None
        self.update()

    # -- geometry ---------------------------------------------------------------------------------
    def _area(self) -> QRectF:
        m = self.margin
        return QRectF(self.rect()).adjusted(m, m, -m, -m)

    def fit_scale(self) -> float:
        """The scale (widget pixels per image pixel) at which the whole image fits the view; 1.0 without an image."""
        area = self._area()
        if not self.image_size.isValid() or self.image_size.isEmpty() or area.width() <= 0 or area.height() <= 0:
            return 1.0
        return min(area.width() / self.image_size.width(), area.height() / self.image_size.height())

    def actual_scale(self) -> float:
        """The 1:1 scale: one image pixel per device pixel (``1 / devicePixelRatio`` widget pixels)."""
        return 1.0 / max(self.devicePixelRatioF(), 1e-6)

    def scale(self) -> float:
        """The scale shown now, in widget (logical) pixels per image pixel."""
        return self.fit_scale() if self._zoom is None else self._zoom

    def is_fit(self) -> bool:
        """True while the image is shown at Fit (it follows the view's size)."""
        return self._zoom is None

    def image_rect(self) -> QRectF:
        """Where the whole image is drawn now, in widget pixels (it may reach past the view when zoomed)."""
        area = self._area()
        if not self.image_size.isValid() or self.image_size.isEmpty():
            return area
        s = self.scale()
        w, h = self.image_size.width() * s, self.image_size.height() * s
        return QRectF(self._edge(area.left(), area.width(), w, self._center.x()),
                      self._edge(area.top(), area.height(), h, self._center.y()), w, h)

    @staticmethod
    def _edge(start: float, room: float, length: float, center: float) -> float:
        """The image's left (top) edge: centred when it fits, else ``center`` (a ratio) in the middle, no gap."""
        if length <= room:
            return start + (room - length) / 2
        edge = start + room / 2 - center * length
        return min(start, max(start + room - length, edge))

    def _set_center_from(self, rect: QRectF) -> None:
        """Remember the image point at the view's centre, for the image drawn at ``rect``."""
        area = self._area()
        if rect.width() > 0 and rect.height() > 0:
            cx = (area.center().x() - rect.left()) / rect.width()
            cy = (area.center().y() - rect.top()) / rect.height()
            self._center = QPointF(min(1.0, max(0.0, cx)), min(1.0, max(0.0, cy)))

    # -- zoom -------------------------------------------------------------------------------------
    def set_zoom(self, scale: float, anchor: QPointF | None = None) -> None:
        """Show the image at ``scale`` widget pixels per image pixel, keeping the image point under ``anchor``.

        ``anchor``: a widget point (default the view's centre). The scale is
        bounded below by Fit or 1:1, whichever is smaller (a small image can
        go back to its own size), and above by ``MAX_ZOOM`` device pixels per
        image pixel; reaching Fit switches to Fit (it then follows the view's
        size). Does nothing without an image.
        """
        if not self.image_size.isValid() or self.image_size.isEmpty():
            return
        fit = self.fit_scale()
        low, high = min(fit, self.actual_scale()), max(fit, MAX_ZOOM * self.actual_scale())
        scale = min(high, max(low, scale))
        if math.isclose(scale, fit, rel_tol=1e-6):
            self.zoom_fit()
            return
        before = self.image_rect()
        point = anchor if anchor is not None else self._area().center()
        rx = (point.x() - before.left()) / before.width() if before.width() else 0.5
        ry = (point.y() - before.top()) / before.height() if before.height() else 0.5
        w, h = self.image_size.width() * scale, self.image_size.height() * scale
        self._zoom = scale
        self._set_center_from(QRectF(point.x() - rx * w, point.y() - ry * h, w, h))
        self._set_center_from(self.image_rect())  # clamped: no empty band when the image is larger
        self.hovered = None
        self.zoomChanged.emit(self.scale())
        self.update()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Multiply the scale shown by ``factor`` (above 1 zooms in) about ``anchor`` (default the centre)."""
        self.set_zoom(self.scale() * factor, anchor)

    def zoom_in(self) -> None:
        """One step closer (``ZOOM_STEP``), about the centre."""
        self.zoom_by(ZOOM_STEP)

    def zoom_out(self) -> None:
        """One step back (``ZOOM_STEP``), about the centre."""
        self.zoom_by(1 / ZOOM_STEP)

    def zoom_actual(self, anchor: QPointF | None = None) -> None:
        """1:1: one image pixel per device pixel, about ``anchor`` (default the centre)."""
        self.set_zoom(self.actual_scale(), anchor)

    def zoom_fit(self) -> None:
        """Fit: the whole image in the view, following its size."""
        self._zoom = None
        self._center = QPointF(0.5, 0.5)
        self.hovered = None
        self.zoomChanged.emit(self.scale())
        self.update()

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the image by ``dx``, ``dy`` widget pixels (only along an axis where it is larger than the view)."""
        if self._zoom is None:
            self._zoom = self.fit_scale()
        self._set_center_from(self.image_rect().translated(dx, dy))
        self._set_center_from(self.image_rect())
        self.update()

    def zoom_key(self, event: QKeyEvent) -> bool:
        """Handle a zoom key (``+``/``=``, ``-``, ``1`` for 1:1, ``0`` for Fit); True when it was one."""
        key = event.key()
        if key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.zoom_in()
        elif key in (Qt.Key.Key_Minus, Qt.Key.Key_Underscore):
            self.zoom_out()
        elif key == Qt.Key.Key_1:
            self.zoom_actual()
        elif key == Qt.Key.Key_0:
            self.zoom_fit()
        else:
            return False
        return True

    # -- boxes ------------------------------------------------------------------------------------
    def _text_shown(self, det: Detection) -> bool:
        if self.text_boxes is TextBoxes.OFF:
            return False
        return _is_word(det) == (self.text_boxes is TextBoxes.WORDS)

    def label_specs(self) -> list[BoxSpec]:
        """The label, face and person boxes drawn now (each with its tag); empty when boxes are off."""
        if not self.show_boxes:
            return []
        dets = [d for d in self.detections if d.kind is not DetectionKind.TEXT]
        return box_specs(self.image_rect(), dets, with_confidence=True, colors=self.colors)

    def text_specs(self) -> list[BoxSpec]:
        """The text boxes drawn now: the lines' or the words' (``text_boxes``); their ``text`` is the caption."""
        if not self.show_boxes or self.text_boxes is TextBoxes.OFF:
            return []
        dets = [d for d in self.detections if d.kind is DetectionKind.TEXT and self._text_shown(d)]
        return box_specs(self.image_rect(), dets, with_confidence=True, include_text=True, colors=self.colors)

    def specs(self) -> list[BoxSpec]:
        """Every box drawn now: labels first, then text (empty when boxes are off)."""
        return self.label_specs() + self.text_specs()

    def captions(self) -> list[BoxSpec]:
        """The boxes whose caption is drawn now: every label's tag, and the hovered text box's."""
        hovered = [self.hovered] if self.hovered is not None else []
        return self.label_specs() + hovered

    def text_box_at(self, point: QPointF) -> BoxSpec | None:
        """The smallest text box drawn under the widget ``point``, or None."""
        hits = [s for s in self.text_specs() if s.rect.contains(point)]
        return min(hits, key=lambda s: s.rect.width() * s.rect.height()) if hits else None

    # -- events -----------------------------------------------------------------------------------
    def paintEvent(self, _event) -> None:
        """Paint the image, the label boxes with their tags, the text boxes, then the hovered caption."""
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#202020"))
        target = self.image_rect()
        visible = target.intersected(QRectF(self.rect()))
        if self.pixmap is not None and not self.pixmap.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawPixmap(target, self.pixmap, QRectF(self.pixmap.rect()))
        elif self.message:
            painter.setPen(QColor("#c0c0c0"))
            painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap), self.message)
        texts = self.text_specs()
        if texts:
            paint_boxes(painter, texts, pen_width=1.5, show_text=False, clip=visible, highlight=self.highlight)
        labels = self.label_specs()
        if labels:
            paint_boxes(painter, labels, pen_width=2.5, clip=visible, highlight=self.highlight)
        if self.hovered is not None:
            paint_boxes(painter, [self.hovered], pen_width=2.5, clip=visible)
        painter.end()

    def resizeEvent(self, event) -> None:
        """Fit follows the new size; a zoom keeps its scale and centre."""
        super().resizeEvent(event)
        self.hovered = None
        if self._zoom is None:
            self.zoomChanged.emit(self.scale())

    def wheelEvent(self, event: QWheelEvent) -> None:
        """The wheel zooms about the pointer, with or without Ctrl (one notch: one ``ZOOM_STEP``)."""
        notches = event.angleDelta().y() / WHEEL_NOTCH
        if not notches or self.pixmap is None:
            event.ignore()
            return
        self.zoom_by(math.pow(ZOOM_STEP, notches), event.position())
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        """The left button starts panning an image larger than the view."""
        if event.button() == Qt.MouseButton.LeftButton and self._pannable():
            self._drag = event.position()
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        """Pan while dragging; otherwise the text box under the pointer shows its caption."""
        point = event.position()
        if self._drag is not None:
            delta = point - self._drag
            self._drag = point
            self.pan_by(delta.x(), delta.y())
            return
        hovered = self.text_box_at(point)
        if (hovered is None) != (self.hovered is None) or (
                hovered is not None and self.hovered is not None and hovered.detection != self.hovered.detection):
            self.hovered = hovered
            self.update()
        self.setCursor(Qt.CursorShape.OpenHandCursor if self._pannable() else Qt.CursorShape.ArrowCursor)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        """End a pan."""
        if self._drag is not None and event.button() == Qt.MouseButton.LeftButton:
            self._drag = None
            self.setCursor(Qt.CursorShape.OpenHandCursor if self._pannable() else Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        """A double click toggles Fit and 1:1 (about the pointer)."""
        if event.button() == Qt.MouseButton.LeftButton and self.pixmap is not None:
            if self.is_fit():
                self.zoom_actual(event.position())
            else:
                self.zoom_fit()
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def leaveEvent(self, event) -> None:
        """The pointer left: no caption."""
        super().leaveEvent(event)
        if self.hovered is not None:
            self.hovered = None
            self.update()

    def _pannable(self) -> bool:
        rect, area = self.image_rect(), self._area()
        return rect.width() > area.width() + 0.5 or rect.height() > area.height() + 0.5


class FullScreenViewer(QWidget):
    """The current image on the whole screen, with its boxes; the window steps it through the grid's results.

    ``show_row(library, sha256, path, thumbnail_paths)`` loads an asset in
    the background (``load_view``); ``loaded(sha256)`` follows once it is
    shown. Left/Right (and PageUp/PageDown) emit ``stepRequested(-1 / +1)``;
    Esc, F11 and Space leave (``closed`` is emitted). The canvas zooms as in
    the detail view (wheel, ``+``/``-``, ``1``, ``0``). ``position(text)``
    sets the line at the top (e.g. "3 of 120").
    """

    stepRequested = Signal(int)
    closed = Signal()
    loaded = Signal(str)

    def __init__(self, runner: BackgroundRunner, parent: QWidget | None = None, colors: LabelColors | None = None):
        super().__init__(parent, Qt.WindowType.Window)
        self.runner = runner
        self.generation = Generation()
        self.data: ViewData | None = None
        self.setWindowTitle("Full screen")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setStyleSheet("background: #000000;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.caption = QLabel()
        self.caption.setObjectName("fullScreenCaption")
        self.caption.setStyleSheet("color: #d0d0d0; padding: 4px 8px;")
        layout.addWidget(self.caption)
        self.canvas = ImageCanvas(colors=colors, margin=0)
        self.canvas.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout.addWidget(self.canvas, 1)
        self._name = ""
        self._position = ""

    def show_row(self, library, sha256: str, path: str, thumbnail_paths: tuple[str, ...] = ()) -> int:
        """Load and show one asset; returns the request's generation."""
        generation = self.generation.bump()
        self._name = display_path(os.path.basename(path))
        self._update_caption()
        self.canvas.set_image(None, None, "Loading…")
        self.canvas.set_detections([])
        side = preview_side(self)
        self.runner.run(lambda ctx: load_view(library, sha256, path, thumbnail_paths, side),
                        on_success=lambda data: self._on_loaded(generation, data),
                        on_failure=lambda exc: self._on_failed(generation, exc), label="full screen")
        return generation

    def set_position(self, text: str) -> None:
        """The position line shown beside the file name (e.g. "3 of 120")."""
        self._position = text
        self._update_caption()

    def _update_caption(self) -> None:
        parts = [self._name, self._position, "Esc to leave, ← → to step, wheel or +/− to zoom"]
        self.caption.setText("   ·   ".join(p for p in parts if p))

    def _on_loaded(self, generation: int, data: ViewData) -> None:
        if not self.generation.is_current(generation):
            return
        self.data = data
        size = QSize(*data.size) if data.size else None
        if data.image is not None:
            self.canvas.set_image(QPixmap.fromImage(data.image), size)
        else:
            self.canvas.set_image(None, size, "This image cannot be decoded here")
        self.canvas.set_detections(data.detections)
        self.loaded.emit(data.sha256)

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if self.generation.is_current(generation):
            self.canvas.set_image(None, None, f"Cannot show this image: {exc}")

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Esc, F11, Space: leave; Left/Right, PageUp/PageDown: previous/next image; zoom keys."""
        key = event.key()
        if key in (Qt.Key.Key_Escape, Qt.Key.Key_F11, Qt.Key.Key_Space):
            self.close()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_PageUp):
            self.stepRequested.emit(-1)
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_PageDown):
            self.stepRequested.emit(1)
        elif not self.canvas.zoom_key(event):
            super().keyPressEvent(event)
            return
        event.accept()

    def closeEvent(self, event) -> None:
        """Leaving: drop a load in flight and say so (``closed``)."""
        self.generation.bump()
        super().closeEvent(event)
        self.closed.emit()
