"""``check_connection``: can this machine use AWS as configured? Each failure explained in plain words.

Three checks, in order (a failed credentials check skips the others):

1. **credentials**: STS GetCallerIdentity (free) with the configured profile and region.
2. **bucket**: HeadBucket, GetBucketLocation (must be the Rekognition region
   for S3Object requests; its legacy ``EU`` answer means eu-west-1 and its
   empty one us-east-1), then a tiny PutObject (with the configured
   server-side encryption) and DeleteObject under the prefix.
3. **rekognition**: DetectLabels with a one-byte image. The service answers
   ``InvalidImageFormatException`` once the identity may call it; a failed
   call is not billed, so the check costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediaapp.cloud import clients
from mediaapp.cloud.config import CloudConfig
from mediaapp.core.redact import redact

#: The key written and deleted by the bucket check (under the prefix).
PROBE_KEY = ".mediaapp-connection-test"


@dataclass
class Check:
    """One check: ``name`` (credentials, bucket, rekognition), ``ok``, and a plain-words ``message``."""

    name: str
    ok: bool
    message: str


#: Plain words for AWS error codes met by the checks.
EXPLAIN = {
    "InvalidClientTokenId": "AWS does not know this access key: check the credentials of the profile",
    "UnrecognizedClientException": "AWS does not know this access key: check the credentials of the profile",
    "SignatureDoesNotMatch": "the secret key does not match the access key",
    "InvalidSignatureException": "the secret key does not match the access key",
    "ExpiredToken": "the AWS session has expired: log in again (for example `aws sso login`)",
    "ExpiredTokenException": "the AWS session has expired: log in again (for example `aws sso login`)",
    "AccessDenied": "your AWS identity is not allowed to do this (ask for the IAM permission)",
    "AccessDeniedException": "your AWS identity is not allowed to call Rekognition: its IAM policy needs "
                             "rekognition:DetectLabels, rekognition:DetectText and rekognition:RecognizeCelebrities "
                             "(plus s3:GetObject on the bucket when images are uploaded)",
    "403": "the bucket exists but your identity may not use it (IAM permission, or another account's bucket)",
    "404": "there is no bucket with this name",
    "NoSuchBucket": "there is no bucket with this name",
    "301": "the bucket is in another region than the one configured",
    "PermanentRedirect": "the bucket is in another region than the one configured",
    "KMS.NotFoundException": "the KMS key for encryption does not exist in this region",
    "KMS.DisabledException": "the KMS key for encryption is disabled",
}


def _explain(exc) -> str:
    """Plain words for an AWS error; a password in an endpoint URL it quotes is shown as ``***``."""
    return redact(_reason(exc))


def _reason(exc) -> str:
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        return f"{EXPLAIN.get(code, 'AWS refused')} [{code}: {err.get('Message', '')}]".replace(": ]", "]")
    if isinstance(exc, NoCredentialsError):
        return ("no AWS credentials found: run `aws configure` or `aws sso login`, choose a profile, "
                "or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
    if isinstance(exc, ProfileNotFound):
        return f"{exc} (profiles live in ~/.aws/config and ~/.aws/credentials)"
    if isinstance(exc, NoRegionError):
        return "no AWS region is set: choose one in the cloud settings"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach AWS ({exc}): check the network connection and the region name"
    return f"{type(exc).__name__}: {exc}"


def check_connection(config: CloudConfig) -> list[Check]:
    """Run the checks for ``config``; never raises for AWS problems (they become failed ``Check``s)."""
    from botocore.exceptions import BotoCoreError, ClientError

    checks: list[Check] = []
    try:
        who = clients.client("sts", config).get_caller_identity()
        checks.append(Check("credentials", True, f"signed in as {who.get('Arn', '?')} "
                                                 f"(account {who.get('Account', '?')})"))
    except (BotoCoreError, ClientError) as exc:
        checks.append(Check("credentials", False, _explain(exc)))
        checks.append(Check("bucket", False, "skipped: the credentials do not work"))
        checks.append(Check("rekognition", False, "skipped: the credentials do not work"))
        return checks

    rekognition = clients.client("rekognition", config)
    region = rekognition.meta.region_name
    checks.append(_check_bucket(config, region))
    try:
        rekognition.detect_labels(Image={"Bytes": b"\0"}, MaxLabels=1)
        checks.append(Check("rekognition", True, f"Rekognition answers in {region}"))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("InvalidImageFormatException", "InvalidParameterException"):
            checks.append(Check("rekognition", True, f"Rekognition answers in {region}"))
        else:
            checks.append(Check("rekognition", False, _explain(exc)))
    except BotoCoreError as exc:
        checks.append(Check("rekognition", False, _explain(exc)))
    return checks


def _check_bucket(config: CloudConfig, region: str) -> Check:
    from botocore.exceptions import BotoCoreError, ClientError

    from mediaapp.storage.s3 import location_region

    if not config.bucket:
        return Check("bucket", True, "no bucket set: images are sent inside each request (up to 5 MB each, "
                                     "downscaled when larger); nothing is stored in S3")
    s3 = clients.client("s3", config)
    step = "HeadBucket"
    try:
        s3.head_bucket(Bucket=config.bucket)
        step = "GetBucketLocation"
        where = location_region(s3.get_bucket_location(Bucket=config.bucket).get("LocationConstraint"))
        step = "PutObject"
        key = f"{config.prefix}/{PROBE_KEY}" if config.prefix else PROBE_KEY
        extra: dict = {}
        if config.sse != "none":
            extra["ServerSideEncryption"] = config.sse
            if config.sse == "aws:kms" and config.kms_key_id:
                extra["SSEKMSKeyId"] = config.kms_key_id
        s3.put_object(Bucket=config.bucket, Key=key, Body=b"mediaapp", **extra)
        step = "DeleteObject"
        s3.delete_object(Bucket=config.bucket, Key=key)
    except (BotoCoreError, ClientError) as exc:
        return Check("bucket", False, f"s3://{config.bucket}: {_explain(exc)} (during {step})")
    if where != region:
        return Check("bucket", True, f"s3://{config.bucket} is usable, but it is in {where} and Rekognition in "
                                     f"{region}: Rekognition cannot read it, so images will be sent as bytes. "
                                     f"Use a bucket in {region} (or set the region to {where}).")
    return Check("bucket", True, f"s3://{config.bucket} ({where}) can be written and read")
