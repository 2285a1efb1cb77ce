"""What the desktop does with a file: reveal it in the file manager, open it, copy its path.

Shared by every view that shows files (the thumbnail grid's context menu, the
errors panel). Everything goes through Qt's ``QDesktopServices`` and
clipboard, so the desktop's own file manager and default applications answer.
Paths are the library's exact ones (a name that is not UTF-8 keeps its odd
bytes as lone surrogates); they are turned into ``display_path`` text only
at the edge, for Qt.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

from mediaapp.core.filenames import display_path

__all__ = ["copy_paths", "open_with_default_app", "reveal_in_folder"]


def reveal_in_folder(path: str) -> bool:
    """Open the folder holding ``path`` in the desktop's file manager; False when the desktop could not."""
    folder = os.path.dirname(path) or os.sep
    return QDesktopServices.openUrl(QUrl.fromLocalFile(display_path(folder)))


def open_with_default_app(path: str) -> bool:
    """Open ``path`` with the desktop's default application for its type; False when the desktop could not."""
    return QDesktopServices.openUrl(QUrl.fromLocalFile(display_path(path)))


def copy_paths(paths: Iterable[str]) -> str:
    """Copy the full paths, one per line, to the clipboard; returns the text copied ("" copies nothing)."""
    text = "\n".join(display_path(p) for p in dict.fromkeys(paths))
    if text:
        QGuiApplication.clipboard().setText(text)
    return text
