"""Videos through real imports with the rekognition engine: an MP4 made with PyAV is uploaded to S3 (moto over
HTTP), analysed by Rekognition Video jobs (botocore's Stubber against the real service model; the text page is
what moto's own GetTextDetection answers), stored in the Get* shapes and found by label with timestamps; a second
import, and a re-run that Rekognition answers with the same JobId, pay nothing more; an AVI, and every video of a
library without a bucket, are analysed on this computer and the run says so; the estimate prices videos per minute
and the budget refuses a job it cannot pay for."""

from __future__ import annotations

import copy
import json

import boto3
import pytest
from botocore.stub import ANY
from PIL import Image
from video.video_support import VOC_PLANES, write_video

from mediaapp.cloud import clients
from mediaapp.cloud.pricing import LEDGER_FILE, Ledger
from mediaapp.cloud.video_jobs import request_token
from mediaapp.core.apis import flatten
from mediaapp.core.types import Api, Query
from mediaapp.library import Library
from mediaapp.services.costs import describe_estimate

from .stubs import StubbedRekognition, run_cli

pytestmark = pytest.mark.slow

LABELS = "4_rekognition/awscli/get-label-detection.json"   # a real GetLabelDetection page (with a NextToken)


@pytest.fixture
def planes(testdata, tmp_path):
    """A folder with ``planes.mp4``: 3 s of MP4 (1 s black, 2 s of a VOC photo of aeroplanes) made with PyAV."""
    folder = tmp_path / "clips"
    folder.mkdir()
    photo = Image.open(testdata / VOC_PLANES).convert("RGB")
    write_video(folder / "planes.mp4", [Image.new("RGB", photo.size), photo, photo])
    return folder


@pytest.fixture
def moto_text(moto_server) -> dict:
    """What moto's own Rekognition Video answers to StartTextDetection / GetTextDetection (a finished job)."""
    moto = boto3.client("rekognition", endpoint_url=moto_server, region_name="us-east-1")
    job = moto.start_text_detection(Video={"S3Object": {"Bucket": "mediaapp-videos", "Name": "k.mp4"}})["JobId"]
    page = moto.get_text_detection(JobId=job)
    page.pop("ResponseMetadata", None)
    page.pop("NextToken", None)
    return page


def _label_pages(testdata) -> list[dict]:
    """The real label page (aeroplanes added at 1.5 s, so the made video is found by them) and a last page."""
    first = json.loads((testdata / LABELS).read_text(encoding="utf-8"))
    first["Labels"].append({"Timestamp": 1500, "Label": {
        "Name": "Airplane", "Confidence": 97.25, "Parents": [{"Name": "Aircraft"}, {"Name": "Vehicle"}],
        "Instances": [{"BoundingBox": {"Width": 0.5, "Height": 0.3, "Left": 0.2, "Top": 0.3}, "Confidence": 97.25}]}})
    last = copy.deepcopy(first)
    del last["NextToken"]
    last["Labels"] = [{"Timestamp": 2500, "Label": {"Name": "Airplane", "Confidence": 95.5, "Parents": [
        {"Name": "Aircraft"}, {"Name": "Vehicle"}], "Instances": []}}]
    return [first, last]


class VideoStub:
    """The Stubber-wrapped Rekognition client, with S3 going to the moto server: queue whole video jobs."""

    def __init__(self):
        self.rek = StubbedRekognition(s3_factory=lambda config: clients.default_client("s3", config))
        self.stubber = self.rek.stubber

    def start(self, api: str, job_id: str) -> None:
        """Queue a ``Start*`` of ``api`` (a ``Get*`` name) answering ``job_id``, whatever its token."""
        method = {"GetLabelDetection": "start_label_detection", "GetTextDetection": "start_text_detection"}[api]
        expected = {"Video": ANY, "ClientRequestToken": ANY, "JobTag": ANY}
        self.stubber.add_response(method, {"JobId": job_id},
                                  {**expected, "MinConfidence": ANY} if api == "GetLabelDetection" else expected)

    def get(self, api: str, page: dict) -> None:
        """Queue one ``Get*`` page of ``api``. The runner starts every job, asks each for its first page, then reads
        the further pages of each job in turn: queue in that order."""
        method = {"GetLabelDetection": "get_label_detection", "GetTextDetection": "get_text_detection"}[api]
        self.stubber.add_response(method, page)

    def starts(self) -> list[tuple[str, dict]]:
        """The ``Start*`` calls made so far: (operation, parameters)."""
        return [c for c in self.rek.calls if c[0].startswith("Start")]


def _library(tmp_path, endpoint=None, bucket=None, **cloud) -> Library:
    config = {"tps": 1000, "max_concurrency": 1, "region": "us-east-1", "upload": "original", **cloud}
    if bucket:
        config.update(bucket=bucket, endpoint_url=endpoint)
    return Library(tmp_path / "lib", settings={"workers": 1, "engines": ["rekognition"],
                                               "engine_config": {"rekognition": config}})


def test_an_mp4_goes_to_rekognition_video_once_and_an_avi_stays_on_this_computer(tmp_path, testdata, planes,
                                                                                s3_bucket, moto_text):
    endpoint, bucket, s3 = s3_bucket
    photo = Image.open(testdata / VOC_PLANES).convert("RGB")
    write_video(planes / "planes.avi", [photo, photo], fps=5)   # not MP4/MOV: Rekognition Video cannot read it
    stub = VideoStub()
    labels = _label_pages(testdata)
    stub.start("GetLabelDetection", "job-labels-1")
    stub.start("GetTextDetection", "job-text-1")
    stub.get("GetLabelDetection", labels[0])
    stub.get("GetTextDetection", moto_text)
    stub.get("GetLabelDetection", labels[1])
    lib = _library(tmp_path, endpoint, bucket)
    try:
        report = lib.import_paths([planes], apis=["labels", "text"])
        assert [(p.path, p.stage) for p in report.failed] == [("rekognition", "analysis:video")]
        stub.stubber.assert_no_pending_responses()
        assert report.failed[0].message == ("1 video(s) analysed on this computer instead: Rekognition Video reads "
                                            "only MP4 and MOV videos, not AVI")
        starts = stub.starts()
        assert [op for op, _ in starts] == ["StartLabelDetection", "StartTextDetection"]
        sha = lib.show(planes / "planes.mp4")["sha256"]
        key = f"mediaapp/{sha[:2]}/{sha}.mp4"
        assert starts[0][1]["Video"] == {"S3Object": {"Bucket": bucket, "Name": key}}
        assert starts[0][1]["ClientRequestToken"] == request_token(sha, "GetLabelDetection", {"MinConfidence": 50.0})
        head = s3.head_object(Bucket=bucket, Key=key)                 # the original, as Rekognition Video reads it
        assert head["ContentType"] == "video/mp4" and head["ContentLength"] == (planes / "planes.mp4").stat().st_size

        shown = lib.show(planes / "planes.mp4")
        assert shown["asset"]["media_kind"] == "video" and abs(shown["asset"]["duration_ms"] - 3000) < 150
        assert shown["analyses"]["GetLabelDetection"][0]["Engine"] == "rekognition"
        stored = shown["GetLabelDetection"]                           # both pages merged, in the Get* shape
        assert stored["JobStatus"] == "SUCCEEDED" and "NextToken" not in stored
        assert stored["Labels"] == labels[0]["Labels"] + labels[1]["Labels"]
        assert shown["GetTextDetection"]["TextDetections"] == moto_text["TextDetections"]
        avi = lib.show(planes / "planes.avi")
        assert avi["analyses"]["GetLabelDetection"][0]["Engine"] == "local"   # analysed on-device

        page = lib.search(Query(labels=("Airplane",)))
        assert sha in {h.sha256 for h in page.hits}
        assert sha in {h.sha256 for h in lib.search(Query(labels=("Aircraft",))).hits}  # through the Parents
        # the timeline (the detail view's video_timeline) flattens the stored answer: each finding at its time
        found = [d for d in flatten(Api.GET_LABEL_DETECTION, stored, "rekognition") if d.name == "Airplane"]
        assert sorted((d.timestamp_ms, d.box is not None) for d in found) == [(1500, False), (1500, True),
                                                                              (2500, False)]
        spent = Ledger(tmp_path / "lib" / LEDGER_FILE)
        assert spent.month_spend() == pytest.approx(0.20)             # 1 minute x 2 analyses x $0.10
        spent.close()
    finally:
        lib.close()

    lib = _library(tmp_path, endpoint, bucket)
    try:  # the same files again: nothing is started (the Stubber has nothing queued: any call would fail)
        report = lib.import_paths([planes], apis=["labels", "text"])
        assert report.cached >= 2 and len(stub.starts()) == 2
        # re-analysed: a deliberate re-buy, so the token's attempt goes up and Rekognition starts a new job
        # (the same token would hand back the old job's answer); that job is billed once
        stub.start("GetLabelDetection", "job-labels-2")
        for page in labels:
            stub.get("GetLabelDetection", page)
        report = lib.import_paths([planes / "planes.mp4"], apis=["labels"], reanalyse=True)
        stub.stubber.assert_no_pending_responses()
        again = stub.starts()[-1]
        assert again[0] == "StartLabelDetection"
        assert again[1]["ClientRequestToken"] == request_token(sha, "GetLabelDetection", {"MinConfidence": 50.0}, 1)
        assert not [p for p in report.failed if p.stage != "analysis:video"]
        spent = Ledger(tmp_path / "lib" / LEDGER_FILE)
        assert spent.month_spend() == pytest.approx(0.30)
        spent.close()
    finally:
        lib.close()


def test_without_a_bucket_videos_are_analysed_on_this_computer(tmp_path, planes):
    stub = VideoStub()   # nothing queued: a Rekognition call would fail
    lib = _library(tmp_path, upload="none")
    try:
        est = lib.costs.estimate([planes], ["labels"], "rekognition")
        report = lib.import_paths([planes], apis=["labels"])
        shown = lib.show(planes / "planes.mp4")
    finally:
        lib.close()
    assert [(p.path, p.stage) for p in report.failed] == [("rekognition", "analysis:video")]
    assert "analysed on this computer instead: Rekognition Video reads videos from S3 only" in report.failed[0].message
    assert shown["analyses"]["GetLabelDetection"][0]["Engine"] == "local" and stub.rek.calls == []
    assert (est.videos, est.on_device_videos, est.usd) == (0, 1, 0.0)


def test_the_estimate_prices_minutes_and_the_budget_refuses_a_job_it_cannot_pay(tmp_path, planes, s3_bucket,
                                                                                  testdata):
    endpoint, bucket, _s3 = s3_bucket
    lib = _library(tmp_path, endpoint, bucket, budget_per_run=0.15)   # one job of 1 minute at $0.10, not two
    stub = VideoStub()
    stub.start("GetLabelDetection", "job-labels-2")
    stub.get("GetLabelDetection", _label_pages(testdata)[1])
    try:
        est = lib.costs.estimate([planes], ["labels", "text"], "rekognition")
        assert (est.images, est.videos, est.calls) == (0, 1, 2)
        assert est.minutes_by_api == {"GetLabelDetection": 1, "GetTextDetection": 1}
        assert est.usd == pytest.approx(0.20) and est.exceeds_run_budget
        lines = describe_estimate(est)
        assert lines[:2] == ["0 images x 2 analyses (DetectLabels, DetectText) = 0 calls, minus 0 already stored "
                             "(free) = 0 calls to buy",
                             "1 videos x 2 video analyses (GetLabelDetection, GetTextDetection) = 2 jobs, minus 0 "
                             "already stored (free) = 2 jobs to buy, billed per minute of video (partial minutes "
                             "counted whole)"]
        assert "  GetLabelDetection: 1 min x $0.1000/min = $0.1000" in lines
        # what an import with the library's defaults would buy (the GUI asks before importing): the video gets
        # the Get* counterparts of labels, text and celebrities (GetFaceDetection and GetCelebrityRecognition)
        planned = lib.costs.estimate_import([planes])
        assert planned.minutes_by_api == {"GetLabelDetection": 1, "GetTextDetection": 1, "GetFaceDetection": 1,
                                          "GetCelebrityRecognition": 1}
        assert planned.usd == pytest.approx(0.40) and planned.upload_bytes == (planes / "planes.mp4").stat().st_size
        report = lib.import_paths([planes], apis=["labels", "text"])
        stub.stubber.assert_no_pending_responses()
        assert report.budget_stopped
        assert [op for op, _ in stub.starts()] == ["StartLabelDetection"]   # the text job was never started
        shown = lib.show(planes / "planes.mp4")
        assert "GetLabelDetection" in shown and "GetTextDetection" not in shown
        after = lib.costs.estimate([planes], ["labels", "text"], "rekognition")
        assert after.minutes_by_api == {"GetTextDetection": 1} and after.cached == 1
    finally:
        lib.close()


def test_cloud_config_sets_and_clears_the_video_notification(tmp_path, capsys):
    root = str(tmp_path / "lib")
    topic, role = "arn:aws:sns:eu-west-1:123456789012:AmazonRekognitionDone", "arn:aws:iam::123456789012:role/Publish"
    queue = "https://sqs.eu-west-1.amazonaws.com/123456789012/done"
    assert run_cli(["--library", root, "cloud", "config", "--video-sns-topic-arn", topic]) == 2
    assert "both an SNS topic ARN and a role ARN" in capsys.readouterr().err     # nothing saved
    assert run_cli(["--library", root, "cloud", "config", "--video-sns-topic-arn", topic, "--video-role-arn", role,
                    "--video-sqs-queue-url", queue]) == 0
    shown = json.loads(capsys.readouterr().out)["rekognition"]
    assert (shown["video_sns_topic_arn"], shown["video_role_arn"], shown["video_sqs_queue_url"]) == (topic, role, queue)
    assert run_cli(["--library", root, "cloud", "config", "--video-sns-topic-arn", "", "--video-role-arn", "",
                    "--video-sqs-queue-url", ""]) == 0
    shown = json.loads(capsys.readouterr().out)["rekognition"]
    assert shown["video_sns_topic_arn"] is shown["video_role_arn"] is shown["video_sqs_queue_url"] is None


def test_an_invalid_paid_video_answer_is_quarantined_and_not_bought_again(tmp_path, planes, s3_bucket, testdata):
    endpoint, bucket, _s3 = s3_bucket
    broken = _label_pages(testdata)[1]
    broken["Labels"][0]["Label"]["Confidence"] = 250.0      # the model's type, but outside Rekognition's 0-100
    stub = VideoStub()
    stub.start("GetLabelDetection", "job-labels-3")
    stub.get("GetLabelDetection", broken)
    lib = _library(tmp_path, endpoint, bucket)
    try:
        report = lib.import_paths([planes], apis=["labels"])
        stub.stubber.assert_no_pending_responses()
        assert [p.stage for p in report.failed] == ["analysis:GetLabelDetection"]
        assert "paid for; kept in" in report.failed[0].message
        report = lib.import_paths([planes], apis=["labels"])     # nothing queued: a Start* would fail the test
        assert [p.stage for p in report.failed] == ["analysis:GetLabelDetection"]
        assert report.failed[0].message.startswith("Rekognition's answer of ")      # from the quarantine
        assert "so it is not bought again" in report.failed[0].message
        assert len(stub.starts()) == 1
        ledger = Ledger(tmp_path / "lib" / LEDGER_FILE)
        assert ledger.quarantine_count() == 1 and ledger.month_spend() == pytest.approx(0.10)
        ledger.close()
    finally:
        lib.close()
