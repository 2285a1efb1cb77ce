"""``mediaapp search [TEXT] [--label NAME]... [--any] [--min-confidence N] [--json]``."""

from __future__ import annotations

import json
import sys
import textwrap

from mediaapp.cli.argtypes import iso_date, non_negative_int, percent
from mediaapp.core.query import NormalizedQuery, normalize_query
from mediaapp.core.types import DetectionKind, Query, SortOrder


def register(subparsers) -> None:
    """Add the ``search`` command."""
    p = subparsers.add_parser("search", help="find images by label, text, person and folder")
    p.add_argument("text", nargs="?", default="", help="words to find in detected text, labels and file names")
    p.add_argument("--label", action="append", default=[], metavar="NAME", help="label (or parent) to require")
    p.add_argument("--any", action="store_true", help="match any of the labels instead of all")
    p.add_argument("--min-confidence", type=percent, default=0.0, metavar="N", help="0-100, per detection")
    p.add_argument("--person", action="append", default=[], metavar="NAME")
    p.add_argument("--folder", default=None)
    p.add_argument("--after", type=iso_date, default=None, help="taken at or after (ISO date)")
    p.add_argument("--before", type=iso_date, default=None, help="taken at or before (ISO date)")
    p.add_argument("--sort", choices=[s.value for s in SortOrder], default=SortOrder.RELEVANCE.value,
                   help="relevance (best match), date (newest first), oldest (oldest first), path, "
                        "name (file name A-Z), size (largest first)")
    p.add_argument("--limit", type=non_negative_int, default=100,
                   help="most matches to print (default 100; 0 = all)")
    p.add_argument("--json", action="store_true", help="print a JSON list of matches")
    p.set_defaults(func=run, reads_only=True)


def run(args, ctx) -> int:
    """Print the matches: one path per line, or JSON with path, sha256 and matching detections."""
    library = ctx.library()
    folder = None
    if args.folder:
        import os
        folder = os.path.abspath(args.folder)
    query = Query(text=args.text, labels=tuple(args.label), match_all=not args.any,
                  min_confidence=args.min_confidence, persons=tuple(args.person), folder=folder,
                  taken_after=args.after, taken_before=args.before, sort=SortOrder(args.sort),
                  limit=args.limit or None)
    page = library.search(query)
    if page.total > len(page.hits):
        print(f"showing {len(page.hits)} of {page.total} matches (--limit 0 shows all)", file=sys.stderr)
    if not args.json:
        for hit in page.hits:
            print(hit.path)
        return 0
    normalized = normalize_query(query)  # read once, as the backends read it
    _print_json(library, page.hits, normalized, args.min_confidence)
    return 0


#: Hits whose detections are read and printed together by ``search --json``: the output is
#: streamed in these batches, so printing every match of a large library stays in bounded memory.
JSON_BATCH = 500


def _print_json(library, hits, normalized: NormalizedQuery, min_confidence: float) -> None:
    """Print ``hits`` as one JSON list (path, sha256, score and the detections that explain each match).

    Detections are read ``JSON_BATCH`` hits at a time and each batch is
    written before the next is read.
    """
    out = sys.stdout
    out.write("[")
    first = True
    for start in range(0, len(hits), JSON_BATCH):
        batch = hits[start:start + JSON_BATCH]
        detections = library.detections([h.sha256 for h in batch], min_confidence=min_confidence)
        for hit in batch:
            item = {"path": hit.path, "sha256": hit.sha256, "score": hit.score,
                    "detections": [_detection_json(d) for d in detections.get(hit.sha256, [])
                                   if _relevant(d, normalized)]}
            out.write(("\n" if first else ",\n") + textwrap.indent(json.dumps(item, indent=2), "  "))
            first = False
        out.flush()
    out.write("\n]\n" if not first else "]\n")


def _relevant(det, normalized: NormalizedQuery) -> bool:
    """Whether a detection explains the match: a wanted label/person, or a LINE/label sharing a query word.

    With neither labels, persons nor text in the query, every non-text detection is relevant.
    """
    from mediaapp.core.text import tokenize

    wanted = normalized.labels or normalized.persons
    words = set(normalized.tokens)
    is_text = det.kind is DetectionKind.TEXT
    if normalized.label_matches(det) or normalized.person_matches(det):
        return True
    if words and (not is_text or det.text_type == "LINE") and words & set(tokenize(" ".join((det.name, *det.parents)))):
        return True
    return not wanted and not words and not is_text


def _detection_json(det) -> dict:
    out = {"Kind": det.kind.value, "Name": det.name, "Confidence": round(det.confidence, 3), "Source": det.source}
    if det.box:
        out["BoundingBox"] = det.box.to_rekognition()
    if det.parents:
        out["Parents"] = list(det.parents)
    if det.text_type:
        out["Type"] = det.text_type
    return out
