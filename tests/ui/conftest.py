"""Fixtures of the GUI tests: QSettings in a temp dir, a small analysed library of real photos.

Analysis models are slow on small machines, so the analysed library is
built once per session (through ``Library.import_paths``, one worker
process) and shared by the tests that only read it. The end-to-end window
test imports its own folder through the UI.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QSettings
from ui_support import SESSION_FILES, AnalysedLibrary, copy_files, write_test_settings


@pytest.fixture(autouse=True)
def ui_settings_dir(tmp_path, monkeypatch):
    """Point the GUI's QSettings (INI, user scope) at a fresh temp dir for each test."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    monkeypatch.delenv("MEDIAAPP_LIBRARY", raising=False)
    yield tmp_path / "qsettings"


@pytest.fixture(scope="session")
def analysed(testdata, tmp_path_factory) -> AnalysedLibrary:
    """A library holding ``SESSION_FILES``, imported and analysed with the local engine."""
    from mediaapp.library import Library

    base = tmp_path_factory.mktemp("ui-session")
    photos = copy_files(testdata, SESSION_FILES, base / "photos")
    root = base / "library"
    write_test_settings(root)
    library = Library(root)
    report = library.import_paths([photos])
    yield AnalysedLibrary(library, root, photos, report)
    library.close()


@pytest.fixture
def runner(qapp):
    """A ``BackgroundRunner`` for grid-model tests, shut down after the test."""
    from mediaapp.ui.background import BackgroundRunner

    runner = BackgroundRunner()
    yield runner
    runner.shutdown()
