"""``mediaapp faces compare A B [--json] [--engine local|rekognition]``: CompareFaces on both engines.

Same and different people from ``3_faces`` (``identities.csv``). The local engine runs dlib for real;
Rekognition answers through botocore's Stubber (real recorded CompareFaces responses) and through a moto
server over HTTP. Every answer is checked against botocore's CompareFaces output shape.
"""

from __future__ import annotations

import json

import pytest

from mediaapp.analysis.local.recognition import DEFAULT_SIMILARITY_THRESHOLD, similarity_to_distance
from mediaapp.analysis.validate import validate_response
from mediaapp.cli.main import main
from mediaapp.cloud.pricing import LEDGER_FILE, Ledger


@pytest.fixture
def faces(testdata):
    return testdata / "3_faces" / "face_recognition"


def _library(tmp_path, **cloud) -> str:
    root = tmp_path / "lib"
    root.mkdir()
    (root / "settings.json").write_text(json.dumps({"engine_config": {"rekognition": {"upload": "none", **cloud}}}))
    return str(root)


def _compare(capsys, lib: str, a, b, *extra) -> tuple[int, dict]:
    code = main(["--library", lib, "faces", "compare", str(a), str(b), "--json", *extra])
    out = capsys.readouterr().out
    return code, (json.loads(out) if code == 0 else {})


@pytest.mark.parametrize(("source", "target", "same"), [
    ("obama.jpg", "obama2.jpg", True),
    ("biden.jpg", "biden2.jpg", True),
    ("kit_harington_john1.jpeg", "johnsnow_test1.jpg", True),
    ("obama.jpg", "biden.jpg", False),
    ("rose_leslie_img1.jpg", "kit_harington_john2.jpeg", False),
])
def test_local_engine_same_and_different_people(tmp_path, capsys, faces, source, target, same):
    code, answer = _compare(capsys, _library(tmp_path), faces / source, faces / target, "--engine", "local")
    assert code == 0
    validate_response("CompareFaces", answer)
    assert "SimilarityThreshold" not in answer  # a request parameter: botocore's output shape has no such key
    similarities = [m["Similarity"] for m in answer["FaceMatches"]]
    assert all(0.0 <= s <= 100.0 for s in similarities)
    if same:
        assert len(similarities) == 1 and similarities[0] >= DEFAULT_SIMILARITY_THRESHOLD
    else:
        assert similarities == [] and len(answer["UnmatchedFaces"]) == 1


def test_local_similarity_mapping_puts_dlibs_distance_on_rekognitions_threshold():
    assert similarity_to_distance(DEFAULT_SIMILARITY_THRESHOLD) == pytest.approx(0.6)


def test_rekognition_engine_answers_through_the_stubber_and_is_billed(tmp_path, capsys, faces, testdata,
                                                                      rekognition_stubber):
    answer = json.loads((testdata / "4_rekognition/awscli/compare-faces.json").read_text())
    stubber = rekognition_stubber
    stubber.add_response("compare_faces", answer, {
        "SourceImage": {"Bytes": (faces / "obama.jpg").read_bytes()},
        "TargetImage": {"Bytes": (faces / "obama2.jpg").read_bytes()}, "SimilarityThreshold": 80.0})
    lib = _library(tmp_path)
    code, got = _compare(capsys, lib, faces / "obama.jpg", faces / "obama2.jpg", "--engine", "rekognition")
    stubber.assert_no_pending_responses()
    assert code == 0 and got == answer
    validate_response("CompareFaces", got)
    ledger = Ledger(tmp_path / "lib" / LEDGER_FILE)
    try:
        assert ledger.month_calls(["CompareFaces"]) == 1 and ledger.month_spend() == pytest.approx(0.001)
    finally:
        ledger.close()


def test_rekognition_errors_and_budget_are_one_line(tmp_path, capsys, faces, rekognition_stubber):
    stubber = rekognition_stubber
    stubber.add_client_error("compare_faces", "InvalidParameterException", "There are no faces in the image.")
    code = main(["--library", _library(tmp_path), "faces", "compare", str(faces / "obama.jpg"),
                 str(faces / "biden.jpg"), "--engine", "rekognition"])
    err = capsys.readouterr().err
    assert code == 1 and "no faces in the image" in err and err.count("\n") == 1
    (tmp_path / "tight").mkdir()
    tight = _library(tmp_path / "tight", budget_per_run=0.0005)  # less than one call
    code = main(["--library", tight, "faces", "compare", str(faces / "obama.jpg"), str(faces / "biden.jpg"),
                 "--engine", "rekognition"])
    err = capsys.readouterr().err
    assert code == 1 and "budget" in err
    stubber.assert_no_pending_responses()


def test_rekognition_over_http_with_moto(tmp_path, capsys, faces, fake_aws):
    from moto.server import ThreadedMotoServer
    from support import free_port

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        code, got = _compare(capsys, _library(tmp_path, endpoint_url=f"http://127.0.0.1:{port}"),
                             faces / "obama.jpg", faces / "obama2.jpg", "--engine", "rekognition")
    finally:
        server.stop()
    assert code == 0
    validate_response("CompareFaces", got)
    assert got["FaceMatches"] and got["SourceImageFace"]["BoundingBox"]
