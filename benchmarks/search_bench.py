"""Search backend benchmark: indexing throughput and query latency (issue 5).

Builds a synthetic library (default 100,000 assets carrying 1,000,000
detections; ``--size 1m`` / ``--size 10m`` for 1M / 10M assets at the same
ten detections per asset) in the chosen backends and prints the indexing
throughput and p50/p95 latency of the typical queries (wall-clock, and the
process CPU time, which a busy shared machine inflates much less; for
OpenSearch the CPU time is only the client's):

- ``one-label``: one label, relevance order;
- ``two-labels-all>=80``: two labels, all of, min confidence 80;
- ``text(rare pair)``: two words of the 200 most frequent, drawn independently
  (they rarely meet in one asset: mostly empty results, the cheap case);
- ``text(common)``: two of the 6 most frequent words (hundreds of hits at 100k);
- ``text(common word)``: one of the 5 most frequent words (10-20 % of the library);
- ``text(label word)``: a word that names a frequent label (e.g.
  ``label0012``), relevance order: the word score reads label facts;
- ``label+text+date``: one label, a rare-pair word, a one-year range, date order;
- ``label+text+date(common)``: one label, one of the 5 most frequent words,
  a one-year date range, date order (non-empty);
- ``facets(label)``: label facet counts under a one-label query;
- ``facets(all)``: label facet counts over the whole library.

The table gives p50/p95/max wall-clock and CPU milliseconds and the
average and minimum number of hits (facet rows for facets), so empty
result sets are visible. Every bulk result is checked: a failed document
or a ``count()`` different from the number generated aborts the run.

Each query kind runs ``--repeat`` times with different labels/words drawn
from the same distributions. The synthetic data is deterministic
(``--seed``): 1,000 labels with Zipf-like frequencies (weight 1/rank^0.9)
and up to two parents from the 40 most frequent labels, 8 label detections
per asset (some with several instances), 2 text LINE detections from a
5,000-word vocabulary, a named person on 15 % of assets, dates over 2010-2024
with 5 % undated, paths ``/photos/<year>/<month>/IMG_<n>.jpg``.

Usage::

    python benchmarks/search_bench.py                      # SQLite, 100k assets
    python benchmarks/search_bench.py --backends sqlite,opensearch --assets 20000
    python benchmarks/search_bench.py --backends opensearch --url http://127.0.0.1:9200

Without ``--url`` the OpenSearch backend runs against a private osmem-server
(an in-memory OpenSearch-compatible server; its figures are not those of a
real cluster); with ``--url`` the password comes from
``MEDIAAPP_OPENSEARCH_PASSWORD`` and ``--username``/``--no-verify`` apply.
``--opensearch-assets`` sizes the OpenSearch run separately (osmem holds
everything in memory). The SQLite file goes to a temporary directory unless
``--workdir`` is given. Target: p95 <= 50 ms for every query on SQLite at
100,000 assets.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mediaapp.core.types import Asset, Detection, DetectionKind, IndexDocument, Query, SortOrder
from mediaapp.search.index_base import SearchIndex

SIZES = {"100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
N_LABELS = 1000
N_WORDS = 5000
N_PERSONS = 300
LABELS_PER_ASSET = 8
LINES_PER_ASSET = 2


class Synthetic:
    """Deterministic generator of ``IndexDocument``s (see module docstring)."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.seed = seed
        self.labels = [f"Label{i:04d}" for i in range(N_LABELS)]
        self.label_weights = [1.0 / (i + 1) ** 0.9 for i in range(N_LABELS)]
        self.parents = {}
        for i, name in enumerate(self.labels):
            if i < 40:
                self.parents[name] = ()
            else:
                k = rng.choice((0, 1, 1, 2))
                self.parents[name] = tuple(rng.sample(self.labels[:40], k))
        self.words = [f"w{i}x" for i in range(N_WORDS)]
        self.word_weights = [1.0 / (i + 1) ** 0.8 for i in range(N_WORDS)]
        self.persons = [f"Person {i}" for i in range(N_PERSONS)]

    def docs(self, n: int) -> Iterator[IndexDocument]:
        """Yield ``n`` documents with about 10 detections each."""
        rng = random.Random(self.seed + 1)
        for i in range(n):
            sha = f"{rng.getrandbits(256):064x}"
            year = rng.randint(2010, 2024)
            month = rng.randint(1, 12)
            taken = None if rng.random() < 0.05 else (
                f"{year:04d}-{month:02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
                f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}")
            path = f"/photos/{year}/{month:02d}/IMG_{i:07d}.jpg"
            dets: list[Detection] = []
            # sorted: a set's order follows PYTHONHASHSEED, which would make the data differ between runs
            names = sorted(set(rng.choices(self.labels, self.label_weights, k=LABELS_PER_ASSET)))
            while len(dets) < LABELS_PER_ASSET:
                for name in names:
                    if len(dets) >= LABELS_PER_ASSET:
                        break
                    dets.append(Detection(DetectionKind.LABEL, name, rng.uniform(50, 100),
                                          None, self.parents[name]))
            lines = []
            for _ in range(LINES_PER_ASSET):
                line = " ".join(rng.choices(self.words, self.word_weights, k=3))
                lines.append(line)
                dets.append(Detection(DetectionKind.TEXT, line, rng.uniform(80, 100), text_type="LINE"))
            if rng.random() < 0.15:
                dets.append(Detection(DetectionKind.PERSON, rng.choice(self.persons), rng.uniform(90, 100)))
            asset = Asset(sha, 1_000_000 + i, "jpeg", 4000, 3000, [path], taken, "Canon", "EOS")
            yield IndexDocument(asset, dets, [str(Path(path).parent)], "\n".join(lines))

    def queries(self, kind: str, repeat: int) -> list[Query]:
        """``repeat`` queries of ``kind`` (one of ``QUERY_KINDS``)."""
        rng = random.Random(self.seed + 2)
        common = self.labels[5:60]
        out = []
        for _ in range(repeat):
            a, b = rng.sample(common, 2)
            w1, w2 = rng.sample(self.words[:200], 2)
            c1, c2 = rng.sample(self.words[:6], 2)
            top = rng.choice(self.words[:5])
            year = rng.randint(2010, 2024)
            if kind == "one-label":
                out.append(Query(labels=(a,)))
            elif kind == "two-labels-all>=80":
                out.append(Query(labels=(a, b), match_all=True, min_confidence=80))
            elif kind == "text(rare pair)":
                out.append(Query(text=f"{w1} {w2}"))
            elif kind == "text(common)":
                out.append(Query(text=f"{c1} {c2}"))
            elif kind == "text(common word)":
                out.append(Query(text=top))
            elif kind == "text(label word)":
                out.append(Query(text=a.lower()))
            elif kind == "label+text+date":
                out.append(Query(labels=(a,), text=w1, taken_after=f"{year}-01-01",
                                 taken_before=f"{year}-12-31", sort=SortOrder.DATE))
            elif kind == "label+text+date(common)":
                out.append(Query(labels=(a,), text=top, taken_after=f"{year}-01-01",
                                 taken_before=f"{year}-12-31", sort=SortOrder.DATE))
            elif kind in ("facets(label)",):
                out.append(Query(labels=(a,)))
            elif kind == "facets(all)":
                out.append(Query(min_confidence=rng.choice((0, 50, 70, 90))))
            else:
                raise ValueError(kind)
        return out


QUERY_KINDS = ("one-label", "two-labels-all>=80", "text(rare pair)", "text(common)", "text(common word)",
               "text(label word)", "label+text+date", "label+text+date(common)", "facets(label)", "facets(all)")


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (pct in 0-100)."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def bench_backend(index: SearchIndex, gen: Synthetic, n: int, repeat: int,
                  after_load: Callable[[], None] | None = None) -> None:
    """Index ``n`` synthetic documents into ``index`` and print throughput and latencies."""
    index.clear()
    start = time.perf_counter()
    batch: list[IndexDocument] = []
    done = 0

    def load(docs: list[IndexDocument]) -> None:
        nonlocal done
        res = index.upsert(docs)
        if res.failed or res.indexed != len(docs):
            raise SystemExit(f"[{index.name}] bulk load failed: {res.indexed} of {len(docs)} indexed; "
                             f"first failures: {res.failed[:3]}")
        done += len(docs)
        print(f"\r  indexed {done}/{n}", end="", file=sys.stderr, flush=True)

    for doc in gen.docs(n):
        batch.append(doc)
        if len(batch) == 2000:
            load(batch)
            batch = []
    if batch:
        load(batch)
    if after_load:
        after_load()
    elapsed = time.perf_counter() - start
    print(file=sys.stderr)
    count = index.count()
    if count != n:
        raise SystemExit(f"[{index.name}] count() is {count} after indexing {n} assets")
    print(f"[{index.name}] indexed {n} assets ({n * (LABELS_PER_ASSET + LINES_PER_ASSET)}+ detections)"
          f" in {elapsed:.1f} s = {n / elapsed:.0f} assets/s; count()={count}")
    print(f"[{index.name}] load average before queries: {_load()}")
    print(f"[{index.name}] {'query':<25}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
          f"{'cpu p50':>9}{'cpu p95':>9}{'avg hits':>10}{'min hits':>10}")
    for kind in QUERY_KINDS:
        queries = gen.queries(kind, repeat)
        times, cpu, totals = [], [], []
        for q in queries[:3]:  # warm-up
            (index.facets(q) if kind.startswith("facets") else index.search(q))
        for q in queries:
            t0, c0 = time.perf_counter(), time.process_time()
            if kind.startswith("facets"):
                res = index.facets(q)
                totals.append(len(res))
            else:
                res = index.search(q)
                totals.append(res.total)
            times.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        print(f"[{index.name}] {kind:<25}{percentile(times, 50):9.1f}{percentile(times, 95):9.1f}"
              f"{max(times):9.1f}{percentile(cpu, 50):9.1f}{percentile(cpu, 95):9.1f}"
              f"{statistics.mean(totals):10.0f}{min(totals):10d}")
    print(f"[{index.name}] load average after queries: {_load()}")


def _load() -> str:
    """The 1/5/15-minute load averages and CPU count, to judge how contended the run was."""
    try:
        one, five, fifteen = os.getloadavg()
        return f"{one:.1f} {five:.1f} {fifteen:.1f} on {os.cpu_count()} CPUs"
    except OSError:
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="100k",
                        help="library size preset (assets; ten detections each)")
    parser.add_argument("--assets", type=int, help="explicit number of assets (overrides --size)")
    parser.add_argument("--backends", default="sqlite", help="comma list: sqlite,opensearch")
    parser.add_argument("--opensearch-assets", type=int,
                        help="assets for the OpenSearch run (default: same as SQLite)")
    parser.add_argument("--url", help="OpenSearch URL (default: a private osmem-server)")
    parser.add_argument("--username", help="OpenSearch user (password from $MEDIAAPP_OPENSEARCH_PASSWORD)")
    parser.add_argument("--no-verify", action="store_true", help="do not verify the cluster's TLS certificate")
    parser.add_argument("--repeat", type=int, default=60, help="queries per kind")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--workdir", type=Path, help="where the SQLite file goes")
    args = parser.parse_args(argv)
    n = args.assets or SIZES[args.size]
    gen = Synthetic(args.seed)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - {"sqlite", "opensearch"}
    if unknown or not backends:
        parser.error(f"--backends takes sqlite and/or opensearch, not {', '.join(sorted(unknown)) or 'nothing'}")
    with tempfile.TemporaryDirectory(prefix="search-bench-") as tmp:
        workdir = args.workdir or Path(tmp)
        if "sqlite" in backends:
            from mediaapp.search.sqlite import SqliteIndex
            path = workdir / "bench-index.sqlite"
            for suffix in ("", "-wal", "-shm"):
                Path(str(path) + suffix).unlink(missing_ok=True)
            index = SqliteIndex(path)
            try:
                bench_backend(index, gen, n, args.repeat, after_load=index.optimize)
            finally:
                index.close()
        if "opensearch" in backends:
            from mediaapp.search.factory import open_opensearch
            server = None
            url = args.url
            if not url:
                from osmem_server import OsmemServer
                server = OsmemServer.start(freeze=False, japanese=False)
                url = server.url
            index = open_opensearch({"url": url, "index": "mediaapp-bench", "username": args.username,
                                     "verify_certs": not args.no_verify}, refresh=False, timeout=120.0)
            try:
                bench_backend(index, gen, args.opensearch_assets or n, args.repeat,
                              after_load=index.refresh)
                index.drop()
            finally:
                index.close()
                if server:
                    server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
