"""``mediaapp faces compare SOURCE TARGET [--similarity-threshold N] [--json] [--engine local|rekognition]``.

CompareFaces: the largest face of SOURCE is compared with every face of
TARGET, on this computer (``local``, the default: dlib embeddings, their
Euclidean distance mapped to Similarity 0-100 by
``mediaapp.analysis.local.recognition.distance_to_similarity``, so dlib's
same-person distance 0.6 is Rekognition's default match threshold 80) or by
Amazon Rekognition (``rekognition``: one CompareFaces call, priced and held
to the library's budgets).
Prints one line per target face, best match first, or the CompareFaces
response with ``--json``. Exit status: 0 when the images were compared
(whether or not a face matched), 1 when an image has no face or cannot be
read, 2 for usage errors (a threshold outside 0-100, a missing file).
"""

from __future__ import annotations

import json
import os
import sys

from mediaapp.cli.argtypes import percent
from mediaapp.core.filenames import display_path
from mediaapp.core.types import CLOUD_ENGINE, LOCAL_ENGINE


def register(subparsers) -> None:
    """Add the ``faces`` command and its ``compare`` action."""
    p = subparsers.add_parser("faces", help="compare faces between two images")
    sub = p.add_subparsers(dest="faces_command", metavar="ACTION")
    compare = sub.add_parser("compare", help="CompareFaces: the largest face of SOURCE against every face of TARGET")
    compare.add_argument("source", metavar="SOURCE")
    compare.add_argument("target", metavar="TARGET")
    compare.add_argument("--similarity-threshold", type=percent, default=80.0, metavar="N",
                         help="Similarity (0-100) from which a face matches (default 80, as Rekognition)")
    compare.add_argument("--json", action="store_true", help="print the CompareFaces response")
    compare.add_argument("--engine", choices=(LOCAL_ENGINE, CLOUD_ENGINE), default=LOCAL_ENGINE,
                         help="local (this computer, free; default) or rekognition (Amazon Rekognition, one "
                              "priced CompareFaces call)")
    compare.set_defaults(func=run_compare)
    p.set_defaults(func=lambda args, ctx: (p.print_help(sys.stderr), 2)[1])


def _box(face: dict) -> str:
    box = face.get("BoundingBox") or {}
    return "box " + " ".join(f"{k[0].lower()}={box[k]:.3f}" for k in ("Left", "Top", "Width", "Height") if k in box)


def run_compare(args, ctx) -> int:
    """Compare the two images; print the matches (or the response as JSON)."""
    from mediaapp.analysis.engine_base import AnalysisError, EngineUnavailableError

    for path in (args.source, args.target):
        if not os.path.isfile(os.path.expanduser(path)):
            print(f"mediaapp: {display_path(path)} is not a file", file=sys.stderr)
            return 2
    try:
        response = ctx.library().compare_faces(args.source, args.target, args.similarity_threshold, args.engine)
    except (AnalysisError, EngineUnavailableError, RuntimeError, ValueError) as exc:
        print(f"mediaapp: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(response, indent=2))
        return 0
    source = response["SourceImageFace"]
    print(f"source face: {_box(source)} (confidence {source.get('Confidence', 0):.1f}%)")
    for match in response["FaceMatches"]:
        print(f"MATCH   similarity {match['Similarity']:5.1f}%  {_box(match['Face'])}")
    for face in response["UnmatchedFaces"]:
        print(f"no match                   {_box(face)}")
    return 0
