"""Speed of the People bookkeeping the library runs in the importing process.

Usage::

    .venv/bin/python benchmarks/people_bench.py [--faces 5000] [--people 50] [--refs-per-person 5]
                                                [--catalog-faces 50000] [--catalog-refs 1000] [--images 20]

What is timed (wall clock, one process, numpy as installed):

1. ``assign_faces`` naming one new photo's faces (what ``People.store_outcomes``
   does per analysed image) against ``people x refs-per-person`` references;
2. ``assign_faces`` over every face (what an edit such as naming a group does);
3. ``stable_groups`` clustering every face as unknown (what the People panel
   triggers after an import).

Then the service itself on a catalog (a temporary SQLite file written
through ``FaceStore``) of ``catalog-faces`` photo faces, two per photo, a
fifth of them showing the named persons: ``catalog-refs`` faces are named by
the user (``catalog-refs / 5`` persons, five faces each), then one
``People.rematch`` names the others automatically or leaves them unknown
(printed as the setup line: the bulk case, where thousands of faces change):

4. one edit: ``People.name_faces`` naming one unknown face as a new person
   (it names every other face again against all references);
5. per imported image: ``People.store_outcomes`` for ``images`` new photos of
   two faces each (what the library calls after storing an image's responses).

For the setup, 4 and 5 the longest catalog write transaction
(``Catalog.transaction``, the lock that imports, the CLI and every other
writer wait for) is printed beside the wall time. Reindexing the search
documents is the change feed's consumer's part and is not included (the
benchmark's ``changed`` callback does nothing). Reclustering (``People.recluster``, after move out,
forget and enrol) is not timed here either: section 3 times its core.

The embeddings are synthetic: one random unit centre per person, faces at a
dlib-like same-person spread (Gaussian noise of norm about 0.4 around the
centre). They exercise the same array shapes as real faces; quality figures
come from ``benchmarks/face_eval.py`` on real photos, not from this script.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from mediaapp.services.face_matching import assign_faces, stable_groups  # noqa: E402

#: Faces per synthetic photo in the catalog part.
FACES_PER_PHOTO = 2
#: References per named person in the catalog part.
REFS_PER_NAMED = 5


def synthetic(people: int, per_person: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``people * per_person`` embeddings (float64, (n, 128)) and their person labels."""
    centres = rng.normal(size=(people, 128))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    labels = np.repeat(np.arange(people), per_person)
    noise = rng.normal(scale=0.4 / np.sqrt(128), size=(len(labels), 128))
    return centres[labels] + noise, labels


def timed(label: str, fn, extra=None) -> float:
    """Run ``fn`` once and print its wall time; ``extra()`` (called after) adds text to the line."""
    start = time.perf_counter()
    fn()
    seconds = time.perf_counter() - start
    print(f"{label:<62} {seconds * 1000:10.1f} ms{extra() if extra else ''}")
    return seconds


def _timed_catalog(path: Path):
    """A ``Catalog`` whose outermost write transactions are timed (``held``: seconds, in order)."""
    from mediaapp.catalog.db import Catalog

    class TimedCatalog(Catalog):
        """A ``Catalog`` recording how long each outermost write transaction held the lock (seconds)."""

        held: ClassVar[list[float]] = []

        @contextlib.contextmanager
        def transaction(self):
            """``Catalog.transaction``, timed when it is the outermost one."""
            with self.read() as conn:  # inside a transaction of this thread: the writer connection
                outer = not conn.in_transaction
            start = time.perf_counter()
            with super().transaction() as conn:
                yield conn
            if outer:
                self.held.append(time.perf_counter() - start)

    return TimedCatalog(path)


def _record(index: int, embedding: np.ndarray) -> dict:
    """A face record as the local engine hands it over (``analysis.local.face_records``), no crop."""
    from mediaapp.core.embeddings import embedding_to_bytes

    box = {"Width": 0.2, "Height": 0.2, "Left": 0.1 + 0.4 * index, "Top": 0.1}
    face = {"BoundingBox": box, "Confidence": 99.0,
            "Landmarks": [{"Type": t, "X": 0.2, "Y": 0.2} for t in ("eyeLeft", "eyeRight", "nose")],
            "Pose": {"Roll": 0.0, "Yaw": 0.0, "Pitch": 0.0}, "Quality": {"Brightness": 50.0, "Sharpness": 50.0}}
    return {"Index": index, "Face": face, "Embedding": embedding_to_bytes(embedding), "Crop": None}


def catalog_bench(faces: int, refs: int, images: int, rng: np.random.Generator) -> None:
    """Sections 4 and 5 of the module docstring."""
    from mediaapp.analysis.analysis_worker import ApiOutcome
    from mediaapp.analysis.local.face_detector import EMBEDDING_MODEL_VERSION
    from mediaapp.services.people_service import People

    named = max(1, refs // REFS_PER_NAMED)
    photos = faces // FACES_PER_PHOTO
    # a fifth of the faces show the named people, the rest four times as many people nobody named
    vectors, labels = synthetic(named * 5, max(1, faces // (named * 5)), rng)
    order = rng.permutation(len(vectors))[:photos * FACES_PER_PHOTO]
    vectors, labels = vectors[order], labels[order]
    with tempfile.TemporaryDirectory(prefix="people-bench-") as tmp:
        root = Path(tmp)
        catalog = _timed_catalog(root / "catalog.sqlite")
        people = People(catalog, root / "faces", dict, None, lambda: None)  # no enrolment: no worker pool
        store = people.store
        start = time.perf_counter()
        with catalog.transaction():
            for p in range(photos):
                store.index_faces(f"{p:064x}", [_record(i, vectors[p * FACES_PER_PHOTO + i])
                                                for i in range(FACES_PER_PHOTO)],
                                  origin="photo", model_version=EMBEDDING_MODEL_VERSION, detector_version="bench")
        rows = {int(f.sha256, 16) * FACES_PER_PHOTO + f.face_index: f.id for f in store.faces()}
        with catalog.transaction():  # the references: the first REFS_PER_NAMED faces of each named person
            for person in range(named):
                pid = store.add_person(f"Person {person}", "named")
                chosen = [rows[int(i)] for i in np.flatnonzero(labels == person)[:REFS_PER_NAMED]]
                store.assign((fid, pid, "user", 100.0) for fid in chosen)
        taken = [f for f in store.faces() if f.assigned_by == "user"]
        ids = list(rows.values())
        print(f"catalog: {len(ids)} faces in {photos} photos, {len(taken)} references of {named} persons"
              f" (built in {time.perf_counter() - start:.1f} s)")
        catalog.held.clear()
        start = time.perf_counter()
        people.rematch()
        auto = sum(1 for f in store.faces() if f.assigned_by == "auto")
        print(f"setup: first rematch {time.perf_counter() - start:.1f} s, {auto} faces named automatically"
              f" (longest write transaction {max(catalog.held) * 1000:.0f} ms)")

        unknown = next(f.id for f in store.faces() if f.person_id is None)
        catalog.held.clear()
        timed("one edit: name_faces (one face, new person) + rematch",
              lambda: people.name_faces([unknown], "Someone new"),
              lambda: f"   longest write transaction {max(catalog.held) * 1000:8.1f} ms")

        new = synthetic(images, FACES_PER_PHOTO, np.random.default_rng(2))[0]
        catalog.held.clear()
        start = time.perf_counter()
        for i in range(images):
            outcome = ApiOutcome("RecognizeCelebrities", "bench+bench", {"CelebrityFaces": [], "UnrecognizedFaces": []},
                                 extras={"Faces": [_record(j, new[i * FACES_PER_PHOTO + j])
                                                   for j in range(FACES_PER_PHOTO)]})
            people.store_outcomes(f"{photos + i:064x}", "local", [outcome])
        per_image = (time.perf_counter() - start) / images
        print(f"{'per imported image: store_outcomes (2 faces), mean of ' + str(images):<62} "
              f"{per_image * 1000:10.1f} ms   longest write transaction {max(catalog.held) * 1000:8.1f} ms")
        catalog.close()


def main() -> int:
    """Run the timings and print them; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=int, default=5000)
    parser.add_argument("--people", type=int, default=50)
    parser.add_argument("--refs-per-person", type=int, default=5)
    parser.add_argument("--catalog-faces", type=int, default=50000, help="photo faces in the catalog part (0: skip)")
    parser.add_argument("--catalog-refs", type=int, default=1000, help="faces the user named in the catalog part")
    parser.add_argument("--images", type=int, default=20, help="new photos stored in the catalog part")
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
    if args.catalog_faces > 0:
        catalog_bench(args.catalog_faces, args.catalog_refs, args.images, np.random.default_rng(3))
    return 0


if __name__ == "__main__":
    sys.exit(main())
