"""``mediaapp estimate PATH... [--engine rekognition] [--apis labels,text,celebrities] [--json]``.

Prices a run before it happens: distinct images x selected APIs not yet
stored, at the per-image prices of the price table (with its date and
source), plus the S3 requests; shows the budgets that would stop it.
"""

from __future__ import annotations

import json
import sys


def register(subparsers) -> None:
    """Add the ``estimate`` command."""
    p = subparsers.add_parser("estimate", help="what analysing these files would cost, before spending")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--engine", default="rekognition", help="analysis engine (default: rekognition)")
    p.add_argument("--apis", default=None, help="comma-separated: labels,text,celebrities (default: settings)")
    p.add_argument("--json", action="store_true", help="print the estimate as JSON")
    p.set_defaults(func=run)


def run(args, ctx) -> int:
    """Print the estimate; exit 1 when the price table or an API name is wrong."""
    from mediaapp.cloud.cost import estimate, fmt_usd

    apis = [a.strip() for a in args.apis.split(",") if a.strip()] if args.apis else None
    try:
        est = estimate(ctx.library(), args.paths, apis, args.engine)
    except (OSError, ValueError) as exc:
        print(f"mediaapp: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(est.to_dict(), indent=2))
        return 0
    per_api = ", ".join(f"{api} {n}" for api, n in est.by_api.items()) or "none"
    print(f"{est.images} images; {est.calls} calls to make ({per_api}); {est.cached} already stored (free)")
    print(f"Rekognition {fmt_usd(est.usd)} + S3 {fmt_usd(est.s3_usd)} = {fmt_usd(est.total_usd)}")
    print(f"prices of {est.price_date} from {est.price_source}")
    if est.budget_per_run is not None:
        print(f"run budget {fmt_usd(est.budget_per_run)}" + (": THE RUN WOULD STOP EARLY"
                                                              if est.exceeds_run_budget else ""))
    if est.budget_per_month is not None:
        print(f"month budget {fmt_usd(est.budget_per_month)}, {fmt_usd(est.month_spent)} spent"
              + (": THE RUN WOULD STOP EARLY" if est.exceeds_month_budget else ""))
    for path in est.unreadable:
        print(f"  UNREADABLE {path}")
    return 0
