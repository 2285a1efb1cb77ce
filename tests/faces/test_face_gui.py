"""The window's Faces facet and the detail view's face details, on a library of real face photos."""

from __future__ import annotations

import shutil

import pytest
from PySide6.QtCore import QSettings, Qt

from mediaapp.library import Library
from mediaapp.ui.main_window import MainWindow

FACES = "3_faces/face_recognition"


@pytest.fixture(autouse=True)
def qsettings_dir(tmp_path, monkeypatch):
    """The GUI's QSettings in a temp dir, as in tests/ui."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    monkeypatch.delenv("MEDIAAPP_LIBRARY", raising=False)


@pytest.fixture(scope="module")
def face_root(testdata, tmp_path_factory):
    """A library of biden.jpg and obama_and_biden.jpg (Biden laughing, eyes shut), faces and celebrities."""
    root = tmp_path_factory.mktemp("gui-faces")
    photos = root / "photos"
    photos.mkdir()
    for name in ("biden.jpg", "obama_and_biden.jpg"):
        shutil.copy(testdata / FACES / name, photos)
    lib = Library(root / "lib", settings={"workers": 1, "apis": ["RecognizeCelebrities", "DetectFaces"]})
    try:
        assert lib.import_paths([photos]).failed == []
    finally:
        lib.close()
    return root / "lib"


def test_faces_facet_filters_and_detail_lists_each_face(qtbot, face_root):
    window = MainWindow(face_root)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    qtbot.waitUntil(lambda: window.model.rowCount() == 2 and bool(window.sidebar.faces.counts()), timeout=30000)
    counts = window.sidebar.faces.counts()
    assert counts["eyes-closed"] == 1 and counts["eyes-open"] == 2
    with qtbot.waitSignal(window.model.pageLoaded, timeout=30000):
        window.sidebar.faces.set_checked(["eyes-closed"])
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=30000)
    assert window.current_query().face_attributes == ("eyes-closed",)
    assert window.model.index(0).data(Qt.ItemDataRole.DisplayRole) == "obama_and_biden.jpg"

    with qtbot.waitSignal(window.detail.loaded, timeout=30000):
        window.open_detail(window.model.index(0))
    tree = window.detail.detections_tree
    tops = [tree.topLevelItem(i) for i in range(tree.topLevelItemCount())]
    details = next(item for item in tops if item.text(0) == "Face details")
    rows = [details.child(i).text(2) for i in range(details.childCount())]
    assert details.childCount() == 3                     # Biden, Obama and the child
    assert sum("eyes-closed" in r for r in rows) == 1 and sum("eyes-open" in r for r in rows) == 2
    assert not any(item.text(0) in ("eyes-closed", "eyes-open") for item in tops)  # not listed as labels
