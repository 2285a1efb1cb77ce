"""The People panel driven through the main window on a real imported library (testdata/3_faces):
name a group and find the photos, merge, move a face out, reject a face, forget every face."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from people_support import photos_of
from PySide6.QtCore import QItemSelectionModel, QSettings
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QInputDialog, QMessageBox

from mediaapp.core.types import DetectionKind
from mediaapp.ui import messages
from mediaapp.ui.asset_list import Roles
from mediaapp.ui.main_window import MainWindow
from mediaapp.ui.people_dialogs import MergeDialog

pytestmark = pytest.mark.slow

OBAMA = "Barack Obama"
WAIT = 30000


@pytest.fixture(autouse=True)
def qsettings_dir(tmp_path):
    """The window's QSettings in a fresh temp dir (layout, toggles)."""
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))


@pytest.fixture
def window(qtbot, faces_library):
    window = MainWindow(faces_library.root)
    qtbot.addWidget(window)
    window.resize(760, 700)
    window.show()
    with qtbot.waitSignal(window.libraryOpened, timeout=WAIT):
        pass
    yield window
    window.shutdown()


def show_panel(qtbot, window):
    """Show the People dock; returns the panel once its groups and the first group's faces are shown."""
    panel = window.people_panel
    with qtbot.waitSignal(panel.facesLoaded, timeout=WAIT):
        with qtbot.waitSignal(panel.groupsLoaded, timeout=WAIT):
            window.people_dock.show()
    return panel


def select_group(qtbot, panel, key: str) -> None:
    if panel.current_key() == key:
        return
    with qtbot.waitSignal(panel.facesLoaded, timeout=WAIT, check_params_cb=lambda k: k == key):
        assert panel.select_group(key)


def select_faces(panel, face_ids) -> None:
    view, model = panel.faces_view, panel.faces_model
    view.clearSelection()
    for row, face in enumerate(model.items()):
        if face.id in face_ids:
            view.selectionModel().select(model.index(row), QItemSelectionModel.SelectionFlag.Select)
    assert sorted(panel.selected_face_ids()) == sorted(face_ids)


def edit(qtbot, panel, action, faces: bool = True) -> None:
    """Trigger ``action``; wait until the edit is done and the groups (and, with ``faces``, the current
    group's faces) are shown again."""
    with qtbot.waitSignal(panel.facesLoaded, timeout=WAIT) if faces else contextlib.nullcontext():
        with qtbot.waitSignal(panel.groupsLoaded, timeout=WAIT):
            with qtbot.waitSignal(panel.changed, timeout=WAIT):
                action.trigger()


def grid_paths(qtbot, window) -> set[str]:
    qtbot.waitUntil(lambda: not window.model.busy, timeout=WAIT)
    return {Path(window.model.row(i).path).name for i in range(window.model.rowCount())}


def test_name_a_group_then_find_the_photos_by_person(qtbot, window, faces_library, testdata, monkeypatch):
    panel = show_panel(qtbot, window)
    titles = [panel.groups_model.item(r).title for r in range(panel.groups_model.rowCount())]
    assert len(titles) == 7 and all(t.startswith("Unknown") for t in titles)
    key = faces_library.group_of("obama.jpg").key
    select_group(qtbot, panel, key)
    assert {Path(f.path).name for f in panel.faces_model.items()} == photos_of(testdata, OBAMA)
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *args, **kw: (OBAMA, True)))
    edit(qtbot, panel, panel.name_action)

    group = panel.current_group()
    assert group.name == OBAMA and len(group.face_ids) == 8
    assert panel.groups_model.data(panel.groups_model.index(0)) == f"{OBAMA}  (8)"
    # the sidebar's People facet lists the local name; checking it shows exactly the Obama photos
    qtbot.waitUntil(lambda: window.sidebar.persons.counts().get(OBAMA) == 8, timeout=WAIT)
    with qtbot.waitSignal(window.model.pageLoaded, timeout=WAIT):
        window.sidebar.persons.set_checked([OBAMA])
    assert grid_paths(qtbot, window) == photos_of(testdata, OBAMA)
    # each cell draws the named box
    for i in range(window.model.rowCount()):
        dets = window.model.data(window.model.index(i), Roles.DETECTIONS)
        assert [d.name for d in dets if d.kind is DetectionKind.PERSON] == [OBAMA]
        assert all(d.box is not None for d in dets)
    # the detail view lists the name with its engine
    row = window.model.row_of(faces_library.sha_of("two_people.jpg"))
    with qtbot.waitSignal(window.detail.loaded, timeout=WAIT):
        window.open_detail(window.model.index(row))
    tree = window.detail.detections_tree
    items = [[tree.topLevelItem(i).text(c) for c in range(4)] for i in range(tree.topLevelItemCount())]
    assert [OBAMA, "100.0%", "Person", "local"] in items


def test_merge_two_groups(qtbot, window, faces_library, monkeypatch):
    panel = show_panel(qtbot, window)
    kit, rose = faces_library.group_of("kit_harington_john1.jpeg"), faces_library.group_of("rose_leslie_img1.jpg")
    rows = panel.groups_model.rowCount()
    select_group(qtbot, panel, rose.key)
    # the user picks Kit's group in the merge dialog and presses Merge
    monkeypatch.setattr(MergeDialog, "exec", lambda dialog: dialog.choose(kit.key) and MergeDialog.DialogCode.Accepted)
    edit(qtbot, panel, panel.merge_action)
    assert panel.groups_model.rowCount() == rows - 1
    assert panel.current_key() == kit.key
    assert set(panel.current_group().face_ids) == set(kit.face_ids) | set(rose.face_ids)


def test_move_a_wrong_face_out_of_a_person(qtbot, window, faces_library, testdata):
    people = faces_library.library.people
    people.name_group(faces_library.group_of("obama.jpg").key, OBAMA)
    panel = show_panel(qtbot, window)
    key = faces_library.group_of("obama.jpg").key
    select_group(qtbot, panel, key)
    wrong = faces_library.face_of("obama_small.jpg").id
    select_faces(panel, [wrong])
    assert panel.move_out_action.isEnabled()
    edit(qtbot, panel, panel.move_out_action)
    assert wrong not in {f.id for f in panel.faces_model.items()} and len(panel.faces_model.items()) == 7
    assert faces_library.person_photos(OBAMA) == photos_of(testdata, OBAMA) - {"obama_small.jpg"}
    # the face is listed again among the unknown groups
    assert any(g.name is None and wrong in g.face_ids for g in panel.groups_model.items())


def test_reject_a_face(qtbot, window, faces_library):
    panel = show_panel(qtbot, window)
    child = faces_library.face_of("obama_and_biden.jpg", 2)
    key = faces_library.group_of("obama_and_biden.jpg", 2).key
    select_group(qtbot, panel, key)
    select_faces(panel, [child.id])
    rows = panel.groups_model.rowCount()
    edit(qtbot, panel, panel.reject_action)
    assert panel.groups_model.rowCount() == rows - 1 and panel.groups_model.row_of(key) == -1
    assert faces_library.face_of("obama_and_biden.jpg", 2).state == "rejected"
    sha = faces_library.sha_of("obama_and_biden.jpg")
    assert len(faces_library.library.detections([sha], [DetectionKind.FACE])[sha]) == 2


def test_forget_all_faces_asks_then_wipes(qtbot, window, faces_library, monkeypatch):
    faces_library.library.people.name_group(faces_library.group_of("obama.jpg").key, OBAMA)
    panel = show_panel(qtbot, window)
    window.refresh()  # the name was given outside the window
    qtbot.waitUntil(lambda: OBAMA in window.sidebar.persons.counts(), timeout=WAIT)
    asked = []
    monkeypatch.setattr(messages, "ask", lambda *args, **kw: asked.append(args) or QMessageBox.StandardButton.Yes)
    edit(qtbot, panel, panel.forget_action, faces=False)
    assert len(asked) == 1
    assert panel.groups_model.rowCount() == 0 and panel.faces_model.rowCount() == 0
    qtbot.waitUntil(lambda: window.sidebar.persons.counts() == {}, timeout=WAIT)
    assert not (faces_library.root / "faces").exists()
    assert faces_library.library.people.store.face_count() == 0


def test_naming_names_the_faces_shown_not_those_a_recluster_added(qtbot, window, faces_library, testdata,
                                                                   monkeypatch):
    people = faces_library.library.people
    panel = show_panel(qtbot, window)
    key = faces_library.group_of("obama.jpg").key
    select_group(qtbot, panel, key)
    shown = {f.id for f in panel.faces_model.items()}
    assert {Path(f.path).name for f in panel.faces_model.items()} == photos_of(testdata, OBAMA)
    # behind the panel's back the group grows (a recluster after an import, an edit in another window):
    # Biden's faces join it
    biden = faces_library.group_of("biden.jpg")
    people.merge_groups(biden.key, key)
    assert set(faces_library.group_of("obama.jpg").face_ids) == shown | set(biden.face_ids)
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *args, **kw: (OBAMA, True)))
    edit(qtbot, panel, panel.name_action)
    group = panel.current_group()
    assert group.name == OBAMA and set(group.face_ids) == shown
    assert faces_library.person_photos(OBAMA) == photos_of(testdata, OBAMA)
    # Biden's faces the user never saw under this group stay unknown, together
    assert all(faces_library.face_of(name).person_name is None for name in ("biden.jpg",))
    assert set(faces_library.group_of("biden.jpg").face_ids) == set(biden.face_ids)


def test_naming_a_face_redraws_the_boxes_without_running_the_search_again(qtbot, window, faces_library, testdata,
                                                                          monkeypatch):
    panel = show_panel(qtbot, window)
    loaded = grid_paths(qtbot, window)
    assert "obama.jpg" in loaded
    searches: list[object] = []
    monkeypatch.setattr(type(window.model), "set_query", lambda model, query: searches.append(query))
    key = faces_library.group_of("obama.jpg").key
    select_group(qtbot, panel, key)
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *args, **kw: (OBAMA, True)))
    changed: list[object] = []
    window.model.dataChanged.connect(lambda first, last, roles: changed.append((first.row(), roles)))
    edit(qtbot, panel, panel.name_action)
    row = window.model.row_of(faces_library.sha_of("obama.jpg"))

    def named() -> bool:
        dets = window.model.data(window.model.index(row), Roles.DETECTIONS)
        return [d.name for d in dets if d.kind is DetectionKind.PERSON] == [OBAMA]

    qtbot.waitUntil(named, timeout=WAIT)                        # the loaded cell shows the new name
    qtbot.waitUntil(lambda: window.sidebar.persons.counts().get(OBAMA) == 8, timeout=WAIT)
    assert searches == []                                       # no blanket refresh: same rows, same scroll
    assert grid_paths(qtbot, window) == loaded and (row, [Roles.DETECTIONS]) in changed


def test_naming_a_face_updates_a_search_by_words(qtbot, window, faces_library, testdata, monkeypatch):
    """Names are search words: a text search runs again after a name is given (its hits change)."""
    panel = show_panel(qtbot, window)
    grid_paths(qtbot, window)
    # a name no photo's own caption holds (the White House captions say "Barack Obama": searchable words too)
    window.search.setText("potus")
    window.search.returnPressed.emit()  # as Enter does
    qtbot.waitUntil(lambda: window.current_query().text == "potus" and not window.model.busy
                    and window.model.total == 0, timeout=WAIT)
    select_group(qtbot, panel, faces_library.group_of("obama.jpg").key)
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *args, **kw: ("POTUS 44", True)))
    edit(qtbot, panel, panel.name_action)
    qtbot.waitUntil(lambda: window.model.total == 8, timeout=WAIT)
    assert grid_paths(qtbot, window) == photos_of(testdata, OBAMA)


# -- safety: asking before re-assigning, a merge dialog without a default target, undo ----------------------

def test_renaming_a_person_to_another_persons_name_asks_first(qtbot, window, faces_library, monkeypatch):
    people = faces_library.library.people
    people.name_group(faces_library.group_of("obama.jpg").key, OBAMA)
    biden = people.name_group(faces_library.group_of("biden.jpg").key, "Joe Biden")
    panel = show_panel(qtbot, window)
    select_group(qtbot, panel, f"person:{biden}")
    monkeypatch.setattr(QInputDialog, "getItem", staticmethod(lambda *args, **kw: (OBAMA, True)))
    asked: list[str] = []
    answer = [QMessageBox.StandardButton.No]
    monkeypatch.setattr(messages, "ask", lambda parent, title, text, *a: asked.append(text) or answer[0])
    panel.name_action.trigger()
    qtbot.waitUntil(lambda: bool(asked), timeout=WAIT)       # asked, before anything changed
    assert "3 faces named Joe Biden would be named Barack Obama" in asked[0]
    qtbot.waitUntil(lambda: panel.name_action.isEnabled(), timeout=WAIT)
    assert people.store.person("Joe Biden") is not None and len(faces_library.person_photos(OBAMA)) == 8

    answer[0] = QMessageBox.StandardButton.Yes
    with qtbot.waitSignal(panel.groupsLoaded, timeout=WAIT):
        with qtbot.waitSignal(panel.changed, timeout=WAIT):
            panel.name_action.trigger()
    assert len(asked) == 2 and people.store.person("Joe Biden") is None
    assert len(faces_library.person_photos(OBAMA)) == 9 and "biden.jpg" in faces_library.person_photos(OBAMA)


def test_enter_in_the_merge_dialog_merges_nothing(qtbot, window, faces_library, monkeypatch):
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    faces_library.library.people.name_group(faces_library.group_of("obama.jpg").key, OBAMA)
    panel = show_panel(qtbot, window)
    rose = faces_library.group_of("rose_leslie_img1.jpg")
    kit = faces_library.group_of("kit_harington_john1.jpeg")
    select_group(qtbot, panel, rose.key)
    merges: list[tuple[str, str]] = []
    monkeypatch.setattr(panel, "merge_groups", lambda source, target: merges.append((source, target)))
    seen: list[object] = []

    def press_enter() -> None:
        dialog = QApplication.activeModalWidget()
        seen.append(dialog)
        QTest.keyClick(dialog.focusWidget() or dialog, Qt.Key.Key_Return)  # the user just presses Enter
        QTimer.singleShot(50, lambda: dialog.isVisible() and dialog.reject())

    QTimer.singleShot(0, press_enter)
    panel.merge_action.trigger()                              # the dialog's exec returns when it closes
    assert seen and merges == []                              # Enter chose no target: nothing merged

    def choose_kit() -> None:
        dialog = QApplication.activeModalWidget()
        assert not dialog.ok_button.isEnabled() and dialog.chosen_key() is None
        assert dialog.choose(kit.key) and dialog.ok_button.isEnabled()
        QTest.keyClick(dialog, Qt.Key.Key_Return)

    QTimer.singleShot(0, choose_kit)
    panel.merge_action.trigger()
    assert merges == [(rose.key, kit.key)]


def test_undo_and_redo_a_reject_from_the_edit_menu(qtbot, window, faces_library):
    panel = show_panel(qtbot, window)
    child = faces_library.face_of("obama_and_biden.jpg", 2)
    key = faces_library.group_of("obama_and_biden.jpg", 2).key
    select_group(qtbot, panel, key)
    select_faces(panel, [child.id])
    rows = panel.groups_model.rowCount()
    edit(qtbot, panel, panel.reject_action)
    assert faces_library.face_of("obama_and_biden.jpg", 2).state == "rejected"
    undo = panel.undo_action
    assert undo in window.edit_menu.actions() and undo.shortcut() == QKeySequence(QKeySequence.StandardKey.Undo)
    assert undo.isEnabled() and undo.text() == "&Undo reject 1 face"

    edit(qtbot, panel, undo)                                   # Edit > Undo
    face = faces_library.face_of("obama_and_biden.jpg", 2)
    assert face.state == "ok" and face.group_id == child.group_id
    assert panel.groups_model.rowCount() == rows and panel.current_key() == key
    sha = faces_library.sha_of("obama_and_biden.jpg")
    assert len(faces_library.library.detections([sha], [DetectionKind.FACE])[sha]) == 3
    assert not panel.undo_action.isEnabled() and panel.redo_action.isEnabled()

    edit(qtbot, panel, panel.redo_action, faces=False)         # Edit > Redo rejects it again
    assert faces_library.face_of("obama_and_biden.jpg", 2).state == "rejected"


def test_undo_an_accidental_merge_into_a_person(qtbot, window, faces_library, monkeypatch):
    people = faces_library.library.people
    people.name_group(faces_library.group_of("obama.jpg").key, OBAMA)
    panel = show_panel(qtbot, window)
    before = {g.key: set(g.face_ids) for g in people.groups()}
    stranger = faces_library.group_of("rose_leslie_img1.jpg")
    select_group(qtbot, panel, stranger.key)
    obama = faces_library.group_of("obama.jpg").key
    with qtbot.waitSignal(panel.changed, timeout=WAIT):
        panel.merge_groups(stranger.key, obama)               # as the dialog would, once a target is picked
    assert faces_library.person_photos(OBAMA) >= {"rose_leslie_img1.jpg"}
    undo = window.edit_menu.actions()[0]
    assert undo is panel.undo_action and undo.isEnabled()
    with qtbot.waitSignal(panel.changed, timeout=WAIT):      # the restore is written and indexed
        undo.trigger()                                        # Edit > Undo
    assert {g.key: set(g.face_ids) for g in people.groups()} == before
    assert "rose_leslie_img1.jpg" not in faces_library.person_photos(OBAMA)
    qtbot.waitUntil(lambda: panel.current_key() == stranger.key, timeout=WAIT)
