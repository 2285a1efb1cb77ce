"""The detail view up close: a sharp preview (HEIC too), zoom that keeps the boxes on their objects, full screen,
and text boxes that do not bury each other."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPixmap, QWheelEvent
from PySide6.QtWidgets import QApplication
from support import replay_library

from mediaapp.core.types import BoundingBox, Detection, DetectionKind
from mediaapp.ui.background import BackgroundRunner
from mediaapp.ui.boxes import TEXT_COLOR
from mediaapp.ui.detail import DetailView

#: A real iPhone 7 HEIC, 4032 x 3024 stored (MANIFEST.md), shown upright; Qt has no reader for it, the media
#: handler has.
HEIC = "5_formats/containers/photoprism_iphone_7.heic"
HEIC_LONG_SIDE = 4032
#: The longest side of the thumbnails the grid stores (``ingest.thumbnails.THUMB_MAX_SIDE``).
THUMB_SIDE = 320

PATCH = QColor("#00c000")      # the "object" painted into the synthetic picture
BACKGROUND = QColor("#102030")  # the rest of the picture
OBJECT = BoundingBox(0.55, 0.30, 0.20, 0.25)  # where the patch is, as ratios of the picture


@pytest.fixture(scope="module")
def heic_root(testdata, tmp_path_factory) -> Path:
    """A replay-engine library holding the three replay photos and the HEIC."""
    from mediaapp.library import Library

    base = tmp_path_factory.mktemp("viewer")
    root = replay_library(testdata, base)
    more = base / "more"
    more.mkdir()
    shutil.copy(testdata / HEIC, more / "iphone_7.heic")
    library = Library(root)
    try:
        assert library.import_paths([more]).imported == 1
    finally:
        library.close()
    return root


@pytest.fixture
def library(heic_root):
    from mediaapp.library import Library

    library = Library(heic_root)
    yield library
    library.close()


@pytest.fixture
def view(qtbot):
    runner = BackgroundRunner()
    view = DetailView(runner)
    qtbot.addWidget(view)
    view.resize(900, 650)
    view.show()
    qtbot.waitExposed(view)
    yield view
    runner.shutdown()


def synthetic_picture(width: int = 400, height: int = 300) -> QPixmap:
    """A ``width`` x ``height`` picture: ``BACKGROUND`` with a ``PATCH`` rectangle at ``OBJECT``."""
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(BACKGROUND)
    b = OBJECT
    for y in range(round(b.top * height), round((b.top + b.height) * height)):
        for x in range(round(b.left * width), round((b.left + b.width) * width)):
            image.setPixelColor(x, y, PATCH)
    return QPixmap.fromImage(image)


def close_to(color: QColor, wanted: QColor, tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(color.getRgb()[:3], wanted.getRgb()[:3]))


def test_a_heic_is_shown_sharp_at_screen_size_not_as_its_upscaled_thumbnail(qtbot, view, library, heic_root):
    path = str(heic_root.parent / "more" / "iphone_7.heic")
    sha = library.show(path)["sha256"]
    thumbnails = tuple(str(p) for p in (heic_root / "thumbnails").rglob(f"{sha}*"))
    assert thumbnails  # the grid passes the stored thumbnail as the last resort, as here

    with qtbot.waitSignal(view.loaded, timeout=60000):
        view.show_row(library, sha, path, thumbnails)
    image = view.data.image
    assert image is not None
    assert max(image.width(), image.height()) > 2 * THUMB_SIDE  # not the thumbnail
    from mediaapp.ui.viewer import preview_side

    assert max(image.width(), image.height()) == min(preview_side(view), HEIC_LONG_SIDE)
    asset = library.assets([sha])[sha]  # its size with the orientation applied, as the preview is
    assert max(asset.width, asset.height) == HEIC_LONG_SIDE
    assert image.width() / image.height() == pytest.approx(asset.width / asset.height, rel=0.01)
    # zoom and 1:1 are relative to the original's pixels, whatever the preview's size
    assert view.canvas.image_size == QSize(asset.width, asset.height)
    view.canvas.zoom_actual()
    assert view.canvas.image_rect().width() == pytest.approx(asset.width / view.canvas.devicePixelRatioF())


def test_boxes_stay_on_their_objects_at_every_zoom_and_pan(qtbot, view):
    canvas = view.canvas
    thing = Detection(DetectionKind.LABEL, "Thing", 91.0, OBJECT)
    # a 400x300 preview of a 1600x1200 original: zoom is relative to the original
    canvas.set_image(synthetic_picture(), QSize(1600, 1200))
    canvas.set_detections([thing])
    inside_patch = QPointF(OBJECT.left + OBJECT.width / 2, OBJECT.top + OBJECT.height / 2)

    def check(what: str) -> None:
        rect = canvas.image_rect()
        [spec] = canvas.label_specs()
        expected = QRectF(rect.x() + OBJECT.left * rect.width(), rect.y() + OBJECT.top * rect.height(),
                          OBJECT.width * rect.width(), OBJECT.height * rect.height())
        for got, want in zip(spec.rect.getRect(), expected.getRect()):
            assert got == pytest.approx(want, abs=0.01), what
        shot = canvas.grab().toImage()
        # the painted picture and the drawn box coincide: the patch fills the box, the background surrounds it
        visible = spec.rect.intersected(QRectF(canvas.rect()).adjusted(8, 8, -8, -8))
        assert visible.width() > 20 and visible.height() > 20, what
        centre = visible.center().toPoint()
        assert close_to(shot.pixelColor(centre), PATCH), what
        if spec.rect.left() - 6 > 8:
            outside = QPoint(int(spec.rect.left() - 6), centre.y())
            assert close_to(shot.pixelColor(outside), BACKGROUND), what

    check("fit")
    assert canvas.is_fit()
    fit = canvas.scale()
    anchor = QPointF(canvas.image_rect().x() + inside_patch.x() * canvas.image_rect().width(),
                     canvas.image_rect().y() + inside_patch.y() * canvas.image_rect().height())
    canvas.zoom_by(3.0, anchor)
    assert canvas.scale() == pytest.approx(3 * fit)
    check("x3 about the object")
    canvas.zoom_actual(anchor)
    assert canvas.scale() == pytest.approx(1 / canvas.devicePixelRatioF())
    check("1:1")
    canvas.pan_by(-40, 25)
    check("1:1 panned")
    canvas.zoom_out()
    check("one step out")
    canvas.zoom_fit()
    assert canvas.is_fit() and canvas.scale() == pytest.approx(fit)
    check("fit again")


def test_the_wheel_the_keys_and_the_buttons_zoom_the_detail_view(qtbot, view):
    canvas = view.canvas
    canvas.set_image(synthetic_picture(), QSize(1600, 1200))
    fit = canvas.scale()
    centre = QPointF(canvas.rect().center())
    wheel = QWheelEvent(centre, canvas.mapToGlobal(centre), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, wheel)
    assert canvas.scale() == pytest.approx(fit * 1.25)
    ctrl_wheel = QWheelEvent(centre, canvas.mapToGlobal(centre), QPoint(0, 0), QPoint(0, -120),
                             Qt.MouseButton.NoButton, Qt.KeyboardModifier.ControlModifier,
                             Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(canvas, ctrl_wheel)
    assert canvas.is_fit()

    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Plus)
    assert canvas.scale() == pytest.approx(fit * 1.25)
    qtbot.keyClick(view, Qt.Key.Key_Minus)
    assert canvas.is_fit()
    qtbot.keyClick(view, Qt.Key.Key_1)
    assert canvas.scale() == pytest.approx(canvas.actual_scale())
    assert view.zoom_label.text() == "100%"
    qtbot.keyClick(view, Qt.Key.Key_0)
    assert canvas.is_fit() and view.zoom_label.text() == "Fit"
    view.zoom_in_button.click()
    assert canvas.scale() == pytest.approx(fit * 1.25)
    view.fit_button.click()
    assert canvas.is_fit()
    view.actual_button.click()
    assert canvas.scale() == pytest.approx(canvas.actual_scale())


def text_detections() -> list[Detection]:
    line = Detection(DetectionKind.TEXT, "Hello Google", 97.0, BoundingBox(0.10, 0.40, 0.60, 0.12),
                     text_type="LINE")
    hello = Detection(DetectionKind.TEXT, "Hello", 96.0, BoundingBox(0.10, 0.40, 0.25, 0.12), text_type="WORD")
    google = Detection(DetectionKind.TEXT, "Google", 95.0, BoundingBox(0.40, 0.40, 0.30, 0.12), text_type="WORD")
    return [line, hello, google]


def test_text_shows_line_boxes_words_only_on_request_and_a_caption_only_on_hover(qtbot, view):
    canvas = view.canvas
    canvas.set_image(synthetic_picture(), QSize(400, 300))
    car = Detection(DetectionKind.LABEL, "Car", 88.0, BoundingBox(0.75, 0.70, 0.2, 0.2))
    canvas.set_detections([*text_detections(), car])

    text_boxes = [s for s in canvas.specs() if s.detection.kind is DetectionKind.TEXT]
    assert [s.detection.name for s in text_boxes] == ["Hello Google"]  # lines by default, never words over them
    [line] = text_boxes
    # a text box's caption is not drawn until the pointer is over it; label tags always are
    assert [s.detection.name for s in canvas.captions()] == ["Car"]
    above = QPoint(int(line.rect.left()) + 3, int(line.rect.top()) - 5)
    assert not close_to(canvas.grab().toImage().pixelColor(above), QColor(TEXT_COLOR), 10)

    point = line.rect.center()
    QApplication.sendEvent(canvas, QMouseEvent(QEvent.Type.MouseMove, point, canvas.mapToGlobal(point),
                                               Qt.MouseButton.NoButton, Qt.MouseButton.NoButton,
                                               Qt.KeyboardModifier.NoModifier))
    assert [s.detection.name for s in canvas.captions()] == ["Car", "Hello Google"]
    assert canvas.hovered.text == "Hello Google 97%"
    assert close_to(canvas.grab().toImage().pixelColor(above), QColor(TEXT_COLOR), 10)
    QApplication.sendEvent(canvas, QEvent(QEvent.Type.Leave))
    assert canvas.hovered is None

    # words only when asked for, and then instead of the line
    view.text_boxes.setCurrentIndex(view.text_boxes.findData("words"))
    assert sorted(s.detection.name for s in canvas.specs() if s.detection.kind is DetectionKind.TEXT) == [
        "Google", "Hello"]
    view.text_boxes.setCurrentIndex(view.text_boxes.findData("off"))
    assert [s.detection.name for s in canvas.specs()] == ["Car"]


def test_full_screen_steps_through_the_grid_results_and_esc_leaves(qtbot, testdata, tmp_path):
    from mediaapp.ui.main_window import MainWindow

    root = replay_library(testdata, tmp_path)
    window = MainWindow(root)
    qtbot.addWidget(window)
    window.resize(760, 700)
    window.show()
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=30000)
    try:
        window.grid.setCurrentIndex(window.model.index(0))
        window.grid.setFocus()
        qtbot.keyClick(window.grid, Qt.Key.Key_F11)
        viewer = window.viewer
        assert viewer is not None and viewer.isVisible() and viewer.isFullScreen()
        qtbot.waitUntil(lambda: viewer.data is not None and viewer.data.sha256 == window.model.row(0).sha256,
                        timeout=30000)
        assert viewer.canvas.label_specs()  # the boxes come along

        with qtbot.waitSignal(viewer.loaded, timeout=30000) as shown:
            qtbot.keyClick(viewer, Qt.Key.Key_Right)
        assert shown.args == [window.model.row(1).sha256]
        assert window.grid.currentIndex().row() == 1  # the grid follows
        with qtbot.waitSignal(viewer.loaded, timeout=30000) as shown:
            qtbot.keyClick(viewer, Qt.Key.Key_Left)
        assert shown.args == [window.model.row(0).sha256]
        assert window.grid.currentIndex().row() == 0

        qtbot.keyClick(viewer, Qt.Key.Key_Escape)
        assert not viewer.isVisible()

        # Space in the detail view goes full screen as well, on the image shown
        with qtbot.waitSignal(window.detail.loaded, timeout=30000):
            window.open_detail(window.model.index(2))
        qtbot.keyClick(window.detail, Qt.Key.Key_Space)
        assert viewer.isVisible()
        qtbot.waitUntil(lambda: viewer.data is not None and viewer.data.sha256 == window.model.row(2).sha256,
                        timeout=30000)
        qtbot.keyClick(viewer, Qt.Key.Key_Escape)
        assert not viewer.isVisible()
    finally:
        window.shutdown()
