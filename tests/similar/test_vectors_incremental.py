"""``Similar.refresh`` after embeddings were added or removed updates the vector store from its current copy:
only the new embeddings are read from the catalog, the stored projection is reused, and the answers are those of
a full rewrite with that projection. Crossing ``PCA_MIN_ASSETS`` or ``REFIT_GROWTH`` rewrites it in full.

The catalogs are made directly in SQL (random clustered embeddings, no model), with the PCA thresholds made small
so that the projected copy is tested at a few hundred assets."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np
import pytest

import mediaapp.search.vectors as vectors_module
import mediaapp.services.similar as similar_module
from mediaapp.catalog.db import Catalog
from mediaapp.search.vectors import VectorStore
from mediaapp.services.similar import Similar

VERSION = "test@1"
DIMS = 64
#: The patched thresholds: a projected copy from 200 assets on, 16 components.
MIN_ASSETS, PCA_DIMS = 200, 16


def sha(i: int) -> str:
    """The synthetic asset ``i``'s sha256."""
    return hashlib.sha256(f"asset {i}".encode()).hexdigest()


def stamp(second: int) -> str:
    """A ``stored_at`` (ISO 8601, whole seconds) ``second`` seconds into one test day."""
    return f"2026-01-01T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}+00:00"


def embeddings(ids: list[int]) -> np.ndarray:
    """Unit float32 vectors (len(ids), DIMS) of the assets ``ids``: 12 clusters, each asset its own noise."""
    centres = np.random.default_rng(0).standard_normal((12, DIMS))
    rows = np.stack([centres[i % 12] + 0.6 * np.random.default_rng(1000 + i).standard_normal(DIMS) for i in ids])
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def store(catalog: Catalog, ids: list[int], first_second: int, vectors: np.ndarray | None = None) -> None:
    """Store the embeddings of ``ids`` (float16, as the catalog keeps them), one second apart from ``first_second``."""
    vectors = embeddings(ids) if vectors is None else vectors
    with catalog.transaction() as conn:
        conn.executemany("INSERT OR REPLACE INTO asset_embeddings (sha256, model_version, dims, vector, stored_at)"
                         " VALUES (?, ?, ?, ?, ?)",
                         [(sha(i), VERSION, DIMS, v.astype("<f2").tobytes(), stamp(first_second + k))
                          for k, (i, v) in enumerate(zip(ids, vectors))])


def remove(catalog: Catalog, ids: list[int]) -> None:
    """Delete the embeddings of ``ids`` (as ``SimilarityStore.prune`` does for removed assets)."""
    with catalog.transaction() as conn:
        conn.executemany("DELETE FROM asset_embeddings WHERE sha256 = ?", [(sha(i),) for i in ids])


@pytest.fixture
def small_pca(monkeypatch):
    """PCA from ``MIN_ASSETS`` assets on, to ``PCA_DIMS`` components."""
    monkeypatch.setattr(vectors_module, "PCA_MIN_ASSETS", MIN_ASSETS)
    monkeypatch.setattr(similar_module, "PCA_MIN_ASSETS", MIN_ASSETS)
    monkeypatch.setattr(vectors_module, "PCA_DIMS", PCA_DIMS)


@pytest.fixture
def similar(tmp_path, small_pca) -> Iterator[Similar]:
    """A ``Similar`` over an empty catalog and vector store; counts the embeddings it reads (``.read``)."""
    catalog = Catalog(tmp_path / "catalog.sqlite")
    s = Similar(catalog, VectorStore(tmp_path / "vectors"))
    s.read = 0  # type: ignore[attr-defined]
    for name in ("iter_embeddings", "embeddings_of"):   # every way the service reads embedding rows in bulk
        setattr(s.store, name, _counting(s, getattr(s.store, name)))
    yield s
    s.vectors.close()
    catalog.close()


def _counting(s, method):
    def wrapper(*args, **kwargs):
        for shas, matrix in method(*args, **kwargs):
            s.read += len(shas)
            yield shas, matrix
    return wrapper


def refresh(s: Similar) -> int:
    """``s.refresh()``, with the count of embeddings read reset before."""
    s.read = 0  # type: ignore[attr-defined]
    return s.refresh()


def expected_nearest(s: Similar, ids: list[int], query: int, k: int) -> list[tuple[str, float]]:
    """What a full rewrite with the store's projection answers: every catalog embedding of ``ids`` projected,
    normalised and ranked by cosine with ``query``'s (most similar first, ties by sha256)."""
    m = np.stack([s.store.embedding(sha(i), VERSION)[1] for i in ids])   # float16 -> float32, as stored
    mean, components = s.vectors.projection()
    p = (m - mean) @ components.T
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    q = p[ids.index(query)]
    ranked = sorted(((sha(i), float(p[n] @ q)) for n, i in enumerate(ids) if i != query), key=lambda t: (-t[1], t[0]))
    return ranked[:k]


def assert_same_answers(s: Similar, ids: list[int], queries: list[int], k: int = 15) -> None:
    for q in queries:
        got, want = s.vectors.nearest(sha(q), None, k), expected_nearest(s, ids, q, k)
        assert [g[0] for g in got] == [w[0] for w in want]
        assert np.allclose([g[1] for g in got], [w[1] for w in want], atol=1e-5)


def test_added_embeddings_are_the_only_ones_read_and_answers_match_a_full_rewrite(similar):
    ids = list(range(300))
    store(similar.catalog, ids, 0)
    assert refresh(similar) == 300 and similar.vectors.meta()["projected"]
    projection = similar.vectors.projection()
    added = list(range(300, 310))
    store(similar.catalog, added, 1000)
    assert refresh(similar) == 310
    # the 10 new ones, and the one stored in the same second as the copy's newest (it may have been stored again)
    assert similar.read == 11
    assert all(np.array_equal(a, b) for a, b in zip(similar.vectors.projection(), projection))  # not refitted
    assert similar.vectors.meta()["fitted_on"] == 300
    assert_same_answers(similar, ids + added, [0, 7, 299, 300, 305, 309])
    assert refresh(similar) == 310 and similar.read == 0                         # nothing changed: nothing read


def test_removed_assets_disappear_and_a_replaced_embedding_is_read_again(similar):
    ids = list(range(300))
    store(similar.catalog, ids, 0)
    refresh(similar)
    gone, added = [3, 50, 51, 200], [300, 301]
    remove(similar.catalog, gone)
    store(similar.catalog, added, 1000)
    store(similar.catalog, [10], 1002, embeddings([205]))        # asset 10 analysed again: now like asset 205
    assert refresh(similar) == 298
    assert similar.read == 4                                     # 300, 301, 10, and 299 (the copy's newest second)
    assert not any(similar.vectors.has(sha(i)) for i in gone)
    left = [i for i in ids if i not in gone] + added
    assert {h for h, _ in similar.vectors.nearest(sha(0), None, None)} == {sha(i) for i in left if i != 0}
    assert similar.vectors.nearest(sha(10), None, 1)[0][0] == sha(205)
    assert_same_answers(similar, left, [0, 10, 300])


def test_crossing_pca_min_assets_rewrites_with_a_fitted_projection(similar):
    store(similar.catalog, list(range(150)), 0)
    assert refresh(similar) == 150
    meta = similar.vectors.meta()
    assert not meta["projected"] and not list(similar.vectors.folder.glob("projection-*.npy"))
    store(similar.catalog, list(range(150, 170)), 1000)                 # still below: updated, whole vectors
    assert refresh(similar) == 170 and similar.read == 21
    assert not similar.vectors.meta()["projected"]
    store(similar.catalog, list(range(170, 230)), 2000)                 # reaches MIN_ASSETS: rewritten, projected
    assert refresh(similar) == 230
    assert similar.read >= 230                                           # every embedding (and the PCA sample)
    meta = similar.vectors.meta()
    assert meta["projected"] and meta["fitted_on"] == 230
    assert (similar.vectors.folder / f"projection-{meta['token']}.npy").exists()
    assert similar.vectors.matrix()[1].shape == (230, PCA_DIMS)


def test_growth_past_the_refit_factor_refits_the_projection(similar):
    store(similar.catalog, list(range(250)), 0)
    refresh(similar)
    first = similar.vectors.projection()
    store(similar.catalog, list(range(250, 500)), 1000)                 # 500 = 2 x 250: still updated
    assert refresh(similar) == 500 and similar.read == 251
    assert similar.vectors.meta()["fitted_on"] == 250
    store(similar.catalog, [500], 2000)                                  # 501 > 2 x 250: refitted
    assert refresh(similar) == 501 and similar.read >= 501
    assert similar.vectors.meta()["fitted_on"] == 501
    assert not np.allclose(similar.vectors.projection()[1], first[1])
    assert_same_answers(similar, list(range(501)), [0, 500])


def test_a_reader_keeps_its_copy_and_sees_the_new_rows_at_its_next_query(similar):
    store(similar.catalog, list(range(300)), 0)
    refresh(similar)
    reader = VectorStore(similar.vectors.folder)                         # another window or process
    before = reader.nearest(sha(0), None, 5)
    shas, matrix = reader.matrix()
    token = reader.token()
    store(similar.catalog, list(range(300, 305)), 1000)
    remove(similar.catalog, [1])
    assert refresh(similar) == 304 and similar.read == 6
    assert len(shas) == 300 and np.isfinite(np.asarray(matrix) @ np.asarray(matrix[0])).all()  # old mapping works
    assert reader.token() != token
    after = reader.nearest(sha(302), None, None)
    assert len(after) == 303 and sha(1) not in {h for h, _ in after} and sha(300) in {h for h, _ in after}
    assert reader.nearest(sha(0), None, 5) != [] and before != []
    names = sorted(p.name for p in similar.vectors.folder.glob("*.npy"))
    assert names == sorted(f"{kind}-{reader.token()}.npy" for kind in ("projection", "shas", "vectors"))
    reader.close()


def test_a_stacks_raw_keeps_its_jpegs_row_and_gets_its_own_when_analysed(similar):
    member, original = 400, 401                                          # a JPEG analysed for its RAW
    store(similar.catalog, list(range(300)), 0)
    store(similar.catalog, [member], 100, embeddings([5]))               # the JPEG looks like asset 5
    with similar.catalog.transaction() as conn:
        conn.execute("INSERT INTO stacks (member, original, created_at) VALUES (?, ?, ?)",
                     (sha(member), sha(original), stamp(100)))
    assert refresh(similar) == 301
    assert similar.vectors.has(sha(original)) and not similar.vectors.has(sha(member))
    assert similar.vectors.nearest(sha(original), None, 1)[0][0] == sha(5)
    store(similar.catalog, [350], 700)
    assert refresh(similar) == 302 and similar.read == 2                 # 350 and 299: the RAW's row is kept
    assert similar.vectors.nearest(sha(original), None, 1)[0][0] == sha(5)
    store(similar.catalog, [original], 1000, embeddings([9]))            # the RAW analysed itself: like asset 9
    assert refresh(similar) == 303 and similar.read == 3                 # the RAW's, the JPEG's, and 350 again
    assert similar.vectors.nearest(sha(original), None, 1)[0][0] == sha(9)
    assert similar.vectors.nearest(sha(member), None, 1)[0][0] == sha(5)


def test_an_update_planned_on_a_copy_another_writer_replaced_writes_nothing(tmp_path):
    store_ = VectorStore(tmp_path / "vectors")
    vectors = embeddings(list(range(20)))
    store_.write(VERSION, [20, stamp(19), "s"], [([sha(i) for i in range(20)], vectors)], 20)
    base = store_.token()
    store_.write(VERSION, [19, stamp(19), "s"], [([sha(i) for i in range(19)], vectors[:19])], 19)  # came first
    fetched: list[list[str]] = []
    assert store_.update(base, VERSION, [21, stamp(30), "s"], {sha(i): sha(i) for i in range(21)}, 21, set(),
                         lambda shas: fetched.append(shas) or iter(())) is None
    assert fetched == [] and store_.meta()["rows"] == 19 and store_.token() != base
    store_.close()


def test_an_update_fetching_vectors_of_another_length_leaves_the_copy_as_it_was(tmp_path):
    store_ = VectorStore(tmp_path / "vectors")
    vectors = embeddings(list(range(20)))
    store_.write(VERSION, [20, stamp(19), "s"], [([sha(i) for i in range(20)], vectors)], 20)
    base = store_.token()
    wider = np.ones((1, DIMS + 1), dtype=np.float32)
    assert store_.update(base, VERSION, [21, stamp(30), "s"], {sha(i): sha(i) for i in range(21)}, 21, set(),
                         lambda shas: iter([(shas, wider)])) is None
    assert store_.token() == base and store_.meta()["rows"] == 20
    assert sorted(p.name for p in store_.folder.glob("*.npy")) == [f"shas-{base}.npy", f"vectors-{base}.npy"]
    store_.close()


def test_an_embedding_stored_while_another_write_holds_the_catalog_is_stamped_after_it(tmp_path, monkeypatch):
    """``SimilarityStore.store`` takes ``stored_at`` once it holds the write lock, so commit order is stamp order.

    Otherwise an embedding stamped before waiting for the lock could commit
    after a vector-store copy made from a later stamp, and the incremental
    refresh (``stored_since``) would never read it again. The clock here
    counts calls, so the stamps show the order they were taken in.
    """
    import threading
    import time

    import mediaapp.catalog.similarity as similarity_module
    from mediaapp.catalog.similarity import SimilarityStore

    ticks = iter(range(1, 100))
    monkeypatch.setattr(similarity_module, "_now", lambda: stamp(next(ticks)))
    catalog = Catalog(tmp_path / "catalog.sqlite")
    simstore = SimilarityStore(catalog)
    holding, release = threading.Event(), threading.Event()

    def first_writer() -> None:
        with catalog.transaction():
            holding.set()
            release.wait(10)
            simstore.store(sha(1), VERSION, embeddings([1])[0], None, None, None)   # joins the open transaction

    def second_writer() -> None:
        simstore.store(sha(2), VERSION, embeddings([2])[0], None, None, None)      # waits for the first

    one = threading.Thread(target=first_writer)
    one.start()
    assert holding.wait(10)
    two = threading.Thread(target=second_writer)
    two.start()
    time.sleep(0.3)   # the second writer is waiting for the lock by now
    release.set()
    one.join(10)
    two.join(10)
    with catalog.read() as conn:
        stamps = dict(conn.execute("SELECT sha256, stored_at FROM asset_embeddings").fetchall())
    catalog.close()
    assert stamps[sha(2)] > stamps[sha(1)]


def test_a_stack_with_two_analysed_members_is_one_row_after_a_full_write_and_an_update(similar):
    """A RAW without its own embedding, whose JPEG and HEIC are both analysed, is one photo: one row, found once."""
    jpeg, heic, raw = 400, 402, 401
    store(similar.catalog, list(range(300)), 0)
    store(similar.catalog, [jpeg, heic], 100, embeddings([5, 5]))         # both look like asset 5
    with similar.catalog.transaction() as conn:
        conn.executemany("INSERT INTO stacks (member, original, created_at) VALUES (?, ?, ?)",
                         [(sha(jpeg), sha(raw), stamp(100)), (sha(heic), sha(raw), stamp(100))])
    assert refresh(similar) == 301                                        # a full write
    shas, _matrix = similar.vectors.matrix()
    assert shas.count(sha(raw)) == 1
    assert [s for s, _cos in similar.vectors.nearest(sha(5), None, 3)].count(sha(raw)) == 1
    store(similar.catalog, [350], 700)
    assert refresh(similar) == 302                                        # an update
    shas, _matrix = similar.vectors.matrix()
    assert shas.count(sha(raw)) == 1


def test_an_update_that_loses_to_another_writer_is_tried_again_not_rewritten_in_full(similar, tmp_path):
    """Another process (a CLI import beside the GUI) publishes a copy first: the refresh updates from that copy."""
    store(similar.catalog, list(range(300)), 0)
    assert refresh(similar) == 300
    store(similar.catalog, list(range(300, 310)), 1000)
    other = Similar(similar.catalog, VectorStore(tmp_path / "vectors"))
    real_update, bases, full_writes = similar.vectors.update, [], []

    def update(base, *args, **kwargs):
        if not bases:                                                      # the other import lands first
            store(similar.catalog, [310], 2000)
            assert other.refresh() == 311
        bases.append(base)
        return real_update(base, *args, **kwargs)

    similar.vectors.update = update                                        # type: ignore[method-assign]
    similar.vectors.write = lambda *a, **k: full_writes.append(a)          # type: ignore[method-assign]
    assert refresh(similar) == 310
    assert len(bases) == 2 and bases[0] != bases[1] and not full_writes
    other.vectors.close()
