"""Face detection, landmarks and embeddings with dlib on the real test photos."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from PIL import ImageFilter

from mediaapp.analysis.local.face_detector import DlibFaceDetector, embed_faces, score_to_confidence
from mediaapp.analysis.validate import validate_response
from mediaapp.ingest.decode import open_rgb

pytestmark = pytest.mark.slow

# Photos whose face count differs from their number of names in identities.csv:
# obama_and_biden.jpg also shows a child's face in the lower right corner
# (checked by eye).
EXTRA_FACES = {"3_faces/face_recognition/obama_and_biden.jpg": 1}


def _identities(testdata):
    with open(testdata / "3_faces" / "identities.csv", newline="") as fh:
        return [(row["local_path"], [n.strip() for n in row["person(s)"].split(";")])
                for row in csv.DictReader(fh)]


def _validate(value, shape_name):
    import botocore.session
    from botocore.validate import ParamValidator

    shape = botocore.session.get_session().get_service_model("rekognition").shape_for(shape_name)
    report = ParamValidator().validate(value, shape)
    if report.has_errors():
        raise AssertionError(report.generate_report())


@pytest.fixture(scope="module")
def detector():
    return DlibFaceDetector()


@pytest.fixture(scope="module")
def all_faces(testdata, detector):
    """{relative path: (image, faces)} for every photo in identities.csv."""
    out = {}
    for rel, _ in _identities(testdata):
        image = open_rgb(testdata / rel)
        out[rel] = (image, detector.detect_faces(image))
    return out


def test_every_face_photo_has_its_known_number_of_faces(testdata, all_faces):
    rows = _identities(testdata)
    assert len(rows) == 21
    for rel, names in rows:
        _, faces = all_faces[rel]
        expected = len(names) + EXTRA_FACES.get(rel, 0)
        assert len(faces) == expected, (rel, len(faces), expected)


def test_faces_are_valid_compared_faces_with_boxes_in_the_unit_square(all_faces):
    for rel, (_, faces) in all_faces.items():
        validate_response("RecognizeCelebrities", {"CelebrityFaces": [], "UnrecognizedFaces": faces})
        for face in faces:
            _validate(face, "ComparedFace")
            box = face["BoundingBox"]
            assert 0.0 <= box["Left"] <= 1.0 and 0.0 <= box["Top"] <= 1.0, rel
            assert 0.0 < box["Width"] and box["Left"] + box["Width"] <= 1.0 + 1e-9, rel
            assert 0.0 < box["Height"] and box["Top"] + box["Height"] <= 1.0 + 1e-9, rel
            assert 50.0 <= face["Confidence"] <= 100.0
            assert [lm["Type"] for lm in face["Landmarks"]] == [
                "eyeLeft", "eyeRight", "mouthLeft", "mouthRight", "nose"]
            for key in ("Brightness", "Sharpness"):
                assert 0.0 <= face["Quality"][key] <= 100.0


def test_landmarks_sit_in_anatomical_order_inside_the_box(all_faces):
    for rel, (_, faces) in all_faces.items():
        for face in faces:
            lm = {p["Type"]: (p["X"], p["Y"]) for p in face["Landmarks"]}
            box = face["BoundingBox"]
            # eyeLeft is the eye on the image's left, as in Rekognition's examples
            assert lm["eyeLeft"][0] < lm["eyeRight"][0], rel
            assert lm["mouthLeft"][0] < lm["mouthRight"][0], rel
            eyes_y = (lm["eyeLeft"][1] + lm["eyeRight"][1]) / 2
            mouth_y = (lm["mouthLeft"][1] + lm["mouthRight"][1]) / 2
            assert eyes_y < lm["nose"][1] < mouth_y, rel
            for name in ("eyeLeft", "eyeRight", "nose"):
                x, y = lm[name]
                if box["Left"] > 0.0:  # faces cut by the edge may have points outside
                    assert box["Left"] <= x <= box["Left"] + box["Width"], (rel, name)
                assert box["Top"] <= y <= box["Top"] + box["Height"], (rel, name)


def test_no_face_on_a_train_photo(testdata, detector):
    image = open_rgb(testdata / "1_objects/voc/VOC2007/JPEGImages/000002.jpg")
    assert detector.detect_faces(image) == []


def test_faces_are_sorted_largest_first_and_both_people_found(all_faces):
    _, faces = all_faces["3_faces/face_recognition/two_people.jpg"]
    areas = [f["BoundingBox"]["Width"] * f["BoundingBox"]["Height"] for f in faces]
    assert areas == sorted(areas, reverse=True)
    centres = sorted(f["BoundingBox"]["Left"] + f["BoundingBox"]["Width"] / 2 for f in faces)
    assert centres[0] < 0.5 < centres[1]  # one person on each half of the photo


def test_boxes_do_not_depend_on_the_image_resolution(testdata, detector):
    small = open_rgb(testdata / "3_faces/face_recognition/obama_small.jpg")  # 320x240
    big = small.resize((small.width * 8, small.height * 8))  # 2560x1920: detected downscaled
    (a,), (b,) = detector.detect_faces(small), detector.detect_faces(big)
    for key in ("Left", "Top", "Width", "Height"):
        assert a["BoundingBox"][key] == pytest.approx(b["BoundingBox"][key], abs=0.05)


def test_small_faces_need_the_upscale(testdata):
    image = open_rgb(testdata / "3_faces/face_recognition/obama_small.jpg")
    tiny = image.resize((image.width // 3, image.height // 3))  # face box ~37 px: too small for HOG
    assert len(DlibFaceDetector(max_upscale=1.0).detect_faces(tiny)) == 0
    assert len(DlibFaceDetector().detect_faces(tiny)) == 1


def test_roll_follows_a_rotation_of_the_photo(testdata, detector):
    image = open_rgb(testdata / "3_faces/face_recognition/obama.jpg")
    (upright,) = detector.detect_faces(image)
    (turned,) = detector.detect_faces(image.rotate(15, expand=True, fillcolor="white"))
    # PIL rotates counter-clockwise: the eye line climbs to the right, Roll falls by ~15 degrees
    assert turned["Pose"]["Roll"] - upright["Pose"]["Roll"] == pytest.approx(-15, abs=5)


def test_blur_lowers_sharpness_but_not_brightness(testdata, detector):
    image = open_rgb(testdata / "3_faces/face_recognition/biden2.jpg")
    (sharp,) = detector.detect_faces(image)
    (blurred,) = detector.detect_faces(image.filter(ImageFilter.GaussianBlur(3)))
    assert blurred["Quality"]["Sharpness"] < sharp["Quality"]["Sharpness"] - 10
    assert blurred["Quality"]["Brightness"] == pytest.approx(sharp["Quality"]["Brightness"], abs=3)


def test_rgba_and_grayscale_inputs(testdata, detector):
    from PIL import Image

    path = testdata / "3_faces/face_recognition/alex-lacamoire.png"
    with Image.open(path) as raw:
        rgba = raw.copy()
    assert rgba.mode == "RGBA"
    assert len(detector.detect_faces(rgba)) == 1
    assert len(detector.detect_faces(rgba.convert("L"))) == 1


def test_embeddings_separate_people(all_faces, detector):
    def emb(rel):
        image, faces = all_faces[f"3_faces/face_recognition/{rel}"]
        (vec,) = embed_faces(image, faces[:1])
        return vec

    obama, obama2, biden = emb("obama.jpg"), emb("obama2.jpg"), emb("biden.jpg")
    assert obama.shape == (128,) and obama.dtype == np.float64
    assert np.linalg.norm(obama - obama2) < 0.6 < np.linalg.norm(obama - biden)


def test_detect_and_embed_agrees_with_embed_faces(all_faces, detector):
    image, faces = all_faces["3_faces/face_recognition/kit_with_rose.jpg"]
    pairs = detector.detect_and_embed(image)
    assert [f for f, _ in pairs] == faces
    for (_face, vec), again in zip(pairs, embed_faces(image, faces)):
        assert np.linalg.norm(vec - again) < 0.05


def test_version_and_confidence_mapping():
    assert DlibFaceDetector().version.startswith("dlib-")
    assert DlibFaceDetector().version.endswith("/hog")
    assert DlibFaceDetector(model="cnn").version.endswith("/cnn")
    with pytest.raises(ValueError):
        DlibFaceDetector(model="haar")
    assert score_to_confidence(0.0) == pytest.approx(50.0)
    values = [score_to_confidence(s) for s in (-1.0, 0.0, 0.5, 1.0, 2.0, 3.0)]
    assert values == sorted(values) and 0.0 < values[0] and values[-1] < 100.0
    with pytest.raises(TypeError):
        DlibFaceDetector().detect_faces(np.zeros((10, 10, 3), np.uint8))


def test_cnn_detector_agrees_with_hog_on_a_small_photo(testdata, detector):
    image = open_rgb(testdata / "3_faces/face_recognition/obama_small.jpg")  # CNN is slow: keep it small
    (cnn,) = DlibFaceDetector(model="cnn").detect_faces(image)
    (hog,) = detector.detect_faces(image)
    _validate(cnn, "ComparedFace")
    a, b = cnn["BoundingBox"], hog["BoundingBox"]
    iw = min(a["Left"] + a["Width"], b["Left"] + b["Width"]) - max(a["Left"], b["Left"])
    ih = min(a["Top"] + a["Height"], b["Top"] + b["Height"]) - max(a["Top"], b["Top"])
    inter = max(iw, 0.0) * max(ih, 0.0)
    union = a["Width"] * a["Height"] + b["Width"] * b["Height"] - inter
    assert inter / union > 0.5
    assert cnn["Confidence"] > 90
