"""People engine: similarity, collection search, CompareFaces, recognition, clustering.

All embeddings come from the real photos of testdata/3_faces.
"""

from __future__ import annotations

import csv
import hashlib
import itertools

import numpy as np
import pytest

from mediaapp.analysis.local.face_detector import DlibFaceDetector
from mediaapp.analysis.local.recognition import (
    DEFAULT_SIMILARITY_THRESHOLD,
    cluster_faces,
    compare_faces,
    distance_to_similarity,
    person_id,
    recognize_faces,
    similarity,
    similarity_to_distance,
)
from mediaapp.analysis.validate import validate_response
from mediaapp.ingest.decode import open_rgb

pytestmark = pytest.mark.slow

FR = "3_faces/face_recognition/"


def _validate_output(value, operation):
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("rekognition")
    report = ParamValidator().validate(value, model.operation_model(operation).output_shape)
    if report.has_errors():
        raise AssertionError(report.generate_report())
    validate_response(operation, value)  # the project's stricter checks: enums, ranges, patterns


@pytest.fixture(scope="module")
def detector():
    return DlibFaceDetector()


@pytest.fixture(scope="module")
def photos(testdata, detector):
    """{file name: (names from identities.csv, image, [(face, embedding)] largest first)}."""
    out = {}
    with open(testdata / "3_faces" / "identities.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            names = [n.replace("(partial face)", "").strip() for n in row["person(s)"].split(";")]
            image = open_rgb(testdata / row["local_path"])
            out[row["local_path"].rsplit("/", 1)[1]] = (names, image, detector.detect_and_embed(image))
    return out


def _single(photos):
    """[(name, embedding)] for the photos showing one person (one face each)."""
    out = []
    for names, _, pairs in photos.values():
        if len(names) == 1:
            assert len(pairs) == 1
            out.append((names[0], pairs[0][1]))
    return out


def _emb(photos, name):
    (_, emb), = photos[name][2]
    return emb


def test_similarity_mapping_puts_dlibs_threshold_on_rekognitions_default():
    assert distance_to_similarity(0.6) == pytest.approx(DEFAULT_SIMILARITY_THRESHOLD)
    assert similarity_to_distance(80) == pytest.approx(0.6)
    dists = np.linspace(0.0, 1.5, 31)
    sims = distance_to_similarity(dists)
    assert np.all(np.diff(sims) < 0) and sims[0] > 99.9 and sims[-1] < 1.0
    for s in (10, 50, 95):
        assert distance_to_similarity(similarity_to_distance(s)) == pytest.approx(s)
    with pytest.raises(ValueError):
        similarity_to_distance(100)
    with pytest.raises(ValueError):
        similarity(np.zeros(128), np.zeros(5))


def test_same_person_matches_and_different_people_do_not(photos):
    faces = _single(photos)
    people = {name for name, _ in faces}
    assert len(faces) == 18 and len(people) == 6
    same = diff = 0
    for (name_a, a), (name_b, b) in itertools.combinations(faces, 2):
        sim = similarity(a, b)
        if name_a == name_b:
            same += 1
            assert sim >= DEFAULT_SIMILARITY_THRESHOLD, (name_a, sim)
        else:
            diff += 1
            assert sim < DEFAULT_SIMILARITY_THRESHOLD, (name_a, name_b, sim)
    assert same == 21 + 1 + 3 + 3 + 1 and diff == 153 - same  # Obama 7, Biden 2, Alex 3, Kit 3, Rose 2, Lin 1


def _recognize(image, detector, named):
    """Detect and embed ``image``'s faces as the local engine does, then name them (``recognize_faces``)."""
    pairs = detector.detect_and_embed(image)
    return recognize_faces([f for f, _ in pairs], [e for _, e in pairs], named)


def test_recognize_names_the_enrolled_person_and_leaves_the_others(photos, detector):
    named = {"Barack Obama": [_emb(photos, "obama.jpg")]}
    _, image, _ = photos["obama_and_biden.jpg"]
    answer = _recognize(image, detector, named)
    _validate_output(answer, "RecognizeCelebrities")
    (celeb,) = answer["CelebrityFaces"]
    assert celeb["Name"] == "Barack Obama" and celeb["Id"] == person_id("Barack Obama")
    assert celeb["Urls"] == [] and "KnownGender" not in celeb
    assert DEFAULT_SIMILARITY_THRESHOLD <= celeb["MatchConfidence"] <= 100
    assert len(answer["UnrecognizedFaces"]) == 2  # Joe Biden and the child
    # Obama stands in the middle of that photo: Biden is left of him, the child right
    centre = celeb["Face"]["BoundingBox"]["Left"] + celeb["Face"]["BoundingBox"]["Width"] / 2
    assert 0.45 < centre < 0.7
    lefts = sorted(f["BoundingBox"]["Left"] for f in answer["UnrecognizedFaces"])
    assert lefts[0] < celeb["Face"]["BoundingBox"]["Left"] < lefts[1]


def test_recognize_both_people_in_a_photo(photos, detector):
    named = {"Kit Harington": [_emb(photos, "kit_harington_john1.jpeg"),
                               _emb(photos, "kit_harington_john2.jpeg")],
             "Rose Leslie": [_emb(photos, "rose_leslie_img2.jpg")],
             "Joe Biden": [_emb(photos, "biden.jpg")]}
    _, image, _ = photos["kit_with_rose.jpg"]
    answer = _recognize(image, detector, named)
    _validate_output(answer, "RecognizeCelebrities")
    assert answer["UnrecognizedFaces"] == []
    by_name = {c["Name"]: c["Face"]["BoundingBox"]["Left"] for c in answer["CelebrityFaces"]}
    assert set(by_name) == {"Kit Harington", "Rose Leslie"}
    assert by_name["Rose Leslie"] < by_name["Kit Harington"]  # Rose stands on the left


def test_recognize_nobody_enrolled_or_a_stricter_threshold(photos, detector):
    _, image, pairs = photos["two_people.jpg"]
    answer = _recognize(image, detector, {})
    assert answer == {"CelebrityFaces": [], "UnrecognizedFaces": [f for f, _ in pairs]}
    assert recognize_faces([], [], {"Joe Biden": []}) == {"CelebrityFaces": [], "UnrecognizedFaces": []}
    named = {"Joe Biden": [_emb(photos, "biden2.jpg")]}
    faces, embs = [f for f, _ in pairs], [e for _, e in pairs]
    assert [c["Name"] for c in recognize_faces(faces, embs, named)["CelebrityFaces"]] == ["Joe Biden"]
    assert recognize_faces(faces, embs, named, threshold=99.99)["CelebrityFaces"] == []


def test_a_name_is_given_to_one_face_per_photo_only(photos):
    obama = _emb(photos, "obama.jpg")
    faces = [{"Confidence": 99.0}, {"Confidence": 98.0}]
    near = _emb(photos, "obama2.jpg")
    answer = recognize_faces(faces, [near, obama], {"Barack Obama": [obama]})
    (celeb,) = answer["CelebrityFaces"]
    assert celeb["Face"] == {"Confidence": 98.0}  # the identical face wins
    assert celeb["MatchConfidence"] == pytest.approx(100.0, abs=0.1)
    assert answer["UnrecognizedFaces"] == [{"Confidence": 99.0}]


def test_person_id_is_stable_and_distinct():
    assert person_id("Rose Leslie") == person_id(" Rose Leslie ")
    assert person_id("Rose Leslie") != person_id("Kit Harington")
    assert len(person_id("Rose Leslie")) == 16
    # persisted in the catalog: the Id must never change between releases
    assert person_id("Rose Leslie") == hashlib.sha256(b"Rose Leslie").hexdigest()[:16]
    assert person_id("Ren\u00e9e") == person_id("Rene\u0301e")  # NFC: one name, one Id
    with pytest.raises(ValueError):
        person_id("  ")


def test_compare_faces_finds_obama_among_three(photos):
    _, _, source = photos["obama.jpg"]
    _, _, target = photos["obama_and_biden.jpg"]
    answer = compare_faces([e for _, e in source], [e for _, e in target],
                           source_faces=[f for f, _ in source], target_faces=[f for f, _ in target])
    _validate_output(answer, "CompareFaces")
    (match,) = answer["FaceMatches"]
    assert match["Similarity"] >= 80
    assert len(answer["UnmatchedFaces"]) == 2
    assert answer["SourceImageFace"]["BoundingBox"] == source[0][0]["BoundingBox"]
    lefts = sorted(f["BoundingBox"]["Left"] for f, _ in target)
    assert match["Face"]["BoundingBox"]["Left"] == lefts[1]  # the middle face
    with pytest.raises(ValueError):
        compare_faces([e for _, e in source], [])


def test_compare_uses_the_largest_source_face(photos):
    _, _, pairs = photos["kit_with_rose.jpg"]  # Kit's face is the larger one
    kit_small = _emb(photos, "kit_harington_john1.jpeg")
    answer = compare_faces([e for _, e in pairs], [kit_small], source_faces=[f for f, _ in pairs])
    assert len(answer["FaceMatches"]) == 1
    reversed_faces = [f for f, _ in pairs][::-1]
    answer = compare_faces([e for _, e in pairs][::-1], [kit_small], source_faces=reversed_faces)
    assert len(answer["FaceMatches"]) == 1


def test_clustering_groups_each_person_together(photos):
    faces = _single(photos)
    names = [n for n, _ in faces]
    embs = np.array([e for _, e in faces])
    for method in ("average", "chinese_whispers"):
        labels = cluster_faces(embs, method=method)
        assert len(labels) == len(faces)
        for (na, la), (nb, lb) in itertools.combinations(zip(names, labels), 2):
            assert (na == nb) == (la == lb), (method, na, nb)
        assert labels[0] == 0 and sorted(set(labels)) == list(range(len(set(labels))))
    # a far too strict distance leaves every face alone; a far too loose one merges all
    assert len(set(cluster_faces(embs, threshold=0.05))) == len(faces)
    assert set(cluster_faces(embs, threshold=5.0)) == {0}
    assert cluster_faces(np.zeros((0, 128))) == [] and cluster_faces(embs[:1]) == [0]
