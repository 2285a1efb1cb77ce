"""``mediaapp watch [PATH...]``: watch folders and keep the library in step with them, headless.

Watches each PATH (default: the library's ``watch_folders`` setting) with
``Library.watcher`` (``services/watch.FolderWatcher``: inotify, or polling
on network shares and with ``--polling``). New and changed files are
imported with the library's engines, moved files keep their analyses,
deleted ones are retired. First the folders are compared with the catalog
once (``--no-initial-scan`` skips that). Prints one line per change on
stdout (``added``, ``changed``, ``moved``, ``removed``, ``failed``,
``notice``) and runs until Ctrl+C or SIGTERM, then stops cleanly.

Exit codes: 0 when stopped by Ctrl+C or SIGTERM, 1 when the watcher stopped
by itself (the library became unusable), 2 when there is nothing to watch.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``watch`` command."""
    p = subparsers.add_parser("watch", help="watch folders and import what changes in them (until Ctrl+C)")
    p.add_argument("paths", nargs="*", metavar="PATH",
                   help="folders to watch (default: the library's watched folders, setting watch_folders)")
    p.add_argument("--polling", action="store_true",
                   help="poll the folders instead of inotify (network shares are always polled)")
    p.add_argument("--reconcile", type=_seconds, metavar="SECONDS",
                   help="seconds between full comparisons with the catalog (default: watch_reconcile_s; 0: off)")
    p.add_argument("--no-initial-scan", action="store_true",
                   help="do not compare the folders with the catalog at start (only follow new changes)")
    p.set_defaults(func=run)


def _seconds(text: str) -> float:
    """``--reconcile``'s value: a finite number of seconds, 0 or more; argparse refuses anything else (exit 2)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (0.0 <= value < float("inf")):
        raise argparse.ArgumentTypeError(f"expected a number of seconds, 0 or more, not {text!r}")
    return value


def run(args: argparse.Namespace, ctx: Any) -> int:
    """Watch until Ctrl+C / SIGTERM, printing one line per change; see the module doc for exit codes."""
    from mediaapp.core.filenames import display_path

    library = ctx.library()
    paths = args.paths or list(library.settings.watch_folders)
    if not paths:
        print("mediaapp watch: name the folders to watch (or set watch_folders in the library's settings)",
              file=sys.stderr)
        return 2
    if not any(os.path.isdir(os.path.expanduser(path)) for path in paths):
        print(f"mediaapp watch: none of {', '.join(paths)} is a folder that exists; nothing to watch",
              file=sys.stderr)
        return 2
    out_lock = threading.Lock()

    def show(change: Any) -> None:
        line = change.line()
        for raw in (change.path, change.dest):
            if raw:
                line = line.replace(raw, display_path(raw))
        with out_lock:
            print(line, flush=True)

    options = {"reconcile_at_start": not args.no_initial_scan}
    if args.polling:
        options["force_polling"] = True
    if args.reconcile is not None:
        options["reconcile_s"] = args.reconcile
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    watcher = library.watcher(paths, show, **options)
    try:
        watcher.start()
        watcher.wait_ready()
        modes = sorted(set(watcher.modes.values()) - {"unwatched"})
        with out_lock:
            print(f"watching {len(paths)} folder(s), {watcher.folder_count} subfolders in all"
                  f" ({', '.join(modes) or 'nothing'}); Ctrl+C to stop", flush=True)
        try:
            while not stop.wait(0.5):
                if not watcher.running:
                    break
        except KeyboardInterrupt:
            stop.set()
    finally:
        watcher.stop()
        signal.signal(signal.SIGTERM, previous)
    if watcher.error is not None:
        print(f"mediaapp watch: stopped: {watcher.error}", file=sys.stderr)
        return 1
    with out_lock:
        print("stopped", flush=True)
    return 0
