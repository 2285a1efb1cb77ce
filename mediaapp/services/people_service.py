"""People: name faces once, find every photo of that person.

The service over the catalog's people tables (``mediaapp.catalog.face_store``) that
the GUI and the CLI call through ``Library.people``. What it does:

- **Store** the faces the local engine found while analysing an image (box,
  details, 128-d dlib embedding, crop), handed over in
  ``ApiOutcome.extras`` (``store_outcomes``, called by the library after it
  stored the responses). Nothing is stored while ``faces_enabled`` is off.
- **Name**: a person is enrolled from example photos (``enrol``) or made by
  naming faces (``name_faces``: the People panel names the faces it showed;
  ``name_group`` names a group's current faces). The faces named by the user (or
  enrolled) are the person's *references*. Every other face is named
  automatically (``assign_faces``) with the person whose nearest reference
  is closest, when the Similarity (0-100, ``distance_to_similarity``: dlib's
  0.6 distance is Rekognition's default FaceMatchThreshold 80) reaches the
  library's ``face_match_threshold`` setting (default 80); like Rekognition's
  RecognizeCelebrities, a person is given at most once per photo, best match
  first. Faces the user moved out of a person (or rejected) are never given
  that person again. New photos are named as they are analysed; a changed
  threshold setting is applied to every face the next time people are named
  or listed. Renaming, merging or forgetting a person rewrites the name in
  the stored local RecognizeCelebrities responses too (forgotten: their
  faces become UnrecognizedFaces), so ``show`` keeps no trace of it.
- **Ask before taking faces from someone**: enrolling or naming that would
  give ``NAME`` faces already named as another person (the faces named
  themselves, a person merged by renaming it, or automatic names the new
  references would move; planned without writing, ``reassignments``)
  raises ``ReassignmentNeeded`` and changes nothing, unless called with
  ``reassign=True``.
- **Undo**: ``recorded(edit)`` runs an edit and returns what it changed
  (``PeopleEdit``: the faces' naming and grouping before and after, the
  persons, the exclusions); ``restore`` writes either side back (undo,
  redo), dropping the exclusions the other side added
  (``drop_exclusions``), so an undone move out lets the face be named
  automatically again. One thing is not taken back: after undoing a merge
  of two persons, the merged name the stored local RecognizeCelebrities
  responses were given (search, facets, boxes and the People panel come
  from the faces and are restored).
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
lock. Each writes the user's change in one short catalog transaction; the
automatic naming that follows (``_rematch_all``) reads the faces and matches
them (one matrix product against the references, ``ReferenceIndex``) without
holding the catalog's write lock, then writes what changed in a second short
transaction, which checks first that the references did not change meanwhile
(``FaceStore.references_version``; else it plans again) and renames only
faces still as they were read. Then the changed images are reindexed. Naming
an imported photo (``store_outcomes``) keeps the references' index in memory
until the references change, and does not wait for an edit.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from mediaapp.analysis.local.face_detector import EMBEDDING_MODEL_VERSION
from mediaapp.analysis.local.recognition import DEFAULT_SIMILARITY_THRESHOLD
from mediaapp.catalog.db import Catalog
from mediaapp.catalog.face_rows import (
    REFERENCE_SOURCES,
    SAME_FACE_IOU,
    EmbeddedFaces,
    FaceRecord,
    box_iou,
    normalize_name,
)
from mediaapp.catalog.face_store import FaceStore
from mediaapp.core.analysis import LOCAL_ENGINE
from mediaapp.core.embeddings import EMBEDDING_SIZE, embedding_from_bytes
from mediaapp.core.types import METADATA_ENGINE, Api, BoundingBox, DetectionKind, Json
from mediaapp.services.face_matching import ReferenceIndex, assign_nearest, stable_groups
from mediaapp.services.people_model import (
    REMATCH_ATTEMPTS,
    USER_SIMILARITY,
    EnrolReport,
    FaceGroup,
    FaceInfo,
    FaceState,
    PeopleEdit,
    PeopleSnapshot,
    PersonSummary,
    PlannedUpdate,
    Reassignment,
    ReassignmentNeeded,
    References,
    engine_references,
    face_groups,
    group_key,
    parse_group_key,
)
from mediaapp.settings import Settings
from mediaapp.tasks import WorkerPool

if TYPE_CHECKING:  # pragma: no cover
    from mediaapp.analysis.analysis_worker import ApiOutcome

__all__ = ["REGION_IOU", "People"]

#: How much a named face region the file carries (MWG or Microsoft's, read by the metadata engine) must
#: overlap a face the local engine found (intersection over union of the two boxes) for the region's name to
#: be given to that face. Lower than the 0.5 of PASCAL VOC's "same object" rule (``SAME_FACE_IOU``): the
#: region was drawn by another program or by hand, whose face boxes are commonly larger than the detector's
#: (the whole head, hair included); a box 1.5 times the detector's side around the same centre overlaps it
#: by 1 / 2.25 = 0.44. Faces side by side in a group photo overlap far less than that.
REGION_IOU = 0.4

T = TypeVar("T")

#: The person id planning uses for a person not created yet (catalog ids are positive).
_NEW_PERSON = -1


class People:
    """The People feature of one library (``Library.people``); see the module docstring.

    Built by the composition root from its parts: the ``catalog`` (faces and
    persons live in its tables, and every edit marks the images it changed
    in the catalog's change feed), the folder ``crops_dir`` of the face
    crops, a ``settings`` callable returning the library's current ``Settings``
    (``faces_enabled``, ``face_match_threshold``), the worker
    ``pool`` that runs face detection for enrolment, and ``changed``, called
    with no argument after an edit committed so the change feed's consumers
    (search sync) bring the indexes up to date.
    """

    def __init__(self, catalog: Catalog, crops_dir: Path, settings: Callable[[], Settings],
                 pool: WorkerPool, changed: Callable[[], object]):
        self.catalog = catalog
        self.store = FaceStore(catalog)
        #: Where face crops live: ``<library>/faces/ab/<sha256>_<index>.jpg``.
        self.crops_dir = Path(crops_dir)
        self._settings = settings
        self._pool = pool
        self._changed = changed
        self._lock = threading.RLock()
        self._refs: References | None = None  # see _references

    # -- settings ------------------------------------------------------------------------------
    @property
    def enabled(self) -> bool:
        """The library's ``faces_enabled`` setting."""
        return self._settings().faces_enabled

    @property
    def threshold(self) -> float:
        """The FaceMatchThreshold (0-100) for automatic naming: setting ``face_match_threshold``, default 80.

        A changed value is applied to every face the next time the library
        names or lists people (``store_outcomes``, ``groups``, ``persons``).
        """
        return self._settings().face_match_threshold

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
        people = engine_references(self._references().faces, self.store.person_names())
        return {"face_crops_dir": str(self.crops_dir), "people": people}

    def store_outcomes(self, sha256: str, engine_name: str, outcomes: Iterable[ApiOutcome]) -> None:
        """Store the faces an analysis of ``sha256`` found, name them, and update its person detections.

        Called by ``Library`` after the responses are stored. Looks for
        ``extras["Faces"]`` on the local engine's outcomes; does nothing
        without them, or when faces are off. Naming uses the references kept
        in memory (read again only when ``FaceStore.references_version``
        changed). A stored response naming someone who is nobody any more
        (the analysis was sent before a forget or a rename) is unnamed
        (``FaceStore.unname_strangers``). The image's search document is
        queued for reindexing (the import reindexes it with the rest).
        """
        if engine_name == METADATA_ENGINE and self.enabled:
            # the file's named regions were (re-)read: name the faces found earlier that they cover
            with self.store.catalog.transaction():
                if self._seed_from_regions(sha256):
                    self.store.sync_detections([sha256])
            return
        if engine_name != LOCAL_ENGINE or not self.enabled:
            return
        outcomes = list(outcomes)
        carrier = next((o for o in outcomes if o.response is not None and o.extras and "Faces" in o.extras), None)
        if carrier is None:
            return
        names_someone = any(o.api == Api.RECOGNIZE_CELEBRITIES.value and (o.response or {}).get("CelebrityFaces")
                            for o in outcomes)
        detector = carrier.engine_version.split("+")[-1]  # DetectLabels' version is "<objects>+<faces>"
        self._apply_threshold_setting()
        # Not under self._lock: an edit planning (or a recluster) does not hold up the import. The catalog's
        # write transaction serialises this with every write, and an edit writes its automatic naming only
        # for faces still as it read them, with the references it planned with.
        with self.store.catalog.transaction():
            ids, stale = self.store.index_faces(sha256, carrier.extras["Faces"], origin="photo",
                                                model_version=EMBEDDING_MODEL_VERSION, detector_version=detector)
            # matched first, then seeded: a region repeating the automatic name matching gives stays automatic
            self._write_matches(self._plan(self.store.match_candidates(EMBEDDING_MODEL_VERSION, ids),
                                           self._references(), self.threshold))
            self._seed_from_regions(sha256)
            if names_someone:
                self.store.unname_strangers([sha256])
            self.store.sync_detections([sha256])
        self._remove_crops(stale)

    def _seed_from_regions(self, sha256: str) -> bool:
        """Give the names of the image's own face regions to the faces they cover, as if the user named them.

        The regions are the metadata engine's person detections of
        ``sha256`` (named MWG regions, ``mediaapp.analysis.metadata``). Each
        goes to the face it overlaps most, one face per region, when their
        boxes' IoU is ``REGION_IOU`` or more. A face the user (or an
        enrolment) already named keeps its name, and so does a face the user
        moved out of that person; an automatically named one takes the
        region's, except when the region repeats that automatic name: the
        sidecar writer writes every named face as a region (suggestions
        too), so such a region is most likely our own suggestion read back
        after another program dropped mediaapp's ``Owned*`` list, and
        promoting it would make a guess a user-confirmed reference for
        matching. It stays a suggestion (the user can confirm it in People).
        Returns True when a face was named. Runs in the caller's
        transaction, or its own.
        """
        found = self.catalog.detections([sha256], [DetectionKind.PERSON]).get(sha256, [])
        regions = [d for d in found if d.source == METADATA_ENGINE and d.box is not None and d.name.strip()]
        if not regions:
            return False
        faces = self.store.faces(sha256s=[sha256])
        if not faces:
            return False
        excluded = self.store.exclusions([f.id for f in faces])
        overlaps = sorted(((box_iou(r.box, f.box), i, j) for i, r in enumerate(regions)
                           for j, f in enumerate(faces) if r.box is not None), reverse=True)
        used_regions: set[int] = set()
        used_faces: set[int] = set()
        updates: list[tuple[int, int | None, str | None, float | None]] = []
        for iou, i, j in overlaps:
            if iou < REGION_IOU:
                break
            if i in used_regions or j in used_faces:
                continue
            used_regions.add(i)
            used_faces.add(j)
            face = faces[j]
            if face.assigned_by in REFERENCE_SOURCES:
                continue  # the user's word (or an enrolment example) stands
            try:
                name = normalize_name(regions[i].name)
            except ValueError:
                continue
            known = self.store.person(name)
            if known is not None and (known.id in excluded.get(face.id, set()) or face.person_id == known.id):
                continue  # moved out of that person by the user, or named so already (by the user, or as a
                # suggestion the region repeats: see the docstring)
            updates.append((face.id, known.id if known is not None else self.store.add_person(name, "named"),
                            "user", USER_SIMILARITY))
        if updates:
            self.store.assign(updates)
        return bool(updates)

    def restored(self, engine_name: str, sha256s: Iterable[str]) -> None:
        """Stored responses of ``engine_name`` became current again for these images (no new analysis).

        The local engine's names live in the faces table, so its person
        detections are written again from there (and the images marked in
        the change feed). Other engines: nothing to do.
        """
        if engine_name == LOCAL_ENGINE and self.enabled:
            self.store.sync_detections(set(sha256s))

    # -- reading -------------------------------------------------------------------------------
    def persons(self) -> list[PersonSummary]:
        """Local persons and cloud-recognised names with their counts, local first, each by name.

        Counts photos in the library only (as search does).
        """
        self._apply_threshold_setting()
        out = [PersonSummary(p.name, LOCAL_ENGINE, p.faces, p.photos, p.examples, p.source)
               for p in self.store.persons()]
        out += [PersonSummary(name, engine, photos, photos) for name, engine, photos in self.store.cloud_persons()]
        return out

    def groups(self) -> list[FaceGroup]:
        """Named persons (by name), then unknown clusters (largest first); reclusters new faces first."""
        with self._lock:
            self._apply_threshold_setting()
            if self.store.has_ungrouped():
                self.recluster()
            faces = self.store.faces(origin=None)
        persons = {p.id: p for p in self.store.persons()}
        return face_groups(faces, persons, self.crop_path)

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
        assets = self.catalog.assets({f.sha256 for f in rows})
        return [FaceInfo(f.id, f.sha256, f.face_index, f.box, f.confidence, self.crop_path(f.crop),
                         assets[f.sha256].paths[0] if f.sha256 in assets and assets[f.sha256].paths else None,
                         f.person_id, f.person_name, f.assigned_by, f.similarity, f.group_id, f.origin)
                for f in rows]

    # -- naming ----------------------------------------------------------------------------------
    def compare(self, source: str | os.PathLike, target: str | os.PathLike,
                similarity_threshold: float = DEFAULT_SIMILARITY_THRESHOLD) -> Json:
        """Rekognition CompareFaces of two image files on this computer (``mediaapp faces compare``).

        The largest face of ``source`` against every face of ``target``, in a
        worker process (``face_records.compare_files``); nothing is stored.
        Returns the response. Raises ``AnalysisError`` when an image has no face
        or cannot be decoded, ``RuntimeError`` when face features are off.
        """
        from mediaapp.analysis.local.face_records import compare_files

        if not self.enabled:
            raise RuntimeError("face features are off in this library's settings (faces_enabled)")
        job = (*(os.path.abspath(os.path.expanduser(os.fspath(p))) for p in (source, target)), similarity_threshold)
        answers: list[Json | BaseException] = []
        self._pool.run(compare_files, [job], lambda _j, answer: answers.append(answer), lambda _j, e: answers.append(e))
        if isinstance(answers[0], BaseException):
            raise answers[0]
        return answers[0]

    def enrol(self, name: str, paths: Iterable[str | os.PathLike], *, reassign: bool = False) -> EnrolReport:
        """Enrol ``name`` from example photos (``mediaapp people add``), then name matching faces.

        Each photo's largest face becomes an example of the person (a photo
        with several faces is used, and reported); a photo without a face,
        or one that cannot be read, is reported in ``problems``. Detection
        runs in a worker process (dlib). Enrolling a photo again replaces its
        example. The photos named are reindexed, so search finds them at
        once. Returns the report; ``photos`` counts the library photos named
        ``name`` afterwards.
        When the new examples would take faces already named as another person
        (automatic names that move to ``name``, or an example photo enrolled
        for someone else), ``ReassignmentNeeded`` is raised before anything is
        written, unless ``reassign`` is True.
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

        self._pool.run(example_faces, jobs, on_result, on_failure)
        if not found:
            return report
        with self._lock:
            if not reassign:
                overlapping = self._overlapping_examples(found)
                extra = np.stack([embedding_from_bytes(bytes(record["Embedding"])) for _p, _s, record, _d in found])
                moves = self.reassignments(clean, overlapping, extra)
                if moves.total:
                    kept = {f.crop for f in self.store.faces(sha256s=[sha for _p, sha, _r, _d in found],
                                                             origin="example", states=("ok", "rejected"))}
                    self._remove_crops(c for _p, _s, record, _d in found
                                       if (c := record.get("Crop")) and c not in kept)
                    raise ReassignmentNeeded(moves)
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
            self._changed()
            self.recluster()
            report.photos = self.store.person_by_id(person).photos
        return report

    def name_group(self, key: str, name: str, *, reassign: bool = False) -> int:
        """Give the group ``key`` the name ``name``; returns the person id.

        An unknown cluster's *current* faces become that person's (named by
        the user; a caller that showed the group should name the faces it
        showed with ``name_faces``); naming a person's group renames the
        person (their name in the stored local responses too), or merges it
        into the person already called ``name``. Every other face is then
        named again against the new references. Raises ``ValueError`` for an
        empty name, a malformed key, an unknown person or a cluster without
        faces, and ``ReassignmentNeeded`` (nothing changed) when the naming
        would take faces named as another person (merging a person into the
        one called ``name`` takes all of theirs) unless ``reassign`` is True.
        """
        kind, number = parse_group_key(key)
        clean = normalize_name(name)
        with self._lock:
            if kind == "person":
                other = self.store.person(clean)
                if other is not None and other.id != number:
                    if not reassign:
                        self._refuse_reassignment(clean, self.store.faces(person_id=number, origin=None),
                                                  keep_how=True)
                    self.merge_groups(key, group_key(person_id=other.id))
                    return other.id
                with self.store.catalog.transaction():
                    old = self.store.person_by_id(number)
                    if old is None:
                        raise ValueError(f"no person {number}")
                    self.store.rename_person(number, clean)
                    shas = {f.sha256 for f in self.store.faces(person_id=number)}
                    if old.name != clean:
                        shas.update(self.store.rename_celebrities({old.name: clean}))
                    self.store.sync_detections(shas)
                self._changed()
                return number
            faces = self.store.faces(group_id=number)
            if not reassign:
                self._refuse_reassignment(clean, faces)
            return self._name_faces([f.id for f in faces], clean, "named")

    def name_faces(self, face_ids: Iterable[int], name: str, *, reassign: bool = False) -> int:
        """Name exactly these faces ``name`` (the user's word), then every other face again; returns the person id.

        What the People panel calls with the faces it showed. Faces that are
        gone, rejected or enrolment examples are skipped. Raises
        ``ValueError`` for an empty name or when none of the faces is left,
        and ``ReassignmentNeeded`` (nothing changed) when some of them, or
        faces automatic naming would then move, are named as another person,
        unless ``reassign`` is True.
        """
        clean = normalize_name(name)
        with self._lock:
            ids = list(face_ids)
            if not reassign:
                self._refuse_reassignment(clean, self.store.faces(face_ids=ids))
            return self._name_faces(ids, clean, "named")

    def _name_faces(self, ids: list[int], name: str, source: str) -> int:
        faces = self.store.faces(face_ids=ids)  # photo faces, state ok
        if not faces:
            raise ValueError("none of these faces is in the library any more")
        with self.store.catalog.transaction():
            person = self.store.add_person(name, source)
            self.store.assign((f.id, person, "user", USER_SIMILARITY) for f in faces)
            changed = {f.sha256 for f in faces}
            self.store.sync_detections(changed)
        self._rematch_all()
        self._changed()
        return person

    def merge_groups(self, source: str, target: str) -> None:
        """Merge the group ``source`` into ``target`` (the user says they are the same person).

        Two unknown clusters become one group the user made (kept together by
        later reclustering); an unknown cluster merged into a person, or a
        person into a cluster, names the cluster's faces as the person; two
        persons become the target person (the source's name is forgotten,
        and replaced by the target's in the stored local responses).
        Raises ``ValueError`` for malformed keys, ``source == target`` or an
        unknown person.
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
            with self.store.catalog.transaction():
                gone, kept = self.store.person_by_id(snum), self.store.person_by_id(tnum)
                if gone is None or kept is None:
                    raise ValueError(f"no person {snum if gone is None else tnum}")
                changed = {f.sha256 for f in self.store.faces(person_id=snum)}
                self.store.merge_persons(snum, tnum)
                changed.update(self.store.rename_celebrities({gone.name: kept.name}))
                self.store.sync_detections(changed)
            self._rematch_all()
            self._changed()

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
                        moving = {x.id for x in faces}
                        rest = [g.id for g in self.store.faces(group_id=f.group_id) if g.id not in moving]
                        updates += [(i, f.group_id, True) for i in rest]
                    if f.person_id is None:
                        updates.append((f.id, fresh, True))
                        fresh += 1
                self.store.set_groups(updates)
                changed = {f.sha256 for f in named}
                self.store.sync_detections(changed)
            self._rematch_all()
            self._changed()
            self.recluster()

    def reject(self, face_ids: Iterable[int]) -> None:
        """Reject faces (not a face, or not wanted): they leave every group, name and search result."""
        with self._lock:
            faces = self.store.faces(face_ids=list(face_ids))
            with self.store.catalog.transaction():
                self.store.set_state([f.id for f in faces], "rejected")
                changed = {f.sha256 for f in faces}
                self.store.sync_detections(changed)
            if any(f.assigned_by in REFERENCE_SOURCES for f in faces):  # a reference is gone
                self._rematch_all()
            self._changed()

    def forget_person(self, name: str) -> bool:
        """Forget ``name``: delete their example faces (embeddings, crops) and the name.

        Their photo faces become unknown again (clustered anew); other people
        may then claim them. The name leaves the stored local
        RecognizeCelebrities responses too (those faces become
        UnrecognizedFaces), in the same transaction. Returns False when
        nobody has that name.
        """
        with self._lock:
            with self.store.catalog.transaction():
                person = self.store.person(name)
                if person is None:
                    return False
                faces = self.store.faces(person_id=person.id, origin=None, states=("ok", "rejected"))
                crops = self.store.delete_faces(f.id for f in faces if f.origin == "example")
                self.store.delete_person(person.id)
                changed = {f.sha256 for f in faces if f.origin == "photo"}
                changed.update(self.store.rename_celebrities({person.name: None}))
                self.store.sync_detections(changed)
            self._remove_crops(crops)
            self._rematch_all()
            self._changed()
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
            self._changed()
            return len(shas)

    # -- asking before re-assigning ------------------------------------------------------------
    def reassignments(self, name: str, faces: Sequence[FaceRecord] = (), extra: np.ndarray | None = None, *,
                      keep_how: bool = False) -> Reassignment:
        """The faces named as someone else that naming ``faces`` ``name`` would give ``name``; writes nothing.

        ``faces``: the faces the edit names itself (``FaceRecord``s, photos
        or examples); ``extra``: (k, 128) embeddings of new enrolment
        examples of ``name``; ``keep_how``: the faces keep how they were
        named (a merge: only those named by the user or enrolled define
        ``name``), else they all become ``name``'s references (naming).
        Counted: those of ``faces`` named as another person, and the
        automatically named faces that would move from another person to
        ``name`` with those references (planned as ``_rematch_all`` plans,
        against the current threshold).
        """
        target = self.store.person(name)
        tid = target.id if target is not None else _NEW_PERSON
        names = self.store.person_names()
        moved: Counter[str] = Counter()
        named_ids = {f.id for f in faces}
        for f in faces:
            if f.state == "ok" and f.person_id is not None and f.person_id != tid:
                moved[names.get(f.person_id) or f.person_name or str(f.person_id)] += 1
        refs = self._references()
        keep = [i for i, fid in enumerate(refs.faces.ids) if fid not in named_ids]
        vectors = [refs.faces.embeddings[keep].reshape(-1, EMBEDDING_SIZE)]
        owners: list[int] = [int(refs.faces.person_ids[i] or 0) for i in keep]
        occupied: dict[str, set[int]] = defaultdict(set)
        for i, owner in zip(keep, owners):
            if refs.faces.origins[i] == "photo":
                occupied[refs.faces.sha256s[i]].add(owner)
        current = [f for f in faces if f.state == "ok" and f.model_version == EMBEDDING_MODEL_VERSION
                   and (not keep_how or f.assigned_by in REFERENCE_SOURCES)]
        if current:
            vectors.append(self.store.embeddings([f.id for f in current]))
            owners += [tid] * len(current)
            for f in current:
                if f.origin == "photo":
                    occupied[f.sha256].add(tid)
        if extra is not None and len(extra):
            vectors.append(np.asarray(extra, dtype=np.float64).reshape(-1, EMBEDDING_SIZE))
            owners += [tid] * len(extra)
        index = ReferenceIndex(np.vstack(vectors), owners)
        candidates = self.store.match_candidates(EMBEDDING_MODEL_VERSION)
        rows = [i for i, fid in enumerate(candidates.ids) if fid not in named_ids]
        if rows:
            exclusions = self.store.exclusions([candidates.ids[i] for i in rows])
            excluded = {k: exclusions[candidates.ids[i]] for k, i in enumerate(rows) if candidates.ids[i] in exclusions}
            planned = assign_nearest(candidates.embeddings[rows], [candidates.sha256s[i] for i in rows], index,
                                     self.threshold, excluded, dict(occupied))
            for k, i in enumerate(rows):
                old = candidates.person_ids[i]
                if planned[k][0] == tid and old is not None and old != tid:
                    moved[names.get(old) or str(old)] += 1
        return Reassignment(name, MappingProxyType(dict(moved)))

    def _refuse_reassignment(self, name: str, faces: Sequence[FaceRecord] = (), extra: np.ndarray | None = None,
                             *, keep_how: bool = False) -> None:
        """Raise ``ReassignmentNeeded`` when naming ``faces`` (and ``extra`` examples) ``name`` takes faces named
        as someone else (``reassignments``, same arguments)."""
        moves = self.reassignments(name, faces, extra, keep_how=keep_how)
        if moves.total:
            raise ReassignmentNeeded(moves)

    def _overlapping_examples(self, found: Sequence[tuple[str, str, dict, str]]) -> list[FaceRecord]:
        """The stored example faces that enrolling ``found`` (path, sha256, record, detector) would update in
        place (same image, box overlapping by ``SAME_FACE_IOU``): ``index_faces`` keeps their row and person."""
        out: list[FaceRecord] = []
        for _path, sha, record, _detector in found:
            box = BoundingBox.from_rekognition(record["Face"]["BoundingBox"])
            stored = self.store.faces(sha256s=[sha], origin="example")
            best = max(stored, key=lambda f: box_iou(f.box, box), default=None)
            if best is not None and box_iou(best.box, box) >= SAME_FACE_IOU:
                out.append(best)
        return out

    # -- undo ----------------------------------------------------------------------------------
    def snapshot(self) -> PeopleSnapshot:
        """Every face's naming and grouping (photos and examples, ok and rejected), every person, every exclusion."""
        faces = self.store.faces(origin=None, states=("ok", "rejected"))
        persons = {p.id: (p.name, p.source) for p in self.store.persons()}
        exclusions = frozenset((fid, pid) for fid, pids in self.store.exclusions().items() for pid in pids)
        return PeopleSnapshot(tuple(FaceState.of(f) for f in faces), MappingProxyType(persons), exclusions)

    def changes_since(self, before: PeopleSnapshot) -> PeopleEdit:
        """What changed since the full ``snapshot`` ``before``: the changed faces before and after, every
        person then and now, the exclusions removed (``before``) and added (``after``)."""
        after = self.snapshot()
        old = {f.id: f for f in before.faces}
        new = {f.id: f for f in after.faces}
        changed = {i for i in old.keys() | new.keys() if old.get(i) != new.get(i)}
        return PeopleEdit(
            PeopleSnapshot(tuple(f for i, f in old.items() if i in changed), before.persons,
                           before.exclusions - after.exclusions),
            PeopleSnapshot(tuple(f for i, f in new.items() if i in changed), after.persons,
                           after.exclusions - before.exclusions))

    def recorded(self, edit: Callable[[People], T]) -> tuple[T, PeopleEdit]:
        """Run ``edit(self)`` (an edit of this service) and return its result with what it changed.

        The ``PeopleEdit``'s ``before`` undoes it and ``after`` redoes it
        (``restore``). Raises what ``edit`` raises (nothing is recorded then).
        """
        with self._lock:
            before = self.snapshot()
            result = edit(self)
            return result, self.changes_since(before)

    def restore(self, snapshot: PeopleSnapshot, drop_exclusions: Iterable[tuple[int, int]] = ()) -> None:
        """Write ``snapshot`` back: its faces' state, person and group, its persons' names, its exclusions.

        A person of the snapshot that is gone is made again (same name and
        source; a new id) when one of its faces needs it; a person renamed
        since gets its name back (in the stored local RecognizeCelebrities
        responses too); a person made since that is left without faces is
        deleted (and unnamed in those responses). Faces deleted since are
        skipped. Then every other face is named again and the changed images
        are reindexed. The snapshot's exclusions are added, and the
        (face_id, person_id) pairs of ``drop_exclusions`` removed: to undo
        an edit pass the exclusions it added (``edit.after.exclusions``), to
        redo it those it removed. Raises ``ValueError`` when a name to give
        back belongs to another person now (nothing is written then).
        """
        with self._lock:
            with self.store.catalog.transaction():
                now = {p.id: p for p in self.store.persons()}
                mapping: dict[int, int] = {}
                renames: dict[str, str | None] = {}
                touched: set[int] = set()
                for pid, (name, _source) in snapshot.persons.items():
                    record = now.get(pid)
                    if record is not None and record.name != name:
                        self.store.rename_person(pid, name)
                        renames[record.name] = name
                        touched.add(pid)

                def person_for(pid: int) -> int:
                    if pid not in mapping:
                        if pid in now:
                            mapping[pid] = pid
                        else:
                            name, source = snapshot.persons.get(pid, (f"Person {pid}", "named"))
                            mapping[pid] = self.store.add_person(name, source)
                    return mapping[pid]

                wanted = {f.id: f for f in snapshot.faces}
                current = {f.id: f for f in self.store.faces(face_ids=list(wanted), origin=None,
                                                             states=("ok", "rejected"))}
                to_ok, to_reject, assigns, groups = [], [], [], []
                for fid, s in wanted.items():
                    f = current.get(fid)
                    if f is None:
                        continue
                    if s.state == "rejected":
                        if f.state != "rejected":
                            to_reject.append(fid)
                        continue
                    if f.state != "ok":
                        to_ok.append(fid)
                    person = person_for(s.person_id) if s.person_id is not None else None
                    if (f.person_id, f.assigned_by, f.similarity) != (person, s.assigned_by, s.similarity):
                        assigns.append((fid, person, s.assigned_by, s.similarity))
                    groups.append((fid, s.group_id, s.group_locked))
                self.store.set_state(to_ok, "ok")
                self.store.set_state(to_reject, "rejected")
                self.store.assign(assigns)
                self.store.set_groups(groups)
                live = {f.id for f in self.store.faces(face_ids=[fid for fid, _ in snapshot.exclusions], origin=None,
                                                       states=("ok", "rejected"))}
                self.store.remove_exclusions((fid, pid) for fid, pid in drop_exclusions
                                             if (fid, pid) not in snapshot.exclusions)
                self.store.add_exclusions((fid, mapping.get(pid, pid)) for fid, pid in snapshot.exclusions
                                          if fid in live and (pid in mapping or pid in now))
                for pid, record in now.items():  # made since, and left without faces
                    if pid not in snapshot.persons and not self.store.faces(person_id=pid, origin=None):
                        self.store.delete_person(pid)
                        renames[record.name] = None
                shas = {s.sha256 for s in wanted.values() if s.origin == "photo" and s.id in current}
                for pid in touched:
                    shas.update(f.sha256 for f in self.store.faces(person_id=pid))
                shas.update(self.store.rename_celebrities(renames))
                self.store.sync_detections(shas)
            self._rematch_all()
            self._changed()

    # -- matching and clustering ---------------------------------------------------------------
    def rematch(self) -> int:
        """Name every face not named by the user again against the current references and the
        ``face_match_threshold`` setting; reindexes; returns the number of images changed."""
        with self._lock:
            changed = self._rematch_all()
            self._changed()
            return len(changed)

    def _apply_threshold_setting(self) -> None:
        """``rematch`` when the ``face_match_threshold`` setting differs from the one the faces were named with
        (``FaceStore.applied_threshold``, to 0.001), or none was recorded yet."""

        def applied() -> bool:
            value = self.store.applied_threshold()
            return value is not None and abs(value - self.threshold) < 0.0005

        if not applied():
            with self._lock:
                if not applied():
                    self.rematch()

    def _references(self) -> References:
        """The references of the current embedding model, read again only when the catalog's
        ``references_version`` changed since they were read (by any process)."""
        version = self.store.references_version()  # read first: a change after it is seen next time
        cached = self._refs
        if cached is not None and cached.version == version:
            return cached
        faces = self.store.reference_faces(EMBEDDING_MODEL_VERSION)
        occupied: dict[str, set[int]] = defaultdict(set)
        for sha, origin, person in zip(faces.sha256s, faces.origins, faces.person_ids):
            if origin == "photo":
                occupied[sha].add(person)
        self._refs = References(version, faces, ReferenceIndex(faces.embeddings, faces.person_ids), dict(occupied))
        return self._refs

    def _plan(self, candidates: EmbeddedFaces, refs: References, threshold: float) -> list[PlannedUpdate]:
        """The automatic naming of ``candidates`` (``assign_nearest``) that differs from what they have."""
        if not len(candidates):
            return []
        exclusions = self.store.exclusions(candidates.ids)  # read after the candidates: at least as new
        excluded = {row: exclusions[fid] for row, fid in enumerate(candidates.ids) if fid in exclusions}
        result = assign_nearest(candidates.embeddings, candidates.sha256s, refs.index, threshold, excluded,
                                refs.occupied)
        updates: list[PlannedUpdate] = []
        for i, (person, sim) in enumerate(result):
            by = "auto" if person is not None else None
            old_person, old_by = candidates.person_ids[i], candidates.assigned_by[i]
            old_sim = candidates.similarities[i]
            if (person, by) != (old_person, old_by) or (sim is not None and old_sim is not None
                                                        and abs(sim - old_sim) > 1e-6):
                updates.append((candidates.ids[i], candidates.sha256s[i], person, by, sim, old_person, old_by, old_sim))
        return updates

    def _write_matches(self, updates: list[PlannedUpdate]) -> set[str]:
        """Write planned naming (faces changed meanwhile are skipped) and sync detections; returns the images."""
        written = set(self.store.assign_matches((fid, p, by, sim, op, ob, os_)
                                                for fid, _sha, p, by, sim, op, ob, os_ in updates))
        changed = {sha for fid, sha, *_ in updates if fid in written}
        self.store.sync_detections(changed)
        return changed

    def _rematch_all(self) -> set[str]:
        """Name every automatic or unknown photo face again; returns the images whose names changed (synced).

        Call it outside any catalog transaction: the faces are read and
        matched without the write lock, then written in one short
        transaction, provided the references did not change meanwhile
        (another process: planned again, at most ``REMATCH_ATTEMPTS`` times,
        then under the lock); faces changed meanwhile keep their change.
        Records the threshold applied (``FaceStore.set_applied_threshold``).
        """
        threshold = self.threshold
        for _ in range(REMATCH_ATTEMPTS):
            refs = self._references()
            updates = self._plan(self.store.match_candidates(EMBEDDING_MODEL_VERSION), refs, threshold)
            with self.store.catalog.transaction():
                if self.store.references_version() == refs.version:
                    self.store.set_applied_threshold(threshold)
                    return self._write_matches(updates)
        with self.store.catalog.transaction():
            refs = self._references()
            updates = self._plan(self.store.match_candidates(EMBEDDING_MODEL_VERSION), refs, threshold)
            self.store.set_applied_threshold(threshold)
            return self._write_matches(updates)

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
