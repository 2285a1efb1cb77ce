"""Near-duplicate quality and "more like this" speed.

Usage::

    python benchmarks/similar_eval.py [--testdata DIR] [--originals N] [--assets 100000] [--queries 200]
    python benchmarks/similar_eval.py --skip-quality --skip-speed --refresh [--assets 100000] [--added 10]

1. **Near-duplicates** on groups made from the shared photos (nothing is
   written into the repository; the copies live in memory). Each of the
   first ``--originals`` ImageNet photos (``6_imagenet``, sorted) is one group
   with five copies: resized to half its size, recompressed as JPEG quality 40,
   cropped by 10% (a 90% x 90% window at the top left), brightness +20% and
   -20% (``ImageEnhance.Brightness``). Every other shared photo (the rest of
   ``6_imagenet`` and ``1_objects``) is an unrelated distractor. Each picture
   is embedded with the concept classifier and hashed exactly as the local
   engine does (``analysis/local/similarity.py``), and grouped with the
   product's rule and thresholds (``services/similar.py``). Printed: pairwise
   precision and recall (a pair is right when both pictures come from one
   original), and the cosine range of true pairs and of the closest unrelated
   pairs, which is where the thresholds come from.
2. **"More like this" speed** at ``--assets`` synthetic assets: random
   1280-d vectors with cluster structure are written to a vector store
   (``search/vectors.py``: PCA to 256, float32, memory-mapped) and
   ``VectorStore.nearest`` is timed for ``--queries`` queries, over all assets
   and restricted to a filter's 10% of them. Printed: p50 / p95 latency (ms),
   the store's size on disk, the build time, and the resident memory the query
   process added. ``--grouping`` also times the near-duplicate pair search
   over the same store (``services/similar.near_pairs``); ``--end-to-end``
   times the whole ``SqliteIndex`` like query (filters, vector ranking, rows)
   on that many synthetic search documents.
3. **Refresh after an import** (``--refresh``): a catalog with ``--assets``
   random float16 embeddings (timing only: no model runs; stored a second
   apart in the past, as a long import stores them) and its vector store
   (``Similar.refresh``, full rewrite), then ``--added`` (10) more embeddings
   are stored, as an import of that many photos does, and the next
   ``Similar.refresh`` (``VectorStore.update``) is timed. Printed: both times
   and how many embeddings that refresh read from the catalog. 100k assets
   on the 2-core test machine: full 7.7 s, after 10 photos 0.50 s (11
   embeddings read: the 10 and the one of the copy's newest second).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mediaapp.analysis.local.similarity import perceptual_hashes, sharpness
from mediaapp.catalog.similarity import AssetHashes
from mediaapp.ingest.decode import DecodeError, open_rgb
from mediaapp.services.similar import (
    COSINE_ALONE,
    COSINE_WITH_HASH,
    HAMMING_WITH_COSINE,
    group_pairs,
    hamming,
    is_near_duplicate,
    near_pairs,
)

TESTDATA = Path(os.environ.get("MEDIAAPP_TESTDATA", Path(__file__).resolve().parents[2] / "shared" / "testdata"))


def variants(image: Image.Image) -> dict[str, Image.Image]:
    """The five near-copies of ``image`` (see the module docstring)."""
    w, h = image.size
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=40)
    buf.seek(0)
    return {
        "resize50": image.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.LANCZOS),
        "jpeg40": Image.open(buf).convert("RGB"),
        "crop10": image.crop((0, 0, round(w * 0.9), round(h * 0.9))),
        "bright+20": ImageEnhance.Brightness(image).enhance(1.2),
        "bright-20": ImageEnhance.Brightness(image).enhance(0.8),
    }


def near_duplicates(testdata: Path, originals: int) -> None:
    """Part 1 (see the module docstring)."""
    from mediaapp.analysis.local.classifier import ConceptClassifier

    model = ConceptClassifier(threads=2)
    imagenet = sorted((testdata / "6_imagenet").glob("*.JPEG"))
    objects = sorted((testdata / "1_objects").rglob("*.jpg"))
    names: list[str] = []
    group_of: list[int] = []
    vectors: list[np.ndarray] = []
    hashes: list[AssetHashes] = []

    def add(name: str, group: int, img: Image.Image) -> None:
        p, d = perceptual_hashes(img)
        names.append(name)
        group_of.append(group)
        vectors.append(model.embed(img))
        hashes.append(AssetHashes(name, p, d, sharpness(img)))

    t0 = time.perf_counter()
    for g, path in enumerate(imagenet[:originals]):
        img = open_rgb(path)
        add(path.name, g, img)
        for kind, copy in variants(img).items():
            add(f"{path.name}:{kind}", g, copy)
    for k, path in enumerate([*imagenet[originals:], *objects]):
        try:
            add(path.name, -1 - k, open_rgb(path))
        except DecodeError:  # the shared data holds a deliberately truncated photo
            continue
    elapsed = time.perf_counter() - t0
    m = np.stack(vectors)
    sims = m @ m.T
    n = len(names)
    predicted = [(i, j) for i in range(n) for j in range(i + 1, n)
                 if is_near_duplicate(float(sims[i, j]), hashes[i], hashes[j])]
    groups = group_pairs(list(range(n)), predicted)  # type: ignore[arg-type]
    same_pred = {(min(a, b), max(a, b)) for g in groups for a in g for b in g if a != b}  # type: ignore[misc]
    truth = {(i, j) for i in range(n) for j in range(i + 1, n) if group_of[i] == group_of[j]}
    tp = len(same_pred & truth)
    precision = tp / len(same_pred) if same_pred else 1.0
    recall = tp / len(truth) if truth else 1.0
    true_cos = [float(sims[i, j]) for i, j in truth]
    false_cos = sorted((float(sims[i, j]) for i in range(n) for j in range(i + 1, n)
                        if group_of[i] != group_of[j]), reverse=True)
    true_ham = [min(hamming(hashes[i].phash, hashes[j].phash), hamming(hashes[i].dhash, hashes[j].dhash))
                for i, j in truth]
    print(f"near-duplicates: {originals} originals x 6 pictures + {n - 6 * originals} distractors "
          f"({n} pictures, embedded and hashed in {elapsed:.1f} s)")
    print(f"  thresholds: cosine >= {COSINE_ALONE}, or cosine >= {COSINE_WITH_HASH} with pHash/dHash Hamming "
          f"<= {HAMMING_WITH_COSINE}")
    print(f"  pairs: precision {precision:.3f} ({tp}/{len(same_pred)}), recall {recall:.3f} ({tp}/{len(truth)})")
    print(f"  cosine of true pairs: min {min(true_cos):.3f}, 5th percentile {np.percentile(true_cos, 5):.3f}, "
          f"median {np.median(true_cos):.3f}")
    print(f"  cosine of unrelated pairs: max {false_cos[0]:.3f}, 10th highest {false_cos[9]:.3f}, "
          f"99.9th percentile {np.percentile(false_cos, 99.9):.3f}")
    print(f"  Hamming (closer of pHash/dHash) of true pairs: median {np.median(true_ham):.0f}, "
          f"max {max(true_ham)}")
    by_kind: dict[str, list[float]] = {}
    for i, j in truth:
        kind = names[j].split(":", 1)[1] if ":" in names[j] and ":" not in names[i] else None
        if kind:
            by_kind.setdefault(kind, []).append(float(sims[i, j]))
    print("  cosine original -> copy, min per kind: "
          + ", ".join(f"{k} {min(v):.3f}" for k, v in sorted(by_kind.items())))
    missed = sorted(truth - same_pred)
    for i, j in missed[:10]:
        print(f"  missed: {names[i]} ~ {names[j]}: cosine {sims[i, j]:.3f}")
    for i, j in sorted(same_pred - truth)[:10]:
        print(f"  wrong: {names[i]} ~ {names[j]}: cosine {sims[i, j]:.3f}")


def rss_mb() -> float:
    """Resident memory of this process now, MB (``/proc/self/statm``; mapped file pages included)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def speed(assets: int, queries: int, group: bool = False) -> None:
    """Part 2 (see the module docstring)."""
    from mediaapp.search.vectors import VectorStore

    rng = np.random.default_rng(7)
    centres = rng.standard_normal((500, 1280)).astype(np.float32)
    shas = [f"{i:064x}" for i in range(assets)]

    def batches():
        for start in range(0, assets, 5000):
            size = min(5000, assets - start)
            v = centres[rng.integers(0, len(centres), size)] + 0.7 * rng.standard_normal((size, 1280)).astype(
                np.float32)
            yield shas[start:start + size], v / np.linalg.norm(v, axis=1, keepdims=True)

    sample = next(iter(batches()))[1]
    with tempfile.TemporaryDirectory() as tmp:
        store = VectorStore(Path(tmp) / "vectors")
        t0 = time.perf_counter()
        store.write("synthetic", [assets, ""], batches(), assets, sample)
        build = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in (Path(tmp) / "vectors").iterdir())
        before = rss_mb()
        store.nearest(shas[0], None, 100)  # maps the file
        picks = rng.integers(0, assets, queries)
        allowed = set(shas[::10])
        for label, subset in (("all assets", None), ("a filter's 10%", allowed)):
            times = []
            for q in picks:
                t = time.perf_counter()
                store.nearest(shas[int(q)], subset, 100)
                times.append((time.perf_counter() - t) * 1000)
            print(f"more like this at {assets} assets, over {label}: p50 {np.percentile(times, 50):.1f} ms, "
                  f"p95 {np.percentile(times, 95):.1f} ms ({queries} queries)")
        print(f"  vector store: {size / 1e6:.0f} MB on disk (memory-mapped), built in {build:.1f} s; "
              f"resident memory grew {rss_mb() - before:.0f} MB while querying (mapped pages the OS can drop)")
        if group:
            loaded = store.matrix()
            assert loaded is not None
            t0 = time.perf_counter()
            pairs = near_pairs(loaded[0], loaded[1], {})
            print(f"near-duplicate grouping at {assets} assets (pairs only, no hashes): "
                  f"{time.perf_counter() - t0:.0f} s, {len(pairs)} pairs")


def end_to_end(assets: int, queries: int) -> None:
    """``--end-to-end``: ``SqliteIndex.search(Query(like=...))`` at ``assets`` synthetic documents
    (``search_bench.Synthetic``) with a vector store of the same sha256s: no filter, one year's folder, one label."""
    from search_bench import Synthetic

    from mediaapp.core.types import Query
    from mediaapp.search.sqlite import SqliteIndex

    gen = Synthetic(5)
    with tempfile.TemporaryDirectory() as tmp:
        index = SqliteIndex(Path(tmp) / "index.sqlite")
        t0 = time.perf_counter()
        shas: list[str] = []

        def docs():
            for doc in gen.docs(assets):
                shas.append(doc.asset.sha256)
                yield doc

        index.rebuild(docs())
        built = time.perf_counter() - t0
        rng = np.random.default_rng(11)
        centres = rng.standard_normal((500, 1280)).astype(np.float32)

        def batches():
            for start in range(0, assets, 5000):
                part = shas[start:start + 5000]
                v = centres[rng.integers(0, 500, len(part))] + 0.7 * rng.standard_normal((len(part), 1280)).astype(
                    np.float32)
                yield part, v / np.linalg.norm(v, axis=1, keepdims=True)

        sample = next(iter(batches()))[1]
        index.vectors.write("synthetic", [assets, ""], batches(), assets, sample)
        label = gen.queries("one-label", 1)[0].labels
        print(f"end to end (SqliteIndex, {assets} documents indexed in {built:.0f} s):")
        for name, extra in (("no filter", {}), ("folder /photos/2015", {"folder": "/photos/2015"}),
                            (f"label {label[0]}", {"labels": label})):
            times, hits = [], []
            for q in rng.integers(0, assets, queries):
                t = time.perf_counter()
                page = index.search(Query(like=shas[int(q)], limit=100, **extra))
                times.append((time.perf_counter() - t) * 1000)
                hits.append(page.total)
            print(f"  like + {name}: p50 {np.percentile(times, 50):.1f} ms, p95 {np.percentile(times, 95):.1f} ms, "
                  f"{np.mean(hits):.0f} hits on average")
        index.close()


def refresh_after_import(assets: int, added: int) -> None:
    """Part 3 (see the module docstring): ``Similar.refresh`` after ``added`` new embeddings at ``assets``."""
    from mediaapp.catalog.db import Catalog, now_iso
    from mediaapp.catalog.similarity import SimilarityStore
    from mediaapp.search.vectors import VectorStore
    from mediaapp.services.similar import Similar

    rng = np.random.default_rng(3)

    def rows(start: int, n: int, stamp: str | None = None):
        """``n`` random unit embeddings; stored a second apart over the past days (an import of 100k photos
        takes hours, 0.3 s a photo), or all at ``stamp``."""
        v = rng.standard_normal((n, 1280)).astype(np.float32)
        v /= np.linalg.norm(v, axis=1, keepdims=True)
        return [(hashlib.sha256(str(start + i).encode()).hexdigest(), "synthetic@1", 1280,
                 v[i].astype("<f2").tobytes(),
                 stamp or (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=start + i)).isoformat())
                for i in range(n)]

    read = [0]
    originals = {name: getattr(SimilarityStore, name) for name in ("iter_embeddings", "embeddings_of")}

    def counting(method):
        """``method`` (a bulk embedding read) counting the embeddings it yields into ``read``."""
        def wrapper(self, *a, **k):
            for shas, m in method(self, *a, **k):
                read[0] += len(shas)
                yield shas, m
        return wrapper

    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog(Path(tmp) / "catalog.sqlite")
        t0 = time.perf_counter()
        for start in range(0, assets, 10_000):
            with catalog.transaction() as conn:
                conn.executemany("INSERT INTO asset_embeddings (sha256, model_version, dims, vector, stored_at)"
                                 " VALUES (?, ?, ?, ?, ?)", rows(start, min(10_000, assets - start)))
        made = time.perf_counter() - t0
        similar = Similar(catalog, VectorStore(Path(tmp) / "vectors"))
        t0 = time.perf_counter()
        similar.refresh()
        first = time.perf_counter() - t0
        with catalog.transaction() as conn:
            conn.executemany("INSERT INTO asset_embeddings (sha256, model_version, dims, vector, stored_at)"
                             " VALUES (?, ?, ?, ?, ?)", rows(assets, added, now_iso()))
        for name, method in originals.items():
            setattr(SimilarityStore, name, counting(method))
        try:
            t0 = time.perf_counter()
            held = similar.refresh()
            after = time.perf_counter() - t0
        finally:
            for name, method in originals.items():
                setattr(SimilarityStore, name, method)
        print(f"refresh at {assets} assets (catalog made in {made:.0f} s): first (full) {first:.1f} s; "
              f"after storing {added} more embeddings {after:.2f} s, {read[0]} embeddings read from the catalog, "
              f"{held} vectors held")
        catalog.close()


def main() -> None:
    """Run both parts and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--testdata", type=Path, default=TESTDATA)
    ap.add_argument("--originals", type=int, default=40)
    ap.add_argument("--assets", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--grouping", action="store_true", help="also time the near-duplicate grouping at --assets")
    ap.add_argument("--end-to-end", action="store_true",
                    help="also time SqliteIndex's like queries on --assets synthetic documents (builds an index)")
    ap.add_argument("--refresh", action="store_true",
                    help="time Similar.refresh after --added new embeddings at --assets (builds a catalog)")
    ap.add_argument("--added", type=int, default=10)
    args = ap.parse_args()
    if not args.skip_quality:
        near_duplicates(args.testdata, args.originals)
    if not args.skip_speed:
        speed(args.assets, args.queries, args.grouping)
    if args.end_to_end:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        end_to_end(args.assets, args.queries)
    if args.refresh:
        refresh_after_import(args.assets, args.added)


if __name__ == "__main__":
    main()
