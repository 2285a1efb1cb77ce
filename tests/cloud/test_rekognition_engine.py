"""The rekognition engine with botocore's Stubber and the real sample responses."""

from __future__ import annotations

import hashlib
import io
import itertools

import pytest
from botocore.exceptions import ParamValidationError
from botocore.stub import ANY
from PIL import Image

from mediaapp.analysis import rekognition as rek
from mediaapp.analysis.engine_base import AnalysisError, AnalysisParams, ImageRef
from mediaapp.analysis.validate import validate_response
from mediaapp.cloud.pricing import Ledger
from mediaapp.core.apis import flatten
from mediaapp.core.types import Api, DetectionKind

from .stubs import SAMPLES, StubbedRekognition, sample

PHOTO = "1_objects/voc/VOC2007/JPEGImages/000001.jpg"


def _ref(testdata, rel=PHOTO) -> ImageRef:
    path = testdata / rel
    return ImageRef(hashlib.sha256(path.read_bytes()).hexdigest(), str(path))


def _engine(**config) -> rek.RekognitionEngine:
    return rek.RekognitionEngine(**{"upload": "none", "tps": 1000, **config})


@pytest.mark.parametrize("rel, operation", SAMPLES)
def test_each_real_sample_travels_through_the_engine(testdata, rel, operation):
    stub = StubbedRekognition()
    response = sample(testdata, rel)
    ref = _ref(testdata)
    raw = (testdata / PHOTO).read_bytes()
    expected = {"Image": {"Bytes": raw}}
    if operation == "DetectLabels":
        expected.update(MaxLabels=20, MinConfidence=55.0)
    stub.respond(operation, response, expected)
    out = _engine().analyse_many([Api(operation)], ref, AnalysisParams(20, 55.0))
    stub.stubber.assert_no_pending_responses()
    assert out[Api(operation)] == response
    validate_response(operation, out[Api(operation)])
    dets = flatten(operation, out[Api(operation)], "rekognition")
    if operation == "DetectLabels":
        boxes = sum(len(label.get("Instances", [])) for label in response["Labels"])
        assert len(dets) == len(response["Labels"]) + boxes
    elif operation == "DetectText":
        assert [d.name for d in dets] == [t["DetectedText"] for t in response["TextDetections"]]
    else:
        people = [d.name for d in dets if d.kind is DetectionKind.PERSON]
        assert people == [c["Name"] for c in response["CelebrityFaces"]]
        faces = [d for d in dets if d.kind is DetectionKind.FACE]
        assert len(faces) == len(response["UnrecognizedFaces"]) and all(f.box for f in faces)


def test_moto_canned_labels_sample_is_not_a_valid_response_as_stored(testdata):
    """moto's canned DetectLabels (as written in its source) has keys the service model does not know
    (``CssColor``, ``PixelPercentage``); the Stubber refuses it. Over HTTP botocore's parser drops them
    (see test_cli_e2e), which is why only the wire form is ever stored."""
    stub = StubbedRekognition()
    with pytest.raises(ParamValidationError, match="CssColor"):
        stub.respond("DetectLabels", sample(testdata, "moto_canned/DetectLabels.json"))


def test_image_properties_feature_is_requested_and_part_of_the_cache_key(testdata):
    stub = StubbedRekognition()
    engine = _engine(image_properties=True)
    params = rek.RekognitionEngine.request_params(AnalysisParams(None, 50.0),
                                                  {"upload": "none", "image_properties": True})
    assert params.key(Api.DETECT_LABELS) != AnalysisParams(None, 50.0).key(Api.DETECT_LABELS)
    stub.respond("DetectLabels", sample(testdata, "awscli/detect-labels.json"),
                 {"Image": ANY, "MinConfidence": 50.0, "Features": ["GENERAL_LABELS", "IMAGE_PROPERTIES"]})
    engine.analyse_many([Api.DETECT_LABELS], _ref(testdata), params)
    stub.stubber.assert_no_pending_responses()


def test_service_errors_become_one_error_per_api_and_the_rest_answers(testdata):
    stub = StubbedRekognition()
    stub.respond("DetectLabels", sample(testdata, "botocore_examples/DetectLabels.json"))
    stub.fail("DetectText", "InvalidImageFormatException", "Request has invalid image format")
    stub.fail("RecognizeCelebrities", "AccessDeniedException", "not authorized", 403)
    out = _engine().analyse_many([Api.DETECT_LABELS, Api.DETECT_TEXT, Api.RECOGNIZE_CELEBRITIES], _ref(testdata),
                                 AnalysisParams())
    assert out[Api.DETECT_LABELS]["Labels"][1]["Name"] == "Person"
    assert isinstance(out[Api.DETECT_TEXT], AnalysisError)
    assert out[Api.DETECT_TEXT].code == "InvalidImageFormatException"
    assert "only reads JPEG and PNG" in str(out[Api.DETECT_TEXT])
    assert out[Api.RECOGNIZE_CELEBRITIES].code == "AccessDeniedException"
    assert "rekognition:DetectLabels" in str(out[Api.RECOGNIZE_CELEBRITIES])


def test_throttling_is_backed_off_and_retried(testdata, monkeypatch):
    monkeypatch.setattr(rek, "THROTTLE_BACKOFF_S", 0.0)
    stub = StubbedRekognition()
    stub.fail("DetectText", "ThrottlingException", "Rate exceeded")
    stub.fail("DetectText", "ProvisionedThroughputExceededException", "TPS")
    stub.respond("DetectText", sample(testdata, "awscli/detect-text.json"))
    out = _engine().analyse_many([Api.DETECT_TEXT], _ref(testdata), AnalysisParams())
    assert [t["DetectedText"] for t in out[Api.DETECT_TEXT]["TextDetections"] if t["Type"] == "LINE"] == \
        ["ESTD 1882", "BRAINS"]
    assert len(stub.calls) == 3


def test_heic_is_sent_as_a_downscaled_jpeg_within_the_bytes_limit(testdata):
    stub = StubbedRekognition()
    stub.respond("DetectLabels", sample(testdata, "botocore_examples/DetectLabels.json"))
    _engine(proxy_max_side=1024).analyse_many(
        [Api.DETECT_LABELS], _ref(testdata, "5_formats/containers/photoprism_iphone_7.heic"), AnalysisParams())
    sent = stub.calls[0][1]["Image"]["Bytes"]
    assert sent[:2] == b"\xff\xd8" and len(sent) <= rek.MAX_BYTES
    with Image.open(io.BytesIO(sent)) as img:
        # 4032x3024 stored, shown portrait (orientation applied, so boxes match the displayed image)
        assert img.size == (768, 1024)


def test_jpeg_within_shrinks_until_it_fits(testdata):
    data = rek.jpeg_within(str(testdata / "5_formats/color_depth/vips_ultra-hdr.jpg"), 200_000, 4000, 90)
    assert len(data) <= 200_000
    with Image.open(io.BytesIO(data)) as img:
        assert img.format == "JPEG" and max(img.size) < 3840


def test_run_budget_stops_before_it_is_exceeded_and_the_ledger_counts(testdata, tmp_path):
    stub = StubbedRekognition()
    for _ in range(2):
        stub.respond("DetectText", sample(testdata, "moto_canned/DetectText.json"))
    ledger_path = tmp_path / "usage.sqlite"
    engine = _engine(budget_per_run=0.0025, ledger_path=str(ledger_path))  # 2 calls at $0.001
    engine.begin_run(3)
    ref = _ref(testdata)
    for _ in range(2):
        assert "TextDetections" in engine.analyse_many([Api.DETECT_TEXT], ref, AnalysisParams())[Api.DETECT_TEXT]
    third = engine.analyse_many([Api.DETECT_TEXT], ref, AnalysisParams())[Api.DETECT_TEXT]
    assert isinstance(third, AnalysisError) and third.code == "BudgetExceeded"
    assert len(stub.calls) == 2  # nothing was sent for the refused call
    ledger = Ledger(ledger_path)
    assert ledger.month_calls(["DetectText"]) == 2 and ledger.month_spend() == pytest.approx(0.002)
    engine.begin_run(1)  # a new run has its own budget, and failed calls are not charged
    stub.fail("DetectText", "InvalidImageFormatException")
    failed = engine.analyse_many([Api.DETECT_TEXT], ref, AnalysisParams())[Api.DETECT_TEXT]
    assert failed.code == "InvalidImageFormatException"
    assert ledger.month_calls(["DetectText"]) == 2 and engine.budget.reserved == pytest.approx(0.0)


def test_month_budget_counts_earlier_runs(testdata, tmp_path):
    ledger_path = tmp_path / "usage.sqlite"
    Ledger(ledger_path).record("DetectLabels", 0.9995)
    StubbedRekognition()
    engine = _engine(budget_per_month=1.0, ledger_path=str(ledger_path))
    out = engine.analyse_many([Api.DETECT_LABELS], _ref(testdata), AnalysisParams())
    assert out[Api.DETECT_LABELS].code == "BudgetExceeded" and "monthly" in str(out[Api.DETECT_LABELS])


class FakeClock:
    """A monotonic clock that only moves when ``sleep`` is called (no real waiting)."""

    def __init__(self, start: float = 100.0):
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rate_limiter_spaces_calls_one_interval_apart():
    clock = FakeClock()
    limiter = rek.RateLimiter(4.0, clock=clock, sleep=clock.sleep)  # 4 calls/s: 0.25 s apart
    starts = []
    for _ in range(5):
        limiter.acquire()
        starts.append(clock.now)
    assert [b - a for a, b in itertools.pairwise(starts)] == pytest.approx([0.25] * 4)
    assert clock.slept == pytest.approx([0.25] * 4) and starts[0] == 100.0  # the first call never waits
    clock.now += 10.0  # idle time is not banked: after a pause, one call goes at once, the next waits again
    assert limiter.acquire() == 0.0 and limiter.acquire() == pytest.approx(0.25)


def test_rate_limiter_is_shared_fairly_by_threads():
    import threading

    lock = threading.Lock()
    waits: list[float] = []
    limiter = rek.RateLimiter(10.0, clock=lambda: 0.0, sleep=lambda s: None)  # time stands still: slots queue up

    def worker():
        for _ in range(5):
            w = limiter.acquire()
            with lock:
                waits.append(w)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(waits) == pytest.approx([i * 0.1 for i in range(20)])  # 20 distinct slots, 0.1 s apart


def test_clients_use_adaptive_retries_and_a_pool_for_every_thread():
    from mediaapp.cloud import clients
    from mediaapp.cloud.config import CloudConfig

    config = CloudConfig(region="eu-west-1", max_attempts=5, max_concurrency=12, endpoint_url="http://127.0.0.1:9")
    client = clients.default_client("rekognition", config)
    assert client.meta.config.retries["mode"] == "adaptive"
    assert client.meta.config.retries["total_max_attempts"] == 5
    assert client.meta.config.max_pool_connections == 24
    assert client.meta.region_name == "eu-west-1"
    s3 = clients.default_client("s3", config)
    assert s3.meta.config.s3["addressing_style"] == "path" and s3.meta.config.retries["mode"] == "adaptive"
    # adaptive mode = retries plus botocore's client-side rate limiter, hooked on the client's events
    hooked = client.meta.events._emitter._handlers.prefix_search("before-send.rekognition.DetectLabels")
    assert "ClientRateLimiter" in {type(getattr(h, "__self__", None)).__name__ for h in hooked}


def test_a_paid_answer_that_fails_validation_is_kept_and_not_bought_again(testdata, tmp_path):
    broken = sample(testdata, "awscli/detect-text.json")
    broken["TextDetections"][0]["Confidence"] = 250.0  # the Stubber's shape check passes; Percent is 0-100
    stub = StubbedRekognition()
    stub.respond("DetectText", broken)
    ledger_path = tmp_path / "usage.sqlite"
    engine = _engine(ledger_path=str(ledger_path))
    engine.begin_run(1)
    ref = _ref(testdata)
    first = engine.analyse_many([Api.DETECT_TEXT], ref, AnalysisParams())[Api.DETECT_TEXT]
    assert isinstance(first, AnalysisError) and first.code == "InvalidResponse"
    assert "TextDetections[0].Confidence" in str(first) and "paid for" in str(first)
    ledger = Ledger(ledger_path)
    assert ledger.month_calls(["DetectText"]) == 1  # it was billed
    kept = ledger.quarantined(ref.sha256, "DetectText", AnalysisParams().key(Api.DETECT_TEXT))
    assert kept["response"] == broken and "Confidence" in kept["reason"]
    again = engine.analyse_many([Api.DETECT_TEXT], ref, AnalysisParams())[Api.DETECT_TEXT]
    assert again.code == "InvalidResponse" and "not bought again" in str(again)
    assert len(stub.calls) == 1 and ledger.month_calls(["DetectText"]) == 1
    engine.begin_run(1, reanalyse=True)  # an explicit re-analysis buys a new answer
    stub.respond("DetectText", sample(testdata, "awscli/detect-text.json"))
    fresh = engine.analyse_many([Api.DETECT_TEXT], ref, AnalysisParams())[Api.DETECT_TEXT]
    assert fresh == sample(testdata, "awscli/detect-text.json") and len(stub.calls) == 2
    engine.close()
    ledger.close()


def test_a_cancelled_run_makes_no_call(testdata):
    from mediaapp.analysis.engine_base import CANCELLED, AnalysisCancelled
    from mediaapp.cloud.transfers import watch_uploads
    from mediaapp.tasks import CancelToken

    stub = StubbedRekognition()
    engine = _engine()
    token = CancelToken()
    engine.begin_run(1, cancel=token)
    token.cancel()
    with pytest.raises(AnalysisCancelled) as raised:
        engine.analyse_many([Api.DETECT_LABELS], _ref(testdata), AnalysisParams())
    assert raised.value.code == CANCELLED and stub.calls == []
    engine.begin_run(1)  # a watching caller's token counts too (the CLI and GUI imports open one)
    other = CancelToken()
    other.cancel()
    with watch_uploads(cancel=other), pytest.raises(AnalysisCancelled):
        engine.analyse_many([Api.DETECT_LABELS], _ref(testdata), AnalysisParams())
    assert stub.calls == [] and engine.budget.reserved == pytest.approx(0.0)


def test_bucket_in_another_region_than_rekognition_means_bytes(testdata, s3_bucket, tmp_path):
    """A bucket in eu-west-1 cannot be read by Rekognition in us-east-1: the image goes as request Bytes, and
    nothing is uploaded."""
    from mediaapp.cloud import clients

    endpoint, _, s3 = s3_bucket
    s3.create_bucket(Bucket="mediaapp-far-away", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    calls: list[str] = []

    def s3_client(config):
        client = clients.default_client("s3", config)
        client.meta.events.register("provide-client-params.s3.*", lambda model, **kw: calls.append(model.name))
        return client

    stub = StubbedRekognition(s3_factory=s3_client)
    raw = (testdata / PHOTO).read_bytes()
    stub.respond("DetectLabels", sample(testdata, "awscli/detect-labels.json"),
                 {"Image": {"Bytes": raw}, "MinConfidence": 50.0})
    engine = _engine(upload="original", bucket="mediaapp-far-away", endpoint_url=endpoint, region="us-east-1")
    try:
        out = engine.analyse_many([Api.DETECT_LABELS], _ref(testdata), AnalysisParams())
        assert out[Api.DETECT_LABELS]["Labels"][0]["Name"] == "Automobile"
        stub.stubber.assert_no_pending_responses()
        assert "PutObject" not in calls and "CreateMultipartUpload" not in calls
        assert s3.list_objects_v2(Bucket="mediaapp-far-away").get("KeyCount") == 0
    finally:
        engine.close()
        s3.delete_bucket(Bucket="mediaapp-far-away")
