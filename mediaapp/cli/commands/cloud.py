"""``mediaapp cloud config|test|upload|usage``: cloud settings, connection test, uploads, the month's spend.

``cloud config`` saves settings in the library (``engine_config.rekognition``,
plus the library-wide ``engines``, ``apis`` and per-folder ``folder_engines``
rules); ``mediaapp import`` then uses them. Never stores credentials:
``--profile`` names a profile of boto3's standard chain.
"""

from __future__ import annotations

import json
import sys

from mediaapp.core.apis import short_names
from mediaapp.core.filenames import display_path
from mediaapp.core.redact import redact


def register(subparsers) -> None:
    """Add the ``cloud`` command and its sub-commands."""
    p = subparsers.add_parser("cloud", help="cloud (Amazon Rekognition + S3) settings, connection test, usage")
    sub = p.add_subparsers(dest="cloud_command", metavar="ACTION")

    c = sub.add_parser("config", help="show or change the cloud settings (saved in the library)")
    c.add_argument("--profile", help="AWS profile name ('' for the default chain)")
    c.add_argument("--region", help="AWS region, e.g. eu-west-1")
    c.add_argument("--bucket", help="S3 bucket for uploads ('' for none: images go as request bytes)")
    c.add_argument("--prefix", help="key prefix inside the bucket")
    c.add_argument("--sse", choices=["AES256", "aws:kms", "none"], help="server-side encryption")
    c.add_argument("--kms-key-id", help="KMS key id or alias for --sse aws:kms")
    c.add_argument("--upload", choices=["original", "proxy", "none"],
                   help="upload the original, a downscaled JPEG proxy, or nothing")
    c.add_argument("--proxy-max-side", type=int, metavar="PX", help="longest side of the proxy")
    c.add_argument("--delete-after", dest="delete_after", action="store_true", default=None,
                   help="delete the S3 copy after analysis")
    c.add_argument("--keep", dest="delete_after", action="store_false", help="keep the S3 copy")
    c.add_argument("--max-concurrency", type=int, metavar="N", help="images analysed at once")
    c.add_argument("--tps", type=float, metavar="N", help="Rekognition calls per second (account quota)")
    c.add_argument("--image-properties", dest="image_properties", action="store_true", default=None,
                   help="DetectLabels also returns image properties (priced extra)")
    c.add_argument("--no-image-properties", dest="image_properties", action="store_false")
    c.add_argument("--budget-run", type=float, metavar="USD", help="stop a run before it spends more (0: off)")
    c.add_argument("--budget-month", type=float, metavar="USD", help="stop runs before the month passes it (0: off)")
    c.add_argument("--endpoint-url", help="custom AWS endpoint (S3-compatible store, test server; '' to clear)")
    c.add_argument("--prices", dest="prices_path", metavar="FILE", help="your own price table ('' for the bundled)")
    c.add_argument("--video-sns-topic-arn", metavar="ARN", help="SNS topic Rekognition Video announces finished "
                   "jobs on (with --video-role-arn; '' to clear: jobs are polled)")
    c.add_argument("--video-role-arn", metavar="ARN", help="IAM role Rekognition Video assumes to publish to the "
                   "topic ('' to clear)")
    c.add_argument("--video-sqs-queue-url", metavar="URL", help="SQS queue subscribed to the topic, read to learn "
                   "when a video job ends ('' to clear)")
    c.add_argument("--engines", help="library default engines: local, rekognition or local,rekognition")
    c.add_argument("--apis", help=f"library default analyses: {short_names()}")
    c.add_argument("--folder", metavar="PATH", help="set the engines of the images under this folder "
                   "(with --engine; the deepest folder rule wins over the library default)")
    c.add_argument("--engine", action="append", dest="folder_engine", metavar="NAME",
                   help="an engine for --folder: local or rekognition; repeat for both")
    c.add_argument("--remove-folder", action="append", metavar="PATH", default=[],
                   help="drop the rule of this folder (its images use the library default again)")
    c.set_defaults(func=run_config)

    t = sub.add_parser("test", help="check credentials, bucket access and Rekognition access")
    t.set_defaults(func=run_test)

    up = sub.add_parser("upload", help="upload imported images to the bucket now (progress in bytes and files)")
    up.add_argument("paths", nargs="+", metavar="PATH", help="imported files or folders")
    up.add_argument("--quiet", action="store_true", help="no progress bars")
    up.set_defaults(func=run_upload)

    u = sub.add_parser("usage", help="Rekognition calls and dollars recorded this month")
    u.add_argument("--month", help="YYYY-MM (default: this month)")
    u.set_defaults(func=run_usage)
    p.set_defaults(func=lambda args, ctx: (p.print_help(sys.stderr), 2)[1])


def _blank_to_none(value):
    return None if value == "" else value


def run_config(args, ctx) -> int:
    """Apply the given options, save, and print the settings as JSON (with the folder rules); exit 2 for an
    invalid value (nothing is saved then)."""
    from mediaapp.analysis.registry import engine_names
    from mediaapp.cloud.config import folder_rules, load_config, normalize_folder, save_config, save_library_choices

    library = ctx.library()
    try:
        config = load_config(library.settings)
    except ValueError:
        from mediaapp.cloud.config import CloudConfig
        config = CloudConfig()
    changed = False
    for name in ("profile", "region", "bucket", "prefix", "sse", "kms_key_id", "upload", "proxy_max_side",
                 "delete_after", "max_concurrency", "tps", "image_properties", "endpoint_url", "prices_path",
                 "video_sns_topic_arn", "video_role_arn", "video_sqs_queue_url"):
        value = getattr(args, name)
        if value is not None:
            setattr(config, name, _blank_to_none(value) if isinstance(value, str) and name != "prefix" else value)
            changed = True
    for flag, name in (("budget_run", "budget_per_run"), ("budget_month", "budget_per_month")):
        value = getattr(args, flag)
        if value is not None:
            setattr(config, name, value or None)
            changed = True
    rules = None
    try:
        if args.folder_engine and not args.folder:
            raise ValueError("--engine needs --folder PATH (the library default is --engines)")
        if args.folder or args.remove_folder:
            rules = folder_rules(library.settings)
            if args.folder:
                if not args.folder_engine:
                    raise ValueError("--folder needs at least one --engine NAME (or use --remove-folder)")
                rules[normalize_folder(args.folder)] = args.folder_engine
            for folder in args.remove_folder:
                if rules.pop(normalize_folder(folder), None) is None:
                    raise ValueError(f"there is no folder rule for {normalize_folder(folder)}")
        engines = [e for e in args.engines.split(",")] if args.engines else None
        apis = [a for a in args.apis.split(",")] if args.apis else None
        if changed:
            config.validate()
        if engines is not None or apis is not None or rules is not None:
            save_library_choices(library, known_engines=engine_names(), engines=engines, apis=apis,
                                 folder_engines=rules)
        if changed:
            save_config(library, config)
    except ValueError as exc:
        print(f"mediaapp: {redact(str(exc))}", file=sys.stderr)
        return 2
    shown = config.to_dict()
    shown.pop("ledger_path", None)
    if shown.get("endpoint_url"):
        shown["endpoint_url"] = redact(shown["endpoint_url"])
    print(json.dumps({"engines": list(library.settings.engines), "apis": list(library.settings.apis),
                      "folder_engines": folder_rules(library.settings), "rekognition": shown}, indent=2))
    return 0


def run_test(args, ctx) -> int:
    """Print each check with a plain-words result; exit 1 when one failed."""
    from mediaapp.cloud.config import load_config
    from mediaapp.services.connection import check_connection

    try:
        config = load_config(ctx.library().settings)
    except ValueError as exc:
        print(f"mediaapp: the cloud settings are invalid: {redact(str(exc))}", file=sys.stderr)
        return 1
    checks = check_connection(config)
    for check in checks:
        print(f"{'OK  ' if check.ok else 'FAIL'} {check.name}: {check.message}")
    return 0 if all(c.ok for c in checks) else 1


def run_usage(args, ctx) -> int:
    """Print the month's recorded calls and spend, and the paid answers kept in quarantine (usage ledger)."""
    from mediaapp.cloud.pricing import LEDGER_FILE, Ledger, fmt_usd, this_month

    month = args.month or this_month()
    ledger = Ledger(ctx.library().root / LEDGER_FILE)
    try:
        calls = {api: ledger.month_calls([api], month) for api in
                 ("DetectLabels", "DetectText", "RecognizeCelebrities", "DetectLabels:IMAGE_PROPERTIES")}
        counted = ", ".join(f"{api} {n}" for api, n in calls.items() if n)
        print(f"{month}: {fmt_usd(ledger.month_spend(month))} spent; {counted or 'no calls'}")
        kept = ledger.quarantine_count()
        if kept:
            print(f"{kept} paid answers failed validation and are kept in {ledger.path} (table quarantine); "
                  f"they are not bought again unless you re-analyse")
    finally:
        ledger.close()
    return 0


def run_upload(args, ctx) -> int:
    """Upload with two progress bars (files, bytes); Ctrl-C cancels; exit 1 on a setup problem, 130 if cancelled."""
    import signal

    from tqdm import tqdm

    from mediaapp.cloud.config import load_config
    from mediaapp.cloud.pricing import LEDGER_FILE
    from mediaapp.services.upload import upload_images
    from mediaapp.tasks import CancelToken

    library = ctx.library()
    try:
        config = load_config(library.settings)
    except ValueError as exc:
        print(f"mediaapp: the cloud settings are invalid: {redact(str(exc))}", file=sys.stderr)
        return 1
    config.ledger_path = str(library.root / LEDGER_FILE)  # the keys written are recorded for exports
    images = library.queries.catalogued_images(args.paths)
    cancel = CancelToken()
    previous = signal.signal(signal.SIGINT, lambda *_: cancel.cancel())
    files = tqdm(total=len(images), desc="files", unit="file", file=sys.stderr, disable=args.quiet, position=0)
    sent = tqdm(desc="bytes", unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, disable=args.quiet,
                position=1)
    try:
        summary = upload_images(config, images, on_bytes=sent.update, on_file=lambda path, outcome: files.update(1),
                                cancel=cancel)
    except ValueError as exc:
        print(f"mediaapp: {redact(str(exc))}", file=sys.stderr)
        return 1
    finally:
        files.close()
        sent.close()
        signal.signal(signal.SIGINT, previous)
    print(f"uploaded {summary.uploaded}, already there {summary.present}, failed {len(summary.failed)}, "
          f"{summary.bytes_sent} bytes sent" + (" (cancelled)" if summary.cancelled else ""))
    for path, reason in summary.failed:
        print(f"  FAILED {display_path(path)}: {reason}")
    return 130 if summary.cancelled else 0
