"""The S3 media store: content-addressed, idempotent uploads.

Keys are derived from the SHA-256 of the asset's original bytes, so the same
photo always lands at the same key whatever its name or folder::

    <prefix>/ab/abcdef...<64 hex>.jpg          the original (JPEG; ``.png`` for PNG)
    <prefix>/ab/abcdef...<64 hex>-p2048.jpg    a downscaled JPEG proxy (longest side 2048 px)

Every upload asks S3 with HeadObject first and skips what is already there.
Uploads go through s3transfer (multipart above ``multipart_threshold``
bytes), carry a SHA-256 checksum that S3 verifies (the whole-object SHA-256
for single-part uploads, per-part SHA-256 for multipart), server-side
encryption (``AES256`` or ``aws:kms``) and metadata (the original file name,
``taken_at`` and the original's sha256). Transient errors are retried by
botocore (adaptive mode, see ``mediaapp.cloud.clients``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import re
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass

from mediaapp.storage.store_base import StoredObject, StoreError

#: Bytes in one MiB.
MIB = 1024 * 1024

#: A 64-hex SHA-256 inside a key: how keys written by this store (or by anyone who follows the scheme) map back.
SHA_IN_KEY = re.compile(r"(?<![0-9a-f])([0-9a-f]{64})(?![0-9a-f])")

#: Seconds between checks of the cancel flag while a transfer runs.
CANCEL_POLL_S = 0.1


class UploadCancelled(StoreError):
    """The upload was cancelled by the user; nothing partial is left (multipart uploads are aborted)."""


@dataclass(frozen=True, slots=True)
class UploadResult:
    """What ``S3Store.upload`` did: the object, its key, and whether bytes were sent (False: already there)."""

    stored: StoredObject
    key: str
    uploaded: bool


def content_key(prefix: str, sha256: str, ext: str = ".jpg", variant: str = "") -> str:
    """The content-addressed key ``<prefix>/<sha[:2]>/<sha><variant><ext>`` (no prefix: no leading folder)."""
    name = f"{sha256[:2]}/{sha256}{variant}{ext}"
    prefix = (prefix or "").strip("/")
    return f"{prefix}/{name}" if prefix else name


def sha256_from_key(key: str) -> str | None:
    """The 64-hex SHA-256 named in an S3 key (``prefix/ab/<sha>.jpg``), or None."""
    found = SHA_IN_KEY.findall(key.rsplit("/", 1)[-1].lower())
    return found[0] if found else None


def _ascii_metadata(metadata: dict | None) -> dict[str, str]:
    """S3 user metadata must be ASCII: non-ASCII values are percent-encoded (UTF-8); None values dropped."""
    out = {}
    for k, v in (metadata or {}).items():
        if v is None:
            continue
        text = str(v)
        # surrogateescape: a file name that is not UTF-8 keeps its own bytes (%E9), never raises
        out[k] = text if text.isascii() else urllib.parse.quote(text, safe=" /:-_.,()", errors="surrogateescape")
    return out


class S3Store:
    """Keeps assets in ``bucket`` under ``prefix`` (a ``MediaStore``; name ``s3``).

    ``client`` is a boto3 S3 client (shared by threads). ``sse`` is
    ``AES256``, ``aws:kms`` (``kms_key_id`` optional) or None/``none``.
    ``multipart_threshold``/``multipart_chunksize`` are bytes (S3 needs parts
    of 5 MiB or more). Methods raise ``StoreError`` with a readable reason.
    """

    name = "s3"

    def __init__(self, client, bucket: str, prefix: str = "", *, sse: str | None = "AES256",
                 kms_key_id: str | None = None, multipart_threshold: int = 16 * MIB,
                 multipart_chunksize: int = 8 * MIB, max_concurrency: int = 4):
        from boto3.s3.transfer import TransferConfig

        if not bucket:
            raise StoreError("no S3 bucket is configured")
        self.client = client
        self.bucket = bucket
        self.prefix = (prefix or "").strip("/")
        self.sse = None if sse in (None, "", "none") else sse
        self.kms_key_id = kms_key_id
        self.transfer_config = TransferConfig(multipart_threshold=multipart_threshold,
                                              multipart_chunksize=multipart_chunksize,
                                              max_concurrency=max_concurrency, use_threads=True)
        self._manager = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config) -> S3Store:
        """The store described by a ``mediaapp.cloud.config.CloudConfig`` (client from ``mediaapp.cloud.clients``)."""
        from mediaapp.cloud import clients

        return cls(clients.client("s3", config), config.bucket, config.prefix, sse=config.sse,
                   kms_key_id=config.kms_key_id, multipart_threshold=int(config.multipart_threshold_mb) * MIB,
                   multipart_chunksize=int(config.multipart_chunk_mb) * MIB,
                   max_concurrency=int(config.max_concurrency))

    # -- keys --------------------------------------------------------------------------------
    def key_for(self, sha256: str, ext: str = ".jpg", variant: str = "") -> str:
        """The key of these bytes: ``<prefix>/<sha[:2]>/<sha><variant><ext>`` (``variant`` e.g. ``-p2048``)."""
        return content_key(self.prefix, sha256, ext, variant)

    def uri(self, key: str) -> str:
        """``s3://bucket/key``."""
        return f"s3://{self.bucket}/{key}"

    # -- reading -----------------------------------------------------------------------------
    def head(self, key: str) -> dict | None:
        """HeadObject of ``key``: its response dict, or None when there is no such object.

        Raises ``StoreError`` for anything but "not found" (403, network...).
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in ("404", "NoSuchKey", "NotFound"):
                return None
            raise StoreError(explain_s3_error(exc, self.bucket, key)) from exc
        except BotoCoreError as exc:
            raise StoreError(f"cannot reach S3: {exc}") from exc

    def keys_for(self, sha256: str) -> list[str]:
        """Every key holding a copy of these bytes (original and proxies). Raises ``StoreError``."""
        from botocore.exceptions import BotoCoreError, ClientError

        stem = self.key_for(sha256, ext="")
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=stem)
            return [o["Key"] for page in pages for o in page.get("Contents", [])]
        except ClientError as exc:
            raise StoreError(explain_s3_error(exc, self.bucket, stem)) from exc
        except BotoCoreError as exc:
            raise StoreError(f"cannot reach S3: {exc}") from exc

    def exists(self, sha256: str) -> bool:
        """True when any copy (original or proxy) of these bytes is in the bucket."""
        return bool(self.keys_for(sha256))

    # -- writing -----------------------------------------------------------------------------
    def _transfer(self):
        from s3transfer.manager import TransferManager

        with self._lock:
            if self._manager is None:
                self._manager = TransferManager(self.client, self.transfer_config)
            return self._manager

    def _extra_args(self, content_type: str, metadata: dict | None, checksum_sha256: str | None,
                    size: int) -> dict:
        extra: dict = {"ContentType": content_type, "Metadata": _ascii_metadata(metadata),
                       "ChecksumAlgorithm": "SHA256"}
        if checksum_sha256 and size < self.transfer_config.multipart_threshold:
            # Single-part: S3 recomputes the SHA-256 of what arrived and refuses a mismatch.
            extra["ChecksumSHA256"] = base64.b64encode(bytes.fromhex(checksum_sha256)).decode("ascii")
        if self.sse:
            extra["ServerSideEncryption"] = self.sse
            if self.sse == "aws:kms" and self.kms_key_id:
                extra["SSEKMSKeyId"] = self.kms_key_id
        return extra

    def upload(self, key: str, source: str | bytes, *, sha256: str, content_type: str = "image/jpeg",
               metadata: dict | None = None, progress: Callable[[int], None] | None = None,
               cancel=None, known_missing: bool = False) -> UploadResult:
        """Upload ``source`` (a file path, or bytes) to ``key`` unless the key already exists.

        ``sha256`` is the SHA-256 hex of exactly these bytes (verified by S3
        on single-part uploads; stored as ``x-amz-meta-sha256``).
        ``progress(n)`` is called with each chunk's byte count. ``cancel``
        is anything with a ``cancelled`` property (a ``CancelToken``): it is
        read after every chunk and every ``CANCEL_POLL_S`` seconds; once set,
        the transfer is cancelled and ``UploadCancelled`` raised. A multipart
        upload is then aborted (s3transfer's failure clean-up calls
        AbortMultipartUpload once the part in flight ends), so no object and
        no open multipart upload remain; a single-part PUT already on the wire
        either completes (S3 stores whole objects only) or stores nothing.
        ``known_missing`` True skips the HeadObject (the caller just
        checked). Raises ``StoreError`` on failure.
        """
        from botocore.exceptions import BotoCoreError, ClientError
        from s3transfer.exceptions import CancelledError
        from s3transfer.subscribers import BaseSubscriber

        found = None if known_missing else self.head(key)
        if found is not None:
            return UploadResult(StoredObject(sha256, self.uri(key), int(found.get("ContentLength", 0))), key, False)
        size = len(source) if isinstance(source, (bytes, bytearray)) else _file_size(source)
        meta = {"sha256": sha256, **(metadata or {})}
        extra = self._extra_args(content_type, meta, sha256, size)

        class _Progress(BaseSubscriber):
            def on_progress(self, future, bytes_transferred, **kwargs):
                if progress:
                    progress(bytes_transferred)
                if cancel is not None and cancel.cancelled:
                    future.cancel()  # at once: the remaining parts are never sent

        body = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
        future = self._transfer().upload(body, self.bucket, key, extra_args=extra,
                                         subscribers=[_Progress()] if progress or cancel is not None else None)
        try:
            while not future.done():
                if cancel is not None and cancel.cancelled:
                    future.cancel()
                    break
                threading.Event().wait(CANCEL_POLL_S)
            future.result()
        except CancelledError as exc:
            raise UploadCancelled(f"upload of {key} cancelled") from exc
        except ClientError as exc:
            raise StoreError(explain_s3_error(exc, self.bucket, key)) from exc
        except (BotoCoreError, OSError) as exc:
            raise StoreError(f"upload of {key} failed: {exc}") from exc
        return UploadResult(StoredObject(sha256, self.uri(key), size), key, True)

    def put(self, sha256: str, path: str, metadata: dict | None = None) -> StoredObject:
        """Store the original file at ``path`` (whose bytes hash to ``sha256``); idempotent (``MediaStore``)."""
        ext = ".png" if str(path).lower().endswith(".png") else ".jpg"
        ctype = "image/png" if ext == ".png" else "image/jpeg"
        return self.upload(self.key_for(sha256, ext), str(path), sha256=sha256, content_type=ctype,
                           metadata=metadata).stored

    def delete_key(self, key: str) -> None:
        """Delete one object (missing is fine). Raises ``StoreError``."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.delete_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            raise StoreError(explain_s3_error(exc, self.bucket, key)) from exc
        except BotoCoreError as exc:
            raise StoreError(f"cannot reach S3: {exc}") from exc

    def delete(self, sha256: str) -> None:
        """Delete every copy of these bytes this store made (the user's local original is never touched)."""
        for key in self.keys_for(sha256):
            self.delete_key(key)

    def bucket_region(self) -> str:
        """The bucket's region name (e.g. ``eu-west-1``). Raises ``StoreError``.

        HeadBucket's ``x-amz-bucket-region`` answer first (needs only
        s3:ListBucket), else GetBucketLocation read with ``location_region``
        (its legacy ``EU`` and empty answers).
        """
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            head = self.client.head_bucket(Bucket=self.bucket)
            region = head.get("BucketRegion") or head.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get(
                "x-amz-bucket-region")
            if region:
                return region
            answer = self.client.get_bucket_location(Bucket=self.bucket)
        except ClientError as exc:
            raise StoreError(explain_s3_error(exc, self.bucket, "")) from exc
        except BotoCoreError as exc:
            raise StoreError(f"cannot reach S3: {exc}") from exc
        return location_region(answer.get("LocationConstraint"))

    def close(self) -> None:
        """Stop the transfer threads."""
        with self._lock:
            if self._manager is not None:
                self._manager.shutdown()
                self._manager = None


#: GetBucketLocation's legacy answers and the region each means (S3 API reference, GetBucketLocation:
#: buckets in US East (N. Virginia) have a null LocationConstraint; ``EU`` is the old name of eu-west-1).
LEGACY_LOCATIONS = {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}


def location_region(constraint: str | None) -> str:
    """The region name of a GetBucketLocation ``LocationConstraint``: ``EU`` -> ``eu-west-1``, none -> ``us-east-1``."""
    return LEGACY_LOCATIONS.get(constraint, constraint) or "us-east-1"


def _file_size(path: str) -> int:
    import os

    try:
        return os.path.getsize(path)
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc}") from exc


def sha256_bytes(data: bytes) -> str:
    """SHA-256 hex of ``data``."""
    return hashlib.sha256(data).hexdigest()


#: Plain-words explanations of S3 error codes.
S3_ERRORS = {
    "NoSuchBucket": "the bucket {bucket} does not exist (check the name and the region)",
    "AccessDenied": "your AWS identity may not use s3://{bucket}/{key} (the IAM policy needs s3:GetObject, "
                    "s3:PutObject, s3:DeleteObject and s3:ListBucket on it)",
    "403": "access denied to s3://{bucket}/{key} (missing IAM permission, or the bucket belongs to another account)",
    "AllAccessDisabled": "all access to the bucket {bucket} is disabled",
    "InvalidAccessKeyId": "the AWS access key id is not known to AWS (check your credentials)",
    "SignatureDoesNotMatch": "the AWS secret key does not match the access key (check your credentials)",
    "ExpiredToken": "your AWS session has expired (log in again, e.g. aws sso login)",
    "PermanentRedirect": "the bucket {bucket} is in another region than the one configured",
    "AuthorizationHeaderMalformed": "the bucket {bucket} is in another region than the one configured",
    "KMS.NotFoundException": "the KMS key for encryption was not found",
    "KMS.DisabledException": "the KMS key for encryption is disabled",
    # botocore's standard/adaptive retry modes do not retry BadDigest (only its legacy mode did), so say what happens:
    "BadDigest": "the bytes that reached S3 do not match their SHA-256 (corrupted in transit); S3 refused them "
                 "and stored nothing: importing again sends the image again",
    "InvalidRequest": "S3 refused the request: {message}",
}


def explain_s3_error(exc, bucket: str, key: str) -> str:
    """A plain-words reason for a botocore ``ClientError`` from S3 (falls back to the service message)."""
    err = exc.response.get("Error", {})
    code = str(err.get("Code", ""))
    message = err.get("Message", "") or str(exc)
    template = S3_ERRORS.get(code)
    if template:
        return template.format(bucket=bucket, key=key, message=message) + f" [{code}]"
    return f"S3 error {code}: {message}"
