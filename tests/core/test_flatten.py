"""Flattening real Rekognition responses (shared test data) into detections."""

import json

import pytest

from mediaapp.core.apis import API_SPECS, default_apis, flatten, parse_api, spec
from mediaapp.core.responses import UNKNOWN_FACE, detected_lines
from mediaapp.core.text import normalize_label, tokenize
from mediaapp.core.types import Api, BoundingBox, DetectionKind
from mediaapp.settings import Settings


def _load(testdata, rel):
    data = json.loads((testdata / "4_rekognition" / rel).read_text())
    return data.get("output", data) if isinstance(data, dict) else data


def test_detect_labels_rows_per_label_and_instance(testdata):
    response = _load(testdata, "awscli/detect-labels.json")
    dets = flatten(Api.DETECT_LABELS, response, "rekognition")
    labels = response["Labels"]
    instances = sum(len(l.get("Instances", [])) for l in labels)
    assert len(dets) == len(labels) + instances
    boxed = [d for d in dets if d.box is not None]
    assert len(boxed) == instances
    car = next(l for l in labels if l["Name"] == "Car")
    car_rows = [d for d in dets if d.name == "Car"]
    assert car_rows[0].confidence == pytest.approx(car["Confidence"])
    assert car_rows[0].parents == tuple(p["Name"] for p in car["Parents"])
    assert {d.kind for d in dets} == {DetectionKind.LABEL}
    assert all(d.source == "rekognition" and d.api == "DetectLabels" for d in dets)


def test_detect_text_lines_and_words(testdata):
    response = _load(testdata, "moto_canned/DetectText.json")
    dets = flatten("DetectText", response)
    assert [d.name for d in dets if d.text_type == "LINE"] == detected_lines(response)
    assert detected_lines(response) == ["IT'S", "MONDAY", "but keep", "Smiling"]
    assert all(d.box is not None and 0 <= d.box.left <= 1 for d in dets)


def test_recognize_celebrities_people_and_unknown_faces(testdata):
    response = _load(testdata, "asyncaws_tests/RecognizeCelebrities.json")
    dets = flatten(Api.RECOGNIZE_CELEBRITIES, response, "rekognition")
    people = [d for d in dets if d.kind is DetectionKind.PERSON]
    faces = [d for d in dets if d.kind is DetectionKind.FACE]
    assert [p.name for p in people] == ["Robert Redford"]
    assert len(faces) == len(response["UnrecognizedFaces"]) == 1
    assert faces[0].name == UNKNOWN_FACE


def test_bounding_box_round_trip_and_clamp():
    box = BoundingBox.from_rekognition({"Left": -0.1, "Top": 0.5, "Width": 0.3, "Height": 0.7})
    assert box.to_rekognition() == {"Width": 0.3, "Height": 0.7, "Left": -0.1, "Top": 0.5}
    clamped = box.clamped()
    assert clamped.left == 0 and clamped.width == pytest.approx(0.2) and clamped.height == pytest.approx(0.5)
    assert box.to_pixels(200, 100) == (0, 50, 40, 50)


def test_tokenize_is_shared_normalisation():
    assert tokenize("IT'S Monday, 12:30!") == ["its", "monday", "12", "30"]
    assert tokenize("Hello, Google!") == ["hello", "google"]
    assert tokenize("ﬁne Ｔｅｘｔ") == ["fine", "text"]  # NFKC folds ligatures and full-width forms
    assert tokenize("") == []
    assert normalize_label("  Dining Table ") == "dining table"


def test_api_parse():
    assert parse_api("labels") is Api.DETECT_LABELS
    assert parse_api("DetectText") is Api.DETECT_TEXT
    assert parse_api(" CELEBRITIES ") is Api.RECOGNIZE_CELEBRITIES
    with pytest.raises(ValueError, match="expected one of labels"):
        parse_api("DetectProtectiveEquipment")


def test_every_api_is_one_registry_entry(testdata):
    """Each ``Api`` member has its ``ApiSpec``: short name, title, kinds, flatten function, default."""
    assert set(API_SPECS) == set(Api)
    assert len({s.short for s in API_SPECS.values()}) == len(Api)
    assert default_apis() == ("DetectLabels", "DetectText", "RecognizeCelebrities", "DetectFaces",
                              "DetectModerationLabels") == Settings().apis
    # the kinds an entry declares are the kinds its flatten function produces on a real response
    for api, rel in ((Api.DETECT_LABELS, "awscli/detect-labels.json"), (Api.DETECT_TEXT, "awscli/detect-text.json"),
                     (Api.RECOGNIZE_CELEBRITIES, "awscli/recognize-celebrities.json"),
                     (Api.DETECT_MODERATION_LABELS, "awscli/detect-moderation-labels.json")):
        dets = flatten(api, _load(testdata, rel), "rekognition")
        assert dets and {d.kind for d in dets} == set(spec(api).kinds), api
