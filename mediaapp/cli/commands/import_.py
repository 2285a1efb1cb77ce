"""``mediaapp import PATH...``: import files and folders with a progress bar and a summary.

With the ``rekognition`` engine uploading to S3, a second bar counts the
bytes sent (and the files, as its postfix), and the summary says how many
files were uploaded; Ctrl+C also aborts the uploads in flight.
"""

from __future__ import annotations

import signal
import sys
import threading

from mediaapp.cli.argtypes import api_list, engine_name, existing_path
from mediaapp.core.apis import short_names
from mediaapp.core.filenames import display_path
from mediaapp.core.types import ImportReport


def register(subparsers) -> None:
    """Add the ``import`` command."""
    p = subparsers.add_parser("import", help="import files and folders into the library")
    p.add_argument("paths", nargs="+", metavar="PATH", type=existing_path)
    p.add_argument("--engine", action="append", dest="engines", metavar="NAME", type=engine_name,
                   help="analysis engine (local, rekognition); repeat for several (default: settings)")
    p.add_argument("--apis", type=api_list, default=None,
                   help=f"comma-separated: {short_names()} (default: settings)")
    p.add_argument("--reanalyse", action="store_true",
                   help="analyse again with the current models even where results are stored")
    p.add_argument("--no-analysis", action="store_true",
                   help="catalog, metadata and thumbnails only; a later import without it does only the analysis")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def unusable_engine(library, named: list[str] | None) -> str | None:
    """Why an engine this import would use cannot run here (unknown, no AWS credentials), or None.

    The engines are those ``named`` with ``--engine``, else the library's
    default ones and those of its folder rules. Each is built as the import
    would build it (locally: no network call, nothing bought).
    """
    from mediaapp.analysis.registry import create_engine
    from mediaapp.core.analysis import EngineUnavailableError

    settings = library.settings
    names = named or [*settings.engines, *(e for rule in settings.folder_engines.values() for e in rule)]
    for name in dict.fromkeys(names):
        try:
            create_engine(name, library.engine_config(name))
        except EngineUnavailableError as exc:
            return f"engine {name}: {exc}"
    return None


def run(args, ctx) -> int:
    """Import, print a summary to stdout and each failure with its reason.

    Exit status: 0 when the run finished, even if some files failed; 130
    when cancelled (Ctrl+C); 3 when an engine's budget stopped it before all
    images were analysed (the summary says how many are done and left).
    """
    from tqdm import tqdm

    from mediaapp.cloud.transfers import describe, watch_uploads
    from mediaapp.tasks import CancelToken

    if args.no_analysis and (args.engines or args.apis or args.reanalyse):
        print("mediaapp: --no-analysis cannot be combined with --engine, --apis or --reanalyse", file=sys.stderr)
        return 2
    library = ctx.library()
    apis = args.apis
    engines = [] if args.no_analysis else args.engines
    problem = None if args.no_analysis else unusable_engine(library, args.engines)
    if problem:  # refused before any work: nothing is scanned, stored or bought
        print(f"mediaapp: {problem}", file=sys.stderr)
        return 2
    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    bars: dict[str, tqdm] = {}

    units = {"ingest": "file", "analyse": "img", "model download": "B"}

    def progress(p) -> None:
        if args.quiet or not (p.stage in units or p.stage.startswith("model ")):
            return
        bar = bars.get(p.stage)
        if bar is None:
            for other in bars.values():
                other.close()
            unit = units.get(p.stage, "step")
            bar = bars[p.stage] = tqdm(total=p.total or None, desc=p.stage, unit=unit, unit_scale=unit == "B",
                                       file=sys.stderr, leave=False)
        bar.total = p.total or None
        bar.n = p.done
        bar.refresh()

    upload_lock = threading.Lock()
    uploads: dict[str, tqdm] = {}

    def upload_bar() -> tqdm:  # called on the engine's upload threads, with upload_lock held
        if "bar" not in uploads:
            uploads["bar"] = tqdm(desc="upload", unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr,
                                  leave=False)
        return uploads["bar"]

    def on_bytes(n: int) -> None:
        if not args.quiet:
            with upload_lock:
                upload_bar().update(n)

    def on_file(uploaded: bool) -> None:
        if not args.quiet:
            totals = watch.totals()
            with upload_lock:
                upload_bar().set_postfix(files=totals.files_uploaded, present=totals.files_present)

    try:
        with watch_uploads(on_bytes, on_file, cancel=cancel) as watch:
            report = library.import_paths(args.paths, engines=engines, apis=apis, progress=progress,
                                          cancel=cancel, reanalyse=args.reanalyse)
    finally:
        for bar in [*bars.values(), *uploads.values()]:
            bar.close()
        signal.signal(signal.SIGINT, previous)
    print_summary(report)
    totals = watch.totals()
    if totals.files_uploaded or totals.files_present:
        print(describe(totals))
    if not report.cancelled:
        from mediaapp.cli.relabel_notice import say_once

        say_once(library)  # photos an older label model labelled: said once per library (services/relabel.py)
    if report.cancelled:
        return 130
    return 3 if report.budget_stopped else 0


def print_summary(report: ImportReport) -> None:
    """Print the counts and every failure (path: stage: reason)."""
    print(f"imported {report.imported}, duplicates {report.duplicates}, unchanged {report.unchanged}, "
          f"not images {report.skipped}, analysed {report.analysed}, cached {report.cached}, "
          f"failed {len(report.failed)}"
          + (f", files' own metadata read {report.read}" if report.read else "")
          + (f", left to another import running now {report.elsewhere}" if report.elsewhere else "")
          + (" (cancelled)" if report.cancelled else "")
          + (" (stopped by the budget)" if report.budget_stopped else ""))
    for problem in report.failed:
        print(f"  FAILED {display_path(problem.path)}: {problem.stage}: {problem.message}")
