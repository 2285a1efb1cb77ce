"""Watched folders at scale: start-up time, memory and inotify watches for 100,000 files in 5,000 folders.

Creates a throw-away tree (``--folders`` folders of ``--files`` tiny files in
all; default 5,000 and 100,000) in a temp dir, then, each in a fresh
process so the memory figures do not mix, starts a ``FolderWatcher``
(``mediaapp.services.watch``) on it:

- ``inotify``: the time until every watch is placed, the RSS growth, and
  the inotify watches held (``/proc/self/fdinfo``) against
  ``fs.inotify.max_user_watches``; then the time until one photo copied
  into a folder deep in the tree is searchable (``Library.search`` by
  folder; the library analyses nothing, ``engines: []``, so this is the
  watcher's settle time, the ingest and the index update).
- ``polling``: the same start-up figures (the first snapshot stats every
  file), and the CPU time one idle poll of the tree costs.
- ``reconcile`` (``--reconcile``): full reconcile scans of the tree
  against the catalog: the first offers every file to the import
  pipeline, which sniffs each (these are not media, so none is imported);
  the next, the periodic one, only walks and compares.

Run: ``.venv/bin/python benchmarks/watch_bench.py [--reconcile]`` (3 to 7 minutes, most of it making the tree; the
machine's cores are shared, so figures vary by tens of percent).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PHOTO = Path(os.environ.get("MEDIAAPP_TESTDATA", REPO.parent / "shared" / "testdata")) / \
    "1_objects/voc/VOC2007/JPEGImages/000003.jpg"


def rss_kib() -> int:
    """This process's resident set size in KiB (``VmRSS`` of ``/proc/self/status``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def make_tree(base: Path, folders: int, files: int) -> Path:
    """``folders`` folders (in groups of 100 under top folders) holding ``files`` one-byte text files in all."""
    tree = base / "tree"
    per_folder = max(1, files // folders)
    for i in range(folders):
        folder = tree / f"g{i // 100:03d}" / f"f{i:05d}"
        folder.mkdir(parents=True)
        for j in range(per_folder):
            with open(folder / f"n{j:03d}.txt", "wb") as fh:
                fh.write(b"x")
    return tree


def run_mode(mode: str, tree: Path, work: Path) -> dict:
    """Start a watcher on ``tree`` in this process and measure (see the module doc); returns the figures."""
    sys.path.insert(0, str(REPO))
    from mediaapp.core.types import Query
    from mediaapp.library import Library
    from mediaapp.services.watch import inotify_watch_count, max_user_watches

    lib = Library(work / f"lib-{mode}", settings={"engines": [], "workers": 1})
    out: dict = {"mode": mode}
    try:
        lib.importer  # noqa: B018 - built before measuring: the watcher's own cost only
        rss0, watches0 = rss_kib(), inotify_watch_count()
        t0 = time.perf_counter()
        watcher = lib.watcher([tree], force_polling=(mode == "polling"), reconcile_at_start=(mode == "reconcile"),
                              reconcile_s=0, settle_s=0.5, poll_interval_s=5.0)
        watcher.start()
        watcher.wait_ready()
        out["startup_s"] = round(time.perf_counter() - t0, 3)
        out["rss_growth_mib"] = round((rss_kib() - rss0) / 1024, 1)
        out["inotify_watches"] = inotify_watch_count() - watches0
        out["max_user_watches"] = max_user_watches()
        out["folders"] = watcher.folder_count
        out["modes"] = sorted(set(watcher.modes.values()))
        if mode == "reconcile":
            watcher.wait_idle()
            out["first_reconcile_s"] = round(time.perf_counter() - t0, 1)
            t1 = time.perf_counter()
            watcher.reconcile_now().wait()
            out["next_reconcile_s"] = round(time.perf_counter() - t1, 1)
        elif mode == "polling":
            c0 = time.process_time()
            time.sleep(10.5)  # two polls of the whole tree
            out["idle_cpu_s_per_poll"] = round((time.process_time() - c0) / 2, 2)
            out["rss_after_polls_mib"] = round((rss_kib() - rss0) / 1024, 1)
        else:
            target = max((tree / max(os.listdir(tree))).iterdir())  # the last folder made
            t1 = time.perf_counter()
            shutil.copy(PHOTO, target / "dropped.jpg")
            while lib.search(Query(folder=str(target))).total < 1:
                if time.perf_counter() - t1 > 60:
                    out["time_to_searchable_s"] = None
                    break
                time.sleep(0.05)
            else:
                out["time_to_searchable_s"] = round(time.perf_counter() - t1, 2)
        watcher.stop()
    finally:
        lib.close()
    return out


def main() -> int:
    """Build the tree, run each mode in a child process, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--folders", type=int, default=5000)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--reconcile", action="store_true", help="also time one full reconcile scan")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "TREE", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, tree, work = args.child
        print(json.dumps(run_mode(mode, Path(tree), Path(work))))
        return 0
    with tempfile.TemporaryDirectory(prefix="watch-bench-") as tmp:
        t0 = time.perf_counter()
        tree = make_tree(Path(tmp), args.folders, args.files)
        print(f"tree: {args.files} files in {args.folders} folders, made in {time.perf_counter() - t0:.1f} s")
        for mode in ("inotify", "polling", *(("reconcile",) if args.reconcile else ())):
            done = subprocess.run([sys.executable, __file__, "--child", mode, str(tree), tmp],
                                  capture_output=True, text=True, check=False)
            if done.returncode:
                print(f"{mode}: failed\n{done.stderr[-2000:]}")
                continue
            figures = json.loads(done.stdout.strip().splitlines()[-1])
            print(", ".join(f"{k}={v}" for k, v in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
