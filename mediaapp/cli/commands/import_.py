"""``mediaapp import PATH...``: import files and folders with a progress bar and a summary."""

from __future__ import annotations

import signal
import sys

from mediaapp.core.types import ImportReport
from mediaapp.tasks import CancelToken


def register(subparsers) -> None:
    """Add the ``import`` command."""
    p = subparsers.add_parser("import", help="import files and folders into the library")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--engine", action="append", dest="engines", metavar="NAME",
                   help="analysis engine (local, rekognition); repeat for several (default: settings)")
    p.add_argument("--apis", default=None, help="comma-separated: labels,text,celebrities (default: all)")
    p.add_argument("--reanalyse", action="store_true",
                   help="analyse again with the current models even where results are stored")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args, ctx) -> int:
    """Import, print a summary to stdout and each failure with its reason; exit 0 even if files failed."""
    from tqdm import tqdm

    library = ctx.library()
    apis = [a.strip() for a in args.apis.split(",")] if args.apis else None
    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    bars: dict[str, tqdm] = {}

    def progress(p) -> None:
        if args.quiet or p.stage not in ("ingest", "analyse"):
            return
        bar = bars.get(p.stage)
        if bar is None:
            for other in bars.values():
                other.close()
            bar = bars[p.stage] = tqdm(total=p.total, desc=p.stage, unit="file" if p.stage == "ingest" else "img",
                                       file=sys.stderr, leave=False)
        bar.total = p.total
        bar.n = p.done
        bar.refresh()

    try:
        report = library.import_paths(args.paths, engines=args.engines, apis=apis, progress=progress,
                                      cancel=cancel, reanalyse=args.reanalyse)
    finally:
        for bar in bars.values():
            bar.close()
        signal.signal(signal.SIGINT, previous)
    print_summary(report)
    return 130 if report.cancelled else 0


def print_summary(report: ImportReport) -> None:
    """Print the counts and every failure (path: stage: reason)."""
    print(f"imported {report.imported}, duplicates {report.duplicates}, unchanged {report.unchanged}, "
          f"not images {report.skipped}, analysed {report.analysed}, cached {report.cached}, failed {len(report.failed)}"
          + (" (cancelled)" if report.cancelled else ""))
    for problem in report.failed:
        print(f"  FAILED {problem.path}: {problem.stage}: {problem.message}")
