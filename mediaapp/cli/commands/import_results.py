"""``mediaapp import-results PATH...``: load Rekognition responses made elsewhere, so no one pays twice.

Accepts this app's export, flat records keyed by ``sha256`` or S3 key, and
bare Rekognition responses named by sha256 (see ``mediaapp.services.results``).
Each bad file or record is named with its reason, and the rest is stored.
"""

from __future__ import annotations

from mediaapp.core.types import CLOUD_ENGINE


def register(subparsers) -> None:
    """Add the ``import-results`` command."""
    p = subparsers.add_parser("import-results", help="load analysis results (JSON) made by this app or another")
    p.add_argument("paths", nargs="+", metavar="PATH", help="JSON files or folders of them")
    p.add_argument("--engine", default=CLOUD_ENGINE, metavar="NAME",
                   help=f"engine of responses that do not name one (default: {CLOUD_ENGINE}); "
                        "responses exported by mediaapp keep their own")
    p.set_defaults(func=run)


def run(args, ctx) -> int:
    """Import, print the counts and every record not stored with its reason; exit 0."""

    report = ctx.library().results.import_(args.paths, args.engine)
    print(f"stored {report.stored} responses for {report.images} images; {report.already} already there; "
          f"{len(report.problems)} not stored")
    for path, reason in report.problems:
        print(f"  SKIPPED {path}: {reason}")
    return 0
