"""The S3 store against a moto server over real HTTP (boto3's full stack)."""

from __future__ import annotations

import base64
import hashlib

import pytest

from mediaapp.storage.s3 import MIB, S3Store, UploadCancelled, sha256_from_key
from mediaapp.tasks import CancelToken


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_upload_is_content_addressed_and_skips_existing(s3_bucket, testdata):
    endpoint, bucket, s3 = s3_bucket
    photo = testdata / "1_objects/voc/VOC2007/JPEGImages/000001.jpg"
    sha = _sha(photo)
    store = S3Store(s3, bucket, "lib/photos/", sse="AES256")
    key = store.key_for(sha)
    assert key == f"lib/photos/{sha[:2]}/{sha}.jpg"
    assert sha256_from_key(key) == sha
    sent: list[int] = []
    first = store.upload(key, str(photo), sha256=sha, metadata={"name": "000001.jpg", "taken_at": None},
                         progress=sent.append)
    assert first.uploaded and sum(sent) == photo.stat().st_size
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["Metadata"]["sha256"] == sha and head["Metadata"]["name"] == "000001.jpg"
    assert "taken_at" not in head["Metadata"]
    assert head["ChecksumSHA256"] == base64.b64encode(bytes.fromhex(sha)).decode()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha
    second = store.upload(key, str(photo), sha256=sha, progress=sent.append)
    assert not second.uploaded and second.stored.size == photo.stat().st_size
    assert sum(sent) == photo.stat().st_size  # nothing sent the second time
    assert store.exists(sha) and store.keys_for(sha) == [key]


def test_single_part_upload_sends_the_ingest_sha256_for_s3_to_verify(s3_bucket, testdata):
    """Real S3 recomputes x-amz-checksum-sha256 and refuses a mismatch (moto stores it unverified),
    so check what goes on the wire: the SHA-256 the catalog knows, not one computed from the bytes sent."""
    endpoint, bucket, s3 = s3_bucket
    photo = testdata / "1_objects/voc/VOC2007/JPEGImages/000002.jpg"
    sha = _sha(photo)
    headers: list[dict] = []
    s3.meta.events.register("before-send.s3.PutObject", lambda request, **kw: headers.append(dict(request.headers)))
    store = S3Store(s3, bucket, "p")
    store.upload(store.key_for(sha), str(photo), sha256=sha)
    sent = {k.lower(): v for k, v in headers[0].items()}
    value = sent["x-amz-checksum-sha256"]
    value = value.decode() if isinstance(value, bytes) else value
    assert base64.b64decode(value) == bytes.fromhex(sha)


def test_multipart_upload_with_kms_and_non_ascii_name(s3_bucket, tmp_path):
    endpoint, bucket, s3 = s3_bucket
    big = tmp_path / "big.jpg"
    big.write_bytes(bytes(range(256)) * (12 * MIB // 256))  # 12 MiB: three 5 MiB parts
    sha = _sha(big)
    store = S3Store(s3, bucket, "p", sse="aws:kms", kms_key_id="alias/mediaapp",
                    multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)
    sent: list[int] = []
    result = store.upload(store.key_for(sha), str(big), sha256=sha, metadata={"name": "Zoë été.jpg"},
                          progress=sent.append)
    assert result.uploaded and sum(sent) == big.stat().st_size
    head = s3.head_object(Bucket=bucket, Key=result.key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["ETag"].strip('"').endswith("-3")  # a 3-part multipart upload
    assert head["Metadata"]["name"] == "Zo%C3%AB %C3%A9t%C3%A9.jpg"
    body = s3.get_object(Bucket=bucket, Key=result.key)["Body"].read()
    assert hashlib.sha256(body).hexdigest() == sha


def test_cancel_leaves_nothing(s3_bucket, tmp_path):
    endpoint, bucket, s3 = s3_bucket
    big = tmp_path / "big.jpg"
    big.write_bytes(b"\0" * (11 * MIB))
    sha = _sha(big)
    store = S3Store(s3, bucket, "p", sse=None, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB,
                    max_concurrency=1)
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(UploadCancelled):
        store.upload(store.key_for(sha), str(big), sha256=sha, cancel=cancel)
    assert not store.exists(sha)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_delete_removes_every_copy(s3_bucket, testdata):
    endpoint, bucket, s3 = s3_bucket
    photo = testdata / "1_objects/voc/VOC2007/JPEGImages/000003.jpg"
    sha = _sha(photo)
    store = S3Store(s3, bucket, "p")
    store.put(sha, str(photo))
    store.upload(store.key_for(sha, variant="-p64"), b"proxy bytes", sha256=hashlib.sha256(b"proxy bytes").hexdigest())
    assert len(store.keys_for(sha)) == 2
    store.delete(sha)
    assert store.keys_for(sha) == []
    assert store.bucket_region() == "us-east-1"
