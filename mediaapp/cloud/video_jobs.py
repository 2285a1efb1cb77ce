"""Amazon Rekognition Video on stored videos: start the jobs, learn when they end, read every page.

Rekognition Video analyses a video stored in S3 asynchronously (Developer
Guide, "Working with stored video analysis"): a ``Start*`` operation
(``StartLabelDetection``, ``StartTextDetection``, ``StartFaceDetection``,
``StartCelebrityRecognition``, ``StartContentModeration``) returns a
``JobId``; the job runs on AWS; the matching ``Get*`` operation then returns
its results in pages (``NextToken`` / ``MaxResults``). ``analyse_video`` does
all of it for one S3 object and answers each API in its ``Get*`` shape, with
every page merged into one response (``merge_pages``), keyed by the ``Get*``
operation name (``GetLabelDetection``...), the name the catalog and the price
table use.

How completion is learned:

- **SNS + SQS** when configured (``JobNotification`` with a queue): each
  ``Start*`` names ``NotificationChannel`` (``SNSTopicArn``, ``RoleArn``: a
  role Rekognition assumes to publish). The topic delivers the completion
  message (Developer Guide, "Reference: Video analysis results
  notification": ``JobId``, ``Status``, ``API``, ``JobTag``, ``Video``) to
  the SQS queue, either wrapped in SNS's ``Notification`` envelope or raw
  (``parse_notification`` reads both). The queue is long-polled; a message
  whose ``JobId`` is one of ours is deleted, any other is left alone (it
  comes back for its owner after the queue's visibility timeout). As a
  safety net for a lost message, the jobs' status is still read with
  ``Get*`` every ``PollPolicy.sqs_check_s``.
- **Polling** otherwise: ``Get*`` is called for every unfinished job, with
  exponential back-off between rounds (``PollPolicy``: ``initial_s``
  doubling up to ``cap_s``), until ``timeout_s`` has passed. The answer of a
  finished job's status call is its first page, so it is not asked again.

``Start*`` requests carry a ``ClientRequestToken`` derived from (sha256,
API, options) (``request_token``): Rekognition answers a repeated token with
the same ``JobId`` instead of starting (and billing) a second job, so a
retry after a crash, a cancel or a lost connection never pays twice. The
``JobTag`` names the video (``job_tag``).

Only MP4 and MOV are accepted: the Developer Guide ("Amazon Rekognition
Video" limits) lists MPEG-4 and MOV containers encoded with H.264;
anything else must be analysed on-device (``UnsupportedVideoFormat``,
raised before any call; ``on_device_reason`` says beforehand why a video
of a library cannot go to Rekognition Video: not MP4/MOV, or no bucket).
``sniff_container`` tells MP4 from MOV (and from 3GP, which shares their
container family) by the ISO base media ``ftyp`` brand, since PyAV names the whole family ``mov,mp4,m4a,3gp,3g2,mj2``.

Also here: the per-minute prices of the video APIs, read from the price
table's ``rekognition.video`` section (``video_price_per_minute``), and the
minutes a video is billed (``billed_minutes``). Estimates are
``mediaapp.services.costs.estimate_video``.

Errors are ``AnalysisError`` subclasses, one per API in the result (the other
APIs carry on): ``VideoJobFailed`` (the job's ``StatusMessage``),
``VideoJobTimeout``, ``InvalidVideoResponse`` (the merged response fails
validation; it holds the paid response), or an ``AnalysisError`` with the
service's error code when ``Start*`` is refused. A cancel raises or answers
``AnalysisCancelled``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from mediaapp.core.analysis import AnalysisCancelled, AnalysisError
from mediaapp.tasks import CancelToken

log = logging.getLogger(__name__)

#: The containers Rekognition Video reads from S3 (Developer Guide, stored video limits: MPEG-4 and MOV, H.264).
VIDEO_FORMATS = ("MP4", "MOV")

#: Names a caller may give for a supported container (any case), by canonical name.
_FORMAT_NAMES = {"mp4": "MP4", "mpeg-4": "MP4", "mpeg4": "MP4", "video/mp4": "MP4",
                 "mov": "MOV", "quicktime": "MOV", "qt": "MOV", "video/quicktime": "MOV"}

#: ``ftyp`` major brands of QuickTime movies (ISO/IEC 14496-12 registry; Apple's QuickTime File Format).
_MOV_BRANDS = (b"qt  ",)
#: ``ftyp`` major brands of MPEG-4 files (ISO/IEC 14496-12 and 14496-14 brands, Apple's M4V).
_MP4_BRANDS = (b"isom", b"iso2", b"iso3", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"mmp4",
               b"M4V ", b"M4VH", b"M4VP", b"MSNV", b"dash")
#: Top-level box types that may open a QuickTime movie written before ``ftyp`` existed.
_OLD_MOV_BOXES = (b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot")

#: Service error codes worth another ``Start*`` after a pause (the request is idempotent: same token).
RETRY_START = ("LimitExceededException", "ThrottlingException", "ProvisionedThroughputExceededException")

#: Plain-words reasons of ``Start*`` / ``Get*`` error codes (API reference, each operation's Errors).
VIDEO_ERRORS = {
    "InvalidS3ObjectException": "Rekognition could not read the video in S3 (the bucket must be in the same "
                                "region as Rekognition, and the object readable by your identity)",
    "VideoTooLargeException": "the video is larger or longer than Rekognition Video accepts",
    "AccessDeniedException": "your AWS identity is not allowed to start this Rekognition Video job (the IAM "
                             "policy needs rekognition:Start* and Get*, and iam:PassRole for the notification role)",
    "IdempotentParameterMismatchException": "a job was already started with this ClientRequestToken and "
                                            "different parameters",
    "LimitExceededException": "the account's quota of concurrent Rekognition Video jobs was still reached "
                              "after waiting",
    "InvalidParameterException": "Rekognition refused the request parameters (the notification topic or role, "
                                 "or an option)",
    "ResourceNotFoundException": "Rekognition no longer knows this job (results are kept for 7 days)",
    "InvalidPaginationTokenException": "Rekognition refused the page token while reading the results",
}


@dataclass(frozen=True)
class VideoJobSpec:
    """One Rekognition Video analysis: its ``Get*`` name and what its calls look like.

    ``api``: the ``Get*`` operation name (the result's key); ``start_op``:
    the ``Start*`` operation name; ``items``: the list member of the ``Get*``
    response that pages add to; ``model_version``: the member naming the
    model version (None: the response has none); ``get_params``: fixed
    ``Get*`` parameters (results sorted by time, as the on-device engine
    answers); ``min_confidence``: whether ``Start*`` takes ``MinConfidence``.
    """

    api: str
    start_op: str
    items: str
    model_version: str | None
    get_params: Mapping[str, str] = field(default_factory=dict)
    min_confidence: bool = False

    def start(self, client, **params) -> dict:
        """Call this job's ``Start*`` on boto3 Rekognition ``client``; returns the response (``JobId``)."""
        return _OPERATIONS[self.start_op](client, **params)

    def get(self, client, **params) -> dict:
        """Call this job's ``Get*`` on boto3 Rekognition ``client``; returns one page."""
        return _OPERATIONS[self.api](client, **params)


_OPERATIONS: dict[str, Callable[..., dict]] = {
    "StartLabelDetection": lambda c, **kw: c.start_label_detection(**kw),
    "GetLabelDetection": lambda c, **kw: c.get_label_detection(**kw),
    "StartTextDetection": lambda c, **kw: c.start_text_detection(**kw),
    "GetTextDetection": lambda c, **kw: c.get_text_detection(**kw),
    "StartFaceDetection": lambda c, **kw: c.start_face_detection(**kw),
    "GetFaceDetection": lambda c, **kw: c.get_face_detection(**kw),
    "StartCelebrityRecognition": lambda c, **kw: c.start_celebrity_recognition(**kw),
    "GetCelebrityRecognition": lambda c, **kw: c.get_celebrity_recognition(**kw),
    "StartContentModeration": lambda c, **kw: c.start_content_moderation(**kw),
    "GetContentModeration": lambda c, **kw: c.get_content_moderation(**kw),
}

#: Every video analysis, by ``Get*`` operation name (members and parameters from botocore's rekognition model).
VIDEO_JOBS: dict[str, VideoJobSpec] = {s.api: s for s in (
    VideoJobSpec("GetLabelDetection", "StartLabelDetection", "Labels", "LabelModelVersion",
                 {"SortBy": "TIMESTAMP", "AggregateBy": "TIMESTAMPS"}, min_confidence=True),
    VideoJobSpec("GetTextDetection", "StartTextDetection", "TextDetections", "TextModelVersion"),
    VideoJobSpec("GetFaceDetection", "StartFaceDetection", "Faces", None),
    VideoJobSpec("GetCelebrityRecognition", "StartCelebrityRecognition", "Celebrities", None,
                 {"SortBy": "TIMESTAMP"}),
    VideoJobSpec("GetContentModeration", "StartContentModeration", "ModerationLabels", "ModerationModelVersion",
                 {"SortBy": "TIMESTAMP"}, min_confidence=True),
)}


@dataclass(frozen=True)
class PollPolicy:
    """How long and how often to wait for jobs (seconds).

    ``initial_s``, ``factor``, ``cap_s``: the pause between polling rounds
    starts at ``initial_s`` and is multiplied by ``factor`` after each round,
    up to ``cap_s`` (exponential back-off: a long video is not polled every
    few seconds for an hour). ``timeout_s``: the longest wait for all jobs of
    one video, from the first ``Start*`` (Rekognition Video takes videos up
    to 6 hours; its jobs often take a fraction of the video's length).
    ``page_size``: ``MaxResults`` of ``Get*`` (1000 is the largest the API
    reference allows). ``sqs_wait_s``: long-poll seconds of one SQS receive
    (1-20; also how fast a cancel is seen). ``sqs_check_s``: with SQS, the
    jobs' status is also read this often, in case a message was lost.
    ``start_rounds``: ``Start*`` attempts when the concurrent-jobs quota or
    throttling refuses one.
    """

    initial_s: float = 5.0
    factor: float = 2.0
    cap_s: float = 60.0
    timeout_s: float = 4 * 3600.0
    page_size: int = 1000
    sqs_wait_s: int = 5
    sqs_check_s: float = 300.0
    start_rounds: int = 4

    def delays(self) -> Iterable[float]:
        """The pauses between polling rounds: ``initial_s``, then times ``factor``, capped at ``cap_s``."""
        delay = self.initial_s
        while True:
            yield min(delay, self.cap_s)
            delay = min(delay * self.factor, self.cap_s)


@dataclass(frozen=True)
class JobNotification:
    """Where Rekognition announces that a job ended, and where this app hears it.

    ``sns_topic_arn`` and ``role_arn`` go into each ``Start*`` as
    ``NotificationChannel`` (the role lets Rekognition publish to the topic;
    the topic's name must start with ``AmazonRekognition`` when the role is
    built from AWS's managed policy). With ``queue_url`` and ``sqs`` (a
    boto3 SQS client) the queue subscribed to the topic is read; without
    them the jobs are polled even though the topic is told.
    """

    sns_topic_arn: str
    role_arn: str
    queue_url: str | None = None
    sqs: Any = None

    @property
    def listens(self) -> bool:
        """True when completion is read from the SQS queue (a queue URL and a client are set)."""
        return bool(self.queue_url) and self.sqs is not None

    def channel(self) -> dict:
        """The ``NotificationChannel`` request member."""
        return {"SNSTopicArn": self.sns_topic_arn, "RoleArn": self.role_arn}

    @classmethod
    def from_config(cls, config, sqs=None) -> JobNotification | None:
        """The notification of a ``CloudConfig`` (``video_sns_topic_arn``, ``video_role_arn``,
        ``video_sqs_queue_url``) with boto3 SQS client ``sqs``; None when no topic is configured."""
        if not config.video_sns_topic_arn:
            return None
        return cls(config.video_sns_topic_arn, config.video_role_arn, config.video_sqs_queue_url or None,
                   sqs if config.video_sqs_queue_url else None)


class UnsupportedVideoFormat(AnalysisError):
    """The video's container is not one Rekognition Video reads (MP4, MOV); no call was made."""

    def __init__(self, fmt: object):
        super().__init__(f"Rekognition Video reads only MP4 and MOV videos, not {fmt or 'this format'}; "
                         f"this video is analysed on-device instead", "UnsupportedVideoFormat")
        self.format = fmt


class VideoJobFailed(AnalysisError):
    """A Rekognition Video job ended with ``JobStatus`` FAILED; ``status_message`` is its ``StatusMessage``."""

    def __init__(self, api: str, job_id: str, status_message: str | None):
        super().__init__(f"Rekognition Video job {job_id} ({api}) failed: "
                         f"{status_message or 'no StatusMessage given'}", "VideoJobFailed")
        self.api = api
        self.job_id = job_id
        self.status_message = status_message


class VideoJobTimeout(AnalysisError):
    """A job had not finished within ``PollPolicy.timeout_s``; it may still finish on AWS (and is billed)."""

    def __init__(self, api: str, job_id: str, seconds: float):
        super().__init__(f"Rekognition Video job {job_id} ({api}) had not finished after {seconds:.0f} s; importing "
                         f"again sends the same ClientRequestToken, which Rekognition answers with this job",
                         "VideoJobTimeout")
        self.api = api
        self.job_id = job_id


class InvalidVideoResponse(AnalysisError):
    """The merged ``Get*`` response failed validation; ``response`` holds it (it was paid for)."""

    def __init__(self, api: str, reason: str, response: dict):
        super().__init__(f"Rekognition answered an invalid {api}: {reason}", "InvalidResponse")
        self.api = api
        self.response = response


def video_api_name(api: str) -> str:
    """The ``Get*`` operation name of ``api`` (a name or a ``str`` enum member with that value), as a plain
    ``str``; raises ``ValueError`` for one that is not a Rekognition Video analysis."""
    for name in VIDEO_JOBS:
        if name == api:
            return name
    raise ValueError(f"{api!r} is not a Rekognition Video analysis ({', '.join(VIDEO_JOBS)})")


# -- formats ---------------------------------------------------------------------------------------

def video_format(fmt: str | None) -> str | None:
    """``fmt`` (``mp4``, ``MOV``, ``QuickTime``, ``video/mp4``... any case) as ``MP4`` or ``MOV``; None otherwise."""
    if not fmt:
        return None
    return _FORMAT_NAMES.get(str(fmt).strip().lower())


def check_format(fmt: str | None) -> str:
    """``MP4`` or ``MOV`` for a supported ``fmt``; raises ``UnsupportedVideoFormat`` for any other."""
    found = video_format(fmt)
    if found is None:
        raise UnsupportedVideoFormat(fmt)
    return found


def sniff_container(head: bytes) -> str | None:
    """The container of a file from its first bytes (at least 12): ``MP4``, ``MOV``, ``3GP`` or None.

    Reads the ISO base media file format's first box (ISO/IEC 14496-12):
    an ``ftyp`` box's major brand decides (``qt  `` is QuickTime; ``isom``,
    ``mp41``, ``mp42``, ``avc1``... are MPEG-4; ``3gp*``/``3g2*`` are 3GPP).
    A file opening with ``moov``/``mdat``/``wide``/``free`` and no ``ftyp``
    is an old QuickTime movie. Anything else (and a brand not listed, such
    as audio-only ``M4A ``) is None.
    """
    if len(head) < 12:
        return None
    box, brand = head[4:8], head[8:12]
    if box == b"ftyp":
        if brand in _MOV_BRANDS:
            return "MOV"
        if brand in _MP4_BRANDS:
            return "MP4"
        if brand.startswith((b"3gp", b"3g2")):
            return "3GP"
        return None
    return "MOV" if box in _OLD_MOV_BOXES else None


# -- requests --------------------------------------------------------------------------------------

def request_token(sha256: str, api: str, options: Mapping[str, Any] | None = None, attempt: int = 0) -> str:
    """The ``ClientRequestToken`` of one job: 64 hex digits of SHA-256 over (sha256, API, options[, attempt]).

    The same video, API, options and ``attempt`` always give the same token,
    so Rekognition answers a repeated ``Start*`` with the job it already has
    (the API reference's idempotency rule) and a re-run never pays twice;
    other options give another token (a new job, as they change the answer).
    ``attempt`` (0, 1, 2...; the cloud ledger's ``video_attempt``) changes
    only on a deliberate retry: after the last job FAILED, or a re-analysis,
    so that Rekognition starts a new job instead of handing the failed one
    back. Attempt 0 leaves it out (the tokens sent before attempts existed).
    Fits the model's ``ClientRequestToken`` (1-64 of ``[a-zA-Z0-9-_]``).
    """
    parts: list[Any] = [sha256, api, dict(options or {})]
    if attempt:
        parts.append(int(attempt))
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def job_tag(sha256: str) -> str:
    """The ``JobTag`` of a video's jobs: ``mediaapp-`` and the first 32 hex digits of its sha256 (model pattern
    ``[a-zA-Z0-9_.\\-:+=/]+``); it comes back in ``Get*`` and in the SNS message."""
    return f"mediaapp-{sha256[:32]}"


def start_params(spec: VideoJobSpec, bucket: str, key: str, sha256: str, *,
                 notification: JobNotification | None = None, min_confidence: float | None = None,
                 attempt: int = 0) -> dict:
    """The ``Start*`` request of ``spec`` for ``s3://bucket/key`` (``Video.S3Object``), with its token (of
    ``attempt``, see ``request_token``) and tag."""
    options: dict[str, Any] = {}
    if spec.min_confidence and min_confidence is not None:
        options["MinConfidence"] = float(min_confidence)
    params: dict[str, Any] = {"Video": {"S3Object": {"Bucket": bucket, "Name": key}},
                              "ClientRequestToken": request_token(sha256, spec.api, options, attempt),
                              "JobTag": job_tag(sha256), **options}
    if notification is not None:
        params["NotificationChannel"] = notification.channel()
    return params


def parse_notification(body: str) -> dict | None:
    """The Rekognition completion message in an SQS message ``body``; None when it is not one.

    ``body`` is SNS's ``Notification`` envelope (``Type``, ``Message`` holding
    the JSON text) or, with raw message delivery, the message itself. The
    result has at least a string ``JobId``; ``Status`` (``SUCCEEDED``,
    ``FAILED``, ``ERROR``), ``API``, ``JobTag`` and ``Video`` as Rekognition
    sent them.
    """
    try:
        data = json.loads(body)
        if isinstance(data, dict) and data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
            data = json.loads(data["Message"])
    except (TypeError, ValueError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("JobId"), str):
        return None
    return data


def merge_pages(spec: VideoJobSpec, pages: list[dict]) -> dict:
    """One ``Get*`` response holding every page's items, in page order.

    The first page gives ``JobStatus``, ``StatusMessage``, ``VideoMetadata``,
    the model version and the rest; ``NextToken`` and ``ResponseMetadata``
    are dropped; ``spec.items`` is the concatenation of all pages' lists.
    Raises ``ValueError`` for no pages.
    """
    if not pages:
        raise ValueError("no pages to merge")
    merged = {k: v for k, v in pages[0].items() if k not in ("NextToken", "ResponseMetadata")}
    merged[spec.items] = [item for page in pages for item in page.get(spec.items, [])]
    return merged


def botocore_check(operation: str, response: dict) -> None:
    """Check ``response`` against botocore's output shape of Rekognition ``operation`` (member types, unknown
    members); raises ``ValueError`` with botocore's report. ``mediaapp.analysis.validate.validate_response``
    checks more (ranges, enums, boxes) and is what the engine passes to ``analyse_video``."""
    import botocore.session
    from botocore.validate import ParamValidator

    shape = botocore.session.get_session().get_service_model("rekognition").operation_model(operation).output_shape
    report = ParamValidator().validate({k: v for k, v in response.items() if k != "ResponseMetadata"}, shape)
    if report.has_errors():
        raise ValueError(report.generate_report())


# -- prices ----------------------------------------------------------------------------------------

def billed_minutes(duration_s: float) -> int:
    """Whole minutes a video of ``duration_s`` seconds is billed: rounded up, at least 1.

    Rekognition Video bills stored-video analysis per minute of video (AWS
    pricing page, "Amazon Rekognition Video"); partial minutes are taken
    here as whole ones, so an estimate never falls short. Raises
    ``ValueError`` for a negative, infinite or NaN duration.
    """
    if not math.isfinite(duration_s) or duration_s < 0:
        raise ValueError(f"a video duration must be a finite number of seconds >= 0, not {duration_s!r}")
    return max(1, math.ceil(duration_s / 60.0 - 1e-9))


def video_prices(prices) -> dict:
    """The ``rekognition.video`` section of a ``PriceTable`` (``usd_per_minute`` by ``Get*`` name, ``date``,
    ``source``, ``verified``); raises ``ValueError`` when the table has none."""
    section = prices.data.get("rekognition", {}).get("video")
    if not isinstance(section, dict) or not isinstance(section.get("usd_per_minute"), dict):
        raise ValueError(f"the price table {prices.path} has no Rekognition Video prices (rekognition.video)")
    return section


def video_price_per_minute(prices, api: str) -> float:
    """US dollars per minute of video for ``api`` (a ``Get*`` name) in ``PriceTable`` ``prices``.

    Raises ``ValueError`` when the table does not price it.
    """
    per_minute = video_prices(prices)["usd_per_minute"]
    api = video_api_name(api)
    if api not in per_minute:
        raise ValueError(f"the price table {prices.path} has no per-minute price for {api}")
    return float(per_minute[api])


# -- running ---------------------------------------------------------------------------------------

def cancel_aware_sleep(cancel: CancelToken | None, clock: Callable[[], float] = time.monotonic,
                       nap: Callable[[float], None] = time.sleep) -> Callable[[float], None]:
    """A ``sleep(seconds)`` that naps 0.25 s at a time on ``clock`` and returns early once ``cancel`` is set."""
    def sleep(seconds: float) -> None:
        end = clock() + seconds
        while not (cancel is not None and cancel.cancelled):
            left = end - clock()
            if left <= 0:
                return
            nap(min(left, 0.25))
    return sleep


def _client_error(exc: ClientError) -> tuple[str, str]:
    """(code, message) of a botocore ``ClientError``."""
    error = exc.response.get("Error", {})
    return str(error.get("Code", "ClientError")), str(error.get("Message", ""))


def _service_error(operation: str, where: str, code: str, message: str) -> AnalysisError:
    reason = VIDEO_ERRORS.get(code, message or code)
    return AnalysisError(f"{operation} of {where}: {reason} ({code})", code)


class VideoJobs:
    """The Rekognition Video jobs of one S3 video: start, wait, read. ``analyse_video`` is the usual entry.

    ``client``: a boto3 Rekognition client; ``bucket``/``key``: the video;
    ``sha256``: its content hash (tokens and tag); ``notification``,
    ``cancel``, ``sleep``, ``clock``, ``policy``, ``min_confidence``,
    ``validate``, ``on_started``, ``attempts``: as ``analyse_video`` describes. Not
    thread-safe; one instance per video.
    """

    def __init__(self, client, bucket: str, key: str, sha256: str, *, notification: JobNotification | None = None,
                 cancel: CancelToken | None = None, sleep: Callable[[float], None] | None = None,
                 clock: Callable[[], float] = time.monotonic, policy: PollPolicy | None = None,
                 min_confidence: float | None = None,
                 validate: Callable[[str, dict], None] | None = botocore_check,
                 on_started: Callable[[str, str], None] | None = None,
                 attempts: Mapping[str, int] | None = None):
        self.client = client
        self.attempts = dict(attempts or {})
        self.bucket = bucket
        self.key = key
        self.sha256 = sha256
        self.notification = notification
        self.cancel = cancel
        self.sleep = sleep or cancel_aware_sleep(cancel)
        self.clock = clock
        self.policy = policy or PollPolicy()
        self.min_confidence = min_confidence
        self.validate = validate
        self.on_started = on_started
        self.job_ids: dict[str, str] = {}     # api -> JobId of the jobs started
        self._first: dict[str, dict] = {}     # api -> first Get* page of a finished job
        self._deadline = 0.0

    @property
    def where(self) -> str:
        """``s3://bucket/key`` (for messages)."""
        return f"s3://{self.bucket}/{self.key}"

    def _cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.cancelled

    # -- start -----------------------------------------------------------------------------
    def start(self, spec: VideoJobSpec) -> str:
        """Start (or, with the same token, find again) ``spec``'s job; returns its ``JobId``.

        A refused start is retried ``policy.start_rounds`` times after a back-off
        pause when the code is in ``RETRY_START``. Raises ``AnalysisError``
        with the service's error code, ``AnalysisCancelled`` when cancelled
        while waiting to retry.
        """
        params = start_params(spec, self.bucket, self.key, self.sha256, notification=self.notification,
                              min_confidence=self.min_confidence, attempt=self.attempts.get(spec.api, 0))
        delays = iter(self.policy.delays())
        for attempt in range(1, max(1, self.policy.start_rounds) + 1):
            try:
                job_id = str(spec.start(self.client, **params)["JobId"])
            except ClientError as exc:
                code, message = _client_error(exc)
                if code in RETRY_START and attempt < self.policy.start_rounds:
                    self.sleep(next(delays))
                    if self._cancelled():
                        raise AnalysisCancelled(f"cancelled before {spec.start_op} of {self.where}") from exc
                    continue
                raise _service_error(spec.start_op, self.where, code, message) from exc
            self.job_ids[spec.api] = job_id
            if self.on_started is not None:
                self.on_started(spec.api, job_id)
            return job_id
        raise AssertionError("unreachable")  # pragma: no cover

    # -- wait ------------------------------------------------------------------------------
    def _status(self, spec: VideoJobSpec) -> str:
        """Read the job's status with its first ``Get*`` page (kept when the job is done); raises
        ``VideoJobFailed`` for a FAILED job, ``AnalysisError`` for a refused call."""
        job_id = self.job_ids[spec.api]
        try:
            page = spec.get(self.client, JobId=job_id, MaxResults=self.policy.page_size, **spec.get_params)
        except ClientError as exc:
            raise _service_error(spec.api, self.where, *_client_error(exc)) from exc
        status = str(page.get("JobStatus", ""))
        if status == "FAILED":
            raise VideoJobFailed(spec.api, job_id, page.get("StatusMessage"))
        if status == "SUCCEEDED":
            self._first[spec.api] = page
        return status

    def _poll_round(self, pending: dict[str, VideoJobSpec], out: dict[str, dict | AnalysisError]) -> None:
        """One ``Get*`` status call per pending job; finished or failed ones leave ``pending``."""
        for api, spec in list(pending.items()):
            try:
                if self._status(spec) != "SUCCEEDED":
                    continue
            except AnalysisError as exc:
                if exc.code in RETRY_START:  # throttled past botocore's retries: ask again next round
                    log.info("status of %s job %s throttled; asking again later", api, self.job_ids[api])
                    continue
                out[api] = exc
            del pending[api]

    def _expired(self, pending: dict[str, VideoJobSpec], out: dict[str, dict | AnalysisError]) -> bool:
        """Past the deadline: every pending job answers ``VideoJobTimeout``; returns True then."""
        if self.clock() < self._deadline:
            return False
        for api in list(pending):
            out[api] = VideoJobTimeout(api, self.job_ids[api], self.policy.timeout_s)
            del pending[api]
        return True

    def _cancel_pending(self, pending: dict[str, VideoJobSpec], out: dict[str, dict | AnalysisError]) -> None:
        for api in list(pending):
            out[api] = AnalysisCancelled(
                f"cancelled while Rekognition Video job {self.job_ids[api]} ({api}) of {self.where} ran; the job "
                f"goes on at AWS and is billed; importing again sends the same ClientRequestToken, which "
                f"Rekognition answers with this job instead of a new one")
            del pending[api]

    def wait_polling(self, pending: dict[str, VideoJobSpec], out: dict[str, dict | AnalysisError]) -> None:
        """Poll ``Get*`` for the ``pending`` jobs with exponential back-off until each is done, failed,
        timed out or cancelled; errors go to ``out``."""
        delays = iter(self.policy.delays())
        while pending:
            if self._cancelled():
                self._cancel_pending(pending, out)
                return
            self._poll_round(pending, out)
            if not pending or self._expired(pending, out):
                return
            self.sleep(min(next(delays), max(0.0, self._deadline - self.clock())))

    def wait_queue(self, pending: dict[str, VideoJobSpec], out: dict[str, dict | AnalysisError]) -> None:
        """Read the SQS queue for the ``pending`` jobs' completion messages (deleting ours), reading their
        status with ``Get*`` on each message and every ``policy.sqs_check_s``; errors go to ``out``. A queue
        that cannot be read (deleted, no permission) is logged and the jobs are polled instead."""
        notification = self.notification
        assert notification is not None and notification.listens
        by_job = {self.job_ids[api]: api for api in pending}
        last_check = self.clock()
        wait = int(min(20, max(1, self.policy.sqs_wait_s)))
        while pending:
            if self._cancelled():
                self._cancel_pending(pending, out)
                return
            if self._expired(pending, out):
                return
            try:
                reply = notification.sqs.receive_message(QueueUrl=notification.queue_url, MaxNumberOfMessages=10,
                                                         WaitTimeSeconds=wait)
            except ClientError as exc:  # queue gone, no permission: the jobs still end, so poll them
                log.warning("cannot read the SQS queue %s (%s); polling the Rekognition Video jobs instead",
                            notification.queue_url, _client_error(exc)[0])
                self.wait_polling(pending, out)
                return
            heard: dict[str, VideoJobSpec] = {}
            for message in reply.get("Messages", []):
                note = parse_notification(message.get("Body", ""))
                api = by_job.get(note["JobId"]) if note else None
                if api is None:
                    continue  # another job's: it becomes visible again for its owner
                try:
                    notification.sqs.delete_message(QueueUrl=notification.queue_url,
                                                    ReceiptHandle=message["ReceiptHandle"])
                except ClientError as exc:  # it comes back after the visibility timeout and is ignored then
                    log.warning("cannot delete the SQS message of job %s: %s", self.job_ids[api],
                                _client_error(exc)[0])
                if api in pending:
                    heard[api] = pending[api]
            if heard:
                told = set(heard)
                self._poll_round(heard, out)  # leaves in ``heard`` the jobs Get* still calls IN_PROGRESS
                for api in told - set(heard):
                    del pending[api]
            if pending and self.clock() - last_check >= self.policy.sqs_check_s:
                last_check = self.clock()
                self._poll_round(pending, out)

    # -- read ------------------------------------------------------------------------------
    def read(self, spec: VideoJobSpec) -> dict:
        """Every page of the finished job of ``spec``, merged (``merge_pages``) and validated.

        Raises ``AnalysisError`` for a refused call, ``AnalysisCancelled`` when
        cancelled between pages, ``InvalidVideoResponse`` when the merged
        response fails ``validate``.
        """
        job_id = self.job_ids[spec.api]
        first = self._first.get(spec.api)
        if first is None:
            self._status(spec)
            first = self._first[spec.api]
        pages = [first]
        while pages[-1].get("NextToken"):
            if self._cancelled():
                raise AnalysisCancelled(f"cancelled while reading the results of job {job_id} ({spec.api}); "
                                        f"importing again reads them without paying twice")
            try:
                page = spec.get(self.client, JobId=job_id, MaxResults=self.policy.page_size,
                                NextToken=pages[-1]["NextToken"], **spec.get_params)
            except ClientError as exc:
                raise _service_error(spec.api, self.where, *_client_error(exc)) from exc
            pages.append(page)
        merged = merge_pages(spec, pages)
        if self.validate is not None:
            try:
                self.validate(spec.api, merged)
            except ValueError as exc:
                raise InvalidVideoResponse(spec.api, str(exc), merged) from exc
        return merged

    # -- all -------------------------------------------------------------------------------
    def run(self, apis: Iterable[str]) -> dict[str, dict | AnalysisError]:
        """Start the jobs of ``apis``, wait for them, read them: ``Get*`` name -> merged response or error.

        Raises ``ValueError`` for an API that is not a Rekognition Video
        ``Get*`` name, ``AnalysisCancelled`` when cancelled before any job
        was started.
        """
        specs = []
        for api in dict.fromkeys(video_api_name(a) for a in apis):
            specs.append(VIDEO_JOBS[api])
        if self._cancelled():
            raise AnalysisCancelled(f"cancelled before any Rekognition Video job of {self.where}")
        out: dict[str, dict | AnalysisError] = {}
        pending: dict[str, VideoJobSpec] = {}
        self._deadline = self.clock() + self.policy.timeout_s
        for spec in specs:
            if self._cancelled():
                out[spec.api] = AnalysisCancelled(f"cancelled before {spec.start_op} of {self.where}")
                continue
            try:
                self.start(spec)
            except AnalysisError as exc:
                out[spec.api] = exc
                continue
            pending[spec.api] = spec
        if pending:
            if self.notification is not None and self.notification.listens:
                self.wait_queue(pending, out)
            else:
                self.wait_polling(pending, out)
        for spec in specs:
            if spec.api in out:
                continue
            try:
                out[spec.api] = self.read(spec)
            except AnalysisError as exc:
                out[spec.api] = exc
        return {spec.api: out[spec.api] for spec in specs}


def analyse_video(client, bucket: str, key: str, apis: Iterable[str], *, fmt: str | None, sha256: str,
                  notification: JobNotification | None = None, cancel: CancelToken | None = None,
                  sleep: Callable[[float], None] | None = None, clock: Callable[[], float] = time.monotonic,
                  policy: PollPolicy | None = None, min_confidence: float | None = None,
                  validate: Callable[[str, dict], None] | None = botocore_check,
                  on_started: Callable[[str, str], None] | None = None,
                  attempts: Mapping[str, int] | None = None) -> dict[str, dict | AnalysisError]:
    """Analyse the video ``s3://bucket/key`` with Rekognition Video; returns ``Get*`` name -> response or error.

    ``apis``: ``Get*`` operation names (``GetLabelDetection``,
    ``GetTextDetection``, ``GetFaceDetection``, ``GetCelebrityRecognition``,
    ``GetContentModeration``; ``str`` enum members with those values work
    too); each answer is every page merged into one response in that
    operation's shape (``JobStatus`` SUCCEEDED, ``VideoMetadata``, the items
    with ``Timestamp`` in ms, the model version), or an ``AnalysisError``
    for that API (``VideoJobFailed``, ``VideoJobTimeout``,
    ``InvalidVideoResponse``, ``AnalysisCancelled``, or the service's error
    code) while the others carry on.

    ``fmt``: the video's container as the caller knows it (``MP4``, ``MOV``,
    ``video/quicktime``...); any other raises ``UnsupportedVideoFormat``
    before any call. ``sha256``: the video's content hash (the idempotent
    ``ClientRequestToken`` and the ``JobTag``). ``notification``: SNS topic,
    role and SQS queue (see the module docstring), None to poll.
    ``cancel``: a ``tasks.CancelToken`` checked between calls and while
    waiting (jobs already started keep running at AWS). ``sleep(seconds)``
    and ``clock()`` (monotonic seconds) are injectable for tests; the
    default sleep wakes on cancel. ``policy``: back-off, timeout, page size.
    ``min_confidence``: ``MinConfidence`` of label and moderation jobs.
    ``validate(operation, response)``: raises ``ValueError`` for an invalid
    merged response (the engine passes
    ``mediaapp.analysis.validate.validate_response``; default
    ``botocore_check``; None skips). ``on_started(api, job_id)`` is called
    once per job started (the job is billed from then on: commit its budget
    reservation there). ``attempts``: ``Get*`` name -> attempt number of its
    ``ClientRequestToken`` (``request_token``; missing: 0).
    """
    check_format(fmt)
    runner = VideoJobs(client, bucket, key, sha256, notification=notification, cancel=cancel, sleep=sleep,
                       clock=clock, policy=policy, min_confidence=min_confidence, validate=validate,
                       on_started=on_started, attempts=attempts)
    return runner.run(apis)


def on_device_reason(config, fmt: str | None) -> str | None:
    """Why a video of container ``fmt`` cannot go to Rekognition Video with ``CloudConfig`` ``config``; None
    when it can (MP4 or MOV, and videos are uploaded to an S3 bucket: ``config.uses_s3``).

    The import pipeline then analyses it on-device and says why; the cost
    estimate counts it as free. Never raises.
    """
    if video_format(fmt) is None:
        return f"Rekognition Video reads only MP4 and MOV videos, not {fmt or 'this format'}"
    if not config.uses_s3:
        return "Rekognition Video reads videos from S3 only, and this library has no bucket (or uploads are off)"
    return None
