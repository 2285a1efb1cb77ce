"""The People panel: groups of faces, named or not, and the actions that name them.

Left, the groups (``GroupListModel`` in a ``QListView``): every named person,
then the clusters of unknown faces, each with a face crop, its name (or
``Unknown <n>``) and its face count. Right, the faces of the current group
(``FaceListModel`` in an icon-mode ``QListView`` drawn by ``FaceDelegate``).
Actions: name the group (exactly the faces shown; every matching face
follows), merge it into another group, move selected faces out, reject
selected faces, and forget every face.

Safety: naming that would take faces already named as someone else asks
first (``confirm_reassignment``); the merge dialog starts with no target
(``MergeDialog``). Naming, merging, moving out and rejecting are recorded
(``People.recorded``) on a ``QUndoStack``: Edit ▸ Undo (Ctrl+Z) and Redo
write the state before or after back through ``People.restore``.
Forgetting every face cannot be undone and clears the history.

Everything the panel shows comes from ``Library.people`` (``mediaapp.services.people_service``)
through ``BackgroundRunner``; crops are decoded by a ``ThumbnailLoader`` off
the GUI thread and drawn from a ``PixmapCache`` (no file access in paint).
After an edit the panel reloads its groups and emits ``changed(OpChanges(people=True))``;
the main window then refreshes only what names touch: the person facets and the
boxes of the loaded rows (the search itself only when it filters by person).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDockWidget,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QMessageBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from mediaapp.services.people_model import PeopleEdit, PeopleSnapshot, ReassignmentNeeded
from mediaapp.ui import messages
from mediaapp.ui.background import BackgroundRunner, Generation
from mediaapp.ui.boxes import LabelColors
from mediaapp.ui.operations import OpChanges, Operations
from mediaapp.ui.people_dialogs import MergeDialog, confirm_reassignment
from mediaapp.ui.people_views import (
    CROP_CACHE_BYTES,
    FACE_SIDE,
    GROUP_ICON_SIDE,
    FaceDelegate,
    FaceListModel,
    GroupListModel,
    PeopleRoles,
    person_key,
)
from mediaapp.ui.pixmaps import PixmapCache, ThumbnailLoader

#: People edits kept for undo (each holds the naming and grouping of the faces it changed).
UNDO_LIMIT = 20


class PeopleEditCommand(QUndoCommand):
    """One recorded People edit on the panel's undo stack.

    ``undo`` writes ``edit.before`` back and ``redo`` ``edit.after``
    (``People.restore``, in the background through ``panel``), then shows
    ``key_before`` / ``key_after`` (group keys, or None). It is pushed after
    the edit ran, so the first ``redo`` (which ``QUndoStack.push`` calls)
    does nothing.
    """

    def __init__(self, panel: PeoplePanel, text: str, edit: PeopleEdit, key_before: str | None,
                 key_after: str | None):
        super().__init__(text)
        self.panel = panel
        self.edit = edit
        self.key_before = key_before
        self.key_after = key_after
        self._pushed = False

    def undo(self) -> None:
        """Restore the state before the edit."""
        self.panel.restore(self.edit.before, f"Undoing {self.text()}", self.key_before, self.edit.after.exclusions)

    def redo(self) -> None:
        """Restore the state the edit made (nothing on the push that records it)."""
        if not self._pushed:
            self._pushed = True
            return
        self.panel.restore(self.edit.after, f"Redoing {self.text()}", self.key_after, self.edit.before.exclusions)


class PeoplePanel(QWidget):
    """Groups of faces and the actions on them, for the library given to ``set_library``.

    Signals (GUI thread): ``groupsLoaded()`` after the group list is shown,
    ``facesLoaded(key)`` after a group's faces are shown, ``changed(OpChanges)`` after
    an edit succeeded (names, groups or search results may differ),
    ``failed(message)`` when a background call failed.

    ``ops``: the window's ``Operations`` (default: the panel's own);
    ``undo_stack``: where recorded edits go (default: the panel's own), which
    ``undo_action`` (Ctrl+Z) and ``redo_action`` step through; ``colors``: the
    window's ``LabelColors`` for the frames of named faces.
    """

    groupsLoaded = Signal()
    facesLoaded = Signal(str)
    changed = Signal(object)
    failed = Signal(str)

    def __init__(self, runner: BackgroundRunner, parent: QWidget | None = None, ops: Operations | None = None,
                 undo_stack: QUndoStack | None = None, colors: LabelColors | None = None):
        super().__init__(parent)
        self.runner = runner
        #: The recorded edits (``PeopleEditCommand``); ``undo_action`` / ``redo_action`` step through them.
        self.undo_stack = undo_stack if undo_stack is not None else QUndoStack(self)
        self.undo_stack.setUndoLimit(UNDO_LIMIT)
        #: The window's operations: edits run as its mutations, so the window refreshes what they changed.
        self.ops = ops or Operations(runner, self)
        self.library = None
        self._groups_generation = Generation()
        self._faces_generation = Generation()
        self._busy = False
        self._pending_key: str | None = None
        self._faces_key: str | None = None  # the group whose faces faces_model shows
        self.loader = ThumbnailLoader(threads=1, max_side=FACE_SIDE * 2, parent=self)
        self.cache = PixmapCache(CROP_CACHE_BYTES)

        self.groups_model = GroupListModel(self.loader, self.cache, self)
        self.faces_model = FaceListModel(self.loader, self.cache, self)
        self.groups_view = QListView()
        self.groups_view.setObjectName("peopleGroups")
        self.groups_view.setModel(self.groups_model)
        self.groups_view.setIconSize(QSize(GROUP_ICON_SIDE, GROUP_ICON_SIDE))
        self.groups_view.setUniformItemSizes(True)
        self.groups_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.groups_view.selectionModel().currentChanged.connect(self._on_group_changed)
        self.faces_view = QListView()
        self.faces_view.setObjectName("peopleFaces")
        self.faces_view.setModel(self.faces_model)
        self.faces_view.setItemDelegate(FaceDelegate(self.faces_view, colors))
        self.faces_view.setViewMode(QListView.ViewMode.IconMode)
        self.faces_view.setResizeMode(QListView.ResizeMode.Adjust)
        self.faces_view.setMovement(QListView.Movement.Static)
        self.faces_view.setUniformItemSizes(True)
        self.faces_view.setSpacing(2)
        self.faces_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.faces_view.selectionModel().selectionChanged.connect(lambda *_: self._update_actions())

        self.name_action = self._action("&Name…", self.ask_name, "Name this group; every matching face follows")
        self.merge_action = self._action("&Merge into…", self.ask_merge, "The same person as another group")
        self.move_out_action = self._action("Move &out", self.move_out_selected,
                                            "The selected faces are not this person", "Ctrl+Shift+O")
        self.reject_action = self._action("&Reject", self.reject_selected,
                                          "The selected faces are not faces (or not wanted)", "Del")
        self.forget_action = self._action("&Forget all faces…", self.ask_forget_all,
                                          "Delete every face, embedding, crop and name of this library")
        self.refresh_action = self._action("Refresh", self.refresh, "Load the groups again")
        self.undo_action = self._action("&Undo", self.undo, "Undo the last naming, merge or reject",
                                        QKeySequence.StandardKey.Undo, Qt.ShortcutContext.WindowShortcut)
        self.redo_action = self._action("&Redo", self.redo, "Redo the edit last undone",
                                        QKeySequence.StandardKey.Redo, Qt.ShortcutContext.WindowShortcut)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for action in (self.name_action, self.merge_action, self.move_out_action, self.reject_action):
            button = QToolButton()
            button.setDefaultAction(action)
            bar.addWidget(button)
        bar.addStretch(1)
        for action in (self.refresh_action, self.forget_action):
            button = QToolButton()
            button.setDefaultAction(action)
            bar.addWidget(button)
        self.status = QLabel()
        self.status.setObjectName("peopleStatus")
        self.status.setWordWrap(True)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.groups_view)
        splitter.addWidget(self.faces_view)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([220, 420])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)
        self._update_actions()

    def _action(self, text: str, slot, tip: str, shortcut: str | QKeySequence.StandardKey | None = None,
                context: Qt.ShortcutContext = Qt.ShortcutContext.WidgetWithChildrenShortcut) -> QAction:
        action = QAction(text, self)
        action.setStatusTip(tip)
        action.setToolTip(tip)
        if isinstance(shortcut, QKeySequence.StandardKey):
            action.setShortcuts(shortcut)  # every binding of the platform (Redo: Ctrl+Shift+Z and Ctrl+Y)
            action.setShortcutContext(context)
        elif shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(context)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    # -- state ----------------------------------------------------------------------------------
    def set_library(self, library) -> None:
        """Show the groups of ``library`` (None: nothing); loads them in the background."""
        if library is not self.library:
            self.clear_history()  # the edits recorded were another library's
        self.library = library
        self.cache.clear()
        self.loader.cancel_all()
        self.groups_model.set_items([])
        self._faces_key = None
        self.faces_model.set_items([])
        self.refresh()

    def current_key(self) -> str | None:
        """The key of the group shown on the right, or None."""
        index = self.groups_view.currentIndex()
        return index.data(PeopleRoles.KEY) if index.isValid() else None

    def current_group(self):
        """The ``FaceGroup`` shown on the right, or None."""
        index = self.groups_view.currentIndex()
        return index.data(PeopleRoles.GROUP) if index.isValid() else None

    def selected_face_ids(self) -> list[int]:
        """Ids of the faces selected on the right, in row order."""
        rows = sorted(i.row() for i in self.faces_view.selectionModel().selectedIndexes())
        return [self.faces_model.item(r).id for r in rows]

    def shown_face_ids(self, group) -> tuple[int, ...]:
        """The ids of the faces shown for ``group`` (a ``FaceGroup``): those on the right when they are that
        group's, else the group's as listed on the left."""
        if group is not None and self._faces_key == group.key:
            return tuple(f.id for f in self.faces_model.items())
        return tuple(group.face_ids) if group is not None else ()

    def select_group(self, key: str) -> bool:
        """Make the group ``key`` current (its faces load); False when it is not listed."""
        row = self.groups_model.row_of(key)
        if row < 0:
            return False
        self.groups_view.setCurrentIndex(self.groups_model.index(row))
        return True

    def _update_actions(self) -> None:
        group = self.current_group()
        ready = self.library is not None and not self._busy
        self.name_action.setEnabled(ready and group is not None)
        self.merge_action.setEnabled(ready and group is not None and self.groups_model.rowCount() > 1)
        has_faces = bool(self.faces_view.selectionModel().selectedIndexes())
        self.move_out_action.setEnabled(ready and has_faces)
        self.reject_action.setEnabled(ready and has_faces)
        self.forget_action.setEnabled(ready)
        self.refresh_action.setEnabled(self.library is not None)
        stack = self.undo_stack
        self.undo_action.setEnabled(ready and stack.canUndo())
        self.undo_action.setText(f"&Undo {stack.undoText()}" if stack.canUndo() else "&Undo")
        self.redo_action.setEnabled(ready and stack.canRedo())
        self.redo_action.setText(f"&Redo {stack.redoText()}" if stack.canRedo() else "&Redo")

    # -- loading --------------------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        """Load the groups again (reclustering new faces first); keeps (or moves to ``select``) the current group."""
        library = self.library
        if library is None:
            return
        self._pending_key = select or self.current_key()
        generation = self._groups_generation.bump()
        self.runner.run(lambda ctx: library.people.groups(),
                        on_success=lambda groups: self._on_groups(generation, groups),
                        on_failure=lambda exc: self._on_failure("Loading people", exc), label="people groups")

    def _on_groups(self, generation: int, groups: list) -> None:
        if not self._groups_generation.is_current(generation):
            return
        self.groups_model.set_items(groups)
        named = sum(1 for g in groups if g.name is not None)
        faces = sum(len(g.face_ids) for g in groups)
        self.status.setText(f"{named} named, {len(groups) - named} unknown groups, {faces} faces" if groups else
                            "No faces yet: import photos with face features on (Settings).")
        key = self._pending_key
        row = self.groups_model.row_of(key) if key else -1
        if row < 0 and groups:
            row = 0
        if row >= 0:
            self.groups_view.setCurrentIndex(self.groups_model.index(row))
            self._load_faces(self.groups_model.item(row).key)  # reload even when the row did not change
        else:
            self._faces_key = None
            self.faces_model.set_items([])
        self._update_actions()
        self.groupsLoaded.emit()

    def _on_group_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self._load_faces(current.data(PeopleRoles.KEY))
        else:
            self._faces_key = None
            self.faces_model.set_items([])
        self._update_actions()

    def _load_faces(self, key: str) -> None:
        library = self.library
        if library is None:
            return
        generation = self._faces_generation.bump()
        self.runner.run(lambda ctx: library.people.faces(key),
                        on_success=lambda faces: self._on_faces(generation, key, faces),
                        on_failure=lambda exc: self._on_failure("Loading faces", exc), label="people faces")

    def _on_faces(self, generation: int, key: str, faces: list) -> None:
        if not self._faces_generation.is_current(generation):
            return
        self._faces_key = key
        self.faces_model.set_items(faces)
        self._update_actions()
        self.facesLoaded.emit(key)

    def _on_failure(self, what: str, exc: BaseException) -> None:
        message = f"{what} failed: {exc}"
        self.status.setText(message)
        self._busy = False
        self._update_actions()
        self.failed.emit(message)

    # -- edits ----------------------------------------------------------------------------------
    def _edit(self, label: str, fn: Callable[[Any], Any], select=None, *, undo_text: str | None = None,
              reassign: Callable[[Any], Any] | None = None) -> None:
        """Run ``fn(people)`` in the background, then reload the groups and emit ``changed``.

        ``select``: the group key to show afterwards, or a function of ``fn``'s
        result giving it (None: keep the current group). ``undo_text``: the
        edit is recorded (``People.recorded``) and pushed on ``undo_stack`` under
        that name; None: it cannot be undone and the history is cleared.
        ``reassign``: when ``fn`` raises ``ReassignmentNeeded``, the user is
        asked (``confirm_reassignment``) and, on Yes, ``reassign(people)``
        runs instead (the same edit, allowed to re-assign).
        """
        library = self.library
        if library is None or self._busy:
            return
        key_before = self.current_key()

        def work(_ctx) -> tuple[Any, PeopleEdit | None]:
            if undo_text is None:
                return fn(library.people), None
            return library.people.recorded(fn)

        def done(outcome: tuple[Any, PeopleEdit | None]) -> None:
            result, edit = outcome
            key_after = select(result) if callable(select) else select
            if edit is None:
                self.undo_stack.clear()
            elif not edit.empty and undo_text is not None:
                self.undo_stack.push(PeopleEditCommand(self, undo_text, edit, key_before, key_after))
            self._finish(key_after)

        def failed(exc: BaseException) -> None:
            if isinstance(exc, ReassignmentNeeded) and reassign is not None:
                self._busy = False
                self.status.setText(f"Not done: {exc}")
                self._update_actions()
                if confirm_reassignment(self, str(exc)):
                    self._edit(label, reassign, select, undo_text=undo_text)
                return
            self._on_failure(label, exc)

        self._start(label, work, done, failed)

    def _start(self, label: str, work: Callable[[Any], Any], done: Callable[[Any], None],
               failed: Callable[[BaseException], None]) -> None:
        """Mark the panel busy and run the mutation ``work(ctx)`` (``Operations.mutate``)."""
        self._busy = True
        self._update_actions()
        self.status.setText(f"{label}…")
        self.ops.mutate(work, OpChanges(people=True), on_success=done, on_failure=failed, label=label)

    def _finish(self, select: str | None) -> None:
        """After an edit or a restore: not busy, reload the groups (showing ``select``), emit ``changed``."""
        self._busy = False
        self._update_actions()
        self.refresh(select)
        self.changed.emit(OpChanges(people=True))

    def restore(self, snapshot: PeopleSnapshot, label: str, select: str | None = None,
                drop_exclusions: Iterable[tuple[int, int]] = ()) -> None:
        """Write ``snapshot`` back (``People.restore``, dropping ``drop_exclusions``) in the background, then
        show ``select``; ``changed`` follows.

        What ``PeopleEditCommand`` calls to undo or redo; does nothing while
        another edit runs or without a library.
        """
        library = self.library
        if library is None or self._busy:
            return
        drop = frozenset(drop_exclusions)
        self._start(label, lambda _ctx: library.people.restore(snapshot, drop), lambda _result: self._finish(select),
                    lambda exc: self._on_failure(label, exc))

    def undo(self) -> None:
        """Undo the last recorded edit (Edit ▸ Undo), unless an edit is running."""
        if self.library is not None and not self._busy and self.undo_stack.canUndo():
            self.undo_stack.undo()  # PeopleEditCommand.undo starts the restore
            self._update_actions()

    def redo(self) -> None:
        """Redo the edit last undone (Edit ▸ Redo), unless an edit is running."""
        if self.library is not None and not self._busy and self.undo_stack.canRedo():
            self.undo_stack.redo()
            self._update_actions()

    def clear_history(self) -> None:
        """Forget every recorded edit (nothing left to undo or redo)."""
        self.undo_stack.clear()
        self._update_actions()

    def name_group(self, group, name: str, face_ids=None) -> None:
        """Name ``group`` (a ``FaceGroup`` as shown) ``name``, in the background; ``changed`` follows.

        An unknown cluster names exactly the faces shown: ``face_ids``, by
        default ``shown_face_ids(group)``; faces a recluster moved into the
        group since are left alone. A person's group renames the person (or
        merges it into the person already called ``name``). When that takes
        faces named as someone else, the user is asked first. Undoable.
        """
        name = name.strip()
        if not name or group is None:
            return
        undo_text = f"naming {name}"
        if group.person_id is not None:
            key = group.key
            self._edit(f"Naming {name}", lambda people: people.name_group(key, name), select=person_key,
                       undo_text=undo_text, reassign=lambda people: people.name_group(key, name, reassign=True))
        else:
            ids = tuple(face_ids) if face_ids is not None else self.shown_face_ids(group)
            self._edit(f"Naming {name}", lambda people: people.name_faces(ids, name), select=person_key,
                       undo_text=undo_text, reassign=lambda people: people.name_faces(ids, name, reassign=True))

    def merge_groups(self, source: str, target: str) -> None:
        """Merge the group ``source`` into ``target`` (in the background; ``changed`` follows). Undoable."""
        if source != target:
            self._edit("Merging", lambda people: people.merge_groups(source, target), select=target,
                       undo_text="merge")

    def move_out(self, face_ids: list[int]) -> None:
        """Move these faces out of their group (in the background; ``changed`` follows). Undoable: the
        "not this person" it records is dropped again."""
        ids = list(face_ids)
        if ids:
            self._edit("Moving faces out", lambda people: people.move_out(ids), select=self.current_key(),
                       undo_text=f"move {len(ids)} face{'s' if len(ids) != 1 else ''} out")

    def reject(self, face_ids: list[int]) -> None:
        """Reject these faces (in the background; ``changed`` follows). Undoable."""
        ids = list(face_ids)
        if ids:
            self._edit("Rejecting faces", lambda people: people.reject(ids), select=self.current_key(),
                       undo_text=f"reject {len(ids)} face{'s' if len(ids) != 1 else ''}")

    def forget_all(self) -> None:
        """Forget every face of the library, without asking (``ask_forget_all`` asks first). Clears the undo history."""
        self._edit("Forgetting all faces", lambda people: people.forget_all())

    # -- actions with dialogs -------------------------------------------------------------------
    def ask_name(self) -> None:
        """Ask for the current group's name (existing names offered), then name it."""
        group = self.current_group()
        if group is None:
            return
        shown = self.shown_face_ids(group)  # before the dialog: the panel may reload while it is open
        names = sorted({g.name for g in self.groups_model.items() if g.name}, key=str.casefold)
        current = names.index(group.name) if group.name in names else -1
        name, ok = QInputDialog.getItem(self, "Name this person", "Name:", names if current >= 0 else [""] + names,
                                        max(current, 0), True)
        if ok and name.strip():
            self.name_group(group, name, shown)

    def ask_merge(self) -> None:
        """Ask which group the current one is the same person as (``MergeDialog``: nothing preselected), then
        merge them."""
        group = self.current_group()
        if group is None:
            return
        others = [(g.key, f"{g.title} ({len(g.face_ids)})") for g in self.groups_model.items() if g.key != group.key]
        dialog = MergeDialog(group.title, others, self)
        try:
            target = dialog.chosen_key() if dialog.exec() == MergeDialog.DialogCode.Accepted else None
        finally:
            dialog.deleteLater()
        if target is not None:
            self.merge_groups(group.key, target)

    def move_out_selected(self) -> None:
        """Move the selected faces out of the current group."""
        self.move_out(self.selected_face_ids())

    def reject_selected(self) -> None:
        """Reject the selected faces."""
        self.reject(self.selected_face_ids())

    def ask_forget_all(self) -> None:
        """Confirm, then forget every face."""
        answer = messages.ask(
            self, "Forget all faces",
            "Delete every face, embedding, face crop and name in this library, and the on-device face "
            "recognition results?\n\nPhotos analysed again while face features are on (Settings) get "
            "their faces back, unnamed.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        if answer == QMessageBox.StandardButton.Yes:
            self.forget_all()


def install_people_panel(window) -> PeoplePanel:
    """Add the People panel to ``window`` (a ``MainWindow``) as a dock, with a People menu.

    The dock (object name ``peopleDock``, hidden at first) follows the
    window's library and imports; the panel's edits refresh the window's
    search and facets. The menu toggles the dock (Ctrl+Shift+P) and offers
    *Forget all faces…*; the window's Edit menu (``window.edit_menu``) gets
    the panel's Undo (Ctrl+Z) and Redo, which work with the dock hidden too.
    Returns the panel.
    """
    # edits announce OpChanges to window.apply_changes; names are framed in the window's label colours
    panel = PeoplePanel(window.runner, ops=window.ops, colors=window.colors)
    panel.setObjectName("peoplePanel")
    dock = QDockWidget("People", window)
    dock.setObjectName("peopleDock")
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()
    window.people_dock = dock
    toggle = dock.toggleViewAction()
    toggle.setText("&People panel")
    toggle.setShortcut(QKeySequence("Ctrl+Shift+P"))
    menu = window.menuBar().addMenu("&People")
    menu.addAction(toggle)
    menu.addSeparator()
    menu.addAction(panel.forget_action)
    window.edit_menu.addAction(panel.undo_action)
    window.edit_menu.addAction(panel.redo_action)
    help_menu = next((a for a in window.menuBar().actions() if a.text().replace("&", "") == "Help"), None)
    if help_menu is not None:  # keep Help last
        window.menuBar().insertMenu(help_menu, menu)
    stale = {"groups": True}

    def on_library(library) -> None:
        if library is not panel.library:
            panel.clear_history()
        panel.library = library
        stale["groups"] = True
        if dock.isVisible():
            panel.set_library(library)
            stale["groups"] = False

    def on_import(_report) -> None:
        if dock.isVisible():
            panel.refresh()
        else:
            stale["groups"] = True

    def on_visible(visible: bool) -> None:
        if visible and stale["groups"] and panel.library is not None:
            panel.set_library(panel.library)
            stale["groups"] = False

    window.libraryOpened.connect(on_library)
    window.importFinished.connect(on_import)
    dock.visibilityChanged.connect(on_visible)
    panel.failed.connect(lambda message: window.statusBar().showMessage(message, 15000))
    return panel
