"""The grid at scale: first screen, scrolling to the end, memory and open files, at 10k and 100k assets.

Each library size runs in its own process (offscreen Qt, fresh QSettings),
on a synthetic library built through the product's API and cached in
``--workdir`` (``bench_library.py`` says exactly what that means: catalog
writes as an import makes them, then ``Library.sync_index``). Per size it
measures, on a ``MainWindow`` of ``--window`` pixels:

- ``first screen``: from ``MainWindow.open_library`` (the library opened on
  a worker, the default query run) until the first page's rows are painted
  in the grid; ``first thumbnails``: until every visible cell also shows its
  thumbnail; ``every cell laid out``: until the grid has placed every cell
  (it does so in batches between events, after the first screen).
- ``drag to end``: the vertical scroll bar moved from top to bottom in
  ``--steps`` equal steps, as dragging its thumb does; after each step the
  grid is painted and the step ends once every visible row is loaded.
  This is what reaching the end costs a user, so the target compares it
  across sizes (100k <= 3x 10k).
- ``scroll all``: (``--mode all``) the grid scrolled one screen at a time
  from the top to the bottom, each screen painted and waited for; every
  row of the library passes through the model, so this is the run that
  shows whether memory stays bounded. Its time grows with the number of
  rows by nature (the view paints every screen), hence per 1,000 rows.
- ``RSS``: resident memory after the first screen, after the drag and after
  scrolling through everything (``/proc/self/status`` VmRSS, and the peak
  VmHWM); ``fds``: open file descriptors (``/proc/self/fd``) before the
  window opens the library, once the first screen is shown (the library's
  SQLite connections are open), after scrolling, and after the window closed.
- ``page fetch``: one 200-hit page near the end of the results (the
  ``fetch_page`` the grid runs on its worker: search, assets, boxes), read
  with the previous page's cursor (keyset) and with a plain offset, p50 of
  five; then ``Library.search`` alone for such a page, keyset and offset,
  for a few query kinds (whole library in each order, one label, a common
  word).

Targets (issue "At scale"): first screen <= 0.5 s; RSS <= 400 MB after
scrolling to the end at 100k; drag to the end at 100k <= 3x the time at
10k; open files flat.

Usage::

    python benchmarks/gui_bench.py --workdir /tmp/bench               # 10k and 100k, drag only
    python benchmarks/gui_bench.py --workdir /tmp/bench --mode all    # also scroll through every row
    python benchmarks/gui_bench.py --sizes 2000 --steps 10            # quick look

The first run at 100k builds the library (a few minutes); later runs reuse it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_library import build_library  # benchmarks/ is not a package: found through sys.path


def _status(field: str) -> int:
    """A ``/proc/self/status`` memory field in MB (VmRSS, VmHWM)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) // 1024
    return -1


def _fds() -> int:
    """How many file descriptors this process holds open."""
    return len(os.listdir("/proc/self/fd"))


def _fd_targets() -> Counter[str]:
    """What this process's file descriptors point at (file paths, ``pipe:[...]``...), counted."""
    found: Counter[str] = Counter()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        found[target.split(":[")[0] if ":[" in target else target] += 1
    return found


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))]


def measure(root: Path, steps: int, mode: str, size: tuple[int, int]) -> dict:
    """Open ``root`` in an offscreen ``MainWindow`` and measure (module docstring); returns the figures.

    Seconds and MB. Raises ``TimeoutError`` when the window stops making
    progress (a page or the library never arrives within a minute).
    """
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QEventLoop, QPoint, QSettings
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([sys.argv[0]])
    settings_dir = tempfile.mkdtemp(prefix="gui-bench-settings-")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, settings_dir)

    from mediaapp.ui.asset_list import Roles, fetch_page
    from mediaapp.ui.main_window import MainWindow

    def wait_until(cond, timeout: float = 60.0) -> None:
        """Run the event loop until ``cond()``; events already queued are always handled first, as between
        a user's scroll events (decoded thumbnails arrive as queued signals)."""
        deadline = time.perf_counter() + timeout
        app.processEvents()
        while not cond():
            if time.perf_counter() > deadline:
                raise TimeoutError("the window made no progress for a minute")
            app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 5)

    out: dict = {}
    window = MainWindow()
    window.resize(*size)
    window.show()
    app.processEvents()
    out["fds_before"] = _fds()  # before the library is opened
    grid, model = window.grid, window.model

    def visible_rows() -> list[int]:
        """The rows of the cells in the viewport (sampled along its top, middle and bottom lines)."""
        rect = grid.viewport().rect()
        found = {grid.indexAt(QPoint(x, y)).row() for y in (6, rect.height() // 2, rect.height() - 6)
                 for x in range(6, rect.width(), 24)} - {-1}
        if not found:
            raise RuntimeError("no cell found in the grid's viewport")
        return list(range(min(found), max(found) + 1))

    def loaded() -> bool:
        return all(model.is_loaded(r) for r in visible_rows())

    def show() -> None:
        """Paint the grid where it is now and wait until every visible row is loaded and painted.

        The first paint reads the visible rows, which asks for their pages;
        Qt paints again by itself as pages arrive (``dataChanged``); the
        last paint, with every row loaded, is part of the time.
        """
        grid.viewport().repaint()
        if not loaded():
            wait_until(loaded)
            grid.viewport().repaint()

    def thumbnails_shown() -> bool:
        grid.viewport().repaint()  # requests the visible thumbnails not asked for yet
        if not loaded():
            return False
        for r in visible_rows():
            row = model.loaded_row(r, touch=False)
            if row is None or not (row.sha256 in model.cache or model.data(model.index(r), Roles.THUMBNAIL_FAILED)):
                return False
        return True

    started = opened = time.perf_counter()
    window.open_library(root)
    wait_until(lambda: model.rowCount() > 0)
    show()
    out["first_screen"] = time.perf_counter() - started
    wait_until(thumbnails_shown)
    out["first_thumbnails"] = time.perf_counter() - started
    out["rows"] = model.rowCount()
    out["rss_first"] = _status("VmRSS")
    out["fds_open"] = _fds()  # the library is open now: its SQLite files, the thumbnails read so far are closed
    targets_open = _fd_targets()

    bar = grid.verticalScrollBar()
    # the grid lays its cells out in batches between events (AssetGridView): wait until the scroll bar's
    # range has stopped growing, so the drag goes to the real end
    last, since = bar.maximum(), time.perf_counter()
    while time.perf_counter() - since < 0.2:
        app.processEvents(QEventLoop.ProcessEventsFlag.WaitForMoreEvents, 5)
        if bar.maximum() != last:
            last, since = bar.maximum(), time.perf_counter()
    out["laid_out"] = since - opened
    started = time.perf_counter()
    for k in range(1, steps + 1):
        bar.setValue(round(bar.maximum() * k / steps))
        show()
    out["drag"] = time.perf_counter() - started
    wait_until(thumbnails_shown)
    out["drag_thumbnails"] = time.perf_counter() - started
    out["rss_drag"] = _status("VmRSS")

    if mode == "all":
        bar.setValue(0)
        show()
        started = time.perf_counter()
        screens = 0
        while bar.value() < bar.maximum():
            bar.setValue(min(bar.maximum(), bar.value() + grid.viewport().height()))
            show()
            screens += 1
        out["scroll_all"] = time.perf_counter() - started
        out["screens"] = screens
        out["rss_all"] = _status("VmRSS")
    out["rss_peak"] = _status("VmHWM")
    out["loaded_pages"] = model.loaded_pages()
    out["max_pages"] = model.max_pages
    out["pixmaps"] = len(model.cache)
    out["pixmap_mb"] = model.cache.bytes / 2**20
    wait_until(lambda: model.loader.pending() == 0)  # no thumbnail file is being read now
    out["fds_after"] = _fds()
    new = sorted((_fd_targets() - targets_open).elements())
    # a connection pool opens its readers on first need (at most a few per database): bounded, not a leak
    out["fds_pool"] = [t for t in new if ".sqlite" in t]
    out["fds_new"] = [t for t in new if ".sqlite" not in t]

    library, query = window.library, model.query
    n = model.rowCount()
    offset = max(0, n - 2 * model.page_size)
    cursor = library.search(query.__class__(**{**_fields(query), "limit": 1, "offset": offset - 1})).cursor
    keyset, offsets = [], []
    for _ in range(5):
        t = time.perf_counter()
        fetch_page(library, query, offset, model.page_size, cursor, offset)
        keyset.append(time.perf_counter() - t)
        t = time.perf_counter()
        fetch_page(library, query, offset, model.page_size)
        offsets.append(time.perf_counter() - t)
    out["page_offset"] = offset
    out["page_keyset"] = _percentile(keyset, 50)
    out["page_by_offset"] = _percentile(offsets, 50)
    out["searches"] = search_near_end(library, model.page_size)

    window.close()
    app.processEvents()
    out["fds_closed"] = _fds()
    return out


def _fields(query) -> dict:
    return {f: getattr(query, f) for f in query.__dataclass_fields__}


def search_near_end(library, size: int, repeat: int = 5) -> dict[str, tuple[int, float, float]]:
    """Per query kind: ``(matches, keyset ms, offset ms)`` of ``Library.search`` for a page of ``size``
    hits two pages before the end, read from the previous hit's cursor and by offset (p50 of ``repeat``)."""
    from dataclasses import replace

    from bench_library import label_name

    from mediaapp.core.types import Query, SortOrder

    label = label_name(5)
    kinds = {"all, best match": Query(min_confidence=50.0), "all, by date": Query(sort=SortOrder.DATE),
             "all, by path": Query(sort=SortOrder.PATH), "one label": Query(labels=(label,)),
             "one label, by date": Query(labels=(label,), sort=SortOrder.DATE),
             "common word": Query(text="w0x"), "common word, by path": Query(text="w0x", sort=SortOrder.PATH)}
    out = {}
    for name, query in kinds.items():
        total = library.search(replace(query, limit=0)).total
        offset = max(1, total - 2 * size)
        cursor = library.search(replace(query, limit=1, offset=offset - 1)).cursor
        keyset, by_offset = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            library.search(replace(query, limit=size, after=cursor))
            keyset.append(time.perf_counter() - t)
            t = time.perf_counter()
            library.search(replace(query, limit=size, offset=offset))
            by_offset.append(time.perf_counter() - t)
        out[name] = (total, _percentile(keyset, 50) * 1000, _percentile(by_offset, 50) * 1000)
    return out


TARGETS = {"first_screen": 0.5, "rss_all": 400, "rss_drag": 400}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma list of library sizes (assets)")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "mediaapp-bench",
                        help="where the synthetic libraries are built and kept")
    parser.add_argument("--steps", type=int, default=40, help="scroll bar steps from top to bottom (drag)")
    parser.add_argument("--mode", choices=("drag", "all"), default="drag",
                        help="drag: the scroll bar in --steps steps; all: also one screen at a time")
    parser.add_argument("--window", default="1280x800", help="window size WxH in pixels")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.window.lower().split("x"))
    if args.child is not None:
        root = build_library(args.workdir, args.child, args.seed, quiet=True)
        print(json.dumps(measure(root, args.steps, args.mode, (width, height))))
        return 0
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    results = {}
    for n in sizes:
        build_library(args.workdir, n, args.seed)  # in this process, with progress, before timing
        cmd = [sys.executable, __file__, "--child", str(n), "--workdir", str(args.workdir), "--steps",
               str(args.steps), "--mode", args.mode, "--window", args.window, "--seed", str(args.seed)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            print(done.stdout, done.stderr, file=sys.stderr)
            return done.returncode
        results[n] = json.loads(done.stdout.strip().splitlines()[-1])
    rows = [("first screen (s)", "first_screen", "{:.3f}"), ("first thumbnails (s)", "first_thumbnails", "{:.3f}"),
            ("every cell laid out (s)", "laid_out", "{:.3f}"),
            (f"drag to end, {args.steps} steps (s)", "drag", "{:.2f}"),
            ("  + last screen's thumbnails (s)", "drag_thumbnails", "{:.2f}"),
            ("scroll all, screen by screen (s)", "scroll_all", "{:.1f}"), ("  screens", "screens", "{}"),
            ("page fetch near the end, keyset (ms)", "page_keyset", "ms"),
            ("page fetch near the end, offset (ms)", "page_by_offset", "ms"),
            ("RSS after first screen (MB)", "rss_first", "{}"), ("RSS after drag (MB)", "rss_drag", "{}"),
            ("RSS after scroll all (MB)", "rss_all", "{}"), ("peak RSS (MB)", "rss_peak", "{}"),
            ("pages loaded / cap", "loaded_pages", "pages"), ("pixmaps cached (MB)", "pixmap_mb", "{:.0f}"),
            ("open fds: no library / first screen / end / closed", "fds_before", "fds")]
    print(f"{'':40}" + "".join(f"{n:>14,}" for n in sizes))
    for title, key, fmt in rows:
        cells = []
        for n in sizes:
            r = results[n]
            if key not in r:
                cells.append("-")
            elif fmt == "ms":
                cells.append(f"{r[key] * 1000:.1f}")
            elif fmt == "pages":
                cells.append(f"{r['loaded_pages']} / {r['max_pages']}")
            elif fmt == "fds":
                cells.append(f"{r['fds_before']}/{r['fds_open']}/{r['fds_after']}/{r['fds_closed']}")
            else:
                cells.append(fmt.format(r[key]))
        print(f"{title:40}" + "".join(f"{c:>14}" for c in cells))
    if "scroll_all" in results[sizes[0]]:
        per = [results[n]["scroll_all"] / results[n]["rows"] * 1000 for n in sizes]
        print(f"{'scroll all per 1,000 rows (s)':40}" + "".join(f"{p:>14.3f}" for p in per))
    print("\nLibrary.search of a 200-hit page two pages before the end (ms, p50): keyset / offset")
    for kind in results[sizes[0]]["searches"]:
        cells = []
        for n in sizes:
            _total, keyset, by_offset = results[n]["searches"][kind]
            cells.append(f"{keyset:.1f} / {by_offset:.1f}")
        print(f"  {kind:38}" + "".join(f"{c:>14}" for c in cells)
              + "   (" + ", ".join(f"{results[n]['searches'][kind][0]:,}" for n in sizes) + " matches)")
    if len(sizes) > 1:
        small, large = results[sizes[0]], results[sizes[-1]]
        print(f"\ndrag to end {sizes[-1]:,} / {sizes[0]:,}: {large['drag'] / small['drag']:.2f}x (target <= 3x)")
    for n in sizes:
        r = results[n]
        verdicts = [f"first screen {'ok' if r['first_screen'] <= TARGETS['first_screen'] else 'MISSED'}",
                    f"open files {'flat' if not r['fds_new'] else 'GREW'} while scrolling"
                    + (f" (+{len(r['fds_pool'])} SQLite pool connection files)" if r["fds_pool"] else "")]
        rss = r.get("rss_all", r["rss_drag"])
        verdicts.append(f"RSS after the end {rss} MB {'ok' if rss <= 400 else 'MISSED'}")
        if r["fds_new"]:
            verdicts.append("opened meanwhile: " + ", ".join(r["fds_new"]))
        print(f"{n:>8,}: " + "; ".join(verdicts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
