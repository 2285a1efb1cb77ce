"""The S3 store against a moto server over real HTTP (boto3's full stack)."""

from __future__ import annotations

import base64
import hashlib
import re

import boto3
import pytest

from mediaapp.storage.s3 import MIB, S3Store, UploadCancelled, explain_s3_error, location_region, sha256_from_key
from mediaapp.tasks import CancelToken


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_upload_is_content_addressed_and_skips_existing(s3_bucket, testdata):
    _endpoint, bucket, s3 = s3_bucket
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
    _endpoint, bucket, s3 = s3_bucket
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
    _endpoint, bucket, s3 = s3_bucket
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
    _endpoint, bucket, s3 = s3_bucket
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
    _endpoint, bucket, s3 = s3_bucket
    photo = testdata / "1_objects/voc/VOC2007/JPEGImages/000003.jpg"
    sha = _sha(photo)
    store = S3Store(s3, bucket, "p")
    store.put(sha, str(photo))
    store.upload(store.key_for(sha, variant="-p64"), b"proxy bytes", sha256=hashlib.sha256(b"proxy bytes").hexdigest())
    assert len(store.keys_for(sha)) == 2
    store.delete(sha)
    assert store.keys_for(sha) == []
    assert store.bucket_region() == "us-east-1"


def test_multipart_upload_sends_each_part_with_its_own_sha256(s3_bucket, tmp_path):
    """S3 verifies a multipart upload part by part: each UploadPart must carry the SHA-256 of exactly its bytes."""
    _endpoint, bucket, s3 = s3_bucket
    big = tmp_path / "big.bin"
    data = hashlib.sha256(b"seed").digest() * (11 * MIB // 32 + 1000)  # 11 MiB + a bit: parts of 5, 5 and 1+ MiB
    big.write_bytes(data)
    chunk = 5 * MIB
    sent: dict[int, str] = {}

    def capture(request, **kwargs):
        number = int(re.search(r"partNumber=(\d+)", request.url).group(1))
        headers = {k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()}
        sent[number] = headers.get("x-amz-checksum-sha256")

    s3.meta.events.register("before-send.s3.UploadPart", capture)
    store = S3Store(s3, bucket, "p", sse=None, multipart_threshold=chunk, multipart_chunksize=chunk)
    result = store.upload(store.key_for(_sha(big)), str(big), sha256=_sha(big))
    parts = [data[i:i + chunk] for i in range(0, len(data), chunk)]
    assert len(parts) == 3 and sorted(sent) == [1, 2, 3]
    for number, part in enumerate(parts, 1):
        assert sent[number] == base64.b64encode(hashlib.sha256(part).digest()).decode(), number
    assert s3.head_object(Bucket=bucket, Key=result.key)["ETag"].strip('"').endswith("-3")


def test_cancel_in_the_middle_of_a_multipart_upload_aborts_it(s3_bucket, tmp_path):
    """Cancelled after some MiB went out: the part in flight ends, the rest is never sent, the upload is aborted."""
    _endpoint, bucket, s3 = s3_bucket
    big = tmp_path / "big.bin"
    big.write_bytes(bytes(range(256)) * (26 * MIB // 256))  # 26 MiB: six parts of 5 MiB (the last one 1 MiB)
    sha = _sha(big)
    store = S3Store(s3, bucket, "p", sse=None, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB,
                    max_concurrency=1)
    cancel = CancelToken()
    sent: list[int] = []
    calls: list[str] = []
    s3.meta.events.register("provide-client-params.s3.*", lambda model, **kw: calls.append(model.name))

    def progress(n: int) -> None:
        sent.append(n)
        if sum(sent) >= 7 * MIB:  # inside the second part
            cancel.cancel()

    with pytest.raises(UploadCancelled):
        store.upload(store.key_for(sha), str(big), sha256=sha, progress=progress, cancel=cancel)
    assert 7 * MIB <= sum(sent) <= 10 * MIB  # stopped mid-file: the third part never left
    assert calls.count("UploadPart") == 2 and "CompleteMultipartUpload" not in calls
    assert "AbortMultipartUpload" in calls
    assert not store.exists(sha)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    store.close()


def test_from_config_keeps_concurrency_and_part_sizes(s3_bucket):
    from mediaapp.cloud.config import CloudConfig

    endpoint, bucket, _s3 = s3_bucket
    store = S3Store.from_config(CloudConfig(bucket=bucket, endpoint_url=endpoint, max_concurrency=7,
                                            multipart_threshold_mb=32, multipart_chunk_mb=6))
    assert store.transfer_config.max_request_concurrency == 7
    assert (store.transfer_config.multipart_threshold, store.transfer_config.multipart_chunksize) == (32 * MIB, 6 * MIB)


@pytest.mark.parametrize("constraint, region", [(None, "us-east-1"), ("", "us-east-1"), ("EU", "eu-west-1"),
                                                ("eu-west-1", "eu-west-1"), ("ap-south-1", "ap-south-1")])
def test_get_bucket_location_legacy_answers_are_region_names(constraint, region):
    from botocore.stub import Stubber

    assert location_region(constraint) == region
    s3 = boto3.client("s3", region_name="us-east-1")
    with Stubber(s3) as stub:  # a HeadBucket answer without x-amz-bucket-region: GetBucketLocation decides
        stub.add_response("head_bucket", {}, {"Bucket": "b"})
        stub.add_response("get_bucket_location", {"LocationConstraint": constraint} if constraint is not None else {},
                          {"Bucket": "b"})
        assert S3Store(s3, "b").bucket_region() == region


def test_bucket_region_of_a_bucket_made_in_eu_west_1(s3_bucket, moto_server):
    _endpoint, _, s3 = s3_bucket
    s3.create_bucket(Bucket="mediaapp-eu-bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    try:
        assert S3Store(s3, "mediaapp-eu-bucket").bucket_region() == "eu-west-1"
    finally:
        s3.delete_bucket(Bucket="mediaapp-eu-bucket")


def test_bad_digest_is_explained_without_promising_a_retry():
    from botocore.exceptions import ClientError

    exc = ClientError({"Error": {"Code": "BadDigest", "Message": "The Content-SHA256 you specified did not match"}},
                      "PutObject")
    text = explain_s3_error(exc, "b", "k")
    assert "retried" not in text and "importing again sends the image again" in text and text.endswith("[BadDigest]")


def test_metadata_of_a_file_name_that_is_not_utf8_keeps_its_bytes():
    import os

    from mediaapp.storage.s3 import _ascii_metadata

    assert _ascii_metadata({"name": os.fsdecode(b"caf\xe9.jpg"), "plain": "a.jpg", "gone": None}) == \
        {"name": "caf%E9.jpg", "plain": "a.jpg"}
