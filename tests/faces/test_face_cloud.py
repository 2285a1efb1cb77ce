"""DetectFaces through the rekognition engine (botocore's Stubber): Attributes=["ALL"], stored, validated,
searchable by face attribute, priced, and opt-in: a library's default list of analyses never buys it."""

from __future__ import annotations

import shutil

import pytest
from botocore.stub import ANY
from cloud.stubs import StubbedRekognition, sample

from mediaapp.core.types import Query
from mediaapp.library import Library

PHOTO = "3_faces/face_recognition/obama.jpg"
FACES = "awscli/detect-faces.json"
CELEBS = "asyncaws_tests/RecognizeCelebrities.json"


pytestmark = pytest.mark.usefixtures("fake_aws")  # tests/conftest.py: nothing reaches real AWS


@pytest.fixture
def photos(tmp_path, testdata):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy2(testdata / PHOTO, folder / "obama.jpg")
    return folder


def _library(tmp_path) -> Library:
    config = {"upload": "none", "tps": 1000, "max_concurrency": 1}
    return Library(tmp_path / "lib", settings={"workers": 1, "engines": ["rekognition"],
                                               "engine_config": {"rekognition": config}})


def test_detect_faces_is_bought_with_every_attribute_when_asked_for(tmp_path, testdata, photos):
    stub = StubbedRekognition()
    faces = sample(testdata, FACES)
    stub.stubber.add_response("detect_faces", faces, {"Image": ANY, "Attributes": ["ALL"]})
    lib = _library(tmp_path)
    try:
        report = lib.import_paths([photos], engines=["rekognition"], apis=["faces"])
        assert report.failed == [] and report.analysed == 1 and [c[0] for c in stub.calls] == ["DetectFaces"]
        stub.stubber.assert_no_pending_responses()
        shown = lib.show(str(photos / "obama.jpg"))
        assert shown["DetectFaces"] == faces
        assert lib.search(Query(face_attributes=("eyes-open",), min_confidence=90)).total == 1
        assert lib.search(Query(face_attributes=("calm",), min_confidence=70)).total == 1  # Rekognition's emotion
        assert lib.search(Query(face_attributes=("smiling",))).total == 0                  # Smile Value False
        sha = lib.search(Query(face_attributes=("eyes-open",))).hits[0].sha256
        drawn = lib.matching_detections(Query(face_attributes=("eyes-open",)), [sha])[sha]
        assert [d.box.to_rekognition() for d in drawn] == [pytest.approx(faces["FaceDetails"][0]["BoundingBox"])]
    finally:
        lib.close()


def test_the_default_list_leaves_detect_faces_out_in_the_cloud(tmp_path, testdata, photos):
    stub = StubbedRekognition()
    stub.respond("RecognizeCelebrities", sample(testdata, CELEBS))
    lib = Library(tmp_path / "lib", settings={
        "workers": 1, "engines": ["rekognition"], "apis": ["RecognizeCelebrities", "DetectFaces"],
        "engine_config": {"rekognition": {"upload": "none", "tps": 1000, "max_concurrency": 1}}})
    try:
        plain = lib.costs.estimate([photos])                      # the settings' list: DetectFaces is opt-in
        asked = lib.costs.estimate([photos], apis=["faces", "celebrities"])
        assert plain.apis == ["RecognizeCelebrities"] and plain.calls == 1
        assert asked.apis == ["DetectFaces", "RecognizeCelebrities"] and asked.calls == 2
        assert asked.usd == pytest.approx(2 * plain.usd) and plain.usd > 0  # priced like the other image APIs
        report = lib.import_paths([photos])
        assert report.failed == [] and [c[0] for c in stub.calls] == ["RecognizeCelebrities"]
    finally:
        lib.close()


def test_an_invalid_paid_answer_is_quarantined_not_stored(tmp_path, testdata, photos):
    stub = StubbedRekognition()
    bad = sample(testdata, FACES)
    bad["FaceDetails"][0]["Landmarks"][0]["Type"] = "thirdEye"   # not in botocore's LandmarkType enum
    stub.stubber.add_response("detect_faces", bad)                # the Stubber checks shapes, not enum values
    lib = _library(tmp_path)
    try:
        report = lib.import_paths([photos], engines=["rekognition"], apis=["faces"])
        assert [p.stage for p in report.failed] == ["analysis:DetectFaces"]
        assert "thirdEye" in report.failed[0].message or "Landmark" in report.failed[0].message
        assert "DetectFaces" not in lib.show(str(photos / "obama.jpg"))
        assert lib.search(Query(face_attributes=("eyes-open",))).total == 0
    finally:
        lib.close()
