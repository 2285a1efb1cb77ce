"""``mediaapp export --format rekognition DIR``: each image's stored responses as ``<sha256>.json``."""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    """Add the ``export`` command."""
    p = subparsers.add_parser("export", help="write stored analysis results to a folder")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--format", choices=["rekognition"], default="rekognition",
                   help="rekognition: one JSON file per image with its raw responses")
    p.add_argument("--engine", default=None, metavar="NAME",
                   help="only this engine's responses (default: every engine's)")
    p.set_defaults(func=run, reads_only=True)


def run(args, ctx) -> int:
    """Export and print the counts, per engine; exit 1 when the folder cannot be written."""

    try:
        report = ctx.library().results.export(args.directory, args.engine)
    except OSError as exc:
        print(f"mediaapp: cannot write {args.directory}: {exc}", file=sys.stderr)
        return 1
    engines = ", ".join(f"{name}: {count}" for name, count in sorted(report.engines.items()))
    print(f"exported {report.responses} responses of {report.images} images to {report.directory}"
          + (f" ({engines})" if engines else ""))
    if not report.responses:
        which = f"of engine {args.engine!r} " if args.engine else ""
        print(f"mediaapp: the library holds no analysis results {which}to export", file=sys.stderr)
    return 0
