"""The import pipeline: scan, ingest in workers, analyse once per (bytes, API, engine, parameters), index.

Importing runs in two resumable stages. *Ingest*: scan, then for each new or
changed file (size+mtime differ from the catalog) sniff, hash, read metadata
and make a thumbnail in worker processes (``IngestJob``); the calling thread
records each result in its own transaction. *Analyse*: every asset under the
imported folders that lacks a stored response for a requested (api, engine,
params) is analysed once per distinct sha256 (``AnalysisJob``); responses are
cached in the catalog, so the same bytes are never analysed twice whatever
their path. Killing the process at any point and importing again completes
the work with no duplicate rows: every catalog write marks the change feed,
and the search-sync consumer (``SearchSync``) indexes what is marked.

Methods block; the GUI calls them from worker threads, never the GUI thread.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from mediaapp.analysis.analysis_worker import ApiOutcome, analyse_image
from mediaapp.analysis.engine_base import CANCELLED, AnalysisParams, EngineBase, EngineUnavailableError, ImageRef
from mediaapp.analysis.registry import always_run, create_engine, engine_class
from mediaapp.catalog.claims import TOUCH_EVERY_S, Claimant
from mediaapp.catalog.db import FILE_METADATA_FIELDS, UNREADABLE, Catalog
from mediaapp.catalog.stacks import StackStore
from mediaapp.core.apis import apis_for_media, engine_apis, flatten, parse_api, spec
from mediaapp.core.types import LOCAL_ENGINE, Api, Asset, ImportProblem, ImportReport, Json
from mediaapp.ingest import media, raw, scan
from mediaapp.ingest.ingest_worker import FileResult, job_timeout, process_file, unrecognised_reason
from mediaapp.ingest.scan import FileEntry
from mediaapp.paths import is_below
from mediaapp.services.indexing import SearchSync
from mediaapp.services.people_service import People
from mediaapp.services.progress import ImportProgress, ProgressCallback
from mediaapp.settings import Settings, engines_for_paths
from mediaapp.tasks import CancelToken, WorkerPool


class IngestJob(NamedTuple):
    """One file for ``mediaapp.ingest.ingest_worker.process_file(path, thumb_dir)`` in a worker.

    A NamedTuple because the worker pool calls ``fn(*job)``: the fields are
    the function's arguments, by name here and by position there.
    """

    path: str
    thumb_dir: str


class AnalysisJob(NamedTuple):
    """One image for ``mediaapp.analysis.analysis_worker.analyse_image`` in a worker (fields: its arguments).

    ``engine``: registered engine name; ``config``: its JSON-able config;
    ``apis``: operation names still missing for this image; ``ref``: the
    image (``engine.prepare_ref``); ``params``: the request parameters
    whose ``key(api)`` is the cache key.
    """

    engine: str
    config: Json
    apis: list[str]
    ref: ImageRef
    params: AnalysisParams


#: The error code an engine raises when the next call would exceed the user's budget; it stops the run.
BUDGET_EXCEEDED = "BudgetExceeded"

#: Assets indexed per batch while an import runs (so new images show up before the run ends).
INDEX_BATCH = 32

#: The error stage of a file whose own metadata (a sidecar, an embedded block) could not be read.
METADATA_STAGE = "metadata"

#: Analysis error codes that mean "these bytes will never work with this engine": such an image is
#: not sent again on the next import (only ``reanalyse`` retries it). Other failures (throttling, a
#: missing model, no network, an engine bug) are retried.
PERMANENT_ANALYSIS_ERRORS = ("InvalidImageFormatException", "ImageTooLargeException")

#: ``assets.format`` values of RAW files: the RAW handler names the format after the extension (``DNG``),
#: or ``RAW`` for a RAW recognised by content alone (``mediaapp.ingest.raw.sniff_raw``). Stacks pair these.
RAW_FORMATS = frozenset({ext[1:].upper() for ext in raw.RAW_EXTENSIONS} | {"RAW"})


def _engines_for_media(asset: Asset, names: list[str], on_device: dict[tuple[str, str], int],
                       config_of: Callable[[str], Json]) -> list[str]:
    """The engines of ``names`` that analyse ``asset``: for a video, those answering a video API (``ApiSpec.media``)
    that can take this one (``EngineBase.video_refusal`` with the engine's config from ``config_of(name)``).

    An engine that answers no video API, or refuses this video (the
    ``rekognition`` engine for a container other than MP4/MOV, or a library
    without a bucket), is replaced by the on-device ``local`` engine, counted
    in ``on_device`` ((engine, reason) -> videos) so the run says so once per
    reason. Unknown engine names and engines whose config is invalid are kept
    (their analysis reports them). Order is kept, duplicates dropped.
    """
    if media.handler_for(asset.media_kind).media != "video":
        return names
    out = []
    for name in names:
        try:
            cls = engine_class(name)
            answers = cls.descriptor.apis
            reason = (cls.video_refusal(asset, config_of(name)) if any(spec(a).media == "video" for a in answers)
                      else f"the {name} engine does not analyse videos")
        except EngineUnavailableError:
            out.append(name)
            continue
        if reason is None:
            out.append(name)
        else:
            on_device[(name, reason)] = on_device.get((name, reason), 0) + 1
            out.append(LOCAL_ENGINE)
    return list(dict.fromkeys(out))


def _apis_for_media(asset: Asset, wanted: list[Api], engine: EngineBase) -> list[Api]:
    """What ``engine`` runs of the requested image APIs ``wanted`` on ``asset``: for a video their video ``Get*``
    counterparts (``core.apis.apis_for_media``), for an image the image APIs; only those the engine answers."""
    kind = media.handler_for(asset.media_kind).media
    return [a for a in apis_for_media(wanted, kind) if a in engine.descriptor.apis]


class _IndexBatch:
    """Assets an import changed, indexed ``INDEX_BATCH`` at a time while it runs, so they show up early."""

    def __init__(self, search: SearchSync):
        self.search = search
        self.shas: set[str] = set()

    def add(self, sha256: str) -> None:
        """Note ``sha256``; index the batch once it is full."""
        self.shas.add(sha256)
        if len(self.shas) >= INDEX_BATCH:
            self.flush()

    def flush(self) -> None:
        """Index what is noted now (the run's end, or a full batch)."""
        self.search.update(self.shas)
        self.shas.clear()


class ImportPipeline:
    """Imports into one library: built by the composition root from its parts.

    ``catalog``: where results go; ``thumbnail_dir``: the thumbnails folder;
    ``pool``: the worker pool; ``settings``: returns the current settings
    mapping (``apis``, ``engines``, ``folder_engines``, ``max_labels``,
    ``min_confidence``); ``people``: stores the faces an analysis found;
    ``search``: the search-sync consumer; ``engine_config``: the config of
    an engine by name (raises ``EngineUnavailableError`` for an unknown one).
    One import runs at a time.
    """

    def __init__(self, catalog: Catalog, thumbnail_dir: Path, pool: WorkerPool,
                 settings: Callable[[], Settings], people: People, search: SearchSync,
                 engine_config: Callable[[str], Json]):
        self.catalog = catalog
        self.thumbnail_dir = thumbnail_dir
        self.pool = pool
        self.settings = settings
        self.people = people
        self.search = search
        self.engine_config = engine_config
        self.stacks = StackStore(catalog)
        self._lock = threading.Lock()

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
        report = ImportReport()
        notify = progress or (lambda p: None)
        cancel = cancel or CancelToken()
        with self._lock:
            self.search.sync()  # finish the index updates of an earlier run that was killed
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
            kinds: dict[str, str] = {}  # path -> media kind (its handler's job timeout)
            seen: set[str] = set()
            touched: set[str] = set()
            for root in roots:
                if os.path.isfile(root):
                    st = os.stat(root)
                    entries: Iterable[FileEntry] = [FileEntry(root, st.st_size, st.st_mtime_ns)]
                elif os.path.isdir(root):
                    entries = scan.iter_files([root], scan_error)
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
                    elif (kind := self._wanted(entry, report)) is not None:
                        todo.append(entry)
                        kinds[entry.path] = kind
                if cancel.cancelled:
                    break
            self._ingest(todo, kinds, report, touched, notify, cancel)
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
                # RAW+JPEG pairs of the folders whose files changed: one stack each (none with the setting off)
                self.restack_folders({os.path.dirname(e.path) for e in todo} | {os.path.dirname(p) for p in gone})
                self._analyse(sorted(touched), engines, list(self.settings().apis) if apis is None else apis,
                              report, notify, cancel, reanalyse, named=apis is not None)
            self.search.sync()
            report.cancelled = cancel.cancelled
            notify(ImportProgress("done", 1, 1, report=report))
        return report

    def _wanted(self, entry: FileEntry, report: ImportReport) -> str | None:
        """The media kind of a new or changed file that goes to the workers, or None (not media).

        A file no media handler recognises by content (``media.sniff_path``)
        is skipped quietly when its name does not claim a media type either
        (sidecars, documents), and recorded as a failure when it does
        (``broken.jpg``, ``x.mp4`` of random bytes: ``ingest_worker.unrecognised_reason``;
        ``media.claimed_by_name``). An empty file is recorded as one, whatever its
        name. A file that cannot be read is recorded as ``UNREADABLE``, which the
        next import retries.
        """
        code = None
        try:
            sniffed = media.sniff_path(entry.path)
        except OSError as exc:
            reason, code = f"cannot read: {exc.strerror or exc}", UNREADABLE
        else:
            if sniffed is not None:
                return sniffed.handler.kind
            if entry.size == 0:
                reason = "empty file"
            elif media.claimed_by_name(entry.path) is None:  # not media by content nor by name
                report.skipped += 1
                return None
            else:  # "not a decodable video (unrecognised content)" for x.mp4, "not an image ..." for x.jpg
                reason = unrecognised_reason(entry.path)
        self._fail(report, entry.path, "sniff", reason, size=entry.size, mtime_ns=entry.mtime_ns, code=code)
        return None

    def _ingest(self, todo: list[FileEntry], kinds: dict[str, str], report: ImportReport, touched: set[str],
                notify: ProgressCallback, cancel: CancelToken) -> None:
        total = len(todo)
        done = 0
        fresh = _IndexBatch(self.search)  # show new images while a long ingest runs
        notify(ImportProgress("ingest", 0, total, report=report))
        thumb_dir = str(self.thumbnail_dir)

        def on_result(job: IngestJob, result: FileResult) -> None:
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
            notify(ImportProgress("ingest", done, total, result.path, report))

        def on_failure(job: IngestJob, exc: BaseException) -> None:
            nonlocal done
            done += 1
            self._fail(report, job.path, "read", str(exc))
            notify(ImportProgress("ingest", done, total, job.path, report))

        sizes = {e.path: e.size for e in todo}
        self.pool.run(process_file, (IngestJob(e.path, thumb_dir) for e in todo), on_result, on_failure,
                      cancel=cancel, timeout=lambda job: job_timeout(sizes.get(job.path), kinds.get(job.path, "")))
        fresh.flush()

    def engines_for(self, asset: Asset) -> list[str]:
        """The engines that analyse ``asset`` when a run names none: its folder's rule, else the library's.

        ``settings["folder_engines"]`` maps absolute folders to engine-name
        lists; the deepest folder holding one of the asset's paths wins
        (``mediaapp.settings.engines_for_paths``, which the cost estimate uses too).
        """
        settings = self.settings()
        return engines_for_paths(asset.paths, settings.folder_engines, settings.engines)

    def _analyse(self, shas: list[str], engines: list[str] | None, apis: list[str], report: ImportReport,
                 notify: ProgressCallback, cancel: CancelToken, reanalyse: bool, named: bool = True) -> None:
        # named: the run chose ``apis`` (not the settings' list), so a paid engine runs its opt-in APIs too
        settings = self.settings()
        params = AnalysisParams(settings.max_labels, settings.min_confidence)
        assets = self.catalog.assets(shas)
        readers = always_run()  # the files' own metadata: every image, whatever the run names, first
        plan: dict[str, list[str]] = {name: [] for name in readers}  # engine -> the sha256s it analyses, in order
        on_device: dict[tuple[str, str], int] = {}  # (engine, why) -> videos given to the local engine instead
        configs: dict[str, Json] = {}

        def config_of(name: str) -> Json:  # each engine's config once per run (the cloud's reads the catalog)
            if name not in configs:
                configs[name] = self.engine_config(name)
            return configs[name]

        for sha in shas:
            asset = assets.get(sha)
            if asset is None or not asset.paths:
                continue
            chosen = engines if engines is not None else self.engines_for(asset)
            for name in dict.fromkeys([*readers, *_engines_for_media(asset, chosen, on_device, config_of)]):
                plan.setdefault(name, []).append(sha)
        for (name, reason), count in on_device.items():
            report.failed.append(ImportProblem(name, "analysis:video", f"{count} video(s) analysed on this computer "
                                               f"instead: {reason}"))
        assets.update(self._analyse_stacks_once(plan, assets, readers, apis))
        for engine_name, engine_shas in plan.items():
            if cancel.cancelled:
                break
            if not engine_shas:
                continue
            desc = engine_class(engine_name).descriptor
            wanted = (list(desc.apis) if engine_name in readers
                      else engine_apis([parse_api(a) for a in apis], desc.apis, desc.default_apis, named))
            self._analyse_with(engine_name, [assets[s] for s in engine_shas], wanted,
                               params, report, notify, cancel, reanalyse)

    def _analyse_stacks_once(self, plan: dict[str, list[str]], assets: dict[str, Asset], readers: Iterable[str],
                             apis: list[str]) -> dict[str, Asset]:
        """Narrow ``plan`` (engine -> sha256s) so each RAW+JPEG stack is analysed by each engine through one file.

        The file analysed is the JPEG (or HEIF), unless the RAW already has
        an answer of that engine and the JPEG has none (the RAW was analysed
        before its JPEG arrived, or before stacking was on): then the RAW,
        so nothing is analysed, or paid for, twice. The JPEG is preferred
        because it is the picture as the camera rendered it, at full size, and
        decodes with no demosaic (and is sent to the cloud as it is); a library
        of JPEGs that gets its RAWs later has it analysed already. The metadata
        engine (``readers``) reads both files: what each says of itself is free.
        Returns the assets added to ``plan`` (a stack's other file, when only
        one of its files was under the imported folders).
        """
        members = self.stacks.originals(assets)
        for original, ms in self.stacks.members(assets).items():
            members.update(dict.fromkeys(ms, original))
        if not members:
            return {}
        wanted = [parse_api(a).value for a in apis]
        readers = set(readers)
        added: dict[str, Asset] = {}
        for engine, shas in plan.items():
            if engine in readers:
                continue
            planned = set(shas)
            answered = self.stacks.answered([*members, *members.values()], engine, wanted)  # one query per engine
            for member, original in members.items():
                if member not in planned and original not in planned:
                    continue
                keep, drop = ((original, member) if original in answered and member not in answered
                              else (member, original))
                planned.discard(drop)
                if keep not in planned:
                    if keep not in assets and keep not in added:
                        added.update(self.catalog.assets([keep]))
                    if keep in assets or keep in added:
                        planned.add(keep)
                        shas.append(keep)
            shas[:] = [s for s in dict.fromkeys(shas) if s in planned]
        return added

    def restack_folders(self, folders: set[str]) -> None:
        """Bring the stacks up to date after ingest: those of ``folders`` (where files came, changed or went).

        Stacks depend only on the files of one folder, so the other folders'
        stay right, unless "Stack RAW+JPEG pairs" differs from what the last
        whole-library run applied (changed since, or never applied): then every
        folder is recomputed. Imports call it; so should whatever else adds,
        moves or removes catalogued files (the folder watcher's moves and
        deletions). A JPEG whose bytes later appear in another folder stays
        stacked until its own folder changes or ``restack`` runs.
        """
        enabled = self.settings().stack_raw_jpeg
        if self.stacks.applied() != enabled:
            self.stacks.restack(None, RAW_FORMATS, enabled)
        elif folders:
            self.stacks.restack(sorted(folders), RAW_FORMATS, enabled, folders_only=True)

    def restack(self) -> set[str]:
        """Recompute every RAW+JPEG stack of the library from the current setting; returns the sha256s marked.

        Call after "Stack RAW+JPEG pairs" changes, then sync the index (the
        grid then shows the stacks, or the separate files). Blocks.
        """
        with self._lock:
            return self.stacks.restack(None, RAW_FORMATS, self.settings().stack_raw_jpeg)

    def _analyse_with(self, engine_name: str, assets: list[Asset], wanted: list[Api], params: AnalysisParams,
                      report: ImportReport, notify: ProgressCallback, cancel: CancelToken, reanalyse: bool) -> None:
        """Analyse ``assets`` with one engine: every (asset, api) lacking a stored response, once."""
        try:
            config = self.engine_config(engine_name)
            engine = create_engine(engine_name, config)
        except EngineUnavailableError as exc:
            for asset in assets:
                self._fail(report, asset.paths[0], f"analysis:{engine_name}", str(exc), sha256=asset.sha256,
                           engine=engine_name, code=exc.code)
            return
        # Models the engine needs are fetched here, once, with progress; an API that cannot run this
        # time is reported once for the run instead of once per image.
        unavailable = engine.prepare(wanted, lambda step, done, total: notify(
            ImportProgress(f"model {step}", done, total or 0, engine_name, report)))
        for api, reason in unavailable.items():
            report.failed.append(ImportProblem(engine_name, f"analysis:{api.value}", reason))
        wanted = [api for api in wanted if api not in unavailable]
        # an engine may add request options that change its answers (and so the cache key)
        eparams = type(engine).request_params(params, config)
        refused = {} if reanalyse else self.catalog.analysis_failures(
            [a.sha256 for a in assets], engine_name, PERMANENT_ANALYSIS_ERRORS)
        jobs: list[AnalysisJob] = []
        restored: set[str] = set()
        reader = engine_name in always_run()  # its answers count in report.read, never in analysed or cached
        for asset in assets:
            missing = []
            ref = engine.prepare_ref(ImageRef(asset.sha256, asset.paths[0]), asset)
            aparams = engine.image_params(eparams, ref)  # the cache key may depend on files beside the image
            for api in (wanted if reader else _apis_for_media(asset, wanted, engine)):
                key = aparams.key(api)
                if (asset.sha256, api.value) in refused:  # the engine refused these bytes for good
                    report.failed.append(refused[(asset.sha256, api.value)])
                elif reanalyse:
                    missing.append(api.value)
                elif self.catalog.current_params(asset.sha256, api.value, engine_name) == key:
                    report.cached += 0 if reader else 1
                elif engine.restores_answers and self.catalog.restore_analysis(asset.sha256, api.value,
                                                                                engine_name, key):
                    # a setting in the cache key (MinConfidence, faces on/off) is back to a value answered
                    # before: that stored answer is current again, at no cost
                    report.cached += 1
                    restored.add(asset.sha256)
                else:
                    missing.append(api.value)
            if missing:
                jobs.append(AnalysisJob(engine_name, config, missing, ref, aparams))
        if restored:
            self.people.restored(engine_name, restored)
            self.search.update(restored)
        claimant = Claimant()
        try:
            jobs = self._claim(claimant, engine_name, jobs, report, reanalyse)
            self._run_analysis(engine, engine_name, assets, jobs, report, notify, cancel, reanalyse, claimant)
        finally:
            self.catalog.claims.release(claimant)

    def _claim(self, claimant: Claimant, engine_name: str, jobs: list[AnalysisJob], report: ImportReport,
               reanalyse: bool) -> list[AnalysisJob]:
        """``jobs`` narrowed to the analyses ``claimant`` wins (``Catalog.claims``), so no two imports pay twice.

        An analysis another running import claimed is left to it (counted in
        ``report.elsewhere``); one whose answer was stored since it was planned
        (by an import that finished meanwhile) counts as cached, unless
        ``reanalyse``.
        """
        won = self.catalog.claims.claim(claimant, [(job.ref.sha256, api, engine_name)
                                                   for job in jobs for api in job.apis])
        reader = engine_name in always_run()
        kept: list[AnalysisJob] = []
        for job in jobs:
            apis = []
            for api in job.apis:
                sha = job.ref.sha256
                if (sha, api, engine_name) not in won:
                    report.elsewhere += 0 if reader else 1
                elif not reanalyse and self.catalog.current_params(sha, api, engine_name) == job.params.key(Api(api)):
                    report.cached += 0 if reader else 1
                else:
                    apis.append(api)
            if apis:
                kept.append(job._replace(apis=apis))
        return kept

    def _run_analysis(self, engine: EngineBase, engine_name: str, assets: list[Asset], jobs: list[AnalysisJob],
                      report: ImportReport, notify: ProgressCallback, cancel: CancelToken, reanalyse: bool,
                      claimant: Claimant) -> None:
        """Send ``jobs`` to the workers and store each answer as it comes (see ``_analyse_with``).

        ``claimant``'s claims are refreshed every ``TOUCH_EVERY_S`` while answers come in.
        """
        touched_at = time.monotonic()
        stop = CancelToken(parent=cancel)  # a budget stop ends this engine's work, not the run
        # resets the per-run budget; with the token, a cancel aborts uploads in flight and buys nothing more
        engine.begin_run(len(jobs), cancel=stop, reanalyse=reanalyse)
        total, done, finished = len(jobs), 0, 0
        stage = "metadata" if engine_name in always_run() else "analyse"
        notify(ImportProgress(stage, 0, total, report=report))
        indexed = _IndexBatch(self.search)
        budget_reason: str | None = None

        def on_result(job: AnalysisJob, outcomes: list[ApiOutcome]) -> None:
            nonlocal done, finished, budget_reason, touched_at
            done += 1
            if time.monotonic() - touched_at > TOUCH_EVERY_S:  # still working: the claims are not stale
                self.catalog.claims.touch(claimant)
                touched_at = time.monotonic()
            ref = job.ref
            stopped = [o for o in outcomes if o.error_code == BUDGET_EXCEEDED]
            cancelled = any(o.error_code == CANCELLED for o in outcomes)
            if stopped:
                stop.cancel()  # the engine refused to spend more: stop, keep what is done
                budget_reason = budget_reason or stopped[0].error
            elif not cancelled:
                finished += 1
            # a cancelled image is no fault of the image: no error row, the next import analyses it
            kept = [o for o in outcomes if o.error_code not in (BUDGET_EXCEEDED, CANCELLED)]
            self._store_outcomes(ref, job.engine, kept, job.params, report)
            indexed.add(ref.sha256)
            notify(ImportProgress(stage, done, total, ref.path, report))

        def on_failure(job: AnalysisJob, exc: BaseException) -> None:
            nonlocal done
            done += 1
            ref = job.ref
            for api in job.apis:
                self._fail(report, ref.path, f"analysis:{api}", str(exc), sha256=ref.sha256, engine=engine_name)
            notify(ImportProgress(stage, done, total, ref.path, report))

        threads = engine.max_concurrency if engine.executor == "thread" else None
        sizes = {a.sha256: a.size for a in assets}
        # the media kind by name (a RAW's demosaic takes longer than a JPEG's decode); content was sniffed at ingest
        kinds = {a.sha256: (media.claimed_by_name(a.paths[0]) or media.handler_for("image")).kind
                 for a in assets if a.paths}
        self.pool.run(analyse_image, jobs, on_result, on_failure, cancel=stop, threads=threads,
                      timeout=lambda job: job_timeout(sizes.get(job.ref.sha256), kinds.get(job.ref.sha256, "image"),
                                                      analysis=True))
        if budget_reason is not None:
            report.budget_stopped = True
            report.failed.append(ImportProblem(engine_name, "budget", f"{budget_reason}; stopped with "
                                               f"{finished} of {total} images done, {total - finished} left"))
        indexed.flush()

    def _store_outcomes(self, ref: ImageRef, engine_name: str, outcomes: list[ApiOutcome], params: AnalysisParams,
                        report: ImportReport) -> None:
        reader = engine_name in always_run()
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
            report.analysed += 0 if reader else 1
        if reader and any(o.response is not None for o in outcomes):
            report.read += 1
        self._store_file_metadata(ref, outcomes, report)
        self._store_similarity(ref, outcomes, report)
        self.people.store_outcomes(ref.sha256, engine_name, outcomes)  # faces found: store, name, detections

    def _store_similarity(self, ref: ImageRef, outcomes: list[ApiOutcome], report: ImportReport) -> None:
        """Store the local engine's embedding and perceptual hashes (``extras["Similarity"]``,
        ``analysis/local/similarity.py``) in ``catalog.similarity``; a malformed record is one error of the file."""
        carrier = next((o for o in outcomes if o.response is not None and o.extras and "Similarity" in o.extras), None)
        if carrier is None or not carrier.extras:
            return
        from mediaapp.analysis.local.similarity import decode_vector
        from mediaapp.catalog.similarity import SimilarityStore
        found = carrier.extras["Similarity"]
        try:
            SimilarityStore(self.catalog).store(ref.sha256, str(found["ModelVersion"]), decode_vector(found),
                                                int(found["PHash"]), int(found["DHash"]), float(found["Sharpness"]))
        except (KeyError, TypeError, ValueError) as exc:
            self._fail(report, ref.path, "similarity", f"cannot store the image embedding: {exc}", sha256=ref.sha256)

    def _store_file_metadata(self, ref: ImageRef, outcomes: list[ApiOutcome], report: ImportReport) -> None:
        """Store what the metadata engine read beside its answers (``extras["Metadata"]``): the asset's title,
        description, rating, label and date created, and each problem met as a ``metadata`` error of the file
        (the last reading's problems replace the earlier ones)."""
        carrier = next((o for o in outcomes if o.response is not None and o.extras and "Metadata" in o.extras), None)
        if carrier is None:
            return
        found = carrier.extras["Metadata"] if carrier.extras else {}
        with self.catalog.transaction():
            self.catalog.store_file_metadata(ref.sha256, {k: found.get(k) for k in FILE_METADATA_FIELDS})
            self.catalog.clear_stage_errors(ref.sha256, METADATA_STAGE)
        problems = [str(p) for p in found.get("problems") or []]
        if problems:
            self._fail(report, ref.path, METADATA_STAGE, "; ".join(problems), sha256=ref.sha256)

    def _fail(self, report: ImportReport, path: str | None, stage: str, message: str, **kw: Any) -> None:
        """Record a problem of ``path`` at ``stage`` in the catalog and in ``report``."""
        path = path or ""
        self.catalog.record_error(path, stage, message, **kw)
        report.failed.append(ImportProblem(path, stage, message))
