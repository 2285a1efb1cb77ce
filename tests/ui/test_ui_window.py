"""End to end through the main window: import a real folder, filter by a label, see the boxes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtCore import QCoreApplication, QEvent, QRectF, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDialog
from ui_support import BROKEN, copy_files, write_test_settings

from mediaapp.settings import load_settings
from mediaapp.ui.asset_list import Roles
from mediaapp.ui.main_window import MainWindow
from mediaapp.ui.settings_dialog import SettingsDialog

E2E_FILES = [
    "1_objects/voc/VOC2007/JPEGImages/000004.jpg",   # seven cars in a street
    "2_text/tesseract/HelloGoogle.tif",              # "Hello Google"
    "5_formats/broken/pillow_broken.png",            # fails to decode
]


def wait_for_query(qtbot, window, action, timeout=30000):
    """Run ``action`` and wait until the first page of the query it starts is shown."""
    with qtbot.waitSignal(window.model.pageLoaded, timeout=timeout,
                          check_params_cb=lambda gen, offset, n: gen == window.model.generation.value):
        action()


def shown_names(window) -> list[str]:
    model = window.model
    return [model.index(i).data(Qt.ItemDataRole.DisplayRole) for i in range(model.rowCount())]


def box_edge_hits(image, specs, color: QColor) -> int:
    """How many boxes have ``color`` on the middle of their left edge in ``image``."""
    hits = 0
    for spec in specs:
        y = int(spec.rect.center().y())
        xs = range(int(spec.rect.left()), int(spec.rect.left()) + 3)
        if any(image.pixelColor(x, y).rgb() == color.rgb() for x in xs):
            hits += 1
    return hits


def test_import_folder_filter_by_label_and_boxes_are_painted(qtbot, testdata, tmp_path):
    photos = copy_files(testdata, E2E_FILES, tmp_path / "photos")
    root = tmp_path / "library"
    write_test_settings(root)
    window = MainWindow(root)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    with qtbot.waitSignal(window.libraryOpened, timeout=30000):
        pass
    assert window.model.rowCount() == 0

    # -- import with progress ---------------------------------------------------------------
    texts: list[str] = []
    window.import_status.progressShown.connect(texts.append)
    with qtbot.waitSignal(window.importFinished, timeout=900_000) as done:
        assert window.start_import([photos]) is not None
        assert window.import_status.isVisible()
        assert not window.import_action.isEnabled()
    report = done.args[0]
    assert report.imported == 2 and not report.cancelled
    assert [Path(p.path).name for p in report.failed] == [BROKEN]
    assert any(t.startswith("Importing: ingest") for t in texts)
    assert any(t.startswith("Importing: analyse") for t in texts)
    assert "failed 1" in texts[-1]
    assert window.import_status.isHidden() and window.import_action.isEnabled()

    # -- the errors panel lists the broken file, no dialog ------------------------------------
    qtbot.waitUntil(lambda: bool(window.errors_panel.rows()), timeout=20000)
    [(path, stage, reason)] = window.errors_panel.rows()
    assert Path(path).name == BROKEN and path == report.failed[0].path
    assert stage == report.failed[0].stage and reason == report.failed[0].message and reason
    assert window.errors_dock.isVisible()

    # -- filter by a label: the grid shows exactly the library's hits ------------------------
    qtbot.waitUntil(lambda: "Car" in window.sidebar.labels.counts(), timeout=20000)
    assert window.sidebar.labels.counts()["Car"] == 1
    wait_for_query(qtbot, window, lambda: window.sidebar.labels.set_checked(["Car"]))
    query = window.current_query()
    assert query.labels == ("Car",) and query.min_confidence == 50.0
    expected = window.library.search(replace(query, limit=None))
    assert window.model.rowCount() == expected.total == 1
    assert window.model.sha256s() == [h.sha256 for h in expected.hits]
    assert shown_names(window) == ["000004.jpg"]

    # -- the boxes of the matching label are painted over the thumbnail -----------------------
    index = window.model.index(0)
    index.data(Roles.THUMBNAIL)
    qtbot.waitUntil(lambda: index.data(Roles.THUMBNAIL_READY), timeout=20000)
    cell = QRectF(window.grid.visualRect(index))
    specs = window.delegate.boxes_for(cell, index)
    detections = index.data(Roles.DETECTIONS)
    assert len(specs) >= 3 and {s.detection.name for s in specs} == {"Car"}
    assert len(specs) == len({(round(d.box.left, 2), round(d.box.top, 2)) for d in detections})
    car = window.colors.color("Car")  # the window's colour of Car: never another label's
    image = window.grid.viewport().grab().toImage()
    assert box_edge_hits(image, specs, car) == len(specs)

    window.boxes_action.trigger()  # View > Show boxes off
    assert not window.delegate.show_boxes and window.delegate.boxes_for(cell, index) == []
    image = window.grid.viewport().grab().toImage()
    assert box_edge_hits(image, specs, car) == 0
    window.boxes_action.trigger()

    # -- text search (debounced) finds the OCR'd text ----------------------------------------
    wait_for_query(qtbot, window, window.sidebar.labels.clear_checks)
    assert window.model.rowCount() == 2
    wait_for_query(qtbot, window, lambda: qtbot.keyClicks(window.search, "Google"))
    assert window.current_query().text == "Google"
    assert shown_names(window) == ["HelloGoogle.tif"]

    # -- File > Re-analyse with current models: analysed again in the background --------------
    texts.clear()
    with qtbot.waitSignal(window.importFinished, timeout=900_000) as again:
        window.reanalyse_action.trigger()
    report = again.args[0]
    assert report.imported == 0 and report.cached == 0
    assert report.analysed == 2 * len(window.library.settings.apis)  # every API of both images
    assert texts and all(t.startswith("Re-analysing: ") for t in texts)


def _opened_window(qtbot, root):
    """A shown ``MainWindow`` on ``root`` and the library it opened."""
    window = MainWindow(root)
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.libraryOpened, timeout=30000) as opened:
        pass
    return window, opened.args[0]


def test_settings_dialog_saves_and_reopens_the_library(qtbot, tmp_path, monkeypatch):
    root = tmp_path / "library"
    window, first = _opened_window(qtbot, root)
    assert first.settings.faces_enabled is True

    shown: list[SettingsDialog] = []

    def accept_with_faces_off(dialog):
        shown.append(dialog)
        dialog.faces.setChecked(False)
        dialog.workers.setValue(1)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(SettingsDialog, "exec", accept_with_faces_off)
    with qtbot.waitSignal(window.libraryOpened, timeout=30000) as reopened:
        window.settings_action.trigger()
    library = reopened.args[0]
    assert library is not first and window.library is library
    assert library.settings.faces_enabled is False and library.settings.workers == 1
    assert load_settings(root)["faces_enabled"] is False

    # each use of the dialog leaves nothing behind: deleted after exec, no thread pool of its own
    def cancel(dialog):
        shown.append(dialog)
        return QDialog.DialogCode.Rejected

    monkeypatch.setattr(SettingsDialog, "exec", cancel)
    window.settings_action.trigger()
    qtbot.waitUntil(lambda: len(shown) == 2, timeout=30000)
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert [shiboken6.isValid(dialog) for dialog in shown] == [False, False]
    assert window.findChildren(SettingsDialog) == []
    assert all(dialog.runner is window.runner for dialog in shown)
    window.close()


def test_a_setting_the_open_library_can_follow_is_applied_without_reopening_it(qtbot, tmp_path, monkeypatch):
    root = tmp_path / "library"
    window, library = _opened_window(qtbot, root)
    reopened: list[object] = []
    window.libraryOpened.connect(reopened.append)

    def faces_off(dialog):
        dialog.faces.setChecked(False)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(SettingsDialog, "exec", faces_off)
    window.settings_action.trigger()
    qtbot.waitUntil(lambda: load_settings(root)["faces_enabled"] is False, timeout=30000)
    qtbot.waitUntil(lambda: library.settings.faces_enabled is False, timeout=30000)
    assert window.library is library and reopened == []   # the same library, its workers and indexes kept
    assert library.people.enabled is False                # the services read the new settings
    window.close()


def test_a_bad_settings_file_is_named_with_its_key(tmp_path):
    from mediaapp.library import Library
    from mediaapp.settings import SettingsError

    root = tmp_path / "library"
    root.mkdir()
    (root / "settings.json").write_text('{"min_confidence": "high", "engines": ["local"]}')
    with pytest.raises(SettingsError, match=r"settings\.json: setting 'min_confidence' must be a number"):
        Library(root)


def test_the_sort_combo_offers_every_order_and_drives_the_query(qtbot, tmp_path):
    from mediaapp.core.types import SortOrder

    window, _library = _opened_window(qtbot, tmp_path / "library")
    items = [(window.sort.itemText(i), window.sort.itemData(i)) for i in range(window.sort.count())]
    assert items == [("Best match", "relevance"), ("Newest first", "date"), ("Oldest first", "oldest"),
                     ("By name", "name"), ("By path", "path"), ("Largest first", "size"),
                     ("Highest rated", "rating")]
    for i, (_title, value) in enumerate(items):
        window.sort.setCurrentIndex(i)
        assert window.current_query().sort == SortOrder(value)
    window.close()
