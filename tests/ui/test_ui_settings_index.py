"""The Settings dialog's search-index section: fields, Test connection, and reindex after switching.

The OpenSearch side is a private osmem-server (in-memory, OpenSearch-compatible);
the library's catalog holds a few assets stored as analyses, as an import leaves them.
"""

from __future__ import annotations

import threading
import uuid

import pytest
from PySide6.QtWidgets import QDialog
from support import free_port

from mediaapp.core.types import Api, Detection, DetectionKind, Query
from mediaapp.library import Library
from mediaapp.settings import DEFAULTS
from mediaapp.ui.settings_dialog import SettingsDialog

ASSETS = [  # (sha256, path, label detections)
    ("a" * 64, "/photos/pets/dog.jpg", [("Dog", 96.5, ("Animal", "Pet")), ("Grass", 70.0, ())]),
    ("b" * 64, "/photos/pets/cat.jpg", [("Cat", 91.0, ("Animal", "Pet"))]),
    ("c" * 64, "/photos/city/car.jpg", [("Car", 88.0, ("Vehicle",)), ("Dog", 40.0, ("Animal",))]),
    ("d" * 64, "/photos/city/sign.png", []),
]


@pytest.fixture(scope="module")
def cluster():
    from osmem_server import OsmemServer

    server = OsmemServer.start(freeze=False, japanese=False)
    yield server
    server.close()


@pytest.fixture
def library(tmp_path):
    lib = Library(tmp_path / "lib", settings={"workers": 1})
    for sha, path, labels in ASSETS:
        lib.catalog.add_file(path=path, size=100, mtime_ns=1, sha256=sha, asset={"format": "jpeg"})
        dets = [Detection(DetectionKind.LABEL, n, c, None, p) for n, c, p in labels]
        lib.catalog.store_analysis(sha256=sha, api=Api.DETECT_LABELS.value, engine="rekognition",
                                   engine_version="test", params="{}", response={}, detections=dets)
    lib.reindex_assets([a[0] for a in ASSETS])
    yield lib
    lib.close()


def opensearch_settings(url: str, **extra) -> dict:
    return {**DEFAULTS, "index": {"backend": "opensearch", "url": url, **extra}}


def test_index_fields_round_trip_without_a_password(qtbot):
    index = {"backend": "opensearch", "url": "https://search.example:9200", "index": "photos",
             "username": "ann", "ca_certs": "/etc/ssl/ca.pem", "verify_certs": False,
             "aws_region": "eu-west-1", "aws_service": "aoss", "timeout": 30, "password": "leaked"}
    dialog = SettingsDialog({**DEFAULTS, "index": index})
    qtbot.addWidget(dialog)
    assert (dialog.username.text(), dialog.ca_bundle.text(), dialog.aws_region.text()) == \
        ("ann", "/etc/ssl/ca.pem", "eu-west-1")
    assert not dialog.verify_tls.isChecked() and dialog.aws_service.currentData() == "aoss"
    from PySide6.QtWidgets import QLabel

    assert any("environment variable MEDIAAPP_OPENSEARCH_PASSWORD" in label.text()
               for label in dialog.findChildren(QLabel))
    expected = {k: v for k, v in index.items() if k != "password"}
    assert dialog.values()["index"] == expected  # unknown keys (timeout) kept, the password dropped
    dialog.verify_tls.setChecked(True)
    dialog.aws_region.clear()
    dialog.username.clear()
    values = dialog.index_settings()
    assert "verify_certs" not in values and "aws_service" not in values and "username" not in values
    assert not dialog.aws_service.isEnabled()
    dialog.backend.setCurrentIndex(dialog.backend.findData("sqlite"))
    assert not dialog.test_button.isEnabled() and not dialog.url.isEnabled() and not dialog.username.isEnabled()


def test_test_connection_runs_off_the_gui_thread_and_shows_the_cluster(qtbot, cluster, monkeypatch):
    from mediaapp.search import factory

    threads = []
    real = factory.check_connection

    def spy(settings, timeout=5.0):
        threads.append(threading.current_thread())
        return real(settings, timeout)

    monkeypatch.setattr(factory, "check_connection", spy)
    alias = f"mediaapp-test-{uuid.uuid4().hex[:8]}"
    dialog = SettingsDialog(opensearch_settings(cluster.url, index=alias))
    qtbot.addWidget(dialog)
    task = dialog.test_connection()
    assert not dialog.test_button.isEnabled()  # one test at a time
    qtbot.waitUntil(lambda: task.done, timeout=20000)
    assert threads and threads[0] is not threading.main_thread()
    text = dialog.index_status.text()
    assert text.startswith("✔ Connected: opensearch ") and "cluster “osmem” is green" in text
    assert "reindex needed: the index “" + alias + "” does not exist yet" in text
    assert dialog.test_button.isEnabled()


def test_test_connection_says_what_is_wrong_in_plain_words(qtbot):
    port = free_port()
    dialog = SettingsDialog(opensearch_settings(f"http://127.0.0.1:{port}"))
    qtbot.addWidget(dialog)
    task = dialog.test_connection()
    qtbot.waitUntil(lambda: task.done, timeout=20000)
    text = dialog.index_status.text()
    assert text.startswith("✘ ") and "connection refused" in text and f"127.0.0.1:{port}" in text
    dialog.url.clear()
    assert dialog.test_connection() is None and not dialog.test_button.isEnabled()


def test_switching_to_opensearch_offers_a_reindex_with_progress(qtbot, cluster, library, monkeypatch):
    alias = f"mediaapp-test-{uuid.uuid4().hex[:8]}"
    dialog = SettingsDialog(dict(DEFAULTS), library=library)
    qtbot.addWidget(dialog)
    dialog.backend.setCurrentIndex(dialog.backend.findData("opensearch"))
    dialog.url.setText(cluster.url)
    dialog.index_name.setText(alias)
    asked = []
    monkeypatch.setattr(dialog, "ask_reindex", lambda: asked.append(True) or "yes")
    seen = []
    dialog.reindex_progress.valueChanged.connect(seen.append)
    with qtbot.waitSignal(dialog.accepted, timeout=60000):
        dialog.accept()
        assert dialog.reindex_task is not None and not dialog.ok_button.isEnabled()
        assert not dialog.url.isEnabled()  # the form is frozen while the index fills
    assert asked == [True] and dialog.result() == QDialog.DialogCode.Accepted
    assert seen and seen[-1] == len(ASSETS) and dialog.reindex_progress.maximum() == len(ASSETS)
    assert "Indexed 4 of 4 assets" in dialog.index_status.text()
    from mediaapp.search.factory import check_connection, open_opensearch

    health = check_connection(dialog.index_settings())
    assert health["documents"] == 4 and health["needs_reindex"] is False
    remote = open_opensearch(dialog.index_settings())
    try:
        q = Query(labels=("Animal",))
        assert [h.sha256 for h in remote.search(q).hits] == [h.sha256 for h in library.local_index.search(q).hits]
    finally:
        remote.drop()
        remote.close()


def test_declining_or_cancelling_the_offer(qtbot, cluster, library, monkeypatch):
    dialog = SettingsDialog(dict(DEFAULTS), library=library)
    qtbot.addWidget(dialog)
    dialog.backend.setCurrentIndex(dialog.backend.findData("opensearch"))
    dialog.url.setText(cluster.url)
    accepted = []
    dialog.accepted.connect(lambda: accepted.append(True))
    monkeypatch.setattr(dialog, "ask_reindex", lambda: "cancel")
    dialog.accept()
    assert accepted == [] and dialog.reindex_task is None  # back to the dialog
    monkeypatch.setattr(dialog, "ask_reindex", lambda: "no")
    dialog.accept()
    assert accepted == [True] and dialog.reindex_task is None  # switched without filling
    # staying on the index the library already uses asks nothing
    same = SettingsDialog(opensearch_settings(cluster.url), library=library)
    qtbot.addWidget(same)
    monkeypatch.setattr(same, "ask_reindex", lambda: pytest.fail("must not ask"))
    same.accept()
    assert same.result() == QDialog.DialogCode.Accepted


def test_cancel_stops_a_running_reindex_and_keeps_the_old_index(qtbot, cluster, library, monkeypatch):
    alias = f"mediaapp-test-{uuid.uuid4().hex[:8]}"
    settings = {"backend": "opensearch", "url": cluster.url, "index": alias}
    from mediaapp.search.factory import open_opensearch

    remote = open_opensearch(settings)
    remote.rebuild(library.iter_index_documents())  # the index in use: 4 assets
    before = sorted(remote.client.indices.get_alias(name=alias))
    gate = threading.Event()
    real_iter = library.search_sync.iter_documents

    def slow_docs(batch=500):
        gate.wait(30)
        yield from real_iter(batch)

    monkeypatch.setattr(library.search_sync, "iter_documents", slow_docs)
    dialog = SettingsDialog({**DEFAULTS, "index": settings}, library=library)
    qtbot.addWidget(dialog)
    task = dialog.start_reindex()
    dialog.reject()  # Cancel while it runs: stops the reindex, keeps the dialog open
    assert "Cancelling" in dialog.index_status.text() and dialog.result() == 0
    gate.set()
    qtbot.waitUntil(lambda: task.done, timeout=30000)
    assert dialog.index_status.text() == "Reindex cancelled; the index was left as it was."
    assert sorted(remote.client.indices.get_alias(name=alias)) == before
    assert remote.count() == 4 and not remote.client.indices.get(index=f"{alias}-v*", ignore=[404]).keys() - set(before)
    assert dialog.ok_button.isEnabled() and not dialog.reindex_progress.isVisible()
    remote.drop()
    remote.close()


def test_a_connection_test_ending_after_the_dialog_closed_is_dropped(qtbot, monkeypatch):
    import shiboken6
    from PySide6.QtCore import QCoreApplication, QEvent

    from mediaapp.search import factory
    from mediaapp.ui.background import BackgroundRunner

    runner = BackgroundRunner(max_threads=2)  # outlives the dialogs, like the main window's
    failures: list[tuple[str, str]] = []
    runner.taskFailed.connect(lambda label, message: failures.append((label, message)))
    started, release = threading.Event(), threading.Event()

    def slow_check(settings, timeout=5.0):
        started.set()
        release.wait(30)
        return {"ok": True, "message": "late answer"}

    monkeypatch.setattr(factory, "check_connection", slow_check)
    try:
        closed = SettingsDialog(opensearch_settings("http://127.0.0.1:9"), runner=runner)
        qtbot.addWidget(closed)
        deleted = SettingsDialog(opensearch_settings("http://127.0.0.1:9"), runner=runner)
        tasks = [closed.test_connection(), deleted.test_connection()]
        assert started.wait(30)
        closed.reject()
        assert closed.test_button.isEnabled()  # closing forgets the test: a reopened dialog may test again
        deleted.reject()
        deleted.deleteLater()
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        assert not shiboken6.isValid(deleted)
        release.set()
        qtbot.waitUntil(lambda: all(task.done for task in tasks), timeout=30000)
        assert failures == []  # no "already deleted" error from a callback
        assert closed.index_status.text().startswith("Testing the connection")  # the late answer was dropped
    finally:
        release.set()
        runner.shutdown()
