"""The cloud settings dialog: values saved to the library, test and estimate off the GUI thread."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("pytestqt")

from mediaapp.cloud.config import load_config  # noqa: E402
from mediaapp.library import Library  # noqa: E402
from mediaapp.settings import load_settings  # noqa: E402
from mediaapp.ui.cloud_dialog import CloudSettingsDialog  # noqa: E402


@pytest.fixture
def library(tmp_path):
    lib = Library(tmp_path / "lib", settings={"workers": 1})
    yield lib
    lib.close()


def test_save_validates_and_writes_settings(qtbot, library, s3_bucket):
    endpoint, bucket, s3 = s3_bucket
    dialog = CloudSettingsDialog(library)
    qtbot.addWidget(dialog)
    dialog.bucket.setText(bucket)
    dialog.region.setText("us-east-1")
    dialog.endpoint.setText(endpoint)
    dialog.sse.setCurrentText("AES256")
    dialog.kms_key.setText("alias/x")
    dialog.save()
    assert "only applies with sse aws:kms" in dialog.error.text() and dialog.result() == 0
    dialog.kms_key.clear()
    dialog.upload.setCurrentText("original")
    dialog.engine_cloud.setChecked(True)
    dialog.api_boxes[next(iter(dialog.api_boxes))].setChecked(False)
    dialog.budget_month.setValue(12.5)
    dialog.save()
    assert dialog.result() == 1
    stored = load_settings(library.root)
    config = load_config(stored)
    assert (config.bucket, config.upload, config.budget_per_month, config.budget_per_run) == \
        (bucket, "original", 12.5, None)
    assert stored["engines"] == ["local", "rekognition"] and stored["apis"] == ["DetectText", "RecognizeCelebrities"]

    again = CloudSettingsDialog(library)
    qtbot.addWidget(again)
    assert again.bucket.text() == bucket and again.budget_month.value() == 12.5
    task = again.test_connection()
    qtbot.waitUntil(lambda: task.done, timeout=30000)
    text = again.output.toPlainText()
    assert text.count("✔") == 3 and f"s3://{bucket}" in text


def test_estimate_runs_in_the_background(qtbot, library, testdata, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy2(testdata / "1_objects/voc/VOC2007/JPEGImages/000004.jpg", photos / "a.jpg")
    shutil.copy2(testdata / "1_objects/voc/VOC2007/JPEGImages/000004.jpg", photos / "same bytes.jpg")
    dialog = CloudSettingsDialog(library)
    qtbot.addWidget(dialog)
    task = dialog.estimate([str(photos)])
    qtbot.waitUntil(lambda: task.done, timeout=30000)
    text = dialog.output.toPlainText()
    assert text.startswith("1 images, 3 calls to make, 0 already stored") and "$0.0030" in text
