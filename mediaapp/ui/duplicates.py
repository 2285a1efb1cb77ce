"""The Duplicates view: near-duplicate groups side by side, a keeper picked, the others hidden or moved.

Opened from View ▸ Find near-duplicates…. The groups come from
``Library.duplicates`` (``services/similar.py``: perceptual hash and image
embedding), found on a worker with progress and Cancel; the thumbnails are
decoded there too. One group is shown at a time, its photos side by side with
their size, date and sharpness; the suggested keeper (most pixels, then the
sharpest) is checked. "Hide the others" hides the group's other photos from
search results (``Library.hide_assets``; "Show all again" undoes it); "Move the
others…" moves their files into a folder the user chooses, after a
confirmation that names the count and the folder (``Library.move_files``). Nothing
is ever deleted. Every change goes through ``Operations.mutate`` and announces
``OpChanges(library=True)``, so the grid refreshes.

Keyboard (as in Qt's item views: the focused card is the *current item*, the
checked one the keeper): Left/Right (Home/End) move the focus between the
photos of the group, Up/Down (Page Up/Page Down) to the previous/next group,
and Space, Enter or Return make the focused photo the keeper, as a click on its
"Keep this one" does. The focused card is drawn with a frame in the palette's
highlight colour. A keeper chosen by hand is remembered while the dialog is
open, so going to another group and back keeps it. While the groups are being
looked for again, the keys only move the focus, as the disabled buttons say.
Messages that name files or folders are plain text (``ui/messages``).
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QFocusEvent, QImage, QKeyEvent, QPainter, QPaintEvent, QPalette, QPen, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from mediaapp.core.text import human_size
from mediaapp.ui import messages
from mediaapp.ui.asset_list import thumbnail_candidates
from mediaapp.ui.formatting import local_datetime
from mediaapp.ui.operations import OpChanges, Operations
from mediaapp.ui.state import ui_settings

__all__ = ["THUMB_SIDE", "DuplicateCard", "DuplicatesDialog", "load_groups"]

#: Longest side (pixels) of the thumbnails shown.
THUMB_SIDE = 220
#: QSettings key of the folder "Move the others…" chose last.
MOVE_FOLDER_KEY = "duplicates/move_folder"
#: Width (pixels) of the highlight frame drawn round the focused card.
FOCUS_FRAME = 3
#: Keys that make the focused photo the keeper (Qt's item views check an item with Space/Select, activate with Enter).
KEEP_KEYS = frozenset({Qt.Key.Key_Space, Qt.Key.Key_Select, Qt.Key.Key_Return, Qt.Key.Key_Enter})


def load_groups(library, ctx) -> tuple[list[Any], dict[str, QImage]]:
    """Worker: ``(Library.duplicates(), {sha256: QImage thumbnail})``; stops early when ``ctx`` is cancelled."""
    groups = library.duplicates(progress=lambda done, total: ctx.progress((done, total)),
                                should_stop=lambda: ctx.cancelled)
    shas = [m.sha256 for g in groups for m in g.members]
    assets = library.assets(shas)
    images: dict[str, QImage] = {}
    for group in groups:
        for m in group.members:
            if ctx.cancelled:
                return groups, images
            for path in thumbnail_candidates(library, assets.get(m.sha256), m.path):
                image = QImage(path)
                if not image.isNull():
                    images[m.sha256] = image.scaled(THUMB_SIDE, THUMB_SIDE, Qt.AspectRatioMode.KeepAspectRatio,
                                                    Qt.TransformationMode.SmoothTransformation)
                    break
    return groups, images


class DuplicateCard(QFrame):
    """One photo of the group shown (``member_sha256``, at ``row`` of the group's members): a frame taking focus.

    The card is the keyboard's unit (its "Keep this one" radio button takes no
    focus, a click anywhere on the card focuses it). ``on_focus(row)`` is called
    when it gains focus; ``on_key(row, event) -> bool`` sees each key press first
    and says whether it used it (otherwise ``QFrame`` handles it). While it has
    focus, a ``FOCUS_FRAME``-pixel frame in the palette's ``Highlight`` colour is
    drawn inside its edge.
    """

    def __init__(self, row: int, member_sha256: str, on_focus: Callable[[int], None],
                 on_key: Callable[[int, QKeyEvent], bool], parent: QWidget | None = None):
        super().__init__(parent)
        self.row = row
        self.member_sha256 = member_sha256
        self._on_focus = on_focus
        self._on_key = on_key
        self.setObjectName("duplicateCard")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def focusInEvent(self, event: QFocusEvent) -> None:
        """Gaining focus: tell the dialog (it becomes the current card) and draw the focus frame."""
        super().focusInEvent(event)
        self._on_focus(self.row)
        self.update()

    def focusOutEvent(self, event: QFocusEvent) -> None:
        """Losing focus: the focus frame goes."""
        super().focusOutEvent(event)
        self.update()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Navigation and keeper keys go to ``on_key``; the rest (Escape, shortcuts) as usual."""
        if not self._on_key(self.row, event):
            super().keyPressEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        """The styled frame, and the highlight frame while the card has focus."""
        super().paintEvent(event)
        if self.hasFocus():
            painter = QPainter(self)
            pen = QPen(self.palette().color(QPalette.ColorRole.Highlight), FOCUS_FRAME)
            pen.setJoinStyle(Qt.PenJoinStyle.MiterJoin)
            painter.setPen(pen)
            half = FOCUS_FRAME // 2
            painter.drawRect(self.rect().adjusted(half, half, -half - 1, -half - 1))
            painter.end()


class DuplicatesDialog(QDialog):
    """The Duplicates view of ``library`` (see the module docstring); edits go through ``ops``."""

    def __init__(self, library, ops: Operations, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Near-duplicates")
        self.resize(1000, 520)
        self.library = library
        self.ops = ops
        self.groups: list[Any] = []
        self.images: dict[str, QImage] = {}
        self.index = 0
        #: Row (in the group shown) of the card that has or last had keyboard focus: the view's current item.
        self.current = 0
        #: The keeper chosen in each group while the dialog is open: member sha256s -> the keeper's sha256.
        self._chosen: dict[frozenset[str], str] = {}
        self._task = None
        self._first_load = True
        #: True while the groups are being looked for: the keys then only move the focus (the groups shown
        #: are about to be replaced), as the disabled buttons say.
        self._busy = False
        self.keeper_buttons = QButtonGroup(self)
        self.keeper_buttons.idToggled.connect(self._keeper_toggled)
        self.status = QLabel("Looking for near-duplicates…")
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # errors name paths
        self.progress = QProgressBar()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self._cancel)
        self.cards = QWidget()
        self.cards_layout = QHBoxLayout(self.cards)
        self.scroll = scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.cards)
        self.prev_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        self.hide_button = QPushButton("Hide the others from results")
        self.unhide_button = QPushButton("Show all again")
        self.move_button = QPushButton("Move the others…")
        close = QPushButton("Close")
        self.prev_button.clicked.connect(lambda: self.show_group(self.index - 1))
        self.next_button.clicked.connect(lambda: self.show_group(self.index + 1))
        self.hide_button.clicked.connect(self.hide_others)
        self.unhide_button.clicked.connect(self.unhide_all)
        self.move_button.clicked.connect(self.move_others)
        close.clicked.connect(self.close)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.progress)
        top.addWidget(self.cancel_button)
        bottom = QHBoxLayout()
        for button in (self.prev_button, self.next_button):
            bottom.addWidget(button)
        bottom.addStretch(1)
        for button in (self.hide_button, self.unhide_button, self.move_button, close):
            bottom.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(scroll, 1)
        layout.addLayout(bottom)
        self._set_busy(True)
        self.reload()

    def done(self, result: int) -> None:
        """Closing: a search still running is stopped and its result dropped (the dialog goes away)."""
        if self._task is not None:
            self._task.cancel()
        self.ops.supersede("duplicates")
        super().done(result)

    # -- loading -------------------------------------------------------------------------------
    def reload(self) -> None:
        """Find the groups again on a worker (after a change, or at opening)."""
        self._set_busy(True)
        library = self.library
        self._task = self.ops.query("duplicates", lambda ctx: load_groups(library, ctx), self._loaded,
                                    self._failed, on_progress=self._progressed, label="near-duplicates")

    def _progressed(self, value) -> None:
        done, total = value
        self.progress.setRange(0, max(1, total))
        self.progress.setValue(done)

    def _loaded(self, result) -> None:
        refocus = self._first_load or isinstance(self.focusWidget(), DuplicateCard)
        self._first_load = False
        before = self._shown_members()
        row = self.current
        self.groups, self.images = result
        self._set_busy(False)
        self.show_group(min(self.index, max(0, len(self.groups) - 1)))
        if refocus:  # the keyboard starts on the photos, and stays there across a reload
            # the same group again: the same photo; another group: its keeper, as when moving between groups
            self.focus_card(row if before and before == self._shown_members() else self.current)

    def _shown_members(self) -> frozenset[str]:
        """The sha256s of the group shown (empty: none)."""
        if not self.groups or not 0 <= self.index < len(self.groups):
            return frozenset()
        return frozenset(m.sha256 for m in self.groups[self.index].members)

    def _failed(self, exc: BaseException) -> None:
        self._set_busy(False)
        self.status.setText(f"Cannot look for near-duplicates: {exc}")

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self.status.setText("Stopped: the groups found so far are shown.")

    def _set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        for button in (self.hide_button, self.unhide_button, self.move_button, self.prev_button, self.next_button):
            button.setEnabled(not busy)

    # -- one group -----------------------------------------------------------------------------
    def show_group(self, index: int) -> None:
        """Show group ``index`` (clamped), its suggested keeper checked."""
        while self.cards_layout.count():
            item = self.cards_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        for button in self.keeper_buttons.buttons():
            self.keeper_buttons.removeButton(button)
        if not self.groups:
            self.status.setText("No near-duplicates found.")
            for button in (self.hide_button, self.unhide_button, self.move_button, self.prev_button,
                           self.next_button):
                button.setEnabled(False)
            return
        self.index = max(0, min(index, len(self.groups) - 1))
        group = self.groups[self.index]
        self.status.setText(f"Group {self.index + 1} of {len(self.groups)}: {len(group.members)} photos")
        chosen = self._chosen.get(frozenset(m.sha256 for m in group.members))
        keep = next((i for i, m in enumerate(group.members) if m.sha256 == chosen), 0)
        for i, member in enumerate(group.members):
            card = self._card(i, member, keep=i == keep)
            self.cards_layout.addWidget(card)
            card.show()  # now, not at the layout's next pass: the keyboard may focus it at once
        self.cards_layout.addStretch(1)
        self.current = keep
        self.prev_button.setEnabled(self.index > 0)
        self.next_button.setEnabled(self.index < len(self.groups) - 1)
        self.unhide_button.setEnabled(any(m.hidden for m in group.members))

    def _card(self, i: int, member, keep: bool | None = None) -> DuplicateCard:
        """The card of ``member`` at row ``i``; its radio button checked when ``keep`` (None: ``i == 0``)."""
        card = DuplicateCard(i, member.sha256, self._card_focused, self._card_key)
        card.setAccessibleName(os.path.basename(member.path))
        layout = QVBoxLayout(card)
        picture = QLabel()
        picture.setFixedSize(THUMB_SIDE, THUMB_SIDE)
        picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        image = self.images.get(member.sha256)
        if image is not None:
            picture.setPixmap(QPixmap.fromImage(image))
        else:
            picture.setText("(no preview)")
        size = f"{member.width} × {member.height}" if member.width and member.height else "size unknown"
        sharp = f"{member.sharpness:.0f}" if member.sharpness is not None else "unknown"
        facts = QLabel(f"<b>{html.escape(os.path.basename(member.path))}</b><br>{size}, {human_size(member.size)}<br>"
                       f"Taken {local_datetime(member.taken_at) if member.taken_at else 'unknown'}<br>"
                       f"Sharpness {sharp}<br>Similarity {member.similarity:.2f}"
                       + ("<br><i>hidden from results</i>" if member.hidden else ""))
        facts.setTextFormat(Qt.TextFormat.RichText)
        facts.setToolTip(member.path)
        button = QRadioButton("Keep this one")
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the card takes the focus; Space/Enter there checks this
        button.setToolTip("Keep this photo (Space or Enter on the focused photo)")
        self.keeper_buttons.addButton(button, i)
        button.setChecked(i == 0 if keep is None else keep)
        for widget in (picture, facts, button):
            layout.addWidget(widget)
        return card

    def card_widgets(self) -> list[DuplicateCard]:
        """The cards of the group shown, in row order."""
        found = (self.cards_layout.itemAt(i) for i in range(self.cards_layout.count()))
        return [w for w in (item.widget() for item in found if item is not None) if isinstance(w, DuplicateCard)]

    def focus_card(self, row: int) -> None:
        """Give keyboard focus to the card at ``row`` (clamped) of the group shown, scrolled into view."""
        cards = self.card_widgets()
        if not cards:
            return
        card = cards[max(0, min(row, len(cards) - 1))]
        self.current = card.row
        card.setFocus(Qt.FocusReason.OtherFocusReason)
        self.scroll.ensureWidgetVisible(card)

    def pick_keeper(self, row: int) -> None:
        """Make the member at ``row`` of the group shown the keeper (as clicking its "Keep this one")."""
        button = self.keeper_buttons.button(row)
        if button is not None:
            button.setChecked(True)

    def go_to_group(self, index: int) -> None:
        """Show group ``index`` if there is one, its keeper's card focused (keyboard; the buttons keep their focus)."""
        if not self.groups or not 0 <= index < len(self.groups) or index == self.index:
            return
        self.show_group(index)
        self.focus_card(self.current)

    def _card_focused(self, row: int) -> None:
        self.current = row

    def _card_key(self, row: int, event: QKeyEvent) -> bool:
        """Keys on the card at ``row``: navigation and keeper (see the module docstring); False: not ours."""
        if event.modifiers() & ~(Qt.KeyboardModifier.KeypadModifier | Qt.KeyboardModifier.ShiftModifier):
            return False  # Ctrl/Alt/Meta combinations are shortcuts, not navigation
        key = event.key()
        last = len(self.card_widgets()) - 1
        moves = {Qt.Key.Key_Left: row - 1, Qt.Key.Key_Right: row + 1, Qt.Key.Key_Home: 0, Qt.Key.Key_End: last}
        if key in moves:
            self.focus_card(max(0, min(moves[key], last)))  # no wrapping at either end, as QListView
        elif key in (Qt.Key.Key_Up, Qt.Key.Key_PageUp):
            if not self._busy:
                self.go_to_group(self.index - 1)
        elif key in (Qt.Key.Key_Down, Qt.Key.Key_PageDown):
            if not self._busy:
                self.go_to_group(self.index + 1)
        elif key in KEEP_KEYS:
            if not self._busy:
                self.pick_keeper(row)
        else:
            return False
        return True  # used, also at an end: the scroll area must not scroll instead

    def _keeper_toggled(self, row: int, checked: bool) -> None:
        if checked and self.groups and 0 <= row < len(self.groups[self.index].members):
            members = self.groups[self.index].members
            self._chosen[frozenset(m.sha256 for m in members)] = members[row].sha256

    def keeper(self):
        """The member checked as the keeper of the group shown (None: no group)."""
        if not self.groups:
            return None
        members = self.groups[self.index].members
        checked = self.keeper_buttons.checkedId()
        return members[checked if 0 <= checked < len(members) else 0]

    def others(self) -> list:
        """The members of the group shown other than the keeper."""
        keeper = self.keeper()
        return [] if keeper is None else [m for m in self.groups[self.index].members if m is not keeper]

    # -- what the user does --------------------------------------------------------------------
    def hide_others(self) -> None:
        """Hide every member but the keeper from search results (undone by "Show all again")."""
        keeper, others = self.keeper(), self.others()
        if keeper is None or not others:
            return
        library = self.library
        self.ops.mutate(lambda ctx: library.hide_assets([m.sha256 for m in others], keeper=keeper.sha256),
                        OpChanges(library=True), on_success=lambda _r: self.reload(),
                        on_failure=self._edit_failed, label="hide near-duplicates")

    def unhide_all(self) -> None:
        """Show every hidden member of the group shown in search results again."""
        if not self.groups:
            return
        hidden = [m.sha256 for m in self.groups[self.index].members if m.hidden]
        library = self.library
        self.ops.mutate(lambda ctx: library.unhide_assets(hidden), OpChanges(library=True),
                        on_success=lambda _r: self.reload(), on_failure=self._edit_failed, label="show near-duplicates")

    def move_others(self) -> None:
        """Ask for a folder, confirm, then move the other members' files there (never deleted, never overwritten)."""
        others = self.others()
        if not others:
            return
        settings = ui_settings()  # the window's own settings file, as every remembered choice
        start = str(settings.value(MOVE_FOLDER_KEY, "") or os.path.dirname(others[0].path))
        folder = QFileDialog.getExistingDirectory(self, "Move the near-duplicates to", start)
        if not folder:
            return
        answer = messages.ask(
            self, "Move near-duplicates",
            f"Move {len(others)} file{'s' if len(others) != 1 else ''} to {folder}?\n\n"
            "They are moved, not deleted, with their XMP sidecars (one shared with a file that stays "
            "is copied); the library follows them to the new folder. Only the file shown moves: "
            "other copies of the same picture elsewhere stay where they are.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel)
        if answer != QMessageBox.StandardButton.Yes:
            return
        settings.setValue(MOVE_FOLDER_KEY, folder)
        library = self.library
        paths = [m.path for m in others]
        self.ops.mutate(lambda ctx: library.move_files(paths, folder), OpChanges(library=True),
                        on_success=self._moved, on_failure=self._edit_failed, label="move near-duplicates")

    def _moved(self, result) -> None:
        moves, problems = result
        if problems:
            messages.warn(self, "Move near-duplicates", f"{len(moves)} moved; problems:\n" + "\n".join(problems[:20]))
        self.reload()

    def _edit_failed(self, exc: BaseException) -> None:
        messages.warn(self, "Near-duplicates", f"The change could not be made: {exc}")
