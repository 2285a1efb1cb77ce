"""Rekognition Video jobs (``mediaapp.cloud.video_jobs``): start, wait (poll or SNS/SQS), page, merge.

moto 5 answers only StartTextDetection / GetTextDetection (canned, always
SUCCEEDED) of the video APIs, so that pair runs against the moto server over
HTTP; every other call goes through botocore's Stubber on a real Rekognition
client, which checks each request against the service model and the
``expected_params`` given, and each canned response against the output
shape. The SNS topic and SQS queue are moto's (a real publish delivered to a
real subscribed queue). Waiting uses a fake clock and sleep: nothing sleeps.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from mediaapp.analysis.validate import validate_response
from mediaapp.cloud.config import CloudConfig
from mediaapp.cloud.pricing import PriceTable
from mediaapp.cloud.video_jobs import (
    VIDEO_JOBS,
    InvalidVideoResponse,
    JobNotification,
    PollPolicy,
    UnsupportedVideoFormat,
    VideoJobFailed,
    VideoJobTimeout,
    analyse_video,
    billed_minutes,
    job_tag,
    parse_notification,
    request_token,
    sniff_container,
)
from mediaapp.core.analysis import AnalysisCancelled, AnalysisError
from mediaapp.services.costs import estimate_video
from mediaapp.tasks import CancelToken

SHA = "ab" * 32
BUCKET = "mediaapp-videos"
KEY = "mediaapp/ab/" + SHA + ".mp4"
VIDEO = {"S3Object": {"Bucket": BUCKET, "Name": KEY}}
TOPIC = "arn:aws:sns:us-east-1:123456789012:AmazonRekognitionVideoDone"
ROLE = "arn:aws:iam::123456789012:role/RekognitionPublishes"


class FakeTime:
    """A clock that only moves when ``sleep`` is called; ``sleeps`` records every pause asked for."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()


class Stubbed:
    """A real boto3 Rekognition client under a Stubber; ``calls`` lists every operation the code asked for."""

    def __init__(self) -> None:
        self.client = boto3.client("rekognition", region_name="us-east-1")
        self.stubber = Stubber(self.client)
        self.calls: list[str] = []
        self.client.meta.events.register("provide-client-params.rekognition.*",
                                         lambda params, model, **kw: self.calls.append(model.name))
        self.stubber.activate()

    def start(self, api: str, job_id: str, *, min_confidence: float | None = None, channel: dict | None = None):
        """Expect the ``Start*`` of ``api`` with exactly the parameters a retry-safe request must carry."""
        spec = VIDEO_JOBS[api]
        options = {"MinConfidence": float(min_confidence)} if min_confidence is not None else {}
        expected = {"Video": VIDEO, "ClientRequestToken": request_token(SHA, api, options),
                    "JobTag": job_tag(SHA), **options}
        if channel:
            expected["NotificationChannel"] = channel
        self.stubber.add_response(_method(spec.start_op), {"JobId": job_id}, expected)

    def get(self, api: str, job_id: str, response: dict, next_token: str | None = None) -> None:
        """Expect one ``Get*`` page request of ``api`` and answer ``response``."""
        spec = VIDEO_JOBS[api]
        expected = {"JobId": job_id, "MaxResults": 1000, **spec.get_params}
        if next_token:
            expected["NextToken"] = next_token
        self.stubber.add_response(_method(api), response, expected)


def _method(operation: str) -> str:
    """``GetLabelDetection`` -> ``get_label_detection``."""
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


def _sample(testdata: Path, name: str) -> dict:
    return json.loads((testdata / "4_rekognition" / "awscli" / name).read_text(encoding="utf-8"))


def _second_page(first: dict, items: str) -> dict:
    """A last page after ``first``: its items 5 s later, no NextToken (as the service's later pages look)."""
    page = copy.deepcopy(first)
    page.pop("NextToken", None)
    for item in page[items]:
        item["Timestamp"] += 5000
    return page


# -- formats ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["AVI", "mkv", "3GP", "video/webm", None, ""])
def test_an_unsupported_container_is_refused_before_any_call(fmt):
    stub = Stubbed()
    with pytest.raises(UnsupportedVideoFormat, match="analysed on-device"):
        analyse_video(stub.client, BUCKET, KEY, ["GetLabelDetection"], fmt=fmt, sha256=SHA)
    assert stub.calls == []


def test_the_containers_of_the_shared_videos_and_of_pyav_files_are_told_apart(testdata, tmp_path):
    av = pytest.importorskip("av")
    import numpy as np

    video = testdata / "7_video"
    assert sniff_container((video / "photoprism_example.mp4").read_bytes()[:12]) == "MP4"
    assert sniff_container((video / "photoprism_earth.avi").read_bytes()[:12]) is None
    for fmt, expected in (("mov", "MOV"), ("mp4", "MP4")):
        path = tmp_path / f"clip.{fmt}"
        with av.open(str(path), "w", format=fmt) as out:
            stream = out.add_stream("mpeg4", rate=5)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            for i in range(5):
                frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 40, np.uint8), format="rgb24")
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
        assert sniff_container(path.read_bytes()[:12]) == expected
    assert sniff_container(b"\0\0\0\x14ftyp3gp4\0\0\0\0") == "3GP"
    assert sniff_container(b"\0\0\0\x08wide\0\0\0\0") == "MOV"   # a QuickTime movie from before ftyp
    assert sniff_container(b"short") is None


# -- polling, pages, back-off ----------------------------------------------------------------------

def test_in_progress_then_succeeded_with_back_off_and_two_pages_merged(testdata):
    first = _sample(testdata, "get-label-detection.json")
    assert first["NextToken"]
    stub, fake = Stubbed(), FakeTime()
    stub.start("GetLabelDetection", "job-labels", min_confidence=55)
    stub.get("GetLabelDetection", "job-labels", {"JobStatus": "IN_PROGRESS"})
    stub.get("GetLabelDetection", "job-labels", {"JobStatus": "IN_PROGRESS"})
    stub.get("GetLabelDetection", "job-labels", first)
    stub.get("GetLabelDetection", "job-labels", _second_page(first, "Labels"), next_token=first["NextToken"])
    started = []

    out = analyse_video(stub.client, BUCKET, KEY, ["GetLabelDetection"], fmt="mp4", sha256=SHA, min_confidence=55,
                        sleep=fake.sleep, clock=fake.clock, validate=validate_response,
                        on_started=lambda api, job: started.append((api, job)))

    stub.stubber.assert_no_pending_responses()
    assert fake.sleeps == [5.0, 10.0]           # two IN_PROGRESS answers: 5 s, then doubled
    assert started == [("GetLabelDetection", "job-labels")]
    merged = out["GetLabelDetection"]
    assert "NextToken" not in merged
    assert merged["JobStatus"] == "SUCCEEDED"
    assert merged["VideoMetadata"] == first["VideoMetadata"]
    assert merged["LabelModelVersion"] == "2.0"
    assert [(x["Timestamp"], x["Label"]["Name"]) for x in merged["Labels"]] == [
        (0, "Audience"), (0, "Classroom"), (5000, "Audience"), (5000, "Classroom")]
    validate_response("GetLabelDetection", merged)


def test_back_off_is_capped_and_the_overall_timeout_ends_the_wait():
    stub, fake = Stubbed(), FakeTime()
    stub.start("GetFaceDetection", "job-faces")
    for _ in range(6):
        stub.get("GetFaceDetection", "job-faces", {"JobStatus": "IN_PROGRESS"})
    policy = PollPolicy(initial_s=5, factor=2, cap_s=20, timeout_s=60)

    out = analyse_video(stub.client, BUCKET, KEY, ["GetFaceDetection"], fmt="MOV", sha256=SHA, policy=policy,
                        sleep=fake.sleep, clock=fake.clock)

    stub.stubber.assert_no_pending_responses()
    assert fake.sleeps == [5, 10, 20, 20, 5]    # capped at 20 s; the last pause ends at the deadline
    error = out["GetFaceDetection"]
    assert isinstance(error, VideoJobTimeout) and error.code == "VideoJobTimeout"
    assert "job-faces" in str(error)


def test_a_failed_job_gives_its_status_message_and_the_other_job_carries_on(testdata):
    moderation = _sample(testdata, "get-content-moderation.json")
    moderation.pop("NextToken")
    stub, fake = Stubbed(), FakeTime()
    stub.start("GetCelebrityRecognition", "job-celebs")
    stub.start("GetContentModeration", "job-moderation")
    stub.get("GetCelebrityRecognition", "job-celebs",
             {"JobStatus": "FAILED", "StatusMessage": "Unsupported codec/format."})
    stub.get("GetContentModeration", "job-moderation", moderation)

    out = analyse_video(stub.client, BUCKET, KEY, ["GetCelebrityRecognition", "GetContentModeration"], fmt="MP4",
                        sha256=SHA, sleep=fake.sleep, clock=fake.clock, validate=validate_response)

    stub.stubber.assert_no_pending_responses()
    failed = out["GetCelebrityRecognition"]
    assert isinstance(failed, VideoJobFailed)
    assert failed.status_message == "Unsupported codec/format."
    assert str(failed) == "Rekognition Video job job-celebs (GetCelebrityRecognition) failed: Unsupported codec/format."
    assert out["GetContentModeration"]["ModerationLabels"] == moderation["ModerationLabels"]
    assert fake.sleeps == []


def test_a_start_retried_after_the_jobs_quota_sends_the_same_token_and_pays_once(testdata):
    faces = _sample(testdata, "get-face-detection.json")
    faces.pop("NextToken")
    stub, fake = Stubbed(), FakeTime()
    stub.stubber.add_client_error("start_face_detection", "LimitExceededException", "too many jobs")
    stub.start("GetFaceDetection", "job-faces")           # the same ClientRequestToken the first try sent
    stub.get("GetFaceDetection", "job-faces", faces)
    started = []

    out = analyse_video(stub.client, BUCKET, KEY, ["GetFaceDetection"], fmt="mp4", sha256=SHA, sleep=fake.sleep,
                        clock=fake.clock, on_started=lambda api, job: started.append(job))

    stub.stubber.assert_no_pending_responses()
    assert started == ["job-faces"]
    assert fake.sleeps == [5.0]
    assert len(out["GetFaceDetection"]["Faces"]) == len(faces["Faces"])


def test_request_tokens_are_idempotent_per_video_api_and_options():
    token = request_token(SHA, "GetLabelDetection", {"MinConfidence": 50.0})
    assert token == request_token(SHA, "GetLabelDetection", {"MinConfidence": 50.0})
    assert len(token) == 64 and token.isalnum()
    assert token != request_token("cd" * 32, "GetLabelDetection", {"MinConfidence": 50.0})
    assert token != request_token(SHA, "GetContentModeration", {"MinConfidence": 50.0})
    assert token != request_token(SHA, "GetLabelDetection", {"MinConfidence": 70.0})


def test_a_refused_start_is_an_error_of_that_api_with_the_service_code():
    stub, fake = Stubbed(), FakeTime()
    stub.stubber.add_client_error("start_celebrity_recognition", "AccessDeniedException", "no")

    out = analyse_video(stub.client, BUCKET, KEY, ["GetCelebrityRecognition"], fmt="mp4", sha256=SHA,
                        sleep=fake.sleep, clock=fake.clock)

    error = out["GetCelebrityRecognition"]
    assert type(error) is AnalysisError and error.code == "AccessDeniedException"
    assert "StartCelebrityRecognition of s3://" in str(error)
    assert stub.calls == ["StartCelebrityRecognition"]


def test_an_invalid_merged_answer_is_reported_with_the_paid_response():
    stub, fake = Stubbed(), FakeTime()
    stub.start("GetFaceDetection", "job-faces")
    bad = {"JobStatus": "SUCCEEDED", "Faces": [{"Timestamp": 0, "Face": {"Confidence": 100.0,
                                                                         "BoundingBox": {"Width": 40.0, "Height": 0.2,
                                                                                         "Left": 0.1, "Top": 0.1}}}]}
    stub.get("GetFaceDetection", "job-faces", bad)

    out = analyse_video(stub.client, BUCKET, KEY, ["GetFaceDetection"], fmt="mp4", sha256=SHA, sleep=fake.sleep,
                        clock=fake.clock, validate=validate_response)

    error = out["GetFaceDetection"]
    assert isinstance(error, InvalidVideoResponse) and error.code == "InvalidResponse"
    assert error.response["Faces"] == bad["Faces"]


# -- cancel ----------------------------------------------------------------------------------------

def test_cancel_before_anything_makes_no_call():
    stub, cancel = Stubbed(), CancelToken()
    cancel.cancel()
    with pytest.raises(AnalysisCancelled):
        analyse_video(stub.client, BUCKET, KEY, ["GetLabelDetection"], fmt="mp4", sha256=SHA, cancel=cancel)
    assert stub.calls == []


def test_cancel_while_waiting_stops_polling_and_names_the_running_job():
    stub, fake, cancel = Stubbed(), FakeTime(), CancelToken()
    stub.start("GetLabelDetection", "job-labels")
    stub.get("GetLabelDetection", "job-labels", {"JobStatus": "IN_PROGRESS"})
    fake.on_sleep = cancel.cancel                     # the user presses Cancel during the first pause

    out = analyse_video(stub.client, BUCKET, KEY, ["GetLabelDetection"], fmt="mp4", sha256=SHA, cancel=cancel,
                        sleep=fake.sleep, clock=fake.clock)

    stub.stubber.assert_no_pending_responses()
    assert stub.calls == ["StartLabelDetection", "GetLabelDetection"]   # no Get* after the cancel
    error = out["GetLabelDetection"]
    assert isinstance(error, AnalysisCancelled) and "job-labels" in str(error)


def test_the_default_sleep_wakes_up_on_cancel():
    from mediaapp.cloud.video_jobs import cancel_aware_sleep

    cancel, fake, naps = CancelToken(), FakeTime(), []

    def nap(seconds):
        naps.append(seconds)
        fake.now += seconds
        if len(naps) == 3:
            cancel.cancel()

    cancel_aware_sleep(cancel, fake.clock, nap)(30)
    assert naps == [0.25, 0.25, 0.25]          # short naps, and none after the cancel
    naps.clear()
    cancel_aware_sleep(None, fake.clock, nap)(0.6)
    assert naps == pytest.approx([0.25, 0.25, 0.1])


# -- SNS + SQS -------------------------------------------------------------------------------------

@pytest.fixture
def topic_and_queue(moto_server, request):
    """A moto SNS topic with a subscribed moto SQS queue: (sns, sqs, topic ARN, queue URL)."""
    sns = boto3.client("sns", endpoint_url=moto_server, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    name = "AmazonRekognition-" + request.node.name[:40].replace("_", "-")
    topic = sns.create_topic(Name=name)["TopicArn"]
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    yield sns, sqs, topic, queue
    sqs.delete_queue(QueueUrl=queue)
    sns.delete_topic(TopicArn=topic)


def _completion(job_id: str, api: str, status: str = "SUCCEEDED") -> str:
    """Rekognition Video's completion message (Developer Guide, "Video analysis results notification")."""
    return json.dumps({"JobId": job_id, "Status": status, "API": api, "JobTag": job_tag(SHA),
                       "Timestamp": 1510865364756, "Video": {"S3ObjectName": KEY, "S3Bucket": BUCKET}})


def _queue_counts(sqs, queue: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def test_completion_is_learned_from_sns_through_sqs_and_only_our_messages_are_deleted(testdata, topic_and_queue):
    sns, sqs, topic, queue = topic_and_queue
    labels = _sample(testdata, "get-label-detection.json")
    labels.pop("NextToken")
    faces = _sample(testdata, "get-face-detection.json")
    faces.pop("NextToken")
    stub, fake = Stubbed(), FakeTime()
    channel = {"SNSTopicArn": topic, "RoleArn": ROLE}
    stub.start("GetLabelDetection", "job-labels", channel=channel)
    stub.start("GetFaceDetection", "job-faces", channel=channel)
    stub.get("GetLabelDetection", "job-labels", labels)   # read once each, right after its message
    stub.get("GetFaceDetection", "job-faces", faces)
    sns.publish(TopicArn=topic, Message=_completion("someone-elses-job", "LabelDetection"))
    sns.publish(TopicArn=topic, Message=_completion("job-labels", "LabelDetection"))
    sqs.send_message(QueueUrl=queue, MessageBody=_completion("job-faces", "FaceDetection"))  # raw delivery
    assert _queue_counts(sqs, queue) == 3

    notification = JobNotification(topic, ROLE, queue, sqs)
    out = analyse_video(stub.client, BUCKET, KEY, ["GetLabelDetection", "GetFaceDetection"], fmt="mp4", sha256=SHA,
                        notification=notification, sleep=fake.sleep, clock=fake.clock, validate=validate_response)

    stub.stubber.assert_no_pending_responses()
    assert fake.sleeps == []                               # no polling pauses: the queue said when
    assert out["GetLabelDetection"]["Labels"] == labels["Labels"]
    assert out["GetFaceDetection"]["Faces"] == faces["Faces"]
    assert _queue_counts(sqs, queue) == 1                  # the other job's message is left for its owner


def test_with_a_topic_but_no_queue_the_channel_is_named_and_the_job_polled(testdata):
    labels = _sample(testdata, "get-label-detection.json")
    labels.pop("NextToken")
    stub, fake = Stubbed(), FakeTime()
    stub.start("GetLabelDetection", "job-labels", channel={"SNSTopicArn": TOPIC, "RoleArn": ROLE})
    stub.get("GetLabelDetection", "job-labels", {"JobStatus": "IN_PROGRESS"})
    stub.get("GetLabelDetection", "job-labels", labels)

    out = analyse_video(stub.client, BUCKET, KEY, ["GetLabelDetection"], fmt="mp4", sha256=SHA,
                        notification=JobNotification(TOPIC, ROLE), sleep=fake.sleep, clock=fake.clock)

    stub.stubber.assert_no_pending_responses()
    assert fake.sleeps == [5.0]
    assert out["GetLabelDetection"]["Labels"] == labels["Labels"]


def test_a_queue_that_cannot_be_read_falls_back_to_polling(testdata, moto_server):
    faces = _sample(testdata, "get-face-detection.json")
    faces.pop("NextToken")
    sqs = boto3.client("sqs", endpoint_url=moto_server, region_name="us-east-1")
    gone = f"{moto_server}/123456789012/no-such-queue"
    stub, fake = Stubbed(), FakeTime()
    stub.start("GetFaceDetection", "job-faces", channel={"SNSTopicArn": TOPIC, "RoleArn": ROLE})
    stub.get("GetFaceDetection", "job-faces", {"JobStatus": "IN_PROGRESS"})
    stub.get("GetFaceDetection", "job-faces", faces)

    out = analyse_video(stub.client, BUCKET, KEY, ["GetFaceDetection"], fmt="mp4", sha256=SHA,
                        notification=JobNotification(TOPIC, ROLE, gone, sqs), sleep=fake.sleep, clock=fake.clock)

    stub.stubber.assert_no_pending_responses()
    assert fake.sleeps == [5.0]
    assert out["GetFaceDetection"]["Faces"] == faces["Faces"]


def test_a_throttled_status_call_is_asked_again_next_round(testdata):
    faces = _sample(testdata, "get-face-detection.json")
    faces.pop("NextToken")
    stub, fake = Stubbed(), FakeTime()
    stub.start("GetFaceDetection", "job-faces")
    stub.stubber.add_client_error("get_face_detection", "ThrottlingException", "slow down")
    stub.get("GetFaceDetection", "job-faces", faces)

    out = analyse_video(stub.client, BUCKET, KEY, ["GetFaceDetection"], fmt="mp4", sha256=SHA, sleep=fake.sleep,
                        clock=fake.clock)

    stub.stubber.assert_no_pending_responses()
    assert fake.sleeps == [5.0]
    assert out["GetFaceDetection"]["Faces"] == faces["Faces"]


def test_notifications_are_read_in_the_sns_envelope_and_raw():
    raw = _completion("job-1", "LabelDetection")
    envelope = json.dumps({"Type": "Notification", "MessageId": "m", "TopicArn": TOPIC, "Message": raw})
    assert parse_notification(envelope)["JobId"] == "job-1"
    assert parse_notification(raw)["API"] == "LabelDetection"
    assert parse_notification("not json") is None
    assert parse_notification(json.dumps({"Type": "Notification", "Message": "{broken"})) is None
    assert parse_notification(json.dumps({"Status": "SUCCEEDED"})) is None


# -- moto's own Rekognition Video calls ---------------------------------------------------------------

def test_text_detection_against_moto_over_http(moto_server):
    client = boto3.client("rekognition", endpoint_url=moto_server, region_name="us-east-1")
    fake = FakeTime()

    out = analyse_video(client, BUCKET, KEY, ["GetTextDetection"], fmt="mov", sha256=SHA, sleep=fake.sleep,
                        clock=fake.clock, validate=validate_response)

    answer = out["GetTextDetection"]
    assert not isinstance(answer, Exception), answer
    assert answer["JobStatus"] == "SUCCEEDED" and "NextToken" not in answer
    assert answer["TextDetections"] and all("Timestamp" in t for t in answer["TextDetections"])
    assert answer["VideoMetadata"]["DurationMillis"] > 0


# -- prices and settings ---------------------------------------------------------------------------

def test_video_minutes_are_rounded_up_and_priced_per_api():
    prices = PriceTable.load()
    assert [billed_minutes(s) for s in (0, 1, 60, 60.5, 119.9, 120)] == [1, 1, 1, 2, 2, 2]
    est = estimate_video(61, ["GetLabelDetection", "GetTextDetection"], prices)
    assert est.minutes == 2
    assert est.usd_by_api == pytest.approx({"GetLabelDetection": 0.20, "GetTextDetection": 0.20})
    assert est.usd == pytest.approx(0.40)
    assert est.price_source["source"].startswith("https://aws.amazon.com/rekognition/pricing/")
    assert "NOT checked" in est.price_source["verified"]
    for api in VIDEO_JOBS:
        assert estimate_video(600, [api], prices).usd > 0
    with pytest.raises(ValueError):
        billed_minutes(-1)
    with pytest.raises(ValueError, match="no Rekognition Video prices"):
        estimate_video(60, ["GetLabelDetection"], PriceTable({"rekognition": {"groups": {}}}))
    with pytest.raises(ValueError, match="not a Rekognition Video analysis"):
        estimate_video(60, ["DetectLabels"], prices)


def test_the_notification_settings_are_checked_and_build_the_notification():
    sqs = object()
    assert JobNotification.from_config(CloudConfig(), sqs) is None
    config = CloudConfig.from_dict({"video_sns_topic_arn": TOPIC, "video_role_arn": ROLE,
                                    "video_sqs_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/done"})
    notification = JobNotification.from_config(config, sqs)
    assert notification.listens and notification.channel() == {"SNSTopicArn": TOPIC, "RoleArn": ROLE}
    no_queue = JobNotification.from_config(CloudConfig.from_dict({"video_sns_topic_arn": TOPIC,
                                                                  "video_role_arn": ROLE}), sqs)
    assert not no_queue.listens
    assert CloudConfig.from_dict({"video_sns_topic_arn": " ", "video_role_arn": ""}).video_sns_topic_arn is None
    for bad, message in (({"video_sns_topic_arn": TOPIC}, "both"),
                         ({"video_sns_topic_arn": "my-topic", "video_role_arn": ROLE}, "SNS topic ARN"),
                         ({"video_sns_topic_arn": TOPIC, "video_role_arn": "arn:aws:iam::1:role/x"}, "IAM role"),
                         ({"video_sqs_queue_url": "https://sqs.us-east-1.amazonaws.com/123456789012/q"}, "needs"),
                         ({"video_sns_topic_arn": TOPIC, "video_role_arn": ROLE, "video_sqs_queue_url": "q"},
                          "queue URL")):
        with pytest.raises(ValueError, match=message):
            CloudConfig.from_dict(bad)
