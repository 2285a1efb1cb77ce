"""People: recognising known faces on-device, with Amazon Rekognition's semantics.

The engine part only: pure functions over dlib's 128-d face embeddings
(``mediaapp.analysis.local.face_detector``) answering in Rekognition's shapes:
CompareFaces (``compare_faces``, behind ``mediaapp faces compare``),
RecognizeCelebrities (``recognize_faces``) and the clustering of unknown
faces (``cluster_faces``). Storage is the catalog's (``mediaapp.catalog.face_store``).

Similarity. dlib's ResNet embeds faces so that two photos of one person lie
closer than 0.6 in Euclidean distance (dlib's reference threshold, 99.38% on
LFW). Rekognition speaks of a 0-100 *similarity* with a default match
threshold of 80, so distances are mapped by the logistic

    similarity(d) = 100 / (1 + exp(12 * (d - 0.6 - ln(4) / 12)))

which is strictly decreasing, puts dlib's 0.6 exactly on Rekognition's 80,
and gives about 98 at 0.4, 99.97 at 0, 27 at 0.8 and 3 at 1.0. The slope 12
only shapes the display; the decision is the 0.6 / 80 point. Measured on the
25 faces of ``testdata/3_faces`` (7 people): same-person distances 0.06-0.53
(similarity 91-100), different-person distances 0.70-1.11 (similarity
0.8-56), so the default 80 separates them with no error
(``benchmarks/face_eval.py``). That is a small sample of adult press photos;
dlib's model is reported to be less accurate on children and on faces unlike
its mostly adult, mostly white training set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from mediaapp.core.embeddings import EMBEDDING_SIZE, person_id

__all__ = [
    "DEFAULT_CLUSTER_DISTANCE",
    "DEFAULT_SIMILARITY_THRESHOLD",
    "REFERENCE_DISTANCE",
    "cluster_faces",
    "compare_faces",
    "distance_to_similarity",
    "recognize_faces",
    "similarity",
    "similarity_to_distance",
]

#: Rekognition's default FaceMatchThreshold / SimilarityThreshold (0-100).
DEFAULT_SIMILARITY_THRESHOLD = 80.0
#: dlib's same-person Euclidean distance; maps to DEFAULT_SIMILARITY_THRESHOLD.
REFERENCE_DISTANCE = 0.6
#: Default distance for ``cluster_faces`` (average linkage). Measured on the 25
#: test faces (``benchmarks/face_eval.py``): every threshold from 0.45 to 0.70
#: gives pure clusters (homogeneity 1.0); 0.55 is the lowest that also keeps
#: each person in one cluster (completeness 1.0; 0.50 splits Alex Lacamoire in
#: two); at 0.70 single linkage and Chinese whispers already merge people.
#: It is below the 0.6 used for naming because a wrong merge files many photos
#: under one person, while a split only costs the user one more merge.
DEFAULT_CLUSTER_DISTANCE = 0.55
#: Above this many faces ``cluster_faces(method="auto")`` switches from
#: average linkage (O(n^2) memory: 4000 faces use ~64 MB of distances) to
#: dlib's graph-based Chinese whispers.
AUTO_LINKAGE_MAX_FACES = 4000

_SLOPE = 12.0
# distance at which similarity is 50; puts REFERENCE_DISTANCE on the default threshold
_MIDPOINT = REFERENCE_DISTANCE - math.log(100.0 / DEFAULT_SIMILARITY_THRESHOLD - 1.0) / _SLOPE


# -- similarity -----------------------------------------------------------------


def distance_to_similarity(distance: float | np.ndarray) -> float | np.ndarray:
    """Map Euclidean embedding distance(s) (>= 0) to similarity 0-100 (see module docstring).

    Accepts a float or an array; returns the same kind. 0.6 maps to 80.
    """
    z = np.clip(_SLOPE * (np.asarray(distance, dtype=np.float64) - _MIDPOINT), -700.0, 700.0)
    out = 100.0 / (1.0 + np.exp(z))
    return float(out) if np.ndim(out) == 0 else out


def similarity_to_distance(similarity_value: float) -> float:
    """Inverse of ``distance_to_similarity``: the distance at which similarity is ``similarity_value``.

    ``similarity_value`` must lie strictly between 0 and 100; 80 gives 0.6.
    Raises ``ValueError`` otherwise.
    """
    s = float(similarity_value)
    if not 0.0 < s < 100.0:
        raise ValueError(f"similarity must be in (0, 100), got {s}")
    return _MIDPOINT + math.log(100.0 / s - 1.0) / _SLOPE


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Similarity (0-100) of two 128-d embeddings, from their Euclidean distance.

    80 or more means "same person" at Rekognition's default threshold
    (distance 0.6, dlib's reference). Raises ``ValueError`` for embeddings
    that are not finite arrays of shape ``(128,)``.
    """
    va, vb = _embedding(a), _embedding(b)
    return float(distance_to_similarity(float(np.linalg.norm(va - vb))))


def _embedding(value) -> np.ndarray:
    """Validate one embedding into a float64 array of shape (128,); ``ValueError`` otherwise."""
    arr = np.asarray(value, dtype=np.float64)
    if arr.shape != (EMBEDDING_SIZE,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"an embedding must be {EMBEDDING_SIZE} finite numbers, got shape {arr.shape}")
    return arr


def _embeddings(values) -> np.ndarray:
    """Validate embeddings (a sequence of (128,) or an (n, 128) array) into float64 (n, 128).

    Raises ``ValueError`` for any other shape or non-finite values.
    """
    if not isinstance(values, np.ndarray):
        values = list(values)
        if not values:
            return np.zeros((0, EMBEDDING_SIZE))
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != EMBEDDING_SIZE or not np.all(np.isfinite(arr)):
        raise ValueError(f"embeddings must be an (n, {EMBEDDING_SIZE}) array of finite numbers, "
                         f"got shape {arr.shape}")
    return arr


def _check_threshold(value: float, name: str) -> float:
    """Return ``value`` as float if 0 <= value <= 100, else raise ``ValueError``."""
    v = float(value)
    if not 0.0 <= v <= 100.0:
        raise ValueError(f"{name} must be between 0 and 100, got {v}")
    return v


def _copy(face: Mapping) -> dict:
    """A copy of a face dict deep enough that callers cannot alter stored boxes or landmarks."""
    out = {}
    for key, value in face.items():
        if isinstance(value, dict):
            value = dict(value)
        elif isinstance(value, list):
            value = [dict(x) if isinstance(x, dict) else x for x in value]
        out[key] = value
    return out


def _box_area(face: Mapping | None) -> float:
    """Area (ratio of the image) of a face dict's BoundingBox, 0 when absent."""
    box = (face or {}).get("BoundingBox") or {}
    return float(box.get("Width", 0.0)) * float(box.get("Height", 0.0))


# -- CompareFaces ---------------------------------------------------------------


def compare_faces(source_embeddings: Sequence[np.ndarray] | np.ndarray,
                  target_embeddings: Sequence[np.ndarray] | np.ndarray,
                  similarity_threshold: float = DEFAULT_SIMILARITY_THRESHOLD,
                  source_faces: Sequence[dict] | None = None,
                  target_faces: Sequence[dict] | None = None) -> dict:
    """Rekognition CompareFaces over embeddings of a source and a target image.

    As in Rekognition, only the source's largest face is compared (largest
    BoundingBox in ``source_faces``; the first embedding when no faces are
    given) with every target face. Returns ``{"SourceImageFace":
    {"BoundingBox", "Confidence"}, "FaceMatches": [{"Similarity", "Face"}],
    "UnmatchedFaces": [ComparedFace]}``, matches by decreasing Similarity
    (0-100), those below ``similarity_threshold`` (default 80) unmatched.
    ``Face`` entries are the ``target_faces`` dicts ({} when not given).
    Raises ``ValueError`` when the source or target has no face (Rekognition's
    InvalidParameterException), lengths differ, or the threshold is outside 0-100.
    """
    threshold = _check_threshold(similarity_threshold, "similarity_threshold")
    src, tgt = _embeddings(source_embeddings), _embeddings(target_embeddings)
    if len(src) == 0 or len(tgt) == 0:
        raise ValueError("CompareFaces needs at least one face in the source and the target image")
    for faces, vecs, name in ((source_faces, src, "source"), (target_faces, tgt, "target")):
        if faces is not None and len(faces) != len(vecs):
            raise ValueError(f"{len(faces)} {name} faces but {len(vecs)} embeddings")
    best = 0
    if source_faces is not None:
        best = max(range(len(src)), key=lambda i: _box_area(source_faces[i]))
    source_face = dict(source_faces[best]) if source_faces is not None else {}
    sims = distance_to_similarity(np.linalg.norm(tgt - src[best], axis=1))
    matches, unmatched = [], []
    for i in np.argsort(-sims, kind="stable"):
        face = _copy(target_faces[i]) if target_faces is not None else {}
        if sims[i] >= threshold:
            matches.append({"Similarity": float(sims[i]), "Face": face})
        else:
            unmatched.append(face)
    return {
        "SourceImageFace": {k: source_face[k] for k in ("BoundingBox", "Confidence") if k in source_face},
        "FaceMatches": matches,
        "UnmatchedFaces": unmatched,
    }


# -- RecognizeCelebrities -------------------------------------------------------


def recognize_faces(faces: Sequence[dict], embeddings: Sequence[np.ndarray] | np.ndarray,
                    named: Mapping[str, Sequence[np.ndarray] | np.ndarray],
                    threshold: float = DEFAULT_SIMILARITY_THRESHOLD) -> dict:
    """Name already detected and embedded faces; answer like Rekognition RecognizeCelebrities.

    ``faces``: ComparedFace dicts; ``embeddings``: one (128,) embedding per
    face; ``named``: person name -> that person's enrolled embeddings.
    A face's score for a person is the similarity (0-100) to the nearest of
    the person's embeddings. Pairs scoring >= ``threshold`` are assigned
    greedily, best first, each face and each name at most once per photo (a
    person appears once in a photo; this also stops a look-alike taking a
    name that fits another face better).
    Returns ``{"CelebrityFaces": [{"Urls": [], "Name", "Id", "Face",
    "MatchConfidence"}], "UnrecognizedFaces": [ComparedFace]}`` in the order
    of ``faces``; ``Id`` is ``person_id(Name)``; ``KnownGender`` is omitted.
    Raises ``ValueError`` for mismatched lengths, bad embeddings or a
    threshold outside 0-100.
    """
    threshold = _check_threshold(threshold, "threshold")
    vecs = _embeddings(embeddings)
    if len(faces) != len(vecs):
        raise ValueError(f"{len(faces)} faces but {len(vecs)} embeddings")
    pairs = []  # (similarity, face index, name)
    for name, enrolled in named.items():
        people = _embeddings(enrolled)
        if len(people) == 0 or len(vecs) == 0:
            continue
        dists = np.linalg.norm(vecs[:, None, :] - people[None, :, :], axis=2).min(axis=1)
        for i, sim in enumerate(np.atleast_1d(distance_to_similarity(dists))):
            if sim >= threshold:
                pairs.append((float(sim), i, name))
    pairs.sort(key=lambda p: (-p[0], p[1], p[2]))
    assigned: dict[int, tuple[str, float]] = {}
    used: set[str] = set()
    for sim, i, name in pairs:
        if i not in assigned and name not in used:
            assigned[i] = (name, sim)
            used.add(name)
    celebrities, unrecognized = [], []
    for i, face in enumerate(faces):
        if i in assigned:
            name, sim = assigned[i]
            celebrities.append({"Urls": [], "Name": name, "Id": person_id(name),
                                "Face": _copy(face), "MatchConfidence": sim})
        else:
            unrecognized.append(_copy(face))
    return {"CelebrityFaces": celebrities, "UnrecognizedFaces": unrecognized}


# -- clustering -----------------------------------------------------------------


def cluster_faces(embeddings: np.ndarray, threshold: float = DEFAULT_CLUSTER_DISTANCE,
                  method: str = "auto") -> list[int]:
    """Group unknown faces by person: one integer label per embedding.

    ``embeddings``: (n, 128) array. ``threshold``: Euclidean distance
    (default 0.55, see ``DEFAULT_CLUSTER_DISTANCE`` for the measurement).
    ``method``: ``"average"`` - scikit-learn agglomerative clustering with
    average linkage, merging while the mean distance between two groups is
    below ``threshold``; ``"chinese_whispers"`` - dlib's graph clustering
    with an edge between faces closer than ``threshold`` (memory linear in the
    edges); ``"auto"`` - average linkage up to ``AUTO_LINKAGE_MAX_FACES``
    faces, Chinese whispers above. Both are deterministic.
    Labels are 0, 1, 2, ... numbered in order of first appearance; a face
    alike to no other gets a label of its own.
    Raises ``ValueError`` for a bad array, threshold <= 0 or unknown method.
    """
    if method not in ("auto", "average", "chinese_whispers"):
        raise ValueError(f"unknown clustering method {method!r}")
    if threshold <= 0:
        raise ValueError("threshold must be a positive distance")
    vecs = _embeddings(embeddings)
    n = len(vecs)
    if n == 0:
        return []
    if n == 1:
        return [0]
    if method == "auto":
        method = "average" if n <= AUTO_LINKAGE_MAX_FACES else "chinese_whispers"
    if method == "average":
        from sklearn.cluster import AgglomerativeClustering

        raw = AgglomerativeClustering(n_clusters=None, distance_threshold=float(threshold),
                                      linkage="average", metric="euclidean").fit_predict(vecs)
    else:
        import dlib

        raw = dlib.chinese_whispers_clustering([dlib.vector(v.tolist()) for v in vecs],
                                               float(threshold))
    renumber: dict[int, int] = {}
    return [renumber.setdefault(int(label), len(renumber)) for label in raw]
