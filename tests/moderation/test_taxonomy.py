"""DetectModerationLabels: the on-device model's scores in Rekognition's taxonomy, flattening, validation."""

from __future__ import annotations

import json

import pytest

from mediaapp.analysis.local.moderation import EXPLICIT_NUDITY, NsfwClassifier, moderation_response
from mediaapp.analysis.validate import ResponseValidationError, validate_response
from mediaapp.core.apis import flatten, parse_api, spec
from mediaapp.core.types import Api, DetectionKind


@pytest.mark.parametrize(("score", "expected"), [
    (0.0, []), (0.4999, []), (0.5, [50.0]), (0.81234, [81.234]), (1.0, [100.0]),
])
def test_score_maps_to_explicit_nudity_from_fifty(score, expected):
    response = moderation_response(score)
    assert [label["Confidence"] for label in response["ModerationLabels"]] == expected
    for label in response["ModerationLabels"]:
        assert label == {"Name": EXPLICIT_NUDITY, "ParentName": "", "TaxonomyLevel": 1,
                         "Confidence": label["Confidence"]}
    validate_response("DetectModerationLabels", response)


@pytest.mark.parametrize("score", [-0.01, 1.01, float("nan")])
def test_a_score_outside_zero_one_is_refused(score):
    with pytest.raises(ValueError):
        moderation_response(score)


def test_stubbed_classifier_answers_through_the_same_mapping():
    from PIL import Image

    model = NsfwClassifier(scorer=lambda image: 0.93)
    response = model.detect_moderation_labels(Image.new("RGB", (32, 32)))
    assert response["ModerationLabels"][0]["Name"] == "Explicit Nudity"
    assert response["ModerationLabels"][0]["Confidence"] == pytest.approx(93.0)
    assert model.version == "open-nsfw/stub"


def test_invalid_confidence_fails_botocore_validation():
    bad = {"ModerationLabels": [{"Name": "Explicit Nudity", "ParentName": "", "Confidence": "high"}]}
    with pytest.raises(ResponseValidationError):
        validate_response("DetectModerationLabels", bad)


def test_api_registry_entry():
    entry = spec(Api.DETECT_MODERATION_LABELS)
    assert parse_api("moderation") is Api.DETECT_MODERATION_LABELS
    assert parse_api("DetectModerationLabels") is Api.DETECT_MODERATION_LABELS
    assert entry.kinds == (DetectionKind.MODERATION,)
    assert entry.on_by_default(paid=False) and not entry.on_by_default(paid=True)


def test_engines_list_it_local_by_default_cloud_opt_in():
    from mediaapp.analysis.registry import descriptor

    local, cloud = descriptor("local"), descriptor("rekognition")
    assert Api.DETECT_MODERATION_LABELS in local.apis and Api.DETECT_MODERATION_LABELS in local.default_apis
    assert Api.DETECT_MODERATION_LABELS in cloud.apis and Api.DETECT_MODERATION_LABELS not in cloud.default_apis


def test_real_rekognition_answer_flattens_with_parents(testdata):
    response = json.loads((testdata / "4_rekognition/asyncaws_tests/DetectModerationLabels.json").read_text())
    validate_response("DetectModerationLabels", response)
    rows = flatten("DetectModerationLabels", response, "rekognition")
    assert [(d.kind, d.name, d.parents, d.box) for d in rows] == [
        (DetectionKind.MODERATION, "Explicit Nudity", (), None),
        (DetectionKind.MODERATION, "Graphic Male Nudity", ("Explicit Nudity",), None),
        (DetectionKind.MODERATION, "Sexual Activity", ("Explicit Nudity",), None)]
    assert rows[2].confidence == pytest.approx(88.25341796875)
    assert {d.source for d in rows} == {"rekognition"} and {d.api for d in rows} == {"DetectModerationLabels"}


def test_prices_list_detect_moderation_labels():
    from mediaapp.cloud.pricing import PriceTable

    table = PriceTable.load(None)
    assert table.price("DetectModerationLabels") > 0
