"""Speed of the People bookkeeping the library runs in the importing process.

Usage::

    .venv/bin/python benchmarks/people_bench.py [--faces 5000] [--people 50] [--refs-per-person 5]

What is timed (wall clock, one process, numpy as installed):

1. ``assign_faces`` naming one new photo's faces (what ``People.store_outcomes``
   does per analysed image) against ``people x refs-per-person`` references;
2. ``assign_faces`` over every face (what an edit such as naming a group does);
3. ``stable_groups`` clustering every face as unknown (what the People panel
   triggers after an import).

The embeddings are synthetic: one random unit centre per person, faces at a
dlib-like same-person spread (Gaussian noise of norm about 0.4 around the
centre). They exercise the same array shapes as real faces; quality figures
come from ``benchmarks/face_eval.py`` on real photos, not from this script.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mediaapp.people import assign_faces, stable_groups  # noqa: E402


def synthetic(people: int, per_person: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``people * per_person`` embeddings (float64, (n, 128)) and their person labels."""
    centres = rng.normal(size=(people, 128))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = np.repeat(np.arange(people), per_person)
    noise = rng.normal(scale=0.4 / np.sqrt(128), size=(len(labels), 128))
    return centres[labels] + noise, labels


def timed(label: str, fn) -> float:
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(f"{label:<58} {seconds * 1000:10.1f} ms")
    return seconds


def main() -> int:
    """Run the timings and print them; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=5000)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--refs-per-person", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    per_person = max(1, args.faces // args.people)
    faces, _ = synthetic(args.people, per_person, rng)
    refs, ref_people = synthetic(args.people, args.refs_per_person, rng)
    photos = [f"p{i // 2}" for i in range(len(faces))]  # two faces per photo
    print(f"{len(faces)} faces, {args.people} people, {len(refs)} references")
    timed("assign_faces: one photo (2 faces) against every reference",
          lambda: assign_faces(faces[:2], photos[:2], refs, ref_people))
    timed(f"assign_faces: all {len(faces)} faces",
          lambda: assign_faces(faces, photos, refs, ref_people))
    timed(f"stable_groups: cluster {len(faces)} unknown faces",
          lambda: stable_groups(faces, [None] * len(faces), [False] * len(faces), 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
