"""``Query.moderation``, ``Query.safe_only`` and the "Unsafe content" facet: the same answers on every backend.

The library: real Rekognition DetectModerationLabels answers (``4_rekognition``) and hand-made ones of the
on-device mapping (``moderation_response``), with and without labels, and one image never checked.
No image is involved: documents only.
"""

from __future__ import annotations

import json

import pytest
from search_support import BACKENDS, dispose, indexed_backend

from mediaapp.analysis.local.moderation import moderation_response
from mediaapp.core.apis import flatten
from mediaapp.core.types import (
    MODERATION_UNCHECKED,
    Asset,
    Detection,
    DetectionKind,
    IndexDocument,
    Query,
    SortOrder,
)
from mediaapp.search.index_base import FacetCount
from mediaapp.search.queue import doc_from_json, doc_to_json


def sha(i: int) -> str:
    return f"{i:02x}" * 32


def _doc(i: int, moderation: dict | None, labels: tuple[str, ...] = ()) -> IndexDocument:
    dets = [Detection(DetectionKind.LABEL, name, 90.0) for name in labels]
    if moderation is not None:
        dets += flatten("DetectModerationLabels", moderation, "rekognition")
    asset = Asset(sha(i), 1000 + i, "jpeg", 640, 480, [f"/lib/m/img{i}.jpg"])
    return IndexDocument(asset, dets, ["/lib/m"], "", moderation_checked=moderation is not None)


@pytest.fixture(scope="module")
def docs(testdata) -> list[IndexDocument]:
    explicit = json.loads((testdata / "4_rekognition/asyncaws_tests/DetectModerationLabels.json").read_text())
    violence = json.loads((testdata / "4_rekognition/awscli/detect-moderation-labels.json").read_text())
    return [
        _doc(1, explicit),                                   # flagged: 99.2 Explicit Nudity and two children
        _doc(2, moderation_response(0.6), ("Dog",)),         # checked, 60: reported, under the threshold
        _doc(3, moderation_response(0.1), ("Dog",)),         # checked, nothing reported
        _doc(4, None, ("Dog",)),                             # never checked
        _doc(5, violence),                                   # flagged: Violence / Weapon Violence 97.3
    ]


@pytest.fixture(scope="module", params=BACKENDS)
def index(request, tmp_path_factory, docs):
    backend = indexed_backend(request.param, request, tmp_path_factory.mktemp("moderation"), docs)
    yield backend
    dispose(backend)


def hits(index, **fields) -> list[str]:
    page = index.search(Query(sort=SortOrder.PATH, limit=None, **fields))
    return [h.sha256 for h in page.hits]


def S(*ids: int) -> list[str]:
    return [sha(i) for i in ids]


def test_safe_only_leaves_out_flagged_and_keeps_unchecked(index):
    assert hits(index, safe_only=True) == S(2, 3, 4)
    assert hits(index) == S(1, 2, 3, 4, 5)


def test_safe_only_combines_with_other_filters(index):
    assert hits(index, safe_only=True, labels=("Dog",)) == S(2, 3, 4)
    assert hits(index, safe_only=True, text="img4") == S(4)


def test_threshold_moves_what_is_flagged(index):
    assert hits(index, safe_only=True, moderation_threshold=50.0) == S(3, 4)
    assert hits(index, moderation=("Explicit Nudity",), moderation_threshold=50.0) == S(1, 2)


@pytest.mark.parametrize(("names", "expected"), [
    (("Explicit Nudity",), (1,)),
    (("graphic male nudity",), (1,)),       # a second-level name, any case
    (("Violence",), (5,)),
    (("Weapon Violence", "Explicit Nudity"), (1, 5)),  # any of them
    ((MODERATION_UNCHECKED,), (4,)),
    (("Explicit Nudity", MODERATION_UNCHECKED), (1, 4)),
    (("Drugs",), ()),
])
def test_moderation_filter(index, names, expected):
    assert hits(index, moderation=names) == S(*expected)


def test_moderation_names_are_not_search_words(index):
    assert hits(index, text="nudity") == []


def test_unsafe_content_facet_with_unchecked_last(index):
    assert index.facets(Query(), "moderation") == [
        FacetCount("Explicit Nudity", 1), FacetCount("Graphic Male Nudity", 1), FacetCount("Sexual Activity", 1),
        FacetCount("Violence", 1), FacetCount("Weapon Violence", 1), FacetCount(MODERATION_UNCHECKED, 1)]


def test_unsafe_content_facet_under_a_query(index):
    assert index.facets(Query(labels=("Dog",)), "moderation") == [FacetCount(MODERATION_UNCHECKED, 1)]
    assert index.facets(Query(labels=("Dog",), moderation_threshold=50.0), "moderation") == [
        FacetCount("Explicit Nudity", 1), FacetCount(MODERATION_UNCHECKED, 1)]
    assert index.facets(Query(safe_only=True, labels=("Dog",)), "moderation") == [FacetCount(MODERATION_UNCHECKED, 1)]


def test_reindexing_a_checked_image_updates_the_facts(index, docs):
    index.upsert([_doc(4, moderation_response(0.97), ("Dog",))])
    try:
        assert hits(index, safe_only=True) == S(2, 3)
        assert hits(index, moderation=(MODERATION_UNCHECKED,)) == []
    finally:
        index.upsert([docs[3]])
    assert hits(index, safe_only=True) == S(2, 3, 4)


def test_queue_keeps_whether_an_image_was_checked(docs):
    for doc in docs:
        back = doc_from_json(doc_to_json(doc))
        assert back.moderation_checked == doc.moderation_checked
        assert back.detections == doc.detections
