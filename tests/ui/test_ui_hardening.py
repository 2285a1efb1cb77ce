"""Desktop hardening: the Errors panel's Reason column and context menu (Reveal, Copy path, Retry, Clear), label
facets that hold still under the mouse and can be filtered, box colours that labels drawn together never share,
and Help ▸ Keyboard shortcuts built from the window's own actions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QItemSelectionModel, QPointF, QRectF, QSortFilterProxyModel, Qt, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QEnterEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QHeaderView, QMessageBox
from support import replay_library

from mediaapp.core.types import BoundingBox, Detection, DetectionKind, ImportProblem
from mediaapp.search.index_base import FacetCount
from mediaapp.ui import messages
from mediaapp.ui.boxes import box_specs, label_color
from mediaapp.ui.errors import Column, ErrorsPanel
from mediaapp.ui.main_window import MainWindow
from mediaapp.ui.sidebar import FacetList, Sidebar

WAIT = 30000
BROKEN = "5_formats/broken/pillow_broken.png"
GOOD = "1_objects/voc/VOC2007/JPEGImages/000003.jpg"


# -- Errors panel -------------------------------------------------------------------------------------------

PROBLEMS = [ImportProblem("/photos/2019/a.jpg", "ingest", "cannot identify image file: " + "x" * 300),
            ImportProblem("/photos/2019/b.png", "sniff", "not an image (unrecognised content)"),
            ImportProblem("/photos/2019/a.jpg", "analysis:DetectLabels", "model failed")]


@pytest.fixture
def errors(qtbot) -> ErrorsPanel:
    panel = ErrorsPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 300)
    panel.show()
    panel.set_problems(PROBLEMS)
    return panel


def select(panel: ErrorsPanel, *rows: int) -> None:
    """Select these rows of the panel, as a Ctrl+click on each would."""
    selection = panel.view.selectionModel()
    selection.clearSelection()
    for row in rows:
        selection.select(panel.proxy.index(row, 0),
                         QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows)


def test_the_reason_column_takes_the_width_left_and_shows_the_whole_reason(qtbot, errors):
    header = errors.view.horizontalHeader()
    assert header.sectionResizeMode(Column.REASON) == QHeaderView.ResizeMode.Stretch
    assert not header.stretchLastSection()
    index = errors.proxy.index(0, Column.REASON)
    assert index.data(Qt.ItemDataRole.ToolTipRole) == PROBLEMS[0].message  # the whole reason, not elided
    narrow = header.sectionSize(Column.REASON)
    errors.resize(1400, 300)
    qtbot.waitUntil(lambda: header.sectionSize(Column.REASON) >= narrow + 400)  # the Reason column grows
    others = sum(header.sectionSize(c) for c in Column if c != Column.REASON)
    assert header.sectionSize(Column.REASON) + others == errors.view.viewport().width()


def test_the_context_menu_reveals_copies_retries_and_clears_after_asking(qtbot, errors, monkeypatch):
    menu = errors.context_menu()
    assert [a.text() for a in menu.actions() if not a.isSeparator()] == ["Reveal in folder", "Copy path", "Retry",
                                                                           "Clear…"]
    assert not errors.retry_action.isEnabled()                 # nothing selected yet
    select(errors, 0, 1, 2)                                   # two rows of a.jpg, one of b.png
    assert errors.retry_action.isEnabled()

    opened: list[QUrl] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda url: opened.append(url) or True))
    errors.reveal_action.trigger()
    assert [u.toLocalFile() for u in opened] == ["/photos/2019"]

    errors.copy_path_action.trigger()
    assert QGuiApplication.clipboard().text() == "/photos/2019/a.jpg\n/photos/2019/b.png"

    with qtbot.waitSignal(errors.retryRequested) as retried:
        errors.retry_action.trigger()
    assert retried.args == [["/photos/2019/a.jpg", "/photos/2019/b.png"]]

    asked: list[str] = []
    answer = [QMessageBox.StandardButton.Cancel]
    monkeypatch.setattr(messages, "ask", lambda parent, title, text, *a: asked.append(text) or answer[0])
    cleared: list[object] = []
    errors.clearRequested.connect(cleared.append)
    errors.clear_action.trigger()
    assert len(asked) == 1 and "3 recorded problems of 2 files" in asked[0] and cleared == []
    answer[0] = QMessageBox.StandardButton.Yes
    errors.clear_action.trigger()
    assert cleared == [["/photos/2019/a.jpg", "/photos/2019/b.png"]]


@pytest.fixture
def broken_library(testdata, tmp_path) -> tuple[Path, Path, Path]:
    """A replay library holding three photos and two files that failed: (root, broken file, file fixed later)."""
    from mediaapp.library import Library

    root = replay_library(testdata, tmp_path)
    extra = tmp_path / "extra"
    extra.mkdir()
    broken, fixed = extra / "broken.png", extra / "fixed.jpg"
    shutil.copy(testdata / BROKEN, broken)
    shutil.copy(testdata / BROKEN, fixed)
    lib = Library(root)
    try:
        report = lib.import_paths([extra])
        assert sorted(Path(p.path).name for p in report.failed) == ["broken.png", "fixed.jpg"]
    finally:
        lib.close()
    shutil.copy(testdata / GOOD, fixed)  # the user repaired this one
    return root, broken, fixed


def open_window(qtbot, root) -> MainWindow:
    window = MainWindow(root)
    qtbot.addWidget(window)
    window.resize(760, 700)
    window.show()
    with qtbot.waitSignal(window.errorsUpdated, timeout=WAIT):
        pass
    return window


def select_path(window, path: Path) -> None:
    panel = window.errors_panel
    row = next(i for i, (p, _s, _r) in enumerate(panel.rows()) if p == str(path))
    panel.view.clearSelection()
    panel.view.selectRow(row)


def test_retry_imports_the_file_again_through_the_import_flow(qtbot, broken_library):
    root, broken, fixed = broken_library
    window = open_window(qtbot, root)
    try:
        assert {Path(p).name for p, _s, _r in window.errors_panel.rows()} == {"broken.png", "fixed.jpg"}
        select_path(window, fixed)
        with qtbot.waitSignal(window.importFinished, timeout=WAIT) as done:
            window.errors_panel.retry_action.trigger()
        assert done.args[0].imported == 1 and not done.args[0].failed
        qtbot.waitUntil(lambda: [Path(p).name for p, _s, _r in window.errors_panel.rows()] == ["broken.png"],
                        timeout=WAIT)
        assert window.library.show(str(fixed))["sha256"]

        # a file still as it was is tried again too, not skipped as a known failure
        select_path(window, broken)
        with qtbot.waitSignal(window.importFinished, timeout=WAIT) as again:
            window.errors_panel.retry_action.trigger()
        report = again.args[0]
        assert report.unchanged == 0 and [p.path for p in report.failed] == [str(broken)]
    finally:
        window.close()


def test_clear_removes_the_problems_through_the_library_after_asking(qtbot, broken_library, monkeypatch):
    root, broken, _fixed = broken_library
    window = open_window(qtbot, root)
    try:
        monkeypatch.setattr(messages, "ask", lambda *a, **kw: QMessageBox.StandardButton.Yes)
        select_path(window, broken)
        with qtbot.waitSignal(window.errorsUpdated, timeout=WAIT) as updated:
            window.errors_panel.clear_action.trigger()
        assert updated.args == [1]
        assert [Path(p.path).name for p in window.library.errors()] == ["fixed.jpg"]
        assert [Path(p).name for p, _s, _r in window.errors_panel.rows()] == ["fixed.jpg"]
    finally:
        window.close()


# -- label facets ---------------------------------------------------------------------------------------------

def enter(widget) -> None:
    point = QPointF(5, 5)
    QApplication.sendEvent(widget, QEnterEvent(point, point, point))


def leave(widget) -> None:
    QApplication.sendEvent(widget, QEvent(QEvent.Type.Leave))


def test_the_label_list_holds_its_order_while_the_mouse_is_over_it(qtbot):
    facets = FacetList()
    qtbot.addWidget(facets)
    facets.set_counts([FacetCount("Dog", 9), FacetCount("Cat", 5), FacetCount("Car", 2)])
    enter(facets)                                              # the mouse comes over the list
    facets.set_checked(["Car"])                                # a click checks Car...
    facets.set_counts([FacetCount("Car", 2), FacetCount("Cat", 4), FacetCount("Bus", 1)])  # ...new counts arrive
    assert list(facets.counts()) == ["Dog", "Cat", "Car", "Bus"]    # nothing moved under the cursor
    assert facets.counts() == {"Dog": 0, "Cat": 4, "Car": 2, "Bus": 1} and facets.checked() == ("Car",)
    leave(facets)                                              # the mouse goes: the new order
    assert list(facets.counts()) == ["Car", "Cat", "Bus"]
    facets.set_counts([FacetCount("Cat", 3), FacetCount("Car", 2)])  # not hovered: sorted at once
    assert list(facets.counts()) == ["Car", "Cat"]


def test_a_filter_box_narrows_the_label_list(qtbot):
    sidebar = Sidebar()
    qtbot.addWidget(sidebar)
    labels = sidebar.labels
    labels.set_counts([FacetCount(n, c) for n, c in (("Dog", 9), ("Cat", 5), ("Car", 2), ("Person", 1))])
    labels.set_checked(["Dog"])
    assert isinstance(labels.model(), QSortFilterProxyModel)
    qtbot.keyClicks(sidebar.label_filter, "CA")
    assert labels.names() == ["Cat", "Car"] and labels.model().rowCount() == 2
    assert labels.checked() == ("Dog",)                        # hidden, still checked
    with qtbot.waitSignal(labels.checkedChanged) as toggled:  # a shown row can be checked
        labels.model().setData(labels.model().index(1, 0), Qt.CheckState.Checked, Qt.ItemDataRole.CheckStateRole)
    assert toggled.args == [("Dog", "Car")]
    sidebar.label_filter.clear()
    assert labels.names() == ["Dog", "Cat", "Car", "Person"]


# -- colours ---------------------------------------------------------------------------------------------------

def box(name: str, left: float, kind: DetectionKind = DetectionKind.LABEL) -> Detection:
    return Detection(kind, name, 90.0, BoundingBox(left, 0.1, 0.2, 0.5))


def test_labels_drawn_together_never_share_a_colour(qapp):
    # the hash alone gives these pairs one colour each (magenta, cyan)
    assert label_color("Face") == label_color("Tie") and label_color("Person") == label_color("Vehicle")
    specs = box_specs(QRectF(0, 0, 100, 100), [box("Face", 0.0, DetectionKind.FACE), box("Tie", 0.2),
                                               box("Person", 0.4), box("Vehicle", 0.6)])
    colors = {s.detection.name: s.color.rgb() for s in specs}
    assert colors["Face"] != colors["Tie"] and colors["Person"] != colors["Vehicle"]
    assert len(set(colors.values())) == 4

    from mediaapp.ui.boxes import LabelColors

    palette = LabelColors()
    assert palette.color("Tie") == label_color("Tie")         # a label keeps its own colour when it is free
    names = ["Face", "Tie", "Person", "Vehicle"] + [f"Label {i}" for i in range(60)]
    given = palette.colors(names)
    assert len({c.rgb() for c in given.values()}) == len(names)  # past the 16 of the palette too
    assert palette.color("TIE") == given["Tie"] and palette.color("vehicle") == given["Vehicle"]


def test_the_window_draws_and_lists_a_label_in_one_colour(qtbot, qapp):
    window = MainWindow(None)
    qtbot.addWidget(window)
    colors = window.colors
    assert window.delegate.colors is colors and window.detail.canvas.colors is colors
    window.sidebar.labels.set_counts([FacetCount("Person", 4), FacetCount("Vehicle", 2)])
    model = window.sidebar.labels.model()
    swatches = {model.index(r, 0).data(Qt.ItemDataRole.DisplayRole).split()[0]:
                model.index(r, 0).data(Qt.ItemDataRole.DecorationRole).pixmap(12, 12).toImage().pixelColor(6, 6).rgb()
                for r in range(model.rowCount())}
    assert swatches["Person"] != swatches["Vehicle"]
    assert swatches == {"Person": colors.color("Person").rgb(), "Vehicle": colors.color("Vehicle").rgb()}
    specs = window.delegate.colors.colors(["Vehicle", "Person"])
    assert {n: c.rgb() for n, c in specs.items()} == {"Vehicle": swatches["Vehicle"], "Person": swatches["Person"]}
    window.close()


# -- Help > Keyboard shortcuts ----------------------------------------------------------------------------------

def test_the_shortcuts_dialog_lists_every_action_with_a_shortcut(qtbot):
    window = MainWindow(None)
    qtbot.addWidget(window)
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    entry = next(a for a in help_menu.actions() if a.text() == "&Keyboard shortcuts")
    entry.trigger()
    dialog = window.shortcuts_dialog
    assert dialog is not None and dialog.isVisible()
    rows = {(r.action, r.keys) for r in dialog.model.rows()}
    keys_of = dict(rows)
    native = QKeySequence.SequenceFormat.NativeText
    assert keys_of["Import folder"] == QKeySequence("Ctrl+I").toString(native)
    assert keys_of["Find"] == QKeySequence("Ctrl+F").toString(native)
    assert keys_of["People panel"] == QKeySequence("Ctrl+Shift+P").toString(native)
    assert QKeySequence(QKeySequence.StandardKey.Undo).toString(native) in keys_of["Undo"].split(", ")
    from mediaapp.ui.shortcuts import action_title

    everything = [a for a in window.findChildren(QAction) if a.shortcuts()]
    assert len(everything) >= 10
    for action in everything:                                  # every action with a shortcut, its keys as set
        keys = ", ".join(k.toString(native) for k in action.shortcuts())
        assert (action_title(action.text()), keys) in rows, action.text()
    assert dialog.view.model().rowCount() == len(dialog.model.rows()) == len(everything)
    dialog.close()

    # built from the actions when opened: a shortcut added later is listed, none goes stale
    window.find_action.setShortcut(QKeySequence("Ctrl+K"))
    window.show_shortcuts()
    rows = {(r.action, r.keys) for r in window.shortcuts_dialog.model.rows()}
    assert ("Find", QKeySequence("Ctrl+K").toString(native)) in rows
    assert ("Find", QKeySequence("Ctrl+F").toString(native)) not in rows
    window.shortcuts_dialog.close()
    window.close()
