"""False positives of the on-device moderation model (Open-NSFW) on ordinary photos.

Usage::

    python benchmarks/moderation_eval.py [--testdata DIR] [--threshold 80]

Runs the local engine's DetectModerationLabels model on every image under
``1_objects``, ``3_faces`` and ``6_imagenet`` of the shared test data (none of
them is unsafe: objects, portraits and ImageNet photos) and prints, per
folder and in all, how many images would be flagged at the threshold (a
moderation label with Confidence >= threshold, the rule of ``--safe-only``),
the rate, the highest scores, and the time per image. The target (issue 11)
is at most 1 % flagged at the default threshold
(``mediaapp.core.types.MODERATION_THRESHOLD``). There are no unsafe images in
the repository or the shared data, so this measures false positives only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FOLDERS = ("1_objects", "3_faces", "6_imagenet")


def images_under(folder: Path) -> list[Path]:
    """The image files below ``folder`` that the image handler recognises by content, sorted."""
    from mediaapp.ingest.media import sniff_path

    out = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            found = sniff_path(str(path))
            if found is not None and found.handler.kind == "image":
                out.append(path)
    return out


def main() -> int:
    """Measure and print; returns 1 when the flagged rate is over 1 % at the threshold."""
    from mediaapp.analysis.local.moderation import NsfwClassifier
    from mediaapp.core.types import MODERATION_THRESHOLD
    from mediaapp.ingest.media import open_for_analysis

    default = Path(os.environ.get("MEDIAAPP_TESTDATA", REPO.parent / "shared" / "testdata"))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--testdata", type=Path, default=default)
    parser.add_argument("--threshold", type=float, default=MODERATION_THRESHOLD, help="0-100")
    args = parser.parse_args()
    model = NsfwClassifier()
    print(f"model {model.version}, threshold {args.threshold:g}")
    total = flagged = 0
    scores: list[tuple[float, str]] = []
    seconds = 0.0
    for name in FOLDERS:
        paths = images_under(args.testdata / name)
        hits = 0
        for path in paths:
            try:
                image = open_for_analysis(str(path))
            except Exception as exc:
                print(f"  skipped {path.name}: {exc}")
                continue
            start = time.perf_counter()
            score = 100.0 * model.score(image)
            seconds += time.perf_counter() - start
            scores.append((score, f"{name}/{path.name}"))
            total += 1
            if score >= args.threshold:
                hits += 1
        flagged += hits
        print(f"{name:12s} {hits:3d} of {len(paths):3d} flagged ({100.0 * hits / max(len(paths), 1):.1f} %)")
    rate = 100.0 * flagged / max(total, 1)
    print(f"{'all':12s} {flagged:3d} of {total:3d} flagged ({rate:.2f} %); target <= 1 %")
    for score, where in sorted(scores, reverse=True)[:5]:
        print(f"  highest: {score:6.2f}  {where}")
    over = [s for s, _ in scores if s >= 50.0]
    print(f"reported as a label (>= 50): {len(over)} of {total}")
    print(f"model time: {1000.0 * seconds / max(total, 1):.1f} ms per image (after decoding)")
    return 0 if rate <= 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
