"""SQLite against OpenSearch on a random library: every answer must be identical, hit for hit.

A seeded generator builds ~60 assets full of awkward cases: the same label
in several spellings (``Dog``/``dog``/``DOG``, ``Straße``/``STRASSE``),
multi-word labels sharing words (``Hot Dog``, ``Sports Car``), parents,
several instances of a label with different (and tied) confidences,
unicode and punctuation in text and names (``İstanbul``, ``Ǆemal``,
ligatures, apostrophes), persons, several paths per asset in folders that
are prefixes of each other, and dates in every accepted spelling (EXIF,
offsets, missing). Both backends index it, then a few hundred random
queries (labels all/any with a minimum confidence, text, persons, folder,
date range, every sort order, pages) must give the same totals, the same
hits in the same order with the same scores, and the same label and person
facet counts. Paging with cursors (``Query.after``) must give, on each
backend, exactly the unpaged answer, with the same cursors on both (a cursor
from one backend continues on the other). The OpenSearch side is the session's osmem-server, plus the
real cluster at ``OPENSEARCH_URL`` when set.
"""

from __future__ import annotations

import random

import pytest
from search_support import dispose, open_backend

from mediaapp.core.query import float32
from mediaapp.core.types import Asset, BoundingBox, Detection, DetectionKind, IndexDocument, Query, SortOrder
from mediaapp.search.sqlite import SqliteIndex

SEED = 20240605
N_ASSETS = 60
N_QUERIES = 300

LABELS = [
    ("Dog", ("Animal", "Pet", "Mammal")), ("dog", ("animal",)), ("DOG", ()), ("Hot Dog", ("Food",)),
    ("Cat", ("Animal", "Pet")), ("Car", ("Vehicle", "Transportation")), ("Sports Car", ("Car", "Vehicle")),
    ("Straße", ("Road",)), ("STRASSE", ()), ("Café", ("Building",)), ("İstanbul", ("City",)),
    ("Ǆemal", ()), ("Tree", ("Plant",)), ("Person", ()), ("Sign", ("Text",)), ("ﬁsh", ("Animal",)),
]
PERSONS = ["Ann Lee", "ann lee", "Bob Dog", "ÉMILE Zola", "émile zola", "Lee Café"]
WORDS = ["Hello,", "world!", "IT'S", "its", "café", "CAFÉ", "straße", "strasse", "Ünïcode", "a-b", "x_y",
         "42", "dog", "hot-dog", "ﬁsh", "Tree's", "sign", "road", "zola", "car"]
FOLDERS = ["/lib/a", "/lib/ab", "/lib/a b", "/lib/é", "/lib/A", "/other", "/lib/a/deep"]
DATES = [None, None, "2020-01-01T00:00:00", "2019:07:04 18:00:00", "2021-06-01T10:00:00+05:00",
         "2021-06-01", "2015-03-10T12:30:00", "2023-12-31T23:59:59.999", "not a date"]
TIED = [50.0, 75.5, 99.9, 33.333, 80.0]


def confidence(rng: random.Random) -> float:
    """A confidence in 0-100: often one of a few tied values, else random with 0-6 decimals."""
    if rng.random() < 0.35:
        return rng.choice(TIED)
    return round(rng.uniform(0, 100), rng.choice([0, 1, 3, 6]))


def generate(seed: int, n: int) -> list[IndexDocument]:
    """``n`` random documents (module docstring); deterministic for ``seed``."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        dets: list[Detection] = []
        for name, parents in rng.sample(LABELS, rng.randint(0, 5)):
            for _ in range(rng.choice([1, 1, 2, 3])):  # several instances, different confidences
                box = BoundingBox(0.1, 0.2, 0.3, 0.4) if rng.random() < 0.5 else None
                dets.append(Detection(DetectionKind.LABEL, name, confidence(rng), box, parents))
        for person in rng.sample(PERSONS, rng.choice([0, 0, 1, 2])):
            dets.append(Detection(DetectionKind.PERSON, person, confidence(rng), BoundingBox(0, 0, 0.5, 0.5)))
        if rng.random() < 0.2:
            dets.append(Detection(DetectionKind.FACE, "Face", confidence(rng), BoundingBox(0, 0, 0.2, 0.2)))
        lines = [" ".join(rng.choices(WORDS, k=rng.randint(1, 4))) for _ in range(rng.randint(0, 2))]
        for line in lines:
            dets.append(Detection(DetectionKind.TEXT, line, 99.0, text_type="LINE"))
        # a number shared by several assets makes file names tie (in any case) for the name order
        number = i if rng.random() < 0.6 else i % 4
        stems = ["x", "X", "Y", "ü", "dog "]
        paths = [f"{rng.choice(FOLDERS)}/{rng.choice(stems)}{number}.{rng.choice(['jpg', 'PNG'])}"
                 for _ in range(rng.choice([1, 1, 2, 3]))]
        paths = sorted(set(paths))
        sha = f"{rng.getrandbits(256):064x}"
        size = rng.choice([0, 4096, 4096, 2**40, 100 + i])  # ties, zero and beyond 32 bits for the size order
        asset = Asset(sha, size, "jpeg", 10, 10, paths, rng.choice(DATES), "Canon", "m")
        docs.append(IndexDocument(asset, dets, sorted({p.rsplit("/", 1)[0] for p in paths}), "\n".join(lines)))
    return docs


def random_query(rng: random.Random) -> Query:
    """One random query over the generator's vocabulary."""
    names = [n for n, _p in LABELS] + ["Animal", "PET", "vehicle", "Unicorn", "food"]
    return Query(
        text=" ".join(rng.choices(WORDS + ["animal", "lee", "emile", "jpg", "png", "nothing"],
                                  k=rng.randint(1, 2))) if rng.random() < 0.45 else "",
        labels=tuple(rng.sample(names, rng.randint(1, 3))) if rng.random() < 0.6 else (),
        match_all=rng.random() < 0.5,
        min_confidence=rng.choice([0, 0, 30, 50, 50.5, 75.5, 80.0001, 99.9, 33.333]),
        persons=tuple(rng.sample(PERSONS + ["Nobody"], rng.randint(1, 2))) if rng.random() < 0.2 else (),
        folder=rng.choice([None, None, None, "/lib/a", "/lib/a/", "/lib", "/other", "/lib/é", "/lib/A"]),
        taken_after=rng.choice([None, None, "2015-01-01", "2020-01-01T00:00:00"]),
        taken_before=rng.choice([None, None, "2021-06-01", "2023-12-31"]),
        sort=rng.choice(list(SortOrder)),
        limit=rng.choice([None, 3, 10, 100]), offset=rng.choice([0, 0, 2, 7]))


@pytest.fixture(scope="module")
def generated() -> list[IndexDocument]:
    return generate(SEED, N_ASSETS)


@pytest.fixture(scope="module", params=["opensearch", "opensearch-real"])
def pair(request, tmp_path_factory, generated):
    """(SQLite, OpenSearch) with the generated library indexed into both."""
    work = tmp_path_factory.mktemp("differential")
    remote = open_backend(request.param, request, work)
    local = SqliteIndex(work / "index.sqlite")
    for index in (local, remote):
        result = index.upsert(generated)
        assert result.failed == [] and result.indexed == len(generated)
    yield local, remote
    local.close()
    dispose(remote)


def test_generated_library_is_awkward_enough(generated):
    labels = [d for doc in generated for d in doc.detections if d.kind == DetectionKind.LABEL]
    spellings = {d.name for d in labels}
    assert {"Dog", "dog", "DOG"} <= spellings and {"Straße", "STRASSE"} <= spellings
    assert any(len([d for d in doc.detections if d.name == "Dog"]) > 1 for doc in generated)
    assert any(len(doc.asset.paths) > 1 for doc in generated)
    assert any(doc.asset.taken_at is None for doc in generated) and any(doc.text for doc in generated)


def test_random_queries_agree(pair):
    local, remote = pair
    rng = random.Random(SEED + 1)
    nonempty = 0
    for n in range(N_QUERIES):
        q = random_query(rng)
        want, got = local.search(q), remote.search(q)
        context = f"query #{n}: {q}"
        assert got.total == want.total, context
        assert [(h.sha256, h.path) for h in got.hits] == [(h.sha256, h.path) for h in want.hits], context
        assert [float32(h.score) for h in got.hits] == [float32(h.score) for h in want.hits], context
        for field in ("labels", "persons"):
            assert remote.facets(q, field, 1000) == local.facets(q, field, 1000), f"{context} {field}"
        nonempty += bool(want.hits)
    assert nonempty > N_QUERIES // 4  # the queries exercise real results, not only empty pages


def test_keyed_orders_follow_their_definitions(pair, generated):
    from mediaapp.core.query import normalize_taken_at

    def dated(doc):
        return normalize_taken_at(doc.asset.taken_at)

    def name(doc):
        return doc.asset.paths[0].rsplit("/", 1)[-1].casefold().encode(), doc.asset.sha256

    undated = sorted(d.asset.sha256 for d in generated if dated(d) is None)
    expected = {
        SortOrder.OLDEST: [d.asset.sha256 for d in sorted((d for d in generated if dated(d) is not None),
                                                          key=lambda d: (dated(d), d.asset.sha256))] + undated,
        SortOrder.NAME: [d.asset.sha256 for d in sorted(generated, key=name)],
        SortOrder.SIZE: [d.asset.sha256 for d in sorted(generated, key=lambda d: (-d.asset.size, d.asset.sha256))],
    }
    assert len({name(d)[0] for d in generated}) < len(generated)  # names tie
    assert len({d.asset.size for d in generated}) < len(generated)  # sizes tie
    for order, want in expected.items():
        for index in pair:
            assert [h.sha256 for h in index.search(Query(sort=order, limit=None)).hits] == want, (index, order)


def test_text_relevance_orders_agree_for_every_word(pair):
    local, remote = pair
    for word in WORDS + ["animal", "lee", "zola", "jpg"]:
        q = Query(text=word, limit=None)
        want = [(h.sha256, float32(h.score)) for h in local.search(q).hits]
        assert [(h.sha256, float32(h.score)) for h in remote.search(q).hits] == want, word


def test_cursor_paging_agrees_with_one_unpaged_query(pair):
    from dataclasses import replace

    local, remote = pair
    rng = random.Random(SEED + 2)
    for n in range(60):
        q = replace(random_query(rng), offset=0)
        size = rng.choice([1, 2, 3, 7])
        want = local.search(replace(q, limit=None))
        assert [h.sha256 for h in remote.search(replace(q, limit=None)).hits] == [h.sha256 for h in want.hits]
        walked: dict[str, list] = {"sqlite": [], "opensearch": [], "crossed": []}
        cursors: dict[str, list] = {"sqlite": [], "opensearch": []}
        for name, index in (("sqlite", local), ("opensearch", remote)):
            after = None
            while True:
                page = index.search(replace(q, limit=size, after=after))
                assert page.total == want.total, f"query #{n}: {q}"
                if not page.hits:
                    assert page.cursor is None
                    break
                walked[name] += [(h.sha256, h.path, float32(h.score)) for h in page.hits]
                cursors[name].append(page.cursor)
                after = page.cursor
        # each page alternately from either backend, continuing from the other's cursor
        after, turn = None, 0
        while True:
            page = (local, remote)[turn % 2].search(replace(q, limit=size, after=after))
            if not page.hits:
                break
            walked["crossed"] += [(h.sha256, h.path, float32(h.score)) for h in page.hits]
            after, turn = page.cursor, turn + 1
        expected = [(h.sha256, h.path, float32(h.score)) for h in want.hits]
        context = f"query #{n}: {q} by {size}"
        assert walked["sqlite"] == expected, context
        assert walked["opensearch"] == expected, context
        assert walked["crossed"] == expected, context
        assert cursors["sqlite"] == cursors["opensearch"], context
