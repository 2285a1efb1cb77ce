"""Cost of RAW+JPEG stacks on a large catalog: recomputing them, and what every import adds.

Usage::

    python benchmarks/stacks_bench.py [--pairs 50000] [--folders 2500]

Builds a throw-away catalog (in a temporary directory) of ``--pairs`` RAW+JPEG
pairs (``IMG_n.CR2`` + ``IMG_n.JPG``, asset formats ``CR2`` and ``JPEG``) spread over
``--folders`` folders, with a DetectLabels answer stored for every JPEG, and
prints the median of three runs of:

- ``StackStore.restack(None, ...)`` on first use (every pair new: rows written
  and both assets marked in the change feed), then again with nothing to change
  (what ``Library.restack`` pays after the setting changed);
- ``StackStore.restack`` of one folder (what an import pays per folder whose
  files changed);
- ``StackStore.answered`` over every stacked asset (the one query per engine
  each import makes to route a stack's analysis);
- ``SearchSync.documents`` for 500 stacked assets (building their one document each).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from mediaapp.catalog.db import Catalog
from mediaapp.catalog.stacks import StackStore
from mediaapp.core.apis import flatten
from mediaapp.core.types import Api
from mediaapp.search.sqlite import SqliteIndex
from mediaapp.services.importer import RAW_FORMATS
from mediaapp.services.indexing import SearchSync


def _timed(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    """Build the catalog and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=50_000)
    ap.add_argument("--folders", type=int, default=2_500)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        catalog = Catalog(Path(tmp) / "catalog.sqlite")
        response = {"Labels": [{"Name": "Dog", "Confidence": 90.0, "Parents": [], "Instances": []}]}
        dets = flatten(Api.DETECT_LABELS, response, "local")
        start = time.perf_counter()
        with catalog.transaction():
            for i in range(args.pairs):
                folder = f"/shoots/{i % args.folders:05d}"
                raw, jpeg = f"{i:032x}r".ljust(64, "0"), f"{i:032x}j".ljust(64, "0")
                catalog.add_file(path=f"{folder}/IMG_{i}.CR2", size=1, mtime_ns=1, sha256=raw, asset={"format": "CR2"})
                catalog.add_file(path=f"{folder}/IMG_{i}.JPG", size=1, mtime_ns=1, sha256=jpeg,
                                 asset={"format": "JPEG"})
                catalog.store_analysis(sha256=jpeg, api="DetectLabels", engine="local", engine_version="1",
                                       params="", response=response, detections=dets)
        print(f"catalog of {2 * args.pairs} files in {args.folders} folders built in "
              f"{time.perf_counter() - start:.1f} s")
        stacks = StackStore(catalog)
        start = time.perf_counter()
        changed = stacks.restack(None, RAW_FORMATS)
        print(f"restack, first time ({len(changed)} assets marked): {time.perf_counter() - start:.2f} s")
        print(f"restack, nothing to change: {_timed(lambda: stacks.restack(None, RAW_FORMATS)):.2f} s (median of 3)")
        one = ["/shoots/00007"]
        print(f"restack of one changed folder ({2 * args.pairs // args.folders} files, what an import that changed "
              f"it pays): {_timed(lambda: stacks.restack(one, RAW_FORMATS, folders_only=True)) * 1000:.1f} ms "
              "(median of 3)")
        pairs = stacks.pairs()
        every = [*pairs, *pairs.values()]
        print(f"answered() over {len(every)} assets: "
              f"{_timed(lambda: stacks.answered(every, 'local', ['DetectLabels'])):.2f} s (median of 3)")
        sync = SearchSync(catalog, SqliteIndex(Path(tmp) / "index.sqlite"))
        some = list(pairs.values())[:500]
        print(f"SearchSync.documents for 500 stacks: {_timed(lambda: sync.documents(some)) * 1000:.0f} ms "
              "(median of 3)")
        sync.close()
        catalog.close()


if __name__ == "__main__":
    main()
