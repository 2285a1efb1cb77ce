"""``mediaapp xmp write|status|on|off``: XMP sidecars with mediaapp's labels and named faces.

- ``xmp write [PATH...]``: write the sidecars the change feed has pending
  (after imports and People edits that happens by itself), or those of the
  assets under each PATH (files or folders), marked or not. Only folders
  with sidecars on are written. One line per sidecar that could not be
  written (``FAILED <sidecar>: <reason>``); the rest carry on.
- ``xmp status [--json]``: whether sidecars are on, and how many assets are
  pending, how many sidecars were written and how many files failed.
- ``xmp on [FOLDER...]`` / ``xmp off [FOLDER...]``: turn sidecars on or off
  for the library (no FOLDER) or for these folders (remembered in
  ``settings.json``); ``on`` also takes ``--naming``, ``--min-confidence``
  and ``--confidences`` / ``--no-confidences``.

Exit codes: 0 when every sidecar was written (or nothing was to do), 1 when
some could not be, 2 for unusable arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def register(subparsers) -> None:
    """Add the ``xmp`` command and its sub-commands."""
    from mediaapp.settings import SIDECAR_NAMINGS

    p = subparsers.add_parser("xmp", help="write XMP sidecars with the labels and named people (opt-in)")
    sub = p.add_subparsers(dest="xmp_command", metavar="ACTION", required=True)
    w = sub.add_parser("write", help="write pending sidecars, or those of the files under PATH")
    w.add_argument("paths", nargs="*", metavar="PATH", help="files or folders (default: every pending asset)")
    w.add_argument("--quiet", action="store_true", help="no progress bar")
    w.set_defaults(func=run_write)
    s = sub.add_parser("status", help="pending, written and failed sidecar counts")
    s.add_argument("--json", action="store_true", help="print the counts as JSON")
    s.set_defaults(func=run_status)
    on = sub.add_parser("on", help="turn sidecars on for the library, or for FOLDERs")
    on.add_argument("folders", nargs="*", metavar="FOLDER")
    on.add_argument("--naming", choices=SIDECAR_NAMINGS, help="NAME.EXT.xmp (default) or NAME.xmp (Lightroom)")
    on.add_argument("--min-confidence", type=float, metavar="0-100",
                    help="machine labels below this confidence are not written (default 80)")
    on.add_argument("--confidences", action=argparse.BooleanOptionalAction, default=None,
                    help="also write each label's confidence (mediaapp's own XMP namespace)")
    on.set_defaults(func=run_switch, switch=True)
    off = sub.add_parser("off", help="turn sidecars off for the library, or for FOLDERs")
    off.add_argument("folders", nargs="*", metavar="FOLDER")
    off.set_defaults(func=run_switch, switch=False, naming=None, min_confidence=None, confidences=None)


def run_write(args, ctx) -> int:
    """Write sidecars with a progress bar; print a summary and each failure."""
    from tqdm import tqdm

    from mediaapp.core.filenames import display_path
    from mediaapp.paths import is_below
    from mediaapp.settings import sidecars_on_for

    library = ctx.library()
    if not library.sidecars.enabled:
        print("mediaapp: XMP sidecars are off for this library; turn them on with `mediaapp xmp on [FOLDER...]`",
              file=sys.stderr)
        return 0
    options = library.settings.sidecars
    for path in args.paths:
        full = os.path.abspath(os.path.expanduser(path))
        if not os.path.exists(full):
            print(f"mediaapp: {display_path(full)}: no such file or folder", file=sys.stderr)
            return 2
        if not sidecars_on_for(full, options) and not any(on and is_below(folder, (full,))
                                                          for folder, on in options["folders"].items()):
            print(f"mediaapp: note: sidecars are off for {display_path(full)}; "
                  f"`mediaapp xmp on {display_path(full)}` turns them on", file=sys.stderr)
    bar = tqdm(desc="write sidecars", unit="image", file=sys.stderr, disable=args.quiet)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        report = library.write_sidecars(args.paths or None, progress)
    finally:
        bar.close()
    print(f"sidecars written {report.written}, unchanged {report.unchanged}, failed {len(report.failed)} "
          f"({report.assets} images)")
    for path, reason in report.failed:
        print(f"  FAILED {display_path(path)}: {reason}")
    return 1 if report.failed else 0


def run_status(args, ctx) -> int:
    """Print the sidecar counts."""
    status = ctx.library().sidecars.status()
    if args.json:
        print(json.dumps({"enabled": status.enabled, "pending": status.pending, "written": status.written,
                          "failed": status.failed}))
    else:
        print(f"sidecars {'on' if status.enabled else 'off'}: pending {status.pending}, written {status.written}, "
              f"failed {status.failed}")
    return 0


def run_switch(args, ctx) -> int:
    """Turn sidecars on or off (library or folders) and save the settings."""
    from mediaapp.settings import SettingsError, load_settings, save_settings, sidecar_options

    library = ctx.library()
    stored = load_settings(library.root)
    options = sidecar_options(stored.get("sidecars") or {})
    if args.folders:
        if args.switch:  # ``off`` may name a folder that is gone, to forget it; ``on`` needs one that exists
            missing = [f for f in args.folders if not os.path.isdir(os.path.expanduser(f))]
            if missing:
                print(f"mediaapp: not a folder that exists: {', '.join(missing)}; nothing changed", file=sys.stderr)
                return 2
        for folder in args.folders:
            options["folders"][os.path.abspath(os.path.expanduser(folder))] = args.switch
    else:
        options["enabled"] = args.switch
    for key, value in (("naming", args.naming), ("min_confidence", args.min_confidence),
                       ("confidences", args.confidences)):
        if value is not None:
            options[key] = value
    try:
        library.update_settings(sidecars=options)
    except SettingsError as exc:
        print(f"mediaapp: {exc}", file=sys.stderr)
        return 2
    stored["sidecars"] = library.settings.sidecars
    save_settings(library.root, stored)
    where = ", ".join(args.folders) if args.folders else "the library"
    print(f"XMP sidecars {'on' if args.switch else 'off'} for {where}")
    return 0
