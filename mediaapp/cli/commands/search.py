"""``mediaapp search [TEXT] [--label NAME]... [--any] [--person NAME]... [--like PATH] [--json]`` and more filters."""

from __future__ import annotations

import json
import os
import sys
import textwrap

from mediaapp.cli.argtypes import iso_date, non_negative_int, percent
from mediaapp.core.filenames import display_path
from mediaapp.core.moderation import MODERATION_LABELS, moderation_label
from mediaapp.core.query import NormalizedQuery, face_attribute_keys, normalize_query
from mediaapp.core.responses import FACE_ATTRIBUTES
from mediaapp.core.text import normalize_label
from mediaapp.core.types import MODERATION_THRESHOLD, MODERATION_UNCHECKED, DetectionKind, Query, SortOrder


def register(subparsers) -> None:
    """Add the ``search`` command."""
    p = subparsers.add_parser("search", help="find images by label, text, person and folder")
    p.add_argument("text", nargs="?", default="", help="words to find in detected text, labels and file names")
    p.add_argument("--label", action="append", default=[], metavar="NAME", help="label (or parent) to require")
    p.add_argument("--any", action="store_true", help="match any of the labels instead of all")
    p.add_argument("--min-confidence", type=percent, default=50.0, metavar="N",
                   help="0-100, per label detection (default 50, as the window's slider; labels are stored down to 20)")
    p.add_argument("--person", action="append", default=[], metavar="NAME")
    p.add_argument("--face-attribute", action="append", default=[], metavar="NAME", type=_face_attribute,
                   dest="face_attributes",
                   help=f"a face has it (repeatable: one face has them all; with --person, that person's face): "
                        f"{', '.join(FACE_ATTRIBUTES)}")
    p.add_argument("--moderation", action="append", default=[], metavar="NAME", type=_moderation,
                   help="flagged with this unsafe-content label of Rekognition's moderation taxonomy or its "
                        "parent (Explicit Nudity, Suggestive, Violence...; any case; repeatable: any of them), at "
                        f"the default threshold ({MODERATION_THRESHOLD:g}); '{MODERATION_UNCHECKED}' finds images "
                        "never checked")
    p.add_argument("--safe-only", action="store_true",
                   help=f"leave out images flagged as unsafe content (a moderation label at {MODERATION_THRESHOLD:g} "
                        "or more); images never checked are kept")
    p.add_argument("--folder", default=None)
    p.add_argument("--after", type=iso_date, default=None, help="taken at or after (ISO date)")
    p.add_argument("--before", type=iso_date, default=None, help="taken at or before (ISO date)")
    p.add_argument("--sort", choices=[s.value for s in SortOrder], default=SortOrder.RELEVANCE.value,
                   help="relevance (best match), date (newest first), oldest (oldest first), path, "
                        "name (file name A-Z), size (largest first), rating (most stars first, unrated last)")
    p.add_argument("--min-rating", type=_stars, default=None, metavar="N",
                   help="only files whose own rating (xmp:Rating) is N stars or more (1-5; -1 includes rejected)")
    p.add_argument("--like", default=None, metavar="PATH",
                   help="more like this: rank by similarity to this imported photo (combines with the filters)")
    p.add_argument("--limit", type=non_negative_int, default=100,
                   help="most matches to print (default 100; 0 = all)")
    p.add_argument("--json", action="store_true", help="print a JSON list of matches")
    p.set_defaults(func=run, reads_only=True)


def _stars(text: str) -> float:
    """argparse type of ``--min-rating``: a number from -1 (rejected) to 5 stars."""
    import argparse

    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not -1 <= value <= 5:
        raise argparse.ArgumentTypeError(f"expected a rating from -1 to 5, not {text!r}")
    return value


def _face_attribute(text: str) -> str:
    """argparse type of ``--face-attribute``: one of ``FACE_ATTRIBUTES`` (any case), lower-cased."""
    import argparse

    try:
        keys = face_attribute_keys((text,))
    except ValueError:
        keys = ()
    if not keys:
        raise argparse.ArgumentTypeError(f"unknown face attribute {text!r}; expected one of "
                                         f"{', '.join(FACE_ATTRIBUTES)}")
    return keys[0]


def _moderation(text: str) -> str:
    """argparse type of ``--moderation``: ``MODERATION_UNCHECKED`` or a name of Rekognition's moderation
    taxonomy (``core.moderation.MODERATION_LABELS``, versions 6 and 7), in any case; returns the taxonomy's
    spelling. Refused otherwise, before the library is opened, naming the value and listing the names."""
    import argparse

    if normalize_label(text) == MODERATION_UNCHECKED:
        return MODERATION_UNCHECKED
    name = moderation_label(text)
    if name is None:
        raise argparse.ArgumentTypeError(f"unknown moderation label {text!r}; expected '{MODERATION_UNCHECKED}' "
                                         f"or one of Rekognition's: {', '.join(MODERATION_LABELS)}")
    return name


def run(args, ctx) -> int:
    """Print the matches: one path per line, or JSON with path, sha256 and matching detections."""
    if args.like is not None and not os.path.isfile(args.like):  # refused before the library is opened
        print(f"mediaapp: --like {display_path(args.like)}: no such file", file=sys.stderr)
        return 2
    library = ctx.library()
    like = None
    if args.like is not None:
        try:
            like = library.like(args.like)
        except LookupError as exc:  # not imported, or no embedding yet
            print(f"mediaapp: --like {exc.args[0]}", file=sys.stderr)
            return 2
    folder = None
    if args.folder:
        folder = os.path.abspath(args.folder)
    query = Query(text=args.text, labels=tuple(args.label), match_all=not args.any,
                  min_confidence=args.min_confidence, persons=tuple(args.person), folder=folder,
                  face_attributes=tuple(args.face_attributes),
                  moderation=tuple(args.moderation), safe_only=args.safe_only,
                  taken_after=args.after, taken_before=args.before, sort=SortOrder(args.sort),
                  min_rating=args.min_rating, limit=args.limit or None, like=like)
    page = library.search(query)
    from mediaapp.cli.relabel_notice import say_once

    say_once(library)  # photos an older label model labelled: said once per library (services/relabel.py)
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

    wanted = normalized.labels or normalized.persons or normalized.face_attributes
    words = set(normalized.tokens)
    is_text = det.kind is DetectionKind.TEXT
    if normalized.label_matches(det) or normalized.person_matches(det) or normalized.attribute_matches(det):
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
