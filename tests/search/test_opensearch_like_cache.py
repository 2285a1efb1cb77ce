"""OpenSearch "more like this": one k-NN request per window refresh, not one per facet list.

``OpenSearchIndex._like_hits`` keeps its answer (``AnswerCache``) for
``LIKE_CACHE_SECONDS``, dropped by every write of the same index object;
errors are not kept. osmem-server refuses k-NN queries, so ``KnnStandIn``
answers them at the client as the k-NN plugin would (an exact filtered
nearest-neighbour search over the ``embedding`` vectors stored on the
server) and counts them; every other request (the example's vector, the
facet aggregations, the writes) goes to osmem-server itself.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid

import numpy as np
import pytest
from search_support import like_library, sha, vector_at

from mediaapp.core.types import LIKE_MAX_HITS, MODERATION_UNCHECKED, Query
from mediaapp.search import opensearch as osmod
from mediaapp.search.index_base import FacetCount, SearchUnavailableError
from mediaapp.search.opensearch import OpenSearchIndex

#: ``LIKE_MAX_HITS`` here: 3 of the 5 assets with an embedding (``LIKE_COSINES``: 4, 7, then 5), so a changed
#: embedding changes which assets are hits.
CUT = 3
LIKE = Query(like=sha(3), limit=None)
#: Asset 1 (the street: cars, no person) made the most like the example: it replaces asset 5 (the party, the
#: only one of the three hits with recognised persons).
CHANGED_COSINE = 0.95


class KnnStandIn:
    """``client.search`` of an ``OpenSearchIndex`` on osmem-server, with the k-NN queries it lacks answered here.

    A request whose query is ``knn`` is counted in ``knn_requests``; while
    ``available`` is True it is answered as the k-NN plugin answers it with
    an exact search: the ``filter`` runs as an ordinary query on the server,
    the stored ``embedding`` of each match is scored against the request's
    vector as the cosine space scores, ``(1 + cos) / 2``, and the best ``k``
    are returned. Otherwise it fails as ``failure`` says: ``"refused"`` sends
    it to osmem-server, which refuses it (400, as a cluster without the k-NN
    plugin), ``"down"`` raises the connection error of a cluster that went
    away. ``release``, when set, is waited for before a k-NN answer.
    """

    def __init__(self, index: OpenSearchIndex) -> None:
        self.server_search = index.client.search
        self.knn_requests = 0
        self.available = True
        self.failure = "refused"
        self.release: threading.Event | None = None
        self._lock = threading.Lock()

    def __call__(self, *, index: str, body: dict, **kwargs):
        knn = (body.get("query") or {}).get("knn")
        if knn is None:
            return self.server_search(index=index, body=body, **kwargs)
        with self._lock:
            self.knn_requests += 1
        if self.release is not None:
            assert self.release.wait(30)
        if not self.available:
            if self.failure == "down":
                from opensearchpy.exceptions import ConnectionError as TransportConnectionError

                raise TransportConnectionError("N/A", "Connection refused", ConnectionRefusedError(111, "refused"))
            return self.server_search(index=index, body=body, **kwargs)
        spec = knn["embedding"]
        wanted = [f for f in body["_source"] if f != "embedding"]
        found = self.server_search(index=index, body={"size": 10_000, "query": spec["filter"],
                                                      "_source": [*wanted, "embedding"]})["hits"]["hits"]
        vector = np.asarray(spec["vector"], dtype=np.float64)
        scored = []
        for h in found:
            emb = h["_source"].get("embedding")
            if emb:
                emb = np.asarray(emb, dtype=np.float64)
                cos = float(vector @ emb / (np.linalg.norm(vector) * np.linalg.norm(emb)))
                scored.append(((1.0 + cos) / 2.0, h))
        scored.sort(key=lambda sh: -sh[0])
        hits = [{"_index": h["_index"], "_id": h["_id"], "_score": score,
                 "_source": {f: h["_source"][f] for f in wanted if f in h["_source"]}}
                for score, h in scored[:spec["k"]]]
        return {"hits": {"total": {"value": len(hits), "relation": "eq"}, "hits": hits}}


@pytest.fixture
def like_index(osmem_base, library, monkeypatch):
    """An ``OpenSearchIndex`` on osmem-server holding the "more like this" library, its k-NN stood in for:
    ``(index, stand-in, docs, vectors)``."""
    monkeypatch.setattr(osmod, "LIKE_MAX_HITS", CUT)
    ix = OpenSearchIndex(osmem_base.url, index=f"mediaapp-test-{uuid.uuid4().hex[:8]}", replicas=0)
    docs, vectors = like_library(library)
    assert ix.upsert(docs).indexed == len(docs)
    knn = KnnStandIn(ix)
    monkeypatch.setattr(ix.client, "search", knn)
    yield ix, knn, docs, vectors
    ix.drop()
    ix.close()


def refresh_window(index: OpenSearchIndex, query: Query) -> dict:
    """What the main window asks on a refresh (``MainWindow._query_changed``): the hits, then the four facet lists
    (labels without the label filter, persons without the person filter, face attributes, moderation without
    the moderation filter)."""
    return {"hits": [h.sha256 for h in index.search(query).hits],
            "labels": [f.name for f in index.facets(dataclasses.replace(query, labels=()), "labels")],
            "persons": [f.name for f in index.facets(dataclasses.replace(query, persons=()), "persons")],
            "faces": index.facets(query, "face_attributes"),
            "moderation": index.facets(dataclasses.replace(query, moderation=()), "moderation")}


def changed_asset_1(docs, vectors):
    """Asset 1's document with an embedding at ``CHANGED_COSINE`` from the example's."""
    vector = vector_at(vectors[3], CHANGED_COSINE, np.random.default_rng(11))
    return dataclasses.replace(docs[0], embedding=tuple(float(x) for x in vector))


def test_search_and_four_facet_lists_ask_knn_once(like_index):
    index, knn, _docs, _vectors = like_index
    window = refresh_window(index, LIKE)
    assert knn.knn_requests == 1
    assert window["hits"] == [sha(4), sha(7), sha(5)]  # cosines 0.9, 0.8, 0.7: the stand-in is a real k-NN
    assert window["persons"]  # asset 5's recognised celebrities: the facets count the k-NN hits
    assert "Car" not in window["labels"]
    assert window["moderation"] == [FacetCount(MODERATION_UNCHECKED, CUT)]
    # the next pages, by cursor and by offset, are cut from the same answer
    first = index.search(dataclasses.replace(LIKE, limit=2))
    rest = index.search(dataclasses.replace(LIKE, limit=2, after=first.cursor))
    assert [h.sha256 for h in first.hits + rest.hits] == window["hits"]
    assert [h.sha256 for h in index.search(dataclasses.replace(LIKE, limit=1, offset=1)).hits] == [sha(7)]
    assert knn.knn_requests == 1
    # another filter is another question
    assert [h.sha256 for h in index.search(dataclasses.replace(LIKE, folder="/lib/pets")).hits] == [sha(4)]
    assert knn.knn_requests == 2


def test_callers_get_their_own_hits(like_index):
    index, knn, _docs, _vectors = like_index
    page = index.search(LIKE)
    page.hits[0].score = -1.0
    page.hits.clear()
    again = index.search(LIKE)
    assert [h.sha256 for h in again.hits] == [sha(4), sha(7), sha(5)]
    assert again.hits[0].score == pytest.approx(90.0, abs=1e-3)
    assert knn.knn_requests == 1


def test_a_write_of_this_index_asks_again_and_shows_the_change(like_index):
    index, knn, docs, vectors = like_index
    before = refresh_window(index, LIKE)
    assert knn.knn_requests == 1 and before["persons"] and "Car" not in before["labels"]
    assert index.upsert([changed_asset_1(docs, vectors)]).indexed == 1
    after = {field: [f.name for f in index.facets(LIKE, field)] for field in ("labels", "persons")}
    assert knn.knn_requests == 2  # asked again after the write, and once for both lists
    assert after["persons"] == [] and "Car" in after["labels"]  # asset 1 replaced asset 5 among the hits
    assert [h.sha256 for h in index.search(LIKE).hits] == [sha(1), sha(4), sha(7)]
    assert knn.knn_requests == 2
    index.delete([sha(1)])  # every write: a delete too
    assert [h.sha256 for h in index.search(LIKE).hits] == [sha(4), sha(7), sha(5)]
    assert knn.knn_requests == 3


def test_another_writers_change_shows_once_the_answer_expires(like_index, osmem_base):
    index, knn, docs, vectors = like_index
    now = [1000.0]
    index._like_answers.clock = lambda: now[0]
    assert index.facets(LIKE, "persons")
    other = OpenSearchIndex(osmem_base.url, index=index.alias, replicas=0)  # another process on the same cluster
    try:
        assert other.upsert([changed_asset_1(docs, vectors)]).indexed == 1
    finally:
        other.close()
    now[0] += osmod.LIKE_CACHE_SECONDS - 0.01
    assert index.facets(LIKE, "persons")  # still the kept answer: this index did not write
    assert knn.knn_requests == 1
    now[0] += 0.01
    assert index.facets(LIKE, "persons") == []  # expired: asked again, asset 1 replaced asset 5
    assert knn.knn_requests == 2


@pytest.mark.parametrize("failure", ["refused", "down"])
def test_errors_are_not_kept(like_index, failure):
    index, knn, _docs, _vectors = like_index
    knn.available, knn.failure = False, failure
    with pytest.raises(SearchUnavailableError):
        index.search(LIKE)
    with pytest.raises(SearchUnavailableError):
        index.facets(LIKE, "labels")
    assert knn.knn_requests == 2  # the facets asked again
    knn.available = True
    window = refresh_window(index, LIKE)
    assert window["hits"] == [sha(4), sha(7), sha(5)]
    assert knn.knn_requests == 3  # and once it works, the answer is kept


def test_search_and_facets_at_the_same_time_share_one_request(like_index):
    """The window asks for the hits and the facet lists on two worker threads: the second waits for the first's
    k-NN answer instead of asking again."""
    index, knn, _docs, _vectors = like_index
    knn.release = threading.Event()
    results: dict[str, object] = {}

    def run(name, call):
        results[name] = call()

    threads = [threading.Thread(target=run, args=("hits", lambda: index.search(LIKE))),
               threading.Thread(target=run, args=("persons", lambda: index.facets(LIKE, "persons")))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(0.5)  # both are under way: one in the k-NN request, the other waiting for its answer
    assert all(t.is_alive() for t in threads) and knn.knn_requests <= 1  # nobody has an answer yet
    knn.release.set()
    for t in threads:
        t.join(30)
    assert [h.sha256 for h in results["hits"].hits] == [sha(4), sha(7), sha(5)]
    assert results["persons"]
    assert knn.knn_requests == 1


def test_the_number_of_hits_asked_for_is_part_of_the_question(like_index, monkeypatch):
    index, knn, _docs, _vectors = like_index
    assert len(index.search(LIKE).hits) == len(index.search(LIKE).hits) == CUT
    assert knn.knn_requests == 1
    monkeypatch.setattr(osmod, "LIKE_MAX_HITS", LIKE_MAX_HITS)
    assert len(index.search(LIKE).hits) == 5  # every asset with an embedding but the example
    assert knn.knn_requests == 2
