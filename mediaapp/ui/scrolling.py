"""Dialogs taller than a laptop screen: their form scrolls, their buttons stay in view.

``scroll_form(content)`` wraps a dialog's form in a vertical ``QScrollArea``
(the form keeps its full width, wrapped labels get the height their text
needs), so the dialog's minimum height no longer adds up every field.
``initial_size(dialog, wanted)`` opens it at the size its form asks for,
bounded by the screen's free area.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFrame, QScrollArea, QSizePolicy, QWidget

__all__ = ["SCREEN_SHARE", "initial_size", "scroll_form"]

#: The share of the screen's free area (width and height) a dialog opens at, at most.
SCREEN_SHARE = 0.9


def scroll_form(content: QWidget) -> QScrollArea:
    """A frameless scroll area showing ``content`` at the area's width, scrolling vertically when needed.

    The area's minimum width is the form's minimum width plus a scroll bar,
    so nothing needs scrolling sideways; its minimum height is small (a few
    rows), so the dialog fits a short screen.
    """
    area = QScrollArea()
    area.setObjectName("formScroll")
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    area.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    area.setWidget(content)
    area.setMinimumWidth(content.minimumSizeHint().width() + area.verticalScrollBar().sizeHint().width())
    return area


def initial_size(dialog: QWidget, wanted: QSize) -> None:
    """Resize ``dialog`` to ``wanted`` (pixels), bounded by ``SCREEN_SHARE`` of its screen's free area.

    Never below the dialog's minimum size; unchanged in each dimension when
    no screen is known.
    """
    screen = dialog.screen() or QGuiApplication.primaryScreen()
    width, height = wanted.width(), wanted.height()
    if screen is not None:
        free = screen.availableGeometry()
        width = min(width, int(free.width() * SCREEN_SHARE))
        height = min(height, int(free.height() * SCREEN_SHARE))
    minimum = dialog.minimumSizeHint()
    dialog.resize(max(width, minimum.width()), max(height, minimum.height()))
