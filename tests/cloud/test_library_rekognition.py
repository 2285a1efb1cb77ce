"""The rekognition engine inside real imports: responses carried into the catalog, the index, the
grid's boxes and ``mediaapp show --json``; never paying twice; the budget stopping a run."""

from __future__ import annotations

import json
import shutil

import pytest

from mediaapp.core.types import DetectionKind, Query
from mediaapp.library import Library

from .stubs import StubbedRekognition, run_cli, sample

PHOTOS = ["1_objects/voc/VOC2007/JPEGImages/000002.jpg", "1_objects/voc/VOC2007/JPEGImages/000004.jpg"]
LABELS, TEXT, CELEBS = ("awscli/detect-labels.json", "awscli/detect-text.json",
                        "asyncaws_tests/RecognizeCelebrities.json")


@pytest.fixture
def photos(tmp_path, testdata):
    folder = tmp_path / "photos"
    folder.mkdir()
    for rel in PHOTOS:
        shutil.copy2(testdata / rel, folder / rel.rsplit("/", 1)[-1])
    return folder


def _library(tmp_path, **cloud) -> Library:
    config = {"upload": "none", "tps": 1000, "max_concurrency": 1, **cloud}
    return Library(tmp_path / "lib", settings={"workers": 1, "engines": ["rekognition"],
                                               "engine_config": {"rekognition": config}})


def test_import_carries_responses_everywhere_and_never_pays_twice(tmp_path, testdata, photos, capsys):
    stub = StubbedRekognition()
    for _ in PHOTOS:  # one thread: the calls come in order, image by image
        stub.respond("DetectLabels", sample(testdata, LABELS))
        stub.respond("DetectText", sample(testdata, TEXT))
        stub.respond("RecognizeCelebrities", sample(testdata, CELEBS))
    lib = _library(tmp_path)
    try:
        report = lib.import_paths([photos], engines=["rekognition"])
        assert report.failed == [] and report.analysed == 6 and len(stub.calls) == 6
        stub.stubber.assert_no_pending_responses()

        labels = sample(testdata, LABELS)
        cars = next(l for l in labels["Labels"] if l["Name"] == "Car")
        page = lib.search(Query(labels=("Car",)))
        assert page.total == 2
        shas = [h.sha256 for h in page.hits]
        boxes = lib.matching_detections(Query(labels=("Car",)), shas)
        assert all(len(boxes[s]) == len(cars["Instances"]) for s in shas)
        assert boxes[shas[0]][0].box.to_rekognition() == pytest.approx(cars["Instances"][0]["BoundingBox"])
        assert lib.search(Query(labels=("Transportation",))).total == 2  # found through Parents
        assert lib.search(Query(text="brains")).total == 2
        people = lib.search(Query(persons=("Robert Redford",)))
        assert people.total == 2
        faces = lib.detections(shas[:1], kinds=[DetectionKind.PERSON, DetectionKind.FACE])[shas[0]]
        assert [(d.kind, d.name) for d in faces] == [(DetectionKind.PERSON, "Robert Redford"),
                                                     (DetectionKind.FACE, "Face")]
        assert faces[0].box.left == pytest.approx(0.15391620993614) and faces[0].source == "rekognition"
        drawn = lib.matching_detections(Query(persons=("robert redford",)), shas[:1])[shas[0]]
        assert [(d.name, d.box.top) for d in drawn] == [("Robert Redford", pytest.approx(0.23874999582767))]
    finally:
        lib.close()

    assert run_cli(["--library", str(tmp_path / "lib"), "show", str(photos / "000002.jpg"), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["DetectLabels"] == labels
    assert shown["DetectText"] == sample(testdata, TEXT)
    celeb = shown["RecognizeCelebrities"]["CelebrityFaces"][0]
    assert (celeb["Name"], celeb["Id"], celeb["Urls"], celeb["MatchConfidence"]) == \
        ("Robert Redford", "1XJ5dK1a", ["www.imdb.com/name/nm0000602"], 100.0)

    # re-import, copy, rename, move: zero calls (the Stubber has nothing queued, so any call would fail)
    lib = _library(tmp_path)
    try:
        assert lib.import_paths([photos], engines=["rekognition"]).cached == 6
        shutil.copy2(photos / "000002.jpg", photos / "copy of 000002.jpg")
        report = lib.import_paths([photos], engines=["rekognition"])
        assert report.duplicates == 1 and report.failed == []
        (photos / "000004.jpg").rename(photos / "renamed.jpg")
        report = lib.import_paths([photos], engines=["rekognition"])
        assert report.failed == []
        elsewhere = tmp_path / "moved"
        elsewhere.mkdir()
        shutil.move(str(photos / "renamed.jpg"), elsewhere / "moved.jpg")
        report = lib.import_paths([elsewhere, photos], engines=["rekognition"])
        assert report.failed == []
        assert len(stub.calls) == 6
        assert lib.show(elsewhere / "moved.jpg")["DetectLabels"] == labels  # the stored response follows the bytes
        assert lib.search(Query(labels=("Car",))).total == 2
        assert lib.search(Query(persons=("Robert Redford",), folder=str(elsewhere))).total == 1
    finally:
        lib.close()


def test_a_renamed_file_stays_searchable_without_a_call(tmp_path, testdata, photos):
    stub = StubbedRekognition()
    for _ in PHOTOS:
        stub.respond("DetectLabels", sample(testdata, LABELS))
    lib = _library(tmp_path)
    try:
        lib.import_paths([photos], engines=["rekognition"], apis=["labels"])
        (photos / "000004.jpg").rename(photos / "renamed.jpg")
        report = lib.import_paths([photos], engines=["rekognition"], apis=["labels"])
        assert report.failed == [] and len(stub.calls) == 2
        assert lib.search(Query(labels=("Car",))).total == 2
    finally:
        lib.close()


def test_budget_stops_the_run_with_counts_and_the_next_run_finishes(tmp_path, testdata, photos):
    shutil.copy2(testdata / "1_objects/voc/VOC2007/JPEGImages/000005.jpg", photos / "000005.jpg")
    stub = StubbedRekognition()
    stub.respond("DetectText", sample(testdata, TEXT))
    lib = _library(tmp_path, budget_per_run=0.0015)  # one DetectText at $0.001, not two
    try:
        report = lib.import_paths([photos], engines=["rekognition"], apis=["text"])
        assert report.budget_stopped and not report.cancelled
        assert report.analysed == 1 and len(stub.calls) == 1
        stops = [p for p in report.failed if p.stage == "budget"]
        assert len(stops) == 1 and "run budget of $0.0015" in stops[0].message
        assert "stopped with 1 of 3 images done, 2 left" in stops[0].message
        assert [e for e in lib.errors() if e.stage.startswith("analysis")] == []  # no error rows: not a fault
    finally:
        lib.close()
    for _ in range(2):
        stub.respond("DetectText", sample(testdata, "moto_canned/DetectText.json"))
    lib = _library(tmp_path, budget_per_run=1.0)
    try:
        report = lib.import_paths([photos], engines=["rekognition"], apis=["text"])
        assert not report.cancelled and report.analysed == 2 and report.cached == 1 and len(stub.calls) == 3
    finally:
        lib.close()
