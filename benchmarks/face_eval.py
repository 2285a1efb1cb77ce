"""Face detection + recognition + clustering figures on testdata/3_faces.

Usage::

    .venv/bin/python benchmarks/face_eval.py [--testdata DIR] [--cnn] [--threshold 80]

Protocol
--------
1. Detect and embed every face of the 21 photos in ``3_faces/identities.csv``
   (``DlibFaceDetector.detect_and_embed``); print faces found and time per photo.
2. Ground truth per face: the photo's single name when it has one name; for
   the three photos with several people the names left to right, annotated
   by eye below (``LEFT_TO_RIGHT``); ``None`` is a face of nobody enrolled
   (a child in ``obama_and_biden.jpg``).
3. Enrol one photo per person (the first single-person photo of each name in
   identities.csv order) and identify every other face:
   - top-1 accuracy: the nearest enrolled person is the right one (no threshold);
   - at the default threshold (similarity 80 = distance 0.6) through
     ``people.recognize_faces``: correct names, false matches (a wrong name,
     or a name given to the unknown face) and misses;
   - the same for every possible choice of enrolment photo (all combinations).
4. All pairs of faces: distance range for same / different people, and
   errors at the default threshold.
5. Clustering of all faces with ``people.cluster_faces``: number of clusters,
   homogeneity, completeness (scikit-learn) and purity.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mediaapp.analysis.local.face_detector import DlibFaceDetector  # noqa: E402
from mediaapp.analysis.local.recognition import (  # noqa: E402
    DEFAULT_CLUSTER_DISTANCE,
    DEFAULT_SIMILARITY_THRESHOLD,
    cluster_faces,
    distance_to_similarity,
    recognize_faces,
    similarity_to_distance,
)
from mediaapp.ingest.decode import open_rgb  # noqa: E402

# Names of the faces, left to right, in the photos that show several people
# (annotated by looking at the photos).
LEFT_TO_RIGHT = {
    "two_people.jpg": ["Barack Obama", "Joe Biden"],
    "obama_and_biden.jpg": ["Joe Biden", "Barack Obama", None],
    "kit_with_rose.jpg": ["Rose Leslie", "Kit Harington"],
}


def load_rows(testdata: Path) -> list[tuple[str, list[str]]]:
    """(relative path, names) per identities.csv row; '(partial face)' notes are dropped."""
    with open(testdata / "3_faces" / "identities.csv", newline="") as fh:
        return [(row["local_path"],
                 [n.replace("(partial face)", "").strip() for n in row["person(s)"].split(";")])
                for row in csv.DictReader(fh)]


def main() -> int:
    """Run the evaluation and print the figures; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testdata", type=Path, default=REPO.parent / "shared" / "testdata")
    parser.add_argument("--cnn", action="store_true", help="use dlib's CNN detector instead of HOG")
    parser.add_argument("--threshold", type=float, default=DEFAULT_SIMILARITY_THRESHOLD)
    args = parser.parse_args()

    detector = DlibFaceDetector(model="cnn" if args.cnn else "hog")
    rows = load_rows(args.testdata)
    print(f"detector {detector.version}, max_side {detector.max_side}px; "
          f"threshold similarity {args.threshold:g} = distance {similarity_to_distance(args.threshold):.3f}")

    # warm up: load the models outside the timings
    detector.detect_and_embed(open_rgb(args.testdata / rows[0][0]))

    faces, vecs, truth, photos = [], [], [], []
    times = []
    problems = 0
    for rel, names in rows:
        image = open_rgb(args.testdata / rel)
        start = time.perf_counter()
        pairs = detector.detect_and_embed(image)
        times.append(time.perf_counter() - start)
        name = Path(rel).name
        expected = LEFT_TO_RIGHT.get(name, names)
        status = "ok" if len(pairs) == len(expected) else f"EXPECTED {len(expected)}"
        problems += status != "ok"
        print(f"  {name:28s} {image.width:5d}x{image.height:<5d} faces {len(pairs)}  "
              f"{times[-1]:.2f}s  {status}")
        if len(pairs) != len(expected):
            continue
        pairs.sort(key=lambda p: p[0]["BoundingBox"]["Left"])
        for (face, vec), who in zip(pairs, expected):
            faces.append(face)
            vecs.append(vec)
            truth.append(who)
            photos.append(name)
    vecs = np.array(vecs)
    print(f"detection+landmarks+embedding: {len(faces)} faces on {len(rows)} photos, "
          f"mean {np.mean(times):.2f}s, max {np.max(times):.2f}s per photo; photos with a wrong "
          f"face count: {problems}")

    # -- identification with one enrolment photo per person
    people = sorted({t for t in truth if t})
    single = {p: [i for i, (t, ph) in enumerate(zip(truth, photos))
                  if t == p and ph not in LEFT_TO_RIGHT] for p in people}

    def evaluate(enrol: dict[str, int]) -> tuple[int, int, int, int, int]:
        """(queries, top-1 correct, correct at threshold, false matches, misses)."""
        named = {p: vecs[[i]] for p, i in enrol.items()}
        enrol_idx = set(enrol.values())
        queries = [i for i in range(len(vecs)) if i not in enrol_idx]
        top1 = 0
        for i in queries:
            if truth[i] in enrol:
                dists = {p: float(np.linalg.norm(vecs[i] - named[p][0])) for p in named}
                top1 += min(dists, key=dists.get) == truth[i]
        correct = false = missed = 0
        # one recognize call per photo, as the app does
        for photo in dict.fromkeys(photos[i] for i in queries):
            idx = [i for i in queries if photos[i] == photo]
            answer = recognize_faces([faces[i] for i in idx], vecs[idx], named, args.threshold)
            photo_faces = [faces[i] for i in idx]
            got = {idx[photo_faces.index(celeb["Face"])]: celeb["Name"]
                   for celeb in answer["CelebrityFaces"]}
            for i in idx:
                if i in got:
                    if got[i] == truth[i]:
                        correct += 1
                    else:
                        false += 1
                elif truth[i] in enrol:
                    missed += 1
        identifiable = sum(1 for i in queries if truth[i] in enrol)
        return identifiable, top1, correct, false, missed

    first = {p: single[p][0] for p in people if single[p]}
    n, top1, correct, false, missed = evaluate(first)
    unknown = sum(1 for i in range(len(vecs)) if i not in first.values() and truth[i] not in first)
    print(f"\nenrolled: {', '.join(f'{p} ({photos[i]})' for p, i in first.items())}")
    print(f"identify {n} faces of enrolled people (+{unknown} faces of nobody enrolled):")
    print(f"  top-1 accuracy              {top1}/{n} = {100 * top1 / n:.1f}%")
    print(f"  named correctly at {args.threshold:g}      {correct}/{n} = {100 * correct / n:.1f}%")
    print(f"  false matches at {args.threshold:g}        {false}")
    print(f"  missed (below threshold)    {missed}")

    choices = [single[p] for p in first]
    totals = Counter()
    worst_top1 = 100.0
    combos = 0
    for combo in itertools.product(*choices):
        n, top1, correct, false, missed = evaluate(dict(zip(first, combo)))
        combos += 1
        totals.update(n=n, top1=top1, correct=correct, false=false, missed=missed)
        worst_top1 = min(worst_top1, 100 * top1 / n)
    print(f"every choice of enrolment photo ({combos} combinations):")
    print(f"  top-1 accuracy {100 * totals['top1'] / totals['n']:.1f}% overall, worst {worst_top1:.1f}%; "
          f"false matches {totals['false']}; named correctly "
          f"{100 * totals['correct'] / totals['n']:.1f}%; misses {totals['missed']}")

    # -- all pairs
    same, diff = [], []
    for i, j in itertools.combinations(range(len(vecs)), 2):
        d = float(np.linalg.norm(vecs[i] - vecs[j]))
        (same if truth[i] is not None and truth[i] == truth[j] else diff).append(d)
    limit = similarity_to_distance(args.threshold)
    print(f"\npairs: {len(same)} same-person, distance {min(same):.3f}-{max(same):.3f} "
          f"(similarity {distance_to_similarity(max(same)):.1f}-{distance_to_similarity(min(same)):.1f}); "
          f"{len(diff)} different, distance {min(diff):.3f}-{max(diff):.3f} "
          f"(similarity {distance_to_similarity(max(diff)):.1f}-{distance_to_similarity(min(diff)):.1f})")
    print(f"  at {args.threshold:g}: same-person pairs rejected {sum(d >= limit for d in same)}, "
          f"different-person pairs accepted {sum(d < limit for d in diff)}")

    # -- clustering
    from sklearn.metrics import completeness_score, homogeneity_score

    labels_true = [t or f"unknown-{i}" for i, t in enumerate(truth)]
    print(f"\nclustering {len(vecs)} faces of {len(set(labels_true))} people (average linkage):")
    for threshold in (0.45, 0.5, DEFAULT_CLUSTER_DISTANCE, 0.6, 0.65, 0.7):
        labels = cluster_faces(vecs, threshold)
        purity = sum(Counter(t for t, lab in zip(labels_true, labels) if lab == c).most_common(1)[0][1]
                     for c in set(labels)) / len(labels)
        mark = "  <- default" if threshold == DEFAULT_CLUSTER_DISTANCE else ""
        print(f"  distance {threshold:.2f}: {len(set(labels)):2d} clusters, purity {purity:.3f}, "
              f"homogeneity {homogeneity_score(labels_true, labels):.3f}, "
              f"completeness {completeness_score(labels_true, labels):.3f}{mark}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
