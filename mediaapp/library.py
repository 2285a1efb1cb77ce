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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from mediaapp.analysis.base import AnalysisParams, EngineUnavailableError, ImageRef
from mediaapp.analysis.registry import create_engine
from mediaapp.analysis.worker import ApiOutcome, analyse_image
from mediaapp.catalog.db import Catalog
from mediaapp.core.rekognition import detected_lines, flatten
from mediaapp.core.types import (Api, Asset, Detection, DetectionKind, ImportProblem, ImportReport,
                                 IndexDocument, Query, SearchPage)
from mediaapp.search.base import FacetCount, SearchIndex, SearchUnavailableError
from mediaapp.settings import load_settings
from mediaapp.tasks import CancelToken, WorkerPool


@dataclass
class ImportProgress:
    """A progress report during ``Library.import_paths``.

    ``stage`` is ``scan``, ``ingest``, ``analyse`` or ``done``; ``done`` and
    ``total`` count files (ingest) or images (analyse) of that stage;
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

#: File name extensions that claim to be images: such a file that is not one is reported, not skipped.
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".gif", ".bmp", ".dib", ".tif", ".tiff",
                              ".webp", ".heic", ".heif", ".hif", ".avif", ".mpo"})


class Library:
    """One media library at ``root`` (created if missing).

    ``settings`` overrides keys of the stored settings for this session
    (not saved). ``index`` replaces the configured search backend (tests).
    Raises ``sqlite3.DatabaseError`` when the catalog file is not a database.
    """

    def __init__(self, root: str | Path, settings: dict | None = None, index: SearchIndex | None = None):
        from mediaapp.search.sqlite import SqliteIndex

        self.root = Path(root).expanduser().resolve()
        self.root.mkdir(parents=True, exist_ok=True)
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

    # -- import --------------------------------------------------------------------------------
    def import_paths(self, paths: Iterable[str | Path], *, engines: list[str] | None = None,
                     apis: list[str] | None = None, progress: ProgressCallback | None = None,
                     cancel: CancelToken | None = None, reanalyse: bool = False) -> ImportReport:
        """Import files and folders (recursively), analyse them, and index them.

        ``engines`` / ``apis`` default to the settings. ``reanalyse`` runs the
        analyses again even where a response is stored (explicit re-analysis
        with newer models; older responses are kept). Per-file problems are
        recorded and returned in ``report.failed``; the run only raises for
        problems with the library itself (e.g. the catalog is unwritable).
        """
        from mediaapp.ingest.scan import FileEntry, iter_files

        report = ImportReport()
        notify = progress or (lambda p: None)
        cancel = cancel or CancelToken()
        with self._import_lock:
            roots = [os.path.abspath(os.path.expanduser(str(p))) for p in paths]
            notify(ImportProgress("scan", 0, 0, report=report))

            def scan_error(path: str, message: str) -> None:
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
            # Forget vanished paths only after ingest, so a renamed or moved file keeps its asset.
            gone = [p for p in known if p not in seen]
            if gone and not cancel.cancelled:
                touched.difference_update(self._forget(gone))
            if not cancel.cancelled:
                self._analyse(sorted(touched), self.settings["engines"] if engines is None else engines,
                              self.settings["apis"] if apis is None else apis, report, notify, cancel, reanalyse)
            report.cancelled = cancel.cancelled
            notify(ImportProgress("done", 1, 1, report=report))
        return report

    def _wanted(self, entry, report: ImportReport) -> bool:
        """Whether a new or changed file goes to the workers: its content says it is an image.

        A file that is not an image by content is skipped quietly when its
        name does not claim to be one either (sidecars, documents), and
        recorded as a failure when it does (``broken.jpg``, a zero-byte ``.png``).
        """
        from mediaapp.ingest.scan import sniff_format

        try:
            if sniff_format(entry.path) is not None:
                return True
            reason = "empty file" if entry.size == 0 else "not an image (unrecognised content)"
        except OSError as exc:
            reason = f"cannot read: {exc.strerror or exc}"
        if os.path.splitext(entry.path)[1].lower() in IMAGE_EXTENSIONS or not reason.startswith("not an image"):
            self._fail(report, entry.path, "sniff", reason, size=entry.size, mtime_ns=entry.mtime_ns)
        else:
            report.skipped += 1
        return False

    def _ingest(self, todo: list, report: ImportReport, touched: set[str], notify: ProgressCallback,
                cancel: CancelToken) -> None:
        from mediaapp.ingest.worker import process_file

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
                           mtime_ns=result.mtime_ns)
            else:
                new = self.catalog.add_file(path=result.path, size=result.size, mtime_ns=result.mtime_ns,
                                            sha256=result.sha256, asset=dataclasses.asdict(result))
                if new:
                    report.imported += 1
                else:
                    report.duplicates += 1
                touched.add(result.sha256)
                fresh.add(result.sha256)
            notify(ImportProgress("ingest", done, total, result.path, report))

        def on_failure(item: tuple, exc: BaseException) -> None:
            nonlocal done
            done += 1
            self._fail(report, item[0], "read", str(exc))
            notify(ImportProgress("ingest", done, total, item[0], report))

        self.pool.run(process_file, ((e.path, thumb_dir) for e in todo), on_result, on_failure, cancel=cancel)
        self.reindex_assets(fresh)

    def _analyse(self, shas: list[str], engines: list[str], apis: list[str], report: ImportReport,
                 notify: ProgressCallback, cancel: CancelToken, reanalyse: bool) -> None:
        params = AnalysisParams(self.settings.get("max_labels"), float(self.settings.get("min_confidence", 50.0)))
        wanted = [Api.parse(a) for a in apis]
        assets = self.catalog.assets(shas)
        for engine_name in engines:
            config = self.engine_config(engine_name)
            try:
                engine = create_engine(engine_name, config)
            except EngineUnavailableError as exc:
                for sha in shas:
                    self._fail(report, assets[sha].paths[0] if assets[sha].paths else sha, f"analysis:{engine_name}",
                               str(exc), sha256=sha)
                continue
            # an engine may add request options that change its answers (and so the cache key)
            eparams = engine.analysis_params(params) if hasattr(engine, "analysis_params") else params
            jobs: list[tuple] = []
            for sha in shas:
                asset = assets.get(sha)
                if asset is None or not asset.paths:
                    continue
                missing = []
                for api in wanted:
                    if not reanalyse and self.catalog.cached_analysis(sha, api.value, engine_name,
                                                                      eparams.key(api)) is not None:
                        report.cached += 1
                    else:
                        missing.append(api.value)
                if missing:
                    jobs.append((engine_name, config, missing, self._image_ref(asset, engine), eparams))
            if hasattr(engine, "begin_run"):
                engine.begin_run(len(jobs))  # e.g. resets the per-run budget
            total, done = len(jobs), 0
            notify(ImportProgress("analyse", 0, total, report=report))
            indexed: set[str] = set()

            def on_result(item: tuple, outcomes: list[ApiOutcome]) -> None:
                nonlocal done
                done += 1
                ref: ImageRef = item[3]
                stopped = [o for o in outcomes if o.error_code == BUDGET_EXCEEDED]
                if stopped:
                    cancel.cancel()  # the engine refused to spend more: stop the run, keep what is done
                    budget_stop.setdefault("reason", stopped[0].error)
                else:
                    budget_stop["done"] = budget_stop.get("done", 0) + 1
                self._store_outcomes(ref, item[0], [o for o in outcomes if o.error_code != BUDGET_EXCEEDED],
                                     item[4], report)
                indexed.add(ref.sha256)
                if len(indexed) >= 32:
                    self.reindex_assets(indexed)
                    indexed.clear()
                notify(ImportProgress("analyse", done, total, ref.path, report))

            def on_failure(item: tuple, exc: BaseException) -> None:
                nonlocal done
                done += 1
                ref = item[3]
                for api in item[2]:
                    self._fail(report, ref.path, f"analysis:{api}", str(exc), sha256=ref.sha256)
                notify(ImportProgress("analyse", done, total, ref.path, report))

            threads = getattr(engine, "max_concurrency", None) if getattr(engine, "executor", "process") == "thread" \
                else None
            budget_stop: dict = {}
            self.pool.run(analyse_image, jobs, on_result, on_failure, cancel=cancel, threads=threads)
            if "reason" in budget_stop:
                finished = budget_stop.get("done", 0)
                report.failed.append(ImportProblem(engine_name, "budget", f"{budget_stop['reason']}; stopped with "
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
                           sha256=ref.sha256)
                continue
            self.catalog.store_analysis(sha256=ref.sha256, api=api.value, engine=engine_name,
                                        engine_version=outcome.engine_version, params=params.key(api),
                                        response=outcome.response,
                                        detections=flatten(api, outcome.response, engine_name))
            report.analysed += 1

    def _fail(self, report: ImportReport, path: str, stage: str, message: str, **kw) -> None:
        self.catalog.record_error(path, stage, message, **kw)
        report.failed.append(ImportProblem(path, stage, message))

    def _forget(self, paths: list[str]) -> list[str]:
        """Drop vanished files from the catalog; assets left with no file leave the indexes.

        Returns the sha256s of those removed assets.
        """
        orphans = self.catalog.remove_files(paths)
        for index in self._indexes():
            try:
                index.delete(orphans)
            except SearchUnavailableError:
                pass
        return orphans

    def engine_config(self, engine_name: str) -> dict:
        """The JSON-able config an engine is built with in worker processes."""
        if engine_name == "local":
            return {"faces_enabled": bool(self.settings.get("faces_enabled", True))}
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

    def reindex_assets(self, sha256s: Iterable[str]) -> None:
        """Rebuild these assets' documents in every index (a remote index queues when down)."""
        docs = self.index_documents(sha256s)
        if not docs:
            return
        for index in self._indexes():
            try:
                index.upsert(docs)
            except SearchUnavailableError:
                pass

    def reindex(self, target: SearchIndex | None = None, progress: ProgressCallback | None = None) -> int:
        """Rebuild ``target`` (default: the configured index) from the catalog; returns documents indexed."""
        target = target or self.index
        total = self.catalog.asset_count()
        target.clear()
        done = 0
        batch: list[IndexDocument] = []
        for doc in self.iter_index_documents():
            batch.append(doc)
            if len(batch) >= 500:
                done += target.upsert(batch).indexed
                batch = []
                if progress:
                    progress(ImportProgress("index", done, total))
        if batch:
            done += target.upsert(batch).indexed
        if progress:
            progress(ImportProgress("index", done, total))
        return done

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
        """Stop workers and close connections."""
        self.pool.close()
        for index in self._indexes():
            index.close()
        self.catalog.close()

