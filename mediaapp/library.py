"""The composition root: ``Library`` builds one library's parts and wires them together.

A ``Library`` is an explicit object (no app-wide singleton) owning one
library folder::

    <library>/catalog.sqlite     assets, files, analyses, detections, faces, errors, the change feed
    <library>/index.sqlite       the embedded FTS5 search index (rebuildable)
    <library>/thumbnails/ab/<sha256>.jpg
    <library>/faces/ab/<sha256>_<n>.jpg
    <library>/settings.json

The work is done by the parts it builds (ARCHITECTURE.md): the import
pipeline (``mediaapp.services.importer``), search sync, the change feed's
first consumer (``mediaapp.services.indexing``), queries
(``mediaapp.services.queries``) and People (``mediaapp.services.people_service``).
The GUI and the CLI call the library's methods, or its services through
their attributes; nothing else reaches into its catalog or indexes.
Methods block; the GUI calls them from worker threads, never the GUI thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from mediaapp.analysis.engine_base import EngineContext, EngineUnavailableError
from mediaapp.analysis.registry import clear_engines, engine_class
from mediaapp.catalog.db import Catalog
from mediaapp.core.apis import parse_api
from mediaapp.core.types import (
    CLOUD_ENGINE,
    LOCAL_ENGINE,
    Asset,
    Detection,
    DetectionKind,
    ImportProblem,
    ImportReport,
    IndexDocument,
    Json,
    Query,
    SearchPage,
)
from mediaapp.fsio import is_private, make_private, make_private_dir, make_private_tree
from mediaapp.search.factory import create_index, open_embedded_index
from mediaapp.search.index_base import FacetCount, SearchIndex
from mediaapp.services.indexing import SearchSync
from mediaapp.services.progress import ImportProgress, ProgressCallback
from mediaapp.services.queries import Queries
from mediaapp.settings import Settings, read_settings

if TYPE_CHECKING:
    from mediaapp.services.costs import CostEstimator
    from mediaapp.services.face_collection import FaceCollection
    from mediaapp.services.importer import ImportPipeline
    from mediaapp.services.people_service import People
    from mediaapp.services.relabel import Relabel
    from mediaapp.services.results import ResultsExchange
    from mediaapp.services.sidecars import SidecarProgress, SidecarReport, SidecarWriter
    from mediaapp.services.similar import DuplicateGroup, Similar
    from mediaapp.services.watch import FolderWatcher, WatchChange
    from mediaapp.tasks import CancelToken, WorkerPool

__all__ = ["ImportProgress", "Library", "ProgressCallback", "keep_private"]

_T = TypeVar("_T")


def keep_private(root: Path) -> None:
    """Create the library folder ``root`` readable by its owner only, and tighten an older library.

    The library holds face embeddings and crops (biometric data, GDPR art.
    9) and thumbnails of private photos: the folder gets mode 0700, its
    files 0600 (``mediaapp.fsio``). A library made before this was enforced
    is fixed once, when its ``faces`` or ``thumbnails`` folder is found
    open to others; symbolic links are never followed (a folder kept
    elsewhere is left as its owner set it). Raises ``FileExistsError`` when ``root`` is a file and
    ``OSError`` when it cannot be created.
    """
    make_private_dir(root)
    for name in ("faces", "thumbnails"):  # created owner-only on first write (mediaapp.fsio.atomic_writer)
        folder = root / name
        if folder.is_dir() and not folder.is_symlink() and not is_private(folder):
            make_private_tree(folder)
    if not (root / "settings.json").is_symlink():
        make_private(root / "settings.json")


class Library:
    """One media library at ``root`` (created if missing), with its parts wired.

    ``settings`` overrides keys of the stored settings for this session
    (not saved). ``index`` replaces the configured search backend (tests).
    ``sync``: index the changes a killed run left in the change feed while
    opening (a write); False opens for reading only (``mediaapp search``),
    so another process writing the library never makes the open wait.
    A damaged, deleted or emptied embedded index is found while opening
    (``index_problem``; a damaged file is moved aside) and rebuilt by
    ``rebuild_index``.
    Raises ``mediaapp.settings.SettingsError`` naming the key of a bad
    ``settings.json`` (before anything is opened), and
    ``sqlite3.DatabaseError`` when the catalog file is not a database.

    Parts: ``catalog``; ``local_index`` (the embedded index, always kept up
    to date: it answers when a remote backend is down) and ``index`` (the
    configured one); ``search_sync`` (the change feed's search consumer);
    ``queries``; and, built on first use so that a search loads none of
    them, ``people``; ``costs`` (estimates); ``results`` (export and import
    of stored responses); ``importer``; ``pool`` (worker processes).
    """

    def __init__(self, root: str | Path, settings: Json | None = None, index: SearchIndex | None = None, *,
                 sync: bool = True):
        self.root = Path(root).expanduser().resolve()
        keep_private(self.root)
        #: The checked settings (``mediaapp.settings.Settings``); ``settings`` overrides keys for this session.
        self.settings = read_settings(self.root).replace(**(settings or {}))
        self.catalog = Catalog(self.root / "catalog.sqlite")
        self.thumbnail_dir = self.root / "thumbnails"
        try:
            self.local_index, damaged = open_embedded_index(self.root)
        except BaseException:
            self.catalog.close()  # the index cannot be opened or set aside: release the catalog before raising
            raise
        backend = self.settings.index.get("backend", "sqlite")
        if index is None:
            index = self.local_index if backend == "sqlite" else create_index(backend, self.root,
                                                                               dict(self.settings.index))
        self.index = index
        self.search_sync = SearchSync(self.catalog, self.local_index, None if index is self.local_index else index)
        self.queries = Queries(self.catalog, self.index, self.local_index)
        self._parts: dict[str, Any] = {}  # the parts built on first use (see _part)
        self._parts_lock = threading.RLock()  # a part may need another part while it is built
        self._opened = self.settings
        #: False for a library opened for reading only (``sync=False``): nothing derived is rewritten either.
        self._writes = sync
        #: Why the embedded index must be rebuilt from the catalog before its answers are complete
        #: (damaged, deleted or emptied), or None; ``rebuild_index`` does it and clears this.
        self.index_problem = damaged or self.search_sync.missing_documents()
        if sync and self.index_problem is None:
            self.sync_index()  # index changes a killed run left marked (usually none)

    def _settings(self) -> Settings:
        return self.settings

    # -- parts built on first use: a search loads no worker pool, People, importer or engine ---------
    def _part(self, name: str, make: Callable[[], _T]) -> _T:
        """The part ``name``, built by ``make()`` the first time it is asked for (thread-safe)."""
        with self._parts_lock:
            if name not in self._parts:
                self._parts[name] = make()
            return cast(_T, self._parts[name])

    @property
    def pool(self) -> WorkerPool:
        """The worker processes and threads (``tasks.WorkerPool``) of imports and People."""
        from mediaapp.tasks import WorkerPool

        return self._part("pool", lambda: WorkerPool(self.settings.workers))

    @property
    def people(self) -> People:
        """Faces, named persons and groups; its edits mark the change feed, and ``sync_index`` indexes them."""
        from mediaapp.services.people_service import People

        return self._part("people", lambda: People(self.catalog, self.root / "faces", self._settings, self.pool,
                                                   self._changed))

    @property
    def costs(self) -> CostEstimator:
        """Cost estimates before an import (``services/costs.CostEstimator``)."""
        from mediaapp.services.costs import CostEstimator

        return self._part("costs", lambda: CostEstimator(self.catalog, self.root, self._settings, self.engine_config))

    @property
    def results(self) -> ResultsExchange:
        """Export and import of stored responses (``services/results.ResultsExchange``)."""
        from mediaapp.services.results import ResultsExchange

        return self._part("results", lambda: ResultsExchange(self.catalog, self.root, self._settings,
                                                             self.costs.analysis_params, self._changed))

    @property
    def importer(self) -> ImportPipeline:
        """The import pipeline (``services/importer.ImportPipeline``)."""
        from mediaapp.services.importer import ImportPipeline

        return self._part("importer", lambda: ImportPipeline(self.catalog, self.thumbnail_dir, self.pool,
                                                             self._settings, self.people, self.search_sync,
                                                             self.engine_config))

    @property
    def relabel(self) -> Relabel:
        """Photos an older label model labelled, the relabelling estimate and its one-time notice
        (``services/relabel.Relabel``)."""
        from mediaapp.services.relabel import Relabel

        return self._part("relabel", lambda: Relabel(self.catalog, self.root, self._settings))

    def update_settings(self, **changes: Any) -> Settings:
        """Apply ``changes`` (setting name -> JSON-like value) to this session's settings; returns them.

        Checked as ``settings.json`` is (``SettingsError`` names a bad key;
        nothing changes then). Not saved: ``mediaapp.settings.save_settings``
        does that. The services read the settings on each use, so the next
        import, search or People edit follows them without reopening the
        library; a changed search backend (``index``) or worker count
        (``workers``) takes effect when the library is opened again
        (``needs_reopen``).
        """
        self.settings = self.settings.replace(**changes)
        return self.settings

    def needs_reopen(self, settings: Settings) -> bool:
        """Whether ``settings`` change what this library built at opening: its search backend or worker count."""
        return (dict(settings.index), settings.workers) != (dict(self._opened.index), self._opened.workers)

    # -- import --------------------------------------------------------------------------------
    def import_paths(self, paths: Iterable[str | Path], *, engines: list[str] | None = None,
                     apis: list[str] | None = None, progress: ProgressCallback | None = None,
                     cancel: CancelToken | None = None, reanalyse: bool = False) -> ImportReport:
        """Import files and folders; see ``ImportPipeline.import_paths``."""
        report = self.importer.import_paths(paths, engines=engines, apis=apis, progress=progress, cancel=cancel,
                                            reanalyse=reanalyse)
        self.write_sidecars()  # opted-in folders' sidecars follow the new labels (a no-op while off)
        self._refresh_vectors()
        return report

    # -- similar photos (``services/similar.Similar``) --------------------------------------------
    @property
    def similar(self) -> Similar:
        """"More like this" and near-duplicates (``services/similar.Similar``) over the embedded index's vectors."""
        from mediaapp.services.similar import Similar

        return self._part("similar", lambda: Similar(self.catalog, self.local_index.vectors))

    def _refresh_vectors(self) -> None:
        """Bring the vector store up to date after new embeddings; a failure is logged, the next query retries."""
        import sqlite3

        try:
            self.similar.store.prune()  # the rows of files removed since
            self.similar.refresh()
        except (OSError, sqlite3.Error) as exc:  # derived data: the next import or "like" query retries
            import logging
            logging.getLogger(__name__).warning("cannot update the similar-photos vectors: %s", exc)

    def like(self, path: str | Path) -> str:
        """The sha256 to put in ``Query.like`` for "more like this" of the imported file ``path``.

        Raises ``services.similar.NotImportedError`` (a ``LookupError``) when
        ``path`` is not imported or has no embedding. Blocks. Brings the
        vector store up to date first (may rewrite it), except in a library
        opened for reading only (``sync=False``, ``mediaapp search --like``):
        that one answers from the store as the last import left it and
        writes nothing (``Similar.example(refresh=False)``).
        """
        return self.similar.example(path, refresh=self._writes)

    def duplicates(self, progress: Callable[[int, int], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> list[DuplicateGroup]:
        """Near-duplicate groups, the suggested keeper first in each; see ``Similar.duplicates``. Blocks."""
        return self.similar.duplicates(progress, should_stop)

    def hide_assets(self, sha256s: Iterable[str], keeper: str | None = None) -> list[str]:
        """Hide ``sha256s`` (never ``keeper``) from search results; returns those hidden. See ``Similar.hide``."""
        hidden = self.similar.hide(sha256s, keeper)
        self.reindex_assets(hidden)
        return hidden

    def unhide_assets(self, sha256s: Iterable[str]) -> None:
        """Show ``sha256s`` in search results again."""
        shas = list(sha256s)
        self.similar.unhide(shas)
        self.reindex_assets(shas)

    def move_files(self, paths: Iterable[str | Path], folder: str | Path) -> tuple[list[tuple[str, str]], list[str]]:
        """Move files into ``folder`` and record it in the catalog and index; see ``Similar.move``. Blocks."""
        moves, problems = self.similar.move([str(p) for p in paths], folder)
        if moves:  # a RAW+JPEG pair split or joined by the move is restacked, then indexed (as the watcher does)
            self.restack_folders({os.path.dirname(p) for move in moves for p in move})
        return moves, problems

    # -- XMP sidecars --------------------------------------------------------------------------
    @property
    def sidecars(self) -> SidecarWriter:
        """The XMP sidecar writer, the change feed's ``sidecars`` consumer (``services/sidecars.SidecarWriter``).

        Its ``is_own_write(path)`` tells the folder watcher which events are its own writes.
        """
        from mediaapp.services.sidecars import SidecarWriter

        return self._part("sidecars", lambda: SidecarWriter(self.catalog, self._settings))

    def write_sidecars(self, paths: Iterable[str | Path] | None = None, progress: SidecarProgress | None = None,
                       cancel: Callable[[], bool] | None = None) -> SidecarReport:
        """Write the XMP sidecars the change feed has pending, or those of the assets under ``paths``.

        Only folders with sidecars on (``Settings.sidecars``) are written;
        a no-op while they are off everywhere. See ``SidecarWriter.write``.
        Blocking: the GUI calls it on a worker.
        """
        return self.sidecars.write(None if paths is None else [str(p) for p in paths], progress, cancel)

    def _changed(self) -> None:
        """After an edit outside imports (People, imported results): index the change and write the sidecars."""
        self.sync_index()
        self.write_sidecars()

    def watcher(self, paths: Iterable[str | Path] | None = None,
                on_change: Callable[[WatchChange], None] | None = None, *,
                ignore: Callable[[Path], bool] | None = None, **options: Any) -> FolderWatcher:
        """A ``services/watch.FolderWatcher`` of ``paths`` (default: ``settings.watch_folders``), not started yet.

        New, changed, moved and deleted files there reach this library
        through ``import_paths`` (its engines and folder rules; then the
        sidecars of opted-in folders), moves and deletions restack their
        folders' RAW+JPEG pairs through ``restack_folders``;
        ``on_change(WatchChange)`` is called on the watcher's thread;
        ``ignore(path)`` is True for this application's own writes (default:
        the sidecar writer's ``is_own_write``). ``settings.watch_polling`` and
        ``watch_reconcile_s`` give ``force_polling`` and ``reconcile_s``
        unless ``options`` (``FolderWatcher``'s keywords) name them. The
        library keeps it until it stops (its ``on_stopped``), and stops it
        on ``close``. Call ``start()`` on it; it runs on its own thread.
        """
        from mediaapp.services.watch import FolderWatcher

        options.setdefault("force_polling", self.settings.watch_polling)
        options.setdefault("reconcile_s", self.settings.watch_reconcile_s)
        watcher = FolderWatcher(self.settings.watch_folders if paths is None else paths, importer=self,
                                catalog=self.catalog, search=self.search_sync, library_root=self.root,
                                on_change=on_change or (lambda change: None),
                                ignore=self.sidecars.is_own_write if ignore is None else ignore,
                                on_stopped=self._forget_watcher, **options)
        with self._parts_lock:
            self._parts.setdefault("watchers", []).append(watcher)
        return watcher

    def _forget_watcher(self, watcher: FolderWatcher) -> None:
        """A watcher stopped: drop it from the ones ``close`` stops (each On/Off of the window makes one)."""
        with self._parts_lock:
            watchers = self._parts.get("watchers", [])
            if watcher in watchers:
                watchers.remove(watcher)

    @property
    def watchers(self) -> list[FolderWatcher]:
        """The watchers made by ``watcher`` that have not stopped yet (a copy)."""
        with self._parts_lock:
            return list(self._parts.get("watchers", []))

    def pending_downloads(self, apis: list[str] | None = None, engines: list[str] | None = None) -> dict[str, int]:
        """What the next import would download once before analysing: description -> size in bytes.

        Asks each engine of ``engines`` (None: the settings', the library's
        and those its folder rules name) for the analyses ``apis`` (API names as ``import_paths``
        takes them; None: the settings' ``apis``; ``EngineBase.pending_downloads``):
        today the local engine's object-detection model until it is cached.
        Reads local files only (the pinned model manifest and the model
        cache), never the network. An engine that cannot be loaded is left
        out (the import reports it). Blocking: call it on a worker.
        """
        settings = self.settings
        names = dict.fromkeys(engines if engines is not None else
                              [*settings.engines, *(n for rule in settings.folder_engines.values() for n in rule)])
        wanted = [parse_api(a) for a in (settings.apis if apis is None else apis)]
        out: dict[str, int] = {}
        for name in names:
            try:
                engine = engine_class(name)
            except EngineUnavailableError:
                continue
            out.update(engine.pending_downloads([a for a in wanted if a in engine.descriptor.apis]))
        return out

    def restack(self) -> int:
        """Apply "Stack RAW+JPEG pairs" (``Settings.stack_raw_jpeg``) to the whole library, and index the change.

        Call after the setting changed (``update_settings``). Returns how
        many assets changed stack. Blocking: call it on a worker.
        """
        changed = self.importer.restack()
        self.search_sync.update(changed)
        return len(changed)

    def restack_folders(self, folders: Iterable[str | Path]) -> None:
        """Recompute the RAW+JPEG stacks of the files directly in ``folders`` (``ImportPipeline.restack_folders``),
        then index the change and write the opted-in folders' sidecars (a stack's files carry the whole stack's).

        For what changes files without an import: the folder watcher calls it
        after moves and deletions, so a RAW whose JPEG went is shown alone
        and a pair moved together stays one stack. Blocking: call it on a worker.
        """
        self.importer.restack_folders({os.path.abspath(os.fspath(f)) for f in folders})
        self._changed()

    def engines_for(self, asset: Asset) -> list[str]:
        """The engines that analyse ``asset`` when a run names none; see ``ImportPipeline.engines_for``."""
        return self.importer.engines_for(asset)

    def engine_config(self, engine_name: str) -> Json:
        """The JSON-able config the engine ``engine_name`` is built with (its class's ``configure``).

        Raises ``EngineUnavailableError`` for an unknown engine.
        """
        section = self.settings.engine_config.get(engine_name) or {}
        context = EngineContext(self.settings, self.root, section, lambda: self.people.engine_config())  # People on use
        config = engine_class(engine_name).configure(context)
        if engine_name == CLOUD_ENGINE and config.get("face_collection"):
            # the enrolled faces' names, which stay in mediaapp: the engine names imported faces with them;
            # with nobody enrolled there is nothing to name and nothing is paid for
            from mediaapp.services.face_collection import enrolled_people

            people = enrolled_people(self.catalog, str(config["face_collection"]))
            if people:
                config["collection_people"] = people
            else:
                del config["face_collection"]
        return config

    # -- faces in the cloud ----------------------------------------------------------------------
    def _face_collection(self, collection_id: str) -> FaceCollection:
        from mediaapp.analysis.registry import create_engine
        from mediaapp.services.face_collection import FaceCollection, cloud_engine

        config = engine_class(CLOUD_ENGINE).configure(EngineContext(
            self.settings, self.root, self.settings.engine_config.get(CLOUD_ENGINE) or {}))
        return FaceCollection(cloud_engine(create_engine(CLOUD_ENGINE, config)), self.catalog, collection_id,
                              self.settings.face_match_threshold)

    def face_collection(self, create: bool = False) -> FaceCollection | None:
        """The library's Rekognition face collection (``mediaapp.services.face_collection``), or None when
        the cloud settings name none (``engine_config.rekognition.face_collection``).

        ``create``: when none is named, name ``collection_id_for(root)`` and save it in ``settings.json``
        (the collection itself is made on the first enrolment). Raises ``EngineUnavailableError`` (no AWS
        credentials, invalid cloud settings).
        """
        from mediaapp.services.face_collection import collection_id_for
        from mediaapp.settings import load_settings, store_settings

        section = dict(self.settings.engine_config.get(CLOUD_ENGINE) or {})
        collection_id = str(section.get("face_collection") or "")
        if not collection_id:
            if not create:
                return None
            collection_id = collection_id_for(self.root)
            self.update_settings(engine_config={**self.settings.engine_config,
                                                CLOUD_ENGINE: {**section, "face_collection": collection_id}})
            stored = dict(load_settings(self.root).get("engine_config") or {})  # only this key of the file changes
            stored[CLOUD_ENGINE] = {**(stored.get(CLOUD_ENGINE) or {}), "face_collection": collection_id}
            store_settings(self.root, engine_config=stored)
        return self._face_collection(collection_id)

    def compare_faces(self, source: str | Path, target: str | Path, similarity_threshold: float = 80.0,
                      engine: str = LOCAL_ENGINE) -> Json:
        """CompareFaces of two image files (``mediaapp faces compare``): the local engine's (dlib
        embeddings, ``People.compare``) or Rekognition's (one priced, budgeted call:
        ``face_collection.compare_in_cloud``). Raises ``AnalysisError``, ``EngineUnavailableError``,
        ``RuntimeError`` (face features off) and ``ValueError`` for an unknown engine.
        """
        if engine == LOCAL_ENGINE:
            return self.people.compare(source, target, similarity_threshold)
        if engine != CLOUD_ENGINE:
            raise ValueError(f"faces are compared by {LOCAL_ENGINE!r} or {CLOUD_ENGINE!r}, not {engine!r}")
        from mediaapp.analysis.registry import create_engine
        from mediaapp.services.face_collection import cloud_engine, compare_in_cloud

        return compare_in_cloud(cloud_engine(create_engine(CLOUD_ENGINE, self.engine_config(CLOUD_ENGINE))),
                                source, target, similarity_threshold)

    # -- index ---------------------------------------------------------------------------------
    def reindex_assets(self, sha256s: Iterable[str]) -> bool:
        """Rebuild these assets' search documents now; see ``SearchSync.update``."""
        return self.search_sync.update(sha256s)

    def sync_index(self) -> int:
        """Index every change the catalog's feed holds for search; see ``SearchSync.sync``."""
        return self.search_sync.sync()

    def iter_index_documents(self, batch: int = 500) -> Iterator[IndexDocument]:
        """Every asset's search document; see ``SearchSync.iter_documents``."""
        return self.search_sync.iter_documents(batch)

    def reindex(self, target: SearchIndex | None = None, progress: ProgressCallback | None = None) -> int:
        """Rebuild ``target`` (default: the configured index) from the catalog; returns documents indexed."""
        total = self.catalog.asset_count()
        report = (lambda done: progress(ImportProgress("index", done, total))) if progress else None
        return self.search_sync.rebuild(target or self.index, report).indexed

    def rebuild_index(self, progress: ProgressCallback | None = None) -> int:
        """Rebuild the embedded index from the catalog and clear ``index_problem``; returns documents indexed.

        Searches meanwhile answer from what the index held (one transaction);
        then the change feed is synced as at opening. Raises
        ``SearchUnavailableError`` when the index cannot be written.
        """
        indexed = self.reindex(self.local_index, progress)
        self.index_problem = None
        self.sync_index()
        return indexed

    # -- queries (see ``mediaapp.services.queries.Queries`` for each) ---------------------------
    def search(self, query: Query) -> SearchPage:
        """Assets matching ``query``."""
        return self.queries.search(query)

    def facets(self, query: Query, field: str = "labels", limit: int = 100) -> list[FacetCount]:
        """Label or person counts among the assets matching ``query``."""
        return self.queries.facets(query, field, limit)

    def assets(self, sha256s: Iterable[str]) -> dict[str, Asset]:
        """Map sha256 -> Asset."""
        return self.queries.assets(sha256s)

    def unsafe(self, sha256s: Iterable[str]) -> set[str]:
        """Those of ``sha256s`` flagged as unsafe content (a moderation label at ``MODERATION_THRESHOLD``
        or more, ``mediaapp.services.moderation.flagged``): the thumbnails "Blur unsafe thumbnails" blurs."""
        from mediaapp.services.moderation import flagged

        return flagged(self.catalog, sha256s)

    def detections(self, sha256s: Iterable[str], kinds: Iterable[DetectionKind] | None = None,
                   min_confidence: float = 0.0) -> dict[str, list[Detection]]:
        """Map sha256 -> current detections."""
        return self.queries.detections(sha256s, kinds, min_confidence)

    def matching_detections(self, query: Query, sha256s: Iterable[str]) -> dict[str, list[Detection]]:
        """The boxed detections to draw for ``query``."""
        return self.queries.matching_detections(query, sha256s)

    def show(self, path: str | Path) -> Json:
        """What the library knows of one file; raises ``KeyError`` for an unknown one."""
        return self.queries.show(path)

    def text_of(self, sha256: str) -> list[str]:
        """The detected LINE texts of an asset."""
        return self.queries.text_of(sha256)

    def errors(self) -> list[ImportProblem]:
        """Every recorded problem, newest first."""
        return self.queries.errors()

    def forget_errors(self, paths: Iterable[str | Path]) -> int:
        """Delete every recorded problem of these files (any stage); returns how many distinct paths were given.

        The next import of a file tries it again (a file whose import failed
        is otherwise skipped while its size and modification time stay the
        same): the Errors panel's Retry and Clear. Paths are made absolute
        as ``show`` makes them. Raises ``sqlite3.Error`` when the catalog
        cannot be written.
        """
        wanted = list(dict.fromkeys(os.path.abspath(os.path.expanduser(str(p))) for p in paths))
        self.catalog.forget_errors(wanted)
        return len(wanted)

    def folders(self) -> list[tuple[str, int]]:
        """Folders with their file counts."""
        return self.queries.folders()

    def close(self) -> None:
        """Stop workers and close connections (the engines' usage ledgers and S3 transfers included)."""
        clear_engines()
        with self._parts_lock:
            pool = self._parts.get("pool")
            watchers = self._parts.pop("watchers", [])
        for watcher in watchers:
            watcher.stop()
        if pool is not None:
            pool.close()
        self.search_sync.close()
        self.catalog.close()
