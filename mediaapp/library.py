"""The library service: the one entry point the GUI and the CLI call.

A ``Library`` is an explicit object (no app-wide singleton) owning one
library folder::

    <library>/catalog.sqlite     assets, files, analyses, detections, errors
    <library>/index.sqlite       the embedded FTS5 search index (rebuildable)
    <library>/thumbnails/ab/<sha256>.jpg
    <library>/settings.json

Importing runs in two resumable stages. *Ingest*: scan, then for each new or
changed file (size+mtime differ from the catalog) hash, read metadata and make
a thumbnail in worker processes; the calling thread records each result in
its own transaction. *Analyse*: every asset under the imported folders that
lacks a stored response for a requested (api, engine, params) is analysed
once per distinct sha256; responses are cached in the catalog, so the same
bytes are never analysed twice whatever their path. Killing the process at
any point and importing again completes the work with no duplicate rows.

Methods block; the GUI calls them from worker threads, never the GUI thread.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mediaapp.analysis.base import CANCELLED, AnalysisParams, EngineUnavailableError, ImageRef
from mediaapp.analysis.registry import create_engine
from mediaapp.analysis.worker import ApiOutcome, analyse_image
from mediaapp.catalog.db import Catalog
from mediaapp.core.rekognition import detected_lines, flatten
from mediaapp.core.types import (
    Api,
    Asset,
    Detection,
    DetectionKind,
    ImportProblem,
    ImportReport,
    IndexDocument,
    Query,
    SearchPage,
)
from mediaapp.fsio import is_private, make_private, make_private_dir, make_private_tree
from mediaapp.paths import is_below
from mediaapp.search.base import FacetCount, SearchIndex, SearchUnavailableError
from mediaapp.services.people import People
from mediaapp.settings import engines_for_paths, load_settings
from mediaapp.tasks import CancelToken, WorkerPool


@dataclass
class ImportProgress:
    """A progress report during ``Library.import_paths``.

    ``stage`` is ``scan``, ``ingest``, ``analyse`` or ``done``, or ``model
    download`` / ``model extract`` / ``model convert`` while an engine fetches
    a model on first use; ``done`` and ``total`` count files (ingest), images
    (analyse), bytes (model download; total 0 when unknown) or steps;
    ``report`` holds the running counts.
    """

    stage: str
    done: int
    total: int
    path: str | None = None
    report: ImportReport = field(default_factory=ImportReport)


ProgressCallback = Callable[[ImportProgress], None]

#: The error code an engine raises when the next call would exceed the user's budget; it stops the run.
BUDGET_EXCEEDED = "BudgetExceeded"

#: Assets indexed per batch while an import runs (so new images show up before the run ends).
INDEX_BATCH = 32

#: Analysis error codes that mean "these bytes will never work with this engine": such an image is
#: not sent again on the next import (only ``reanalyse`` retries it). Other failures (throttling, a
#: missing model, no network, an engine bug) are retried.
PERMANENT_ANALYSIS_ERRORS = ("InvalidImageFormatException", "ImageTooLargeException")

#: File name extensions that claim to be images: such a file that is not one is reported, not skipped.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".dib", ".tif", ".tiff",
                              ".webp", ".heic", ".heif", ".hif", ".avif", ".mpo"})


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
    """One media library at ``root`` (created if missing).

    ``settings`` overrides keys of the stored settings for this session
    (not saved). ``index`` replaces the configured search backend (tests).
    Raises ``sqlite3.DatabaseError`` when the catalog file is not a database.
    """

    def __init__(self, root: str | Path, settings: dict | None = None, index: SearchIndex | None = None):
        from mediaapp.search.sqlite import SqliteIndex

        self.root = Path(root).expanduser().resolve()
        keep_private(self.root)
        self.settings = load_settings(self.root)
        self.settings.update(settings or {})
        self.catalog = Catalog(self.root / "catalog.sqlite")
        self.thumbnail_dir = self.root / "thumbnails"
        #: The embedded index is always kept up to date: it answers when a remote backend is down.
        self.local_index = SqliteIndex(self.root / "index.sqlite")
        backend = self.settings.get("index", {}).get("backend", "sqlite")
        if index is not None:
            self.index = index
        elif backend == "sqlite":
            self.index = self.local_index
        else:
            from mediaapp.search.factory import create_index
            self.index = create_index(backend, self.root, self.settings.get("index", {}))
        self.pool = WorkerPool(self.settings.get("workers"))
        self._import_lock = threading.Lock()
        self._index_lock = threading.RLock()  # one search document is built and written at a time
        #: Faces, named persons and groups (``mediaapp.services.people``); fed by ``_store_outcomes``. Its
        #: edits mark the changed images in the catalog's change feed; ``sync_index`` indexes them.
        self.people = People(self.catalog, self.root / "faces", lambda: self.settings, self.pool, self.sync_index)
        self.sync_index()  # index changes a killed run left queued (usually none)

    # -- import --------------------------------------------------------------------------------
    def import_paths(self, paths: Iterable[str | Path], *, engines: list[str] | None = None,
                     apis: list[str] | None = None, progress: ProgressCallback | None = None,
                     cancel: CancelToken | None = None, reanalyse: bool = False) -> ImportReport:
        """Import files and folders (recursively), analyse them, and index them.

        ``engines`` / ``apis`` default to the settings (``engines`` None also
        honours the per-folder rules of ``settings["folder_engines"]``, see
        ``engines_for``). ``reanalyse`` runs the analyses again even where a
        response is stored (explicit re-analysis with newer models; older
        responses are kept). Per-file problems are recorded and returned in
        ``report.failed``; the run only raises for problems with the library
        itself (e.g. the catalog is unwritable).
        """
        from mediaapp.ingest.scan import FileEntry, iter_files

        report = ImportReport()
        notify = progress or (lambda p: None)
        cancel = cancel or CancelToken()
        with self._import_lock:
            self.sync_index()  # finish the index updates of an earlier run that was killed
            roots = [os.path.abspath(os.path.expanduser(str(p))) for p in paths]
            notify(ImportProgress("scan", 0, 0, report=report))
            unreadable_dirs: list[str] = []
            scan_failed: set[str] = set()

            def scan_error(path: str, message: str) -> None:
                scan_failed.add(path)
                if os.path.isdir(path):
                    unreadable_dirs.append(path)
                self.catalog.record_error(path, "scan", message)
                report.failed.append(ImportProblem(path, "scan", message))

            known = self.catalog.known_files(under=roots)
            failed_before = {p.path: p for p in reversed(self.catalog.errors())}
            failed_state = self.catalog.failed_files()
            todo: list[FileEntry] = []
            seen: set[str] = set()
            touched: set[str] = set()
            for root in roots:
                if os.path.isfile(root):
                    st = os.stat(root)
                    entries: Iterable[FileEntry] = [FileEntry(root, st.st_size, st.st_mtime_ns)]
                elif os.path.isdir(root):
                    entries = iter_files([root], scan_error)
                else:
                    scan_error(root, "no such file or folder")
                    continue
                for entry in entries:
                    seen.add(entry.path)
                    state = known.get(entry.path)
                    if state and state[0] == entry.size and state[1] == entry.mtime_ns:
                        report.unchanged += 1
                        touched.add(state[2])
                    elif failed_state.get(entry.path) == (entry.size, entry.mtime_ns):
                        report.unchanged += 1
                        report.failed.append(failed_before[entry.path])
                    elif self._wanted(entry, report):
                        todo.append(entry)
                if cancel.cancelled:
                    break
            self._ingest(todo, report, touched, notify, cancel)
            if not cancel.cancelled:
                # Forget vanished paths only after ingest, so a renamed or moved file keeps its asset.
                # Files below a folder that could not be listed this time are not gone: keep them.
                def vanished(path: str) -> bool:
                    return path not in seen and not is_below(path, unreadable_dirs)

                gone = [p for p in known if vanished(p)]
                if gone:
                    touched.difference_update(self.catalog.remove_files(gone))
                # Errors of files that are gone, or of folders that can be read again, are stale.
                self.catalog.forget_errors(p for p in self.catalog.error_paths()
                                           if is_below(p, roots) and vanished(p) and p not in scan_failed)
                self._analyse(sorted(touched), engines, self.settings["apis"] if apis is None else apis,
                              report, notify, cancel, reanalyse)
            self.sync_index()
            report.cancelled = cancel.cancelled
            notify(ImportProgress("done", 1, 1, report=report))
        return report

    def _wanted(self, entry, report: ImportReport) -> bool:
        """Whether a new or changed file goes to the workers: its content says it is an image.

        A file that is not an image by content is skipped quietly when its
        name does not claim to be one either (sidecars, documents), and
        recorded as a failure when it does (``broken.jpg``, a zero-byte
        ``.png``). A file that cannot be read is recorded as ``UNREADABLE``,
        which the next import retries.
        """
        from mediaapp.catalog.db import UNREADABLE
        from mediaapp.ingest.scan import sniff_format

        code = None
        try:
            if sniff_format(entry.path) is not None:
                return True
            reason = "empty file" if entry.size == 0 else "not an image (unrecognised content)"
        except OSError as exc:
            reason, code = f"cannot read: {exc.strerror or exc}", UNREADABLE
        if os.path.splitext(entry.path)[1].lower() in IMAGE_EXTENSIONS or not reason.startswith("not an image"):
            self._fail(report, entry.path, "sniff", reason, size=entry.size, mtime_ns=entry.mtime_ns, code=code)
        else:
            report.skipped += 1
        return False

    def _ingest(self, todo: list, report: ImportReport, touched: set[str], notify: ProgressCallback,
                cancel: CancelToken) -> None:
        from mediaapp.catalog.db import UNREADABLE
        from mediaapp.ingest.worker import job_timeout, process_file

        total = len(todo)
        done = 0
        fresh: set[str] = set()
        notify(ImportProgress("ingest", 0, total, report=report))
        thumb_dir = str(self.thumbnail_dir)

        def on_result(item: tuple, result) -> None:
            nonlocal done
            done += 1
            if result.error_stage:
                self._fail(report, result.path, result.error_stage, result.error, size=result.size,
                           mtime_ns=result.mtime_ns, code=UNREADABLE if result.error_stage == "read" else None)
            else:
                new = self.catalog.add_file(path=result.path, size=result.size, mtime_ns=result.mtime_ns,
                                            sha256=result.sha256, asset=dataclasses.asdict(result))
                if new:
                    report.imported += 1
                else:
                    report.duplicates += 1
                touched.add(result.sha256)
                fresh.add(result.sha256)
                if len(fresh) >= INDEX_BATCH:  # show new images while a long ingest runs
                    self.reindex_assets(fresh)
                    fresh.clear()
            notify(ImportProgress("ingest", done, total, result.path, report))

        def on_failure(item: tuple, exc: BaseException) -> None:
            nonlocal done
            done += 1
            self._fail(report, item[0], "read", str(exc))
            notify(ImportProgress("ingest", done, total, item[0], report))

        sizes = {e.path: e.size for e in todo}
        self.pool.run(process_file, ((e.path, thumb_dir) for e in todo), on_result, on_failure, cancel=cancel,
                      timeout=lambda item: job_timeout(sizes.get(item[0])))
        self.reindex_assets(fresh)

    def engines_for(self, asset: Asset) -> list[str]:
        """The engines that analyse ``asset`` when a run names none: its folder's rule, else the library's.

        ``settings["folder_engines"]`` maps absolute folders to engine-name
        lists; the deepest folder holding one of the asset's paths wins
        (``mediaapp.settings.engines_for_paths``, which the cost estimate uses too).
        """
        return engines_for_paths(asset.paths, self.settings.get("folder_engines") or {}, self.settings["engines"])

    def _analyse(self, shas: list[str], engines: list[str] | None, apis: list[str], report: ImportReport,
                 notify: ProgressCallback, cancel: CancelToken, reanalyse: bool) -> None:
        params = AnalysisParams(self.settings.get("max_labels"), float(self.settings.get("min_confidence", 50.0)))
        assets = self.catalog.assets(shas)
        plan: dict[str, list[str]] = {}  # engine -> the sha256s it analyses, in order
        for sha in shas:
            asset = assets.get(sha)
            if asset is None or not asset.paths:
                continue
            for name in (engines if engines is not None else self.engines_for(asset)):
                plan.setdefault(name, []).append(sha)
        for engine_name, engine_shas in plan.items():
            if cancel.cancelled:
                break
            self._analyse_with(engine_name, [assets[s] for s in engine_shas], [Api.parse(a) for a in apis],
                               params, report, notify, cancel, reanalyse)

    def _analyse_with(self, engine_name: str, assets: list[Asset], wanted: list[Api], params: AnalysisParams,
                      report: ImportReport, notify: ProgressCallback, cancel: CancelToken, reanalyse: bool) -> None:
        """Analyse ``assets`` with one engine: every (asset, api) lacking a stored response, once."""
        config = self.engine_config(engine_name)
        try:
            engine = create_engine(engine_name, config)
        except EngineUnavailableError as exc:
            for asset in assets:
                self._fail(report, asset.paths[0], f"analysis:{engine_name}", str(exc), sha256=asset.sha256,
                           engine=engine_name, code=exc.code)
            return
        # Models the engine needs are fetched here, once, with progress; an API that cannot run this
        # time is reported once for the run instead of once per image.
        prepare = getattr(engine, "prepare", None)
        if prepare is not None:
            unavailable = prepare(wanted, lambda step, done, total: notify(
                ImportProgress(f"model {step}", done, total or 0, engine_name, report)))
            for api, reason in unavailable.items():
                report.failed.append(ImportProblem(engine_name, f"analysis:{api.value}", reason))
            wanted = [api for api in wanted if api not in unavailable]
        # an engine may add request options that change its answers (and so the cache key)
        eparams = engine.analysis_params(params) if hasattr(engine, "analysis_params") else params
        refused = {} if reanalyse else self.catalog.analysis_failures(
            [a.sha256 for a in assets], engine_name, PERMANENT_ANALYSIS_ERRORS)
        jobs: list[tuple] = []
        restored: set[str] = set()
        for asset in assets:
            missing = []
            for api in wanted:
                key = eparams.key(api)
                if (asset.sha256, api.value) in refused:  # the engine refused these bytes for good
                    report.failed.append(refused[(asset.sha256, api.value)])
                elif reanalyse:
                    missing.append(api.value)
                elif self.catalog.current_params(asset.sha256, api.value, engine_name) == key:
                    report.cached += 1
                elif self.catalog.restore_analysis(asset.sha256, api.value, engine_name, key):
                    # a setting in the cache key (MinConfidence, faces on/off) is back to a value answered
                    # before: that stored answer is current again, at no cost
                    report.cached += 1
                    restored.add(asset.sha256)
                else:
                    missing.append(api.value)
            if missing:
                jobs.append((engine_name, config, missing, self._image_ref(asset, engine), eparams))
        if restored:
            if engine_name == "local" and self.people.enabled:
                self.people.store.sync_detections(restored)  # local names live in the faces table
            self.reindex_assets(restored)
        stop = CancelToken(parent=cancel)  # a budget stop ends this engine's work, not the run
        if hasattr(engine, "begin_run"):
            # resets the per-run budget; with the token, a cancel aborts uploads in flight and buys nothing more
            engine.begin_run(len(jobs), cancel=stop, reanalyse=reanalyse)
        total, done, finished = len(jobs), 0, 0
        notify(ImportProgress("analyse", 0, total, report=report))
        indexed: set[str] = set()
        budget_reason: str | None = None

        def on_result(item: tuple, outcomes: list[ApiOutcome]) -> None:
            nonlocal done, finished, budget_reason
            done += 1
            ref: ImageRef = item[3]
            stopped = [o for o in outcomes if o.error_code == BUDGET_EXCEEDED]
            cancelled = any(o.error_code == CANCELLED for o in outcomes)
            if stopped:
                stop.cancel()  # the engine refused to spend more: stop, keep what is done
                budget_reason = budget_reason or stopped[0].error
            elif not cancelled:
                finished += 1
            # a cancelled image is no fault of the image: no error row, the next import analyses it
            kept = [o for o in outcomes if o.error_code not in (BUDGET_EXCEEDED, CANCELLED)]
            self._store_outcomes(ref, item[0], kept,
                                 item[4], report)
            indexed.add(ref.sha256)
            if len(indexed) >= INDEX_BATCH:
                self.reindex_assets(indexed)
                indexed.clear()
            notify(ImportProgress("analyse", done, total, ref.path, report))

        def on_failure(item: tuple, exc: BaseException) -> None:
            nonlocal done
            done += 1
            ref = item[3]
            for api in item[2]:
                self._fail(report, ref.path, f"analysis:{api}", str(exc), sha256=ref.sha256, engine=engine_name)
            notify(ImportProgress("analyse", done, total, ref.path, report))

        threads = getattr(engine, "max_concurrency", None) if getattr(engine, "executor", "process") == "thread" \
            else None
        from mediaapp.ingest.worker import job_timeout
        sizes = {a.sha256: a.size for a in assets}
        self.pool.run(analyse_image, jobs, on_result, on_failure, cancel=stop, threads=threads,
                      timeout=lambda item: job_timeout(sizes.get(item[3].sha256), analysis=True))
        if budget_reason is not None:
            report.budget_stopped = True
            report.failed.append(ImportProblem(engine_name, "budget", f"{budget_reason}; stopped with "
                                               f"{finished} of {total} images done, {total - finished} left"))
        self.reindex_assets(indexed)

    def _image_ref(self, asset: Asset, engine) -> ImageRef:
        """The ImageRef of ``asset`` for ``engine`` (engines may add an S3 location)."""
        ref = ImageRef(asset.sha256, asset.paths[0])
        prepare = getattr(engine, "prepare_ref", None)
        return prepare(ref, asset) if prepare else ref

    def _store_outcomes(self, ref: ImageRef, engine_name: str, outcomes: list[ApiOutcome], params: AnalysisParams,
                        report: ImportReport) -> None:
        for outcome in outcomes:
            api = Api(outcome.api)
            if outcome.response is None:
                self._fail(report, ref.path, f"analysis:{api.value}", outcome.error or "analysis failed",
                           sha256=ref.sha256, engine=engine_name, code=outcome.error_code)
                continue
            self.catalog.store_analysis(sha256=ref.sha256, api=api.value, engine=engine_name,
                                        engine_version=outcome.engine_version, params=params.key(api),
                                        response=outcome.response,
                                        detections=flatten(api, outcome.response, engine_name))
            report.analysed += 1
        self.people.store_outcomes(ref.sha256, engine_name, outcomes)  # faces found: store, name, detections

    def _fail(self, report: ImportReport, path: str, stage: str, message: str, **kw) -> None:
        self.catalog.record_error(path, stage, message, **kw)
        report.failed.append(ImportProblem(path, stage, message))

    def engine_config(self, engine_name: str) -> dict:
        """The JSON-able config an engine is built with in worker processes."""
        if engine_name == "local":
            # crops folder and named people's references (nothing when faces are off)
            return {"faces_enabled": bool(self.settings.get("faces_enabled", True)), **self.people.engine_config()}
        config = dict(self.settings.get("engine_config", {}).get(engine_name, {}))
        if engine_name == "rekognition":  # the month budget's usage ledger lives in the library
            config["ledger_path"] = str(self.root / "cloud_usage.sqlite")
        return config

    # -- index ---------------------------------------------------------------------------------
    def _indexes(self) -> list[SearchIndex]:
        return [self.local_index] if self.index is self.local_index else [self.local_index, self.index]

    def index_document(self, sha256: str) -> IndexDocument | None:
        """The search document of one asset, built from the catalog; None if unknown."""
        docs = self.index_documents([sha256])
        return docs[0] if docs else None

    def index_documents(self, sha256s: Iterable[str]) -> list[IndexDocument]:
        """Search documents for these assets (unknown ones are skipped)."""
        shas = list(sha256s)
        assets = self.catalog.assets(shas)
        detections = self.catalog.detections(assets)
        docs = []
        for sha, asset in assets.items():
            dets = detections.get(sha, [])
            lines = [d.name for d in dets if d.kind is DetectionKind.TEXT and d.text_type == "LINE"]
            folders = sorted({os.path.dirname(p) for p in asset.paths})
            docs.append(IndexDocument(asset, dets, folders, "\n".join(lines)))
        return docs

    def iter_index_documents(self, batch: int = 500) -> Iterator[IndexDocument]:
        """Every asset's search document, in batches of ``batch`` assets."""
        shas = self.catalog.all_sha256s()
        for i in range(0, len(shas), batch):
            yield from self.index_documents(shas[i:i + batch])

    def reindex_assets(self, sha256s: Iterable[str]) -> bool:
        """Rebuild these assets' documents in every index; assets no longer catalogued are deleted.

        A remote index that is down queues the change durably (``QueuedIndex``).
        The assets leave the catalog's ``index_pending`` queue only once the
        embedded index has them, so a run killed before this point is
        completed by the next ``sync_index()``; an asset changed while its
        document was being built stays queued (``Catalog.clear_pending``).
        Builds and writes are serialised, so an older document never
        overwrites a newer one. A document an index rejects is recorded as an
        ``index`` error of its file (and stays queued for the embedded index).
        Returns False when the embedded index could not be written at all.
        """
        shas = list(dict.fromkeys(sha256s))
        if not shas:
            return True
        with self._index_lock:
            marks = self.catalog.pending_marks(shas)
            docs = self.index_documents(shas)
            gone = sorted(set(shas) - {d.asset.sha256 for d in docs})
            rejected: dict[str, str] = {}   # sha256 -> reason, from any index
            keep: set[str] = set()           # rejected by the embedded index: stay queued
            for index in self._indexes():
                try:
                    result = index.upsert(docs) if docs else None
                    if gone:
                        index.delete(gone)
                except SearchUnavailableError:
                    if index is self.local_index:
                        return False  # stay pending
                    continue
                for sha, reason in (result.failed if result else []):
                    rejected.setdefault(sha, f"{getattr(index, 'name', 'search index')}: {reason}")
                    if index is self.local_index:
                        keep.add(sha)
            paths = {d.asset.sha256: d.asset.paths[0] for d in docs if d.asset.paths}
            for sha, reason in rejected.items():
                self.catalog.record_error(paths.get(sha, sha), "index", reason, sha256=sha)
            self.catalog.clear_index_errors([s for s in shas if s not in rejected])
            self.catalog.clear_pending({s: m for s, m in marks.items() if s not in keep})
        return True

    def sync_index(self) -> int:
        """Bring the indexes up to date with every change the catalog queued; returns the assets indexed.

        Stops when a pass makes no progress (the embedded index is down, or
        rejects what is left: those stay queued, with an ``index`` error).
        """
        done = 0
        while True:
            pending = self.catalog.pending_index()
            if not pending:
                return done
            for i in range(0, len(pending), 500):
                if not self.reindex_assets(pending[i:i + 500]):
                    return done  # the embedded index is unavailable: the rest stays queued for later
            left = set(self.catalog.pending_index())
            done += len(set(pending) - left)
            if left >= set(pending):
                return done

    def reindex(self, target: SearchIndex | None = None, progress: ProgressCallback | None = None) -> int:
        """Rebuild ``target`` (default: the configured index) from the catalog; returns documents indexed.

        Through ``mediaapp.search.factory.reindex``: OpenSearch gets a new versioned index and an alias swap.
        """
        from mediaapp.search.factory import reindex

        total = self.catalog.asset_count()
        report = (lambda done: progress(ImportProgress("index", done, total))) if progress else None
        with self._index_lock:  # no other document is written meanwhile (it would land in the old index)
            return reindex(self.iter_index_documents(), target or self.index, progress=report).indexed

    # -- queries -------------------------------------------------------------------------------
    def search(self, query: Query) -> SearchPage:
        """Assets matching ``query`` (the configured backend, or the embedded one when it is down)."""
        try:
            return self.index.search(query)
        except SearchUnavailableError:
            return self.local_index.search(query)

    def facets(self, query: Query, field: str = "labels", limit: int = 100) -> list[FacetCount]:
        """Label (or person) counts among the assets matching ``query``."""
        try:
            return self.index.facets(query, field, limit)
        except SearchUnavailableError:
            return self.local_index.facets(query, field, limit)

    def assets(self, sha256s: Iterable[str]) -> dict[str, Asset]:
        """Map sha256 -> Asset."""
        return self.catalog.assets(sha256s)

    def detections(self, sha256s: Iterable[str], kinds: Iterable[DetectionKind] | None = None,
                   min_confidence: float = 0.0) -> dict[str, list[Detection]]:
        """Map sha256 -> current detections (optionally of ``kinds`` at ``min_confidence`` or more)."""
        return self.catalog.detections(sha256s, kinds, min_confidence)

    def matching_detections(self, query: Query, sha256s: Iterable[str]) -> dict[str, list[Detection]]:
        """The boxed detections to draw for ``query``: its labels (by name or parent) and persons.

        Without label or person filters, every boxed label, face and person
        detection at ``query.min_confidence`` or more.
        """
        wanted = {n.casefold() for n in (*query.labels, *query.persons)}
        out: dict[str, list[Detection]] = {}
        kinds = (DetectionKind.LABEL, DetectionKind.FACE, DetectionKind.PERSON)
        for sha, dets in self.catalog.detections(sha256s, kinds, query.min_confidence).items():
            keep = [d for d in dets if d.box is not None and (
                not wanted or d.name.casefold() in wanted or any(p.casefold() in wanted for p in d.parents))]
            out[sha] = keep
        return out

    def show(self, path: str | Path) -> dict:
        """What the library knows of one file: asset, stored responses by API name, and errors.

        Raises ``KeyError`` when the path is not in the catalog and has no error.
        """
        path = os.path.abspath(os.path.expanduser(str(path)))
        sha = self.catalog.sha_for_path(path)
        errors = [dataclasses.asdict(e) for e in self.catalog.errors(path=path, sha256=sha)]
        if sha is None and not errors:
            raise KeyError(f"{path} is not in the library")
        out: dict = {"path": path, "sha256": sha, "errors": errors}
        if sha:
            asset = self.catalog.asset(sha)
            out["asset"] = {k: getattr(asset, k) for k in ("sha256", "size", "format", "width", "height",
                                                           "paths", "taken_at", "camera_make", "camera_model",
                                                           "gps", "thumbnail")}
            stored = self.catalog.responses(sha)
            for api in Api:
                if api.value in stored:
                    out[api.value] = stored[api.value][0]["Response"]
            out["analyses"] = stored
        return out

    def text_of(self, sha256: str) -> list[str]:
        """The detected LINE texts of an asset (newest response of each engine)."""
        lines: list[str] = []
        for entry in self.catalog.responses(sha256).get(Api.DETECT_TEXT.value, []):
            lines += detected_lines(entry["Response"])
        return list(dict.fromkeys(lines))

    def errors(self) -> list[ImportProblem]:
        """Every recorded problem, newest first."""
        return self.catalog.errors()

    def folders(self) -> list[tuple[str, int]]:
        """Folders with their file counts."""
        return self.catalog.folders()

    def close(self) -> None:
        """Stop workers and close connections (the engines' usage ledgers and S3 transfers included)."""
        from mediaapp.analysis.registry import clear_engines

        clear_engines()
        self.pool.close()
        for index in self._indexes():
            index.close()
        self.catalog.close()

