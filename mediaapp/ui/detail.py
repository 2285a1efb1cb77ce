"""The detail view of one image: the picture with every box, the detections with
their confidences, the detected text, the recognized celebrities and the metadata.

Everything is loaded on a worker (``Library.assets``, ``Library.detections``,
``Library.text_of``, ``Library.show`` for the stored RecognizeCelebrities
responses, and the picture decoded as a ``QImage`` by the file's media handler
at the screen's size, ``viewer.decode_preview``); a newer request makes an
older result stale (``Generation``). The picture zooms and pans
(``viewer.ImageCanvas``: wheel, ``+``/``-``, ``1`` for 1:1, ``0`` for Fit);
Space or the Full screen button ask the window for the full-screen viewer.
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage, QKeyEvent, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSplitter,
    QTabWidget,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from mediaapp.core.apis import API_SPECS, flatten
from mediaapp.core.filenames import display_path
from mediaapp.core.responses import same_face
from mediaapp.core.text import human_size
from mediaapp.core.types import Asset, Detection, DetectionKind
from mediaapp.ui.background import BackgroundRunner, Generation
from mediaapp.ui.boxes import LabelColors, boxed, swatch_icon
from mediaapp.ui.formatting import local_datetime
from mediaapp.ui.viewer import DEFAULT_PREVIEW_SIDE, ImageCanvas, TextBoxes, decode_preview, preview_side

__all__ = ["CELEBRITY_COLUMNS", "Celebrity", "DetailData", "DetailView", "ImageCanvas", "celebrities_from",
           "load_detail"]

#: Longest side, in pixels, the detail image is decoded at when no screen says otherwise (``preview_side``).
DETAIL_MAX_SIDE = DEFAULT_PREVIEW_SIDE

#: The text-box choices of the detail view's bar: title -> level.
TEXT_BOX_CHOICES = (("Lines", TextBoxes.LINES), ("Words", TextBoxes.WORDS), ("No text", TextBoxes.OFF))

#: Columns of the Celebrities tab: RecognizeCelebrities' Name, MatchConfidence, Id, KnownGender, Urls, and the engine.
CELEBRITY_COLUMNS = ["Name", "Match", "Id", "Gender", "Links", "Engine"]

KIND_TITLES = {DetectionKind.LABEL: "Label", DetectionKind.FACE: "Face", DetectionKind.PERSON: "Person",
               DetectionKind.TEXT: "Text", DetectionKind.FACE_ATTRIBUTE: "Face attribute",
               DetectionKind.MODERATION: "Unsafe content"}


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
    #: A video's findings, each with its ``timestamp_ms`` (``video_timeline``); empty for a still.
    timeline: list[Detection] = field(default_factory=list)


def video_timeline(library, paths: list[str]) -> list[Detection]:
    """A video's stored ``Get*`` answers (``Library.show``) flattened, each row with its ``timestamp_ms``.

    In time order; faces without a name are left out (a person's name or
    a label says more on a timeline). Blocking: call on a worker thread.
    """
    for path in paths:
        try:
            shown = library.show(path)
        except KeyError:
            continue
        videos = [api for api, entry in API_SPECS.items() if entry.media == "video"]
        rows = [row for api in videos if isinstance(shown.get(api.value), dict)
                for row in flatten(api, shown[api.value], "") if row.kind is not DetectionKind.FACE]
        return sorted(rows, key=lambda d: (d.timestamp_ms or 0, -d.confidence))
    return []


def decode_video_frame(path: str, timestamp_ms: int, max_side: int) -> QImage | None:
    """The frame of the video ``path`` at ``timestamp_ms`` as an ``RGB32`` ``QImage`` (``media.video_frame``), or
    None when it cannot be decoded. Blocking and file-reading: call on a worker thread."""
    from mediaapp.ingest.decode import DecodeError
    from mediaapp.ingest.media import video_frame

    try:
        rgb = video_frame(path, timestamp_ms, max_side).convert("RGB")
    except (DecodeError, OSError):
        return None
    image = QImage(rgb.tobytes(), rgb.width, rgb.height, 3 * rgb.width, QImage.Format.Format_RGB888)
    return image.convertToFormat(QImage.Format.Format_RGB32)  # a copy that owns its pixels


def timestamp_text(ms: int) -> str:
    """``M:SS.s`` for a time in a video (``0:02.0``), hours first when there are any."""
    minutes, seconds = divmod(ms / 1000, 60)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{seconds:04.1f}" if hours else f"{minutes}:{seconds:04.1f}"


def load_detail(library, sha256: str, path: str, thumbnail_paths: tuple[str, ...] = (),
                max_side: int = DETAIL_MAX_SIDE) -> DetailData:
    """Gather one asset's facts and decode its image (blocking; call on a worker thread).

    The image is the original file decoded by its media handler
    (``viewer.decode_preview``: HEIC and AVIF too) scaled to at most
    ``max_side`` pixels (the window passes ``viewer.preview_side``: the
    screen's longest side in device pixels), or the stored thumbnail when no
    original can be decoded (None when nothing can).
    """
    asset = library.assets([sha256]).get(sha256)
    detections = library.detections([sha256]).get(sha256, [])
    text = library.text_of(sha256)
    files = [path] + [p for p in (asset.paths if asset else []) if p != path]
    celebrities = celebrities_from(_stored_analyses(library, files))
    image = decode_preview(files + list(thumbnail_paths), max_side)
    timeline = video_timeline(library, files) if asset is not None and asset.media_kind == "video" else []
    if timeline:  # a video's text: each line read in its frames, once, in order of first appearance
        text = list(dict.fromkeys([*text, *(d.name for d in timeline
                                            if d.kind is DetectionKind.TEXT and d.text_type == "LINE")]))
    return DetailData(sha256, path, asset, list(detections), list(text), image, celebrities, timeline)


class DetailView(QWidget):
    """One image in full: picture with boxes, detections, text and metadata.

    ``show_row(library, sha256, path, thumbnail_paths)`` loads an asset in
    the background; ``loaded(sha256)`` is emitted once it is shown.
    Escape emits ``closeRequested``; Left/Right (and PageUp/PageDown) emit
    ``stepRequested(-1 / +1)``; Space (and the Full screen button) emit
    ``fullScreenRequested``. ``+``/``=``, ``-``, ``1`` (1:1) and ``0`` (Fit)
    zoom the picture, as do the wheel and the bar's buttons. ``colors``: the
    labels' colours (the window's ``LabelColors``), for the boxes and the
    swatches of the lists.
    """

    closeRequested = Signal()
    stepRequested = Signal(int)
    fullScreenRequested = Signal()
    #: "More like this" pressed: the path shown (the window ranks the photos like it).
    likeRequested = Signal(object)
    loaded = Signal(str)

    def __init__(self, runner: BackgroundRunner, parent: QWidget | None = None, colors: LabelColors | None = None):
        super().__init__(parent)
        self.runner = runner
        self.colors = colors if colors is not None else LabelColors()
        self.generation = Generation()
        #: The timeline's frame requests: a frame decoded after a later row was picked is dropped.
        self.frame_generation = Generation()
        self.data: DetailData | None = None
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        self.back = QToolButton()
        self.back.setText("← Back")
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
        #: Which text boxes are drawn: the lines (default), the words, or none (``TextBoxes`` as item data).
        self.text_boxes = QComboBox()
        self.text_boxes.setObjectName("textBoxes")
        self.text_boxes.setToolTip("Detected text: a box per line, per word, or none; point at one for its text")
        for title, level in TEXT_BOX_CHOICES:
            self.text_boxes.addItem(title, level.value)
        self.zoom_out_button = self._tool("−", "Zoom out (−, wheel)")
        self.zoom_label = QLabel("Fit")
        self.zoom_label.setObjectName("zoom")
        self.zoom_label.setMinimumWidth(self.zoom_label.fontMetrics().horizontalAdvance("1600%") + 6)
        self.zoom_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.zoom_in_button = self._tool("+", "Zoom in (+, wheel)")
        self.actual_button = self._tool("1:1", "One image pixel per screen pixel (1)")
        self.fit_button = self._tool("Fit", "The whole image (0)")
        self.full_screen_button = self._tool("⛶", "Full screen (Space or F11; Esc leaves)")
        self.like_button = self._tool("More like this", "The photos most like this one, most similar first")
        self.like_button.clicked.connect(lambda: self._path is not None and self.likeRequested.emit(self._path))
        self._path: str | None = None
        for w in (self.back, self.prev, self.next):
            bar.addWidget(w)
        bar.addWidget(self.title, 1)
        for w in (self.zoom_out_button, self.zoom_label, self.zoom_in_button, self.actual_button, self.fit_button,
                  self.full_screen_button, self.boxes_check, self.text_boxes, self.like_button):
            bar.addWidget(w)
        layout.addLayout(bar)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter = splitter
        self.canvas = ImageCanvas(colors=self.colors)
        self.canvas.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the view keeps the keys
        self.canvas.zoomChanged.connect(self._show_zoom)
        self.zoom_out_button.clicked.connect(self.canvas.zoom_out)
        self.zoom_in_button.clicked.connect(self.canvas.zoom_in)
        self.actual_button.clicked.connect(lambda: self.canvas.zoom_actual())
        self.fit_button.clicked.connect(self.canvas.zoom_fit)
        self.full_screen_button.clicked.connect(self.fullScreenRequested)
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
        # a video's hits by time (at most one row per sampled frame); a click shows that frame
        self.timeline_list = QListWidget()
        self.timeline_list.setObjectName("timeline")
        self.timeline_list.currentItemChanged.connect(self._on_timeline_selected)
        self.timeline_tab = self.tabs.addTab(self.timeline_list, "Timeline")
        self.tabs.setTabVisible(self.timeline_tab, False)
        splitter.addWidget(self.tabs)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        self._splitter_set = False
        layout.addWidget(splitter, 1)

        self.boxes_check.toggled.connect(self._toggle_boxes)
        self.text_boxes.currentIndexChanged.connect(self._text_boxes_changed)

    def _tool(self, text: str, tip: str) -> QToolButton:
        """A bar button showing ``text`` with the tooltip ``tip`` (it never takes the focus from the view)."""
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        return button

    def _show_zoom(self, scale: float) -> None:
        """The zoom shown in the bar: "Fit", or the percentage of 1:1 (one image pixel per device pixel)."""
        canvas = self.canvas
        self.zoom_label.setText("Fit" if canvas.is_fit() else f"{round(100 * scale / canvas.actual_scale())}%")

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
        side = preview_side(self)
        self._path = path
        self.title.setText(f"<b>{html.escape(display_path(os.path.basename(path)))}</b>")
        self.title.setToolTip(display_path(path))
        self.canvas.set_image(None, None, "Loading…")
        self.canvas.set_detections([])
        self.detections_tree.clear()
        self.text_view.clear()
        self.celebrities_tree.clear()
        self._set_metadata([])
        self.runner.run(lambda ctx: load_detail(library, sha256, path, thumbnail_paths, side),
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
            self.canvas.set_image(pixmap, size or pixmap.size())  # zoom is relative to the original's pixels
        else:
            self.canvas.set_image(None, size, "This image cannot be decoded here")
        # a face's attributes share its box, which its face or person row already draws; a video's boxes
        # belong to its frames, drawn when a frame is picked on the timeline, not over the poster
        self.canvas.set_detections([d for d in data.detections if d.kind is not DetectionKind.FACE_ATTRIBUTE
                                    and d.timestamp_ms is None and not data.timeline])
        self._fill_timeline(data.timeline)
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
            if det.kind in (DetectionKind.TEXT, DetectionKind.FACE_ATTRIBUTE):
                continue
            groups.setdefault(det.name.casefold(), []).append(det)
        order = sorted(groups.values(), key=lambda dets: (-max(d.confidence for d in dets), dets[0].name.casefold()))
        for dets in order:
            name = dets[0].name
            scene = [d for d in dets if d.box is None]
            boxed_dets = sorted((d for d in dets if d.box is not None and id(d) in instances),
                                key=lambda d: -d.confidence)
            top = scene[0] if scene else (boxed_dets[0] if boxed_dets else dets[0])
            item = QTreeWidgetItem([name, f"{top.confidence:.1f}%", KIND_TITLES.get(top.kind, top.kind.value),
                                    top.source])
            item.setIcon(0, swatch_icon(self.colors.color(name)))
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
        self._fill_face_attributes(detections)
        tree.expandAll()
        for col in range(4):
            tree.resizeColumnToContents(col)
        tree.setColumnWidth(0, min(max(tree.columnWidth(0) + 8, 160), 320))

    def _fill_timeline(self, timeline: list[Detection]) -> None:
        """One row per time with hits (``0:02.0  Airplane, Person``); the tab shows for videos only."""
        self.timeline_list.clear()
        by_time: dict[int, list[str]] = {}
        for det in timeline:
            names = by_time.setdefault(det.timestamp_ms or 0, [])
            if det.name not in names:
                names.append(det.name)
        for ms, names in sorted(by_time.items()):
            item = QListWidgetItem(f"{timestamp_text(ms)}   {', '.join(names)}")
            item.setData(Qt.ItemDataRole.UserRole, ms)
            self.timeline_list.addItem(item)
        self.tabs.setTabVisible(self.timeline_tab, bool(timeline))

    def _on_timeline_selected(self, current: QListWidgetItem | None, _previous) -> None:
        """Decode the picked time's frame on a worker and show it with that frame's boxes."""
        data = self.data
        if current is None or data is None:
            return
        ms = int(current.data(Qt.ItemDataRole.UserRole))
        boxes = [d for d in data.timeline if d.timestamp_ms == ms and d.box is not None]
        generation, side, path = self.generation.value, preview_side(self), data.path
        frame = self.frame_generation.bump()
        self.runner.run(lambda ctx: decode_video_frame(path, ms, side),
                        on_success=lambda image: self._show_frame(generation, image, boxes, frame),
                        on_failure=lambda exc: self.frame_generation.is_current(frame)
                        and self._on_failed(generation, exc), label="video frame")

    def _show_frame(self, generation: int, image: QImage | None, boxes: list[Detection], frame: int) -> None:
        """Show a decoded timeline frame, unless another asset or a later row was picked since (``frame``)."""
        if not self.generation.is_current(generation) or not self.frame_generation.is_current(frame):
            return
        if image is None:
            self.canvas.set_image(None, None, "This frame cannot be decoded here")
            return
        pixmap = QPixmap.fromImage(image)
        self.canvas.set_image(pixmap, pixmap.size())
        self.canvas.set_detections(boxes)

    def _fill_face_attributes(self, detections: list[Detection]) -> None:
        """A "Face details" row with one child per DetectFaces face: its name (the person whose box it
        overlaps, ``core.responses.same_face``) or ``Face #n``, and its attributes with their confidences."""
        faces: dict[tuple, list[Detection]] = {}
        for det in detections:
            if det.kind is DetectionKind.FACE_ATTRIBUTE and det.box is not None:
                faces.setdefault((det.source, det.box), []).append(det)
        if not faces:
            return
        persons = [d for d in detections if d.kind is DetectionKind.PERSON and d.box is not None]
        top = QTreeWidgetItem(["Face details", "", "DetectFaces", ""])
        for n, ((source, box), attrs) in enumerate(sorted(faces.items(), key=lambda kv: kv[0][1].left), 1):
            person = same_face(box, persons)
            text = ", ".join(f"{a.name} {a.confidence:.0f}%" for a in sorted(attrs, key=lambda a: -a.confidence))
            child = QTreeWidgetItem([person.name if person is not None else f"Face #{n}", "", text, source])
            child.setToolTip(2, text)
            child.setData(0, Qt.ItemDataRole.UserRole, person)
            top.addChild(child)
        self.detections_tree.addTopLevelItem(top)

    def _fill_celebrities(self, celebrities: list[Celebrity]) -> None:
        tree = self.celebrities_tree
        tree.clear()
        for celeb in celebrities:
            match = f"{celeb.match_confidence:.1f}%" if celeb.match_confidence is not None else ""
            item = QTreeWidgetItem([celeb.name, match, celeb.id, celeb.gender, "  ".join(celeb.urls), celeb.engine])
            item.setIcon(0, swatch_icon(self.colors.color(celeb.name)))
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
                rows.append(("Taken", local_datetime(a.taken_at)))
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

    def _text_boxes_changed(self, _index: int) -> None:
        self.canvas.set_text_boxes(TextBoxes(self.text_boxes.currentData()))

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Escape: back to the grid; Left/Right, PageUp/PageDown: previous/next image; Space: full screen;
        ``+``/``=``, ``-``, ``1``, ``0``: zoom in, out, 1:1, Fit."""
        key = event.key()
        if key == Qt.Key.Key_Escape:
            self.closeRequested.emit()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_PageUp):
            self.stepRequested.emit(-1)
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_PageDown):
            self.stepRequested.emit(1)
        elif key == Qt.Key.Key_Space:
            self.fullScreenRequested.emit()
        elif event.modifiers() & Qt.KeyboardModifier.ControlModifier or not self.canvas.zoom_key(event):
            # Ctrl++ / Ctrl+- stay the window's (thumbnail size)
            super().keyPressEvent(event)
            return
        event.accept()
