"""Fixtures of the People tests: the real photos of testdata/3_faces, imported once per session.

The session library analyses only RecognizeCelebrities (faces are all these
tests need; the object and text models would only slow them down) with one
worker process. Two photos are held back (``LATER``) so tests can import them
afterwards. Each test gets its own copy of the library folder, so edits never
leak from one test into another.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from people_support import FACES, LATER, SETTINGS, FacesLibrary


@pytest.fixture(scope="session")
def faces_template(testdata, tmp_path_factory) -> tuple[Path, Path, Path]:
    """(library folder, photos folder, held-back photos folder), imported once and closed."""
    from mediaapp.library import Library
    from mediaapp.settings import save_settings

    base = tmp_path_factory.mktemp("people-session")
    photos, later = base / "photos", base / "later"
    photos.mkdir()
    later.mkdir()
    for src in sorted((testdata / FACES).iterdir()):
        shutil.copy2(src, (later if src.name in LATER else photos) / src.name)
    root = base / "library"
    root.mkdir()
    save_settings(root, SETTINGS)
    library = Library(root)
    report = library.import_paths([photos])
    library.close()
    assert report.failed == [] and report.analysed == 19, report
    return root, photos, later


@pytest.fixture
def faces_library(faces_template, tmp_path) -> FacesLibrary:
    """A private, open copy of the session's 3_faces library."""
    from mediaapp.library import Library

    root, photos, later = faces_template
    copy = tmp_path / "library"
    shutil.copytree(root, copy)
    library = Library(copy)
    yield FacesLibrary(library, copy, photos, later)
    library.close()
