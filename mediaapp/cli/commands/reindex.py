"""``mediaapp reindex --to opensearch|sqlite``: rebuild a search index from the catalog and switch to it.

``--to opensearch`` fills a fresh versioned index on the cluster and swaps
the alias over to it at the end (``OpenSearchIndex.rebuild``: searches keep
working on the old index meanwhile, and a failed or interrupted run leaves
it untouched); ``--to sqlite`` clears and refills the embedded index. On
success the library's index settings (``settings.json``) are saved so the
app and the CLI search with that backend from now on; on failure nothing is
changed. Connection flags override the stored settings and are saved with
them; the password is never stored: it is read from the environment
variable ``MEDIAAPP_OPENSEARCH_PASSWORD``. A tqdm progress bar (stderr)
counts the assets sent. A password inside the URL is shown as ``***``, and
one line on stderr warns before credentials would go over plain ``http://``
to another machine.

Exit codes: 0 when the index was rebuilt (documents the backend rejected
are listed with their reasons), 1 when the backend could not be reached or
refused every document (settings unchanged), 2 for unusable arguments.
"""

from __future__ import annotations

import os
import sys


def register(subparsers) -> None:
    """Add the ``reindex`` command."""
    p = subparsers.add_parser(
        "reindex", help="rebuild the search index from the catalog into OpenSearch or SQLite and use it")
    p.add_argument("--to", required=True, choices=("opensearch", "sqlite"), help="the backend to fill and use")
    p.add_argument("--url", help="OpenSearch URL, e.g. https://search.example.com:9200 (default: stored)")
    p.add_argument("--index", metavar="NAME", help="alias the library's documents live behind (default: mediaapp)")
    p.add_argument("--username", help="basic-auth user; the password comes from $MEDIAAPP_OPENSEARCH_PASSWORD")
    p.add_argument("--ca-bundle", metavar="PATH", help="CA certificates (PEM) that signed the cluster's certificate")
    p.add_argument("--no-verify", action="store_true", help="do not verify the TLS certificate (test clusters only)")
    p.add_argument("--aws-region", metavar="REGION",
                   help="sign requests with AWS SigV4 for Amazon OpenSearch Service in REGION")
    p.add_argument("--aws-service", choices=("es", "aoss"),
                   help="SigV4 service: es for managed domains (default), aoss for Serverless")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run, rebuilds_index=True)


def index_settings(stored: dict, args) -> dict:
    """The index settings to use: ``stored`` (the library's ``settings["index"]``) updated by the flags.

    Raises ``ValueError`` when ``--to opensearch`` has no URL (neither given
    nor stored) or the CA bundle does not exist.
    """
    from mediaapp.search.factory import opensearch_options

    settings = dict(stored or {})
    settings["backend"] = args.to
    if args.to != "opensearch":
        return settings
    for key, value in (("url", args.url), ("index", args.index), ("username", args.username),
                       ("aws_region", args.aws_region), ("aws_service", args.aws_service)):
        if value:
            settings[key] = value.strip()
    if args.ca_bundle:
        path = os.path.abspath(os.path.expanduser(args.ca_bundle))
        if not os.path.isfile(path):
            raise ValueError(f"the CA bundle {path} does not exist")
        settings["ca_certs"] = path
    if args.no_verify:
        settings["verify_certs"] = False
    elif args.ca_bundle:
        settings.pop("verify_certs", None)  # a CA bundle is for verifying: back to the default (on)
    if not settings.get("url"):
        raise ValueError("reindex --to opensearch needs --url URL (the library settings have none)")
    opensearch_options(settings)  # validates the rest (numbers)
    return settings


def run(args, ctx) -> int:
    """Rebuild the index, print a summary (and each rejected document), save the settings on success."""
    from tqdm import tqdm

    from mediaapp.core.redact import redact
    from mediaapp.search.factory import INDEX_FILE, PASSWORD_ENV, create_index
    from mediaapp.search.index_base import SearchUnavailableError
    from mediaapp.settings import load_settings, save_settings

    library = ctx.library()
    try:
        settings = index_settings(load_settings(library.root).get("index") or {}, args)
    except ValueError as exc:
        print(f"mediaapp: {redact(str(exc))}", file=sys.stderr)
        return 2
    if args.to == "opensearch":
        if library.index_problem:
            ctx.rebuild_index(library)  # the embedded index answers whenever OpenSearch cannot
        ctx.warn_credentials(settings)
        if settings.get("username") and not settings.get("aws_region") and not os.environ.get(PASSWORD_ENV):
            print(f"mediaapp: note: {PASSWORD_ENV} is not set; sending user {settings['username']!r} "
                  "without a password", file=sys.stderr)
        target = create_index("opensearch", library.root, settings)
        where = f"opensearch at {redact(settings['url'])} (index “{settings.get('index') or 'mediaapp'}”)"
    else:
        target = None  # the embedded index the library keeps up to date anyway
        where = f"sqlite ({library.root / INDEX_FILE})"
    total = library.queries.asset_count()
    bar = tqdm(total=total, desc=f"reindex to {args.to}", unit="asset", file=sys.stderr, disable=args.quiet)
    try:
        result = library.search_sync.rebuild(target, progress=lambda done: bar.update(done - bar.n))
    except SearchUnavailableError as exc:
        bar.close()
        print(f"mediaapp: reindex failed, settings unchanged: {redact(str(exc))}", file=sys.stderr)
        return 1
    finally:
        bar.close()
        if target is not None:
            target.close()
    print(f"indexed {result.indexed} of {total} assets into {where}; failed {len(result.failed)}")
    for sha, reason in result.failed:
        print(f"  FAILED {sha}: {redact(reason)}")
    if total and not result.indexed:
        print("mediaapp: no document was accepted; settings unchanged", file=sys.stderr)
        return 1
    stored = load_settings(library.root)
    stored["index"] = settings
    save_settings(library.root, stored)
    print(f"the library now searches with {where}")
    return 0
