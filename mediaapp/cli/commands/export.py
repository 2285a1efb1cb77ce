"""``mediaapp export --format rekognition DIR``: each image's stored responses as ``<sha256>.json``."""

from __future__ import annotations

import sys

from mediaapp.core.types import CLOUD_ENGINE


def register(subparsers) -> None:
    """Add the ``export`` command."""
    p = subparsers.add_parser("export", help="write stored analysis results to a folder")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--format", choices=["rekognition"], default="rekognition",
                   help="rekognition: one JSON file per image with its raw responses")
    p.add_argument("--engine", default=CLOUD_ENGINE, help=f"whose responses to export (default: {CLOUD_ENGINE})")
    p.set_defaults(func=run)


def run(args, ctx) -> int:
    """Export and print the counts; exit 1 when the folder cannot be written."""

    try:
        report = ctx.library().results.export(args.directory, args.engine)
    except OSError as exc:
        print(f"mediaapp: cannot write {args.directory}: {exc}", file=sys.stderr)
        return 1
    print(f"exported {report.responses} responses of {report.images} images to {report.directory}")
    return 0
