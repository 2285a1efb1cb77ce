"""The Settings dialog's "Folders" section (issue 12): RAW+JPEG stacking, watched folders, per-folder sidecars.

The dialog is driven with pytest-qt; the flow test saves through ``SettingsFlow`` into a real library holding
a real RAW+JPEG pair (the shared DNG and its LibRaw decode, ``support.shoot_raw_jpeg``) and
checks that the changed setting is applied to the library on a worker, with the grid told to refresh.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QDialog, QListView, QWidget
from support import open_replay_library, shoot_raw_jpeg

from mediaapp.core.types import Query
from mediaapp.settings import DEFAULTS, Settings
from mediaapp.ui import folder_settings
from mediaapp.ui.operations import OpChanges, Operations
from mediaapp.ui.settings_dialog import SettingsDialog
from mediaapp.ui.settings_flow import SettingsFlow


@pytest.fixture
def chosen(monkeypatch):
    """The folders the (stubbed) folder dialog answers, in turn; "" = Cancel."""
    answers: list[str] = []
    monkeypatch.setattr(folder_settings.QFileDialog, "getExistingDirectory",
                        lambda *args: answers.pop(0) if answers else "")
    return answers


def test_folders_section_edits_stacking_watch_and_sidecar_folders(qtbot, tmp_path, chosen):
    off_by_hand = str(tmp_path / "private")
    settings = {**DEFAULTS, "sidecars": {**DEFAULTS["sidecars"], "folders": {off_by_hand: False}}}
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    box = dialog.folders_box
    assert dialog.values() == {**settings, "index": {"backend": "sqlite"}}   # untouched: nothing changes
    assert isinstance(box.watch_folders.view, QListView)                       # model/view, no item widget
    assert box.stack_raw_jpeg.isChecked() and box.stack_raw_jpeg.text() == "Stack RAW+JPEG pairs"

    box.stack_raw_jpeg.setChecked(False)
    a, b = tmp_path / "a", tmp_path / "b"
    chosen += [str(a), str(b), str(a), ""]                   # the third adds a folder already listed; then Cancel
    for _ in range(4):
        qtbot.mouseClick(box.watch_folders.add_button, Qt.MouseButton.LeftButton)
    assert box.watch_folders.folders() == [str(a), str(b)]
    view = box.watch_folders.view
    assert [i.row() for i in view.selectionModel().selectedRows()] == [0]   # adding "a" again selected it
    view.selectionModel().clearSelection()
    assert not box.watch_folders.remove_button.isEnabled()                    # nothing selected: nothing to remove
    view.setCurrentIndex(box.watch_folders.model.index(0))   # select "a"
    assert box.watch_folders.remove_button.isEnabled()
    qtbot.mouseClick(box.watch_folders.remove_button, Qt.MouseButton.LeftButton)
    assert box.watch_folders.folders() == [str(b)]
    box.watch_polling.setChecked(True)
    box.reconcile.setValue(5)
    chosen.append(str(tmp_path / "shoots"))
    qtbot.mouseClick(box.sidecar_folders.add_button, Qt.MouseButton.LeftButton)

    values = dialog.values()
    assert values["stack_raw_jpeg"] is False
    assert values["watch_folders"] == [str(b)]
    assert values["watch_polling"] is True
    assert values["watch_reconcile_s"] == 300.0
    assert values["sidecars"]["folders"] == {off_by_hand: False, str(tmp_path / "shoots"): True}
    assert values["sidecars"]["enabled"] is False                              # the library-wide switch is apart
    checked = Settings.from_mapping(values)                                   # the values check as settings.json
    assert checked.watch_folders == (str(b),) and checked.stack_raw_jpeg is False
    assert settings["watch_folders"] == [] and settings["stack_raw_jpeg"] is True   # the input is not modified


def test_reopened_dialog_shows_what_was_saved(qtbot, tmp_path):
    shoots = str(tmp_path / "shoots")
    saved = {**DEFAULTS, "stack_raw_jpeg": False, "watch_folders": [str(tmp_path)], "watch_polling": True,
             "watch_reconcile_s": 0.0, "sidecars": {**DEFAULTS["sidecars"], "folders": {shoots: True}}}
    dialog = SettingsDialog(saved)
    qtbot.addWidget(dialog)
    box = dialog.folders_box
    assert not box.stack_raw_jpeg.isChecked()
    assert box.watch_folders.folders() == [str(tmp_path)]
    assert box.watch_polling.isChecked()
    assert box.reconcile.value() == 0 and box.reconcile.text() == "only when watching starts"
    assert box.sidecar_folders.folders() == [shoots]
    assert dialog.values() == {**saved, "index": {"backend": "sqlite"}}


def test_delete_and_backspace_in_a_focused_folder_list_remove_like_the_remove_button(qtbot, tmp_path):
    a, b, c = (str(tmp_path / n) for n in "abc")
    settings = {**DEFAULTS, "watch_folders": [a, b, c],
                "sidecars": {**DEFAULTS["sidecars"], "folders": {a: True, b: True, c: True}}}
    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.activateWindow()
    qtbot.waitActive(dialog)
    box = dialog.folders_box
    watch, sidecar = box.watch_folders, box.sidecar_folders

    def select(folder_list, rows):
        selection = folder_list.view.selectionModel()
        selection.clearSelection()
        for row in rows:
            selection.select(folder_list.model.index(row), QItemSelectionModel.SelectionFlag.Select)

    watch.view.setFocus()
    qtbot.waitUntil(watch.view.hasFocus)
    qtbot.keyClick(watch.view, Qt.Key.Key_Delete)               # nothing selected: nothing removed
    assert watch.folders() == [a, b, c]
    select(watch, [0, 2])
    qtbot.keyClick(watch.view, Qt.Key.Key_Delete)
    assert watch.folders() == [b]                              # both selected rows, the rest kept in order
    assert sidecar.folders() == [a, b, c]                      # the other list is not touched
    assert not watch.remove_button.isEnabled()                 # the selection went with the rows

    select(sidecar, [1])
    sidecar.view.setFocus()
    qtbot.waitUntil(sidecar.view.hasFocus)
    qtbot.keyClick(sidecar.view, Qt.Key.Key_Backspace)          # macOS keyboards' "delete" key
    assert sidecar.folders() == [a, c]
    assert watch.folders() == [b]

    by_button = SettingsDialog(settings)                       # the same edits with the Remove button
    qtbot.addWidget(by_button)
    select(by_button.folders_box.watch_folders, [0, 2])
    qtbot.mouseClick(by_button.folders_box.watch_folders.remove_button, Qt.MouseButton.LeftButton)
    select(by_button.folders_box.sidecar_folders, [1])
    qtbot.mouseClick(by_button.folders_box.sidecar_folders.remove_button, Qt.MouseButton.LeftButton)
    assert dialog.values() == by_button.values()
    assert dialog.values()["watch_folders"] == [b]
    assert dialog.values()["sidecars"]["folders"] == {a: True, c: True}


@pytest.fixture
def pair_library(testdata, tmp_path):
    """A replay library holding one imported RAW+JPEG pair (stacked); yields ``(library, raw, jpeg)``."""
    photos = tmp_path / "photos"
    raw, jpeg = shoot_raw_jpeg(testdata, photos)
    library = open_replay_library(testdata, tmp_path)
    assert library.import_paths([photos]).imported == 2
    assert [h.path for h in library.search(Query(limit=None)).hits] == [str(raw)]
    yield library, raw, jpeg
    library.close()


def run_dialog(monkeypatch, edit) -> None:
    """Make ``SettingsDialog.exec`` apply ``edit(dialog)`` and press OK, instead of waiting for a user."""
    def exec_(self) -> QDialog.DialogCode:
        edit(self)
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(SettingsDialog, "exec", exec_)


def test_turning_stacking_off_applies_to_the_library_on_a_worker_and_refreshes(qtbot, runner, monkeypatch,
                                                                             pair_library):
    library, raw, jpeg = pair_library
    window = QWidget()
    qtbot.addWidget(window)
    ops = Operations(runner, window)
    flow = SettingsFlow(runner, window, ops=ops)
    threads: list[bool] = []
    real_restack = library.restack

    def restack() -> int:
        threads.append(threading.current_thread() is threading.main_thread())
        return real_restack()

    monkeypatch.setattr(library, "restack", restack)
    run_dialog(monkeypatch, lambda dialog: dialog.folders_box.stack_raw_jpeg.setChecked(False))
    changes: list[OpChanges] = []
    ops.changed.connect(changes.append)
    watch_changed: list[bool] = []
    flow.watchChanged.connect(lambda: watch_changed.append(True))
    with qtbot.waitSignal(flow.restacked, timeout=30000) as restacked:
        flow.edit(library)
    assert restacked.args == [2]                               # the RAW and the JPEG changed stack
    assert threads == [False]                                  # once, never on the GUI thread
    qtbot.waitUntil(lambda: OpChanges(library=True) in changes, timeout=5000)   # the grid is told to refresh
    assert {h.path for h in library.search(Query(limit=None)).hits} == {str(raw), str(jpeg)}
    assert library.settings.stack_raw_jpeg is False
    assert json.loads((Path(library.root) / "settings.json").read_text())["stack_raw_jpeg"] is False  # remembered
    assert watch_changed == []


def test_changed_watch_settings_are_saved_and_restart_the_watcher_without_restacking(qtbot, runner, monkeypatch,
                                                                                   pair_library, tmp_path, chosen):
    library, _raw, _jpeg = pair_library
    window = QWidget()
    qtbot.addWidget(window)
    flow = SettingsFlow(runner, window, ops=Operations(runner, window))
    monkeypatch.setattr(library, "restack", lambda: pytest.fail("stacking did not change: nothing to restack"))
    chosen.append(str(tmp_path / "photos"))

    def edit(dialog: SettingsDialog) -> None:
        dialog.folders_box.watch_folders.add()
        dialog.folders_box.watch_polling.setChecked(True)

    run_dialog(monkeypatch, edit)
    with qtbot.waitSignal(flow.watchChanged, timeout=30000):
        flow.edit(library)
    assert library.settings.watch_folders == (str(tmp_path / "photos"),)
    assert library.settings.watch_polling is True
    saved = json.loads((Path(library.root) / "settings.json").read_text())
    assert saved["watch_folders"] == [str(tmp_path / "photos")] and saved["watch_polling"] is True
