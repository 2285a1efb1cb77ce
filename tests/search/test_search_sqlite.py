"""SqliteIndex specifics: projection, FTS escaping, threads, caches, schema upgrades."""

from __future__ import annotations

import random
import sqlite3
import threading

import pytest

from mediaapp.core.query import date_bounds, float32, folder_prefix, normalize_taken_at
from mediaapp.core.types import Asset, Detection, DetectionKind, IndexDocument, Query
from mediaapp.search import sqlite_store
from mediaapp.search.index_base import SearchUnavailableError
from mediaapp.search.projection import project
from mediaapp.search.sqlite import SqliteIndex, fts_match_expression

L = DetectionKind.LABEL


def doc(sha: str, path: str, dets=(), text: str = "", taken: str | None = None) -> IndexDocument:
    return IndexDocument(Asset(sha, 1, "jpeg", 10, 10, [path], taken), list(dets),
                         [path.rsplit("/", 1)[0]], text)


@pytest.fixture
def index(tmp_path):
    ix = SqliteIndex(tmp_path / "index.sqlite")
    yield ix
    ix.close()


def test_project_facts_tokens_and_dates():
    d = IndexDocument(
        Asset("ab" * 32, 5, "png", 1, 1, ["/p/Holiday_2019.PNG", "C:\\x\\copy.png"], "2019:07:04 18:00:00"),
        [Detection(L, "Dog", 40.0, None, ("Animal",)), Detection(L, "dog", 90.0, None, ("Pet", "animal")),
         Detection(DetectionKind.PERSON, "Ann Lee", 99.0), Detection(DetectionKind.FACE, "Face", 99.0),
         Detection(DetectionKind.TEXT, "IGNORED WORD", 99.0, text_type="WORD")],
        ["/p"], "IT'S Monday")
    p = project(d)
    assert p.labels == {"dog": ("Dog", 90.0), "animal": ("Animal", 90.0), "pet": ("Pet", 90.0)}
    assert p.persons == {"ann lee": ("Ann Lee", 99.0)}
    # a label's Aliases (search.label_aliases) are facts of their own, not labels (no facets), and search words
    assert p.aliases == {"puppy": ("Puppy", 90.0), "domestic dog": ("Domestic Dog", 90.0),
                         "canis familiaris": ("Canis Familiaris", 90.0)}
    assert p.tokens.split() == ["its", "monday", "dog", "animal", "puppy", "domestic", "dog", "canis", "familiaris",
                                "pet", "ann", "lee", "holiday", "2019", "png", "copy", "png"]
    assert p.taken_at == "2019-07-04T18:00:00.000"
    assert p.path == "/p/Holiday_2019.PNG"


def test_text_detections_used_when_text_is_empty():
    d = doc("aa" * 32, "/a/b.jpg", [Detection(DetectionKind.TEXT, "Open Late", 99, text_type="LINE"),
                                     Detection(DetectionKind.TEXT, "Open", 99, text_type="WORD")])
    # the line (99, 8 letters) also makes the Text label (search.context_labels), a label word
    assert project(d).tokens.split() == ["open", "late", "text", "b", "jpg"]
    assert project(d).labels == {"text": ("Text", 99.0)}


@pytest.mark.parametrize("value,expected", [
    ("2020-01-02", "2020-01-02T00:00:00.000"), ("2020-01-02T03:04:05.123456", "2020-01-02T03:04:05.123"),
    ("2020-01-02T03:04:05+09:00", "2020-01-02T03:04:05.000"), ("2020:01:02 03:04:05", "2020-01-02T03:04:05.000"),
    ("not a date", None), ("", None), (None, None),
])
def test_normalize_taken_at(value, expected):
    assert normalize_taken_at(value) == expected


def test_date_bounds():
    assert date_bounds(Query(taken_after="2020-01-01", taken_before="2020-01-31")) == (
        "2020-01-01T00:00:00.000", "2020-01-31T23:59:59.999")
    assert date_bounds(Query(taken_before="2020-01-31T12:00:00")) == (None, "2020-01-31T12:00:00.000")
    with pytest.raises(ValueError):
        date_bounds(Query(taken_after="yesterday"))


def test_folder_prefix_and_fts_escaping():
    assert folder_prefix("/a/b") == "/a/b/"
    assert folder_prefix("/a/b//") == "/a/b/"
    assert folder_prefix("/") == "/"
    assert folder_prefix("C:\\Photos") == "C:\\Photos\\"
    assert fts_match_expression(["near", 'x"y']) == '"near" "x""y"'
    assert float32(0.1) != 0.1 and float32(float32(0.1)) == float32(0.1)


def test_fts_operators_are_plain_words(index):
    index.upsert([doc("01" * 32, "/a/rock.jpg", text="Rock AND Roll NEAR me, OR not*"),
                  doc("02" * 32, "/a/roll.jpg", text="roll")])
    assert [h.sha256 for h in index.search(Query(text="AND NEAR")).hits] == ["01" * 32]
    assert [h.sha256 for h in index.search(Query(text="or NOT")).hits] == ["01" * 32]
    assert index.search(Query(text='roll "')).total == 2
    assert index.search(Query(text="roll -rock")).total == 1  # '-' is punctuation, not negation


def test_windows_folder(index):
    index.upsert([doc("01" * 32, "C:\\Photos\\a.jpg"), doc("02" * 32, "C:\\PhotosOld\\b.jpg")])
    assert [h.sha256 for h in index.search(Query(folder="C:\\Photos")).hits] == ["01" * 32]


def test_negative_page_is_rejected(index):
    with pytest.raises(ValueError):
        index.search(Query(offset=-1))


def test_wal_mode_and_busy_timeout(index):
    conn = sqlite3.connect(index.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert index._read("PRAGMA busy_timeout")[0][0] == 10000


def test_threads_read_and_write_concurrently(index):
    errors: list[BaseException] = []

    def writer(k: int) -> None:
        try:
            for i in range(20):
                index.upsert([doc(f"{k:02x}{i:02x}" + "0" * 60, f"/t{k}/{i}.jpg",
                                  [Detection(L, f"Label{i % 3}", 50.0 + i)])])
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(40):
                index.search(Query(labels=("Label1",)))
                index.facets(Query(folder="/t1"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(3)]
    threads += [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert index.count() == 60
    assert index.search(Query(labels=("label1",))).total == 21
    # five threads shared the pool's connections: at most the readers plus the writer were opened
    assert 2 <= index.open_connections <= sqlite_store._READERS + 1


def _random_library(n: int, seed: int) -> list[IndexDocument]:
    rng = random.Random(seed)
    names = [f"L{i}" for i in range(12)]
    out = []
    for i in range(n):
        dets = [Detection(L, rng.choice(names), rng.choice([rng.uniform(0, 100), 50.0, 50.5]), None,
                          tuple(rng.sample(names[:3], rng.randint(0, 2))))
                for _ in range(rng.randint(0, 5))]
        out.append(doc(f"{i:064x}", f"/r/{i % 4}/{i}.jpg", dets))
    return out


@pytest.mark.parametrize("minimum", [0, 50, 50.25, 50.5, 99.9])
def test_whole_library_histogram_matches_filtered_counts(index, minimum):
    lib = _random_library(120, seed=7)
    index.upsert(lib)
    rng = random.Random(3)
    index.upsert([IndexDocument(lib[i].asset, _random_library(1, seed=100 + i)[0].detections,
                                lib[i].folders, "")
                  for i in rng.sample(range(120), 30)])  # re-analysis of 30 assets
    index.delete([lib[i].asset.sha256 for i in range(0, 120, 7)])
    via_histogram = index.facets(Query(min_confidence=minimum), limit=1000)
    via_filter = index.facets(Query(folder="/r", min_confidence=minimum), limit=1000)
    assert via_histogram == via_filter
    assert sum(f.count for f in via_histogram) > 0 or minimum > 99


def test_facet_cache_follows_writes_from_another_instance(tmp_path):
    a = SqliteIndex(tmp_path / "shared.sqlite")
    b = SqliteIndex(tmp_path / "shared.sqlite")
    try:
        a.upsert([doc("01" * 32, "/x/1.jpg", [Detection(L, "Cat", 80)])])
        assert [(f.name, f.count) for f in b.facets(Query(folder="/x"))] == [("Cat", 1)]
        a.upsert([doc("02" * 32, "/x/2.jpg", [Detection(L, "Cat", 80), Detection(L, "Dog", 70)])])
        assert [(f.name, f.count) for f in b.facets(Query(folder="/x"))] == [("Cat", 2), ("Dog", 1)]
        a.delete(["01" * 32])
        assert [(f.name, f.count) for f in b.facets(Query(folder="/x"))] == [("Cat", 1), ("Dog", 1)]
    finally:
        a.close()
        b.close()


def test_facets_without_cache_agree(tmp_path):
    lib = _random_library(80, seed=11)
    cached, uncached = SqliteIndex(tmp_path / "a.sqlite"), SqliteIndex(tmp_path / "b.sqlite",
                                                                        facet_cache_facts=0)
    try:
        cached.upsert(lib)
        uncached.upsert(lib)
        for q in (Query(folder="/r/1"), Query(labels=("L1",), min_confidence=40),
              Query(folder="/r", min_confidence=50.5)):
            assert cached.facets(q, limit=1000) == uncached.facets(q, limit=1000)
            assert uncached.facets(q, limit=1000)
    finally:
        cached.close()
        uncached.close()


def test_old_schema_is_rebuilt_empty(tmp_path):
    path = tmp_path / "index.sqlite"
    ix = SqliteIndex(path)
    ix.upsert([doc("01" * 32, "/a/1.jpg")])
    ix.close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value='0' WHERE key='schema_version'")
    conn.commit()
    conn.close()
    ix = SqliteIndex(path)
    assert ix.count() == 0
    ix.upsert([doc("01" * 32, "/a/1.jpg")])
    assert ix.count() == 1
    ix.close()


def test_closed_or_unopenable_index_is_unavailable(tmp_path):
    ix = SqliteIndex(tmp_path / "i.sqlite")
    ix.close()
    with pytest.raises(SearchUnavailableError):
        ix.search(Query())
    (tmp_path / "dir.sqlite").mkdir()
    with pytest.raises(SearchUnavailableError):
        SqliteIndex(tmp_path / "dir.sqlite")


def test_sha256s_lists_index(index):
    index.upsert([doc("02" * 32, "/a/2.jpg"), doc("01" * 32, "/a/1.jpg")])
    assert index.sha256s() == ["01" * 32, "02" * 32]


def test_name_ids_survive_clear_by_another_instance(tmp_path):
    a = SqliteIndex(tmp_path / "shared.sqlite")
    b = SqliteIndex(tmp_path / "shared.sqlite")
    try:
        a.upsert([doc("01" * 32, "/x/1.jpg", [Detection(L, "Cat", 80)])])
        b.clear()  # wipes the name dictionary behind a's back
        b.upsert([doc("03" * 32, "/x/3.jpg", [Detection(L, "Dog", 70)])])
        a.upsert([doc("02" * 32, "/x/2.jpg", [Detection(L, "Cat", 80)])])
        assert [(f.name, f.count) for f in a.facets(Query())] == [("Cat", 1), ("Dog", 1)]
        assert [(f.name, f.count) for f in b.facets(Query(folder="/x"))] == [("Cat", 1), ("Dog", 1)]
        assert [h.sha256 for h in b.search(Query(labels=("cat",))).hits] == ["02" * 32]
    finally:
        a.close()
        b.close()


def test_word_scores_without_fact_cache_agree(tmp_path):
    lib = _random_library(80, seed=12)
    cached, uncached = SqliteIndex(tmp_path / "a.sqlite"), SqliteIndex(tmp_path / "b.sqlite",
                                                                        facet_cache_facts=0)
    try:
        cached.upsert(lib)
        uncached.upsert(lib)
        scored = 0
        for q in (Query(text="l1", limit=None), Query(text="l2 jpg", min_confidence=40, limit=None),
                  Query(text="jpg", labels=("L3", "L1"), match_all=False, limit=7, offset=3)):
            want = [(h.sha256, h.score) for h in cached.search(q).hits]
            assert [(h.sha256, h.score) for h in uncached.search(q).hits] == want
            scored += sum(1 for _sha, score in want if score > 0)
        assert scored > 10  # the word score did order these results
    finally:
        cached.close()
        uncached.close()


def test_word_score_and_sha_order_follow_writes_from_another_instance(tmp_path):
    a = SqliteIndex(tmp_path / "shared.sqlite")
    b = SqliteIndex(tmp_path / "shared.sqlite")
    try:
        a.upsert([doc("02" * 32, "/x/cat.jpg", [Detection(L, "Cat", 80)])])
        assert [(h.sha256, h.score) for h in b.search(Query(text="jpg")).hits] == [("02" * 32, 0.0)]
        a.upsert([doc("01" * 32, "/x/hot dog.jpg", [Detection(L, "Hot Dog", 70)]),
                  doc("03" * 32, "/x/dog.jpg", [Detection(L, "Animal", 90)], text="dog")])
        # new names ("hot dog") and new assets (sha256 order) are seen by the other instance
        assert [(h.sha256, h.score) for h in b.search(Query(text="dog")).hits] == [("01" * 32, 70.0),
                                                                                  ("03" * 32, 0.0)]
        assert [h.sha256 for h in b.search(Query(text="jpg")).hits] == ["01" * 32, "02" * 32, "03" * 32]
        a.clear()
        a.upsert([doc("04" * 32, "/x/dog.jpg", [Detection(L, "Dog", 60)])])
        assert [(h.sha256, h.score) for h in b.search(Query(text="dog")).hits] == [("04" * 32, 60.0)]
    finally:
        a.close()
        b.close()
