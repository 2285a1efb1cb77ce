"""``Query.like`` on every search backend: the same ranking within the filters (conformance), and what
osmem-server (the test OpenSearch) can do: the ``knn_vector`` mapping and documents, not the k-NN query."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "search"))  # search_support: the backends

from search_support import dispose, open_backend

from mediaapp.core.types import Asset, IndexDocument, Query
from mediaapp.search.index_base import SearchUnavailableError
from mediaapp.search.opensearch_mapping import EMBEDDING_DIMS, index_body, to_source

N = 12


def _sha(i: int) -> str:
    return f"{i:02x}" * 32


def _vectors() -> np.ndarray:
    rng = np.random.default_rng(3)
    v = rng.standard_normal((N, EMBEDDING_DIMS)).astype(np.float32)
    v[1:4] = v[0] + 0.3 * rng.standard_normal((3, EMBEDDING_DIMS))   # 1-3 are near 0, in that order of noise
    v[2] = v[0] + 0.1 * rng.standard_normal(EMBEDDING_DIMS)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _docs(vectors: np.ndarray) -> list[IndexDocument]:
    docs = []
    for i in range(N):
        folder = "/photos/even" if i % 2 == 0 else "/photos/odd"
        asset = Asset(_sha(i), 1000 + i, "jpeg", 640, 480, [f"{folder}/{i:02d}.jpg"])
        docs.append(IndexDocument(asset, [], [folder], embedding=tuple(vectors[i].tolist())))
    return docs


def _expected(vectors: np.ndarray, allowed) -> list[str]:
    sims = vectors @ vectors[0]
    order = sorted((i for i in allowed if i != 0), key=lambda i: (-float(np.float32(sims[i] * 100)), _sha(i)))
    return [_sha(i) for i in order]


@pytest.fixture(params=["sqlite", "opensearch-real"])
def backend(request, tmp_path):
    """An index of ``N`` documents with embeddings (the embedded index's vector store written alike)."""
    index = open_backend(request.param, request, tmp_path)
    vectors = _vectors()
    index.upsert(_docs(vectors))
    if request.param == "sqlite":
        index.vectors.write("test@1", [N, "t"], [([_sha(i) for i in range(N)], vectors)], N)
    else:
        index.refresh()
    yield index, vectors
    dispose(index)


def test_like_ranks_by_cosine_within_the_filters_on_every_backend(backend):
    index, vectors = backend
    page = index.search(Query(like=_sha(0), limit=None))
    assert [h.sha256 for h in page.hits] == _expected(vectors, range(N)) and page.total == N - 1
    assert page.hits[0].sha256 == _sha(2) and {h.sha256 for h in page.hits[:3]} == {_sha(1), _sha(2), _sha(3)}
    odd = index.search(Query(like=_sha(0), folder="/photos/odd", limit=None))
    assert [h.sha256 for h in odd.hits] == _expected(vectors, range(1, N, 2))
    first = index.search(Query(like=_sha(0), limit=4))
    rest = index.search(Query(like=_sha(0), limit=None, after=first.cursor))
    assert [h.sha256 for h in first.hits + rest.hits] == [h.sha256 for h in page.hits]


def test_the_mapping_indexes_the_embedding_as_a_cosine_knn_vector():
    body = index_body()
    field = body["mappings"]["properties"]["embedding"]
    assert field["type"] == "knn_vector" and field["dimension"] == EMBEDDING_DIMS
    assert field["method"]["space_type"] == "cosinesimil" and body["settings"]["knn"] is True
    doc = _docs(_vectors())[0]
    assert len(to_source(doc)["embedding"]) == EMBEDDING_DIMS
    short = IndexDocument(doc.asset, [], embedding=(1.0, 0.0))
    assert "embedding" not in to_source(short) and "embedding" not in to_source(IndexDocument(doc.asset, []))


def test_osmem_stores_the_vectors_but_cannot_answer_knn_so_the_library_falls_back(request, tmp_path):
    index = open_backend("opensearch", request, tmp_path)
    try:
        vectors = _vectors()
        index.upsert(_docs(vectors))
        index.refresh()
        stored = index.client.get(index=index.alias, id=_sha(2))["_source"]["embedding"]
        assert np.allclose(stored, vectors[2], atol=1e-6)
        body = index.like_body(stored, {"match_all": {}}, _sha(2))
        knn = body["query"]["knn"]["embedding"]
        assert knn["k"] == body["size"] and knn["filter"]["bool"]["must_not"] == [{"term": {"sha256": _sha(2)}}]
        with pytest.raises(SearchUnavailableError, match="knn"):
            index.search(Query(like=_sha(0)))
        from mediaapp.search.sqlite import SqliteIndex
        from mediaapp.services.queries import Queries

        local = SqliteIndex(tmp_path / "local.sqlite")
        local.upsert(_docs(vectors))
        local.vectors.write("test@1", [N, "t"], [([_sha(i) for i in range(N)], vectors)], N)
        answered = Queries(None, index, local).search(Query(like=_sha(0), limit=None))  # type: ignore[arg-type]
        assert [h.sha256 for h in answered.hits] == _expected(vectors, range(N))
        local.close()
    finally:
        dispose(index)
