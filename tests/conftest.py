"""Shared pytest fixtures: the real test material and a throw-away library."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Keep the suite away from the user's own data: platformdirs and QSettings follow the XDG
# variables, so a run never reads or writes ~/.local/share/mediaapp or ~/.config/mediaapp.
_SANDBOX = Path(tempfile.mkdtemp(prefix="mediaapp-tests-"))
for _var, _sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache")):
    os.environ[_var] = str(_SANDBOX / _sub)
# The product's own model lookups (CLI, GUI, engines built from settings) use the suite's shared,
# once-per-machine model cache instead of downloading into the sandbox again.
os.environ.setdefault("MEDIAAPP_MODELS", os.environ.get("MEDIAAPP_TEST_MODELS")
                      or str(Path.home() / ".cache" / "mediaapp-test-models"))
os.environ.pop("MEDIAAPP_LIBRARY", None)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/ helpers such as replay_engine

from support import SAMPLE_FILES  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
#: Whether PySide6 is installed (the message-box guard below is skipped without it).
_HAVE_QT = importlib.util.find_spec("PySide6") is not None
TESTDATA = Path(os.environ.get("MEDIAAPP_TESTDATA", REPO.parent / "shared" / "testdata")).resolve()


#: The modal ``QMessageBox`` static functions the guard below replaces (each blocks until a user answers).
_STATIC_BOXES = ("question", "warning", "information", "critical", "about", "aboutQt")


def _unexpected_message_box(title: str, text: str) -> AssertionError:
    return AssertionError(f"unexpected modal message box {title!r}: {text!r} (nobody would answer it: patch "
                          "mediaapp.ui.messages.ask/warn, or QMessageBox.exec, in the test)")


@pytest.fixture(autouse=True)
def no_modal_message_boxes(monkeypatch):
    """Make every modal ``QMessageBox`` a test did not expect fail at once instead of hanging the run.

    ``QMessageBox.exec`` (which ``mediaapp.ui.messages`` and hand-built boxes use) and the static functions
    raise ``AssertionError`` naming the box's title and text. A test that expects a box patches
    ``mediaapp.ui.messages.ask``/``warn`` or ``QMessageBox.exec`` itself: its own ``monkeypatch.setattr`` runs
    after this fixture, so it wins. Nothing is done when PySide6 is not installed.
    """
    if _HAVE_QT:
        from PySide6.QtWidgets import QMessageBox

        def exec_(box, *args, **kwargs):
            raise _unexpected_message_box(box.windowTitle(), box.text())

        def static(parent=None, title="", text="", *args, **kwargs):
            raise _unexpected_message_box(str(title), str(text))

        monkeypatch.setattr(QMessageBox, "exec", exec_)
        for name in _STATIC_BOXES:
            monkeypatch.setattr(QMessageBox, name, staticmethod(static))


@pytest.fixture(scope="session")
def testdata() -> Path:
    """The shared real test material (``../shared/testdata``); skips when absent."""
    if not (TESTDATA / "MANIFEST.md").exists():
        pytest.skip(f"shared test data not found at {TESTDATA}")
    return TESTDATA


@pytest.fixture
def sample_folder(testdata, tmp_path) -> Path:
    """A folder of real test images (plus an empty .jpg and a text file) copied into ``tmp_path``."""
    root = tmp_path / "photos"
    for src, dest in SAMPLE_FILES:
        target = root / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(testdata / src, target)
    (root / "broken" / "empty.jpg").write_bytes(b"")
    (root / "notes.txt").write_text("not a photo")
    return root


@pytest.fixture(scope="session")
def osmem_base():
    """A private osmem-server (the in-memory OpenSearch-compatible server from PyPI) on 127.0.0.1 (free port),
    shared by the session's search, moderation and similar-photos tests; stopped afterwards."""
    from osmem_server import OsmemServer

    server = OsmemServer.start(freeze=False, japanese=False)
    yield server
    server.close()


@pytest.fixture
def fake_aws(monkeypatch, tmp_path):
    """Fake credentials and no shared AWS config, profile or instance-metadata lookups; the client factory
    and the engine caches are reset before and after the test, so nothing ever reaches real AWS.
    (Every test under ``tests/cloud`` uses it; others ask for it or for ``rekognition_stubber``.)"""
    from mediaapp.analysis import registry
    from mediaapp.cloud import clients

    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
                       "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
                       "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    clients.set_client_factory(None)
    registry.clear_engines()
    yield
    clients.set_client_factory(None)
    registry.clear_engines()  # also closes each engine's usage ledger


@pytest.fixture
def rekognition_stubber(fake_aws):
    """Under ``fake_aws``, a real boto3 Rekognition client in botocore's ``Stubber``, installed as every
    engine's client (``tests/cloud/stubs.StubbedRekognition``); yields the active ``Stubber``."""
    from cloud.stubs import StubbedRekognition

    return StubbedRekognition().stubber


def pytest_report_header(config):
    """Say up front whether the search suite also runs against a real OpenSearch cluster (``OPENSEARCH_URL``)."""
    url = os.environ.get("OPENSEARCH_URL", "")
    if url:
        return f"search: real OpenSearch runs against {url}"
    return "search: OPENSEARCH_URL is not set: the conformance suite against a real OpenSearch cluster is skipped"
