"""The cloud settings dialog: what it saves (and keeps), engines per library and folder, and the connection test
and estimate running off the GUI thread with the values shown, saved or not."""

from __future__ import annotations

import shutil
import threading

import pytest

pytest.importorskip("pytestqt")

from mediaapp.cloud.config import load_config
from mediaapp.library import Library
from mediaapp.settings import Settings, load_settings, read_settings, save_settings
from mediaapp.ui.cloud_dialog import CloudSettingsDialog


@pytest.fixture
def library(tmp_path):
    root = tmp_path / "lib"
    stored = load_settings(root)
    stored["engine_config"] = {"rekognition": {"proxy_quality": 70, "multipart_threshold_mb": 32,
                                               "multipart_chunk_mb": 16, "max_attempts": 3,
                                               "prices_path": None, "a_key_from_a_newer_version": [1, 2]}}
    save_settings(root, stored)
    lib = Library(root, settings={"workers": 1})
    yield lib
    lib.close()


def _save(qtbot, dialog):
    task = dialog.save()
    assert task is not None, dialog.error.text()
    qtbot.waitUntil(lambda: task.done, timeout=30000)
    return task


def test_save_keeps_what_the_dialog_does_not_show(qtbot, library, s3_bucket, tmp_path):
    endpoint, bucket, _s3 = s3_bucket
    dialog = CloudSettingsDialog(library)
    qtbot.addWidget(dialog)
    assert dialog.proxy_quality.value() == 70  # shown as stored
    dialog.bucket.setText(bucket)
    dialog.region.setText("us-east-1")
    dialog.endpoint.setText(endpoint)
    dialog.kms_key.setText("alias/x")  # with sse AES256: invalid
    before = (library.root / "settings.json").read_text()
    assert dialog.save() is None and "only applies with sse aws:kms" in dialog.error.text()
    assert (library.root / "settings.json").read_text() == before and dialog.result() == 0
    dialog.kms_key.clear()
    dialog.upload.setCurrentText("original")
    dialog.budget_month.setValue(12.5)
    dialog.budget_run.setValue(0.0015)  # below a cent: must not round to "no limit"
    _save(qtbot, dialog)
    assert dialog.result() == 1 and dialog.saved
    stored = load_settings(library.root)
    section = stored["engine_config"]["rekognition"]
    assert (section["proxy_quality"], section["multipart_threshold_mb"], section["multipart_chunk_mb"],
            section["max_attempts"], section["a_key_from_a_newer_version"]) == (70, 32, 16, 3, [1, 2])
    config = load_config(Settings.from_mapping(stored))
    assert (config.bucket, config.upload, config.budget_per_month, config.budget_per_run) == \
        (bucket, "original", 12.5, 0.0015)
    assert "ledger_path" not in section

    again = CloudSettingsDialog(library)
    qtbot.addWidget(again)
    assert again.bucket.text() == bucket and again.budget_month.value() == 12.5
    assert again.budget_run.value() == pytest.approx(0.0015)
    task = again.test_connection()
    qtbot.waitUntil(lambda: task.done, timeout=30000)
    text = again.output.toPlainText()
    assert text.count("✔") == 3 and f"s3://{bucket}" in text


def test_engines_analyses_and_folder_rules_are_saved(qtbot, library, tmp_path):
    dialog = CloudSettingsDialog(library)
    qtbot.addWidget(dialog)
    assert dialog.engines() == ["local"]  # the library default
    dialog.engine_choice.setCurrentIndex(2)
    assert dialog.engines() == ["local", "rekognition"]
    assert "GetLabelDetection" not in {api.value for api in dialog.api_boxes}  # videos get them by media kind
    for api, box in dialog.api_boxes.items():
        box.setChecked(api.value != "DetectText")
    cloud_only = tmp_path / "phone photos"
    local_only = tmp_path / "phone photos" / "private"
    dialog.add_folder_rule(str(cloud_only) + "/", ["rekognition"])
    row = dialog.add_folder_rule(str(local_only), ["local"])
    dialog.rules_table.selectRow(row)
    dialog.remove_selected_rules()
    dialog.add_folder_rule(str(local_only), ["rekognition", "local"])
    dialog.add_folder_rule(str(local_only), ["local"])  # the same folder again: updated, not duplicated
    assert dialog.folder_rules() == {str(cloud_only): ["rekognition"], str(local_only): ["local"]}
    _save(qtbot, dialog)
    stored = load_settings(library.root)
    assert stored["engines"] == ["local", "rekognition"]
    # every box but DetectText: the library's list (on-device runs them; in the cloud DetectFaces and
    # DetectModerationLabels stay opt-in per run, core.apis.engine_apis)
    assert stored["apis"] == ["DetectLabels", "RecognizeCelebrities", "DetectFaces", "DetectModerationLabels"]
    assert stored["folder_engines"] == {str(cloud_only): ["rekognition"], str(local_only): ["local"]}
    assert library.settings.to_dict()["folder_engines"] == stored["folder_engines"]  # the open library sees them too

    again = CloudSettingsDialog(library)
    qtbot.addWidget(again)
    assert again.engines() == ["local", "rekognition"] and again.folder_rules() == stored["folder_engines"]
    for box in again.api_boxes.values():
        box.setChecked(False)
    assert again.save() is None and "at least one analysis" in again.error.text()


def test_test_and_estimate_run_off_the_gui_thread_with_the_values_shown(qtbot, library, testdata, tmp_path,
                                                                         monkeypatch):
    from mediaapp.services import connection
    from mediaapp.services.costs import CostEstimator

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy2(testdata / "1_objects/voc/VOC2007/JPEGImages/000004.jpg", photos / "a.jpg")
    shutil.copy2(testdata / "1_objects/voc/VOC2007/JPEGImages/000004.jpg", photos / "same bytes.jpg")
    (photos / "notes.txt").write_text("not an image: not priced")
    seen: dict[str, tuple] = {}
    real_check, real_estimate = connection.check_connection, CostEstimator.estimate

    def check(config):
        seen["test"] = (threading.get_ident(), config)
        return real_check(config)

    def estimate(*args, **kwargs):
        seen["estimate"] = (threading.get_ident(), kwargs["config"])
        return real_estimate(*args, **kwargs)

    monkeypatch.setattr(connection, "check_connection", check)
    monkeypatch.setattr(CostEstimator, "estimate", estimate)
    dialog = CloudSettingsDialog(library)
    qtbot.addWidget(dialog)
    dialog.region.setText("eu-west-1")  # not saved
    dialog.budget_run.setValue(0.002)  # not saved: the estimate must use it
    dialog.image_properties.setChecked(True)
    task = dialog.estimate([str(photos)])
    qtbot.waitUntil(lambda: task.done, timeout=30000)
    gui = threading.get_ident()
    thread, config = seen["estimate"]
    assert thread != gui and config.region == "eu-west-1" and config.budget_per_run == 0.002
    text = dialog.output.toPlainText()
    assert text.startswith("1 images x 3 analyses (DetectLabels, DetectText, RecognizeCelebrities) = 3 calls, "
                           "minus 0 already stored (free) = 3 calls to buy")
    assert "DetectLabels:IMAGE_PROPERTIES: 1 x $0.00075 = $0.00075" in text  # the unsaved checkbox counts
    assert "Rekognition $0.00375 + S3 $0.0000 = $0.00375" in text
    assert "Budget per run $0.0020: THE RUN WOULD STOP EARLY" in text
    assert "verified: no" in text and "https://aws.amazon.com/rekognition/pricing/" in text
    assert load_config(read_settings(library.root)).region is None  # nothing was saved

    dialog.endpoint.setText("http://127.0.0.1:9")  # nothing listens there: every check fails, quickly
    task = dialog.test_connection()
    qtbot.waitUntil(lambda: task.done, timeout=60000)
    thread, config = seen["test"]
    assert thread != gui and config.region == "eu-west-1" and config.endpoint_url == "http://127.0.0.1:9"
    assert "✘ credentials" in dialog.output.toPlainText()


# -- the dialog's tasks may end after the dialog: the runner is the main window's -------------------------

def _delete_now(dialog) -> None:
    """Close and delete ``dialog`` as the main window does (``deleteLater``), and run the deletion now."""
    from PySide6.QtCore import QCoreApplication, QEvent

    dialog.reject()
    dialog.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.fixture
def runner(qapp):
    """A runner that outlives the dialogs (like the main window's); its callback failures are recorded."""
    from mediaapp.ui.background import BackgroundRunner

    runner = BackgroundRunner(max_threads=2)
    runner.failures = []
    runner.taskFailed.connect(lambda label, message: runner.failures.append((label, message)))
    yield runner
    runner.shutdown()


@pytest.fixture
def gates(runner):
    """``gates()`` makes a ``threading.Event``; all are set at teardown (before the runner waits for its workers),
    so a failing test never leaves a worker blocked."""
    made: list[threading.Event] = []

    def make() -> threading.Event:
        made.append(threading.Event())
        return made[-1]

    yield make
    for event in made:
        event.set()


def test_a_test_ending_after_the_dialog_was_closed_is_dropped(qtbot, library, runner, gates, monkeypatch):
    import shiboken6

    from mediaapp.services import connection

    started, release = gates(), gates()

    def slow_check(config):
        started.set()
        release.wait(30)
        return []

    monkeypatch.setattr(connection, "check_connection", slow_check)
    closed = CloudSettingsDialog(library, None, runner)  # closed, not deleted: its output stays as it was
    qtbot.addWidget(closed)
    first = closed.test_connection()
    deleted = CloudSettingsDialog(library, None, runner)
    second = deleted.test_connection()
    assert started.wait(30)
    closed.reject()
    _delete_now(deleted)
    assert not shiboken6.isValid(deleted)
    release.set()
    qtbot.waitUntil(lambda: first.done and second.done, timeout=30000)
    assert runner.failures == []  # no "already deleted" error reported as a failed test
    # the closed dialog's result was dropped: nothing was written into it
    assert closed.output.toPlainText() == "Testing the connection…"


def test_closing_the_dialog_stops_the_estimate_between_files(qtbot, library, runner, gates, testdata, tmp_path,
                                                             monkeypatch):
    from mediaapp.ingest import hashing
    from mediaapp.ui.cloud_dialog import EstimateCancelled

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("a.jpg", "b.jpg", "c.jpg", "d.jpg"):
        shutil.copy2(testdata / "1_objects/voc/VOC2007/JPEGImages/000004.jpg", photos / name)
    hashed: list[str] = []
    first, release = gates(), gates()

    def slow_sha(path, *args, **kwargs):  # the first file waits until the dialog was closed
        hashed.append(str(path))
        first.set()
        release.wait(30)
        return "0" * 63 + str(len(hashed))

    monkeypatch.setattr(hashing, "sha256_file", slow_sha)
    dialog = CloudSettingsDialog(library, None, runner)
    qtbot.addWidget(dialog)
    task = dialog.estimate([str(photos)])
    assert first.wait(30)
    dialog.reject()  # closing cancels the estimate
    assert task.cancelled
    release.set()
    qtbot.waitUntil(lambda: task.done, timeout=30000)
    assert isinstance(task.error, EstimateCancelled) and task.result is None
    assert len(hashed) == 1  # the other three files were never read
    assert runner.failures == [] and dialog.output.toPlainText() == "Estimating…"  # closed: nothing shown

    hashed.clear()
    release.clear()
    first.clear()
    open_dialog = CloudSettingsDialog(library, None, runner)
    qtbot.addWidget(open_dialog)
    task = open_dialog.estimate([str(photos)])
    assert first.wait(30) and not open_dialog.estimate_button.isEnabled()
    task.cancel()  # cancelled while the dialog stays open: it says so and can estimate again
    release.set()
    qtbot.waitUntil(lambda: task.done, timeout=30000)
    assert len(hashed) == 1 and isinstance(task.error, EstimateCancelled)
    assert open_dialog.output.toPlainText() == "Cancelled." and open_dialog.estimate_button.isEnabled()


def test_esc_and_cancel_wait_for_a_save_being_written(qtbot, library, runner, gates, monkeypatch):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDialog

    from mediaapp.ui import cloud_dialog

    writing, release = gates(), gates()
    real_save = cloud_dialog.save_config

    def slow_save(lib, config):
        writing.set()
        release.wait(30)
        real_save(lib, config)

    monkeypatch.setattr(cloud_dialog, "save_config", slow_save)
    dialog = CloudSettingsDialog(library, None, runner)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.bucket.setText("saved-while-esc")
    task = dialog.save()
    assert writing.wait(30)
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    dialog.buttons.button(dialog.buttons.StandardButton.Cancel).click()
    dialog.close()
    assert dialog.isVisible() and dialog.result() == 0  # still open, not rejected
    assert dialog.saving and dialog.output.toPlainText().startswith("Saving…")
    release.set()
    qtbot.waitUntil(lambda: task.done, timeout=30000)
    assert dialog.result() == QDialog.DialogCode.Accepted and dialog.saved and not dialog.isVisible()
    assert not dialog.saving and runner.failures == []
    assert load_config(read_settings(library.root)).bucket == "saved-while-esc"


def test_after_a_failed_save_cancel_closes_the_dialog(qtbot, library, runner, monkeypatch):
    from mediaapp.ui import cloud_dialog

    def failing_save(lib, config):
        raise OSError("disk full")

    monkeypatch.setattr(cloud_dialog, "save_config", failing_save)
    dialog = CloudSettingsDialog(library, None, runner)
    qtbot.addWidget(dialog)
    dialog.show()
    task = dialog.save()
    qtbot.waitUntil(lambda: task.done, timeout=30000)
    assert dialog.error.text() == "Not saved: disk full" and dialog.isVisible()
    dialog.reject()
    assert not dialog.isVisible() and dialog.result() == 0 and not dialog.saved


def test_rekognition_video_notification_fields_are_saved_and_checked(qtbot, library):
    dialog = CloudSettingsDialog(library)
    qtbot.addWidget(dialog)
    dialog.video_topic.setText("arn:aws:sns:us-east-1:123456789012:AmazonRekognitionVideo")
    assert dialog.save() is None and "both an SNS topic ARN and a role ARN" in dialog.error.text()
    dialog.video_role.setText("arn:aws:iam::123456789012:role/RekognitionVideoPublish")
    dialog.video_queue.setText("https://sqs.us-east-1.amazonaws.com/123456789012/rekognition-video-done")
    _save(qtbot, dialog)
    config = load_config(read_settings(library.root))
    assert (config.video_sns_topic_arn, config.video_role_arn, config.video_sqs_queue_url) == (
        "arn:aws:sns:us-east-1:123456789012:AmazonRekognitionVideo",
        "arn:aws:iam::123456789012:role/RekognitionVideoPublish",
        "https://sqs.us-east-1.amazonaws.com/123456789012/rekognition-video-done")
    again = CloudSettingsDialog(library)
    qtbot.addWidget(again)
    assert again.video_queue.text().endswith("/rekognition-video-done")
