""""Blur unsafe thumbnails": the setting, the grid model's flag until a click, the blurred painting, the facet."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QColor, QImage, QPixmap

from mediaapp.core.types import MODERATION_UNCHECKED, Query
from mediaapp.search.index_base import FacetCount
from mediaapp.settings import Settings
from mediaapp.ui.asset_list import AssetListModel, Roles
from mediaapp.ui.delegate import blurred_pixmap


@pytest.fixture
def runner(qapp):
    from mediaapp.ui.background import BackgroundRunner

    runner = BackgroundRunner()
    yield runner
    runner.shutdown()


def test_setting_is_off_by_default_and_read_leniently():
    assert Settings().blur_unsafe is False
    assert Settings.from_mapping({"blur_unsafe": True}).blur_unsafe is True
    assert Settings.from_mapping({"blur_unsafe": "off"}).blur_unsafe is False
    assert Settings().replace(blur_unsafe=True).to_dict()["blur_unsafe"] is True


def test_settings_dialog_has_the_control(qtbot):
    from mediaapp.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(Settings().to_dict())
    qtbot.addWidget(dialog)
    assert not dialog.blur_unsafe.isChecked()
    dialog.blur_unsafe.setChecked(True)
    assert dialog.values()["blur_unsafe"] is True


def _rows(model) -> dict[str, int]:
    return {model.index(i).data(Roles.PATH).rsplit("/", 1)[-1]: i for i in range(model.rowCount())}


def test_grid_blurs_flagged_thumbnails_until_clicked(qtbot, runner, library):
    model = AssetListModel(runner)
    with qtbot.waitSignal(model.pageLoaded, timeout=20000):
        model.set_library(library)
    rows = _rows(model)
    assert not any(model.index(i).data(Roles.BLURRED) for i in rows.values())  # off by default
    with qtbot.waitSignal(model.pageLoaded, timeout=20000):
        model.set_blur_unsafe(True)  # reads the flags again
    rows = _rows(model)
    blurred = {name for name, i in rows.items() if model.index(i).data(Roles.BLURRED)}
    assert blurred == {"flagged.jpg"}
    assert "unsafe content" in model.index(rows["flagged.jpg"]).data(0x03)  # Qt.ToolTipRole
    assert not model.reveal(model.index(rows["undecided.jpg"]))
    with qtbot.waitSignal(model.dataChanged):
        assert model.reveal(model.index(rows["flagged.jpg"]))
    assert not model.index(rows["flagged.jpg"]).data(Roles.BLURRED)
    model.set_blur_unsafe(False)
    assert not model.blur_unsafe


def test_blurred_pixmap_hides_detail():
    image = QImage(240, 240, QImage.Format.Format_RGB32)
    for y in range(240):
        for x in range(240):  # a 4-pixel checkerboard: all detail, no area of one colour
            image.setPixelColor(x, y, QColor("white") if (x // 4 + y // 4) % 2 else QColor("black"))
    blurred = blurred_pixmap(QPixmap.fromImage(image)).toImage()
    assert (blurred.width(), blurred.height()) == (240, 240)
    values = [QColor(blurred.pixel(x, y)).lightness() for y in range(20, 220, 7) for x in range(20, 220, 7)]
    assert max(values) - min(values) < 40  # the checkerboard (0 vs 255) is gone


def test_sidebar_unsafe_content_facet_and_safe_only(qtbot):
    from mediaapp.ui.sidebar import Sidebar

    sidebar = Sidebar()
    qtbot.addWidget(sidebar)
    sidebar.moderation.set_counts([FacetCount("Explicit Nudity", 1), FacetCount(MODERATION_UNCHECKED, 4)])
    assert sidebar.moderation.counts() == {"Explicit Nudity": 1, MODERATION_UNCHECKED: 4}
    with qtbot.waitSignal(sidebar.moderationChanged) as changed:
        sidebar.safe_only.setChecked(True)
    assert changed.args == [(), True]
    with qtbot.waitSignal(sidebar.moderationChanged) as changed:
        sidebar.moderation.set_checked([MODERATION_UNCHECKED])
        sidebar._emit_moderation()
    assert changed.args == [(MODERATION_UNCHECKED,), True]


def test_window_query_and_facets_carry_moderation(qtbot, library):
    from mediaapp.ui.main_window import MainWindow

    window = MainWindow()
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.facetsUpdated, timeout=20000):
        window.open_library(str(library.root))
    qtbot.waitUntil(lambda: window.sidebar.moderation.counts() != {}, timeout=20000)
    assert window.sidebar.moderation.counts() == {"Explicit Nudity": 1, MODERATION_UNCHECKED: 1}
    window.sidebar.safe_only.setChecked(True)
    query = window.current_query()
    assert query.safe_only and query.moderation == ()
    qtbot.waitUntil(lambda: window.model.total == 2 and not window.model.busy, timeout=20000)
    assert isinstance(query, Query)


def test_painting_a_blurred_cell_twice_blurs_it_once_and_the_copy_leaves_with_its_page(qtbot, runner, library,
                                                                                        monkeypatch):
    from PySide6.QtCore import QRect
    from PySide6.QtGui import QPainter
    from PySide6.QtWidgets import QStyleOptionViewItem

    from mediaapp.ui import asset_list, delegate, pixmaps

    model = AssetListModel(runner)
    with qtbot.waitSignal(model.pageLoaded, timeout=20000):
        model.set_library(library)
    with qtbot.waitSignal(model.pageLoaded, timeout=20000):
        model.set_blur_unsafe(True)
    index = model.index(_rows(model)["flagged.jpg"])
    index.data(Roles.THUMBNAIL)  # asks for it
    qtbot.waitUntil(lambda: index.data(Roles.THUMBNAIL_READY), timeout=20000)
    calls: list[int] = []

    def counting(pixmap):
        calls.append(1)
        return pixmaps.blurred_pixmap(pixmap)

    monkeypatch.setattr(asset_list, "blurred_pixmap", counting)
    monkeypatch.setattr(delegate, "blurred_pixmap", counting)
    painter_delegate = delegate.ThumbnailDelegate()
    option = QStyleOptionViewItem()
    option.rect = QRect(0, 0, 240, 260)
    canvas = QImage(240, 260, QImage.Format.Format_RGB32)
    for _ in range(2):
        painter = QPainter(canvas)
        painter_delegate.paint(painter, option, index)
        painter.end()
    assert len(calls) == 1
    sha = index.data(Roles.SHA256)
    assert sha + pixmaps.BLUR_SUFFIX in model.cache
    model._drop_page(0)  # the page leaves (as ``_evict`` drops far pages): its blurred copy goes too
    assert sha + pixmaps.BLUR_SUFFIX not in model.cache
