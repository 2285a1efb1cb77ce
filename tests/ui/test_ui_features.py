"""Main-window features on the session's analysed library: keyboard, detail view, filters, state."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from PySide6.QtCore import Qt
from ui_support import BROKEN

from mediaapp.core.types import DetectionKind, Query
from mediaapp.settings import DEFAULTS
from mediaapp.ui.boxes import boxed
from mediaapp.ui.main_window import MainWindow
from mediaapp.ui.settings_dialog import SettingsDialog
from mediaapp.ui.state import resolve_library_dir

ALL_IMAGES = 6


def wait_for_query(qtbot, window, action, timeout=30000):
    """Run ``action`` and wait until the first page of the query it starts is shown."""
    with qtbot.waitSignal(window.model.pageLoaded, timeout=timeout,
                          check_params_cb=lambda gen, offset, n: gen == window.model.generation.value):
        action()


def open_window(qtbot, root) -> MainWindow:
    window = MainWindow(root)
    qtbot.addWidget(window)
    window.resize(760, 700)  # fits the offscreen platform's 800x800 screen, so geometry restores as is
    window.show()
    with qtbot.waitSignal(window.libraryOpened, timeout=30000):
        pass
    qtbot.waitUntil(lambda: window.model.rowCount() == ALL_IMAGES, timeout=30000)
    return window


@pytest.fixture
def window(qtbot, analysed):
    window = open_window(qtbot, analysed.root)
    yield window
    window.shutdown()


def open_detail_of(qtbot, window, analysed, name: str) -> None:
    row = window.model.row_of(analysed.sha_of(name))
    assert row >= 0
    with qtbot.waitSignal(window.detail.loaded, timeout=30000):
        window.open_detail(window.model.index(row))


def test_keyboard_navigation_enter_opens_detail_escape_closes(qtbot, window):
    grid = window.grid
    grid.setFocus()
    qtbot.keyClick(grid, Qt.Key.Key_End)
    assert grid.currentIndex().row() == ALL_IMAGES - 1
    qtbot.keyClick(grid, Qt.Key.Key_Home)
    assert grid.currentIndex().row() == 0
    qtbot.keyClick(grid, Qt.Key.Key_Right)
    assert grid.currentIndex().row() == 1
    name = grid.currentIndex().data(Qt.ItemDataRole.DisplayRole)

    with qtbot.waitSignal(window.detail.loaded, timeout=30000) as loaded:
        qtbot.keyClick(grid, Qt.Key.Key_Return)
    assert window.stack.currentWidget() is window.detail
    assert loaded.args == [window.model.row(1).sha256]
    assert name in window.detail.title.text()
    with qtbot.waitSignal(window.detail.loaded, timeout=30000):
        qtbot.keyClick(window.detail, Qt.Key.Key_Right)  # next image
    assert grid.currentIndex().row() == 2

    qtbot.keyClick(window.detail, Qt.Key.Key_Escape)
    assert window.stack.currentWidget() is not window.detail
    assert grid.currentIndex().row() == 2

    window.find_action.trigger()  # Ctrl+F
    assert window.search.hasFocus() or window.focusWidget() is window.search
    assert window.find_action.shortcut().toString() == "Ctrl+F"
    assert window.import_action.shortcut().toString() == "Ctrl+I"


def test_grid_fetches_further_pages_as_it_scrolls(qtbot, window, analysed):
    offsets: list[int] = []
    window.model.pageLoaded.connect(lambda gen, offset, n: offsets.append(offset))
    window.model.page_size = 2
    window.refresh()

    def scrolled_to_the_end():
        window.grid.scrollToBottom()
        window.grid.viewport().repaint()  # the cells painted ask the model for their pages
        return all(window.model.is_loaded(i) for i in range(ALL_IMAGES))

    qtbot.waitUntil(scrolled_to_the_end, timeout=30000)
    assert window.model.rowCount() == ALL_IMAGES
    assert sorted(offsets) == [0, 2, 4]
    assert window.model.sha256s() == [h.sha256 for h in analysed.library.search(Query(limit=None,
                                                                                      min_confidence=50.0)).hits]


def test_detail_lists_each_instance_with_its_confidence(qtbot, window, analysed):
    open_detail_of(qtbot, window, analysed, "000004.jpg")
    sha = analysed.sha_of("000004.jpg")
    cars = [d for d in boxed(analysed.library.detections([sha])[sha]) if d.name == "Car"]
    assert len(cars) >= 3

    tree = window.detail.detections_tree
    [car_item] = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())
                  if tree.topLevelItem(i).text(0).startswith("Car")]
    assert car_item.text(0) == f"Car  ×{len(cars)}"
    shown = [car_item.child(i).text(1) for i in range(car_item.childCount())]
    assert shown == [f"{d.confidence:.1f}%" for d in sorted(cars, key=lambda d: -d.confidence)]
    assert all(re.fullmatch(r"\d+\.\d%", text) for text in shown)

    # the picture shows one box per instance, tagged with name and confidence
    specs = [s for s in window.detail.canvas.specs() if s.detection.name == "Car"]
    assert len(specs) == len(cars)
    assert all(re.fullmatch(r"Car \d+%", s.text) for s in specs)
    # selecting an instance highlights its box
    tree.setCurrentItem(car_item.child(0))
    assert window.detail.canvas.highlight == car_item.child(0).data(0, Qt.ItemDataRole.UserRole)

    asset = analysed.library.assets([sha])[sha]
    meta = window.detail.metadata()
    assert meta["Dimensions"] == f"{asset.width} × {asset.height} px"
    assert meta["File"] == analysed.path_of("000004.jpg")
    assert meta["SHA-256"] == sha


def test_detail_shows_the_detected_text(qtbot, window, analysed):
    open_detail_of(qtbot, window, analysed, "HelloGoogle.tif")
    lines = analysed.library.text_of(analysed.sha_of("HelloGoogle.tif"))
    assert any("google" in line.casefold() for line in lines)
    assert window.detail.text_view.toPlainText() == "\n".join(lines)
    assert window.detail.tabs.tabText(1) == f"Text ({len(lines)})"


def test_errors_panel_lists_failed_files_with_stage_and_reason(qtbot, window, analysed):
    qtbot.waitUntil(lambda: bool(window.errors_panel.rows()), timeout=20000)
    rows = window.errors_panel.rows()
    expected = [(p.path, p.stage, p.message) for p in analysed.library.errors()]
    assert sorted(rows) == sorted(expected)
    assert any(path == analysed.path_of(BROKEN) and stage and reason for path, stage, reason in rows)
    window.errors_panel.filter.setText("no such thing")
    assert window.errors_panel.rows() == []


def test_label_facets_match_all_or_any(qtbot, window, analysed):
    library = analysed.library
    qtbot.waitUntil(lambda: {"Car", "Bus"} <= set(window.sidebar.labels.counts()), timeout=20000)
    counts = window.sidebar.labels.counts()
    assert counts == {f.name: f.count for f in library.facets(window.current_query(), "labels", 200)}

    wait_for_query(qtbot, window, lambda: window.sidebar.labels.set_checked(["Car", "Bus"]))
    both = library.search(replace(window.current_query(), limit=None))
    assert window.current_query().match_all is True
    assert window.model.sha256s() == [h.sha256 for h in both.hits]

    wait_for_query(qtbot, window, lambda: window.sidebar.match_any.setChecked(True))
    either = library.search(replace(window.current_query(), limit=None))
    assert window.current_query().match_all is False
    assert window.model.sha256s() == [h.sha256 for h in either.hits]
    assert either.total > both.total
    assert {analysed.sha_of("000004.jpg"), analysed.sha_of("2011_000025.jpg")} <= set(window.model.sha256s())
    # boxes drawn are those of the checked labels only
    for i in range(window.model.rowCount()):
        names = {d.name for d in window.model.row(i).detections}
        assert names and names <= {"Car", "Bus"}


def test_confidence_slider_filters_results_and_boxes(qtbot, window, analysed):
    wait_for_query(qtbot, window, lambda: window.sidebar.set_min_confidence(75))
    query = window.current_query()
    assert query.min_confidence == 75.0
    assert window.model.sha256s() == [h.sha256 for h in analysed.library.search(replace(query, limit=None)).hits]
    detections = [d for i in range(window.model.rowCount()) for d in window.model.row(i).detections]
    assert detections and all(d.confidence >= 75.0 for d in detections)
    assert any(d.kind in (DetectionKind.LABEL, DetectionKind.FACE) for d in detections)


def test_window_state_is_remembered(qtbot, analysed):
    first = open_window(qtbot, analysed.root)
    wait_for_query(qtbot, first, lambda: first.sidebar.set_min_confidence(70))
    first.set_show_boxes(False)
    first.set_thumb_side(120)
    first.splitter.setSizes([300, 460])
    sizes = first.splitter.sizes()
    first.close()

    assert resolve_library_dir(None, env={}) == analysed.root
    second = MainWindow(None)
    qtbot.addWidget(second)
    second.show()
    assert second.sidebar.min_confidence() == 70
    assert not second.delegate.show_boxes and not second.boxes_action.isChecked()
    assert second.delegate.thumb_side == 120
    assert second.size() == first.size()
    assert second.splitter.sizes() == sizes
    second.close()


def test_settings_dialog_edits_library_settings_and_keeps_unknown_keys(qtbot):
    settings = {**DEFAULTS, "future_key": {"x": 1}}
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    assert dialog.values() == {**settings, "index": {"backend": "sqlite"}}
    dialog.faces.setChecked(False)
    dialog.engine_checks["rekognition"].setChecked(True)
    dialog.api_checks["DetectText"].setChecked(False)
    dialog.backend.setCurrentIndex(dialog.backend.findData("opensearch"))
    assert dialog.url.isEnabled()
    dialog.url.setText("https://search.example:9200")
    values = dialog.values()
    assert values["faces_enabled"] is False
    assert values["engines"] == ["local", "rekognition"]
    assert values["apis"] == [a for a in DEFAULTS["apis"] if a != "DetectText"]
    assert values["index"] == {"backend": "opensearch", "url": "https://search.example:9200"}
    assert values["future_key"] == {"x": 1}
    assert settings["faces_enabled"] is True  # the input is not modified


def test_person_facets_come_from_the_library(qtbot, window, analysed):
    # name the one face of obama.jpg, then the sidebar must list exactly the library's person facet
    people = analysed.library.people
    (face,) = people.store.faces(sha256s=[analysed.sha_of("obama.jpg")])
    people.name_faces([face.id], "Barack Obama")
    try:
        expected = {f.name: f.count for f in analysed.library.facets(Query(min_confidence=50.0), "persons")}
        assert expected == {"Barack Obama": 1}
        window.refresh()
        qtbot.waitUntil(lambda: window.sidebar.persons.counts() == expected, timeout=20000)
    finally:
        assert people.forget_person("Barack Obama")  # the session library is shared: leave it unnamed
    window.refresh()
    qtbot.waitUntil(lambda: window.sidebar.persons.counts() == {}, timeout=20000)
