"""People: name faces once, find every photo of that person.

The service over the catalog's people tables (``mediaapp.catalog.faces``) that
the GUI and the CLI call through ``Library.people``. What it does:

- **Store** the faces the local engine found while analysing an image (box,
  details, 128-d dlib embedding, crop), handed over in
  ``ApiOutcome.extras`` (``store_outcomes``, called by the library after it
  stored the responses). Nothing is stored while ``faces_enabled`` is off.
- **Name**: a person is enrolled from example photos (``enrol``) or made by
  naming a group of faces (``name_group``). The faces named by the user (or
  enrolled) are the person's *references*. Every other face is named
  automatically (``assign_faces``) with the person whose nearest reference
  is closest, when the Similarity (0-100, ``distance_to_similarity``: dlib's
  0.6 distance is Rekognition's default FaceMatchThreshold 80) reaches the
  library's ``face_match_threshold`` setting (default 80); like Rekognition's
  RecognizeCelebrities, a person is given at most once per photo, best match
  first. Faces the user moved out of a person (or rejected) are never given
  that person again. New photos are named as they are analysed.
- **Cluster** the unknown faces (unnamed, not rejected) with
  ``cluster_faces`` (average linkage at distance 0.55, see
  ``DEFAULT_CLUSTER_DISTANCE``) whenever some have no group yet, keeping group
  ids stable (``stable_groups``) and groups the user made (merge, move out).
- **Search**: named faces become ``person`` detections (engine ``local``,
  Confidence = Similarity, with their box) in the catalog and the search
  index (``FaceStore.sync_detections``), next to cloud names (engine
  ``rekognition``), so ``search --person``, the People facet and the boxes
  in the grid and the detail view all show them.

Methods block (SQLite, numpy; ``enrol`` also runs dlib in a worker process):
the GUI calls them through ``BackgroundRunner``. Edits are serialised by a
lock and each runs in one catalog transaction, then reindexes what changed.
"""

from __future__ import annotations

import base64
import os
import shutil
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

import numpy as np

from mediaapp.analysis.local.faces import EMBEDDING_MODEL_VERSION, EMBEDDING_SIZE
from mediaapp.analysis.local.people import (DEFAULT_CLUSTER_DISTANCE, DEFAULT_SIMILARITY_THRESHOLD, cluster_faces,
                                            distance_to_similarity)
from mediaapp.catalog.faces import LOCAL_ENGINE, FaceRecord, FaceStore, normalize_name
from mediaapp.core.types import BoundingBox

if TYPE_CHECKING:  # pragma: no cover
    from mediaapp.analysis.worker import ApiOutcome
    from mediaapp.library import Library

__all__ = ["People", "FaceGroup", "FaceInfo", "PersonSummary", "EnrolReport", "assign_faces", "stable_groups",
           "group_key", "parse_group_key", "MAX_ENGINE_EXAMPLES", "USER_SIMILARITY"]

#: Similarity (0-100) recorded for a face the user named (or enrolled): the
#: user's word is certain, and it sorts first among a person's detections.
USER_SIMILARITY = 100.0
#: At most this many reference embeddings per person go to the local engine
#: in its config (``engine_config``), which travels with every analysis job to
#: the worker processes: 8 x 512 bytes of float32 per person keeps a job small
#: even with hundreds of people. Enrolled examples go first, then faces the
#: user named, oldest first. The parent still names every stored face against
#: all references, so this only bounds what the stored RecognizeCelebrities
#: responses can name by themselves.
MAX_ENGINE_EXAMPLES = 8
#: Candidate faces compared per block against all references (bounds the
#: (block, references, 128) float64 difference array to about 64 MB).
_BLOCK_FLOATS = 8 * 1024 * 1024


# -- pure algorithms --------------------------------------------------------------------------


def _distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances (n, m) between rows of ``a`` (n, 128) and ``b`` (m, 128), blockwise."""
    out = np.empty((len(a), len(b)))
    step = max(1, _BLOCK_FLOATS // max(1, len(b) * a.shape[1]))
    for i in range(0, len(a), step):
        out[i:i + step] = np.linalg.norm(a[i:i + step, None, :] - b[None, :, :], axis=2)
    return out


def assign_faces(embeddings: np.ndarray, photos: Sequence[str], references: np.ndarray,
                 reference_persons: Sequence[int], threshold: float = DEFAULT_SIMILARITY_THRESHOLD,
                 excluded: Mapping[int, set[int]] | None = None,
                 occupied: Mapping[str, set[int]] | None = None) -> list[tuple[int | None, float | None]]:
    """Name faces after the nearest reference: one ``(person, similarity)`` or ``(None, None)`` per face.

    ``embeddings``: (n, 128) faces to name; ``photos``: the image of each
    (n ids). ``references``: (m, 128) embeddings of named faces with
    ``reference_persons`` (m person ids). A face's score for a person is the
    Similarity (0-100, ``distance_to_similarity``) to that person's nearest
    reference; pairs scoring >= ``threshold`` are assigned greedily per
    photo, best first, each face and each person at most once per photo (as
    ``people.recognize_faces`` does for RecognizeCelebrities). ``excluded``
    maps a face's row number to persons it must never get; ``occupied`` maps
    a photo to persons already named there by the user.
    Raises ``ValueError`` for mismatched lengths or a threshold outside 0-100.
    """
    if not 0.0 <= float(threshold) <= 100.0:
        raise ValueError(f"threshold must be between 0 and 100, got {threshold}")
    vecs = np.asarray(embeddings, dtype=np.float64).reshape(-1, EMBEDDING_SIZE)
    refs = np.asarray(references, dtype=np.float64).reshape(-1, EMBEDDING_SIZE)
    if len(photos) != len(vecs) or len(reference_persons) != len(refs):
        raise ValueError("one photo per face and one person per reference are needed")
    out: list[tuple[int | None, float | None]] = [(None, None)] * len(vecs)
    if not len(vecs) or not len(refs):
        return out
    persons = sorted(set(int(p) for p in reference_persons))
    column = {p: i for i, p in enumerate(persons)}
    ref_cols = np.array([column[int(p)] for p in reference_persons])
    order = np.argsort(ref_cols, kind="stable")
    starts = np.searchsorted(ref_cols[order], np.arange(len(persons)))
    nearest = np.minimum.reduceat(_distances(vecs, refs[order]), starts, axis=1)  # (n, persons)
    sims = np.atleast_2d(distance_to_similarity(nearest))
    for row, banned in (excluded or {}).items():
        for person in banned:
            if person in column:
                sims[row, column[person]] = -1.0
    by_photo: dict[str, list[int]] = defaultdict(list)
    for row, photo in enumerate(photos):
        by_photo[photo].append(row)
    for photo, rows in by_photo.items():
        taken = set((occupied or {}).get(photo, ()))
        sub = sims[rows]
        pairs = [(float(sub[i, j]), rows[i], persons[j]) for i, j in zip(*np.nonzero(sub >= threshold))]
        pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
        named: set[int] = set()
        for sim, row, person in pairs:
            if row not in named and person not in taken:
                out[row] = (person, sim)
                named.add(row)
                taken.add(person)
    return out


def stable_groups(embeddings: np.ndarray, current: Sequence[int | None], locked: Sequence[bool],
                  next_id: int, threshold: float = DEFAULT_CLUSTER_DISTANCE) -> list[int]:
    """Group ids for unknown faces: clusters of the unlocked ones, keeping ids where possible.

    ``embeddings`` (n, 128); ``current``: each face's group id (None: new);
    ``locked``: faces the user placed keep their group unchanged. The
    unlocked faces are clustered with ``cluster_faces`` (average linkage at
    ``threshold``). A cluster whose average distance to a locked group is
    below ``threshold`` joins that group (the average-linkage rule again, so
    a new photo of someone the user merged lands in the merged group);
    otherwise it takes the id most of its faces had (larger clusters choose
    first, ties to the smaller id), or a fresh one from ``next_id`` up.
    Returns one id per face.
    """
    vecs = np.asarray(embeddings, dtype=np.float64).reshape(-1, EMBEDDING_SIZE)
    out: list[int] = [int(g) if g is not None else -1 for g in current]
    free = [i for i in range(len(vecs)) if not locked[i]]
    if not free:
        return out
    locked_groups: dict[int, list[int]] = defaultdict(list)
    for i in range(len(vecs)):
        if locked[i] and current[i] is not None:
            locked_groups[int(current[i])].append(i)
    labels = cluster_faces(vecs[free], threshold) if len(free) > 1 else [0]
    clusters: dict[int, list[int]] = defaultdict(list)
    for index, label in zip(free, labels):
        clusters[label].append(index)
    used = set(locked_groups)
    group_ids = sorted(locked_groups)
    locked_rows = [i for g in group_ids for i in locked_groups[g]]
    starts = np.cumsum([0] + [len(locked_groups[g]) for g in group_ids])[:-1]
    fresh = next_id
    for members in sorted(clusters.values(), key=lambda m: (-len(m), m[0])):
        gid = None
        if locked_rows:
            sums = np.add.reduceat(_distances(vecs[members], vecs[locked_rows]).sum(axis=0), starts)
            means = sums / (len(members) * np.array([len(locked_groups[g]) for g in group_ids]))
            best = int(np.argmin(means))
            if means[best] < threshold:
                gid = group_ids[best]
        if gid is None:
            votes = Counter(int(current[m]) for m in members if current[m] is not None and int(current[m]) not in used)
            if votes:
                gid = max(votes.items(), key=lambda kv: (kv[1], -kv[0]))[0]
            else:
                gid, fresh = fresh, fresh + 1
            used.add(gid)
        for m in members:
            out[m] = gid
    return out


# -- results ----------------------------------------------------------------------------------

def group_key(person_id: int | None = None, group_id: int | None = None) -> str:
    """The key of a person's group (``person:<id>``) or of an unknown cluster (``group:<id>``)."""
    return f"person:{person_id}" if person_id is not None else f"group:{group_id}"


def parse_group_key(key: str) -> tuple[str, int]:
    """``("person", id)`` or ``("group", id)`` from a ``group_key``; ``ValueError`` for anything else."""
    kind, _, number = str(key).partition(":")
    if kind not in ("person", "group") or not number.lstrip("-").isdigit():
        raise ValueError(f"not a group key: {key!r}")
    return kind, int(number)


@dataclass(frozen=True)
class FaceInfo:
    """One face as the People panel shows it.

    ``box`` in ratios of the photo; ``confidence`` (detector) and
    ``similarity`` 0-100; ``crop`` the absolute path of its crop JPEG (None
    when none was written); ``path`` a file holding the photo (None for an
    enrolment example or a photo no longer in the library).
    """

    id: int
    sha256: str
    face_index: int
    box: BoundingBox
    confidence: float
    crop: str | None
    path: str | None
    person_id: int | None
    person_name: str | None
    assigned_by: str | None
    similarity: float | None
    group_id: int | None
    origin: str = "photo"


@dataclass(frozen=True)
class FaceGroup:
    """A group in the People panel: a named person's faces, or a cluster of unknown faces.

    ``key`` is ``group_key(...)``; ``name`` None for an unknown cluster;
    ``face_ids`` its photo faces (state ok), most confident first;
    ``photos`` distinct images; ``examples`` enrolled example faces;
    ``cover`` the crop shown for the group (absolute path or None);
    ``source`` how a person was made (``examples``, ``named``), None for clusters.
    """

    key: str
    name: str | None
    person_id: int | None
    group_id: int | None
    face_ids: tuple[int, ...]
    photos: int
    examples: int = 0
    cover: str | None = None
    source: str | None = None

    @property
    def title(self) -> str:
        """The name, or ``Unknown <group id>``."""
        return self.name if self.name is not None else f"Unknown {self.group_id}"


@dataclass(frozen=True)
class PersonSummary:
    """One line of ``mediaapp people list``: a name, its photo faces and photos, and where it comes from.

    ``source`` is ``local`` for persons named in this library (``how``:
    ``examples`` or ``named``) or the cloud engine whose RecognizeCelebrities
    gave the name (``rekognition``; ``faces`` is then the photo count).
    """

    name: str
    source: str
    faces: int
    photos: int
    examples: int = 0
    how: str | None = None


@dataclass
class EnrolReport:
    """What ``People.enrol`` did: ``enrolled`` example paths, ``problems`` (path, reason), photos now named."""

    name: str
    enrolled: list[str] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    photos: int = 0


# -- the service ------------------------------------------------------------------------------


class People:
    """The People feature of one ``Library`` (``library.people``); see the module docstring."""

    def __init__(self, library: "Library"):
        self.library = library
        self.store = FaceStore(library.catalog)
        #: Where face crops live: ``<library>/faces/ab/<sha256>_<index>.jpg``.
        self.crops_dir = Path(library.root) / "faces"
        self._lock = threading.RLock()

    # -- settings ------------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        """The library's ``faces_enabled`` setting."""
        return bool(self.library.settings.get("faces_enabled", True))

    @property
    def threshold(self) -> float:
        """The FaceMatchThreshold (0-100) for automatic naming: setting ``face_match_threshold``, default 80."""
        return float(self.library.settings.get("face_match_threshold", DEFAULT_SIMILARITY_THRESHOLD))

    def crop_path(self, crop: str | None) -> str | None:
        """The absolute path of a stored crop name (None stays None)."""
        return str(self.crops_dir / crop) if crop else None

    # -- hooks the library calls ------------------------------------------------------------------
    def engine_config(self) -> dict:
        """Config keys for the local engine: where to write crops and the named people's references.

        ``{"face_crops_dir": str, "people": {name: [base64 float32 embedding, ...]}}``
        (at most ``MAX_ENGINE_EXAMPLES`` per person, see there); ``{}`` when
        faces are off.
        """
        if not self.enabled:
            return {}
        refs = self._references()
        refs.sort(key=lambda f: (f.assigned_by != "example", f.id))
        chosen: dict[str, list[int]] = {}
        for f in refs:
            ids = chosen.setdefault(f.person_name, [])
            if len(ids) < MAX_ENGINE_EXAMPLES:
                ids.append(f.id)
        people: dict[str, list[str]] = {}
        for name, ids in chosen.items():
            matrix = self.store.embeddings(ids).astype("<f4")
            people[name] = [base64.b64encode(row.tobytes()).decode("ascii") for row in matrix]
        return {"face_crops_dir": str(self.crops_dir), "people": people}

    def store_outcomes(self, sha256: str, engine_name: str, outcomes: Iterable["ApiOutcome"]) -> None:
        """Store the faces an analysis of ``sha256`` found, name them, and update its person detections.

        Called by ``Library`` after the responses are stored. Looks for
        ``extras["Faces"]`` on the local engine's outcomes; does nothing
        without them, or when faces are off. The image's search document is
        queued for reindexing (the import reindexes it with the rest).
        """
        if engine_name != LOCAL_ENGINE or not self.enabled:
            return
        carrier = next((o for o in outcomes if o.response is not None and o.extras and "Faces" in o.extras), None)
        if carrier is None:
            return
        detector = carrier.engine_version.split("+")[-1]  # DetectLabels' version is "<objects>+<faces>"
        with self._lock, self.store.catalog.transaction():
            ids, stale = self.store.index_faces(sha256, carrier.extras["Faces"], origin="photo",
                                                model_version=EMBEDDING_MODEL_VERSION, detector_version=detector)
            self._match(self.store.faces(face_ids=ids))
            self.store.sync_detections([sha256])
        self._remove_crops(stale)

    # -- reading -------------------------------------------------------------------------------
    def persons(self) -> list[PersonSummary]:
        """Local persons and cloud-recognised names with their counts, local first, each by name."""
        out = [PersonSummary(p.name, "local", p.faces, p.photos, p.examples, p.source) for p in self.store.persons()]
        out += [PersonSummary(name, engine, photos, photos) for name, engine, photos in self.store.cloud_persons()]
        return out

    def groups(self) -> list[FaceGroup]:
        """Named persons (by name), then unknown clusters (largest first); reclusters new faces first."""
        with self._lock:
            if self.store.has_ungrouped():
                self.recluster()
            faces = self.store.faces(origin=None)
        persons = {p.id: p for p in self.store.persons()}
        by_person: dict[int, list[FaceRecord]] = defaultdict(list)
        examples: dict[int, list[FaceRecord]] = defaultdict(list)
        by_group: dict[int, list[FaceRecord]] = defaultdict(list)
        for f in faces:
            if f.origin == "example":
                if f.person_id is not None:
                    examples[f.person_id].append(f)
            elif f.person_id is not None:
                by_person[f.person_id].append(f)
            elif f.group_id is not None:
                by_group[f.group_id].append(f)

        def ordered(items: list[FaceRecord]) -> list[FaceRecord]:
            return sorted(items, key=lambda f: (-(f.similarity or 0.0), -f.confidence, f.id))

        out = []
        for pid, person in persons.items():
            items = ordered(by_person.get(pid, []))
            cover = next((f.crop for f in examples.get(pid, []) + items if f.crop), None)
            out.append(FaceGroup(group_key(person_id=pid), person.name, pid, None, tuple(f.id for f in items),
                                 len({f.sha256 for f in items}), len(examples.get(pid, [])),
                                 self.crop_path(cover), person.source))
        out.sort(key=lambda g: (g.name or "").casefold())
        clusters = []
        for gid, items in by_group.items():
            items = sorted(items, key=lambda f: (-f.confidence, f.id))
            cover = next((f.crop for f in items if f.crop), None)
            clusters.append(FaceGroup(group_key(group_id=gid), None, None, gid, tuple(f.id for f in items),
                                      len({f.sha256 for f in items}), 0, self.crop_path(cover)))
        clusters.sort(key=lambda g: (-len(g.face_ids), g.group_id))
        return out + clusters

    def faces(self, key: str | None = None, face_ids: Iterable[int] | None = None) -> list[FaceInfo]:
        """The faces of the group ``key`` (photo faces, ordered as in ``groups``), or of ``face_ids``.

        Raises ``ValueError`` for a malformed key.
        """
        if key is not None:
            kind, number = parse_group_key(key)
            rows = (self.store.faces(person_id=number) if kind == "person" else self.store.faces(group_id=number))
            if kind == "person":
                rows.sort(key=lambda f: (-(f.similarity or 0.0), -f.confidence, f.id))
            else:
                rows.sort(key=lambda f: (-f.confidence, f.id))
        else:
            wanted = list(face_ids or [])
            by_id = {f.id: f for f in self.store.faces(face_ids=wanted, origin=None, states=("ok", "rejected"))}
            rows = [by_id[i] for i in wanted if i in by_id]
        assets = self.library.catalog.assets({f.sha256 for f in rows})
        return [FaceInfo(f.id, f.sha256, f.face_index, f.box, f.confidence, self.crop_path(f.crop),
                         assets[f.sha256].paths[0] if f.sha256 in assets and assets[f.sha256].paths else None,
                         f.person_id, f.person_name, f.assigned_by, f.similarity, f.group_id, f.origin)
                for f in rows]

    # -- naming ----------------------------------------------------------------------------------
    def enrol(self, name: str, paths: Iterable[str | os.PathLike]) -> EnrolReport:
        """Enrol ``name`` from example photos (``mediaapp people add``), then name matching faces.

        Each photo's largest face becomes an example of the person (a photo
        with several faces is used, and reported); a photo without a face,
        or one that cannot be read, is reported in ``problems``. Detection
        runs in a worker process (dlib). Enrolling a photo again replaces its
        example. Returns the report; ``photos`` counts the library photos
        named ``name`` afterwards.
        Raises ``RuntimeError`` when face features are off and ``ValueError``
        for an empty name.
        """
        from mediaapp.analysis.local.face_records import example_faces
        from mediaapp.ingest.hashing import sha256_file

        if not self.enabled:
            raise RuntimeError("face features are off in this library's settings (faces_enabled)")
        clean = normalize_name(name)
        report = EnrolReport(clean)
        jobs = []
        for p in paths:
            path = os.path.abspath(os.path.expanduser(os.fspath(p)))
            try:
                jobs.append((path, sha256_file(path), str(self.crops_dir)))
            except OSError as exc:
                report.problems.append((path, f"cannot read: {exc.strerror or exc}"))
        found: list[tuple[str, str, dict, str]] = []  # path, sha256, record, detector version

        def on_result(item: tuple, result) -> None:
            records, detector = result
            if not records:
                report.problems.append((item[0], "no face found"))
                return
            if len(records) > 1:
                report.problems.append((item[0], f"{len(records)} faces found; the largest is used"))
            found.append((item[0], item[1], records[0], detector))

        def on_failure(item: tuple, exc: BaseException) -> None:
            report.problems.append((item[0], str(exc) or type(exc).__name__))

        self.library.pool.run(example_faces, jobs, on_result, on_failure)
        if not found:
            return report
        with self._lock:
            with self.store.catalog.transaction():
                person = self.store.add_person(clean, "examples")
                named = []
                for path, sha, record, detector in found:
                    ids, stale = self.store.index_faces(sha, [record], origin="example",
                                                        model_version=EMBEDDING_MODEL_VERSION,
                                                        detector_version=detector)
                    named += [(i, person, "example", USER_SIMILARITY) for i in ids]
                    report.enrolled.append(path)
                    self._remove_crops(stale)
                self.store.assign(named)
                self._rematch_all()
            self.recluster()
            report.photos = self.store.person_by_id(person).photos
        return report

    def name_group(self, key: str, name: str) -> int:
        """Give the group ``key`` the name ``name``; returns the person id.

        An unknown cluster's faces become that person's (named by the user);
        naming a person's group renames the person, or merges it into the
        person already called ``name``. Every other face is then named again
        against the new references. Raises ``ValueError`` for an empty name
        or a malformed key.
        """
        kind, number = parse_group_key(key)
        clean = normalize_name(name)
        with self._lock:
            if kind == "person":
                other = self.store.person(clean)
                if other is not None and other.id != number:
                    self.merge_groups(key, group_key(person_id=other.id))
                    return other.id
                with self.store.catalog.transaction():
                    self.store.rename_person(number, clean)
                    shas = {f.sha256 for f in self.store.faces(person_id=number)}
                    self.store.sync_detections(shas)
                self.library.reindex_assets(shas)
                return number
            faces = self.store.faces(group_id=number)
            return self._name_faces([f.id for f in faces], clean, "named")

    def name_faces(self, face_ids: Iterable[int], name: str) -> int:
        """Name these faces ``name`` (the user's word, like naming a group); returns the person id.

        Raises ``ValueError`` for an empty name.
        """
        with self._lock:
            return self._name_faces(list(face_ids), normalize_name(name), "named")

    def _name_faces(self, ids: list[int], name: str, source: str) -> int:
        with self.store.catalog.transaction():
            person = self.store.add_person(name, source)
            self.store.assign((i, person, "user", USER_SIMILARITY) for i in ids)
            changed = {f.sha256 for f in self.store.faces(face_ids=ids)}
            changed |= self._rematch_all(sync=False)
            self.store.sync_detections(changed)
        self.library.reindex_assets(changed)
        return person

    def merge_groups(self, source: str, target: str) -> None:
        """Merge the group ``source`` into ``target`` (the user says they are the same person).

        Two unknown clusters become one group the user made (kept together by
        later reclustering); an unknown cluster merged into a person, or a
        person into a cluster, names the cluster's faces as the person; two
        persons become the target person (the source's name is forgotten).
        Raises ``ValueError`` for malformed keys or ``source == target``.
        """
        skind, snum = parse_group_key(source)
        tkind, tnum = parse_group_key(target)
        if (skind, snum) == (tkind, tnum):
            raise ValueError("cannot merge a group into itself")
        with self._lock:
            if skind == "group" and tkind == "group":
                ids = [f.id for f in self.store.faces(group_id=snum) + self.store.faces(group_id=tnum)]
                self.store.set_groups((i, tnum, True) for i in ids)
                return
            if skind == "group" or tkind == "group":
                person = tnum if tkind == "person" else snum
                cluster = snum if skind == "group" else tnum
                name = self.store.person_by_id(person)
                if name is None:
                    raise ValueError(f"no person {person}")
                self._name_faces([f.id for f in self.store.faces(group_id=cluster)], name.name, "named")
                return
            with self.store.catalog.transaction() as conn:
                moved = self.store.faces(person_id=snum, origin=None)
                conn.executemany("UPDATE faces SET person_id = ? WHERE id = ?", [(tnum, f.id) for f in moved])
                conn.execute("UPDATE OR IGNORE face_exclusions SET person_id = ? WHERE person_id = ?", (tnum, snum))
                self.store.delete_person(snum)
                changed = {f.sha256 for f in moved if f.origin == "photo"} | self._rematch_all(sync=False)
                self.store.sync_detections(changed)
            self.library.reindex_assets(changed)

    def move_out(self, face_ids: Iterable[int]) -> None:
        """Take wrongly grouped faces out of their group.

        A named face loses its person and is never named so again
        automatically (an exclusion); it goes back to the unknown faces and
        is clustered again. An unknown face gets a group of its own, and the
        faces left in its old group stay together: both are groups the user
        made, which reclustering keeps.
        """
        with self._lock:
            faces = self.store.faces(face_ids=list(face_ids))
            with self.store.catalog.transaction():
                named = [f for f in faces if f.person_id is not None]
                self.store.add_exclusions((f.id, f.person_id) for f in named)
                self.store.assign((f.id, None, None, None) for f in named)
                fresh = self.store.max_group_id() + 1
                updates = []
                for f in faces:
                    if f.person_id is None and f.group_id is not None:
                        rest = [g.id for g in self.store.faces(group_id=f.group_id) if g.id not in {x.id for x in faces}]
                        updates += [(i, f.group_id, True) for i in rest]
                    if f.person_id is None:
                        updates.append((f.id, fresh, True))
                        fresh += 1
                self.store.set_groups(updates)
                changed = {f.sha256 for f in named} | self._rematch_all(sync=False)
                self.store.sync_detections(changed)
            self.library.reindex_assets(changed)
            self.recluster()

    def reject(self, face_ids: Iterable[int]) -> None:
        """Reject faces (not a face, or not wanted): they leave every group, name and search result."""
        with self._lock:
            faces = self.store.faces(face_ids=list(face_ids))
            with self.store.catalog.transaction():
                self.store.set_state([f.id for f in faces], "rejected")
                changed = {f.sha256 for f in faces}
                if any(f.assigned_by == "user" for f in faces):  # a reference is gone
                    changed |= self._rematch_all(sync=False)
                self.store.sync_detections(changed)
            self.library.reindex_assets(changed)

    def forget_person(self, name: str) -> bool:
        """Forget ``name``: delete their example faces (embeddings, crops) and the name.

        Their photo faces become unknown again (clustered anew); other people
        may then claim them. Returns False when nobody has that name.
        """
        with self._lock:
            person = self.store.person(name)
            if person is None:
                return False
            with self.store.catalog.transaction():
                faces = self.store.faces(person_id=person.id, origin=None, states=("ok", "rejected"))
                crops = self.store.delete_faces(f.id for f in faces if f.origin == "example")
                self.store.delete_person(person.id)
                changed = {f.sha256 for f in faces if f.origin == "photo"} | self._rematch_all(sync=False)
                self.store.sync_detections(changed)
            self._remove_crops(crops)
            self.library.reindex_assets(changed)
            self.recluster()
            return True

    def forget_all(self) -> int:
        """Forget every face: embeddings, face rows, crops, persons, and the local RecognizeCelebrities
        responses with their detections (they may hold names); reindexes. Returns the images affected.

        Photos analysed again while face features are on get faces (unnamed) again.
        """
        with self._lock:
            shas, _crops = self.store.forget_all()
            shutil.rmtree(self.crops_dir, ignore_errors=True)
            self.library.reindex_assets(shas)
            return len(shas)

    # -- matching and clustering ---------------------------------------------------------------
    def rematch(self) -> int:
        """Name every face not named by the user again against the current references; returns images changed."""
        with self._lock:
            with self.store.catalog.transaction():
                changed = self._rematch_all(sync=True)
            self.library.reindex_assets(changed)
            return len(changed)

    def _references(self) -> list[FaceRecord]:
        """The faces that define the persons: enrolled examples and faces the user named (state ok)."""
        return [f for f in self.store.faces(origin=None, assigned_by=("user", "example"))
                if f.person_id is not None and f.model_version == EMBEDDING_MODEL_VERSION]

    def _rematch_all(self, sync: bool = True) -> set[str]:
        """``_match`` over every photo face the user did not name; returns the images whose names changed."""
        candidates = [f for f in self.store.faces() if f.assigned_by not in ("user", "example")]
        changed = self._match(candidates)
        if sync:
            self.store.sync_detections(changed)
        return changed

    def _match(self, candidates: list[FaceRecord]) -> set[str]:
        """Name ``candidates`` (automatic or unknown photo faces) by ``assign_faces``; returns changed images."""
        candidates = [f for f in candidates if f.origin == "photo" and f.state == "ok"
                      and f.assigned_by not in ("user", "example")]
        if not candidates:
            return set()
        refs = self._references()
        shas = {f.sha256 for f in candidates}
        occupied: dict[str, set[int]] = defaultdict(set)
        for f in refs:
            if f.origin == "photo" and f.sha256 in shas:
                occupied[f.sha256].add(f.person_id)
        exclusions = self.store.exclusions([f.id for f in candidates])
        usable = [f for f in candidates if f.model_version == EMBEDDING_MODEL_VERSION]
        result = assign_faces(self.store.embeddings([f.id for f in usable]), [f.sha256 for f in usable],
                              self.store.embeddings([f.id for f in refs]), [f.person_id for f in refs],
                              self.threshold, {i: exclusions[f.id] for i, f in enumerate(usable) if f.id in exclusions},
                              occupied)
        updates, changed = [], set()
        for f, (person, sim) in zip(usable, result):
            by = "auto" if person is not None else None
            if (person, by) != (f.person_id, f.assigned_by) or (sim is not None and f.similarity is not None
                                                                 and abs(sim - f.similarity) > 1e-6):
                updates.append((f.id, person, by, sim))
                changed.add(f.sha256)
        self.store.assign(updates)
        return changed

    def recluster(self) -> None:
        """Cluster the unknown photo faces again (``stable_groups``): ids kept where possible."""
        with self._lock:
            faces = [f for f in self.store.faces() if f.person_id is None
                     and f.model_version == EMBEDDING_MODEL_VERSION]
            if not faces:
                return
            ids = stable_groups(self.store.embeddings([f.id for f in faces]), [f.group_id for f in faces],
                                [f.group_locked for f in faces], self.store.max_group_id() + 1)
            self.store.set_groups((f.id, gid, f.group_locked) for f, gid in zip(faces, ids) if gid != f.group_id)

    # -- files ---------------------------------------------------------------------------------
    def _remove_crops(self, names: Iterable[str]) -> None:
        for name in names:
            try:
                os.unlink(self.crops_dir / name)
            except OSError:
                pass

