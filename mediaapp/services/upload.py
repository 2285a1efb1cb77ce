"""Uploading catalogued images to the configured bucket ahead of analysis (``mediaapp cloud upload``).

The images come from ``Queries.catalogued_images``.

The same keys and rules as the engine's own uploads
(``mediaapp.analysis.rekognition.upload_image``): content-addressed,
HeadObject first, multipart for large files, SHA-256 checksums, SSE,
metadata. Runs ``config.max_concurrency`` uploads at once and reports
bytes and files as they go; a ``CancelToken`` stops it (a transfer in
progress is aborted, nothing partial is left). With ``config.ledger_path``
set, each key is recorded in the usage ledger (exports name it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field

from mediaapp.cloud.config import CloudConfig


@dataclass
class UploadSummary:
    """``uploaded`` files sent, ``present`` already in the bucket, ``failed`` (path, reason), ``bytes_sent``."""

    uploaded: int = 0
    present: int = 0
    bytes_sent: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False


def upload_images(config: CloudConfig, images: list[tuple[str, str, str | None]], *,
                  on_bytes: Callable[[int], None] | None = None,
                  on_file: Callable[[str, str], None] | None = None, cancel=None) -> UploadSummary:
    """Upload ``images`` ((sha256, path, taken_at) each) to ``config.bucket``.

    ``on_bytes(n)`` is called per chunk sent; ``on_file(path, outcome)`` once
    per image with ``uploaded``, ``present`` or ``failed``. Raises
    ``ValueError`` when no bucket is configured; per-image failures are
    collected in the summary. The keys are recorded in the ledger at
    ``config.ledger_path`` when it is set.
    """
    from mediaapp.analysis.engine_base import AnalysisError
    from mediaapp.analysis.rekognition import upload_image
    from mediaapp.cloud.pricing import Ledger
    from mediaapp.storage.s3 import S3Store, UploadCancelled
    from mediaapp.storage.store_base import StoreError

    if not config.bucket or config.upload == "none":
        raise ValueError("no upload configured: set a bucket and upload original or proxy (mediaapp cloud config)")
    store = S3Store.from_config(config)
    ledger = Ledger(config.ledger_path) if config.ledger_path else None
    summary = UploadSummary()

    def sent(n: int) -> None:
        summary.bytes_sent += n
        if on_bytes:
            on_bytes(n)

    def one(sha: str, path: str, taken_at: str | None) -> bool:
        key, uploaded = upload_image(store, config, sha, path, name=os.path.basename(path), taken_at=taken_at,
                                     progress=sent, cancel=cancel)
        if ledger is not None:
            ledger.record_object(config.bucket, key, sha)
        return uploaded

    pending: dict = {}
    todo = iter(images)
    try:
        with ThreadPoolExecutor(int(config.max_concurrency)) as pool:
            while True:
                while len(pending) < 2 * int(config.max_concurrency) and not (cancel and cancel.cancelled):
                    item = next(todo, None)
                    if item is None:
                        break
                    pending[pool.submit(one, *item)] = item
                if not pending:
                    break
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    _sha, path, _ = pending.pop(future)
                    try:
                        uploaded = future.result()
                    except UploadCancelled:
                        continue
                    except (StoreError, AnalysisError) as exc:
                        summary.failed.append((path, str(exc)))
                        outcome = "failed"
                    else:
                        outcome = "uploaded" if uploaded else "present"
                        if uploaded:
                            summary.uploaded += 1
                        else:
                            summary.present += 1
                    if on_file:
                        on_file(path, outcome)
    finally:
        store.close()
        if ledger is not None:
            ledger.close()
    summary.cancelled = bool(cancel and cancel.cancelled)
    return summary
