"""File names that are not valid UTF-8 in the GUI: shown readably, passed on exactly, decoded from memory."""

from __future__ import annotations

import os
import shutil
import sys

import pytest
from PySide6.QtCore import Qt

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names")

FOLDER = os.fsdecode(b"/photos/\xe9t\xe9")


def test_the_folder_list_shows_a_latin1_folder_readably_and_emits_it_exactly(qtbot):
    from mediaapp.ui.sidebar import Sidebar

    sidebar = Sidebar()
    qtbot.addWidget(sidebar)
    sidebar.set_folders([("/photos/plain", 2), (FOLDER, 3)])
    index = sidebar.folder_model.index(2)
    assert "\\xe9t\\xe9" in index.data(Qt.ItemDataRole.DisplayRole)
    assert index.data(Qt.ItemDataRole.ToolTipRole) == "/photos/\\xe9t\\xe9"
    with qtbot.waitSignal(sidebar.folderChanged) as signal:
        sidebar.folders.setCurrentIndex(index)
    assert signal.args == [FOLDER]        # the real name, lone surrogates and all


def test_images_are_read_by_python_so_odd_names_load_and_fifos_never_block(qtbot, testdata, tmp_path):
    from mediaapp.ui.pixmaps import load_image

    latin1 = os.path.join(os.fsencode(tmp_path), b"caf\xe9.jpg")
    shutil.copy(testdata / "1_objects/voc/VOC2007/JPEGImages/000004.jpg", latin1)
    fifo = tmp_path / "swapped.jpg"
    os.mkfifo(fifo)
    image = load_image([str(fifo), os.fsdecode(latin1)], max_side=100)  # the FIFO is skipped at once
    assert image is not None and max(image.width(), image.height()) == 100
