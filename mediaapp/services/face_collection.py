"""Faces in the cloud: CompareFaces, and a Rekognition face collection a team shares.

**CompareFaces** (``compare_in_cloud``): the largest face of the source image
against every face of the target, answered by Rekognition (one priced call,
budgeted like the pipeline's; the images travel as the pipeline sends them:
S3 object, file bytes or a JPEG proxy). The on-device counterpart is
``People.compare`` (dlib embeddings).

**A face collection** (``FaceCollection``): the library's people enrolled in
one Rekognition collection (``cloud.collection``, default
``mediaapp-<library folder name>``), so everyone using the same AWS account
and collection names faces the same way. Names stay in mediaapp: the
collection holds face vectors only, each under ``ExternalImageId`` = the
image's sha256; the catalog table ``cloud_faces`` (migration 11 -> 12) maps
every FaceId to its image, box and, for enrolled faces, its person.

- ``create`` makes the collection (CreateCollection; an existing one is kept).
- ``enrol(name, images)``: IndexFaces on each image (its largest face,
  ``MaxFaces=1``), FaceId recorded as ``name``'s.
- imports with the rekognition engine name faces from it: with
  ``face_collection`` in the cloud settings, its RecognizeCelebrities also
  runs IndexFaces (up to 100 faces, Rekognition's maximum per image), then
  SearchFaces per FaceId (SearchFacesByImage would only search the largest
  face), and names each face after the enrolled face it matches best; the
  faces it indexed are deleted again, so the collection holds the enrolled
  faces only (``RekognitionEngine._name_from_collection``; the names come
  from ``people``).
- ``forget(name)``: DeleteFaces of every face enrolled for ``name``.

IndexFaces, SearchFaces and CompareFaces are Group 1 image APIs
(``resources/prices.json``); CreateCollection and DeleteFaces are free.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from mediaapp.analysis.engine_base import AnalysisError, EngineBase, EngineUnavailableError, ImageRef
from mediaapp.analysis.rekognition import RekognitionEngine
from mediaapp.catalog import cloud_faces
from mediaapp.catalog.cloud_faces import CloudFaceRecord, enrolled_people
from mediaapp.catalog.db import Catalog
from mediaapp.core.types import Json
from mediaapp.ingest.hashing import sha256_file

__all__ = [
    "DEFAULT_SIMILARITY",
    "CloudFaceRecord",
    "FaceCollection",
    "cloud_engine",
    "collection_id_for",
    "compare_in_cloud",
    "enrolled_people",
]

#: Similarity (0-100) from which a face takes an enrolled person's name: Rekognition's own default
#: FaceMatchThreshold for SearchFaces (80), the same as the local engine's ``face_match_threshold``.
DEFAULT_SIMILARITY = 80.0


def cloud_engine(engine: EngineBase) -> RekognitionEngine:
    """``engine`` (from ``registry.create_engine("rekognition", ...)``) as the ``RekognitionEngine`` it is;
    ``EngineUnavailableError`` when the name was registered to another class."""
    if not isinstance(engine, RekognitionEngine):
        raise EngineUnavailableError(f"the {engine.name} engine is not Amazon Rekognition")
    return engine


def compare_in_cloud(engine: RekognitionEngine, source: str | os.PathLike[str], target: str | os.PathLike[str],
                     similarity_threshold: float = DEFAULT_SIMILARITY) -> Json:
    """Rekognition CompareFaces of two image files: the response (SourceImageFace, FaceMatches with
    Similarity 0-100 and Face, UnmatchedFaces), validated against botocore's output shape.

    One priced call (``CompareFaces``), against the engine's run and month budgets (a new run starts
    here). Raises ``AnalysisError`` (an image Rekognition cannot read, no face in the source:
    ``InvalidParameterException``, the budget: ``BudgetExceeded``) and ``EngineUnavailableError``.
    """
    paths = [os.path.abspath(os.path.expanduser(os.fspath(p))) for p in (source, target)]
    engine.begin_run(1)
    images, keys = [], []
    try:
        for path in paths:
            image, key = engine.request_image(ImageRef(sha256_file(path), path))
            images.append(image)
            keys.append(key)
        return engine.call("CompareFaces", {"SourceImage": images[0], "TargetImage": images[1],
                                            "SimilarityThreshold": float(similarity_threshold)})
    finally:
        for key in keys:
            engine.forget_upload(key)


def collection_id_for(root: str | os.PathLike[str]) -> str:
    """The default collection id of the library at ``root``: ``mediaapp-<folder name>``, cut to the
    characters and length CreateCollection accepts (``[a-zA-Z0-9_.\\-]+``, at most 255)."""
    name = "".join(c if c.isalnum() or c in "_.-" else "-" for c in Path(root).resolve().name) or "library"
    return f"mediaapp-{name}"[:255]


class FaceCollection:
    """The library's Rekognition face collection ``collection_id`` (see the module docstring).

    ``engine`` makes the calls (budgets, ledger, retries); ``catalog`` keeps the FaceIds (table
    ``cloud_faces``). ``threshold``: Similarity (0-100) from which a face takes a name.
    """

    def __init__(self, engine: RekognitionEngine, catalog: Catalog, collection_id: str,
                 threshold: float = DEFAULT_SIMILARITY):
        self.engine = engine
        self.catalog = catalog
        self.collection_id = collection_id
        self.threshold = float(threshold)

    # -- the collection -------------------------------------------------------------------------
    def create(self) -> bool:
        """CreateCollection; False when it exists already (kept as it is). Raises ``AnalysisError``."""
        try:
            self.engine.call("CreateCollection", {"CollectionId": self.collection_id}, priced=False)
        except AnalysisError as exc:
            if exc.code == "ResourceAlreadyExistsException":
                return False
            raise
        return True

    def _index(self, sha256: str, path: str, max_faces: int) -> list[Json]:
        """IndexFaces of the image at ``path`` (ExternalImageId = ``sha256``): its FaceRecords (priced)."""
        image, key = self.engine.request_image(ImageRef(sha256, path))
        try:
            response = self.engine.call("IndexFaces", {
                "CollectionId": self.collection_id, "Image": image, "ExternalImageId": sha256,
                "MaxFaces": max_faces, "QualityFilter": "AUTO", "DetectionAttributes": ["DEFAULT"]},
                sha256=sha256)
        finally:
            self.engine.forget_upload(key)
        return list(response.get("FaceRecords", []))

    # -- people -----------------------------------------------------------------------------------
    def enrol(self, name: str, paths: Iterable[str | os.PathLike[str]]) -> tuple[list[CloudFaceRecord], list[str]]:
        """Index the largest face of each image at ``paths`` as ``name``'s (the collection is made if needed).

        Returns ``(faces enrolled, problems)``: one line per image without a face or that failed
        (the others go on). An image already enrolled as ``name`` (by its sha256, in the
        ``cloud_faces`` table; names compared case-folded) is not indexed again (IndexFaces is paid
        and would add a duplicate face): its kept record is among the faces enrolled and a line
        says so. Raises ``ValueError`` for an empty name, ``AnalysisError`` when the collection
        cannot be made (no access, budget).
        """
        person = name.strip()
        if not person:
            raise ValueError("a person needs a name")
        self.create()
        self.engine.begin_run(None)
        enrolled: list[CloudFaceRecord] = []
        problems: list[str] = []
        already = {r.sha256: r for r in self.faces(person=person)}
        for raw in paths:
            path = os.path.abspath(os.path.expanduser(os.fspath(raw)))
            try:
                sha = sha256_file(path)
                if sha in already:
                    if already[sha] not in enrolled:
                        enrolled.append(already[sha])
                    problems.append(f"{path}: already enrolled as {person}; not indexed again")
                    continue
                records = self._index(sha, path, 1)
            except (OSError, AnalysisError) as exc:
                problems.append(f"{path}: {exc}")
                continue
            if not records:
                problems.append(f"{path}: Rekognition found no face to enrol")
                continue
            face = records[0]["Face"]
            record = CloudFaceRecord(face["FaceId"], sha, dict(face.get("BoundingBox", {})), person)
            self._store([record])
            enrolled.append(record)
            already[sha] = record
        return enrolled, problems

    def forget(self, name: str) -> int:
        """DeleteFaces of every face enrolled as ``name`` (free); returns how many the service deleted.
        Raises ``AnalysisError`` (the mapping is kept, so forgetting again retries)."""
        ids = [r.face_id for r in self.faces(person=name)]
        deleted = 0
        for start in range(0, len(ids), 4096):  # DeleteFaces takes at most 4096 FaceIds
            chunk = ids[start:start + 4096]
            response = self.engine.call("DeleteFaces", {"CollectionId": self.collection_id, "FaceIds": chunk},
                                        priced=False)
            deleted += len(response.get("DeletedFaces", []))
            self._delete(chunk)
        return deleted

    def people(self) -> dict[str, str]:
        """FaceId -> person name of every enrolled face (what the rekognition engine names imported faces with)."""
        return enrolled_people(self.catalog, self.collection_id)

    # -- the FaceId table ---------------------------------------------------------------------------
    def faces(self, person: str | None = None) -> list[CloudFaceRecord]:
        """The faces kept for this collection (of ``person`` only, when given; names compared case-folded)."""
        out = cloud_faces.faces(self.catalog, self.collection_id)
        if person is not None:
            key = person.strip().casefold()
            out = [r for r in out if (r.person or "").casefold() == key]
        return out

    def _store(self, records: list[CloudFaceRecord]) -> None:
        try:
            cloud_faces.store_faces(self.catalog, self.collection_id, records)
        except sqlite3.OperationalError as exc:
            raise AnalysisError(f"the catalog cannot keep the collection's faces: {exc}", "CatalogError") from exc

    def _delete(self, face_ids: list[str]) -> None:
        cloud_faces.delete_faces(self.catalog, self.collection_id, face_ids)
