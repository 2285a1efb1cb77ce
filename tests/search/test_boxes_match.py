"""The boxes drawn for a query are exactly the detections that made an asset match, on every backend.

Every boxed detection of the conformance library (real Rekognition responses
plus a few written here) becomes an asset of its own holding that one
detection. Each backend answers the query over those assets; the boxes the
UI draws (``NormalizedQuery.draws``, what ``Library.matching_detections``
keeps) must be exactly the detections whose assets the backend returned.
A matcher that reads names differently from the backends (``casefold``
without NFKC or trimming, a confidence test on persons) fails here.
"""

from __future__ import annotations

import hashlib

from mediaapp.core.query import normalize_query
from mediaapp.core.types import Asset, BoundingBox, Detection, DetectionKind, IndexDocument, Query

BOX = BoundingBox(0.2, 0.2, 0.4, 0.4)

#: Label and person queries, with the spellings a user types (case, full-width letters, spaces).
QUERIES = [
    Query(labels=("car",), limit=None),
    Query(labels=("ＣＡＲ",), limit=None),           # full-width: NFKC makes it "CAR"
    Query(labels=("  Vehicle ",), limit=None),       # a parent, with spaces around it
    Query(labels=("Person", "Wheel"), match_all=False, min_confidence=90, limit=None),
    Query(labels=("Dog",), min_confidence=35, limit=None),
    Query(labels=("animal",), min_confidence=50.5, limit=None),
    Query(persons=("celeb a", "CELEB C"), limit=None),
    Query(persons=("Celeb B",), min_confidence=99.9, limit=None),  # persons match whatever their confidence
    Query(labels=("Straße",), limit=None),           # case folding: ß and SS are one key
]


def _extra() -> list[Detection]:
    """Boxed detections the real responses lack: parents, confidences at the edges, odd spellings."""
    L, P = DetectionKind.LABEL, DetectionKind.PERSON
    return [
        Detection(L, "Dog", 35.0, BOX, ("Animal", "Pet")),
        Detection(L, "Dog", 34.99, BOX, ("Animal", "Pet")),
        Detection(L, "Cat", 50.5, BOX, ("Animal",)),
        Detection(L, "STRASSE", 70.0, BOX),
        Detection(L, "Strasse sign", 70.0, BOX),
        Detection(P, "Celeb A", 12.0, BOX),
        Detection(DetectionKind.FACE, "Face", 99.0, BOX),
    ]


def _one_detection_assets(library: list[IndexDocument]) -> dict[str, Detection]:
    """sha256 -> the single boxed detection its asset holds."""
    dets = [d for doc in library for d in doc.detections
            if d.box is not None and d.kind is not DetectionKind.TEXT] + _extra()
    out = {}
    for i, det in enumerate(dets):
        out[hashlib.sha256(f"{i}:{det}".encode()).hexdigest()] = det
    return out


def test_drawn_boxes_are_the_detections_that_match(empty_index, library):
    singles = _one_detection_assets(library)
    assert len(singles) > 30
    docs = [IndexDocument(Asset(sha, 1, "jpeg", 10, 10, [f"/lib/{sha}.jpg"]), [det], ["/lib"], "")
            for sha, det in singles.items()]
    assert empty_index.upsert(docs).failed == []
    for query in QUERIES:
        matched = {h.sha256 for h in empty_index.search(query).hits}
        drawn = {sha for sha, det in singles.items() if normalize_query(query).draws(det)}
        assert drawn == matched, query
    assert {sha for sha in singles if normalize_query(QUERIES[0]).draws(singles[sha])}  # cars are there


def test_spellings_of_one_label_draw_the_same_boxes(library):
    singles = _one_detection_assets(library)

    def drawn(query: Query) -> set[str]:
        return {sha for sha, det in singles.items() if normalize_query(query).draws(det)}

    cars = {sha for sha, det in singles.items() if det.name == "Car"}
    assert cars and drawn(Query(labels=("car",))) == drawn(Query(labels=("ＣＡＲ",))) == cars
    vehicles = {sha for sha, det in singles.items() if "Vehicle" in (det.name, *det.parents)}
    assert cars <= vehicles == drawn(Query(labels=("  Vehicle ",)))
