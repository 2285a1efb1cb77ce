"""The rekognition engine's DetectModerationLabels: requested, validated, priced and budgeted (botocore Stubber)."""

from __future__ import annotations

import hashlib
import json

import pytest
from cloud.stubs import StubbedRekognition

from mediaapp.analysis import rekognition as rek
from mediaapp.analysis.engine_base import AnalysisError, AnalysisParams, ImageRef
from mediaapp.cloud.pricing import Ledger
from mediaapp.core.types import Api

PHOTO = "1_objects/voc/VOC2007/JPEGImages/000001.jpg"


@pytest.fixture
def stubbed(rekognition_stubber):
    """The Rekognition ``Stubber`` the engine's client answers through; fake credentials; nothing is sent."""
    return rekognition_stubber


def _ref(testdata) -> ImageRef:
    path = testdata / PHOTO
    return ImageRef(hashlib.sha256(path.read_bytes()).hexdigest(), str(path))


def test_real_answer_is_requested_with_min_confidence_and_billed(stubbed, testdata, tmp_path):
    answer = json.loads((testdata / "4_rekognition/asyncaws_tests/DetectModerationLabels.json").read_text())
    stubbed.add_response("detect_moderation_labels", answer,
                         {"Image": {"Bytes": (testdata / PHOTO).read_bytes()}, "MinConfidence": 50.0})
    engine = rek.RekognitionEngine(upload="none", tps=1000, ledger_path=str(tmp_path / "usage.sqlite"))
    engine.begin_run(1)
    out = engine.analyse_many([Api.DETECT_MODERATION_LABELS], _ref(testdata), AnalysisParams())
    stubbed.assert_no_pending_responses()
    assert out[Api.DETECT_MODERATION_LABELS] == answer
    assert engine.version(Api.DETECT_MODERATION_LABELS) == "rekognition/6.1"
    ledger = Ledger(tmp_path / "usage.sqlite")
    assert ledger.month_calls(["DetectModerationLabels"]) == 1 and ledger.month_spend() == pytest.approx(0.001)


def test_budget_refuses_the_call_before_it_is_made(fake_aws, testdata, tmp_path):
    client = StubbedRekognition()
    engine = rek.RekognitionEngine(upload="none", tps=1000, budget_per_run=0.0005,
                                   ledger_path=str(tmp_path / "usage.sqlite"))
    engine.begin_run(1)
    out = engine.analyse_many([Api.DETECT_MODERATION_LABELS], _ref(testdata), AnalysisParams())
    assert isinstance(out[Api.DETECT_MODERATION_LABELS], AnalysisError)
    assert out[Api.DETECT_MODERATION_LABELS].code == "BudgetExceeded"
    assert client.calls == []  # the client was never asked: refused before the call


def test_cloud_runs_it_only_when_named(testdata, tmp_path):
    """A library's default APIs never buy DetectModerationLabels in the cloud (opt-in); named, it runs."""
    from mediaapp.analysis.registry import descriptor
    from mediaapp.core.apis import engine_apis, parse_api
    from mediaapp.core.types import CLOUD_ENGINE

    cloud = descriptor(CLOUD_ENGINE)
    defaults = [parse_api(a) for a in ("DetectLabels", "DetectModerationLabels")]
    assert engine_apis(defaults, cloud.apis, cloud.default_apis, named=False) == [Api.DETECT_LABELS]
    assert engine_apis(defaults, cloud.apis, cloud.default_apis, named=True) == defaults
