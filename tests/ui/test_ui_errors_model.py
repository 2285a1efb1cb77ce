"""The errors table (model, filter proxy, panel) and the folder list model: no window shown."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QGuiApplication

from mediaapp.core.types import ImportProblem
from mediaapp.ui.errors import PATH_ROLE, Column, ErrorsPanel, ProblemFilterProxy, ProblemTableModel
from mediaapp.ui.sidebar import COUNT_ROLE, NAME_ROLE, FolderListModel, Sidebar

STAGES = ("ingest", "analyse", "thumbnail")
N = 5000


def make_problems(n: int = N) -> list[ImportProblem]:
    """``n`` problems over 40 folders; every 7th reason is a permission error; the last 10 files fail twice."""
    problems = []
    for i in range(n - 10):
        reason = "Permission denied" if i % 7 == 0 else f"cannot identify image file (code {i})"
        problems.append(ImportProblem(f"/archive/folder_{i % 40:02d}/img_{i:05d}.jpg", STAGES[i % 3], reason))
    problems += [ImportProblem(p.path, "index", "search index unreachable") for p in problems[-10:]]
    return problems


def as_rows(problems: list[ImportProblem]) -> list[tuple[str, str, str]]:
    return [(p.path, p.stage, p.message) for p in problems]


@pytest.fixture
def problems() -> list[ImportProblem]:
    return make_problems()


@pytest.fixture
def panel(qtbot, problems) -> ErrorsPanel:
    panel = ErrorsPanel()
    qtbot.addWidget(panel)  # never shown
    with qtbot.waitSignal(panel.countChanged) as counted:
        panel.set_problems(problems)
    assert counted.args == [N]
    return panel


# -- the table model ------------------------------------------------------------------------------

def test_model_cells_tooltips_and_path_role(qapp, problems):
    model = ProblemTableModel()
    model.set_problems(problems)
    assert (model.rowCount(), model.columnCount()) == (N, 4)
    assert model.rowCount(model.index(0, 0)) == 0  # flat: no children
    assert [model.headerData(c, Qt.Orientation.Horizontal) for c in Column] == ["File", "Stage", "Reason", "Folder"]
    row = 8
    p = problems[row]
    assert [model.index(row, c).data() for c in Column] == \
        ["img_00008.jpg", "thumbnail", "cannot identify image file (code 8)", "/archive/folder_08"]
    assert model.index(row, Column.FILE).data(Qt.ItemDataRole.ToolTipRole) == p.path
    assert model.index(row, Column.FOLDER).data(Qt.ItemDataRole.ToolTipRole) == p.path
    assert model.index(row, Column.REASON).data(Qt.ItemDataRole.ToolTipRole) == p.message
    assert {model.index(row, c).data(PATH_ROLE) for c in Column} == {p.path}
    assert model.data(QModelIndex()) is None
    assert model.file_count() == N - 10  # the last ten files failed twice

    model.set_problems([])
    assert model.rowCount() == 0 and model.file_count() == 0


def test_proxy_filters_on_path_stage_and_reason_without_a_view(qapp, problems):
    model = ProblemTableModel()
    model.set_problems(problems)
    proxy = ProblemFilterProxy()
    proxy.setSourceModel(model)

    def shown() -> list[str]:
        return [proxy.index(r, 0).data(PATH_ROLE) for r in range(proxy.rowCount())]

    proxy.set_filter_text("  PERMISSION denied ")  # reason, any case, surrounding blanks ignored
    assert shown() == [p.path for p in problems if p.message == "Permission denied"]
    proxy.set_filter_text("Folder_07/")  # a folder in the full path, not in the file name
    assert shown() == [p.path for p in problems if "/folder_07/" in p.path]
    proxy.set_filter_text("THUMBNAIL")  # stage
    assert shown() == [p.path for p in problems if p.stage == "thumbnail"]
    proxy.set_filter_text("jpg analyse")  # never spans two fields
    assert shown() == []
    proxy.set_filter_text("   ")
    assert proxy.rowCount() == N


def test_model_sorts_itself_case_blind_and_stable_and_keeps_the_sort_on_refresh(qapp):
    given = [ImportProblem("/b/Zeta.jpg", "ingest", "beta"), ImportProblem("/a/alpha.jpg", "analyse", "Alpha"),
             ImportProblem("/c/zeta.jpg", "ingest", "BETA"), ImportProblem("/a/Beta.jpg", "thumbnail", "alpha")]
    model = ProblemTableModel()
    model.set_problems(given)
    layouts: list[str] = []
    model.layoutAboutToBeChanged.connect(lambda *a: layouts.append("about"))
    model.layoutChanged.connect(lambda *a: layouts.append("changed"))
    resets: list[bool] = []
    model.modelReset.connect(lambda: resets.append(True))

    def paths() -> list[str]:
        return [model.problem(r)[0] for r in range(model.rowCount())]

    assert model.sort_column() == -1
    model.sort(Column.REASON, Qt.SortOrder.AscendingOrder)
    # case ignored; equal keys keep the order given (Alpha before alpha, beta before BETA)
    assert paths() == ["/a/alpha.jpg", "/a/Beta.jpg", "/b/Zeta.jpg", "/c/zeta.jpg"]
    assert layouts == ["about", "changed"] and resets == []  # a layout change, not a reset
    model.sort(Column.REASON, Qt.SortOrder.DescendingOrder)
    assert paths() == ["/b/Zeta.jpg", "/c/zeta.jpg", "/a/alpha.jpg", "/a/Beta.jpg"]  # ties still as given
    model.sort(Column.FILE, Qt.SortOrder.AscendingOrder)
    assert [model.index(r, Column.FILE).data() for r in range(4)] == ["alpha.jpg", "Beta.jpg", "Zeta.jpg",
                                                                       "zeta.jpg"]
    assert (model.sort_column(), model.sort_order()) == (Column.FILE, Qt.SortOrder.AscendingOrder)

    layouts.clear()
    model.sort(Column.FILE, Qt.SortOrder.AscendingOrder)  # already in that order: nothing to announce
    assert layouts == []

    model.set_problems(list(reversed(given)))  # a refresh: sorted like before
    assert [model.index(r, Column.FILE).data() for r in range(4)] == ["alpha.jpg", "Beta.jpg", "zeta.jpg",
                                                                       "Zeta.jpg"]
    assert model.sort_column() == Column.FILE
    model.sort(-1, Qt.SortOrder.AscendingOrder)  # back to the order given to set_problems
    assert paths() == [p.path for p in reversed(given)]


class CountingModel(ProblemTableModel):
    """Counts the ``data()`` calls (a sorting proxy makes one per comparison)."""

    reads = 0

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        self.reads += 1
        return super().data(index, role)


def test_sorting_through_the_proxy_sorts_the_model_and_reads_no_cell(qapp, problems):
    model = CountingModel()
    model.set_problems(problems)
    proxy = ProblemFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_filter_text("permission")
    model.reads = 0
    proxy.sort(Column.REASON, Qt.SortOrder.DescendingOrder)
    proxy.sort(Column.FOLDER, Qt.SortOrder.AscendingOrder)
    model.set_problems(problems[:1000])  # a refresh keeps the sort without the proxy comparing cells
    assert model.reads == 0
    assert proxy.sortColumn() == -1 and proxy.dynamicSortFilter() is False  # the proxy only filters
    assert model.sort_column() == Column.FOLDER
    folders = [proxy.index(r, Column.FOLDER).data() for r in range(proxy.rowCount())]
    assert folders == sorted(folders) and len(folders) == sum(p.message == "Permission denied"
                                                              for p in problems[:1000])


def test_selection_and_persistent_indexes_follow_their_rows_when_sorted(panel, problems):
    model = panel.model
    kept = QPersistentModelIndex(model.index(5, Column.REASON))
    assert kept.data(PATH_ROLE) == problems[5].path
    selection = panel.view.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in (0, 2, 9):
        selection.select(panel.proxy.index(row, 0), flags)
    selection.setCurrentIndex(panel.proxy.index(2, Column.STAGE), QItemSelectionModel.SelectionFlag.NoUpdate)
    chosen = {as_rows(problems)[row] for row in (0, 2, 9)}

    panel.view.sortByColumn(Column.FILE, Qt.SortOrder.DescendingOrder)
    assert panel.rows()[0][0] == problems[-1].path  # img_04989.jpg sorts last ascending
    assert kept.isValid() and kept.data(PATH_ROLE) == problems[5].path and kept.column() == Column.REASON
    assert kept.row() == [r[0] for r in panel.rows()].index(problems[5].path)
    assert set(panel.selected_rows()) == chosen and len(panel.selected_rows()) == 3
    assert panel.selected_rows() == [r for r in panel.rows() if r in chosen]  # in display order
    current = panel.view.currentIndex()
    assert current.data(PATH_ROLE) == problems[2].path and current.column() == Column.STAGE

    panel.filter.setText("img_0000")  # rows 0 .. 9, still sorted by file, descending
    assert [r[0] for r in panel.rows()] == [problems[i].path for i in range(9, -1, -1)]
    assert set(panel.selected_rows()) == chosen


# -- the panel --------------------------------------------------------------------------------------

def test_panel_shows_every_problem_in_the_order_given(panel, problems):
    assert panel.rows() == as_rows(problems)
    assert panel.summary.text() == f"{N} problems in {N - 10} files"
    assert panel.view.model() is panel.proxy and panel.proxy.sourceModel() is panel.model
    assert panel.view.verticalHeader().sectionResizeMode(0) == panel.view.verticalHeader().ResizeMode.Fixed
    assert panel.view.isSortingEnabled() and panel.view.alternatingRowColors()


def test_filter_narrows_the_rows_and_the_summary_says_how_many(panel, problems):
    panel.filter.setText("search index")
    assert panel.rows() == as_rows(problems[-10:])
    assert panel.summary.text() == f"{N} problems in {N - 10} files, 10 shown"
    panel.filter.setText("img_0004")  # img_00040 .. img_00049
    assert [path for path, _, _ in panel.rows()] == [f"/archive/folder_{i % 40:02d}/img_{i:05d}.jpg"
                                                     for i in range(40, 50)]
    panel.filter.setText("no such thing")
    assert panel.rows() == []
    panel.filter.clear()
    assert len(panel.rows()) == N
    assert panel.summary.text() == f"{N} problems in {N - 10} files"


def test_sort_by_stage_is_stable_and_survives_filter_and_refresh(panel, problems):
    panel.view.sortByColumn(Column.STAGE, Qt.SortOrder.AscendingOrder)
    rows = panel.rows()
    order = sorted(set(STAGES) | {"index"})
    assert [stage for _, stage, _ in rows] == sorted((p.stage for p in problems), key=order.index)
    for stage in order:  # within a stage, the order given (newest first) is kept
        assert [r for r in rows if r[1] == stage] == [r for r in as_rows(problems) if r[1] == stage]

    panel.view.sortByColumn(Column.STAGE, Qt.SortOrder.DescendingOrder)
    assert next(stage for _, stage, _ in panel.rows()) == "thumbnail"
    assert [stage for _, stage, _ in panel.rows()][-1] == "analyse"

    panel.filter.setText("permission")
    stages = [stage for _, stage, _ in panel.rows()]
    assert stages == sorted(stages, reverse=True) and len(stages) == sum(p.message == "Permission denied"
                                                                         for p in problems)
    fewer = problems[:300]
    panel.set_problems(fewer)  # a refresh keeps both the filter and the sort
    assert panel.filter.text() == "permission"
    assert [stage for _, stage, _ in panel.rows()] == sorted((p.stage for p in fewer if p.message ==
                                                              "Permission denied"), reverse=True)

    panel.filter.clear()
    panel.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # back to the order given
    assert panel.rows() == as_rows(fewer)


def test_sort_by_file_ignores_case(qtbot):
    panel = ErrorsPanel()
    qtbot.addWidget(panel)
    panel.set_problems([ImportProblem("/x/b.jpg", "ingest", "r"), ImportProblem("/x/C.jpg", "ingest", "r"),
                        ImportProblem("/x/a.jpg", "ingest", "r")])
    panel.view.sortByColumn(Column.FILE, Qt.SortOrder.AscendingOrder)
    assert [path for path, _, _ in panel.rows()] == ["/x/a.jpg", "/x/b.jpg", "/x/C.jpg"]


def test_ctrl_c_copies_the_selected_rows_in_display_order(qtbot, panel, problems):
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("untouched")
    qtbot.keyClick(panel.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard.text() == "untouched"  # nothing selected, nothing copied

    panel.filter.setText("search index")
    panel.view.sortByColumn(Column.FILE, Qt.SortOrder.DescendingOrder)
    selection = panel.view.selectionModel()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in (3, 0):  # selected out of order
        selection.select(panel.proxy.index(row, 0), flags)
    shown = panel.rows()
    qtbot.keyClick(panel.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    expected = "\n".join("\t".join(r) for r in (shown[0], shown[3]))
    assert clipboard.text() == expected
    assert shown[0][0] == problems[-1].path and shown[0][1:] == ("index", "search index unreachable")
    assert expected.split("\n")[0].split("\t") == [problems[-1].path, "index", "search index unreachable"]


# -- the folder list -----------------------------------------------------------------------------------

FOLDERS = [("/data/photos/2019", 3), ("/data/photos/2020/", 5), ("/scans", 2)]


def test_folder_model_rows_display_and_roles(qapp):
    model = FolderListModel()
    assert model.rowCount() == 1 and model.index(0).data() == "All folders  (0)"
    model.set_folders(FOLDERS)
    assert model.rowCount() == 4
    assert model.rowCount(model.index(1)) == 0
    assert [model.index(r).data() for r in range(4)] == \
        ["All folders  (10)", "photos/2019  (3)", "photos/2020  (5)", "scans  (2)"]
    assert [model.index(r).data(NAME_ROLE) for r in range(4)] == ["", *(p for p, _ in FOLDERS)]
    assert [model.index(r).data(COUNT_ROLE) for r in range(4)] == [10, 3, 5, 2]
    assert [model.index(r).data(Qt.ItemDataRole.ToolTipRole) for r in range(4)] == \
        [None, *(p for p, _ in FOLDERS)]
    assert [model.row_of(f) for f in ("/scans", "/data/photos/2019", "", None, "/gone")] == [3, 1, 0, 0, 0]
    assert model.folder(0) == "" and model.folder(3) == "/scans" and model.folder(4) == ""

    many = [(f"/archive/{i:04d}", 1) for i in range(3000)]
    model.set_folders(many)
    assert model.rowCount() == 3001 and model.index(0).data() == "All folders  (3000)"
    assert model.index(3000).data() == "archive/2999  (1)"


def test_sidebar_folder_selection_keyboard_and_refresh(qtbot):
    sidebar = Sidebar()
    qtbot.addWidget(sidebar)
    seen: list[str] = []
    sidebar.folderChanged.connect(seen.append)
    sidebar.set_folders(FOLDERS)
    assert sidebar.selected_folder() is None and seen == []  # All folders, as before: no change
    assert sidebar.folders.currentIndex().row() == 0

    qtbot.keyClick(sidebar.folders, Qt.Key.Key_Down)
    qtbot.keyClick(sidebar.folders, Qt.Key.Key_Down)
    assert seen == ["/data/photos/2019", "/data/photos/2020/"]
    assert sidebar.selected_folder() == "/data/photos/2020/"
    qtbot.keyClick(sidebar.folders, Qt.Key.Key_Home)
    assert seen[-1] == "" and sidebar.selected_folder() is None
    qtbot.keyClick(sidebar.folders, Qt.Key.Key_End)
    assert seen[-1] == "/scans"

    seen.clear()
    sidebar.set_folders([("/new", 1), *FOLDERS])  # the selected folder is still listed: kept, no signal
    assert sidebar.selected_folder() == "/scans" and seen == []
    assert sidebar.folders.currentIndex().data() == "scans  (2)"
    sidebar.set_folders(FOLDERS[:2])  # it is gone: back to All folders, announced once
    assert sidebar.selected_folder() is None and seen == [""]
    assert sidebar.folders.currentIndex().row() == 0
