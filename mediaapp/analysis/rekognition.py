"""The ``rekognition`` engine: Amazon Rekognition DetectLabels, DetectText, RecognizeCelebrities and DetectFaces.

How one image goes (``analyse_many``, run in one of ``max_concurrency``
threads of the importing process):

1. An API whose paid answer for these bytes and parameters failed
   validation before is not bought again: it is kept in the usage ledger's
   quarantine and answers ``AnalysisError(code="InvalidResponse")`` at once
   (unless the run re-analyses: ``begin_run(reanalyse=True)``). The price of
   each other API is *reserved* against the run and month budgets
   (``mediaapp.cloud.pricing.Budget``); an API that would pass a budget
   answers ``AnalysisError(code="BudgetExceeded")`` without any call, and the
   library stops the run.
2. The image is made available to the service. With a bucket configured and
   ``upload`` ``original`` or ``proxy``, it is uploaded here, in the worker
   thread (so uploads run in parallel, and only images that still need an
   analysis are ever uploaded): HeadObject first, skipped when present (keys
   are content-addressed, see ``mediaapp.storage.s3``). Originals Rekognition
   cannot read from S3 (not JPEG/PNG, over 15 MB, a side over 10000 px) go as
   a JPEG proxy instead. The request then names the ``S3Object`` -- only when
   the bucket is in the Rekognition client's region (checked once with
   GetBucketLocation); otherwise, or without a bucket, the image travels as
   request ``Bytes``: the file itself when it is a JPEG/PNG within 5 MB,
   else a JPEG re-encoded and downscaled until it fits. Uploaded bytes and
   files are reported to the ``mediaapp.cloud.transfers`` watches of the
   process (the CLI's and the GUI's progress), and the key written is
   recorded in the usage ledger. A cancel (the run's token given to
   ``begin_run``, or a watch's token) aborts the upload in flight (a
   multipart upload is aborted, nothing partial stays) and stops the image
   before any paid call: ``AnalysisCancelled``, not an error of the image.
3. Each API is called through the shared client (botocore adaptive retries)
   after a process-wide rate limiter (``tps`` calls per second). Throttling
   that outlasts botocore's retries is backed off and retried here
   (``THROTTLE_ROUNDS`` times); it never stops the run. A service error
   (InvalidImageFormatException, ImageTooLargeException,
   InvalidS3ObjectException, AccessDeniedException...) becomes an
   ``AnalysisError`` carrying the service code and a plain-words reason: one
   error row for that image and API; the run goes on.
4. A successful call is committed to the usage ledger; a failed one releases
   its reservation (Rekognition does not bill failed calls). A paid answer
   is checked against botocore's output shape
   (``mediaapp.analysis.validate``); one that fails is billed, kept in the
   ledger's quarantine with its payload, and reported as ``InvalidResponse``.
5. With ``delete_after``, the S3 copy is deleted (and marked deleted in the ledger).

``prepare_ref`` (called by the library before the run) only attaches the
asset's name, date, format, media kind and duration to the ``ImageRef``; it
never touches the network.

A video (its ``Get*`` APIs: GetLabelDetection, GetTextDetection,
GetFaceDetection, GetCelebrityRecognition, GetContentModeration, which the
pipeline asks for in place of the image APIs, ``core.apis.apis_for_media``) goes to Rekognition
Video (``analyse_video``): each API's price, its billed minutes times the
per-minute price (``pricing.video_usd``), is reserved; the original MP4/MOV is
uploaded (content-addressed key, skipped when present); one ``Start*`` job per
API runs on the S3 object (``mediaapp.cloud.video_jobs``: idempotent
``ClientRequestToken``, SNS/SQS or polling); a job's reservation is committed
with its ``JobId`` when it starts (the ledger counts a ``JobId`` once, so a job
Rekognition hands back for a repeated token is never counted twice) and the
others are released; an answer failing validation is quarantined. Only MP4
and MOV with a bucket go there (``video_refusal``); the pipeline gives other
videos to the on-device engine. The job waits in its worker thread: thread
tasks are not timed by the worker pool, and the wait is bounded by
``PollPolicy.timeout_s`` and the run's cancel token.

Caching is the library's: responses are stored per (sha256, api, engine,
params) and the engine is only called for missing ones, so a re-import, a
rename, a copy or a move makes no call at all.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from mediaapp.analysis.engine_base import (
    AnalysisCancelled,
    AnalysisError,
    AnalysisParams,
    EngineBase,
    EngineContext,
    EngineDescriptor,
    EngineUnavailableError,
    ImageRef,
    Results,
)
from mediaapp.cloud import clients, transfers
from mediaapp.cloud.config import CloudConfig
from mediaapp.cloud.pricing import LEDGER_FILE, Budget, Ledger, PriceTable, params_for_config, priced_calls
from mediaapp.core.analysis import CLOUD_ENGINE, FACE_COLLECTION
from mediaapp.core.apis import on_by_default, spec
from mediaapp.core.responses import box_iou
from mediaapp.core.types import Api, Asset, BoundingBox, Json
from mediaapp.fsio import open_regular

log = logging.getLogger(__name__)

#: Rekognition's largest image sent as request Bytes (API reference, Image.Bytes: max length 5242880).
MAX_BYTES = 5 * 1024 * 1024
#: Rekognition's largest image read from S3 (Developer Guide, "Guidelines and quotas": 15 MB).
MAX_S3_BYTES = 15 * 1024 * 1024
#: Largest side sent (Developer Guide quotas: 10000 px is the largest dimension the image APIs list).
MAX_SIDE = 10000
#: The image formats Rekognition reads (PIL format names).
READABLE_FORMATS = ("JPEG", "PNG")
#: Error codes that mean "slow down" (retried here after botocore's own retries).
THROTTLING = ("ThrottlingException", "ProvisionedThroughputExceededException", "LimitExceededException",
              "TooManyRequestsException", "RequestLimitExceeded")
#: Extra rounds (with exponential backoff starting at ``THROTTLE_BACKOFF_S``, capped at 30 s) after throttling.
THROTTLE_ROUNDS = 6
THROTTLE_BACKOFF_S = 1.0

#: Plain-words reasons by Rekognition error code.
REKOGNITION_ERRORS = {
    "InvalidImageFormatException": "Rekognition cannot read this image (it only reads JPEG and PNG)",
    "ImageTooLargeException": "the image is larger than Rekognition accepts (5 MB as bytes, 15 MB from S3)",
    "InvalidS3ObjectException": "Rekognition could not read the uploaded copy in S3 (the bucket must be in "
                                "the same region, and the object readable by your identity)",
    "AccessDeniedException": "your AWS identity is not allowed to call Rekognition "
                             "(the IAM policy needs rekognition:DetectLabels, DetectText, RecognizeCelebrities "
                             "and, when asked for, DetectFaces or DetectModerationLabels)",
    "InvalidParameterException": "Rekognition refused the request parameters (an image smaller than 80 pixels, "
                                 "or an invalid option)",
    "InternalServerError": "Rekognition had an internal error; importing again retries this image",
    "UnrecognizedClientException": "the AWS credentials are not valid for Rekognition",
    "InvalidSignatureException": "the AWS secret key does not match the access key",
    "ExpiredTokenException": "your AWS session has expired (log in again, e.g. aws sso login)",
    "ThrottlingException": "Rekognition kept throttling; importing again retries this image",
    "ResourceNotFoundException": "the face collection does not exist in this account and region (deleted, or "
                                 "another region): enrol someone again to make it",
    "ProvisionedThroughputExceededException": "the account's Rekognition TPS quota kept being exceeded; "
                                              "lower the concurrency or tps setting",
}

#: DetectModerationLabels' MinConfidence (0-100): Rekognition's documented default, sent explicitly.
MODERATION_MIN_CONFIDENCE = 50.0

#: SearchFaces' FaceMatchThreshold when naming faces from the face collection (Similarity 0-100): Rekognition's
#: own default (80), the same as the on-device engine's ``face_match_threshold``.
COLLECTION_MATCH_THRESHOLD = 80.0

#: The error code of a paid answer that failed validation (the same code ``mediaapp.analysis.analysis_worker`` uses).
INVALID_RESPONSE = "InvalidResponse"


@dataclass(frozen=True)
class CloudImageRef(ImageRef):
    """An ``ImageRef`` with what the upload needs: file ``name``, ``taken_at`` (ISO), ``format`` (the asset's: PIL's
    name, or the video container ``MP4``/``MOV``...), ``size`` bytes, ``media_kind`` (``image``/``video``) and a
    video's ``duration_ms`` (its price)."""

    name: str | None = None
    taken_at: str | None = None
    format: str | None = None
    size: int | None = None
    media_kind: str = "image"
    duration_ms: int | None = None


class RateLimiter:
    """At most ``rate`` acquisitions per second across threads, evenly spaced ``1/rate`` seconds apart.

    ``clock`` (seconds, monotonic) and ``sleep(seconds)`` default to
    ``time.monotonic`` and ``time.sleep``; tests pass fakes.
    """

    def __init__(self, rate: float, clock=time.monotonic, sleep=time.sleep):
        self.interval = 1.0 / float(rate)
        self._next = float("-inf")
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep

    def acquire(self) -> float:
        """Wait for the next slot; returns the seconds waited (0.0 when a slot was free)."""
        with self._lock:
            now = self._clock()
            at = max(now, self._next)
            self._next = at + self.interval
        if at > now:
            self._sleep(at - now)
        return max(0.0, at - now)


def explain_rekognition_error(code: str, message: str) -> str:
    """A plain-words reason for a Rekognition error ``code`` (the service ``message`` is appended)."""
    reason = REKOGNITION_ERRORS.get(code, f"Rekognition error {code}")
    return f"{reason}: {message}" if message else reason


class RekognitionEngine(EngineBase):
    """Amazon Rekognition as an analysis engine (name ``rekognition``; runs in threads).

    Built from a ``CloudConfig`` dict (``**config``). Raises
    ``EngineUnavailableError`` when the config is invalid or no AWS
    credentials can be found (checked locally, without a network call).
    """

    descriptor = EngineDescriptor(
        name=CLOUD_ENGINE,
        title="Amazon Rekognition (needs AWS credentials; costs money)",
        # the Get* APIs: Rekognition Video on MP4/MOV in the bucket; videos get them in place of the image APIs
        # (ApiSpec.video), so they are not in default_apis
        apis=(Api.DETECT_LABELS, Api.DETECT_TEXT, Api.RECOGNIZE_CELEBRITIES, Api.DETECT_FACES,
              Api.DETECT_MODERATION_LABELS, Api.GET_LABEL_DETECTION, Api.GET_TEXT_DETECTION,
              Api.GET_FACE_DETECTION, Api.GET_CELEBRITY_RECOGNITION, Api.GET_CONTENT_MODERATION),
        # paid: DetectFaces and DetectModerationLabels are opt-in here (ApiSpec.paid_default), asked for only
        # when a run names them
        default_apis=on_by_default((Api.DETECT_LABELS, Api.DETECT_TEXT, Api.RECOGNIZE_CELEBRITIES, Api.DETECT_FACES,
                                    Api.DETECT_MODERATION_LABELS), paid=True),
        needs_network=True,
        costs_money=True,
        cost_model="per image and API, in monthly volume tiers; videos per minute and API (resources/prices.json)",
        options=tuple(f.name for f in dataclasses.fields(CloudConfig) if f.name != "ledger_path"),
        version="3.0",
    )
    executor = "thread"
    #: Default thread count; each instance uses its config's ``max_concurrency``.
    max_concurrency = 4

    def __init__(self, **config):
        #: FaceId -> person name of the faces enrolled in ``face_collection`` (the library passes them:
        #: ``mediaapp.services.face_collection.FaceCollection.people``); names never leave mediaapp.
        self.collection_people: dict[str, str] = dict(config.pop("collection_people", None) or {})
        try:
            self.config = CloudConfig.from_dict(config)
        except (TypeError, ValueError) as exc:
            raise EngineUnavailableError(f"the rekognition settings are invalid: {exc}") from exc
        self.max_concurrency = int(self.config.max_concurrency)
        try:
            self.prices = PriceTable.load(self.config.prices_path)
        except (OSError, ValueError) as exc:
            raise EngineUnavailableError(f"cannot read the price table: {exc}") from exc
        if clients._factory is None:
            self._check_credentials()
        self.ledger = Ledger(self.config.ledger_path) if self.config.ledger_path else None
        self.budget = Budget(self.prices, self.ledger, self.config.budget_per_run, self.config.budget_per_month)
        self.limiter = RateLimiter(self.config.tps)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._store = None
        self._s3_usable: bool | None = None
        self._run_cancel = None
        self._reanalyse = False

    def _check_credentials(self) -> None:
        from botocore.exceptions import BotoCoreError

        try:
            creds = clients.session(self.config).get_credentials()
        except BotoCoreError as exc:
            raise EngineUnavailableError(f"cannot load AWS credentials: {exc}") from exc
        if creds is None:
            raise EngineUnavailableError("no AWS credentials found: set up a profile (aws configure / aws sso "
                                         "login) or the AWS_ACCESS_KEY_ID environment variables")

    # -- library hooks -----------------------------------------------------------------------
    @classmethod
    def configure(cls, context: EngineContext) -> Json:
        """The library's ``engine_config.rekognition`` section, with the month budget's ledger in the library."""
        return {**super().configure(context), "ledger_path": str(context.root / LEDGER_FILE)}

    @classmethod
    def request_params(cls, params: AnalysisParams, config: Json) -> AnalysisParams:
        """``params`` plus the options of ``config`` that change answers (IMAGE_PROPERTIES), for the cache key.

        Raises ``EngineUnavailableError`` when ``config`` is not a valid ``CloudConfig``.
        """
        try:
            cloud = CloudConfig.from_dict(config)
        except (TypeError, ValueError) as exc:
            raise EngineUnavailableError(f"the rekognition settings are invalid: {exc}") from exc
        return params_for_config(params, cloud)

    def begin_run(self, planned: int | None = None, cancel=None, reanalyse: bool = False) -> None:
        """A new import run starts: resets the per-run budget.

        ``planned`` (images) is informative. ``cancel`` is the run's
        ``CancelToken``: once set, uploads in flight are aborted and no
        further paid call is made. ``reanalyse`` True buys again even the
        answers kept in quarantine.
        """
        self.budget.begin_run()
        self._run_cancel = cancel
        self._reanalyse = bool(reanalyse)

    def close(self) -> None:
        """Release the usage ledger and the S3 transfer threads (both reopen if the engine is used again)."""
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()
        if self.ledger is not None:
            self.ledger.close()

    def _cancel(self) -> transfers.WatchedCancel:
        """The token this image's work obeys: the run's and the watching callers'."""
        return transfers.WatchedCancel(self._run_cancel)

    def prepare_ref(self, ref: ImageRef, asset: Asset) -> CloudImageRef:
        """Attach the asset's file name, date, format, size, media kind and duration (no network, no file read)."""
        return CloudImageRef(ref.sha256, ref.path, ref.s3_object, os.path.basename(ref.path or "") or None,
                             asset.taken_at, asset.format, asset.size, asset.media_kind, asset.duration_ms)

    @classmethod
    def video_refusal(cls, asset: Asset, config: Json) -> str | None:
        """Why Rekognition Video cannot take the video ``asset`` with the cloud ``config``
        (``video_jobs.on_device_reason``: not MP4/MOV, or no bucket); None when it can. An invalid config is
        None here (the engine reports it when built)."""
        from mediaapp.cloud.video_jobs import on_device_reason

        try:
            cloud = CloudConfig.from_dict(config)
        except (TypeError, ValueError):
            return None
        return on_device_reason(cloud, asset.format)

    # -- engine interface --------------------------------------------------------------------
    def version(self, api: Api) -> str:
        """``rekognition/<model version>`` of the last answer to ``api`` in this thread (``rekognition`` if none)."""
        found = getattr(self._local, "versions", {}).get(Api(api))
        return f"rekognition/{found}" if found else "rekognition"

    def analyse(self, api: Api, image: ImageRef, params: AnalysisParams) -> dict:
        """Run one API; see ``analyse_many``. Raises ``AnalysisError``."""
        result = self.analyse_many([api], image, params)[Api(api)]
        if isinstance(result, Exception):
            raise result
        return result

    def analyse_many(self, apis: Sequence[Api], image: ImageRef, params: AnalysisParams) -> Results:
        """Analyse one image with each of ``apis`` (see the module docstring for the steps).

        Returns api -> response dict (without ResponseMetadata), or api ->
        ``AnalysisError`` for an API that failed (``AnalysisCancelled`` for
        the calls a cancel stopped). Raises ``AnalysisError`` when the image
        cannot be prepared at all (unreadable, upload failed), and
        ``AnalysisCancelled`` when the run was cancelled before or during
        its upload.
        """
        apis = [Api(a) for a in apis]
        self._local.versions = {}
        out: dict = {}
        held: dict[Api, tuple[list[str], float]] = {}
        cancel = self._cancel()
        if cancel.cancelled:
            raise AnalysisCancelled("the run was cancelled before this image")
        videos = [a for a in apis if spec(a).media == "video"]
        if videos:
            out.update(self._analyse_video(videos, image, params, cancel))
            apis = [a for a in apis if a not in videos]
            if not apis:
                return out
        for api in apis:
            kept = self._quarantined(image.sha256, api, params)
            if kept is not None:
                out[api] = kept
                continue
            entries = priced_calls(api, params)
            try:
                held[api] = (entries, self.budget.reserve(entries))
            except AnalysisError as exc:
                out[api] = exc
        if not held:
            return out
        try:
            request_image, key = self._request_image(image, cancel)
        except BaseException:
            for entries, usd in held.values():
                self.budget.release(entries, usd)
            raise
        try:
            for api, (entries, usd) in held.items():
                if cancel.cancelled:  # nothing more is bought once the user stopped the run
                    self.budget.release(entries, usd)
                    out[api] = AnalysisCancelled("the run was cancelled before this call")
                    continue
                try:
                    response = self._call(api, request_image, params)
                except AnalysisError as exc:
                    self.budget.release(entries, usd)
                    out[api] = exc
                    continue
                except BaseException:
                    self.budget.release(entries, usd)
                    raise
                self.budget.commit(entries, usd, image.sha256)  # billed, valid or not
                if api is Api.RECOGNIZE_CELEBRITIES and params.extra.get(FACE_COLLECTION):
                    try:
                        response = self._name_from_collection(request_image, image.sha256, response,
                                                              str(params.extra[FACE_COLLECTION]))
                    except AnalysisError as exc:
                        out[api] = exc  # retried at the next import (the celebrity call was billed)
                        continue
                out[api] = self._checked(api, image.sha256, params, response)
        finally:
            if key and self.config.delete_after:
                self._delete_quietly(key)
        return out

    # -- paid answers that fail validation ---------------------------------------------------
    def _quarantined(self, sha256: str, api: Api, params: AnalysisParams) -> AnalysisError | None:
        """The error to answer instead of buying ``api`` again, when its paid answer is in quarantine."""
        if self._reanalyse or self.ledger is None:
            return None
        kept = self.ledger.quarantined(sha256, api.value, params.key(api))
        if kept is None:
            return None
        return AnalysisError(f"Rekognition's answer of {kept['at']} failed validation ({kept['reason']}); it was "
                             f"paid for and is kept in {self.ledger.path} (table quarantine), so it is not bought "
                             f"again. Re-analyse to buy a new one.", INVALID_RESPONSE)

    def _checked(self, api: Api, sha256: str, params: AnalysisParams, response: dict):
        """``response`` when it validates; else it goes to quarantine and an ``AnalysisError`` is returned."""
        from mediaapp.analysis.validate import ResponseValidationError, validate_response

        try:
            validate_response(api.value, response)
        except ResponseValidationError as exc:
            return self._quarantine(api, sha256, params, response, str(exc))
        return response

    # -- videos: Rekognition Video -----------------------------------------------------------
    def _analyse_video(self, apis: list[Api], ref: ImageRef, params: AnalysisParams, cancel) -> Results:
        """Analyse the video ``ref`` with the ``Get*`` ``apis`` through Rekognition Video (module docstring).

        Returns api -> merged ``Get*`` response or ``AnalysisError``
        (``BudgetExceeded`` before any upload or call, ``InvalidResponse``
        for a quarantined or invalid answer, ``UnsupportedVideoFormat`` when
        not MP4/MOV, a refused upload's ``S3Error``, a job's own error).
        Raises ``AnalysisCancelled`` when cancelled before any job started.
        """
        from mediaapp.analysis.validate import validate_response
        from mediaapp.cloud.pricing import video_usd
        from mediaapp.cloud.video_jobs import (
            InvalidVideoResponse,
            JobNotification,
            VideoJobFailed,
            analyse_video,
            on_device_reason,
            video_format,
        )
        from mediaapp.storage.s3 import UploadCancelled
        from mediaapp.storage.store_base import StoreError

        if not isinstance(ref, CloudImageRef):  # ``prepare`` attaches the container and duration
            return {api: AnalysisError("the video's container and duration are not known (not prepared for "
                                       "Rekognition); import it again", "UnsupportedVideoFormat") for api in apis}
        fmt, duration_ms = ref.format, ref.duration_ms
        out: Results = {}
        refusal = on_device_reason(self.config, fmt)
        if refusal is None and duration_ms is None:
            refusal = "the video's duration is not known, so its price cannot be reserved; import it again"
        if refusal is None and not ref.path:
            refusal = "the video has no local file to upload"
        if refusal is not None:
            return {api: AnalysisError(refusal, "UnsupportedVideoFormat") for api in apis}
        held: dict[Api, tuple[list[str], float]] = {}
        for api in apis:
            kept = self._quarantined(ref.sha256, api, params)
            if kept is not None:
                out[api] = kept
                continue
            try:
                held[api] = ([api.value], self.budget.reserve_usd([api.value], video_usd(self.prices, api.value,
                                                                                        duration_ms or 0)))
            except AnalysisError as exc:
                out[api] = exc
        if not held:
            return out
        started: set[Api] = set()

        def on_started(name: str, job_id: str) -> None:  # billed from now on: commit, once per JobId
            api = Api(name)
            if api in held and api not in started:
                started.add(api)
                entries, usd = held[api]
                self.budget.commit(entries, usd, ref.sha256, job_id=job_id)

        key = None
        container = video_format(fmt)
        try:
            if not self._s3_same_region():
                raise AnalysisError(f"Rekognition Video reads videos only from a bucket in its own region, and "
                                    f"{self.config.bucket} is in another one", "InvalidS3ObjectException")
            store = self.store()
            key = store.key_for(ref.sha256, ".mov" if container == "MOV" else ".mp4")
            name = ref.name or os.path.basename(ref.path or "")
            try:
                result = store.upload(key, str(ref.path), sha256=ref.sha256,
                                      content_type="video/quicktime" if container == "MOV" else "video/mp4",
                                      metadata={"name": name, "taken_at": ref.taken_at,
                                                "original-sha256": ref.sha256},
                                      progress=transfers.report_bytes, cancel=cancel)
            except UploadCancelled as exc:
                raise AnalysisCancelled(f"upload cancelled: {exc}") from exc
            except StoreError as exc:
                raise AnalysisError(f"upload to S3 failed: {exc}", "S3Error") from exc
            if self.ledger is not None:
                self.ledger.record_object(self.config.bucket or "", key, ref.sha256)
            transfers.report_file(result.uploaded)
            notification = JobNotification.from_config(
                self.config, clients.client("sqs", self.config) if self.config.video_sqs_queue_url else None)
            attempts = {} if self.ledger is None else {  # a new token after a FAILED job or on re-analysis
                a.value: self.ledger.video_attempt(ref.sha256, a.value, again=self._reanalyse) for a in held}
            answers = analyse_video(self._client(), self.config.bucket or "", key, [a.value for a in held],
                                    fmt=container, sha256=ref.sha256, notification=notification, cancel=cancel,
                                    min_confidence=float(params.min_confidence), validate=validate_response,
                                    on_started=on_started, attempts=attempts)
        except AnalysisCancelled:
            raise
        except AnalysisError as exc:
            answers = {a.value: exc for a in held if a not in started}
        finally:
            for api, (entries, usd) in held.items():
                if api not in started:  # never started: not billed
                    self.budget.release(entries, usd)
        pending = False
        for api in held:
            answer = answers.get(api.value)
            if isinstance(answer, VideoJobFailed) and self.ledger is not None:
                self.ledger.video_job_failed(ref.sha256, api.value)  # a retry must not get this job back
            if isinstance(answer, InvalidVideoResponse):
                reason = str(answer.__cause__ or answer)  # the validator's report, without the wrapper's prefix
                out[api] = self._quarantine(api, ref.sha256, params, answer.response, reason)
            elif isinstance(answer, dict):
                version = (answer.get("LabelModelVersion") or answer.get("TextModelVersion")
                           or answer.get("ModerationModelVersion"))
                if version:
                    self._local.versions[api] = version
                out[api] = answer
            else:
                out[api] = answer if answer is not None else AnalysisError(
                    f"Rekognition Video gave no answer for {api.value}", "VideoJobFailed")
                pending = pending or api in started  # still running at AWS (timeout, cancel): keep the object
        if key and self.config.delete_after and not pending:
            self._delete_quietly(key)
        return out

    def _quarantine(self, api: Api, sha256: str, params: AnalysisParams, response: dict,
                    reason: str) -> AnalysisError:
        """Keep a paid ``response`` that failed validation (``reason``) in the ledger's quarantine; the error to
        answer instead (``InvalidResponse``)."""
        where = "not kept: no usage ledger is configured"
        if self.ledger is not None:
            self.ledger.quarantine(sha256, api.value, params.key(api), response, reason,
                                   engine_version=self.version(api))
            where = f"kept in {self.ledger.path} (table quarantine) and not bought again"
        return AnalysisError(f"Rekognition answered an invalid {api.value} (paid for; {where}): {reason}",
                             INVALID_RESPONSE)

    # -- calling -----------------------------------------------------------------------------
    def _client(self):
        return clients.client("rekognition", self.config)

    def _invoke(self, method, kwargs: dict, what: str) -> dict:
        """``method(**kwargs)`` (a client method) after the rate limiter, throttling backed off and retried;
        the response without ResponseMetadata. Raises ``AnalysisError`` (service code and plain words) and
        ``EngineUnavailableError`` without credentials; ``what`` names the operation in the log."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
        from botocore.exceptions import ConnectionError as BotoConnectionError

        delay = THROTTLE_BACKOFF_S
        for attempt in range(THROTTLE_ROUNDS + 1):
            self.limiter.acquire()
            try:
                response = method(**kwargs)
                break
            except ClientError as exc:
                err = exc.response.get("Error", {})
                code = str(err.get("Code", "ClientError"))
                if code in THROTTLING and attempt < THROTTLE_ROUNDS:
                    log.info("Rekognition throttled %s; backing off %.1f s", what, delay)
                    time.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                raise AnalysisError(explain_rekognition_error(code, err.get("Message", "")), code) from exc
            except NoCredentialsError as exc:
                raise EngineUnavailableError("no AWS credentials found", "NoCredentials") from exc
            except BotoConnectionError as exc:
                raise AnalysisError(f"cannot reach Rekognition: {exc}", "EndpointConnectionError") from exc
            except BotoCoreError as exc:
                raise AnalysisError(f"Rekognition call failed: {exc}", type(exc).__name__) from exc
        return {k: v for k, v in response.items() if k != "ResponseMetadata"}

    # -- calls outside the image pipeline (CompareFaces, face collections) -------------------------
    def call(self, operation: str, kwargs: dict, *, priced: bool = True, sha256: str | None = None,
             validate: bool = True) -> dict:
        """One Rekognition ``operation`` (its API name, ``CompareFaces``, ``IndexFaces``...) with ``kwargs``.

        ``priced``: the call is billed per image (``resources/prices.json``): its price is reserved against
        the run and month budgets first (``AnalysisError(code="BudgetExceeded")`` without any call when it
        would pass one), committed to the usage ledger (with ``sha256``) when the call succeeds, released when
        it fails. The answer is checked against botocore's output shape (``validate``;
        ``ResponseValidationError``). Raises like ``_invoke``, and ``ValueError`` for an unpriced operation.
        """
        from botocore import xform_name

        from mediaapp.analysis.validate import validate_response

        entries = [operation] if priced else []
        usd = self.budget.reserve(entries) if entries else 0.0
        try:
            response = self._invoke(getattr(self._client(), xform_name(operation)), kwargs, operation)
        except BaseException:
            if entries:
                self.budget.release(entries, usd)
            raise
        if entries:
            self.budget.commit(entries, usd, sha256)
        if validate:
            validate_response(operation, response)
        return response

    def _name_from_collection(self, request_image: dict, sha256: str, response: dict, collection: str) -> dict:
        """``response`` (RecognizeCelebrities) with the faces of the library's people named from ``collection``.

        IndexFaces (up to 100 faces, ExternalImageId = ``sha256``; already reserved and billed with the
        API: ``priced_calls``), then SearchFaces per FaceId (each priced and budgeted here) among the
        enrolled faces (``collection_people``); then DeleteFaces of the faces just indexed (free), so the
        collection holds the enrolled faces only. A face whose best match (Similarity >=
        ``COLLECTION_MATCH_THRESHOLD``) is an enrolled face becomes a CelebrityFaces entry with the
        person's name and MatchConfidence = that Similarity, taking the place of the UnrecognizedFaces
        entry it overlaps (IoU >= 0.5). Raises ``AnalysisError``.
        """
        from mediaapp.core.embeddings import person_id

        records = self.call("IndexFaces", {"CollectionId": collection, "Image": request_image,
                                           "ExternalImageId": sha256, "MaxFaces": 100, "QualityFilter": "AUTO"},
                            priced=False, sha256=sha256).get("FaceRecords", [])
        named: list[tuple[dict, str, float]] = []
        try:
            for record in records if self.collection_people else []:
                matches = self.call("SearchFaces", {"CollectionId": collection, "FaceId": record["Face"]["FaceId"],
                                                    "FaceMatchThreshold": COLLECTION_MATCH_THRESHOLD, "MaxFaces": 100},
                                    sha256=sha256).get("FaceMatches", [])
                best = max((m for m in matches if m["Face"]["FaceId"] in self.collection_people),
                           key=lambda m: m["Similarity"], default=None)
                if best is not None:
                    named.append((record["Face"], self.collection_people[best["Face"]["FaceId"]],
                                  float(best["Similarity"])))
        finally:
            ids = [r["Face"]["FaceId"] for r in records]
            if ids:
                self.call("DeleteFaces", {"CollectionId": collection, "FaceIds": ids}, priced=False)
        if not named:
            return response
        out = {**response, "CelebrityFaces": list(response.get("CelebrityFaces", [])),
               "UnrecognizedFaces": list(response.get("UnrecognizedFaces", []))}
        for face, person, similarity in named:
            overlaps = [(_iou(face.get("BoundingBox", {}), u.get("BoundingBox", {})), i)
                        for i, u in enumerate(out["UnrecognizedFaces"])]
            score, at = max(overlaps, default=(0.0, -1))
            shown = out["UnrecognizedFaces"].pop(at) if score >= 0.5 else {
                "BoundingBox": face.get("BoundingBox", {}), "Confidence": face.get("Confidence", 0.0)}
            out["CelebrityFaces"].append({"Name": person, "Id": person_id(person), "MatchConfidence": similarity,
                                          "Face": shown, "Urls": []})  # Id: as the local engine names people
        return out

    def request_image(self, ref: ImageRef) -> tuple[dict, str | None]:
        """The request ``Image`` for ``ref`` as the pipeline sends it (S3 object, file bytes or a JPEG proxy)
        and the S3 key uploaded for it (None: sent as bytes), which ``forget_upload`` removes again when the
        config says ``delete_after``. Raises ``AnalysisError`` (unreadable image, failed upload)."""
        return self._request_image(ref, self._cancel())

    def forget_upload(self, key: str | None) -> None:
        """Delete ``key`` (from ``request_image``) from the bucket when the config says ``delete_after``."""
        if key and self.config.delete_after:
            self._delete_quietly(key)

    def _call(self, api: Api, request_image: dict, params: AnalysisParams) -> dict:
        kwargs: dict = {"Image": request_image}
        client = self._client()
        if api is Api.DETECT_LABELS:
            if params.max_labels:
                kwargs["MaxLabels"] = int(params.max_labels)
            kwargs["MinConfidence"] = float(params.min_confidence)
            features = params.extra.get("Features")
            if features:
                kwargs["Features"] = [f for f in str(features).split(",") if f]
            method = client.detect_labels
        elif api is Api.DETECT_TEXT:
            method = client.detect_text
        elif api is Api.DETECT_FACES:  # every attribute (age, emotions, eyes, smile...), priced the same
            kwargs["Attributes"] = ["ALL"]
            method = client.detect_faces
        elif api is Api.DETECT_MODERATION_LABELS:
            # Rekognition's own default, sent explicitly: the on-device engine reports from 50 too
            # (mediaapp.analysis.local.moderation.MIN_CONFIDENCE), so the cache key ("") means the same on both.
            kwargs["MinConfidence"] = MODERATION_MIN_CONFIDENCE
            method = client.detect_moderation_labels
        else:
            method = client.recognize_celebrities
        response = self._invoke(method, kwargs, api.value)
        version = (response.get("LabelModelVersion") or response.get("TextModelVersion")
                   or response.get("ModerationModelVersion"))
        if version:
            self._local.versions[api] = version
        return response

    # -- the image ---------------------------------------------------------------------------
    def _request_image(self, ref: ImageRef, cancel=None) -> tuple[dict, str | None]:
        """The request's ``Image`` and the S3 key used (None for Bytes). ``cancel`` aborts an upload."""
        if ref.s3_object:
            return {"S3Object": dict(ref.s3_object)}, None
        if not ref.path:
            raise AnalysisError("the image has no local file to send", "InvalidImageFormatException")
        fmt, size, dims = _probe(ref.path)
        if self.config.uses_s3 and self._s3_same_region():
            key = self._upload(ref, fmt, size, dims, cancel)
            return {"S3Object": {"Bucket": self.config.bucket, "Name": key}}, key
        if fmt in READABLE_FORMATS and size <= MAX_BYTES and max(dims) <= MAX_SIDE:
            with open_regular(ref.path) as f:
                return {"Bytes": f.read()}, None
        return {"Bytes": jpeg_within(ref.path, MAX_BYTES, min(self.config.proxy_max_side, MAX_SIDE),
                                     self.config.proxy_quality)}, None

    def store(self):
        """The ``S3Store`` of the configured bucket (made on first use)."""
        from mediaapp.storage.s3 import S3Store

        with self._lock:
            if self._store is None:
                self._store = S3Store.from_config(self.config)
            return self._store

    def _s3_same_region(self) -> bool:
        """True when the bucket is in the Rekognition client's region (checked once; False: send Bytes)."""
        from mediaapp.storage.store_base import StoreError

        with self._lock:
            known = self._s3_usable
        if known is not None:
            return known
        try:
            bucket_region = self.store().bucket_region()
        except StoreError as exc:
            raise AnalysisError(f"cannot use the bucket {self.config.bucket}: {exc}", "S3Error") from exc
        rek_region = self._client().meta.region_name
        usable = bucket_region == rek_region
        if not usable:
            log.warning("bucket %s is in %s but Rekognition runs in %s: sending image bytes instead",
                        self.config.bucket, bucket_region, rek_region)
        with self._lock:
            self._s3_usable = usable
        return usable

    def _upload(self, ref: ImageRef, fmt: str | None, size: int, dims: tuple[int, int], cancel=None) -> str:
        from mediaapp.storage.s3 import UploadCancelled
        from mediaapp.storage.store_base import StoreError

        try:
            key, uploaded = upload_image(self.store(), self.config, ref.sha256, ref.path,
                                         name=getattr(ref, "name", None), taken_at=getattr(ref, "taken_at", None),
                                         probe=(fmt, size, dims), progress=transfers.report_bytes,
                                         cancel=cancel if cancel is not None else self._cancel())
        except UploadCancelled as exc:
            raise AnalysisCancelled(f"upload cancelled: {exc}") from exc
        except StoreError as exc:
            raise AnalysisError(f"upload to S3 failed: {exc}", "S3Error") from exc
        if self.ledger is not None:
            self.ledger.record_object(self.config.bucket, key, ref.sha256)
        transfers.report_file(uploaded)
        return key

    def _delete_quietly(self, key: str) -> None:
        from mediaapp.storage.store_base import StoreError

        try:
            self.store().delete_key(key)
        except StoreError as exc:  # the analysis is done; a leftover copy is only reported
            log.warning("could not delete %s after analysis: %s", key, exc)
            return
        if self.ledger is not None:
            self.ledger.record_deleted(self.config.bucket, key)


def _iou(a: dict, b: dict) -> float:
    """Intersection over union of two Rekognition BoundingBox dicts (ratios; ``core.responses.box_iou``);
    0.0 when either is empty or incomplete."""
    try:
        return box_iou(BoundingBox.from_rekognition(a), BoundingBox.from_rekognition(b))
    except (KeyError, TypeError, ValueError):
        return 0.0


def upload_image(store, config: CloudConfig, sha256: str, path: str, *, name: str | None = None,
                 taken_at: str | None = None, probe: tuple | None = None, progress=None,
                 cancel=None) -> tuple[str, bool]:
    """Put the image at ``path`` (bytes hashing to ``sha256``) in ``store`` the way ``config`` says.

    ``upload`` ``original`` sends the file itself when Rekognition can read
    it from S3 (JPEG/PNG, at most 15 MB and 10000 px a side); otherwise, and
    for ``proxy``, a JPEG of at most ``proxy_max_side`` px is rendered (only
    when its key is not in the bucket yet). Metadata: ``name``, ``taken_at``
    and ``original-sha256``. ``probe`` is ``(format, size, (w, h))`` when
    already known. Returns ``(key, uploaded)``; ``uploaded`` is False when
    the object was already there. Raises ``StoreError`` (``UploadCancelled``
    when ``cancel`` is set) and ``AnalysisError`` for an unreadable image.
    """
    from mediaapp.storage.s3 import sha256_bytes

    fmt, size, dims = probe or _probe(path)
    metadata = {"name": name or os.path.basename(path), "taken_at": taken_at, "original-sha256": sha256}
    if config.upload == "original" and fmt in READABLE_FORMATS and size <= MAX_S3_BYTES and max(dims) <= MAX_SIDE:
        ext = ".png" if fmt == "PNG" else ".jpg"
        key = store.key_for(sha256, ext)
        result = store.upload(key, path, sha256=sha256, content_type="image/png" if fmt == "PNG" else "image/jpeg",
                              metadata=metadata, progress=progress, cancel=cancel)
        return key, result.uploaded
    side = min(int(config.proxy_max_side), MAX_SIDE)
    key = store.key_for(sha256, variant=f"-p{side}")
    if store.head(key) is not None:  # render the proxy only when it is not there yet
        return key, False
    data = jpeg_within(path, MAX_S3_BYTES, side, config.proxy_quality)
    store.upload(key, data, sha256=sha256_bytes(data), metadata=metadata, progress=progress, cancel=cancel,
                 known_missing=True)
    return key, True


def _probe(path: str) -> tuple[str | None, int, tuple[int, int]]:
    """(format, file size in bytes, (width, height)) read from the header. Raises ``AnalysisError``.

    A file another media handler than the image one claims (a camera RAW:
    ``"DNG"``) gives its handler's format and ``(0, 0)``: it is never sent as
    it is, always as a JPEG proxy (``jpeg_within``).
    """
    from mediaapp.ingest.decode import DecodeError, open_image  # also registers the HEIF/AVIF openers
    from mediaapp.ingest.media import sniff_path

    try:
        size = os.path.getsize(path)
        sniffed = sniff_path(path)
        if sniffed is not None and sniffed.handler.kind != "image":
            return sniffed.format, size, (0, 0)
        with open_image(path) as img:
            return img.format, size, img.size
    except (DecodeError, OSError) as exc:
        raise AnalysisError(f"cannot read the image: {exc}", "InvalidImageFormatException") from exc


def jpeg_within(path: str, max_bytes: int, max_side: int, quality: int = 85) -> bytes:
    """The image at ``path`` as an orientation-corrected JPEG of at most ``max_bytes`` and ``max_side`` px.

    Decoded as the engines see it (``media.open_for_analysis``: a camera RAW
    through LibRaw). Downscales by 3/4 (and lowers quality to 70 at most)
    until it fits. Raises ``AnalysisError`` when the image cannot be decoded.
    """
    from mediaapp.ingest.decode import DecodeError
    from mediaapp.ingest.media import open_for_analysis

    try:
        img = open_for_analysis(path, max_side)
    except (DecodeError, OSError) as exc:
        raise AnalysisError(f"cannot decode image: {exc}", "InvalidImageFormatException") from exc
    while True:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=quality, optimize=True)
        data = buf.getvalue()
        if len(data) <= max_bytes or max(img.size) <= 80:
            return data
        quality = min(quality, 70)
        img = img.resize((max(1, img.width * 3 // 4), max(1, img.height * 3 // 4)))
