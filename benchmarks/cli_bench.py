"""Wall time of ``mediaapp search --label X --limit 50`` as a user runs it, at 10k and 100k assets.

Each run is a fresh subprocess (``python -m mediaapp.cli.main --library DIR
search --label X --limit 50``, output discarded), so the figure includes
the interpreter's start, every import, opening the library and the query:
what a shell user or a script waits for. The libraries are the synthetic
ones of ``bench_library.py`` (built through the product's API: catalog
writes as an import makes them, then ``Library.sync_index``), cached in
``--workdir``.

Printed per size: p50 / p95 / max of ``--runs`` runs (after two warm-up
runs, so the files are in the page cache), the number of matches, and the
floors measured the same way: ``python -c pass`` (the interpreter alone)
and ``python -c "import numpy"`` (what the search needed before numpy was
imported lazily). Then, in one process: where the time goes (importing
``mediaapp.library``, opening the ``Library``, the search) and the slowest
imports by ``-X importtime``, so it is clear what dominates.

Target (issue "At scale"): <= 150 ms wall at 100k.

Usage::

    python benchmarks/cli_bench.py --workdir /tmp/bench                 # 10k and 100k, 20 runs each
    python benchmarks/cli_bench.py --sizes 2000 --runs 10 --label Label0012
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_library import build_library, label_name  # benchmarks/ is not a package: found through sys.path

REPO = Path(__file__).resolve().parents[1]


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of ``values`` (pct in 0-100)."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))]


def wall_times(cmd: list[str], runs: int, warmup: int = 2) -> list[float]:
    """Seconds of ``runs`` runs of ``cmd`` as a subprocess (after ``warmup`` untimed ones).

    Raises ``SystemExit`` with the command's stderr when it fails.
    """
    env = dict(os.environ, PYTHONPATH=str(REPO))
    times = []
    for i in range(warmup + runs):
        started = time.perf_counter()
        done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, check=False)
        elapsed = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
        if i >= warmup:
            times.append(elapsed)
    return times


_BREAKDOWN = """
import sys, time
t0 = time.perf_counter()
from mediaapp.library import Library
from mediaapp.core.types import Query
t1 = time.perf_counter()
library = Library(sys.argv[1], sync=False)
t2 = time.perf_counter()
page = library.search(Query(labels=(sys.argv[2],), limit=50))
t3 = time.perf_counter()
print(f"{(t1 - t0) * 1000:.1f} {(t2 - t1) * 1000:.1f} {(t3 - t2) * 1000:.1f} {page.total} {'numpy' in sys.modules:d}")
"""


def breakdown(root: Path, label: str) -> tuple[list[float], int, bool]:
    """``([import ms, open ms, search ms], matches, numpy imported)`` of one search in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _BREAKDOWN, str(root), label], capture_output=True, text=True,
                         check=True, env=dict(os.environ, PYTHONPATH=str(REPO))).stdout.split()
    return [float(v) for v in out[:3]], int(out[3]), out[4] == "1"


def slowest_imports(cmd: list[str], top: int = 6) -> list[tuple[str, float]]:
    """The ``top`` top-level imports of ``cmd`` (``-X importtime``) with their cumulative milliseconds."""
    done = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=True, env=dict(os.environ, PYTHONPATH=str(REPO)))
    found = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
        if not cumulative.isdigit() or name.startswith(" "):
            continue
        if not line.split("|")[2].startswith("  "):  # a top-level import (nested ones are indented)
            found.append((name, int(cumulative) / 1000))
    return sorted(found, key=lambda item: -item[1])[:top]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma list of library sizes (assets)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "mediaapp-bench",
                        help="where the synthetic libraries are built and kept")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per size")
    parser.add_argument("--label", default=label_name(5), help="the label searched (default: a frequent one)")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    python = sys.executable
    floors = {"python -c pass": wall_times([python, "-c", "pass"], args.runs),
              "python -c 'import numpy'": wall_times([python, "-c", "import numpy"], args.runs)}
    print(f"{'':44}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for name, times in floors.items():
        print(f"{name:44}{percentile(times, 50) * 1000:9.0f}{percentile(times, 95) * 1000:9.0f}"
              f"{max(times) * 1000:9.0f}")
    cmd = None
    for n in sizes:
        root = build_library(args.workdir, n, args.seed)
        cmd = [python, "-m", "mediaapp.cli.main", "--library", str(root), "search", "--label", args.label,
               "--limit", "50"]
        times = wall_times(cmd, args.runs)
        (imp, opened, searched), total, numpy_loaded = breakdown(root, args.label)
        title = f"search --label {args.label} --limit 50 @ {n:,}"
        print(f"{title:44}{percentile(times, 50) * 1000:9.0f}{percentile(times, 95) * 1000:9.0f}"
              f"{max(times) * 1000:9.0f}   {total:,} matches")
        print(f"{'  in one process: import / open / search':44}{imp:9.1f}{opened:9.1f}{searched:9.1f}"
              f"   numpy imported: {'yes' if numpy_loaded else 'no'}")
    if cmd is not None:
        print("slowest top-level imports of the last run (cumulative ms): "
              + ", ".join(f"{name} {ms:.0f}" for name, ms in slowest_imports(cmd)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
