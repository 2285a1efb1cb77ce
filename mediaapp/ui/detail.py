"""The detail view of one image: the picture with every box, the detections with
their confidences, the detected text, the recognized celebrities and the metadata.

Everything is loaded on a worker (``Library.assets``, ``Library.detections``,
``Library.text_of``, ``Library.show`` for the stored RecognizeCelebrities
responses, and the image decoded as a ``QImage``); a newer request makes an
older result stale (``Generation``).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QPainter, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mediaapp.core.filenames import display_path
from mediaapp.core.types import Asset, Detection, DetectionKind
from mediaapp.ui.background import BackgroundRunner, Generation
from mediaapp.ui.boxes import BoxSpec, box_specs, boxed, fit_rect, label_color, paint_boxes, swatch_icon
from mediaapp.ui.pixmaps import load_image

#: Longest side, in pixels, the detail image is decoded at.
DETAIL_MAX_SIDE = 2048

#: Columns of the Celebrities tab: RecognizeCelebrities' Name, MatchConfidence, Id, KnownGender, Urls, and the engine.
CELEBRITY_COLUMNS = ["Name", "Match", "Id", "Gender", "Links", "Engine"]

KIND_TITLES = {DetectionKind.LABEL: "Label", DetectionKind.FACE: "Face", DetectionKind.PERSON: "Person",
               DetectionKind.TEXT: "Text"}


@dataclass(frozen=True)
class Celebrity:
    """One ``CelebrityFaces`` entry of a stored RecognizeCelebrities response.

    ``name``; ``id`` (Rekognition's celebrity id, for GetCelebrityInfo);
    ``urls`` (links to more about the person, as Rekognition gives them:
    often without a scheme, e.g. ``www.imdb.com/name/nm0000602``);
    ``match_confidence`` (0-100, how sure the match is; None when absent);
    ``gender`` (``KnownGender.Type``, e.g. ``Male``; "" when absent);
    ``engine`` that answered.
    """

    name: str
    id: str
    urls: tuple[str, ...]
    match_confidence: float | None
    gender: str
    engine: str


def celebrities_from(analyses: dict) -> list[Celebrity]:
    """The celebrities of ``Library.show(path)["analyses"]`` (API name -> stored entries, newest first).

    Only each engine's newest RecognizeCelebrities response counts; entries
    keep the response's order.
    """
    out: list[Celebrity] = []
    seen_engines: set[str] = set()
    for entry in analyses.get("RecognizeCelebrities", []):
        engine = str(entry.get("Engine", ""))
        if engine in seen_engines:
            continue
        seen_engines.add(engine)
        for face in (entry.get("Response") or {}).get("CelebrityFaces", []):
            confidence = face.get("MatchConfidence")
            out.append(Celebrity(str(face.get("Name", "")), str(face.get("Id", "")),
                                 tuple(str(u) for u in face.get("Urls", [])),
                                 float(confidence) if confidence is not None else None,
                                 str((face.get("KnownGender") or {}).get("Type", "")), engine))
    return out


def _stored_analyses(library, paths: list[str]) -> dict:
    """``Library.show(path)["analyses"]`` for the first of ``paths`` the library knows ({} when none)."""
    for path in paths:
        try:
            return library.show(path).get("analyses", {})
        except KeyError:
            continue
    return {}


@dataclass
class DetailData:
    """What the detail view shows for one asset (built on a worker by ``load_detail``)."""

    sha256: str
    path: str
    asset: Asset | None
    detections: list[Detection] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    image: QImage | None = None
    celebrities: list[Celebrity] = field(default_factory=list)


def load_detail(library, sha256: str, path: str, thumbnail_paths: tuple[str, ...] = ()) -> DetailData:
    """Gather one asset's facts and decode its image (blocking; call on a worker thread).

    The image is the original file scaled to at most ``DETAIL_MAX_SIDE``
    pixels, or the stored thumbnail when the original cannot be decoded
    (None when neither can).
    """
    asset = library.assets([sha256]).get(sha256)
    detections = library.detections([sha256]).get(sha256, [])
    text = library.text_of(sha256)
    files = [path] + [p for p in (asset.paths if asset else []) if p != path]
    celebrities = celebrities_from(_stored_analyses(library, files))
    image = load_image(files + list(thumbnail_paths), DETAIL_MAX_SIDE)
    return DetailData(sha256, path, asset, list(detections), list(text), image, celebrities)


def human_size(n: int | None) -> str:
    """``n`` bytes as ``"1.2 MB"``-style text ("" for None)."""
    if n is None:
        return ""
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


class ImageCanvas(QWidget):
    """Draws an image scaled to fit, with its detections' boxes and tags.

    ``set_image`` / ``set_detections`` change what is shown;
    ``highlight`` draws one detection thicker. ``show_boxes`` and
    ``show_text_boxes`` toggle the label and text boxes.
    """

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(200, 200)
        self.pixmap: QPixmap | None = None
        self.image_size = QSize()
        self.detections: list[Detection] = []
        self.highlight: Detection | None = None
        self.show_boxes = True
        self.show_text_boxes = False
        self.message = ""

    def set_image(self, pixmap: QPixmap | None, size: QSize | None = None, message: str = "") -> None:
        """Show ``pixmap`` (None: ``message`` on a blank canvas); ``size`` is the image's aspect source."""
        self.pixmap = pixmap
        self.image_size = size or (pixmap.size() if pixmap is not None else QSize())
        self.message = message
        self.update()

    def set_detections(self, detections: list[Detection]) -> None:
        """The detections whose boxes are drawn."""
        self.detections = list(detections)
        self.highlight = None
        self.update()

    def image_rect(self) -> QRectF:
        """Where the image is drawn, in widget pixels."""
        area = QRectF(self.rect()).adjusted(8, 8, -8, -8)
        if self.image_size.isValid():
            return fit_rect(self.image_size.width(), self.image_size.height(), area)
        return area

    def specs(self) -> list[BoxSpec]:
        """The boxes drawn now (empty when boxes are off)."""
        if not self.show_boxes:
            return []
        dets = [d for d in self.detections if d.kind is not DetectionKind.TEXT or self.show_text_boxes]
        return box_specs(self.image_rect(), dets, with_confidence=True, include_text=self.show_text_boxes)

    def paintEvent(self, _event) -> None:
        """Paint the image, then the boxes."""
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#202020"))
        target = self.image_rect()
        if self.pixmap is not None and not self.pixmap.isNull():
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawPixmap(target, self.pixmap, QRectF(self.pixmap.rect()))
        elif self.message:
            painter.setPen(QColor("#c0c0c0"))
            painter.drawText(self.rect(), int(Qt.AlignmentFlag.AlignCenter), self.message)
        specs = self.specs()
        if specs:
            paint_boxes(painter, specs, pen_width=2.5, clip=target, highlight=self.highlight)
        painter.end()


class DetailView(QWidget):
    """One image in full: picture with boxes, detections, text and metadata.

    ``show_row(library, sha256, path, thumbnail_paths)`` loads an asset in
    the background; ``loaded(sha256)`` is emitted once it is shown.
    Escape emits ``closeRequested``; Left/Right (and PageUp/PageDown) emit
    ``stepRequested(-1 / +1)``.
    """

    closeRequested = Signal()
    stepRequested = Signal(int)
    loaded = Signal(str)

    def __init__(self, runner: BackgroundRunner, parent: QWidget | None = None):
        super().__init__(parent)
        self.runner = runner
        self.generation = Generation()
        self.data: DetailData | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        self.back = QToolButton()
        self.back.setText("← Back to grid")
        self.back.setToolTip("Back to the results (Esc)")
        self.back.clicked.connect(self.closeRequested)
        self.prev = QToolButton()
        self.prev.setText("◀")
        self.prev.setToolTip("Previous image (Left)")
        self.prev.clicked.connect(lambda: self.stepRequested.emit(-1))
        self.next = QToolButton()
        self.next.setText("▶")
        self.next.setToolTip("Next image (Right)")
        self.next.clicked.connect(lambda: self.stepRequested.emit(1))
        self.title = QLabel()
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.boxes_check = QCheckBox("Boxes")
        self.boxes_check.setChecked(True)
        self.text_boxes_check = QCheckBox("Text boxes")
        for w in (self.back, self.prev, self.next):
            bar.addWidget(w)
        bar.addWidget(self.title, 1)
        bar.addWidget(self.boxes_check)
        bar.addWidget(self.text_boxes_check)
        layout.addLayout(bar)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter = splitter
        self.canvas = ImageCanvas()
        splitter.addWidget(self.canvas)
        self.tabs = QTabWidget()
        self.detections_tree = QTreeWidget()
        self.detections_tree.setObjectName("detections")
        self.detections_tree.setHeaderLabels(["Name", "Confidence", "Kind", "Engine"])
        self.detections_tree.setRootIsDecorated(True)
        self.detections_tree.setAlternatingRowColors(True)
        self.detections_tree.currentItemChanged.connect(self._on_detection_selected)
        self.tabs.addTab(self.detections_tree, "Detections")
        self.text_view = QPlainTextEdit()
        self.text_view.setObjectName("text")
        self.text_view.setReadOnly(True)
        self.tabs.addTab(self.text_view, "Text")
        self.meta = QWidget()
        self.meta_form = QFormLayout(self.meta)
        self.meta_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.tabs.addTab(self.meta, "Metadata")
        self.celebrities_tree = QTreeWidget()
        self.celebrities_tree.setObjectName("celebrities")
        self.celebrities_tree.setHeaderLabels(CELEBRITY_COLUMNS)
        self.celebrities_tree.setRootIsDecorated(False)
        self.celebrities_tree.setAlternatingRowColors(True)
        self.celebrities_tab = self.tabs.addTab(self.celebrities_tree, "Celebrities")
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        self._splitter_set = False
        layout.addWidget(splitter, 1)

        self.boxes_check.toggled.connect(self._toggle_boxes)
        self.text_boxes_check.toggled.connect(self._toggle_text_boxes)

    def restore_splitter(self, state) -> bool:
        """Restore the image/panel split saved by ``splitter.saveState()``; False if unusable."""
        self._splitter_set = bool(self.splitter.restoreState(state))
        return self._splitter_set

    def showEvent(self, event) -> None:
        """On first show without a saved split, give the image about 70% of the width."""
        super().showEvent(event)
        if not self._splitter_set and self.width() > 100:
            width = self.width() - 8
            self.splitter.setSizes([int(width * 0.7), width - int(width * 0.7)])
            self._splitter_set = True

    # -- loading --------------------------------------------------------------------------------
    def show_row(self, library, sha256: str, path: str, thumbnail_paths: tuple[str, ...] = ()) -> int:
        """Load and show one asset; returns the request's generation."""
        generation = self.generation.bump()
        self.title.setText(f"<b>{html.escape(display_path(os.path.basename(path)))}</b>")
        self.title.setToolTip(display_path(path))
        self.canvas.set_image(None, None, "Loading…")
        self.canvas.set_detections([])
        self.detections_tree.clear()
        self.text_view.clear()
        self.celebrities_tree.clear()
        self._set_metadata([])
        self.runner.run(lambda ctx: load_detail(library, sha256, path, thumbnail_paths),
                        on_success=lambda data: self._on_loaded(generation, data),
                        on_failure=lambda exc: self._on_failed(generation, exc),
                        label="detail")
        return generation

    def _on_failed(self, generation: int, exc: BaseException) -> None:
        if self.generation.is_current(generation):
            self.canvas.set_image(None, None, f"Cannot show this image: {exc}")

    def _on_loaded(self, generation: int, data: DetailData) -> None:
        if not self.generation.is_current(generation):
            return
        self.data = data
        size = QSize(data.asset.width, data.asset.height) if data.asset and data.asset.width else None
        if data.image is not None:
            pixmap = QPixmap.fromImage(data.image)
            self.canvas.set_image(pixmap, pixmap.size())
        else:
            self.canvas.set_image(None, size, "This image cannot be decoded here")
        self.canvas.set_detections(data.detections)
        self._fill_detections(data.detections)
        self.text_view.setPlainText("\n".join(data.text) if data.text else "")
        self.tabs.setTabText(1, f"Text ({len(data.text)})" if data.text else "Text")
        self._fill_celebrities(data.celebrities)
        self._fill_metadata(data)
        self.loaded.emit(data.sha256)

    # -- panels ---------------------------------------------------------------------------------
    def _fill_detections(self, detections: list[Detection]) -> None:
        tree = self.detections_tree
        tree.clear()
        instances = {id(d) for d in boxed(detections)}
        groups: dict[str, list[Detection]] = {}
        for det in detections:
            if det.kind is DetectionKind.TEXT:
                continue
            groups.setdefault(det.name.casefold(), []).append(det)
        order = sorted(groups.values(), key=lambda dets: (-max(d.confidence for d in dets), dets[0].name.casefold()))
        for dets in order:
            name = dets[0].name
            scene = [d for d in dets if d.box is None]
            boxed_dets = sorted((d for d in dets if d.box is not None and id(d) in instances),
                                key=lambda d: -d.confidence)
            top = scene[0] if scene else (boxed_dets[0] if boxed_dets else dets[0])
            item = QTreeWidgetItem([name, f"{top.confidence:.1f}%", KIND_TITLES[top.kind], top.source])
            item.setIcon(0, swatch_icon(label_color(name)))
            # a single instance is selected through its label's row; several get one row each
            item.setData(0, Qt.ItemDataRole.UserRole, boxed_dets[0] if len(boxed_dets) == 1 else None)
            if top.parents:
                item.setToolTip(0, "Parents: " + ", ".join(top.parents))
            tree.addTopLevelItem(item)
            if len(boxed_dets) > 1:
                for n, det in enumerate(boxed_dets, 1):
                    child = QTreeWidgetItem([f"{name} #{n}", f"{det.confidence:.1f}%", "Instance", det.source])
                    child.setData(0, Qt.ItemDataRole.UserRole, det)
                    b = det.box
                    child.setToolTip(0, f"left {b.left:.3f}, top {b.top:.3f}, width {b.width:.3f}, "
                                        f"height {b.height:.3f}")
                    item.addChild(child)
                item.setText(0, f"{name}  ×{len(boxed_dets)}")
        tree.expandAll()
        for col in range(4):
            tree.resizeColumnToContents(col)
        tree.setColumnWidth(0, min(max(tree.columnWidth(0) + 8, 160), 320))

    def _fill_celebrities(self, celebrities: list[Celebrity]) -> None:
        tree = self.celebrities_tree
        tree.clear()
        for celeb in celebrities:
            match = f"{celeb.match_confidence:.1f}%" if celeb.match_confidence is not None else ""
            item = QTreeWidgetItem([celeb.name, match, celeb.id, celeb.gender, "  ".join(celeb.urls), celeb.engine])
            item.setIcon(0, swatch_icon(label_color(celeb.name)))
            if celeb.urls:
                item.setToolTip(4, "\n".join(celeb.urls))
            tree.addTopLevelItem(item)
        for col in range(tree.columnCount()):
            tree.resizeColumnToContents(col)
        self.tabs.setTabText(self.celebrities_tab, f"Celebrities ({len(celebrities)})" if celebrities
                             else "Celebrities")

    def celebrity_rows(self) -> list[list[str]]:
        """The rows of the Celebrities tab as shown (``CELEBRITY_COLUMNS`` order), for tests and copy."""
        tree = self.celebrities_tree
        return [[tree.topLevelItem(i).text(c) for c in range(tree.columnCount())]
                for i in range(tree.topLevelItemCount())]

    def _on_detection_selected(self, current: QTreeWidgetItem | None, _previous) -> None:
        det = current.data(0, Qt.ItemDataRole.UserRole) if current is not None else None
        self.canvas.highlight = det
        self.canvas.update()

    def _set_metadata(self, rows: list[tuple[str, str]]) -> None:
        while self.meta_form.rowCount():
            self.meta_form.removeRow(0)
        for key, value in rows:
            label = QLabel(value)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            self.meta_form.addRow(f"{key}:", label)

    def _fill_metadata(self, data: DetailData) -> None:
        a = data.asset
        rows: list[tuple[str, str]] = [("File", display_path(data.path))]
        if a is not None:
            rows += [("Format", a.format or ""), ("Dimensions", f"{a.width} × {a.height} px"),
                     ("Size", human_size(a.size))]
            if a.taken_at:
                rows.append(("Taken", a.taken_at))
            if a.camera:
                rows.append(("Camera", a.camera))
            if a.gps:
                rows.append(("GPS", f"{a.gps[0]:.5f}, {a.gps[1]:.5f}"))
            others = [p for p in a.paths if p != data.path]
            if others:
                rows.append(("Also at", "\n".join(map(display_path, others))))
            rows.append(("SHA-256", a.sha256))
        self._set_metadata(rows)

    def metadata(self) -> dict[str, str]:
        """The metadata rows shown (label -> text), for tests and copy."""
        out = {}
        for i in range(self.meta_form.rowCount()):
            label = self.meta_form.itemAt(i, QFormLayout.ItemRole.LabelRole)
            field_ = self.meta_form.itemAt(i, QFormLayout.ItemRole.FieldRole)
            if label and field_:
                out[label.widget().text().rstrip(":")] = field_.widget().text()
        return out

    def _toggle_boxes(self, on: bool) -> None:
        self.canvas.show_boxes = on
        self.canvas.update()

    def _toggle_text_boxes(self, on: bool) -> None:
        self.canvas.show_text_boxes = on
        self.canvas.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Escape: back to the grid; Left/Right, PageUp/PageDown: previous/next image."""
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.closeRequested.emit()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_PageUp):
            self.stepRequested.emit(-1)
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_PageDown):
            self.stepRequested.emit(1)
        else:
            super().keyPressEvent(event)
            return
        event.accept()
