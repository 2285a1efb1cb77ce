"""``mediaapp duplicates [--json] [--hide-others | --unhide]``: near-duplicate groups (bursts, resized or re-encoded
copies, light edits) by perceptual hash and image embedding (``services/similar.py``)."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

from mediaapp.core.filenames import display_path
from mediaapp.core.text import human_size


def register(subparsers) -> None:
    """Add the ``duplicates`` command."""
    p = subparsers.add_parser("duplicates", help="list groups of near-duplicate photos (nothing is deleted)")
    p.add_argument("--json", action="store_true",
                   help="print a JSON list of groups: each a list of members, the suggested keeper first")
    act = p.add_mutually_exclusive_group()
    act.add_argument("--hide-others", action="store_true",
                     help="hide every member but the suggested keeper from search results (undo with --unhide)")
    act.add_argument("--unhide", action="store_true", help="show every hidden member of the groups again")
    p.set_defaults(func=run, reads_only=False)


def run(args, ctx) -> int:
    """Print the groups (text: one block per group, ``*`` marks the suggested keeper); exit 0."""
    library = ctx.library()
    groups = library.duplicates()
    if args.hide_others:
        hidden = sum(len(library.hide_assets([m.sha256 for m in g.members[1:]], keeper=g.keeper.sha256))
                     for g in groups)
        print(f"hid {hidden} near-duplicates from search results (mediaapp duplicates --unhide shows them again)",
              file=sys.stderr)
        groups = library.duplicates()
    elif args.unhide:
        shas = [m.sha256 for g in groups for m in g.members if m.hidden]
        library.unhide_assets(shas)
        print(f"{len(shas)} near-duplicates shown in search results again", file=sys.stderr)
        groups = library.duplicates()
    if args.json:
        print(json.dumps([[asdict(m) for m in g.members] for g in groups], indent=2))
        return 0
    if not groups:
        print("no near-duplicates found", file=sys.stderr)
        return 0
    for n, group in enumerate(groups, 1):
        print(f"group {n} ({len(group.members)} photos)")
        for i, m in enumerate(group.members):
            size = f"{m.width}x{m.height}" if m.width and m.height else "?"
            sharp = f"{m.sharpness:.0f}" if m.sharpness is not None else "?"
            flags = " hidden" if m.hidden else ""
            print(f"  {'*' if i == 0 else ' '} {display_path(m.path)}  {size}, {human_size(m.size)}, "
                  f"taken {m.taken_at or '-'}, sharpness {sharp}, similarity {m.similarity:.3f}{flags}")
    return 0
