"""The Settings dialog never shows the password of an OpenSearch URL and warns before it goes out unencrypted.

"Server down" is a closed port on 127.0.0.1; a remote host that does not
exist (the reserved ``.invalid`` domain) fails at once without a network.
"""

from __future__ import annotations

import logging

import pytest
from support import free_port

from mediaapp.settings import DEFAULTS
from mediaapp.ui.settings_dialog import SettingsDialog

SECRET = "s3cret-Pa55"


def dialog_for(qtbot, url: str, **extra) -> SettingsDialog:
    dialog = SettingsDialog({**DEFAULTS, "index": {"backend": "opensearch", "url": url, **extra}})
    qtbot.addWidget(dialog)
    return dialog


def run_test(qtbot, dialog: SettingsDialog) -> tuple[str, str]:
    """The status while the test runs and once it ended."""
    task = dialog.test_connection()
    during = dialog.index_status.text()
    qtbot.waitUntil(lambda: task.done, timeout=30000)
    return during, dialog.index_status.text()


def test_a_failed_connection_test_hides_the_password(qtbot):
    port = free_port()
    dialog = dialog_for(qtbot, f"http://ann:{SECRET}@127.0.0.1:{port}")
    during, after = run_test(qtbot, dialog)
    assert SECRET not in during + after
    assert f"http://ann:***@127.0.0.1:{port}" in during
    assert after.startswith("✘ ") and "connection refused" in after and f"ann:***@127.0.0.1:{port}" in after
    assert "⚠" not in during + after  # loopback: the password does not leave the machine


def test_a_failed_reindex_hides_the_password(qtbot, tmp_path):
    from mediaapp.library import Library

    library = Library(tmp_path / "lib", settings={"workers": 1})
    try:
        dialog = SettingsDialog({**DEFAULTS, "index": {"backend": "opensearch",
                                                       "url": f"http://ann:{SECRET}@127.0.0.1:{free_port()}"}},
                                library=library)
        qtbot.addWidget(dialog)
        task = dialog.start_reindex()
        assert SECRET not in dialog.index_status.text() and "ann:***@" in dialog.index_status.text()
        qtbot.waitUntil(lambda: task.done, timeout=30000)
        text = dialog.index_status.text()
        assert text.startswith("✘ Reindex failed") and SECRET not in text and "ann:***@127.0.0.1" in text
    finally:
        library.close()


@pytest.mark.parametrize(("url", "username", "warned"), [
    ("http://search.example.invalid:9200", "ann", True),
    (f"http://ann:{SECRET}@search.example.invalid:9200", "", True),
    ("https://search.example.invalid:9200", "ann", False),
    ("http://search.example.invalid:9200", "", False),
])
def test_the_connection_test_warns_before_sending_credentials_over_http(qtbot, url, username, warned):
    dialog = dialog_for(qtbot, url, **({"username": username} if username else {}))
    during, after = run_test(qtbot, dialog)
    for text in (during, after):
        assert ("⚠" in text) == warned, text
        assert SECRET not in text
    if warned:
        line = next(line for line in after.splitlines() if "⚠" in line)
        assert "unencrypted" in line and "search.example.invalid" in line and "https://" in line


def test_gui_log_lines_and_tracebacks_hide_the_password(caplog):
    """What the GUI logs (a failed background task logs its traceback) goes through the redaction."""
    from mediaapp.core.redact import RedactingFilter
    from mediaapp.ui import app

    url = f"http://ann:{SECRET}@search.example.invalid:9200"
    handlers = [*logging.getLogger().handlers, logging.lastResort]
    try:
        app.configure_logging(debug=False)
        log = logging.getLogger("mediaapp.ui.background")
        log.warning("cannot reach %s", url)
        try:
            raise ConnectionError(f"OpenSearch at {url}: connection refused")
        except ConnectionError:
            log.exception("background task %s failed", "reindex")
    finally:
        for handler in handlers:
            for f in [f for f in handler.filters if isinstance(f, RedactingFilter)]:
                handler.removeFilter(f)
    assert SECRET not in caplog.text
    assert "cannot reach http://ann:***@search.example.invalid:9200" in caplog.text
    assert "ConnectionError: OpenSearch at http://ann:***@search.example.invalid:9200" in caplog.text
