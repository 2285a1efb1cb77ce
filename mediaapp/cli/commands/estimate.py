"""``mediaapp estimate PATH... [--engine rekognition] [--apis labels,text,celebrities] [--json]``.

Prices a run before it happens: distinct images x selected APIs not yet
stored, at the per-image prices of the price table (with its date and
source), plus the S3 requests; shows the budgets that would stop it.
"""

from __future__ import annotations

import json
import sys

from mediaapp.cli.argtypes import api_list, engine_name, existing_path
from mediaapp.core.apis import short_names
from mediaapp.core.types import CLOUD_ENGINE


def register(subparsers) -> None:
    """Add the ``estimate`` command."""
    p = subparsers.add_parser("estimate", help="what analysing these files would cost, before spending")
    p.add_argument("paths", nargs="+", metavar="PATH", type=existing_path)
    p.add_argument("--engine", default=CLOUD_ENGINE, type=engine_name,
                   help=f"analysis engine (default: {CLOUD_ENGINE})")
    p.add_argument("--apis", type=api_list, default=None,
                   help=f"comma-separated: {short_names()} (default: settings)")
    p.add_argument("--json", action="store_true", help="print the estimate as JSON")
    p.set_defaults(func=run, reads_only=True)


def run(args, ctx) -> int:
    """Print the estimate (``describe_estimate``, or JSON); exit 1 when the price table, the settings or an API
    name is wrong."""
    from mediaapp.services.costs import describe_estimate

    apis = args.apis
    try:
        est = ctx.library().costs.estimate(args.paths, apis, args.engine)
    except (OSError, ValueError) as exc:
        print(f"mediaapp: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(est.to_dict(), indent=2))
        return 0
    print("\n".join(describe_estimate(est)))
    return 0
