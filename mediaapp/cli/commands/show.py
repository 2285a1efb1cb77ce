"""``mediaapp show PATH [--json]``: stored responses keyed by API name, what the file says of itself, its errors."""

from __future__ import annotations

import json
import sys

from mediaapp.core.filenames import display_path


def register(subparsers) -> None:
    """Add the ``show`` command."""
    p = subparsers.add_parser("show", help="show what the library knows of one file")
    p.add_argument("path")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=run, reads_only=True)


def run(args, ctx) -> int:
    """Print the record; exit 1 when the file is not in the library."""
    try:
        record = ctx.library().show(args.path)
    except KeyError as exc:
        print(f"mediaapp: {exc.args[0]}", file=sys.stderr)
        return 1
    if args.json:
        record.pop("analyses", None)
        print(json.dumps(record, indent=2, default=str))
        return 0
    asset = record.get("asset") or {}
    print(f"{display_path(record['path'])}\n  sha256 {record['sha256']}")
    if asset:
        print(f"  {asset['format']} {asset['width']}x{asset['height']}, taken {asset['taken_at'] or '-'}")
        for key in ("title", "description", "rating", "label", "date_created"):
            if asset.get(key) is not None:
                print(f"  {key.replace('_', ' ')}: {asset[key]}")
    own = record.get("metadata") or {}
    if own.get("keywords"):  # the file's own keywords, apart from the machine labels below
        print("  keywords: " + ", ".join("|".join([*reversed(k["parents"]), k["name"]]) for k in own["keywords"]))
    if own.get("people"):
        print("  people named in the file: " + ", ".join(p["name"] for p in own["people"]))
    labels = record.get("DetectLabels", {}).get("Labels", [])
    if labels:
        print("  labels: " + ", ".join(f"{l['Name']} {l['Confidence']:.0f}" for l in labels))
    lines = [t["DetectedText"] for t in record.get("DetectText", {}).get("TextDetections", []) if t["Type"] == "LINE"]
    if lines:
        print("  text: " + " | ".join(lines))
    celebs = record.get("RecognizeCelebrities", {})
    if celebs:
        names = [c["Name"] for c in celebs.get("CelebrityFaces", [])]
        print(f"  people: {', '.join(names) or '-'}; unrecognized faces: {len(celebs.get('UnrecognizedFaces', []))}")
    for err in record["errors"]:
        print(f"  ERROR {err['stage']}: {err['message']}")
    return 0
