"""Bounding boxes drawn over images: one colour per label, the name on a tag.

Colours come from a ``LabelColors``: each label keeps the colour it was
given, and no two labels of one ``LabelColors`` share a colour (a label whose
hash colour, ``label_color``, is taken gets the next free one). The main
window holds one for the grid delegate, the detail view, the sidebar's
facet swatches and the People panel, so a ``Dog`` is the same colour
everywhere in it and labels drawn together are told apart; ``box_specs``
without one gives the labels of that one image distinct colours.
Boxes are ``mediaapp.core.types.BoundingBox`` ratios of the
orientation-corrected image, mapped onto the rectangle where the image is
drawn.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QIcon, QPainter, QPen, QPixmap

from mediaapp.core.types import Detection, DetectionKind

#: Hand-picked, mutually distinct colours readable on photos; labels map onto them by hash.
PALETTE = (
    "#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6",
    "#bfef45", "#fabed4", "#469990", "#dcbeff", "#9a6324", "#fffac8", "#800000", "#aaffc3",
)
#: Colour of detected-text boxes (they are not labels).
TEXT_COLOR = "#b0b0b0"


#: Hue step (a fraction of the colour circle, the golden ratio's) between the colours made past ``PALETTE``.
_GOLDEN = 0.618033988749895


def _palette_index(name: str) -> int:
    """The ``PALETTE`` slot ``name`` hashes to (CRC-32 of its casefolded UTF-8)."""
    return zlib.crc32(name.casefold().encode("utf-8")) % len(PALETTE)


def label_color(name: str) -> QColor:
    """The colour ``name`` (a label or person) prefers: its ``PALETTE`` slot by hash; stable and case-insensitive.

    Different names can hash to one colour (Face and Tie, Person and
    Vehicle): what is drawn takes its colour from a ``LabelColors``.
    """
    return QColor(PALETTE[_palette_index(name)])


class LabelColors:
    """The colours of the labels one view (or one window) draws: one per label, never one for two labels.

    The first time a name is asked for (``color``) it gets ``label_color``
    when no other name here has that colour, else the next free colour of
    ``PALETTE`` after it; once all of ``PALETTE`` is given, colours made
    from hues spread by the golden angle, each different from every colour
    given (and from ``TEXT_COLOR``). Names compare case-insensitively, and a
    name keeps its colour.
    """

    def __init__(self) -> None:
        self._given: dict[str, QColor] = {}
        self._taken: set[int] = {QColor(TEXT_COLOR).rgb()}  # QColor.rgb() of every colour given, and the text's
        self._made = 0  # colours made past the palette so far

    def __len__(self) -> int:
        """How many names have a colour."""
        return len(self._given)

    def __contains__(self, name: object) -> bool:
        """Whether ``name`` (a str) has a colour already."""
        return isinstance(name, str) and name.casefold() in self._given

    def color(self, name: str) -> QColor:
        """The colour of ``name``, given now if it has none (see the class docstring)."""
        key = name.casefold()
        given = self._given.get(key)
        if given is None:
            given = self._given[key] = self._free_color(_palette_index(name))
            self._taken.add(given.rgb())
        return QColor(given)

    def colors(self, names: Iterable[str]) -> dict[str, QColor]:
        """``color`` of each name, given in the order of ``names``."""
        return {name: self.color(name) for name in names}

    def _free_color(self, start: int) -> QColor:
        """The first colour of ``PALETTE`` from slot ``start`` on (wrapping) that nobody has, else a new one."""
        for step in range(len(PALETTE)):
            color = QColor(PALETTE[(start + step) % len(PALETTE)])
            if color.rgb() not in self._taken:
                return color
        while True:
            self._made += 1
            hue = (self._made * _GOLDEN) % 1.0
            saturation, value = (0.85, 0.95) if self._made % 2 else (0.55, 0.8)
            color = QColor.fromHsvF(hue, saturation, value)
            if color.rgb() not in self._taken:
                return color


def swatch_icon(color: QColor, side: int = 12) -> QIcon:
    """A small square icon filled with ``color`` (a label's box colour, for lists)."""
    pixmap = QPixmap(side, side)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setPen(color.darker(150))
    painter.setBrush(color)
    painter.drawRect(0, 0, side - 1, side - 1)
    painter.end()
    return QIcon(pixmap)


def contrasting_text_color(background: QColor) -> QColor:
    """Black or white, whichever reads better on ``background``."""
    luminance = 0.299 * background.red() + 0.587 * background.green() + 0.114 * background.blue()
    return QColor(Qt.GlobalColor.black) if luminance > 150 else QColor(Qt.GlobalColor.white)


@dataclass(frozen=True)
class BoxSpec:
    """One box to draw: ``rect`` in widget pixels, its ``color``, the ``text`` of its tag."""

    rect: QRectF
    color: QColor
    text: str
    detection: Detection


def boxed(detections: Iterable[Detection], include_text: bool = False) -> list[Detection]:
    """The detections that have a box, one per instance.

    The same face often arrives twice (a ``Face`` label instance from
    DetectLabels and an unrecognised ``Face`` from RecognizeCelebrities):
    detections of the same name and (rounded) box are merged, keeping the
    most confident. Text boxes are left out unless ``include_text``.
    Order: largest boxes first, so small boxes are drawn on top.
    """
    best: dict[tuple, Detection] = {}
    for det in detections:
        if det.box is None or (det.kind is DetectionKind.TEXT and not include_text):
            continue
        b = det.box.clamped()
        if b.width <= 0 or b.height <= 0:
            continue
        key = (det.name.casefold(), round(b.left, 2), round(b.top, 2), round(b.width, 2), round(b.height, 2))
        kept = best.get(key)
        if kept is None or det.confidence > kept.confidence:
            best[key] = det
    return sorted(best.values(), key=lambda d: -(d.box.width * d.box.height))


def box_specs(image_rect: QRectF, detections: Iterable[Detection], *, with_confidence: bool = False,
              include_text: bool = False, colors: LabelColors | None = None) -> list[BoxSpec]:
    """Map the boxed ``detections`` onto ``image_rect`` (where the whole image is drawn).

    The tag reads the name, plus `` 93%`` when ``with_confidence``. Each
    label's colour comes from ``colors`` (the view's); without one, from a
    ``LabelColors`` of this image alone, so its labels never share a colour.
    Text boxes are ``TEXT_COLOR``.
    """
    colors = colors if colors is not None else LabelColors()
    specs = []
    for det in boxed(detections, include_text):
        b = det.box.clamped()
        rect = QRectF(image_rect.x() + b.left * image_rect.width(), image_rect.y() + b.top * image_rect.height(),
                      b.width * image_rect.width(), b.height * image_rect.height())
        color = QColor(TEXT_COLOR) if det.kind is DetectionKind.TEXT else colors.color(det.name)
        text = f"{det.name} {det.confidence:.0f}%" if with_confidence else det.name
        specs.append(BoxSpec(rect, color, text, det))
    return specs


def paint_boxes(painter: QPainter, specs: Iterable[BoxSpec], *, pen_width: float = 2.0,
                font: QFont | None = None, show_text: bool = True, clip: QRectF | None = None,
                highlight: Detection | None = None) -> None:
    """Draw each box outline in its colour and, with ``show_text``, a filled tag with its text.

    The tag sits just above the box, or inside its top edge when there is no
    room above (inside ``clip``) or the spot is taken by an earlier tag; a
    tag that fits nowhere is left out (the box keeps its colour).
    ``highlight`` is drawn thicker. Restores the painter state.
    """
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    if font is not None:
        painter.setFont(font)
    metrics = QFontMetricsF(painter.font())
    area = clip
    if area is not None:
        painter.setClipRect(area)
    tags: list[QRectF] = []
    for spec in specs:
        width = pen_width * 2 if highlight is not None and spec.detection == highlight else pen_width
        pen = QPen(spec.color, width)
        pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        # keep the whole stroke inside the box, so edge boxes stay visible
        inset = width / 2
        painter.drawRect(spec.rect.adjusted(inset, inset, -inset, -inset))
        if not show_text or not spec.text:
            continue
        text_w = metrics.horizontalAdvance(spec.text) + 6
        text_h = metrics.height() + 2
        top = spec.rect.top() - text_h
        if area is not None and top < area.top():
            top = spec.rect.top()
        left = spec.rect.left()
        if area is not None and left + text_w > area.right():
            left = max(area.left(), area.right() - text_w)
        tag = QRectF(left, top, text_w, text_h)
        if any(tag.intersects(other) for other in tags):
            inside = QRectF(left, spec.rect.top() + width, text_w, text_h)  # try inside the box's top edge
            if inside.bottom() > spec.rect.bottom() or any(inside.intersects(other) for other in tags):
                continue  # no free room for the name: the colour still tells which label it is
            tag = inside
        tags.append(tag)
        painter.fillRect(tag, spec.color)
        painter.setPen(contrasting_text_color(spec.color))
        painter.drawText(tag.adjusted(3, 0, -3, 0), int(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft),
                         spec.text)
    painter.restore()


def fit_rect(image_w: float, image_h: float, area: QRectF) -> QRectF:
    """The largest rectangle of aspect ``image_w:image_h`` centred in ``area`` (no upscaling limit).

    Returns ``area`` itself when the image size is unknown (0).
    """
    if image_w <= 0 or image_h <= 0:
        return QRectF(area)
    scale = min(area.width() / image_w, area.height() / image_h)
    w, h = image_w * scale, image_h * scale
    return QRectF(QPointF(area.center().x() - w / 2, area.center().y() - h / 2), QRectF(0, 0, w, h).size())
