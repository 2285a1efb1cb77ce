"""A deliberate retry of a FAILED Rekognition Video job gets a new job (reviewer finding on the video jobs).

The ``ClientRequestToken`` is idempotent: the same token hands back the job
Rekognition already has. After a FAILED job (or on ``--reanalyse``) the
token's attempt number goes up, so a new job is started; a plain re-run of a
running or succeeded job keeps the token and never pays twice. Real imports
through botocore's Stubber (the real service model) and S3 on moto, as in
``test_video_cloud_import.py``.
"""

from __future__ import annotations

import pytest

from mediaapp.cloud.pricing import LEDGER_FILE, Ledger
from mediaapp.cloud.video_jobs import request_token

from .test_video_cloud_import import VideoStub, _label_pages, _library, planes  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


def test_the_attempt_changes_only_after_a_failure_or_on_request(tmp_path):
    ledger = Ledger(tmp_path / LEDGER_FILE)
    try:
        sha, api = "ab" * 32, "GetLabelDetection"
        assert ledger.video_attempt(sha, api) == 0
        assert ledger.video_attempt(sha, api) == 0           # a plain re-run: the same job is found again
        ledger.video_job_failed(sha, api)
        assert ledger.video_attempt(sha, api) == 1           # after FAILED: a new token
        assert ledger.video_attempt(sha, api) == 1
        assert ledger.video_attempt(sha, api, again=True) == 2   # re-analysis
        assert ledger.video_attempt(sha, "GetTextDetection") == 0
    finally:
        ledger.close()
    assert request_token(sha, api, {"MinConfidence": 50.0}, 0) == request_token(sha, api, {"MinConfidence": 50.0})
    assert request_token(sha, api, {"MinConfidence": 50.0}, 1) != request_token(sha, api, {"MinConfidence": 50.0})


def test_a_retry_after_a_failed_job_sends_a_new_token_and_gets_a_new_job(tmp_path, planes, s3_bucket,  # noqa: F811
                                                                          testdata):
    endpoint, bucket, _s3 = s3_bucket
    stub = VideoStub()
    stub.start("GetLabelDetection", "job-failed-1")
    stub.get("GetLabelDetection", {"JobStatus": "FAILED", "StatusMessage": "Internal error in the job"})
    lib = _library(tmp_path, endpoint, bucket)
    try:
        report = lib.import_paths([planes], apis=["labels"])
        stub.stubber.assert_no_pending_responses()
        assert report.failed and "Internal error in the job" in report.failed[0].message
        first = stub.starts()[-1][1]["ClientRequestToken"]
        sha = lib.show(planes / "planes.mp4")["sha256"]
        assert first == request_token(sha, "GetLabelDetection", {"MinConfidence": 50.0})

        stub.start("GetLabelDetection", "job-labels-2")    # the retry: a new job this time
        for page in _label_pages(testdata):
            stub.get("GetLabelDetection", page)
        report = lib.import_paths([planes], apis=["labels"])
        stub.stubber.assert_no_pending_responses()
        assert not report.failed
        second = stub.starts()[-1][1]["ClientRequestToken"]
        assert second != first
        assert second == request_token(sha, "GetLabelDetection", {"MinConfidence": 50.0}, 1)
        assert lib.show(planes / "planes.mp4")["GetLabelDetection"]["JobStatus"] == "SUCCEEDED"

        # re-analysed after a success: deliberately bought again, with the next token
        stub.start("GetLabelDetection", "job-labels-3")
        for page in _label_pages(testdata):
            stub.get("GetLabelDetection", page)
        lib.import_paths([planes / "planes.mp4"], apis=["labels"], reanalyse=True)
        stub.stubber.assert_no_pending_responses()
        assert stub.starts()[-1][1]["ClientRequestToken"] == request_token(
            sha, "GetLabelDetection", {"MinConfidence": 50.0}, 2)
    finally:
        lib.close()
