"""DetectLabels of the local engine with concepts: fusion with the detector, botocore's shape."""

from __future__ import annotations

import pytest

from mediaapp.analysis.local.classifier import merge_labels
from mediaapp.analysis.validate import validate_response
from mediaapp.core.analysis import AnalysisParams, ImageRef
from mediaapp.core.types import Api


def _entry(name, confidence, instances=(), parents=()):
    return {"Name": name, "Confidence": confidence, "Instances": list(instances),
            "Parents": [{"Name": p} for p in parents], "Aliases": [], "Categories": []}


def test_merge_keeps_detector_instances_and_the_higher_confidence():
    box = {"BoundingBox": {"Width": 0.5, "Height": 0.5, "Left": 0.1, "Top": 0.1}, "Confidence": 41.0}
    objects = [_entry("Dog", 41.0, [box], ["Pet", "Animal"]), _entry("Animal", 41.0, [], [])]
    concepts = [_entry("Dog", 93.0, [], ["Pet", "Canine", "Animal"]), _entry("Pug", 88.0, [], ["Dog"]),
                _entry("Animal", 97.0)]
    merged = merge_labels(objects, concepts)
    names = [lab["Name"] for lab in merged]
    assert sorted(names) == ["Animal", "Dog", "Pug"]
    dog = next(lab for lab in merged if lab["Name"] == "Dog")
    assert dog["Instances"] == [box] and dog["Confidence"] == 93.0
    assert [p["Name"] for p in dog["Parents"]] == ["Pet", "Animal", "Canine"]
    assert [lab["Confidence"] for lab in merged] == sorted((lab["Confidence"] for lab in merged), reverse=True)
    assert objects[0]["Confidence"] == 41.0 and len(objects[0]["Parents"]) == 2  # inputs untouched


@pytest.fixture(scope="module")
def engine(classifier):
    from mediaapp.analysis.local.engine import LocalEngine

    engine = LocalEngine()
    engine.__dict__["concepts"] = classifier  # the converted model of the test's own model folder
    return engine


@pytest.mark.parametrize("wnid, wanted", [("n09256479", "Coral Reef"), ("n02123394", "Persian Cat"),
                                          ("n02980441", "Castle"), ("n01491361", "Shark")])
def test_engine_answers_concepts_in_rekognition_shape(engine, imagenet, wnid, wanted):
    path, _, _ = imagenet[wnid]
    response = engine.analyse(Api.DETECT_LABELS, ImageRef("0" * 64, str(path)), AnalysisParams(None, 50.0))
    validate_response("DetectLabels", response)
    labels = response["Labels"]
    names = [lab["Name"] for lab in labels]
    assert len(names) == len(set(names))
    found = next(lab for lab in labels if lab["Name"] == wanted)
    assert found["Confidence"] >= 50 and found["Instances"] == []
    assert all(lab["Confidence"] >= 20 for lab in labels)
    assert response["LabelModelVersion"].count("+") >= 2


def test_a_voc_photo_keeps_detector_boxes_next_to_concepts(engine, testdata):
    path = testdata / "1_objects" / "voc" / "VOC2012" / "JPEGImages" / "2007_000042.jpg"  # two trains
    response = engine.analyse(Api.DETECT_LABELS, ImageRef("0" * 64, str(path)), AnalysisParams(None, 50.0))
    validate_response("DetectLabels", response)
    by_name = {lab["Name"]: lab for lab in response["Labels"]}
    assert by_name["Train"]["Instances"]
    locomotive = by_name["Electric Locomotive"]
    assert locomotive["Instances"] == [] and "Train" in [p["Name"] for p in locomotive["Parents"]]


def test_max_labels_still_limits_the_fused_list(engine, imagenet):
    path, _, _ = imagenet["n02085936"]
    response = engine.analyse(Api.DETECT_LABELS, ImageRef("0" * 64, str(path)), AnalysisParams(3, 50.0))
    validate_response("DetectLabels", response)
    assert len(response["Labels"]) == 3


@pytest.mark.parametrize("wnid, name", [("n07873807", "Pizza"), ("n02100877", "Dog")])  # pizza; Irish setter
def test_a_label_both_models_see_has_the_boxes_and_the_higher_confidence(engine, imagenet, wnid, name):
    from mediaapp.ingest.decode import open_rgb

    path, _, _ = imagenet[wnid]  # the default detector boxes it, the classifier names it too
    response = engine.analyse(Api.DETECT_LABELS, ImageRef("0" * 64, str(path)), AnalysisParams(None, 50.0))
    fused = next(lab for lab in response["Labels"] if lab["Name"] == name)
    concept = next(lab for lab in engine.concepts.detect_labels(open_rgb(path)) if lab["Name"] == name)
    boxed = engine.objects.detect_labels(open_rgb(path), None, 50.0)["Labels"]
    detected = next(lab for lab in boxed if lab["Name"] == name)
    assert fused["Instances"] and len(fused["Instances"]) == len(detected["Instances"])
    assert fused["Confidence"] == max(concept["Confidence"], detected["Confidence"])


def test_faces_make_portrait_and_group_labels(engine, testdata):
    one = testdata / "3_faces" / "face_recognition" / "obama.jpg"
    response = engine.analyse(Api.DETECT_LABELS, ImageRef("0" * 64, str(one)), AnalysisParams(None, 50.0))
    validate_response("DetectLabels", response)
    names = {lab["Name"] for lab in response["Labels"]}
    assert "Portrait" in names and "Group" not in names
    street = testdata / "1_objects" / "voc" / "VOC2007" / "JPEGImages" / "000004.jpg"  # cars, no faces
    response = engine.analyse(Api.DETECT_LABELS, ImageRef("0" * 64, str(street)), AnalysisParams(None, 50.0))
    assert not {"Portrait", "Group"} & {lab["Name"] for lab in response["Labels"]}


def test_group_needs_three_confident_faces():
    from mediaapp.analysis.local.classifier import face_context_labels

    def face(conf, height=0.1):
        return {"BoundingBox": {"Width": 0.1, "Height": height, "Left": 0.1, "Top": 0.1}, "Confidence": conf}

    assert [lab["Name"] for lab in face_context_labels([face(99), face(98), face(97)], 50)] == ["Group"]
    assert face_context_labels([face(99), face(98), face(30)], 50) == []
    assert [lab["Name"] for lab in face_context_labels([face(90, 0.4)], 50)] == ["Portrait"]
    assert face_context_labels([face(90, 0.05)], 50) == []
