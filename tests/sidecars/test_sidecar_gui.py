"""The GUI side of XMP sidecars: File ▸ Write XMP sidecars… asks once per library, then writes on a worker; the
Settings dialog's section round-trips the ``sidecars`` setting."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QMessageBox, QWidget
from support import REPLAY_PHOTOS, replay_settings

from mediaapp.library import Library
from mediaapp.settings import read_settings, save_settings
from mediaapp.ui import messages


@pytest.fixture(autouse=True)
def ui_settings_dir(tmp_path):
    """The GUI's QSettings in a temp dir."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))


def test_write_xmp_sidecars_asks_once_then_writes_on_a_worker(testdata, tmp_path, qtbot, monkeypatch):
    from mediaapp.ui.background import BackgroundRunner
    from mediaapp.ui.sidecar_flow import EXPLANATION, SidecarFlow

    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "car.jpg").write_bytes((testdata / REPLAY_PHOTOS[0]).read_bytes())
    root = tmp_path / "lib"
    root.mkdir()
    save_settings(root, {**replay_settings(testdata), "apis": ["DetectLabels"]})
    library = Library(root)
    window = QWidget()
    qtbot.addWidget(window)
    runner = BackgroundRunner(parent=window)
    flow = SidecarFlow(runner, window)
    asked: list[str] = []
    answer = [QMessageBox.StandardButton.No]
    warned: list[str] = []
    monkeypatch.setattr(messages, "warn", lambda parent, title, text: warned.append(text))
    monkeypatch.setattr(messages, "ask", lambda parent, title, text, *a: asked.append(text) or answer[0])
    try:
        library.import_paths([photos])
        flow.write(library)                                    # off: explained, declined, nothing written
        assert asked == [EXPLANATION] and not flow.running
        assert not (photos / "car.jpg.xmp").exists() and not read_settings(root).sidecars["enabled"]

        answer[0] = QMessageBox.StandardButton.Yes
        status: list[str] = []
        flow.message.connect(status.append)
        flow.write(library)
        qtbot.waitUntil(lambda: bool(status) and status[-1].startswith("XMP sidecars written"), timeout=30000)
        assert status[-1] == "XMP sidecars written: 1 written, 0 already up to date, 0 failed"
        assert (photos / "car.jpg.xmp").is_file()
        assert read_settings(root).sidecars["enabled"] is True            # remembered for the library
        flow.write(library)                                               # on: no second question
        assert len(asked) == 2
        qtbot.waitUntil(lambda: not flow.running, timeout=30000)
        assert status[-1] == "XMP sidecars written: 0 written, 0 already up to date, 0 failed"
        assert warned == []
    finally:
        runner.shutdown()
        library.close()


def test_the_settings_section_round_trips_the_sidecar_setting(qtbot):
    from mediaapp.ui.sidecar_flow import SidecarSettingsBox

    stored = {"sidecars": {"enabled": False, "folders": {"/photos/shoot": True}, "naming": "name.xmp",
                           "min_confidence": 90, "confidences": True}}
    box = SidecarSettingsBox(stored)
    qtbot.addWidget(box)
    assert not box.naming.isEnabled()
    box.enabled.setChecked(True)
    assert box.naming.isEnabled()
    box.min_confidence.setValue(85)
    assert box.value() == {"enabled": True, "folders": {"/photos/shoot": True}, "naming": "name.xmp",
                           "min_confidence": 85.0, "confidences": True}
    assert SidecarSettingsBox({}).value()["enabled"] is False                    # off by default


def test_a_sidecar_that_cannot_be_written_shows_in_the_windows_errors_panel(testdata, tmp_path, qtbot, monkeypatch):
    """File ▸ Write XMP sidecars… with one sidecar name taken by a folder: the Errors panel lists it afterwards."""
    from mediaapp.ui.main_window import MainWindow

    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "car.jpg").write_bytes((testdata / REPLAY_PHOTOS[0]).read_bytes())
    (photos / "street.jpg").write_bytes((testdata / REPLAY_PHOTOS[1]).read_bytes())
    root = tmp_path / "lib"
    root.mkdir()
    save_settings(root, {**replay_settings(testdata), "apis": ["DetectLabels"]})
    library = Library(root)
    try:
        library.import_paths([photos])                           # sidecars off: none written yet
    finally:
        library.close()
    save_settings(root, {**replay_settings(testdata), "apis": ["DetectLabels"],
                         "sidecars": {"enabled": True}})
    (photos / "car.jpg.xmp").mkdir()                              # its sidecar's name is taken
    warned: list[str] = []
    monkeypatch.setattr(messages, "warn", lambda parent, title, text: warned.append(text))
    window = MainWindow(root)
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.libraryOpened, timeout=30000):
        pass
    qtbot.waitUntil(lambda: window.runner.idle, timeout=30000)
    assert window.errors_dock.windowTitle() == "Errors"
    with qtbot.waitSignal(window.errorsUpdated, timeout=30000,
                          check_params_cb=lambda count: count == 1):
        window.sidecar_flow.write(window.library)
    assert window.errors_dock.windowTitle() == "Errors (1)"
    path, stage, reason = window.errors_panel.model.problem(0)
    assert path.endswith("car.jpg") and "sidecar" in stage.lower() + reason.lower()
    assert (photos / "street.jpg.xmp").is_file() and warned and "car.jpg.xmp" in warned[0]
    window.close()
