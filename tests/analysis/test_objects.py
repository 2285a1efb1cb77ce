"""The on-device object detector on real photos with ground-truth boxes.

Uses the shared model cache (``$MEDIAAPP_TEST_MODELS`` or
``~/.cache/mediaapp-test-models``), fetched and converted once per machine
(CI reaches the npm registry). 000001.jpg and 2007_000027.jpg are truncated
files in the test data and are not used.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import botocore.session
import botocore.validate
import pytest
from PIL import Image

from mediaapp.analysis.local.objects import ObjectDetector, build_labels_response, letterbox, nms
from mediaapp.ingest.decode import open_rgb

VOC = "1_objects/voc"


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """Every pinned model fetched and converted once (a fetch failure is an error, not a skip)."""
    from mediaapp.models import all_models, ensure_model
    root = Path(os.environ.get("MEDIAAPP_TEST_MODELS") or Path.home() / ".cache" / "mediaapp-test-models")
    for name in all_models():
        ensure_model(name, model_dir=root)
    return root


@pytest.fixture(scope="session", params=["nanodet", "centernet"])
def detector(request, model_cache) -> ObjectDetector:
    return ObjectDetector(model_dir=model_cache, model=request.param)


@pytest.fixture(scope="session")
def nanodet(model_cache) -> ObjectDetector:
    """NanoDet, pinned (the default detector is CenterNet; these tests were written against NanoDet's boxes)."""
    return ObjectDetector(model_dir=model_cache, model="nanodet")


def _gt(testdata: Path, rel: str) -> list[tuple[str, list[float]]]:
    summary = json.loads((testdata / VOC / "voc_gt_summary.json").read_text())
    entry = summary[rel]
    assert not entry["truncated_file"]
    return [(o["name"], [float(v) for v in o["xyxy_px"]]) for o in entry["objects"]]


def _iou(a, b) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return iw * ih / union if union > 0 else 0.0


def _instance_boxes(response: dict, name: str, size: tuple[int, int]) -> list[list[float]]:
    w, h = size
    label = next((l for l in response["Labels"] if l["Name"] == name), None)
    if label is None:
        return []
    return [[i["BoundingBox"]["Left"] * w, i["BoundingBox"]["Top"] * h,
             (i["BoundingBox"]["Left"] + i["BoundingBox"]["Width"]) * w,
             (i["BoundingBox"]["Top"] + i["BoundingBox"]["Height"]) * h] for i in label["Instances"]]


def _matched(gt_boxes, boxes, threshold=0.5) -> int:
    """Greedy one-to-one matches at IoU >= threshold."""
    used, hits = set(), 0
    for g in gt_boxes:
        best = max(((i, _iou(g, b)) for i, b in enumerate(boxes) if i not in used), key=lambda t: t[1],
                   default=(None, 0.0))
        if best[1] >= threshold:
            used.add(best[0])
            hits += 1
    return hits


def _validate(response: dict) -> None:
    shape = botocore.session.get_session().get_service_model("rekognition") \
        .operation_model("DetectLabels").output_shape
    report = botocore.validate.ParamValidator().validate(response, shape)
    assert not report.has_errors(), report.generate_report()


def test_cars_found_where_the_ground_truth_says(detector, testdata):
    rel = "VOC2007/JPEGImages/000004.jpg"
    img = open_rgb(testdata / VOC / rel)
    response = detector.detect_labels(img, None, 30)
    _validate(response)
    assert response["LabelModelVersion"] == detector.version
    names = [l["Name"] for l in response["Labels"]]
    assert "Car" in names and "Vehicle" in names and "Transportation" in names
    cars = [box for name, box in _gt(testdata, rel) if name == "car"]
    assert len(cars) == 7
    assert _matched(cars, _instance_boxes(response, "Car", img.size)) >= 5


def test_airplane_and_people(detector, testdata):
    rel = "VOC2012/JPEGImages/2007_000032.jpg"
    img = open_rgb(testdata / VOC / rel)
    response = detector.detect_labels(img, None, 30)
    gt = _gt(testdata, rel)
    planes = _instance_boxes(response, "Airplane", img.size)
    people = _instance_boxes(response, "Person", img.size)
    big_plane = gt[0][1]
    assert max(_iou(big_plane, b) for b in planes) >= 0.6
    assert _matched([b for n, b in gt if n == "person"], people) == 2
    airplane = next(l for l in response["Labels"] if l["Name"] == "Airplane")
    assert [p["Name"] for p in airplane["Parents"]] == ["Aircraft", "Vehicle", "Transportation"]
    assert airplane["Categories"] == [{"Name": "Vehicles and Automotive"}]


def test_portrait_photo_train(detector, testdata):
    rel = "VOC2007/JPEGImages/000002.jpg"
    img = open_rgb(testdata / VOC / rel)
    assert img.height > img.width  # letterboxed with padding on the right
    boxes = _instance_boxes(detector.detect_labels(img, None, 40), "Train", img.size)
    assert max(_iou(_gt(testdata, rel)[0][1], b) for b in boxes) >= 0.8


def test_labelme_bus(nanodet, testdata):
    path = testdata / "1_objects/labelme_voc2011/2011_000025.jpg"
    shapes = json.loads(path.with_suffix(".json").read_text())["shapes"]
    buses = [[min(p[0] for p in s["points"]), min(p[1] for p in s["points"]),
              max(p[0] for p in s["points"]), max(p[1] for p in s["points"])] for s in shapes if s["label"] == "bus"]
    img = open_rgb(path)
    found = _instance_boxes(nanodet.detect_labels(img, None, 30), "Bus", img.size)
    assert max(_iou(buses[0], b) for b in found) >= 0.8


def test_max_labels_and_min_confidence_are_honoured(nanodet, testdata):
    img = open_rgb(testdata / VOC / "VOC2012/JPEGImages/2007_000032.jpg")
    everything = nanodet.detect_labels(img, None, 20)
    assert len(everything["Labels"]) >= 4
    confidences = [l["Confidence"] for l in everything["Labels"]]
    assert confidences == sorted(confidences, reverse=True)
    top2 = nanodet.detect_labels(img, 2, 20)
    assert [l["Name"] for l in top2["Labels"]] == [l["Name"] for l in everything["Labels"][:2]]
    assert nanodet.detect_labels(img, 0, 20)["Labels"] == []
    strict = nanodet.detect_labels(img, None, 55)
    assert 0 < len(strict["Labels"]) < len(everything["Labels"])
    for label in strict["Labels"]:
        assert label["Confidence"] >= 55
        assert all(i["Confidence"] >= 55 for i in label["Instances"])
    _validate(strict)
    assert nanodet.detect_labels(img, None, 100)["Labels"] == []
    with pytest.raises(ValueError):
        nanodet.detect_labels(img, -1, 50)
    with pytest.raises(ValueError):
        nanodet.detect_labels(img, None, 150)


def test_parent_labels_make_animal_searchable(nanodet):
    from mediaapp.analysis.local.objects import ObjectInstance
    dog = ObjectInstance("Dog", 80.0, (10.0, 20.0, 110.0, 70.0))
    cat = ObjectInstance("Cat", 60.0, (120.0, 20.0, 180.0, 70.0))
    response = build_labels_response([dog, cat], (200, 100), nanodet.taxonomy, "v")
    _validate(response)
    by_name = {l["Name"]: l for l in response["Labels"]}
    assert by_name["Animal"]["Confidence"] == 80.0 and by_name["Animal"]["Instances"] == []
    assert by_name["Pet"]["Confidence"] == 80.0 and "Canine" in by_name
    assert next(l["Name"] for l in response["Labels"]) == "Dog"  # the object before its ancestors
    box = by_name["Dog"]["Instances"][0]["BoundingBox"]
    assert box == pytest.approx({"Left": 0.05, "Top": 0.2, "Width": 0.5, "Height": 0.5})
    assert {p["Name"] for p in by_name["Dog"]["Parents"]} == {"Pet", "Mammal", "Canine", "Animal"}
    top = build_labels_response([dog, cat], (200, 100), nanodet.taxonomy, "v", max_labels=1)["Labels"][0]
    assert top["Name"] == "Dog"


def test_boxes_map_back_through_padding_and_scale(detector, testdata):
    """The same photo inside a tall canvas, and at 3x size, gives the same boxes (both models share the letterbox;
    CenterNet's 512-pixel input sees the 3x photo's cars a little differently: two of nine may move)."""
    rel = "VOC2007/JPEGImages/000004.jpg"
    img = open_rgb(testdata / VOC / rel)
    w, h = img.size
    tall = Image.new("RGB", (w, h * 3), (255, 255, 255))
    tall.paste(img, (0, h))
    cars_gt = [box for name, box in _gt(testdata, rel) if name == "car"]
    shifted = [[x1, y1 + h, x2, y2 + h] for x1, y1, x2, y2 in cars_gt]
    found = _instance_boxes(detector.detect_labels(tall, None, 20), "Car", tall.size)
    assert _matched(shifted, found) >= 3  # the cars are now a third of their former size
    assert all(b[1] >= h - 2 for b in found if b[1] > 0.5 * h)

    big = img.resize((w * 3, h * 3), Image.Resampling.BICUBIC)
    small_boxes = _instance_boxes(detector.detect_labels(img, None, 40), "Car", img.size)
    big_boxes = [[v / 3 for v in b] for b in _instance_boxes(detector.detect_labels(big, None, 40), "Car", big.size)]
    assert len(small_boxes) >= 4
    slack = 1 if detector.spec.name == "nanodet" else 2
    assert _matched(small_boxes, big_boxes, threshold=0.85) >= len(small_boxes) - slack


def test_exif_rotated_photo_gives_upright_boxes(nanodet, testdata, tmp_path):
    """A photo stored rotated with EXIF Orientation 6, decoded by open_rgb, gives boxes in the upright frame."""
    rel = "VOC2007/JPEGImages/000004.jpg"
    upright = open_rgb(testdata / VOC / rel)
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera held sideways writes
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    stored.save(path, quality=95, exif=exif)
    img = open_rgb(path)
    assert img.size == upright.size
    cars = [box for name, box in _gt(testdata, rel) if name == "car"]
    assert _matched(cars, _instance_boxes(nanodet.detect_labels(img, None, 30), "Car", img.size)) >= 5
    # without orientation correction the cars would be elsewhere: the stored pixels give no such boxes
    raw = Image.open(path).convert("RGB")
    assert raw.size == (upright.height, upright.width)
    assert _matched(cars, _instance_boxes(nanodet.detect_labels(raw, None, 30), "Car", raw.size)) == 0


def test_empty_and_tiny_images(nanodet):
    blank = nanodet.detect_labels(Image.new("RGB", (640, 480), (127, 127, 127)), None, 50)
    assert blank["Labels"] == [] and blank["LabelModelVersion"] == nanodet.version
    _validate(blank)
    tiny = nanodet.detect_labels(Image.new("L", (3, 1)), None, 50)
    assert tiny["Labels"] == []


def test_letterbox_and_nms_helpers():
    img = Image.new("RGB", (800, 200), (10, 20, 30))
    pixels, scale = letterbox(img, (416, 416))
    assert scale == pytest.approx(416 / 800)
    assert pixels.shape == (416, 416, 3)
    assert (pixels[:104] == [10, 20, 30]).all() and (pixels[105:] == 0).all()
    import numpy as np
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30], [0, 0, 10, 9]], float)
    scores = np.array([0.9, 0.8, 0.7, 0.95])
    assert nms(boxes, scores, 0.6) == [3, 2]
    assert nms(boxes, scores, 0.95) == [3, 0, 1, 2]
