"""The thumbnail grid's context menu acts on the selected photos (right-click selects as file managers do)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtGui import QDesktopServices, QGuiApplication
from support import replay_library

from mediaapp.ui.main_window import MainWindow


def _open_window(qtbot, testdata, tmp_path) -> MainWindow:
    root = replay_library(testdata, tmp_path)
    window = MainWindow(None)
    qtbot.addWidget(window)
    window.resize(1000, 700)
    window.show()
    with qtbot.waitSignal(window.model.pageLoaded, timeout=30000):
        window.open_library(root)
    assert window.model.rowCount() == 3
    return window


def test_the_menu_acts_on_the_selection_and_a_right_click_outside_it_selects_one(qtbot, testdata, tmp_path,
                                                                                 monkeypatch):
    window = _open_window(qtbot, testdata, tmp_path)
    grid, menu, model = window.grid, window.grid_menu, window.model
    paths = [model.row(i).path for i in range(3)]
    selection = grid.selectionModel()
    selection.select(model.index(0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    selection.select(model.index(2), QItemSelectionModel.SelectionFlag.Select)

    # inside the selection: it stays, and Copy path copies both, in grid order
    assert menu.prepare(grid.visualRect(model.index(2)).center())
    assert menu.selected_paths() == [paths[0], paths[2]]
    menu.copy_action.trigger()
    assert QGuiApplication.clipboard().text() == f"{paths[0]}\n{paths[2]}"

    asked: list[tuple[list[str], bool]] = []
    monkeypatch.setattr(window, "start_import", lambda p, reanalyse=False, retry=False: asked.append((p, reanalyse)))
    menu.reanalyse_action.trigger()
    assert asked == [([paths[0], paths[2]], True)]

    # outside the selection: that cell alone
    assert menu.prepare(grid.visualRect(model.index(1)).center())
    assert menu.selected_paths() == [paths[1]]
    opened: list[str] = []
    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url.toLocalFile()) or True)
    menu.reveal_action.trigger()
    menu.open_external_action.trigger()
    assert opened == [str(Path(paths[1]).parent), paths[1]]
    menu.open_action.trigger()  # the detail view of the cell right-clicked
    assert window.stack.currentWidget() is window.detail

    menu.errors_action.trigger()
    assert window.errors_dock.isVisible() and window.errors_panel.filter.text() == paths[1]
    window.close()


def test_nothing_selected_and_an_empty_spot_clicked_offers_nothing(qtbot, testdata, tmp_path):
    window = _open_window(qtbot, testdata, tmp_path)
    window.grid.selectionModel().clear()
    window.grid.selectionModel().setCurrentIndex(window.model.index(-1), QItemSelectionModel.SelectionFlag.Clear)
    far = window.grid.viewport().rect().bottomRight()
    assert not window.grid_menu.prepare(far)
    assert all(not a.isEnabled() for a in window.grid_menu.menu().actions() if not a.isSeparator())
    window.close()
