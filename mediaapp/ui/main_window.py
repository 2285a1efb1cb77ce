"""The main window: sidebar filters, search bar, thumbnail grid, detail view, import, errors.

The window owns one ``Library`` at a time, opened on a worker. Every call to
it goes through ``self.runner`` (``BackgroundRunner``); results that belong
to an older query are dropped by generation counters.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from mediaapp.core.types import ImportReport, Query, SortOrder
from mediaapp.failures import describe
from mediaapp.paths import is_below
from mediaapp.ui.background import BackgroundRunner, Generation
from mediaapp.ui.delegate import DEFAULT_THUMB_SIDE, ThumbnailDelegate
from mediaapp.ui.detail import DetailView
from mediaapp.ui.errors import ErrorsPanel
from mediaapp.ui.models import PAGE_SIZE, AssetListModel
from mediaapp.ui.progress import ImportStatus, format_report
from mediaapp.ui.sidebar import Sidebar
from mediaapp.ui.state import (
    KEY_DETAIL_SPLITTER,
    KEY_GEOMETRY,
    KEY_LAST_LIBRARY,
    KEY_MATCH_ALL,
    KEY_MIN_CONFIDENCE,
    KEY_SHOW_BOXES,
    KEY_SORT,
    KEY_SPLITTER,
    KEY_STATE,
    KEY_THUMB_SIDE,
    read_bool,
    read_int,
    ui_settings,
)
from mediaapp.ui.widgets import AssetGridView, SearchBar

#: Facet values fetched per field.
FACET_LIMIT = 200
SORT_TITLES = {SortOrder.RELEVANCE: "Best match", SortOrder.DATE: "Newest first", SortOrder.PATH: "By path"}


def open_library(path: str | Path):
    """Open (create) the library at ``path`` (blocking: run on a worker)."""
    from mediaapp.library import Library

    return Library(path)


def top_folders(folders: list[str]) -> list[str]:
    """``folders`` without those inside another listed folder (what to re-import recursively)."""
    out: list[str] = []
    for folder in sorted(set(folders)):
        if not is_below(folder, out):
            out.append(folder)
    return out


class MainWindow(QMainWindow):
    """The application window for the library at ``library_dir``.

    ``library_dir`` None opens nothing (call ``open_library``). Signals (GUI
    thread): ``libraryOpened(library)``, ``libraryFailed(message)``,
    ``importFinished(report)``, ``importFailed(message)``,
    ``importDeclined(reason)`` (the cost was not confirmed, or the estimate was cancelled),
    ``facetsUpdated()``, ``errorsUpdated(count)``.
    """

    libraryOpened = Signal(object)
    libraryFailed = Signal(str)
    importFinished = Signal(object)
    importFailed = Signal(str)
    importDeclined = Signal(str)
    facetsUpdated = Signal()
    errorsUpdated = Signal(int)

    def __init__(self, library_dir: str | Path | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("")  # the application's display name alone, until a library is open
        self.runner = BackgroundRunner(parent=self)
        self.runner.taskFailed.connect(lambda label, msg: self.statusBar().showMessage(f"{label} failed: {msg}",
                                                                                        15000))
        self.library = None
        self.library_dir: Path | None = None
        self._library_generation = Generation()
        self._facet_generation = Generation()
        self._info_generation = Generation()
        self._import_task = None
        self.cloud_dialog = None  # the cloud settings dialog while it is open
        self._closing = False
        self._text = ""
        self._labels: tuple[str, ...] = ()
        self._match_all = True
        self._persons: tuple[str, ...] = ()
        self._folder: str | None = None

        self.model = AssetListModel(self.runner, page_size=PAGE_SIZE, parent=self)
        self.delegate = ThumbnailDelegate(self)
        self.grid = AssetGridView()
        self.grid.setObjectName("grid")
        self.grid.setModel(self.model)
        self.grid.setItemDelegate(self.delegate)
        self.grid.openRequested.connect(self.open_detail)
        self.model.totalChanged.connect(self._update_count)
        self.model.busyChanged.connect(lambda _busy: self._update_count())
        self.model.pageLoaded.connect(self._on_page_loaded)
        self.model.searchFailed.connect(lambda msg: self.statusBar().showMessage(f"Search failed: {msg}", 15000))

        self.search = SearchBar()
        self.search.setObjectName("search")
        self.search.searchChanged.connect(self._on_text)
        self.sort = QComboBox()
        self.sort.setObjectName("sort")
        for order, title in SORT_TITLES.items():
            self.sort.addItem(title, order.value)
        self.sort.currentIndexChanged.connect(lambda _i: self._query_changed())
        self.sidebar = Sidebar()
        self.sidebar.setObjectName("sidebar")
        self.sidebar.folderChanged.connect(self._on_folder)
        self.sidebar.labelsChanged.connect(self._on_labels)
        self.sidebar.personsChanged.connect(self._on_persons)
        self.sidebar.confidenceChanged.connect(lambda _v: self._query_changed())

        self.hint = QLabel()
        self.hint.setObjectName("hint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(self.hint)
        results_layout.addWidget(self.grid, 1)
        self.detail = DetailView(self.runner)
        self.detail.setObjectName("detail")
        self.detail.closeRequested.connect(self.close_detail)
        self.detail.stepRequested.connect(self.step_detail)
        self.stack = QStackedWidget()
        self.stack.addWidget(results)
        self.stack.addWidget(self.detail)

        top = QHBoxLayout()
        top.setContentsMargins(4, 4, 4, 0)
        top.addWidget(self.search, 1)
        top.addWidget(QLabel("Sort"))
        top.addWidget(self.sort)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(top)
        right_layout.addWidget(self.stack, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([250, 950])
        self.setCentralWidget(self.splitter)

        self.errors_panel = ErrorsPanel()
        self.errors_panel.refreshRequested.connect(self.refresh_library_info)
        self.errors_dock = QDockWidget("Errors", self)
        self.errors_dock.setObjectName("errorsDock")
        self.errors_dock.setWidget(self.errors_panel)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.errors_dock)
        self.errors_dock.hide()

        self.count_label = QLabel()
        self.count_label.setObjectName("count")
        self.statusBar().addPermanentWidget(self.count_label)  # permanent: messages never hide it
        self.import_status = ImportStatus()
        self.import_status.cancelRequested.connect(self.cancel_import)
        self.statusBar().addPermanentWidget(self.import_status)

        self._make_actions()
        from mediaapp.ui.people_panel import install_people_panel
        self.people_panel = install_people_panel(self)  # People dock + menu (mediaapp.ui.people_panel)
        self.restore_state()
        self._update_count()
        if library_dir is not None:
            self.open_library(library_dir)

    # -- actions and menus ----------------------------------------------------------------------
    def _action(self, text: str, slot, shortcut=None, icon=None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _make_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.import_action = self._action("&Import folder…", self.choose_import_folder, "Ctrl+I",
                                          sp.SP_DirOpenIcon, "Import a folder (with its subfolders)")
        self.reanalyse_action = self._action("&Re-analyse with current models", self.reanalyse, None,
                                             sp.SP_BrowserReload,
                                             "Analyse every imported folder again with the current engines")
        self.open_action = self._action("&Open library…", self.choose_library, "Ctrl+O", sp.SP_DirIcon,
                                        "Open another library folder")
        self.settings_action = self._action("&Settings…", self.edit_settings, "Ctrl+,", None,
                                            "Analysis engines, face features, search backend")
        self.cloud_action = self._action("&Cloud (S3 + Rekognition)…", self.edit_cloud_settings, None, None,
                                         "Amazon S3 upload and Rekognition: engines per folder, budgets, "
                                         "connection test, cost estimate")
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.find_action = self._action("&Find", self.focus_search, "Ctrl+F", None, "Focus the search bar")
        self.boxes_action = self._action("Show &boxes", self.set_show_boxes, "Ctrl+B", None,
                                         "Draw the boxes of the matching labels over the thumbnails")
        self.boxes_action.setCheckable(True)
        self.boxes_action.setChecked(True)
        self.bigger_action = self._action("&Larger thumbnails", lambda: self.zoom(+1), "Ctrl++")
        self.smaller_action = self._action("&Smaller thumbnails", lambda: self.zoom(-1), "Ctrl+-")
        self.refresh_action = self._action("&Refresh", self.refresh, "F5", sp.SP_BrowserReload)
        self.about_action = self._action("&About", self.about)

        menu = self.menuBar().addMenu("&File")
        for a in (self.import_action, self.reanalyse_action, None, self.open_action, self.settings_action,
                  self.cloud_action, None, self.quit_action):
            menu.addSeparator() if a is None else menu.addAction(a)
        menu = self.menuBar().addMenu("&View")
        for a in (self.find_action, self.boxes_action, self.bigger_action, self.smaller_action, self.refresh_action):
            menu.addAction(a)
        errors_toggle = self.errors_dock.toggleViewAction()
        errors_toggle.setText("&Errors panel")
        errors_toggle.setShortcut(QKeySequence("Ctrl+E"))
        menu.addAction(errors_toggle)
        self.menuBar().addMenu("&Help").addAction(self.about_action)

    # -- library --------------------------------------------------------------------------------
    def open_library(self, path: str | Path) -> None:
        """Open the library at ``path`` in the background; ``libraryOpened`` follows."""
        if self._import_task is not None:
            self.statusBar().showMessage("Wait for the import to finish (or cancel it) first", 8000)
            return
        path = Path(path).expanduser()
        generation = self._library_generation.bump()
        self.statusBar().showMessage(f"Opening library {path}…")
        self.hint.setText(f"Opening {path}…")
        self.hint.show()
        self.runner.run(lambda ctx: open_library(path),
                        on_success=lambda lib: self._on_library_opened(generation, path, lib),
                        on_failure=lambda exc: self._on_library_failed(generation, path, exc),
                        label="open library")

    def _on_library_opened(self, generation: int, path: Path, library) -> None:
        if not self._library_generation.is_current(generation) or self._closing:
            self.runner.run(lambda ctx: library.close(), label="close library")
            return
        old, self.library = self.library, library
        self.library_dir = Path(library.root)
        if old is not None:
            self.runner.run(lambda ctx: old.close(), label="close library")
        ui_settings().setValue(KEY_LAST_LIBRARY, str(self.library_dir))
        self.setWindowTitle(str(self.library_dir))  # Qt appends the application's display name
        self.statusBar().clearMessage()
        self.close_detail()
        self.model.library = library
        self.model.cache.clear()
        self._query_changed()
        self.refresh_library_info()
        self.libraryOpened.emit(library)

    def _on_library_failed(self, generation: int, path: Path, exc: BaseException) -> None:
        if not self._library_generation.is_current(generation):
            return
        message = f"Cannot open the library {path}: {describe(exc, 'its catalog')}"
        self.hint.setText(message + "\nUse File ▸ Open library… to choose another folder.")
        self.hint.show()
        self.statusBar().showMessage(message)
        self.libraryFailed.emit(message)

    def choose_library(self) -> None:
        """Ask for a folder and open it as the library."""
        start = str(self.library_dir.parent) if self.library_dir else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open library folder", start)
        if folder:
            self.open_library(folder)

    def refresh_library_info(self) -> None:
        """Reload the folder list and the errors panel in the background."""
        library = self.library
        if library is None:
            return
        generation = self._info_generation.bump()
        self.runner.run(lambda ctx: (library.folders(), library.errors()),
                        on_success=lambda result: self._on_library_info(generation, result),
                        label="library info")

    def _on_library_info(self, generation: int, result) -> None:
        if not self._info_generation.is_current(generation):
            return
        folders, problems = result
        self.sidebar.set_folders(folders)
        self.errors_panel.set_problems(problems)
        self.errors_dock.setWindowTitle(f"Errors ({len(problems)})" if problems else "Errors")
        self.errorsUpdated.emit(len(problems))

    def refresh(self) -> None:
        """Run the search again and reload folders, facets and errors."""
        self._query_changed()
        self.refresh_library_info()

    # -- query ----------------------------------------------------------------------------------
    def current_query(self) -> Query:
        """The ``Query`` the filters describe now (first page)."""
        return Query(text=self._text, labels=self._labels, match_all=self._match_all,
                     min_confidence=float(self.sidebar.min_confidence()), persons=self._persons,
                     folder=self._folder, sort=SortOrder(self.sort.currentData() or SortOrder.RELEVANCE.value),
                     limit=self.model.page_size, offset=0)

    def _on_text(self, text: str) -> None:
        self._text = text
        self._query_changed()

    def _on_folder(self, folder: str) -> None:
        self._folder = folder or None
        self._query_changed()

    def _on_labels(self, labels: tuple, match_all: bool) -> None:
        self._labels, self._match_all = tuple(labels), bool(match_all)
        self._query_changed()

    def _on_persons(self, persons: tuple) -> None:
        self._persons = tuple(persons)
        self._query_changed()

    def _query_changed(self) -> None:
        if self.library is None:
            return
        query = self.current_query()
        if self.stack.currentWidget() is self.detail:
            self.close_detail()
        self.model.set_query(query)
        self._refresh_facets(query)
        self._update_count()

    def _refresh_facets(self, query: Query) -> None:
        library = self.library
        generation = self._facet_generation.bump()
        # "all of": counts within the current matches (drill down); "any of": counts without the
        # label filter, so every label that could be added is listed. People are always "any of".
        label_query = query if query.match_all else replace(query, labels=())
        person_query = replace(query, persons=())

        def facets(ctx):
            return library.facets(label_query, "labels", FACET_LIMIT), library.facets(person_query, "persons",
                                                                                      FACET_LIMIT)

        self.runner.run(facets, on_success=lambda result: self._on_facets(generation, result), label="facets")

    def _on_facets(self, generation: int, result) -> None:
        if not self._facet_generation.is_current(generation):
            return
        labels, persons = result
        self.sidebar.labels.set_counts(labels)
        self.sidebar.persons.set_counts(persons)
        self.facetsUpdated.emit()

    def _update_count(self, *_args) -> None:
        if self.library is None:
            self.count_label.setText("No library open")
            return
        if self.model.busy and self.model.rowCount() == 0:
            self.count_label.setText("Searching…")
            return
        total = self.model.total
        filtered = any((self._text, self._labels, self._persons, self._folder))
        self.count_label.setText(f"{total} matching images" if filtered else f"{total} images")
        if total == 0 and not self.model.busy:
            self.hint.setText("No image matches these filters." if filtered else
                              "This library is empty. Use File ▸ Import folder… (Ctrl+I) to add photos.")
            self.hint.show()
        else:
            self.hint.hide()

    def _on_page_loaded(self, _generation: int, offset: int, _count: int) -> None:
        self._update_count()
        if offset == 0 and self.model.rowCount() and not self.grid.currentIndex().isValid():
            # a current cell without selecting it, so the arrow keys start from the first image
            self.grid.selectionModel().setCurrentIndex(self.model.index(0), QItemSelectionModel.SelectionFlag.NoUpdate)

    # -- import ---------------------------------------------------------------------------------
    def choose_import_folder(self) -> None:
        """Ask for a folder and import it."""
        folder = QFileDialog.getExistingDirectory(self, "Import folder", str(Path.home()))
        if folder:
            self.start_import([folder])

    def start_import(self, paths: list[str | Path], *, reanalyse: bool = False):
        """Import ``paths`` in the background with progress in the status bar.

        When the import may call Amazon Rekognition (the library's engines or
        a folder rule name it), its cost is estimated first on a worker
        (``CostEstimator.estimate_import``: images x analyses x price,
        minus what is stored, against the run and month budgets) and
        ``confirm_cost`` asks to proceed; nothing is imported before. Returns
        the ``BackgroundTask`` running now (the estimate's or the import's),
        or None when no library is open or an import already runs.
        ``importFinished(report)`` follows an import, ``importDeclined(reason)``
        an estimate not confirmed.
        """
        library = self.library
        if library is None or self._import_task is not None:
            self.statusBar().showMessage("An import is already running" if library else "No library open", 8000)
            return None
        from mediaapp.services.estimate import needs_cloud

        paths = [str(p) for p in paths]
        self.import_status.start("Re-analysing" if reanalyse else "Importing")
        for action in self._import_actions():
            action.setEnabled(False)
        self._last_stage = None
        if needs_cloud(library.settings):
            return self._estimate_then_import(library, paths, reanalyse)
        return self._run_import(library, paths, reanalyse)

    def _import_actions(self) -> tuple:
        """The actions disabled while an import (or its cost estimate) runs."""
        return (self.import_action, self.reanalyse_action, self.open_action, self.settings_action,
                self.cloud_action)

    def _estimate_then_import(self, library, paths: list[str], reanalyse: bool):
        from mediaapp.services.estimate import describe_estimate

        class Stopped(Exception):
            """The user cancelled while the cost was being estimated."""

        def work(ctx):
            def progress(done: int, total: int) -> None:
                if ctx.cancelled:
                    raise Stopped()
                ctx.progress(f"estimating the Rekognition cost: reading {done}/{total} files…")
            return library.costs.estimate_import(paths, reanalyse=reanalyse, progress=progress)

        def estimated(est) -> None:
            if est is None or est.calls == 0:  # nothing to pay for: no question
                self._import_task = None
                self._run_import(library, paths, reanalyse)
                return
            self._decide(library, paths, reanalyse, "\n".join(describe_estimate(est)))

        def failed(exc: BaseException) -> None:
            if isinstance(exc, Stopped):
                self._import_declined("Import cancelled")
                return
            self._decide(library, paths, reanalyse, f"The cost could not be estimated: {exc}\n"
                                                    "The run and month budgets still apply.")

        self.import_status.show_message("estimating the Rekognition cost…")
        self._import_task = self.runner.run(work, estimated, failed, self.import_status.show_message,
                                            label="estimate cost")
        return self._import_task

    def _decide(self, library, paths: list[str], reanalyse: bool, text: str) -> None:
        self._import_task = None
        if self._closing or library is not self.library:
            self._import_declined("Import not started: the library changed")
        elif self.confirm_cost(text):
            self._run_import(library, paths, reanalyse)
        else:
            self._import_declined("Import cancelled: the Rekognition cost was not confirmed")

    def _import_declined(self, reason: str) -> None:
        self._import_ended()
        self.statusBar().showMessage(reason, 15000)
        self.importDeclined.emit(reason)

    def confirm_cost(self, text: str) -> bool:
        """Ask whether to import with the Rekognition cost ``text`` shown; True for Proceed (modal)."""
        box = QMessageBox(QMessageBox.Icon.Question, "Amazon Rekognition cost",
                          "This import calls Amazon Rekognition, which AWS bills per image and analysis.", parent=self)
        box.setInformativeText(text)
        proceed = box.addButton("Proceed", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.exec()
        return box.clickedButton() is proceed

    def _run_import(self, library, paths: list[str], reanalyse: bool):
        """Start the import itself; S3 upload bytes and files join the progress line."""
        from mediaapp.cloud.transfers import watch_uploads

        def work(ctx):
            latest: list = []

            def push(progress=None) -> None:  # import thread and upload threads
                if progress is not None:
                    latest[:] = [progress]
                if latest:
                    ctx.progress((latest[0], watch.totals()))

            with watch_uploads(on_bytes=lambda n: push(), on_file=lambda uploaded: push(),
                               cancel=ctx.cancel) as watch:
                return library.import_paths(paths, progress=push, cancel=ctx.cancel, reanalyse=reanalyse)

        self._import_task = self.runner.run(work, on_success=self._on_import_done, on_failure=self._on_import_failed,
                                            on_progress=self._on_import_progress, label="import")
        return self._import_task

    def cancel_import(self) -> None:
        """Ask the running import to stop at the next file."""
        if self._import_task is not None:
            self._import_task.cancel()
            self.statusBar().showMessage("Cancelling the import…", 5000)

    def reanalyse(self) -> None:
        """Re-run the analyses of every imported folder with the current models."""
        library = self.library
        if library is None or self._import_task is not None:
            return
        self.runner.run(lambda ctx: [f for f, _ in library.folders()],
                        on_success=lambda folders: self.start_import(top_folders(folders), reanalyse=True)
                        if folders else self.statusBar().showMessage("Nothing imported yet", 5000),
                        label="folders")

    def _on_import_progress(self, value) -> None:
        progress, uploads = value if isinstance(value, tuple) else (value, None)
        self.import_status.update_progress(progress, uploads)
        if progress.stage != self._last_stage:
            if self._last_stage == "ingest":  # new files are searchable by name while they are analysed
                self.refresh()
            self._last_stage = progress.stage

    def _import_ended(self) -> None:
        self._import_task = None
        self.import_status.finish()
        for action in self._import_actions():
            action.setEnabled(True)

    def _on_import_done(self, report: ImportReport) -> None:
        self._import_ended()
        self.statusBar().showMessage(format_report(report) + (" — see the Errors panel" if report.failed else ""),
                                     30000)
        if report.failed and self.errors_dock.isHidden():
            self.errors_dock.show()
            self.resizeDocks([self.errors_dock], [max(120, self.height() // 6)], Qt.Orientation.Vertical)
        self.refresh()
        self.importFinished.emit(report)

    def _on_import_failed(self, exc: BaseException) -> None:
        self._import_ended()
        message = f"Import failed: {exc}"
        self.statusBar().showMessage(message, 30000)
        self.refresh()
        self.importFailed.emit(message)

    # -- detail ---------------------------------------------------------------------------------
    def open_detail(self, index: QModelIndex) -> None:
        """Show the detail view of the grid cell ``index``."""
        if not index.isValid() or self.library is None:
            return
        row = self.model.row(index.row())
        self.grid.setCurrentIndex(index)
        self.detail.show_row(self.library, row.sha256, row.path, row.thumbnail_paths)
        self.stack.setCurrentWidget(self.detail)
        self.detail.setFocus()

    def close_detail(self) -> None:
        """Back from the detail view to the grid (keeps the current cell)."""
        if self.stack.currentWidget() is not self.detail:
            return
        self.stack.setCurrentIndex(0)
        self.grid.setFocus()
        if self.grid.currentIndex().isValid():
            self.grid.scrollTo(self.grid.currentIndex())

    def step_detail(self, delta: int) -> None:
        """Show the previous (-1) or next (+1) image in the detail view."""
        current = self.grid.currentIndex().row()
        target = current + delta
        if target >= self.model.rowCount() and self.model.canFetchMore():
            self.model.fetchMore()
        if 0 <= target < self.model.rowCount():
            self.open_detail(self.model.index(target))

    # -- view -----------------------------------------------------------------------------------
    def focus_search(self) -> None:
        """Put the keyboard focus in the search bar (Ctrl+F)."""
        self.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search.selectAll()

    def set_show_boxes(self, on: bool) -> None:
        """Show or hide the boxes over the thumbnails."""
        self.delegate.show_boxes = bool(on)
        if self.boxes_action.isChecked() != bool(on):
            self.boxes_action.setChecked(bool(on))
        self.grid.viewport().update()

    def zoom(self, step: int) -> None:
        """Grow (+1) or shrink (-1) the thumbnails by 20%."""
        side = self.delegate.thumb_side
        self.set_thumb_side(round(side * 1.2) if step > 0 else round(side / 1.2))

    def set_thumb_side(self, side: int) -> None:
        """Set the thumbnail size (pixels) and lay the grid out again."""
        self.delegate.set_thumb_side(side)
        self.delegate.sizeHintChanged.emit(QModelIndex())
        self.grid.setUniformItemSizes(False)  # drops the cached cell size
        self.grid.setUniformItemSizes(True)
        self.grid.doItemsLayout()

    def about(self) -> None:
        """The About box."""
        QMessageBox.about(self, "About Media Library",
                          "<b>Media Library</b><br>Import folders of photos, find them by the objects, text "
                          "and people in them.<br>Library: " + (str(self.library_dir) if self.library_dir else "none"))

    def edit_settings(self) -> None:
        """Open the Settings dialog (the library's settings.json); saving applies it to the open library.

        A ``settings.json`` that cannot be read is explained in a message box naming the bad key."""
        library = self.library
        if library is None:
            return
        from mediaapp.settings import load_settings

        root = library.root
        self.runner.run(lambda ctx: load_settings(root), on_success=lambda s: self._show_settings(root, s),
                        on_failure=lambda exc: QMessageBox.warning(self, "Settings cannot be read", str(exc)),
                        label="load settings")

    def edit_cloud_settings(self) -> None:
        """Open the cloud settings dialog (S3, Rekognition, engines per folder, budgets).

        Saving updates the open library's settings (``Library.update_settings``): the next import uses
        them, without reopening the library."""
        library = self.library
        if library is None or self._import_task is not None:
            return
        from mediaapp.ui.cloud_dialog import CloudSettingsDialog

        dialog = CloudSettingsDialog(library, self, self.runner)
        self.cloud_dialog = dialog  # reachable while it is open (tests, scripting)
        try:
            if dialog.exec() == QDialog.DialogCode.Accepted and dialog.saved:
                self.statusBar().showMessage("Cloud settings saved", 5000)
        finally:
            self.cloud_dialog = None
            dialog.deleteLater()

    def _show_settings(self, root: Path, settings: dict) -> None:
        from mediaapp.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(settings, self, runner=self.runner)  # no thread pool of its own
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return
            values = dialog.values()
        finally:
            dialog.deleteLater()  # parented to the window: without this every use would leave one behind
        if values == settings:
            return
        from mediaapp.settings import Settings, SettingsError, save_settings

        try:
            checked = Settings.from_mapping(values)
        except SettingsError as exc:
            QMessageBox.warning(self, "Settings not saved", str(exc))
            return

        def saved(_result) -> None:
            library = self.library
            if library is None or Path(library.root) != Path(root).resolve() or library.needs_reopen(checked):
                self.open_library(root)  # a new search backend or worker count is built when a library opens
            else:
                library.update_settings(**checked.to_dict())  # the next import and edit follow them
                self.statusBar().showMessage("Settings saved", 5000)

        self.runner.run(lambda ctx: save_settings(root, checked), on_success=saved, label="save settings")

    # -- state ----------------------------------------------------------------------------------
    def save_state(self) -> None:
        """Remember the window layout, toggles and filters in QSettings."""
        s = ui_settings()
        s.setValue(KEY_GEOMETRY, self.saveGeometry())
        s.setValue(KEY_STATE, self.saveState())
        s.setValue(KEY_SPLITTER, self.splitter.saveState())
        s.setValue(KEY_DETAIL_SPLITTER, self.detail.splitter.saveState())
        s.setValue(KEY_SHOW_BOXES, self.delegate.show_boxes)
        s.setValue(KEY_THUMB_SIDE, self.delegate.thumb_side)
        s.setValue(KEY_MIN_CONFIDENCE, self.sidebar.min_confidence())
        s.setValue(KEY_MATCH_ALL, self.sidebar.match_all.isChecked())
        s.setValue(KEY_SORT, self.sort.currentData())
        s.sync()

    def restore_state(self) -> None:
        """Apply what ``save_state`` remembered (defaults when nothing is stored)."""
        s = ui_settings()
        geometry = s.value(KEY_GEOMETRY)
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        state = s.value(KEY_STATE)
        if state is not None:
            self.restoreState(state)
        splitter = s.value(KEY_SPLITTER)
        if splitter is not None:
            self.splitter.restoreState(splitter)
        detail_splitter = s.value(KEY_DETAIL_SPLITTER)
        if detail_splitter is not None:
            self.detail.restore_splitter(detail_splitter)
        self.set_show_boxes(read_bool(s, KEY_SHOW_BOXES, True))
        self.set_thumb_side(read_int(s, KEY_THUMB_SIDE, DEFAULT_THUMB_SIDE))
        self.sidebar.set_min_confidence(read_int(s, KEY_MIN_CONFIDENCE, 50))
        if not read_bool(s, KEY_MATCH_ALL, True):
            self.sidebar.match_any.setChecked(True)
        self._match_all = self.sidebar.match_all.isChecked()
        index = self.sort.findData(s.value(KEY_SORT, SortOrder.RELEVANCE.value))
        if index >= 0:
            self.sort.setCurrentIndex(index)

    def shutdown(self) -> None:
        """Save state, stop background work and close the library (blocks until workers stop)."""
        if self._closing:
            return
        self._closing = True
        self.save_state()
        self.model.loader.cancel_all()
        stopped = self.runner.shutdown()
        self.model.loader.pool.waitForDone(10000)
        if self.library is not None:
            if stopped:  # a worker still inside the library keeps it; the catalog is crash-safe anyway
                self.library.close()
            self.library = None
            self.model.library = None

    def closeEvent(self, event: QCloseEvent) -> None:
        """Closing the window cancels an import (it resumes next time) and closes the library."""
        self.hide()  # the window goes at once; stopping the workers may take a moment longer
        self.shutdown()
        event.accept()
