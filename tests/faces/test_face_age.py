"""DetectFaces' AgeRange and Gender on-device: the converter's ops for the age/gender model (Minimum, Maximum,
_FusedMatMul) against numpy, the pinned model converted and answering on real faces, the mapping to Rekognition's
shapes, and the engine's FaceDetails validating against botocore."""

from __future__ import annotations

import base64
import json

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image, ImageOps

from mediaapp.analysis.engine_base import AnalysisParams, ImageRef
from mediaapp.analysis.local.face_age import AgeGenderEstimator, age_range, gender, range_around
from mediaapp.analysis.local.face_detector import DlibFaceDetector
from mediaapp.analysis.validate import ResponseValidationError, validate_response
from mediaapp.core.types import Api, BoundingBox
from mediaapp.models.tfjs_convert import UnsupportedOpError, convert_file

FACES = "3_faces/face_recognition"


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _dense_graph(tmp_path, w: np.ndarray, b: np.ndarray, fused: list[str], transpose_b: bool = False):
    """A TFJS graph: x (N, 4) -> _FusedMatMul(x, w, b) -> Minimum(., 6) -> Maximum(., 0) (Keras' ReLU6 as
    grappler leaves it in the age/gender model), written with its weights file."""
    (tmp_path / "w.bin").write_bytes(np.concatenate([w.ravel(), b.ravel(), [6.0, 0.0]]).astype("<f4").tobytes())
    doc = {"format": "graph-model", "modelTopology": {"node": [
        {"name": "x", "op": "Placeholder", "attr": {"dtype": {"type": "DT_FLOAT"},
                                                    "shape": {"shape": {"dim": [{"size": "-1"}, {"size": "4"}]}}}},
        {"name": "w", "op": "Const"}, {"name": "b", "op": "Const"},
        {"name": "six", "op": "Const"}, {"name": "zero", "op": "Const"},
        {"name": "dense", "op": "_FusedMatMul", "input": ["x", "w", "b"],
         "attr": {"fused_ops": {"list": {"s": [_b64(f) for f in fused]}}, "transpose_a": {"b": False},
                  "transpose_b": {"b": transpose_b}, "num_args": {"i": "1"}}},
        {"name": "lo", "op": "Minimum", "input": ["dense", "six"]},
        {"name": "out", "op": "Maximum", "input": ["lo", "zero"]},
    ]}, "weightsManifest": [{"paths": ["w.bin"], "weights": [
        {"name": "w", "shape": list(w.shape), "dtype": "float32"}, {"name": "b", "shape": [3], "dtype": "float32"},
        {"name": "six", "shape": [], "dtype": "float32"}, {"name": "zero", "shape": [], "dtype": "float32"}]}]}
    path = tmp_path / "model.json"
    path.write_text(json.dumps(doc))
    return path


def _run(onnx_path, x):
    return ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


@pytest.mark.parametrize("fused", [["BiasAdd"], ["BiasAdd", "Relu"]])
def test_fused_matmul_minimum_maximum_match_numpy(tmp_path, fused):
    rng = np.random.default_rng(7)
    w, b = rng.normal(size=(4, 3)).astype(np.float32) * 4, rng.normal(size=3).astype(np.float32)
    onnx_path = convert_file(_dense_graph(tmp_path, w, b, fused), tmp_path / "m.onnx")
    x = rng.normal(size=(5, 4)).astype(np.float32) * 3
    pre = x @ w + b
    assert (pre < 0).any() and (pre > 6).any()   # the Relu and both clips are exercised
    y = np.maximum(pre, 0) if "Relu" in fused else pre
    expected = np.maximum(np.minimum(y, 6), 0)
    np.testing.assert_allclose(_run(onnx_path, x), expected, rtol=1e-5, atol=1e-5)


def test_fused_matmul_honours_transpose_b(tmp_path):
    rng = np.random.default_rng(8)
    w, b = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    onnx_path = convert_file(_dense_graph(tmp_path, w, b, ["BiasAdd"], transpose_b=True), tmp_path / "m.onnx")
    x = rng.normal(size=(2, 4)).astype(np.float32)
    np.testing.assert_allclose(_run(onnx_path, x), np.clip(x @ w.T + b, 0, 6), rtol=1e-5, atol=1e-5)


def test_fused_matmul_with_an_unknown_fused_op_is_refused(tmp_path):
    w, b = np.ones((4, 3), np.float32), np.zeros(3, np.float32)
    with pytest.raises(UnsupportedOpError, match="fused"):
        convert_file(_dense_graph(tmp_path, w, b, ["BiasAdd", "Elu"]), tmp_path / "m.onnx")


def test_age_range_and_gender_mapping():
    probs = np.zeros(100)
    probs[[29, 39]] = 0.5                       # classes 29 and 39 are ages 30 and 40 (min_age 1)
    estimate, rng = age_range(probs, 1, 5)
    assert estimate == pytest.approx(35.0)
    assert rng == {"Low": 30, "High": 40}
    probs = np.zeros(100)
    probs[0] = 1.0                              # a newborn: the range is clipped at 0
    assert age_range(probs, 1, 5)[1] == {"Low": 0, "High": 6}
    assert range_around(99.6, 5) == {"Low": 95, "High": 105}
    with pytest.raises(ValueError):
        age_range(np.zeros(100), 1, 5)
    assert gender(0.9) == {"Value": "Male", "Confidence": pytest.approx(90.0)}
    assert gender(0.2) == {"Value": "Female", "Confidence": pytest.approx(80.0)}
    assert gender(0.5)["Confidence"] == 50.0


@pytest.fixture(scope="module")
def estimator() -> AgeGenderEstimator:
    """The pinned age/gender model, fetched and converted into the test model cache once."""
    from mediaapp.models import default_model_dir
    from mediaapp.models.faces import ensure_face_model

    ensure_face_model(default_model_dir(), "faceres")
    ensure_face_model(default_model_dir())      # the engine's DetectFaces needs the expression model too
    return AgeGenderEstimator()


def _faces(testdata, name):
    img = ImageOps.exif_transpose(Image.open(testdata / FACES / name)).convert("RGB")
    faces = sorted(DlibFaceDetector().detect_faces(img), key=lambda f: f["BoundingBox"]["Left"])
    return img, [BoundingBox.from_rekognition(f["BoundingBox"]) for f in faces]


def test_the_pinned_model_converts_and_answers_probabilities(estimator, testdata):
    from mediaapp.models import default_model_dir
    from mediaapp.models.fetch import model_path, sources_dir
    from mediaapp.models.tfjs_convert import load_tfjs_graph

    spec = estimator.spec
    graph = load_tfjs_graph(sources_dir(default_model_dir(), spec) / "faceres.json")
    assert graph.metadata["generatedBy"] == "https://github.com/HSE-asavchenko/HSE_FaceRec_tf"  # weights' origin
    session = ort.InferenceSession(str(model_path(default_model_dir(), spec)), providers=["CPUExecutionProvider"])
    img, boxes = _faces(testdata, "obama.jpg")
    outs = dict(zip([o.name for o in session.get_outputs()],
                    session.run(None, {"input_1": estimator.model_input(img, boxes[0])})))
    ages, p_male = outs["age_pred/Softmax"], outs["gender_pred/Sigmoid"]
    assert ages.shape == (1, 100) and p_male.shape == (1, 1)
    assert ages.min() >= 0 and ages.sum() == pytest.approx(1.0, abs=1e-4)
    assert 0.0 <= float(p_male[0, 0]) <= 1.0


@pytest.mark.parametrize("name, value", [("obama.jpg", "Male"), ("biden.jpg", "Male"),
                                         ("rose_leslie_img1.jpg", "Female"), ("rose_leslie_img2.jpg", "Female")])
def test_real_faces_get_an_age_range_and_their_gender(estimator, testdata, name, value):
    img, boxes = _faces(testdata, name)
    out = estimator.age_gender(img, boxes[0])
    low, high = out["AgeRange"]["Low"], out["AgeRange"]["High"]
    assert isinstance(low, int) and isinstance(high, int)
    assert 0 <= low <= high <= 105 and high - low == 10            # estimate +- 5 years
    assert 18 <= (low + high) / 2 <= 80                            # adults, all of them
    assert out["Gender"]["Value"] == value and out["Gender"]["Confidence"] > 80


def test_older_faces_read_older(estimator, testdata):
    """No shared photo shows a child (MANIFEST), so the sanity check is between adults far apart in age:
    Joe Biden at 67 (biden.jpg, EXIF 2010, born 1942) against Kit Harington in his twenties."""
    img, boxes = _faces(testdata, "biden.jpg")
    old = estimator.estimate(img, boxes[0])[0]
    img, boxes = _faces(testdata, "kit_harington_john1.jpeg")
    young = estimator.estimate(img, boxes[0])[0]
    assert old - young > 15


def test_the_child_reads_younger_than_the_adults_beside_her(estimator, testdata):
    """obama_and_biden.jpg: Joe Biden, Barack Obama and, at the right, a child looking down (the benchmark's
    labels, ``benchmarks/face_attr_eval.py``)."""
    img, boxes = _faces(testdata, "obama_and_biden.jpg")
    biden, obama, child = (estimator.estimate(img, box)[0] for box in boxes)
    assert child < obama < biden


@pytest.mark.xfail(strict=True, reason="known miss: the child, shadowed and looking down, reads about 29 "
                                       "(benchmarks/face_attr_eval.py); AgeRange does not cover her age")
def test_the_child_reads_as_a_child(estimator, testdata):
    img, boxes = _faces(testdata, "obama_and_biden.jpg")
    assert estimator.age_gender(img, boxes[2])["AgeRange"]["High"] < 18


def test_engine_face_details_carry_age_and_gender_and_validate(estimator, testdata):
    from mediaapp.analysis.local.engine import LocalEngine

    ref = ImageRef("0" * 64, str(testdata / FACES / "kit_with_rose.jpg"))
    response = LocalEngine().analyse(Api.DETECT_FACES, ref, AnalysisParams())
    validate_response("DetectFaces", response)
    details = sorted(response["FaceDetails"], key=lambda d: d["BoundingBox"]["Left"])
    assert [d["Gender"]["Value"] for d in details] == ["Female", "Male"]   # Rose Leslie left, Kit Harington right
    for detail in details:
        assert detail["AgeRange"]["Low"] <= detail["AgeRange"]["High"]
    bad = {"FaceDetails": [{**details[0], "AgeRange": {"Low": -1, "High": 30}}]}
    with pytest.raises(ResponseValidationError):
        validate_response("DetectFaces", bad)   # botocore's shape holds the range to whole non-negative years
    bad = {"FaceDetails": [{**details[0], "Gender": {"Value": "Unknown", "Confidence": 90.0}}]}
    with pytest.raises(ResponseValidationError):
        validate_response("DetectFaces", bad)


def test_without_the_age_model_detect_faces_waits_for_it(estimator, testdata, tmp_path, monkeypatch):
    from mediaapp.analysis.engine_base import AnalysisError
    from mediaapp.analysis.local.engine import LocalEngine
    from mediaapp.models import fetch as fetch_mod

    monkeypatch.setattr(fetch_mod, "tarball_urls", lambda package: ["http://127.0.0.1:9/none.tgz"])  # offline
    engine = LocalEngine()
    engine.__dict__["age_gender"] = AgeGenderEstimator(tmp_path / "empty-cache")  # this engine's cache lacks it
    problems = engine.prepare([Api.DETECT_FACES, Api.DETECT_TEXT])
    assert list(problems) == [Api.DETECT_FACES] and "face age/gender model" in problems[Api.DETECT_FACES]
    with pytest.raises(AnalysisError) as exc:        # never answered without AgeRange: skipped, retried later
        engine.analyse(Api.DETECT_FACES, ImageRef("0" * 64, str(testdata / FACES / "obama.jpg")), AnalysisParams())
    assert exc.value.code == "ModelUnavailable"
