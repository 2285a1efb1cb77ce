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

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from mediaapp.analysis.engine_base import EngineContext
from mediaapp.analysis.registry import clear_engines, engine_class
from mediaapp.catalog.db import Catalog
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
from mediaapp.search.factory import create_index
from mediaapp.search.index_base import FacetCount, SearchIndex
from mediaapp.search.sqlite import SqliteIndex
from mediaapp.services.costs import CostEstimator
from mediaapp.services.importer import ImportPipeline, ImportProgress, ProgressCallback
from mediaapp.services.indexing import SearchSync
from mediaapp.services.people_service import People
from mediaapp.services.queries import Queries
from mediaapp.services.results import ResultsExchange
from mediaapp.settings import Settings, read_settings
from mediaapp.tasks import CancelToken, WorkerPool

__all__ = ["ImportProgress", "Library", "ProgressCallback", "keep_private"]


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
    Raises ``mediaapp.settings.SettingsError`` naming the key of a bad
    ``settings.json`` (before anything is opened), and
    ``sqlite3.DatabaseError`` when the catalog file is not a database.

    Parts: ``catalog``; ``local_index`` (the embedded index, always kept up
    to date: it answers when a remote backend is down) and ``index`` (the
    configured one); ``search_sync`` (the change feed's search consumer);
    ``queries``; ``people``; ``costs`` (estimates); ``results`` (export and
    import of stored responses); ``importer``; ``pool`` (worker processes).
    """

    def __init__(self, root: str | Path, settings: Json | None = None, index: SearchIndex | None = None):
        self.root = Path(root).expanduser().resolve()
        keep_private(self.root)
        #: The checked settings (``mediaapp.settings.Settings``); ``settings`` overrides keys for this session.
        self.settings = read_settings(self.root).replace(**(settings or {}))
        self.catalog = Catalog(self.root / "catalog.sqlite")
        self.thumbnail_dir = self.root / "thumbnails"
        self.local_index = SqliteIndex(self.root / "index.sqlite")
        backend = self.settings.index.get("backend", "sqlite")
        if index is None:
            index = self.local_index if backend == "sqlite" else create_index(backend, self.root,
                                                                               dict(self.settings.index))
        self.index = index
        self.pool = WorkerPool(self.settings.workers)
        self.search_sync = SearchSync(self.catalog, self.local_index, None if index is self.local_index else index)
        self.queries = Queries(self.catalog, self.index, self.local_index)
        #: Faces, named persons and groups; its edits mark the change feed, and ``sync_index`` indexes them.
        self.people = People(self.catalog, self.root / "faces", self._settings, self.pool, self.sync_index)
        self.costs = CostEstimator(self.catalog, self.root, self._settings, self.engine_config)
        self.results = ResultsExchange(self.catalog, self.root, self._settings, self.costs.analysis_params,
                                       self.sync_index)
        self.importer = ImportPipeline(self.catalog, self.thumbnail_dir, self.pool, self._settings, self.people,
                                       self.search_sync, self.engine_config)
        self._opened = self.settings
        self.sync_index()  # index changes a killed run left marked (usually none)

    def _settings(self) -> Settings:
        return self.settings

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

    def engines_for(self, asset: Asset) -> list[str]:
        """The engines that analyse ``asset`` when a run names none; see ``ImportPipeline.engines_for``."""
        return self.importer.engines_for(asset)

    def engine_config(self, engine_name: str) -> Json:
        """The JSON-able config the engine ``engine_name`` is built with (its class's ``configure``).

        Raises ``EngineUnavailableError`` for an unknown engine.
        """
        section = self.settings.engine_config.get(engine_name) or {}
        context = EngineContext(self.settings, self.root, section, self.people.engine_config)
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

    def folders(self) -> list[tuple[str, int]]:
        """Folders with their file counts."""
        return self.queries.folders()

    def close(self) -> None:
        """Stop workers and close connections (the engines' usage ledgers and S3 transfers included)."""
        clear_engines()
        self.pool.close()
        self.search_sync.close()
        self.catalog.close()
