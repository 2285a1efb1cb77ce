"""The local engine's side of People on real photos: face records (embeddings, crops) next to valid
responses, CelebrityFaces for named people, and the face setting in the cache key."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from mediaapp.analysis.analysis_worker import analyse_image
from mediaapp.analysis.engine_base import AnalysisParams, ImageRef
from mediaapp.analysis.local.engine import LocalEngine
from mediaapp.analysis.local.face_detector import DlibFaceDetector
from mediaapp.analysis.local.face_records import FACE_CROP_SIDE, crop_name
from mediaapp.analysis.validate import validate_response
from mediaapp.core.apis import API_SPECS
from mediaapp.core.embeddings import embedding_from_bytes, embedding_to_bytes, person_id
from mediaapp.core.types import Api
from mediaapp.ingest.decode import ANALYSIS_MAX_SIDE, open_rgb

pytestmark = pytest.mark.slow

FR = "3_faces/face_recognition/"
CELEB = Api.RECOGNIZE_CELEBRITIES


def _botocore_valid(value: dict, operation: str) -> None:
    import botocore.session
    from botocore.validate import ParamValidator

    model = botocore.session.get_session().get_service_model("rekognition")
    report = ParamValidator().validate(value, model.operation_model(operation).output_shape)
    assert not report.has_errors(), report.generate_report()
    validate_response(operation, value)


def _embedding(testdata, name: str) -> np.ndarray:
    (_, emb), = DlibFaceDetector().detect_and_embed(open_rgb(testdata / FR / name, ANALYSIS_MAX_SIDE))
    return emb


def test_worker_returns_face_records_beside_a_valid_response(testdata, tmp_path):
    ref = ImageRef("a" * 64, str(testdata / FR / "two_people.jpg"))
    outcomes = analyse_image("local", {"face_crops_dir": str(tmp_path)}, [CELEB.value], ref, AnalysisParams())
    (outcome,) = outcomes
    _botocore_valid(outcome.response, CELEB.value)  # the stored response stays schema-valid
    assert len(outcome.response["UnrecognizedFaces"]) == 2 and outcome.response["CelebrityFaces"] == []
    records = outcome.extras["Faces"]
    assert [r["Index"] for r in records] == [0, 1]
    for record, face in zip(records, outcome.response["UnrecognizedFaces"]):
        assert record["Face"]["BoundingBox"] == face["BoundingBox"]
        assert len(record["Embedding"]) == 512 and record["Crop"] == crop_name("a" * 64, record["Index"])
        from PIL import Image
        with Image.open(tmp_path / record["Crop"]) as crop:
            assert crop.size == (FACE_CROP_SIDE, FACE_CROP_SIDE) and crop.format == "JPEG"
    # the two faces are two people: their embeddings are far apart
    a, b = (embedding_from_bytes(r["Embedding"]) for r in records)
    assert np.linalg.norm(a - b) > 0.6


def test_named_people_become_celebrity_faces(testdata, tmp_path):
    obama = _embedding(testdata, "obama.jpg")
    packed = base64.b64encode(embedding_to_bytes(obama)).decode("ascii")
    engine = LocalEngine(people={"Barack Obama": [packed]}, face_crops_dir=str(tmp_path))
    both = ImageRef("b" * 64, str(testdata / FR / "obama_and_biden.jpg"))
    answer, records = engine.analyse_with_extras([CELEB], both,
                                                AnalysisParams())
    response = answer[CELEB]
    _botocore_valid(response, CELEB.value)
    (celeb,) = response["CelebrityFaces"]
    assert celeb["Name"] == "Barack Obama" and celeb["Id"] == person_id("Barack Obama") and celeb["Urls"] == []
    assert 80 <= celeb["MatchConfidence"] <= 100
    assert set(celeb["Face"]) == {"BoundingBox", "Confidence", "Landmarks", "Pose", "Quality"}
    assert len(response["UnrecognizedFaces"]) == 2          # Biden and the child
    assert len(records["Faces"]) == 3                        # every face is recorded, named or not
    # the same embeddings given as plain numbers name the same face
    plain = LocalEngine(people={"Barack Obama": [obama.tolist()]})
    again = plain.analyse(CELEB, ImageRef("b" * 64, str(testdata / FR / "obama_and_biden.jpg")), AnalysisParams())
    assert again["CelebrityFaces"][0]["Face"]["BoundingBox"] == celeb["Face"]["BoundingBox"]
    # nobody named: no CelebrityFaces even for Obama
    unnamed = LocalEngine().analyse(CELEB, ImageRef("c" * 64, str(testdata / FR / "obama.jpg")), AnalysisParams())
    assert unnamed["CelebrityFaces"] == [] and len(unnamed["UnrecognizedFaces"]) == 1


def test_faces_off_is_part_of_the_cache_key_and_finds_no_face(testdata, tmp_path):
    params = AnalysisParams(max_labels=10, min_confidence=60)
    on = LocalEngine.request_params(params, {"faces_enabled": True})
    off = LocalEngine.request_params(params, {"faces_enabled": False})
    for api in (s.api for s in API_SPECS.values() if s.media != "video"):
        assert on.key(api) == params.key(api)  # with faces on, the keys responses were cached under before
    for api in (s.api for s in API_SPECS.values() if s.media == "video"):  # videos add their frame sampling
        assert on.key(api) == ";".join(filter(None, [params.key(api), "Frames=every2s,max48,scene6"]))
    assert off.key(CELEB) == "Faces=off"
    assert off.key(Api.DETECT_LABELS) == params.key(Api.DETECT_LABELS) + ";Faces=off"
    assert off.key(Api.DETECT_TEXT) == params.key(Api.DETECT_TEXT)  # text does not depend on faces
    engine = LocalEngine(faces_enabled=False, face_crops_dir=str(tmp_path))
    answer, records = engine.analyse_with_extras([CELEB], ImageRef("d" * 64, str(testdata / FR / "obama.jpg")), off)
    assert answer[CELEB] == {"CelebrityFaces": [], "UnrecognizedFaces": []} and records is None
    assert engine.version(CELEB) == "nofaces" and not any(tmp_path.iterdir())
