"""The main window's actions, shortcuts and menus (File, Edit, View, Help), made in one place.

Help ▸ Keyboard shortcuts lists every shortcut from the window's actions as they are
(``mediaapp.ui.shortcuts``), so the list cannot go stale. Help ▸ About's rich text
is built by ``about_html``, which escapes everything it interpolates.
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMessageBox, QStyle

__all__ = ["about_html", "make_actions", "show_about"]

#: The About box's title.
ABOUT_TITLE = "About Media Library"


def about_html(library_dir: str | os.PathLike[str] | None) -> str:
    """The About box's rich text for the library folder ``library_dir`` (None: no library open).

    Every interpolated value goes through ``html.escape``, so a folder named
    ``<b>x&y</b>`` shows as those characters, not as bold text.
    """
    library = html.escape(os.fspath(library_dir)) if library_dir else "none"
    return ("<b>Media Library</b><br>Import folders of photos, find them by the objects, text "
            f"and people in them.<br>Library: {library}"
            "<br><br><small>Unsafe-content check: Open-NSFW model weights, Copyright 2016, Yahoo "
            "Inc., BSD 2-Clause license (resources/licenses/open-nsfw.txt).</small>")


def show_about(window: Any) -> None:
    """Help ▸ About: a modal ``QMessageBox.about`` over ``window`` (a ``MainWindow``) showing ``about_html``
    for its ``library_dir``."""
    QMessageBox.about(window, ABOUT_TITLE, about_html(window.library_dir))


def _action(window: QMainWindow, text: str, slot: Callable[..., object], shortcut: Any = None,
            icon: QStyle.StandardPixmap | None = None, tip: str = "") -> QAction:
    """A window-wide action with an optional shortcut, standard icon and status tip, added to ``window``."""
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    if icon is not None:
        action.setIcon(window.style().standardIcon(icon))
    if tip:
        action.setStatusTip(tip)
    action.triggered.connect(slot)
    window.addAction(action)
    return action


def make_actions(window: Any) -> None:
    """Create ``window``'s (a ``MainWindow``) actions with their shortcuts, and its File, Edit, View and Help
    menus.

    Each action becomes an attribute of the window (``import_action``,
    ``find_action``...); the slots stay the window's methods. The Edit menu
    (``window.edit_menu``) starts empty: the People panel adds Undo and Redo.
    """
    sp = QStyle.StandardPixmap
    w = window
    w.import_action = _action(w, "&Import folder…", w.choose_import_folder, "Ctrl+I", sp.SP_DirOpenIcon,
                              "Import a folder (with its subfolders)")
    w.reanalyse_action = _action(w, "&Re-analyse with current models", w.reanalyse, None, sp.SP_BrowserReload,
                                 "Analyse every imported folder again with the current engines")
    w.watch_action = _action(w, "&Watch folders for changes", w.set_watching, None, None,
                             "Import new, changed, moved and deleted files of the library's folders as they happen")
    w.watch_action.setCheckable(True)
    w.open_action = _action(w, "&Open library…", w.choose_library, "Ctrl+O", sp.SP_DirIcon,
                            "Open another library folder")
    w.settings_action = _action(w, "&Settings…", w.edit_settings, "Ctrl+,", None,
                                "Analysis engines, face features, search backend")
    w.cloud_action = _action(w, "&Cloud (S3 + Rekognition)…", w.edit_cloud_settings, None, None,
                             "Amazon S3 upload and Rekognition: engines per folder, budgets, "
                             "connection test, cost estimate")
    w.sidecars_action = _action(w, "Write &XMP sidecars…", w.write_sidecars, None, None,
                                "Write the labels and named people into XMP sidecars next to the files "
                                "(for Lightroom, digiKam, exiftool)")
    w.quit_action = _action(w, "&Quit", w.close, QKeySequence.StandardKey.Quit)
    w.find_action = _action(w, "&Find", w.focus_search, "Ctrl+F", None, "Focus the search bar")
    w.boxes_action = _action(w, "Show &boxes", w.set_show_boxes, "Ctrl+B", None,
                             "Draw the boxes of the matching labels over the thumbnails")
    w.boxes_action.setCheckable(True)
    w.boxes_action.setChecked(True)
    w.bigger_action = _action(w, "&Larger thumbnails", lambda: w.zoom(+1), "Ctrl++")
    w.smaller_action = _action(w, "&Smaller thumbnails", lambda: w.zoom(-1), "Ctrl+-")
    w.refresh_action = _action(w, "&Refresh", w.refresh, "F5", sp.SP_BrowserReload)
    w.full_screen_action = _action(w, "F&ull screen", w.show_full_screen, "F11", None,
                                   "The current image on the whole screen: arrows step, Esc leaves")
    w.duplicates_action = _action(w, "Find near-&duplicates…", w.show_duplicates, None, None,
                                  "Groups of near-duplicate photos (bursts, resized or edited copies): keep one, "
                                  "hide or move the others")
    w.clear_like_action = _action(w, "&All photos (leave \"More like this\")", w.clear_like, None, None,
                                  "Show the search results again instead of the photos like one photo")
    w.clear_like_action.setEnabled(False)
    w.about_action = _action(w, "&About", lambda: show_about(w))
    w.shortcuts_action = _action(w, "&Keyboard shortcuts", w.show_shortcuts, QKeySequence.StandardKey.HelpContents,
                                 None, "Every keyboard shortcut of this window")

    menu = w.menuBar().addMenu("&File")
    for a in (w.import_action, w.reanalyse_action, w.watch_action, w.sidecars_action, None, w.open_action,
              w.settings_action,
              w.cloud_action, None, w.quit_action):
        menu.addSeparator() if a is None else menu.addAction(a)
    w.edit_menu = w.menuBar().addMenu("&Edit")
    menu = w.menuBar().addMenu("&View")
    for a in (w.find_action, w.boxes_action, w.bigger_action, w.smaller_action, w.full_screen_action,
              w.refresh_action, w.duplicates_action, w.clear_like_action):
        menu.addAction(a)
    errors_toggle = w.errors_dock.toggleViewAction()
    errors_toggle.setText("&Errors panel")
    errors_toggle.setShortcut(QKeySequence("Ctrl+E"))
    menu.addAction(errors_toggle)
    menu = w.menuBar().addMenu("&Help")
    menu.addAction(w.shortcuts_action)
    menu.addAction(w.about_action)
