"""What a cloud run would cost, before spending: ``Estimate``, ``estimate`` and ``estimate_import``.

Counts the distinct images (by sha256) a run would analyse, subtracts the
(image, API) pairs the catalog already holds, and prices the rest with the
price table and this month's usage (``mediaapp.cloud.pricing``). A video the
cloud engine would analyse (MP4 or MOV, with a bucket:
``video_jobs.on_device_reason``) is priced per minute for each of its ``Get*``
jobs (``core.apis.apis_for_media``), as the import buys them; any other video
goes on-device and costs nothing, and the estimate says so.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mediaapp.analysis.engine_base import AnalysisParams
from mediaapp.analysis.registry import descriptor, engine_class
from mediaapp.catalog.db import Catalog
from mediaapp.cloud.config import folder_rules
from mediaapp.cloud.pricing import LEDGER_FILE, Ledger, PriceTable, fmt_usd, params_for_config, priced_calls
from mediaapp.core.analysis import CLOUD_ENGINE
from mediaapp.core.apis import apis_for_media, engine_apis, parse_api
from mediaapp.core.types import Json
from mediaapp.paths import is_below
from mediaapp.settings import Settings


@dataclass
class Estimate:
    """The cost of analysing some files before a run.

    ``images``: distinct images (by sha256) found; ``apis``: the operations
    asked for; ``calls``: API calls that would be made (``images`` x
    ``len(apis)`` minus ``cached``); ``cached``: (image, API) pairs already
    stored (free; 0 when re-analysing); ``by_api``: API -> calls;
    ``usd_by_entry``: price-table entry -> Rekognition dollars (monthly tiers
    applied after this month's recorded usage); ``usd``: their sum;
    ``s3_usd``: upload requests (PUT + HEAD) plus one month of storage of the
    uploaded bytes when they are kept (``upload_bytes``: originals at their
    size, proxies counted at most 1 MiB each); ``month_spent``: dollars
    already in the ledger this month; ``budget_per_run``/``budget_per_month``:
    the configured limits (None: none); ``price_date``/``price_source``: the
    price table's; ``price_sources``: entry -> ``PriceTable.source_of``;
    ``unreadable``: paths that could not be read. Videos: ``videos``: those
    priced per minute (not in ``images``); ``video_apis``: their ``Get*``
    analyses; ``video_jobs``: jobs to buy and ``video_cached``: (video, API)
    pairs stored (both also counted in ``calls`` and ``cached``);
    ``minutes_by_api``: ``Get*`` name -> billed minutes (their dollars are in
    ``usd_by_entry`` under the same name); ``on_device_videos``: videos the
    cloud engine leaves to the on-device engine (free), with ``on_device_reasons``
    (reason -> count).
    """

    images: int = 0
    videos: int = 0
    video_apis: list[str] = field(default_factory=list)
    video_jobs: int = 0
    video_cached: int = 0
    minutes_by_api: dict[str, int] = field(default_factory=dict)
    on_device_videos: int = 0
    on_device_reasons: dict[str, int] = field(default_factory=dict)
    apis: list[str] = field(default_factory=list)
    calls: int = 0
    cached: int = 0
    by_api: dict[str, int] = field(default_factory=dict)
    usd_by_entry: dict[str, float] = field(default_factory=dict)
    usd: float = 0.0
    s3_usd: float = 0.0
    upload_bytes: int = 0
    month_spent: float = 0.0
    budget_per_run: float | None = None
    budget_per_month: float | None = None
    price_date: str = ""
    price_source: str = ""
    price_sources: dict[str, dict] = field(default_factory=dict)
    unreadable: list[str] = field(default_factory=list)

    @property
    def total_usd(self) -> float:
        """Rekognition plus S3 dollars."""
        return self.usd + self.s3_usd

    @property
    def exceeds_run_budget(self) -> bool:
        """True when the run would be stopped by the per-run budget."""
        return self.budget_per_run is not None and self.usd > self.budget_per_run

    @property
    def exceeds_month_budget(self) -> bool:
        """True when the run would be stopped by the monthly budget."""
        return self.budget_per_month is not None and self.month_spent + self.usd > self.budget_per_month

    def to_dict(self) -> dict:
        """JSON-able form (``mediaapp estimate --json``)."""
        out = dict(vars(self))
        out.update(total_usd=self.total_usd, exceeds_run_budget=self.exceeds_run_budget,
                   exceeds_month_budget=self.exceeds_month_budget)
        return out


def describe_estimate(est: Estimate) -> list[str]:
    """The estimate in lines for people (CLI, settings dialog, the GUI's confirmation before an import).

    First the arithmetic (images x analyses, minus what is stored), then the
    dollars per API, the total, each budget and whether the run would hit
    it, and where the prices come from.
    """
    lines = [f"{est.images} images x {len(est.apis)} analyses ({', '.join(est.apis) or 'none'}) = "
             f"{est.images * len(est.apis)} calls, minus {est.cached - est.video_cached} already stored (free) = "
             f"{est.calls - est.video_jobs} calls to buy"]
    if est.videos:
        lines.append(f"{est.videos} videos x {len(est.video_apis)} video analyses ({', '.join(est.video_apis)}) = "
                     f"{est.videos * len(est.video_apis)} jobs, minus {est.video_cached} already stored (free) = "
                     f"{est.video_jobs} jobs to buy, billed per minute of video (partial minutes counted whole)")
    for entry, usd in est.usd_by_entry.items():
        minutes = est.minutes_by_api.get(entry)
        if minutes is not None:
            lines.append(f"  {entry}: {minutes} min x {fmt_usd(usd / minutes) if minutes else '-'}/min "
                         f"= {fmt_usd(usd)}")
            continue
        n = est.by_api.get(entry, est.by_api.get(entry.split(":")[0], 0))
        lines.append(f"  {entry}: {n} x {fmt_usd(usd / n) if n else '-'} = {fmt_usd(usd)}")
    for reason, count in est.on_device_reasons.items():
        lines.append(f"{count} video(s) analysed on this computer instead (free): {reason}")
    lines.append(f"Rekognition {fmt_usd(est.usd)} + S3 {fmt_usd(est.s3_usd)} = {fmt_usd(est.total_usd)}")
    if est.budget_per_run is not None:
        lines.append(f"Budget per run {fmt_usd(est.budget_per_run)}: " + (
            "THE RUN WOULD STOP EARLY (the budget stops it before it is passed)" if est.exceeds_run_budget
            else "fits"))
    else:
        lines.append("Budget per run: none")
    if est.budget_per_month is not None:
        lines.append(f"Budget per month {fmt_usd(est.budget_per_month)}, {fmt_usd(est.month_spent)} spent so far: " + (
            "THE RUN WOULD STOP EARLY" if est.exceeds_month_budget else "fits"))
    else:
        lines.append(f"Budget per month: none ({fmt_usd(est.month_spent)} spent so far)")
    sources = {(v["date"], v["source"], str(v["verified"])) for v in est.price_sources.values()}
    for date, source, verified in sorted(sources) or [(est.price_date, est.price_source, "")]:
        lines.append(f"Prices of {date} from {source}" + (f" (verified: {verified})" if verified else ""))
    for path in est.unreadable:
        lines.append(f"  UNREADABLE {path}")
    return lines


def _iter_paths(paths) -> list[str]:
    from mediaapp.ingest.scan import iter_files

    out: list[str] = []
    for p in paths:
        p = os.path.abspath(os.path.expanduser(str(p)))
        if os.path.isdir(p):
            out += [e.path for e in iter_files([p], lambda path, msg: None)]
        else:
            out.append(p)
    return out


def needs_cloud(settings: Settings) -> bool:
    """True when an import with ``settings`` may use the cloud engine (by default or by a folder rule)."""
    return CLOUD_ENGINE in settings.engines or any(
        CLOUD_ENGINE in engines for engines in folder_rules(settings).values())


def _scan_like_import(paths) -> tuple[list[str], list[tuple[str, int, int]], list[str], list[str]]:
    """The files ``Library.import_paths(paths)`` finds: ``(roots, [(path, size, mtime_ns)], unreadable folders,
    missing roots)``, where roots are ``paths`` made absolute (``~`` expanded)."""
    from mediaapp.ingest.scan import iter_files

    roots = [os.path.abspath(os.path.expanduser(str(p))) for p in paths]
    entries: list[tuple[str, int, int]] = []
    unreadable_dirs: list[str] = []
    missing: list[str] = []

    def scan_error(path: str, _message: str) -> None:
        if os.path.isdir(path):
            unreadable_dirs.append(path)

    for root in roots:
        try:
            if os.path.isfile(root):
                st = os.stat(root)
                entries.append((root, st.st_size, st.st_mtime_ns))
            elif os.path.isdir(root):
                entries += [(e.path, e.size, e.mtime_ns) for e in iter_files([root], scan_error)]
            else:
                missing.append(root)
        except OSError:
            missing.append(root)
    return roots, entries, unreadable_dirs, missing


class CostEstimator:
    """Prices runs of one library before they happen; built by the composition root.

    ``catalog``: what is stored already (free); ``root``: the library
    folder (its usage ledger); ``settings``: returns the current settings
    mapping; ``engine_config``: an engine's config by name.
    """

    def __init__(self, catalog: Catalog, root: Path, settings: Callable[[], Settings],
                 engine_config: Callable[[str], Json]):
        self.catalog = catalog
        self.root = Path(root)
        self.settings = settings
        self.engine_config = engine_config

    def analysis_params(self, engine_name: str) -> AnalysisParams:
        """The request parameters (cache key) the library uses for ``engine_name`` (its ``request_params``).

        Raises ``EngineUnavailableError`` for an unknown engine or invalid engine settings.
        """
        return engine_class(engine_name).request_params(self._base_params(), self.engine_config(engine_name))

    def _base_params(self) -> AnalysisParams:
        """The library-wide request parameters (``max_labels``, ``min_confidence`` settings), before engine options."""
        settings = self.settings()
        return AnalysisParams(settings.max_labels, settings.min_confidence)

    def estimate(self, paths, apis: list[str] | None = None, engine_name: str = CLOUD_ENGINE,
                 progress=None, *, config=None, reanalyse: bool = False, named: bool | None = None) -> Estimate:
        """Price analysing ``paths`` (files and folders) with ``engine_name`` before doing it.

        Images already catalogued reuse their sha256 when size and mtime match;
        other files are sniffed (not images are skipped) and hashed
        (``mediaapp.ingest.hashing.sha256_file``). Each (image, API) pair with a
        stored response for the library's current parameters costs nothing,
        unless ``reanalyse`` (everything is bought again). ``config`` is a
        ``CloudConfig`` to price with instead of the saved one (the settings
        dialog's unsaved values). ``progress(done, total)`` is called per file.
        ``named``: whether ``apis`` are a run's own choice (``--apis``), so a
        paid engine buys its opt-in APIs (DetectFaces) too; None means "when
        ``apis`` is given". The cloud dialog prices the library's default
        list with ``named=False``, as an import without ``--apis`` runs it.
        Raises ``ValueError`` for an unknown or unpriced API or invalid saved
        settings, ``OSError`` for an unreadable price table.
        """
        return self._estimate_files(_iter_paths(paths), apis, engine_name, progress, config, reanalyse,
                                    bool(apis) if named is None else named)

    def estimate_import(self, paths, *, reanalyse: bool = False, apis: list[str] | None = None,
                        progress=None) -> Estimate | None:
        """What importing ``paths`` with the library's saved settings would cost in Rekognition calls.

        Mirrors what ``Library.import_paths(paths, apis=apis)`` (no ``engines`` named; ``apis`` None: the
        settings' analyses, as there) will
        do: the same files are found (``mediaapp.ingest.scan.iter_files``), the
        same ones are ingested (new or changed, image by content, not a failure
        recorded for the same size and mtime) or kept (catalogued with the same
        size and mtime), catalogued paths below ``paths`` that are gone are
        forgotten, and each image (sha256) then gets the engines the import gives
        it: ``mediaapp.settings.engines_for_paths`` over **all** the paths the
        catalog will hold for it (its catalogued paths plus the new ones), i.e.
        the deepest ``folder_engines`` rule holding any of them, else
        ``settings["engines"]``. So a new copy of a catalogued image counts as a
        Rekognition image when another copy lies under a ``rekognition`` rule,
        and not when a deeper rule on another copy says otherwise.

        Only the files that may matter are hashed
        (``mediaapp.ingest.hashing.sha256_file``): those whose own folder rule
        names ``rekognition``, and those whose size equals another catalogued or
        incoming file's (identical bytes have identical sizes; a file of a unique
        size is alone with its sha256, so its own path decides). ``progress(done,
        total)`` is called per file found. A file the import will fail to read
        or decode cannot be told apart beforehand and is counted. Returns None
        when no image would go to Rekognition (and no such file was
        unreadable); stored answers are subtracted as in ``estimate``. Raises
        like ``estimate``.
        """
        from mediaapp.ingest.hashing import sha256_file
        from mediaapp.ingest.media import sniff_format
        from mediaapp.settings import engines_for_paths

        if not needs_cloud(self.settings()):
            return None
        rules = self.settings().folder_engines   # as Library.engines_for reads them
        default = list(self.settings().engines)

        def cloud(where: list[str]) -> bool:
            return CLOUD_ENGINE in engines_for_paths(where, rules, default)

        roots, entries, unreadable_dirs, missing = _scan_like_import(paths)
        known = self.catalog.known_files()
        failed_state = self.catalog.failed_files()
        seen = {path for path, _size, _mtime in entries}
        # the catalog after the import: path -> sha256 (gone paths forgotten, changed files re-assigned below)
        final = {path: state[2] for path, state in known.items()
                 if not (is_below(path, roots) and path not in seen and not is_below(path, unreadable_dirs))}
        changing = [(path, size) for path, size, mtime in entries
                    if known.get(path, (None, None))[:2] != (size, mtime) and failed_state.get(path) != (size, mtime)]
        sizes = Counter(known[path][0] for path in final)
        sizes.update(size for _path, size in changing)
        touched: dict[str, int] = {}   # sha256 -> size: the images the import analyses
        unreadable: list[str] = [p for p in missing if cloud([p])]
        changing_paths = {path for path, _size in changing}
        formats: dict[str, str] = {}   # path -> format sniffed, of the files hashed (a stack is judged by it)
        for i, (path, size, mtime) in enumerate(entries):
            state = known.get(path)
            if state and state[:2] == (size, mtime):
                touched.setdefault(state[2], size)
            elif path in changing_paths:
                try:
                    if (fmt := sniff_format(path)) is not None:
                        # the file's own catalogued row (if any) counts once more when its size did not change
                        own = 1 + (state is not None and state[0] == size)
                        if cloud([path]) or sizes[size] > own:
                            sha = sha256_file(path)
                            final[path] = sha
                            formats[path] = fmt
                            touched.setdefault(sha, size)
                        else:
                            final.pop(path, None)   # alone with its bytes: its own path decides, not Rekognition
                except OSError:
                    if cloud([path]):
                        unreadable.append(path)
            if progress:
                progress(i + 1, len(entries))
        paths_of: dict[str, list[str]] = {sha: [] for sha in touched}
        for path, sha in final.items():
            if sha in paths_of:
                paths_of[sha].append(path)
        billed = {sha: size for sha, size in touched.items() if cloud(paths_of[sha])}
        for sha in self._stacked_twice(billed, final, formats, known):
            del billed[sha]
        if not billed and not unreadable:
            return None
        est = self._price(billed, apis, CLOUD_ENGINE, None, reanalyse, apis is not None, _probe_videos(
            {p: final[p] for p in changing_paths if p in final}, billed))
        est.unreadable = unreadable
        return est

    def _stacked_twice(self, billed: dict[str, int], final: dict[str, str], formats: dict[str, str],
                       known: dict[str, tuple[int, int, str]]) -> set[str]:
        """The sha256s of ``billed`` not analysed because their RAW+JPEG stack is analysed through its other file.

        With "Stack RAW+JPEG pairs" on, the import pairs the files of a folder
        (``catalog.stacks.pair_files`` over ``final``, the catalog's paths after
        the import, path -> sha256; formats from ``formats`` for the new files,
        else the catalogued ``assets.format``) and each engine analyses a stack
        once (``ImportPipeline._analyse_stacks_once``): through the JPEG, or
        the RAW when that was catalogued before its JPEG came (its stored
        answers, if any, are then reused). So the other file of each pair is
        not priced. Empty with the setting off.
        """
        from mediaapp.catalog.stacks import pair_files
        from mediaapp.services.importer import RAW_FORMATS

        if not self.settings().stack_raw_jpeg or len(billed) < 2:
            return set()
        folders = {os.path.dirname(p) for p, sha in final.items() if sha in billed}
        rows = [(p, sha) for p, sha in final.items() if os.path.dirname(p) in folders]
        stored = {sha: a.format or "" for sha, a in self.catalog.assets(
            {sha for p, sha in rows if p not in formats}).items()}
        pairs = pair_files([(p, sha, formats.get(p) or stored.get(sha, "")) for p, sha in rows], RAW_FORMATS)
        catalogued = {v[2] for v in known.values()}
        skipped: set[str] = set()
        for jpeg, raw_sha in pairs.items():
            if jpeg in billed and raw_sha in billed:
                raw_first = raw_sha in catalogued and jpeg not in catalogued
                skipped.add(jpeg if raw_first else raw_sha)
        return skipped

    def _estimate_files(self, files: list[str], apis, engine_name: str, progress, config,
                        reanalyse: bool, named: bool) -> Estimate:
        """``estimate`` of these files: catalogued ones (same size and mtime) by their sha256, others hashed."""
        from mediaapp.ingest.hashing import sha256_file
        from mediaapp.ingest.media import sniff_format

        known = self.catalog.known_files()
        shas: dict[str, int] = {}
        paths: dict[str, str] = {}
        unreadable: list[str] = []
        for i, path in enumerate(files):
            try:
                st = os.stat(path)
                state = known.get(path)
                if state and state[0] == st.st_size and state[1] == st.st_mtime_ns:
                    shas.setdefault(state[2], st.st_size)
                elif sniff_format(path) is not None:
                    sha = sha256_file(path)
                    shas.setdefault(sha, st.st_size)
                    paths.setdefault(path, sha)
            except OSError:
                unreadable.append(path)
            if progress:
                progress(i + 1, len(files))
        est = self._price(shas, apis, engine_name, config, reanalyse, named, _probe_videos(paths, shas))
        est.unreadable = unreadable
        return est

    def _price(self, shas: dict[str, int], apis, engine_name: str, config, reanalyse: bool, named: bool,
               probed: dict[str, tuple[str, int]] | None = None) -> Estimate:
        """The ``Estimate`` of analysing the images ``shas`` (sha256 -> file size in bytes) with ``engine_name``.

        A sha256 that is a video (a catalogued asset with ``media_kind`` video,
        or one of ``probed``: sha256 -> (format, duration in ms) of files not
        catalogued yet) is priced by ``_price_videos``.
        """
        from mediaapp.cloud.config import load_config

        config = config or load_config(self.settings())
        prices = PriceTable.load(config.prices_path)
        desc = descriptor(engine_name)  # what this engine answers, and opts in (DetectFaces in the cloud)
        wanted = engine_apis([parse_api(a) for a in (apis or self.settings().apis)], desc.apis, desc.default_apis,
                             named=named)
        videos = dict(probed or {})
        videos.update({sha: (a.format, int(a.duration_ms or 0)) for sha, a in self.catalog.assets(shas).items()
                       if a.media_kind == "video"})
        sizes_of, shas = shas, {sha: size for sha, size in shas.items() if sha not in videos}
        params = params_for_config(self._base_params(), config) if engine_name == CLOUD_ENGINE \
            else self.analysis_params(engine_name)
        est = Estimate(apis=[a.value for a in wanted], budget_per_run=config.budget_per_run,
                       budget_per_month=config.budget_per_month, price_date=prices.date, price_source=prices.source)
        est.images = len(shas)
        ledger = Ledger(Path(self.root) / LEDGER_FILE)
        try:
            est.month_spent = ledger.month_spend()
            per_entry: dict[str, int] = {}
            uploads = 0
            for sha, size in shas.items():
                missing = False
                for api in wanted:
                    if not reanalyse and self.catalog.cached_analysis(sha, api.value, engine_name,
                                                                         params.key(api)) is not None:
                        est.cached += 1
                        continue
                    missing = True
                    est.calls += 1
                    est.by_api[api.value] = est.by_api.get(api.value, 0) + 1
                    for entry in priced_calls(api, params):
                        per_entry[entry] = per_entry.get(entry, 0) + 1
                if missing and config.uses_s3:
                    uploads += 1
                    est.upload_bytes += size if config.upload == "original" else min(size, 1 << 20)
            for group in sorted({prices.group(e) for e in per_entry}):  # tiers count a group's images together
                used = ledger.month_calls(prices.group_entries(next(e for e in per_entry if prices.group(e) == group)))
                for entry in [e for e in per_entry if prices.group(e) == group]:
                    usd = prices.cost(entry, per_entry[entry], used)
                    est.usd_by_entry[entry] = usd
                    est.price_sources[entry] = prices.source_of(entry)
                    est.usd += usd
                    used += per_entry[entry]
        finally:
            ledger.close()
        if videos:
            uploads += self._price_videos(est, {s: v for s, v in videos.items() if s in sizes_of}, sizes_of,
                                          wanted, engine_name, config, prices, params, reanalyse)
        if engine_name == CLOUD_ENGINE and config.uses_s3:
            est.s3_usd = uploads * (prices.s3_put + prices.s3_head)
            if not config.delete_after:
                est.s3_usd += est.upload_bytes / 1e9 * prices.s3_storage_gb_month
            if uploads:
                est.price_sources["S3"] = dict(prices.s3_source)
        if not descriptor(engine_name).costs_money:  # on-device engines cost nothing
            est.usd = est.s3_usd = 0.0
            est.usd_by_entry = {e: 0.0 for e in est.usd_by_entry}
        return est

    def _price_videos(self, est: Estimate, videos: dict[str, tuple[str, int]], sizes: dict[str, int],
                      wanted: list, engine_name: str, config, prices: PriceTable, params: AnalysisParams,
                      reanalyse: bool) -> int:
        """Add ``videos`` (sha256 -> (format, duration in ms)) to ``est``; returns the videos uploaded.

        With the cloud engine, a video Rekognition Video can read
        (``video_jobs.on_device_reason`` None) gets the ``Get*`` APIs of the
        image APIs ``wanted`` (``apis_for_media``, those the engine answers),
        each not already stored priced at its billed minutes
        (``estimate_video``); it is uploaded as the original. Any other video
        is counted in ``on_device_videos`` with its reason (free). Other engines
        answer videos themselves: their video APIs are counted, at no cost.
        """
        from mediaapp.cloud.video_jobs import on_device_reason

        desc = descriptor(engine_name)
        video_apis = [a for a in apis_for_media(list(wanted), "video") if a in desc.apis]
        est.video_apis = [a.value for a in video_apis]
        uploads = 0
        for sha, (fmt, duration_ms) in videos.items():
            reason = on_device_reason(config, fmt) if desc.costs_money else None
            if reason is not None or not video_apis:
                reason = reason or f"the {engine_name} engine does not analyse videos"
                est.on_device_videos += 1
                est.on_device_reasons[reason] = est.on_device_reasons.get(reason, 0) + 1
                continue
            est.videos += 1
            missing = [a for a in video_apis if reanalyse or self.catalog.cached_analysis(
                sha, a.value, engine_name, params.key(a)) is None]
            est.cached += len(video_apis) - len(missing)
            est.video_cached += len(video_apis) - len(missing)
            if not missing:
                continue
            priced = estimate_video(duration_ms / 1000.0, [a.value for a in missing], prices)
            for api, usd in priced.usd_by_api.items():
                est.calls += 1
                est.video_jobs += 1
                est.by_api[api] = est.by_api.get(api, 0) + 1
                est.minutes_by_api[api] = est.minutes_by_api.get(api, 0) + priced.minutes
                est.usd_by_entry[api] = est.usd_by_entry.get(api, 0.0) + usd
                est.usd += usd
                est.price_sources[api] = dict(priced.price_source)
            if config.uses_s3:
                uploads += 1
                est.upload_bytes += sizes.get(sha, 0)
        return uploads


def _probe_videos(paths: dict[str, str], shas) -> dict[str, tuple[str, int]]:
    """sha256 -> (container format, duration in ms) of the files in ``paths`` (path -> sha256, files not
    catalogued yet) that are videos and whose sha256 is in ``shas`` (read from the headers,
    ``ingest.video.probe_video``). A video whose headers cannot be read is left out: the import will fail it."""
    from mediaapp.ingest.decode import DecodeError
    from mediaapp.ingest.media import sniff_path

    out: dict[str, tuple[str, int]] = {}
    for path, sha in paths.items():
        if sha not in shas or sha in out:
            continue
        try:
            sniffed = sniff_path(path)
            if sniffed is None or sniffed.handler.media != "video":
                continue
            from mediaapp.ingest.video import probe_video

            out[sha] = (sniffed.format, probe_video(path, sniffed.format).duration_ms)
        except (OSError, DecodeError):
            continue
    return out


@dataclass
class VideoEstimate:
    """What Rekognition Video would charge for one stored video, before starting its jobs.

    ``minutes``: the minutes billed (``mediaapp.cloud.video_jobs.billed_minutes``:
    the duration rounded up to whole minutes, at least 1); ``usd_by_api``:
    ``Get*`` name -> dollars (``minutes`` x its per-minute price); ``usd``: their
    sum; ``price_source``: the ``rekognition.video`` section's ``date``,
    ``source`` and ``verified`` (what was and was not checked).
    """

    minutes: int
    usd_by_api: dict[str, float]
    usd: float
    price_source: dict[str, str]


def estimate_video(duration_s: float, apis, prices: PriceTable) -> VideoEstimate:
    """Price analysing a video of ``duration_s`` seconds with the Rekognition Video ``apis`` (``Get*`` names).

    Stored-video analysis is billed per minute of video for each analysis
    (AWS pricing page, "Amazon Rekognition Video"); prices come from the
    price table's ``rekognition.video.usd_per_minute`` (no volume tiers).
    Raises ``ValueError`` for a negative or non-finite duration or an
    unpriced API.
    """
    from mediaapp.cloud.video_jobs import billed_minutes, video_api_name, video_price_per_minute, video_prices

    minutes = billed_minutes(duration_s)
    by_api = {api: minutes * video_price_per_minute(prices, api) for api in dict.fromkeys(map(video_api_name, apis))}
    section = video_prices(prices)
    source = {"date": str(section.get("date", prices.date)), "source": str(section.get("source", prices.source)),
              "verified": str(section.get("verified", "not stated"))}
    return VideoEstimate(minutes, by_api, sum(by_api.values()), source)
