"""Modal message boxes that show their text as plain text.

``QMessageBox``'s static functions (``question``, ``warning``, ``information``,
``critical``) leave the box's text format at ``Qt::AutoText``, so Qt guesses
whether the text is rich text: a folder, file or person named ``<b>x&y</b>``
would then render in bold, with the tags gone. The boxes built here set
``Qt::PlainText`` instead: the text shows exactly as given, ``\\n`` starts a new
line, and nothing is a link or markup.

Call the functions through the module (``from mediaapp.ui import messages``,
then ``messages.ask(...)``), so that a test replaces ``messages.ask`` or
``messages.warn`` in one place for every dialog.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

__all__ = ["ask", "plain_message", "warn"]

_YES_NO = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No


def plain_message(parent: QWidget | None, icon: QMessageBox.Icon, title: str, text: str,
                  buttons: QMessageBox.StandardButton = QMessageBox.StandardButton.Ok,
                  default: QMessageBox.StandardButton = QMessageBox.StandardButton.NoButton) -> QMessageBox:
    """Build a modal message box whose ``text`` is shown as plain text, without showing it.

    ``parent``: the window the box is centred on and modal to (None: application modal, no parent);
    ``icon``: the box's ``QMessageBox.Icon``; ``title``: the window title; ``text``: the message, shown
    literally (``Qt.TextFormat.PlainText``: a folder named ``<b>x</b>`` stays as typed, newlines are line
    breaks); ``buttons``: the ``StandardButton`` flags offered; ``default``: the button Enter presses
    (``NoButton``: Qt's choice). Returns the box; its ``exec()`` answers the ``StandardButton`` pressed.
    Raises nothing of its own.
    """
    box = QMessageBox(icon, title, text, buttons, parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    if default != QMessageBox.StandardButton.NoButton:
        box.setDefaultButton(default)
    return box


def _run(box: QMessageBox) -> QMessageBox.StandardButton:
    """``exec()`` ``box`` (modal), then schedule its deletion; returns the ``StandardButton`` pressed."""
    try:
        return QMessageBox.StandardButton(box.exec())
    finally:
        box.deleteLater()  # parented to the window: without this every question would leave a box behind


def ask(parent: QWidget | None, title: str, text: str, buttons: QMessageBox.StandardButton = _YES_NO,
        default: QMessageBox.StandardButton = QMessageBox.StandardButton.No) -> QMessageBox.StandardButton:
    """Ask a question in a modal box over ``parent`` and wait for the answer (``plain_message`` with the
    ``Question`` icon).

    ``title``: the window title; ``text``: the question, shown as plain text; ``buttons``: the
    ``StandardButton`` flags offered (Yes and No unless given); ``default``: the button Enter presses (No
    unless given). Returns the ``StandardButton`` pressed (Escape or closing the window presses the box's
    escape button, e.g. Cancel or No). Raises nothing of its own.
    """
    return _run(plain_message(parent, QMessageBox.Icon.Question, title, text, buttons, default))


def warn(parent: QWidget | None, title: str, text: str) -> None:
    """Show a warning in a modal box over ``parent`` with an OK button, and wait until it is closed
    (``plain_message`` with the ``Warning`` icon).

    ``title``: the window title; ``text``: what went wrong, shown as plain text (an exception's message
    naming a path stays literal). Returns None; raises nothing of its own.
    """
    _run(plain_message(parent, QMessageBox.Icon.Warning, title, text))
