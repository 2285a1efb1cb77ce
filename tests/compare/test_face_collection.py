"""A Rekognition face collection round trip through botocore's Stubber (moto has no collections: it
answers CreateCollection and IndexFaces with "not yet implemented").

``people add NAME IMAGE --engine rekognition`` makes the collection and enrols the largest face; an import
with the rekognition engine names the face it finds (IndexFaces, SearchFaces per FaceId, DeleteFaces of
the faces it indexed); ``people forget NAME`` deletes the enrolled faces. Every response is a real recorded
one (``4_rekognition``), adjusted only in its ids and boxes; the Stubber checks every request and response
against botocore's model, and each ``expected`` dict pins the parameters.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil

import pytest
from botocore.stub import ANY
from cloud.stubs import sample

from mediaapp.cli.main import main
from mediaapp.cloud.pricing import LEDGER_FILE, Ledger
from mediaapp.core.types import Query
from mediaapp.library import Library

PHOTO = "1_objects/voc/VOC2007/JPEGImages/000002.jpg"
NEW_FACE = "11111111-2222-3333-4444-555555555555"


def test_enrol_import_names_forget(aws, testdata, root, tmp_path, capsys):
    faces = testdata / "3_faces" / "face_recognition"
    enrol = sample(testdata, "botocore_examples/IndexFaces.json")
    enrolled_id = enrol["FaceRecords"][0]["Face"]["FaceId"]
    obama = (faces / "obama.jpg").read_bytes()
    aws.add_response("create_collection", {"StatusCode": 200, "CollectionArn": "aws:rekognition:us-east-1:1:"
                                           "collection/mediaapp-team-lib", "FaceModelVersion": "6.0"},
                     {"CollectionId": "mediaapp-team-lib"})
    aws.add_response("index_faces", enrol, {
        "CollectionId": "mediaapp-team-lib", "Image": {"Bytes": obama},
        "ExternalImageId": hashlib.sha256(obama).hexdigest(), "MaxFaces": 1, "QualityFilter": "AUTO",
        "DetectionAttributes": ["DEFAULT"]})
    assert main(["--library", str(root), "people", "add", "Ana", str(faces / "obama.jpg"),
                 "--engine", "rekognition"]) == 0
    assert "mediaapp-team-lib" in capsys.readouterr().out
    saved = json.loads((root / "settings.json").read_text())
    assert saved["engine_config"]["rekognition"]["face_collection"] == "mediaapp-team-lib"

    # an import names the face it finds from the collection
    celebs = sample(testdata, "awscli/recognize-celebrities.json")
    unknown_box = celebs["UnrecognizedFaces"][0]["BoundingBox"]
    found = copy.deepcopy(sample(testdata, "botocore_examples/IndexFaces.json"))
    found["FaceRecords"] = found["FaceRecords"][:1]
    found["FaceRecords"][0]["Face"].update(FaceId=NEW_FACE, BoundingBox=dict(unknown_box))
    found["FaceRecords"][0]["FaceDetail"]["BoundingBox"] = dict(unknown_box)
    matches = sample(testdata, "botocore_examples/SearchFaces.json")
    matches["SearchedFaceId"] = NEW_FACE
    matches["FaceMatches"][1]["Face"]["FaceId"] = enrolled_id  # the 97.04 match is Ana's enrolled face
    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(testdata / PHOTO, photos / "party.jpg")
    sha = hashlib.sha256((testdata / PHOTO).read_bytes()).hexdigest()
    aws.add_response("recognize_celebrities", celebs)
    aws.add_response("index_faces", found, {"CollectionId": "mediaapp-team-lib", "Image": ANY,
                                            "ExternalImageId": sha, "MaxFaces": 100, "QualityFilter": "AUTO"})
    aws.add_response("search_faces", matches, {"CollectionId": "mediaapp-team-lib", "FaceId": NEW_FACE,
                                               "FaceMatchThreshold": 80.0, "MaxFaces": 100})
    aws.add_response("delete_faces", {"DeletedFaces": [NEW_FACE]},
                     {"CollectionId": "mediaapp-team-lib", "FaceIds": [NEW_FACE]})
    lib = Library(root)
    try:
        report = lib.import_paths([photos], apis=["RecognizeCelebrities"])
        assert report.failed == [] and report.analysed == 1
        assert [h.sha256 for h in lib.search(Query(persons=("Ana",))).hits] == [sha]
        assert lib.search(Query(persons=(celebs["CelebrityFaces"][0]["Name"],))).total == 1  # the celebrity stays
        [stored] = [a for a in lib.show(str(photos / "party.jpg"))["analyses"]["RecognizeCelebrities"]
                    if a["Engine"] == "rekognition"]
        ana = next(c for c in stored["Response"]["CelebrityFaces"] if c["Name"] == "Ana")
        assert ana["MatchConfidence"] == pytest.approx(97.04154968261719)
        assert ana["Face"]["BoundingBox"] == unknown_box and stored["Response"]["UnrecognizedFaces"] == []
        assert "FaceCollection=mediaapp-team-lib" in stored["Params"]
    finally:
        lib.close()
    ledger = Ledger(root / LEDGER_FILE)
    try:  # enrolment and import: 2 IndexFaces, 1 SearchFaces, 1 RecognizeCelebrities; the rest is free
        assert ledger.month_calls(["IndexFaces"]) == 2 and ledger.month_calls(["SearchFaces"]) == 1
        assert ledger.month_spend() == pytest.approx(0.004)
    finally:
        ledger.close()

    # forgetting Ana deletes her enrolled face from the collection
    aws.add_response("delete_faces", {"DeletedFaces": [enrolled_id]},
                     {"CollectionId": "mediaapp-team-lib", "FaceIds": [enrolled_id]})
    assert main(["--library", str(root), "people", "forget", "Ana"]) == 0
    assert "deleted 1 face(s) of Ana" in capsys.readouterr().out
    aws.assert_no_pending_responses()
    lib = Library(root)
    try:
        assert lib.face_collection().faces() == []
    finally:
        lib.close()


def test_enrol_reports_an_image_without_face_and_goes_on(aws, testdata, root, capsys):
    faces = testdata / "3_faces" / "face_recognition"
    aws.add_client_error("create_collection", "ResourceAlreadyExistsException", "exists")
    aws.add_response("index_faces", {"FaceRecords": [], "UnindexedFaces": []})
    aws.add_response("index_faces", sample(testdata, "botocore_examples/IndexFaces.json"))
    code = main(["--library", str(root), "people", "add", "Bo", str(faces / "biden.jpg"), str(faces / "biden2.jpg"),
                 "--engine", "rekognition"])
    out = capsys.readouterr()
    assert code == 0 and "biden.jpg: Rekognition found no face to enrol" in out.err
    assert "from 1 example(s)" in out.out
    aws.assert_no_pending_responses()


def test_estimate_prices_the_collection_with_recognize_celebrities(testdata, tmp_path):
    """With a face collection, each image's RecognizeCelebrities also costs one IndexFaces (Group 1)."""
    from mediaapp.cloud.config import CloudConfig

    photos = tmp_path / "photos"
    photos.mkdir()
    shutil.copy(testdata / PHOTO, photos / "a.jpg")
    lib = Library(tmp_path / "lib")
    try:
        plain = lib.costs.estimate([photos], ["RecognizeCelebrities"], config=CloudConfig(upload="none"))
        named = lib.costs.estimate([photos], ["RecognizeCelebrities"],
                                   config=CloudConfig(upload="none", face_collection="team"))
    finally:
        lib.close()
    assert plain.usd_by_entry == {"RecognizeCelebrities": pytest.approx(0.001)}
    assert named.usd_by_entry == {"RecognizeCelebrities": pytest.approx(0.001), "IndexFaces": pytest.approx(0.001)}


def _engine_and_params(people: dict):
    from mediaapp.analysis.engine_base import AnalysisParams
    from mediaapp.analysis.rekognition import RekognitionEngine

    engine = RekognitionEngine(upload="none", tps=1000, collection_people=people)
    return engine, AnalysisParams(extra={"FaceCollection": "team"})


def test_a_named_face_without_an_overlapping_unrecognized_face_is_added(aws, testdata):
    from mediaapp.analysis.engine_base import ImageRef
    from mediaapp.analysis.validate import validate_response
    from mediaapp.core.types import Api

    found = sample(testdata, "botocore_examples/IndexFaces.json")
    found["FaceRecords"] = found["FaceRecords"][:1]
    found["FaceRecords"][0]["Face"]["FaceId"] = NEW_FACE
    matches = sample(testdata, "botocore_examples/SearchFaces.json")
    enrolled = matches["FaceMatches"][0]["Face"]["FaceId"]
    aws.add_response("recognize_celebrities", {"CelebrityFaces": [], "UnrecognizedFaces": []})
    aws.add_response("index_faces", found)
    aws.add_response("search_faces", matches)
    aws.add_response("delete_faces", {"DeletedFaces": [NEW_FACE]}, {"CollectionId": "team", "FaceIds": [NEW_FACE]})
    engine, params = _engine_and_params({enrolled: "Bo"})
    path = testdata / PHOTO
    out = engine.analyse_many([Api.RECOGNIZE_CELEBRITIES], ImageRef("ab" * 32, str(path)), params)
    aws.assert_no_pending_responses()
    answer = out[Api.RECOGNIZE_CELEBRITIES]
    validate_response("RecognizeCelebrities", answer)
    [bo] = answer["CelebrityFaces"]
    assert bo["Name"] == "Bo" and bo["MatchConfidence"] == pytest.approx(99.97222137451172)
    assert bo["Face"]["BoundingBox"] == found["FaceRecords"][0]["Face"]["BoundingBox"]


def test_a_failed_search_still_deletes_what_was_indexed_and_the_image_is_retried(aws, testdata):
    from mediaapp.analysis.engine_base import AnalysisError, ImageRef
    from mediaapp.core.types import Api

    found = sample(testdata, "botocore_examples/IndexFaces.json")
    ids = [r["Face"]["FaceId"] for r in found["FaceRecords"]]
    aws.add_response("recognize_celebrities", sample(testdata, "awscli/recognize-celebrities.json"))
    aws.add_response("index_faces", found)
    aws.add_client_error("search_faces", "ResourceNotFoundException", "collection gone")
    aws.add_response("delete_faces", {"DeletedFaces": ids}, {"CollectionId": "team", "FaceIds": ids})
    engine, params = _engine_and_params({"someone": "Bo"})
    out = engine.analyse_many([Api.RECOGNIZE_CELEBRITIES], ImageRef("ab" * 32, str(testdata / PHOTO)), params)
    aws.assert_no_pending_responses()
    assert isinstance(out[Api.RECOGNIZE_CELEBRITIES], AnalysisError)
    assert out[Api.RECOGNIZE_CELEBRITIES].code == "ResourceNotFoundException"
    assert "face collection does not exist" in str(out[Api.RECOGNIZE_CELEBRITIES])


@pytest.mark.parametrize("engine", ["rekognition", "local"])
def test_people_add_refuses_images_that_are_not_files_before_any_call(aws, root, tmp_path, capsys, engine):
    """No image is a file: exit 2 with one line, and no collection is made (the Stubber has no answer queued)."""
    capsys.readouterr()
    assert main(["--library", str(root), "people", "add", "Ana", str(tmp_path / "typo.jpg"),
                 "--engine", engine]) == 2
    err = capsys.readouterr().err
    assert "typo.jpg" in err and "is a file" in err and len(err.strip().splitlines()) == 1
    aws.assert_no_pending_responses()
