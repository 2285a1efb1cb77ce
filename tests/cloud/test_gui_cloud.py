"""The cloud engine in the main window: the menu action, the cost question before a Rekognition import, upload
bytes in the progress line, and RecognizeCelebrities details in the detail view."""

from __future__ import annotations

import hashlib
import os
import shutil

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings, QTimer

from mediaapp.analysis.validate import validate_response
from mediaapp.cloud import clients
from mediaapp.cloud.transfers import UploadTotals, format_bytes
from mediaapp.core.types import ImportReport
from mediaapp.settings import load_settings, save_settings
from mediaapp.ui.main_window import MainWindow
from mediaapp.ui.progress import format_progress

from .stubs import StubbedRekognition, sample

PHOTOS = ["1_objects/voc/VOC2007/JPEGImages/000002.jpg", "1_objects/voc/VOC2007/JPEGImages/000004.jpg"]


@pytest.fixture(autouse=True)
def ui_settings_dir(tmp_path, monkeypatch):
    """The window's QSettings in a fresh temp dir."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    monkeypatch.delenv("MEDIAAPP_LIBRARY", raising=False)


@pytest.fixture
def photos(tmp_path, testdata):
    folder = tmp_path / "photos"
    folder.mkdir()
    for rel in PHOTOS:
        shutil.copy2(testdata / rel, folder / os.path.basename(rel))
    return folder


def _root(tmp_path, **settings):
    root = tmp_path / "library"
    stored = load_settings(root)
    stored.update({"workers": 1, **settings})
    save_settings(root, stored)
    return root


def _window(qtbot, root) -> MainWindow:
    window = MainWindow()
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.libraryOpened, timeout=30000):
        window.open_library(root)
    return window


def test_cloud_action_opens_the_dialog_and_the_open_library_follows_what_was_saved(qtbot, tmp_path):
    window = _window(qtbot, _root(tmp_path))
    file_menu = window.menuBar().actions()[0].menu()
    assert window.cloud_action in file_menu.actions()
    first = window.library

    def fill_and_save():
        dialog = window.cloud_dialog
        dialog.bucket.setText("my-photos")
        dialog.engine_choice.setCurrentIndex(1)  # Amazon Rekognition
        dialog.add_folder_rule(str(tmp_path / "scans"), ["local"])
        dialog.save()

    reopened: list[object] = []
    window.libraryOpened.connect(reopened.append)
    QTimer.singleShot(0, fill_and_save)
    window.cloud_action.trigger()   # returns when the dialog closed after its write
    assert window.library is first and reopened == [] and window.cloud_dialog is None
    settings = window.library.settings
    assert settings.engines == ("rekognition",)
    assert settings.engine_config["rekognition"]["bucket"] == "my-photos"
    assert settings.folder_engines == {str(tmp_path / "scans"): ("local",)}
    window.shutdown()


def test_esc_while_the_cloud_settings_are_written_still_applies_them_and_the_dialog_is_deleted(
        qtbot, tmp_path, monkeypatch):
    import threading

    import shiboken6
    from PySide6.QtCore import QCoreApplication, QEvent

    from mediaapp.ui import cloud_dialog

    writing, release = threading.Event(), threading.Event()
    real_save = cloud_dialog.save_config

    def slow_save(library, config):
        writing.set()
        release.wait(30)
        real_save(library, config)

    monkeypatch.setattr(cloud_dialog, "save_config", slow_save)
    window = _window(qtbot, _root(tmp_path))
    first = window.library
    seen: dict = {}

    def save_then_escape():
        dialog = seen["dialog"] = window.cloud_dialog
        dialog.bucket.setText("written-while-esc")
        dialog.save()
        seen["writing"] = writing.wait(30)
        dialog.reject()  # Esc / Cancel while the write runs
        seen["open after Esc"] = dialog.isVisible()
        release.set()

    QTimer.singleShot(0, save_then_escape)
    try:
        window.cloud_action.trigger()   # returns when the dialog closed after its write
    finally:
        release.set()
    assert seen["writing"] and seen["open after Esc"]
    assert window.library is first and window.cloud_dialog is None
    assert window.library.settings.engine_config["rekognition"]["bucket"] == "written-while-esc"
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    assert not shiboken6.isValid(seen["dialog"])  # deleted after use, not left parented to the window
    assert window.findChildren(cloud_dialog.CloudSettingsDialog) == []
    window.shutdown()


def _rekognition_root(tmp_path, **cloud):
    return _root(tmp_path, engines=["rekognition"], apis=["DetectLabels", "DetectText"],
                 engine_config={"rekognition": {"upload": "none", "tps": 1000, "max_concurrency": 1,
                                                "budget_per_run": 0.003, **cloud}})


def test_a_rekognition_import_asks_with_the_estimate_and_cancel_imports_nothing(qtbot, tmp_path, photos,
                                                                               monkeypatch):
    stub = StubbedRekognition()  # nothing queued: any call would fail
    asked: list[str] = []
    monkeypatch.setattr(MainWindow, "confirm_cost", lambda self, text: asked.append(text) or False)
    window = _window(qtbot, _rekognition_root(tmp_path))
    with qtbot.waitSignal(window.importDeclined, timeout=60000) as declined:
        assert window.start_import([photos]) is not None
        assert not window.import_action.isEnabled() and not window.cloud_action.isEnabled()
    [text] = asked
    assert text.startswith("2 images x 2 analyses (DetectLabels, DetectText) = 4 calls, minus 0 already stored "
                           "(free) = 4 calls to buy")
    assert "DetectLabels: 2 x $0.0010 = $0.0020" in text and "Rekognition $0.0040" in text
    assert "Budget per run $0.0030: THE RUN WOULD STOP EARLY" in text
    assert "Budget per month: none ($0.0000 spent so far)" in text
    assert "not confirmed" in declined.args[0]
    assert stub.calls == [] and window.library.folders() == []  # not even ingested
    assert window.import_action.isEnabled() and window.cloud_action.isEnabled()
    assert window.import_status.isHidden()
    window.shutdown()


def test_a_confirmed_import_uploads_and_shows_the_bytes_then_a_paid_up_one_asks_nothing(
        qtbot, tmp_path, testdata, photos, s3_bucket, monkeypatch):
    endpoint, bucket, s3 = s3_bucket
    stub = StubbedRekognition(s3_factory=lambda config: clients.default_client("s3", config))
    for _ in PHOTOS:
        stub.respond("DetectLabels", sample(testdata, "awscli/detect-labels.json"))
        stub.respond("DetectText", sample(testdata, "awscli/detect-text.json"))
    asked: list[str] = []
    monkeypatch.setattr(MainWindow, "confirm_cost", lambda self, text: asked.append(text) or True)
    root = _rekognition_root(tmp_path, upload="original", bucket=bucket, endpoint_url=endpoint,
                             region="us-east-1", budget_per_run=None)
    window = _window(qtbot, root)
    shown: list[str] = []
    window.import_status.progressShown.connect(shown.append)
    with qtbot.waitSignal(window.importFinished, timeout=120000) as finished:
        window.start_import([photos])
    report = finished.args[0]
    assert report.analysed == 4 and report.failed == [] and len(asked) == 1 and len(stub.calls) == 4
    assert "Budget per run: none" in asked[0]
    sent = sum(p.stat().st_size for p in photos.iterdir())
    assert any(f"uploaded 2 files, {format_bytes(sent)}" in line for line in shown), shown[-3:]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {k.rsplit("/", 1)[1] for k in keys} == {hashlib.sha256(p.read_bytes()).hexdigest() + ".jpg"
                                                   for p in photos.iterdir()}

    with qtbot.waitSignal(window.importFinished, timeout=120000) as finished:
        window.start_import([photos])  # everything is stored: nothing to pay, no question
    assert finished.args[0].cached == 4 and len(asked) == 1 and len(stub.calls) == 4
    window.shutdown()


def test_progress_line_counts_upload_files_and_bytes():
    report = ImportReport(imported=2, analysed=1)
    line = format_progress("analyse", 1, 2, report, UploadTotals(bytes_sent=3 * 1024 * 1024 + 512 * 1024,
                                                                   files_uploaded=2, files_present=1))
    assert line == "analyse 1/2 · imported 2 · analysed 1 · uploaded 2 files, 3.5 MiB · failed 0"
    assert "uploaded" not in format_progress("analyse", 1, 2, report, UploadTotals())
    assert format_progress("analyse", 1, 2, report, UploadTotals(700, 1, 0)).count("uploaded 1 file, 700 B") == 1


def test_detail_view_shows_each_celebrity_with_id_links_confidence_and_gender(qtbot, tmp_path, testdata):
    from mediaapp.library import Library
    from mediaapp.ui.background import BackgroundRunner
    from mediaapp.ui.detail import CELEBRITY_COLUMNS, DetailView, celebrities_from

    response = sample(testdata, "asyncaws_tests/RecognizeCelebrities.json")
    response["CelebrityFaces"][0]["KnownGender"] = {"Type": "Male"}  # a member the service returns since 2021
    validate_response("RecognizeCelebrities", response)
    folder = tmp_path / "photos"
    folder.mkdir()
    path = folder / "redford.jpg"
    shutil.copy2(testdata / PHOTOS[0], path)
    stub = StubbedRekognition()
    stub.respond("RecognizeCelebrities", response)
    lib = Library(tmp_path / "lib", settings={"workers": 1, "engines": ["rekognition"],
                                              "engine_config": {"rekognition": {"upload": "none", "tps": 1000}}})
    try:
        assert lib.import_paths([folder], apis=["celebrities"]).analysed == 1
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        view = DetailView(None)
        qtbot.addWidget(view)
        runner = view.runner = BackgroundRunner(parent=view)  # deleted with the view
        with qtbot.waitSignal(view.loaded, timeout=30000):
            view.show_row(lib, sha, str(path))
        assert CELEBRITY_COLUMNS == ["Name", "Match", "Id", "Gender", "Links", "Engine"]
        assert view.celebrity_rows() == [["Robert Redford", "100.0%", "1XJ5dK1a", "Male",
                                          "www.imdb.com/name/nm0000602", "rekognition"]]
        assert view.tabs.tabText(view.celebrities_tab) == "Celebrities (1)"
        runner.shutdown()
    finally:
        lib.close()
    many = celebrities_from({"RecognizeCelebrities": [
        {"Engine": "rekognition", "Response": sample(testdata, "awscli/recognize-celebrities.json")},
        {"Engine": "rekognition", "Response": response}]})  # an older answer of the same engine: ignored
    assert [(c.name, c.id, c.urls, c.match_confidence, c.gender) for c in many] == [
        ("Celeb A", "1111111", ("www.imdb.com/name/aaaaaaaaa",), 100.0, ""),
        ("Celeb B", "2222222", ("www.imdb.com/name/bbbbbbbbb",), 97.0, ""),
        ("Celeb C", "3333333", ("www.imdb.com/name/ccccccccc",), 100.0, ""),
        ("Celeb D", "4444444", ("www.imdb.com/name/ddddddddd",), 97.0, "")]


def test_closing_the_window_while_the_cost_is_asked_imports_nothing(qtbot, tmp_path, photos, monkeypatch):
    stub = StubbedRekognition()  # nothing queued: any call would fail
    window = _window(qtbot, _rekognition_root(tmp_path))
    failed: list[str] = []
    window.importFailed.connect(failed.append)

    def close_then_proceed(self, text):
        self.shutdown()        # the user closes the window while the question is open...
        return True            # ...and the answer arrives afterwards

    monkeypatch.setattr(MainWindow, "confirm_cost", close_then_proceed)
    with qtbot.waitSignal(window.importDeclined, timeout=60000) as declined:
        window.start_import([photos])
    assert "the window closed" in declined.args[0]
    qtbot.wait(300)  # an import started on the closed library would fail here
    assert failed == [] and stub.calls == [] and not window.imports.running and window.imports.task is None
