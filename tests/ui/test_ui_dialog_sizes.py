"""The Cloud and Settings dialogs fit a 1024 x 700 laptop screen, and their help text wraps instead of being cut."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QAbstractButton, QDialog, QLabel, QWidget

from mediaapp.settings import DEFAULTS
from mediaapp.ui.cloud_dialog import CloudSettingsDialog
from mediaapp.ui.settings_dialog import SettingsDialog

#: A small laptop screen, pixels, and what a window's title bar takes of it.
SCREEN_W, SCREEN_H = 1024, 700
TITLE_BAR = 32


@pytest.fixture
def library(tmp_path):
    from mediaapp.library import Library

    library = Library(tmp_path / "lib")
    yield library
    library.close()


def assert_usable_at_laptop_size(qtbot, dialog: QDialog) -> None:
    """On a 1024 x 700 screen the dialog fits with its title bar, shows its buttons whole, and cuts no wrapped text."""
    hint = dialog.minimumSizeHint()
    assert hint.height() <= SCREEN_H - TITLE_BAR and hint.width() <= SCREEN_W, hint
    qtbot.addWidget(dialog)
    dialog.resize(SCREEN_W, SCREEN_H - TITLE_BAR)
    dialog.show()
    qtbot.waitExposed(dialog)
    assert dialog.height() <= SCREEN_H - TITLE_BAR and dialog.width() <= SCREEN_W
    frame = dialog.rect()
    for button in dialog.findChildren(QAbstractButton):
        if button.isVisibleTo(dialog) and button.window() is dialog and button.text() in ("OK", "&OK", "Save", "&Save",
                                                                                          "Cancel", "&Cancel"):
            top_left = button.mapTo(dialog, button.rect().topLeft())
            assert frame.contains(top_left) and frame.contains(top_left + button.rect().bottomRight())
    long_labels = [label for label in dialog.findChildren(QLabel) if len(label.text()) > 60]
    assert long_labels
    for width in (SCREEN_W, hint.width()):  # wide, and as narrow as it goes: the text wraps, never cut
        dialog.resize(width, SCREEN_H - TITLE_BAR)
        qtbot.waitUntil(lambda w=width: dialog.width() == w, timeout=2000)
        for label in long_labels:
            assert label.wordWrap(), label.text()
            if label.isVisibleTo(dialog):
                qtbot.waitUntil(lambda lab=label: lab.height() >= lab.heightForWidth(lab.width()), timeout=2000)


def assert_reachable(qtbot, dialog: QDialog, widgets: list[QWidget]) -> None:
    """Each of ``widgets`` can be brought into view inside the dialog (its form scrolls when it must)."""
    for widget in widgets:
        dialog.scroll.ensureWidgetVisible(widget)
        qtbot.waitUntil(lambda w=widget: not w.visibleRegion().isEmpty(), timeout=2000)


def test_the_cloud_dialog_fits_a_laptop_screen(qtbot, library):
    dialog = CloudSettingsDialog(library)
    assert_usable_at_laptop_size(qtbot, dialog)
    assert_reachable(qtbot, dialog, [dialog.profile, dialog.rules_table, dialog.budget_month])


def test_the_settings_dialog_fits_a_laptop_screen_and_wraps_its_help(qtbot):
    dialog = SettingsDialog(dict(DEFAULTS))
    assert_usable_at_laptop_size(qtbot, dialog)
    assert_reachable(qtbot, dialog, [next(iter(dialog.engine_checks.values())), dialog.aws_service,
                                     dialog.test_button])
