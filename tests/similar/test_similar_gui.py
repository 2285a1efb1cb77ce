"""The window's "More like this" and the Duplicates view, on the suite's imported photos and near-copies."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from mediaapp.ui.main_window import MainWindow

COPIES = {"dog_small.jpg", "dog_q40.jpg", "dog_crop.jpg", "dog_bright.jpg"}


@pytest.fixture(autouse=True)
def qsettings_dir(tmp_path):
    """The GUI's QSettings in a temp dir (never the user's)."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))


@pytest.fixture
def window(qtbot, library):
    w = MainWindow(None)
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    with qtbot.waitSignal(w.model.pageLoaded, timeout=30000):
        w.open_library(library.root)
    return w


def _names(window) -> list[str]:
    return [Path(window.model.row(i).path).name for i in range(window.model.rowCount())]


def test_more_like_this_from_the_grid_menu_ranks_the_copies_first_until_left(qtbot, window):
    names = _names(window)
    assert len(names) == 8
    dog = window.model.index(names.index("dog.jpg"))
    assert window.grid_menu.prepare(window.grid.visualRect(dog).center())
    with qtbot.waitSignal(window.model.pageLoaded, timeout=30000):
        window.grid_menu.like_action.trigger()
    ranked = _names(window)
    assert set(ranked[:4]) == COPIES and "dog.jpg" not in ranked
    assert window.clear_like_action.isEnabled()
    with qtbot.waitSignal(window.model.pageLoaded, timeout=30000):
        window.clear_like_action.trigger()
    assert sorted(_names(window)) == sorted(names)


def test_the_detail_views_button_asks_for_more_like_this(qtbot, window):
    window.open_detail(window.model.index(0))
    path = window.model.row(0).path
    with qtbot.waitSignal(window.detail.likeRequested, timeout=5000) as got:
        window.detail.like_button.click()
    assert got.args == [path]


def test_the_duplicates_view_hides_and_moves_only_after_confirmation(qtbot, window, library, tmp_path, monkeypatch):
    window.show_duplicates()
    dialog = window.duplicates_dialog
    qtbot.waitUntil(lambda: bool(dialog.groups), timeout=30000)
    assert len(dialog.groups) == 1 and dialog.keeper() is dialog.groups[0].members[0]
    others = {m.sha256 for m in dialog.others()}
    assert len(others) == 4
    try:
        dialog.hide_button.click()
        qtbot.waitUntil(lambda: library.similar.hidden() == others and dialog.unhide_button.isEnabled(),
                        timeout=30000)
    finally:
        dialog.unhide_button.click()
        qtbot.waitUntil(lambda: not library.similar.hidden(), timeout=30000)

    target = tmp_path / "set <b>aside</b> & more"   # a folder name with markup characters
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(target))
    asked: list[tuple[Qt.TextFormat, str]] = []

    def decline(box: QMessageBox) -> QMessageBox.StandardButton:
        asked.append((box.textFormat(), box.text()))
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "exec", decline)
    dialog.move_others()
    qtbot.wait(200)
    assert not target.exists()   # declined: nothing moved
    [(text_format, text)] = asked
    assert text_format == Qt.TextFormat.PlainText and f"Move 4 files to {target}?" in text   # named as typed



def test_opening_another_library_leaves_more_like_this_and_closes_the_duplicates_view(qtbot, window, testdata,
                                                                                     tmp_path):
    """Both name photos of the library just closed: the new library shows all its photos, nothing to edit."""
    from support import REPLAY_PHOTOS, replay_library

    names = _names(window)
    dog = window.model.index(names.index("dog.jpg"))
    assert window.grid_menu.prepare(window.grid.visualRect(dog).center())
    with qtbot.waitSignal(window.model.pageLoaded, timeout=30000):
        window.grid_menu.like_action.trigger()
    window.show_duplicates()
    assert window.duplicates_dialog is not None
    other = replay_library(testdata, tmp_path)
    with qtbot.waitSignal(window.libraryOpened, timeout=30000):
        window.open_library(other)
    assert window.duplicates_dialog is None and not window.clear_like_action.isEnabled()
    assert window.current_query().like is None
    qtbot.waitUntil(lambda: window.model.rowCount() == len(REPLAY_PHOTOS), timeout=30000)


def test_a_duplicate_card_shows_a_file_name_with_markup_characters_as_written(qtbot, tmp_path):
    """The card's facts are rich text: a name such as ``a<b>&c.jpg`` must show as itself, not as markup."""
    from PySide6.QtGui import QTextDocument
    from PySide6.QtWidgets import QLabel

    from mediaapp.services.similar import DuplicateMember
    from mediaapp.ui.background import BackgroundRunner
    from mediaapp.ui.duplicates import DuplicatesDialog
    from mediaapp.ui.operations import Operations

    class NoGroups:
        def duplicates(self, **_kwargs):
            raise RuntimeError("no catalog here")

    runner = BackgroundRunner()
    try:
        dialog = DuplicatesDialog(NoGroups(), Operations(runner))
        qtbot.addWidget(dialog)
        qtbot.waitUntil(lambda: "Cannot look" in dialog.status.text(), timeout=10000)
        member = DuplicateMember(sha256="0" * 64, path=str(tmp_path / "a<b>&c.jpg"), size=10, width=4, height=3,
                                 taken_at=None, sharpness=None)
        card = dialog._card(0, member)
        facts = next(label for label in card.findChildren(QLabel) if "Sharpness" in label.text())
        doc = QTextDocument()
        doc.setHtml(facts.text())
        assert doc.toPlainText().startswith("a<b>&c.jpg")
    finally:
        runner.shutdown()
