"""The Duplicates view driven from the keyboard, on two real groups of near-copies imported with the local engine.

Arrow keys move the focus between the photos of a group (Left/Right, Home/End)
and between groups (Up/Down); Space and Enter make the focused photo the keeper;
the focused card is drawn with the palette's highlight colour. Keys are sent to
the widget that has focus, as a user's would be.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from support import labels_library

from mediaapp.ui.background import BackgroundRunner
from mediaapp.ui.duplicates import FOCUS_FRAME, DuplicatesDialog
from mediaapp.ui.operations import Operations

#: Two unrelated photos of the shared data, each given two near-copies (two groups of three), and one alone.
ORIGINALS = {"dog": "6_imagenet/n02110806_basenji.JPEG", "castle": "6_imagenet/n02980441_castle.JPEG"}
ALONE = "6_imagenet/n01491361_tiger_shark.JPEG"


@pytest.fixture(scope="module")
def library(testdata, tmp_path_factory):
    """``dog*.jpg`` and ``castle*.jpg`` (original, half size, JPEG quality 40) and a shark, imported."""
    photos = tmp_path_factory.mktemp("dup-keys") / "photos"
    photos.mkdir()
    for stem, rel in ORIGINALS.items():
        shutil.copyfile(testdata / rel, photos / f"{stem}.jpg")
        img = Image.open(testdata / rel).convert("RGB")
        img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS).save(photos / f"{stem}_small.jpg",
                                                                                      quality=90)
        img.save(photos / f"{stem}_q40.jpg", quality=40)
    shutil.copyfile(testdata / ALONE, photos / "shark.jpg")
    lib = labels_library(photos, tmp_path_factory, 7)
    yield lib
    lib.close()


@pytest.fixture
def dialog(qtbot, library):
    """The Duplicates view of ``library``, shown, active and loaded (two groups)."""
    runner = BackgroundRunner()
    view = DuplicatesDialog(library, Operations(runner))
    qtbot.addWidget(view)
    view.show()
    view.activateWindow()
    qtbot.waitUntil(lambda: bool(view.groups) and view.card_widgets() != [], timeout=30000)
    qtbot.waitUntil(view.isActiveWindow, timeout=5000)
    stems = sorted({Path(g.members[0].path).stem.split("_")[0] for g in view.groups})
    assert stems == ["castle", "dog"] and [len(g.members) for g in view.groups] == [3, 3]
    yield view
    view.close()
    runner.shutdown()


def _press(qtbot, view: DuplicatesDialog, key: Qt.Key) -> None:
    """Press ``key`` on whatever has keyboard focus in ``view`` (it must be one of the photos)."""
    target = view.focusWidget()
    assert target in view.card_widgets(), f"focus is on {target!r}, not on a photo"
    qtbot.keyClick(target, key)


def test_arrow_keys_move_between_the_photos_of_a_group_and_between_groups(qtbot, dialog):
    cards = dialog.card_widgets()
    assert dialog.focusWidget() is cards[0] and cards[0].hasFocus() and dialog.current == 0   # starts on the photos
    keeper = dialog.keeper()
    _press(qtbot, dialog, Qt.Key.Key_Right)
    assert dialog.focusWidget() is cards[1] and dialog.current == 1
    _press(qtbot, dialog, Qt.Key.Key_Right)
    _press(qtbot, dialog, Qt.Key.Key_Right)                      # at the last photo: stays, no wrapping
    assert dialog.focusWidget() is cards[2] and dialog.current == 2
    _press(qtbot, dialog, Qt.Key.Key_Left)
    assert dialog.focusWidget() is cards[1]
    _press(qtbot, dialog, Qt.Key.Key_Home)
    assert dialog.focusWidget() is cards[0]
    _press(qtbot, dialog, Qt.Key.Key_End)
    assert dialog.focusWidget() is cards[2]
    assert dialog.keeper() is keeper                              # moving the focus picks nothing
    first = dialog.groups[0]

    _press(qtbot, dialog, Qt.Key.Key_Down)                        # the next group, its keeper focused
    assert dialog.index == 1 and "Group 2 of 2" in dialog.status.text()
    assert dialog.card_widgets()[0].isVisible() and dialog.focusWidget() is dialog.card_widgets()[0]
    assert {m.sha256 for m in dialog.groups[1].members} == {c.member_sha256 for c in dialog.card_widgets()}
    _press(qtbot, dialog, Qt.Key.Key_Down)                        # no group after the last
    assert dialog.index == 1
    _press(qtbot, dialog, Qt.Key.Key_Up)
    assert dialog.index == 0 and dialog.groups[0] is first and dialog.focusWidget() is dialog.card_widgets()[0]


def test_space_and_enter_make_the_focused_photo_the_keeper(qtbot, dialog, library):
    members = dialog.groups[0].members
    assert dialog.keeper() is members[0]                          # the suggestion
    _press(qtbot, dialog, Qt.Key.Key_Right)
    _press(qtbot, dialog, Qt.Key.Key_Space)
    assert dialog.keeper() is members[1] and members[1] not in dialog.others()
    assert dialog.keeper_buttons.button(1).isChecked()
    _press(qtbot, dialog, Qt.Key.Key_Right)
    _press(qtbot, dialog, Qt.Key.Key_Return)
    assert dialog.keeper() is members[2]
    assert dialog.isVisible() and not library.similar.hidden()    # Enter went to the photo, not to a button
    _press(qtbot, dialog, Qt.Key.Key_Left)
    _press(qtbot, dialog, Qt.Key.Key_Enter)                       # the keypad's Enter too
    assert dialog.keeper() is members[1]

    _press(qtbot, dialog, Qt.Key.Key_Down)                        # the other group keeps its own suggestion
    assert dialog.keeper() is dialog.groups[1].members[0]
    _press(qtbot, dialog, Qt.Key.Key_Up)                          # and coming back keeps the choice made
    assert dialog.keeper() is members[1]


def test_the_focused_photo_is_framed_in_the_highlight_colour(qtbot, dialog):
    cards = dialog.card_widgets()
    highlight = dialog.palette().color(QPalette.ColorGroup.Active, QPalette.ColorRole.Highlight)
    inside = FOCUS_FRAME // 2

    def edge(card) -> tuple[int, int, int]:
        colour = card.grab().toImage().pixelColor(card.width() // 2, inside)
        return colour.red(), colour.green(), colour.blue()

    want = (highlight.red(), highlight.green(), highlight.blue())
    assert edge(cards[0]) == want and edge(cards[1]) != want
    _press(qtbot, dialog, Qt.Key.Key_Right)
    assert edge(cards[1]) == want and edge(cards[0]) != want
