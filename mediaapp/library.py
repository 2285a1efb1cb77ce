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
    from mediaapp.services.importer import ImportPipeline
    from mediaapp.services.people_service import People
    from mediaapp.services.results import ResultsExchange
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
                                                   self.sync_index))

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
                                                             self.costs.analysis_params, self.sync_index))

    @property
    def importer(self) -> ImportPipeline:
        """The import pipeline (``services/importer.ImportPipeline``)."""
        from mediaapp.services.importer import ImportPipeline

        return self._part("importer", lambda: ImportPipeline(self.catalog, self.thumbnail_dir, self.pool,
                                                             self._settings, self.people, self.search_sync,
                                                             self.engine_config))

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
        return self.importer.import_paths(paths, engines=engines, apis=apis, progress=progress, cancel=cancel,
                                          reanalyse=reanalyse)

    def pending_downloads(self) -> dict[str, int]:
        """What the next import would download once before analysing: description -> size in bytes.

        Asks each engine of the settings (the library's and those its folder
        rules name) for the settings' analyses (``EngineBase.pending_downloads``):
        today the local engine's object-detection model until it is cached.
        Reads local files only (the pinned model manifest and the model
        cache), never the network. An engine that cannot be loaded is left
        out (the import reports it). Blocking: call it on a worker.
        """
        settings = self.settings
        names = dict.fromkeys([*settings.engines, *(n for rule in settings.folder_engines.values() for n in rule)])
        apis = [parse_api(a) for a in settings.apis]
        out: dict[str, int] = {}
        for name in names:
            try:
                engine = engine_class(name)
            except EngineUnavailableError:
                continue
            out.update(engine.pending_downloads([a for a in apis if a in engine.descriptor.apis]))
        return out

    def engines_for(self, asset: Asset) -> list[str]:
        """The engines that analyse ``asset`` when a run names none; see ``ImportPipeline.engines_for``."""
        return self.importer.engines_for(asset)

    def engine_config(self, engine_name: str) -> Json:
        """The JSON-able config the engine ``engine_name`` is built with (its class's ``configure``).

        Raises ``EngineUnavailableError`` for an unknown engine.
        """
        section = self.settings.engine_config.get(engine_name) or {}
        context = EngineContext(self.settings, self.root, section, lambda: self.people.engine_config())  # People on use
        return engine_class(engine_name).configure(context)

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
        if pool is not None:
            pool.close()
        self.search_sync.close()
        self.catalog.close()
