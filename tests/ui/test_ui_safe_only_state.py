"""The sidebar's "Safe only" is remembered across sessions, like the other filters (``ui/state.py``)."""

from __future__ import annotations

from mediaapp.ui.main_window import MainWindow
from mediaapp.ui.state import KEY_SAFE_ONLY, read_bool, ui_settings


def _window(qtbot) -> MainWindow:
    window = MainWindow(None)   # no library: only the remembered window state
    qtbot.addWidget(window)
    return window


def test_safe_only_is_remembered_across_sessions(qtbot):
    first = _window(qtbot)
    assert not first.sidebar.safe_only.isChecked()            # off by default
    first.sidebar.safe_only.setChecked(True)
    first.shutdown()
    assert read_bool(ui_settings(), KEY_SAFE_ONLY, False)

    second = _window(qtbot)
    assert second.sidebar.safe_only.isChecked() and second._safe_only   # shown and used by the next query
    second.sidebar.safe_only.setChecked(False)
    second.shutdown()
    third = _window(qtbot)
    assert not third.sidebar.safe_only.isChecked() and not third._safe_only
    third.shutdown()
