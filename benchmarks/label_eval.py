"""Label quality of the local engine: the ImageNet classifier's accuracy and the labels a user sees.

Usage::

    python benchmarks/label_eval.py [--testdata DIR] [--fit] [--fit-detector] [--speed]

Data (shared test data, nothing copied into the repository):

* ``6_imagenet``: 100 ImageNet photos, one per class, with their class in
  ``labels.tsv``. Sorted by class index, the even-numbered half is the
  *calibration* half and the odd-numbered half the *held-out* half.
* ``1_objects``: the VOC / labelme photos with their objects
  (``benchmarks/detect_eval.load_ground_truth``).

Printed:

1. Top-1 / top-5 accuracy of the converted classifier on all 100 photos, and
   the largest |logit| difference between the ONNX graph and a pure-numpy
   forward pass of the same checkpoint (``numpy_reference``), as an
   independent check of the conversion.
2. On the held-out half, with the full local engine at the product's defaults
   (DetectLabels, MinConfidence 50, faces on): precision of the classifier's
   labels (a label is right when it is the photo's class or one of its
   ancestors), and the share of photos whose class name or its head noun
   (last word) is among the returned labels' Names, Parents or Aliases.
   The calibration error (mean |Confidence/100 - right|) is printed for
   the held-out labels too.
3. On ``1_objects`` at the same defaults, before (detector and faces only) and
   after (with the classifier): label precision and recall (a label is right
   when it names one of the photo's objects or an ancestor of one, or when one
   of its Parents names an object), and mAP@0.5 of the instances shown
   (Confidence >= 50), per half and for all photos.
4. Two-fold on ``1_objects``: the detector's curve fitted on the held-out half
   scores the calibration half; pooled with section 3's held-out half, every
   photo is scored by a curve fitted on the other half only.
5. ``--speed``: median classifier latency on the ImageNet photos after decoding
   (ms per image); the full-analysis throughput on 12 MP photos is
   ``benchmarks/analysis_bench.py``'s job.

``--fit`` first fits the isotonic calibration curve (scikit-learn
``IsotonicRegression``, increasing, clipped to 0-1; its steps smoothed by
``plateau_knots``) on the calibration half:
every label the classifier gives a raw score of at least 0.01 is one sample
(raw score, right or not). It writes ``resources/concepts/calibration.json``
(the curve's knots and the list of files it was fitted on), then evaluates.

``--fit-detector`` first fits the object detector's curve (the default detector,
or the one ``MEDIAAPP_DETECTOR`` names) on the calibration
half of ``1_objects`` (``voc[0::2]``; section 3 reports the other half and all):
every box of a VOC class the detector finds (raw score >= 0.05) is one sample,
right when it matches an object as mAP@0.5 counts it (``detector_samples``);
Platt scaling (``platt_knots``), written as knots to
``resources/concepts/detector_calibration_<model name>.json``. Platt rather than isotonic:
the half holds about 18 right boxes, too few for an isotonic step function
(the printed isotonic steps show how jumpy it would be). Section 3 prints the
product (calibrated) next to the same engine with raw detector scores.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

DEFAULT_THRESHOLD = 50.0


def imagenet_rows(testdata: Path) -> list[dict]:
    """``labels.tsv`` rows sorted by class index, each with ``path`` added."""
    root = testdata / "6_imagenet"
    with open(root / "labels.tsv", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    for row in rows:
        row["path"] = root / row["file"]
        row["index"] = int(row["index"])
    return sorted(rows, key=lambda r: r["index"])


def split(rows: list[dict]) -> tuple[list[dict], list[dict]]:
    """(calibration half, held-out half): alternate rows in class-index order."""
    return rows[0::2], rows[1::2]


def truth_names(data, index: int) -> set[str]:
    """The names that are right for a photo of class ``index``: its label and every ancestor."""
    name = data.names[index]
    return {name, *data.labels[name]["parents"]}


def numpy_reference(state: dict, image: np.ndarray) -> np.ndarray:
    """EfficientNet-Lite logits computed directly with numpy from the state_dict (slow; one image).

    Independent of the ONNX builder: explicit TF-SAME zero padding, im2col
    convolutions, unfolded batch norm (eps 1e-3), ReLU6. ``image``: (3, S, S).
    """
    def conv(x, w, stride, groups=1):
        c, h, wd = x.shape
        k = w.shape[-1]
        oh, ow = -(-h // stride), -(-wd // stride)
        ph, pw = max((oh - 1) * stride + k - h, 0), max((ow - 1) * stride + k - wd, 0)
        xp = np.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2)))
        cols = np.stack([xp[:, i:i + stride * oh:stride, j:j + stride * ow:stride]
                         for i in range(k) for j in range(k)], axis=1)  # (c, k*k, oh, ow)
        if groups == 1:
            return np.einsum("ock,ckhw->ohw", w.reshape(w.shape[0], c, k * k), cols)
        return np.einsum("ck,ckhw->chw", w.reshape(c, k * k), cols)

    def bn(x, p, relu=True):
        g, b = state[f"{p}.weight"], state[f"{p}.bias"]
        m, v = state[f"{p}.running_mean"], state[f"{p}.running_var"]
        y = (x - m[:, None, None]) / np.sqrt(v[:, None, None] + 1e-3) * g[:, None, None] + b[:, None, None]
        return np.clip(y, 0, 6) if relu else y

    x = bn(conv(image.astype(np.float64), state["_conv_stem.weight"], 2), "_bn0")
    n = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("_blocks."))
    strides, stage, prev = (1, 2, 2, 2, 1, 2, 1), -1, None
    for i in range(n):
        p = f"_blocks.{i}"
        dw = state[f"{p}._depthwise_conv.weight"]
        exp = state.get(f"{p}._expand_conv.weight")
        cin = exp.shape[1] if exp is not None else dw.shape[0]
        cout = state[f"{p}._project_conv.weight"].shape[0]
        first = prev is None or cin != cout
        stage += first
        s = strides[stage] if first else 1
        h = x if exp is None else bn(conv(x, exp, 1), f"{p}._bn0")
        h = bn(conv(h, dw, s, groups=dw.shape[0]), f"{p}._bn1")
        h = bn(conv(h, state[f"{p}._project_conv.weight"], 1), f"{p}._bn2", relu=False)
        x = h + x if (s == 1 and cin == cout) else h
        prev = cout
    x = bn(conv(x, state["_conv_head.weight"], 1), "_bn1")
    return state["_fc.weight"] @ x.mean(axis=(1, 2)) + state["_fc.bias"]


def voc_truth(taxonomy, objects) -> tuple[set[str], set[str]]:
    """(label names of a photo's objects, those names plus their taxonomy ancestors)."""
    from detect_eval import COCO80

    label_of = dict(zip(COCO80, taxonomy.classes))
    gt = {label_of.get(o[0], o[0].title()) for o in objects}
    return gt, gt | {p for name in gt for p in taxonomy.parents(name)}


def label_is_right(label: str, parents: set[str], gt: set[str], allowed: set[str]) -> bool:
    """A label on a VOC photo is right when it names an object or an object's ancestor, or has an object as parent."""
    return label in allowed or bool(parents & gt)


def plateau_knots(xs, ys) -> tuple[list[float], list[float]]:
    """Knots of a smoothed isotonic curve: the middle of each constant step, plus the ends 0 and 1.

    Interpolating linearly between the steps' middles keeps the curve
    non-decreasing but spares it the jumps a small sample gives the raw
    step function.
    """
    xs, ys = np.asarray(xs, float), np.asarray(ys, float)
    knots_x, knots_y = [0.0], [float(ys[0])]
    start = 0
    for i in range(1, len(xs) + 1):
        if i == len(xs) or ys[i] != ys[start]:
            mid = float((xs[start] + xs[i - 1]) / 2)
            if mid > knots_x[-1]:
                knots_x.append(mid)
                knots_y.append(float(ys[start]))
            start = i
    if knots_x[-1] < 1.0:
        knots_x.append(1.0)
        knots_y.append(float(ys[-1]))
    return knots_x, knots_y


def fit_calibration(classifier, rows: list[dict], voc_items: list, testdata: Path) -> dict:
    """Fit the isotonic curve on ImageNet ``rows`` and VOC ``voc_items``; returns the calibration document."""
    from sklearn.isotonic import IsotonicRegression

    from mediaapp.ingest.decode import open_rgb
    from mediaapp.models import load_taxonomy

    data = classifier.data
    taxonomy = load_taxonomy()
    raw, right = [], []
    for row in rows:
        scores = data.label_scores(classifier.predict(open_rgb(row["path"])).probs)
        truth = truth_names(data, row["index"])
        for name, score in scores.items():
            raw.append(score)
            right.append(1.0 if name in truth else 0.0)
    for path, objects in voc_items:
        gt, allowed = voc_truth(taxonomy, objects)
        scores = data.label_scores(classifier.predict(open_rgb(path)).probs)
        for name, score in scores.items():
            raw.append(score)
            right.append(1.0 if label_is_right(name, set(data.labels[name]["parents"]), gt, allowed) else 0.0)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip")
    iso.fit(np.asarray(raw), np.asarray(right))
    x, y = plateau_knots(iso.X_thresholds_, iso.y_thresholds_)
    files = [f"6_imagenet/{row['file']}" for row in rows]
    files += [Path(path).relative_to(testdata).as_posix() for path, _ in voc_items]
    return {"_comment": "Isotonic calibration of the concept classifier's raw label scores (probability mass "
                        "0-1) to the chance a label is right; fitted by benchmarks/label_eval.py --fit.",
            "version": "3", "model": classifier.spec.version, "method": "sklearn IsotonicRegression",
            "samples": len(raw), "positives": int(sum(right)), "fitted_on": files, "x": x, "y": y}


#: The 20 PASCAL VOC classes in COCO spelling: VOC photos annotate every one of them, so a box of
#: one of these classes that matches no object is wrong; boxes of other COCO classes are not judged.
def voc_classes() -> set[str]:
    """The COCO names of the 20 VOC classes."""
    from detect_eval import VOC_TO_COCO

    voc = ("aeroplane bicycle bird boat bottle bus car cat chair cow diningtable dog horse motorbike person "
           "pottedplant sheep sofa train tvmonitor").split()
    return {VOC_TO_COCO.get(name, name) for name in voc}


def detector_samples(detector, items: list) -> tuple[list[float], list[float]]:
    """(raw score, right 0/1) of every box the detector finds (raw score >= its floor) on VOC ``items``.

    A box of a VOC class is right when its best-overlapping object of its class (IoU >= 0.5, as in
    ``detect_eval.average_precision``) is not yet taken by a higher-scoring box; a box matching a
    ``difficult`` object is left out, and so are boxes of COCO classes VOC does not annotate.
    """
    from detect_eval import COCO80, iou

    from mediaapp.ingest.decode import open_rgb

    coco_of = dict(zip(detector.taxonomy.classes, COCO80))
    judged = voc_classes()
    raw, right = [], []
    for path, objects in items:
        taken = [False] * len(objects)
        found = detector.detect_objects(open_rgb(path))
        for inst in sorted(found, key=lambda d: -d.raw_score):
            cls = coco_of.get(inst.label)
            if cls not in judged:
                continue
            best, best_j = 0.0, -1
            for j, (gcls, gbox, _) in enumerate(objects):
                if gcls == cls and (o := iou(inst.box, gbox)) > best:
                    best, best_j = o, j
            ok = best >= 0.5 and not taken[best_j]
            if ok and objects[best_j][2]:
                continue  # a difficult object: neither right nor wrong
            if ok:
                taken[best_j] = True
            raw.append(inst.raw_score)
            right.append(1.0 if ok else 0.0)
    return raw, right


def platt_knots(raw, right, knots: int = 101) -> tuple[list[float], list[float], tuple[float, float]]:
    """Platt scaling of raw scores: ``p = sigmoid(a * logit(raw) + b)`` by logistic regression, as knots.

    Returns ``(x, y, (a, b))``: ``x`` 0..1 in ``knots`` even steps, ``y`` the fitted probability there
    (0 at raw 0, 1 at raw 1, strictly increasing in between when ``a > 0``).
    """
    from sklearn.linear_model import LogisticRegression

    r = np.clip(np.asarray(raw, float), 1e-4, 1 - 1e-4)
    feature = np.log(r / (1 - r))[:, None]
    model = LogisticRegression(C=1e4).fit(feature, np.asarray(right))
    a, b = float(model.coef_[0][0]), float(model.intercept_[0])
    x = np.linspace(0.0, 1.0, knots)
    xc = np.clip(x, 1e-6, 1 - 1e-6)
    y = 1.0 / (1.0 + np.exp(-(a * np.log(xc / (1 - xc)) + b)))
    y[0], y[-1] = 0.0, 1.0
    return [round(float(v), 4) for v in x], [round(float(v), 6) for v in np.maximum.accumulate(y)], (a, b)


def fit_detector_calibration(detector, items: list, testdata: Path) -> dict:
    """Fit the detector's curve (``platt_knots``) on the VOC ``items``; returns the calibration document."""
    from sklearn.isotonic import IsotonicRegression

    raw, right = detector_samples(detector, items)
    x, y, (a, b) = platt_knots(raw, right)
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, increasing=True, out_of_bounds="clip").fit(raw, right)
    print(f"  detector samples {len(raw)}, right {int(sum(right))}; Platt a={a:.3f} b={b:.3f}: raw for "
          f"Confidence 50 = {np.interp(0.5, y, x):.3f}; isotonic steps "
          + ", ".join(f"{t:.2f}->{v:.2f}" for t, v in zip(iso.X_thresholds_, iso.y_thresholds_)))
    return {"_comment": "Platt scaling of the object detector's raw class scores (0-1) to the chance a box is "
                        "right (IoU >= 0.5 with an object of its class); fitted by "
                        "benchmarks/label_eval.py --fit-detector.",
            "version": "1", "model": detector.spec.version,
            "method": "Platt scaling: sklearn LogisticRegression on logit(raw score)", "a": a, "b": b,
            "samples": len(raw), "positives": int(sum(right)),
            "fitted_on": [Path(path).relative_to(testdata).as_posix() for path, _ in items], "x": x, "y": y}


class _NoConcepts:
    """Stand-in classifier giving no labels: the engine as it was before the classifier.

    ``classifier``: the real ``ConceptClassifier``, still run for the embedding the engine sends along.
    """

    def __init__(self, classifier):
        self.classifier = classifier
        self.spec = classifier.spec
        self.version = "none"

    def predict(self, image):
        """The real classifier's prediction (the engine needs its features)."""
        return self.classifier.predict(image)

    def labels_for(self, prediction, floor):
        """No concept labels."""
        return []


def engine_labels(engine, path: Path) -> list[dict]:
    """DetectLabels of the local engine at the product's defaults (MinConfidence 50), validated."""
    from mediaapp.analysis.validate import validate_response
    from mediaapp.core.analysis import AnalysisParams, ImageRef
    from mediaapp.core.types import Api

    response = engine.analyse(Api.DETECT_LABELS, ImageRef(sha256="0" * 64, path=str(path)),
                              AnalysisParams(None, DEFAULT_THRESHOLD))
    validate_response("DetectLabels", response)
    return response["Labels"]


def names_of(label: dict) -> set[str]:
    """A label's Name, Parents and Aliases, lower-case."""
    return {label["Name"].lower(), *(p["Name"].lower() for p in label["Parents"]),
            *(a["Name"].lower() for a in label["Aliases"])}


def evaluate_imagenet(engine, rows: list[dict]) -> None:
    """Print precision, findability and calibration error on ``rows`` (see the module docstring, 2)."""
    data = engine.concepts.data
    concept_names = set(data.labels)
    right = total = found = 0
    errors = []
    for row in rows:
        labels = [lab for lab in engine_labels(engine, row["path"]) if lab["Confidence"] >= DEFAULT_THRESHOLD]
        truth = truth_names(data, row["index"])
        for lab in labels:
            if lab["Name"] in concept_names and not lab["Instances"]:
                total += 1
                ok = lab["Name"] in truth
                right += ok
                errors.append(abs(lab["Confidence"] / 100 - ok))
        wanted = {row["class"].lower(), row["class"].lower().split()[-1]}
        found += any(wanted & names_of(lab) for lab in labels)
    print(f"  held-out ImageNet photos: {len(rows)}; concept labels >= {DEFAULT_THRESHOLD:.0f}: {total}, "
          f"precision {right / max(total, 1):.3f}; mean |confidence - right| {np.mean(errors or [0]):.3f}")
    print(f"  class name or head noun among Names/Parents/Aliases at >= {DEFAULT_THRESHOLD:.0f}: "
          f"{found}/{len(rows)} = {found / max(len(rows), 1):.2f} (target >= 0.70)")


@dataclass
class ObjectScores:
    """What ``score_objects`` counted on some 1_objects photos; two of them add up (``+``) over more photos.

    ``photos``; ``labels``/``right``: labels shown (Confidence >= 50) and the right ones; ``wanted``/``hit``: the
    photos' object classes and those named; ``detections``: ``(path, COCO class, Confidence 0-1, [x1, y1, x2, y2]
    pixels)`` of the instances shown; ``ground_truth``: ``{path: objects}`` as ``detect_eval.load_ground_truth``.
    """

    photos: int = 0
    labels: int = 0
    right: int = 0
    wanted: int = 0
    hit: int = 0
    detections: list = field(default_factory=list)
    ground_truth: dict = field(default_factory=dict)

    def __add__(self, other: ObjectScores) -> ObjectScores:
        return ObjectScores(self.photos + other.photos, self.labels + other.labels, self.right + other.right,
                            self.wanted + other.wanted, self.hit + other.hit, self.detections + other.detections,
                            {**self.ground_truth, **other.ground_truth})

    def line(self, title: str) -> str:
        """One printed line: label precision and recall, and mAP@0.5 of the instances shown."""
        from detect_eval import average_precision

        aps = list(average_precision(self.detections, self.ground_truth).values())
        mean_ap = float(np.mean(aps)) if aps else 0.0  # no class to average: nothing was found
        return (f"  {title}: {self.photos} photos; labels >= {DEFAULT_THRESHOLD:.0f}: {self.labels}, precision "
                f"{self.right / max(self.labels, 1):.3f}, recall of the objects' classes {self.hit}/{self.wanted} = "
                f"{self.hit / max(self.wanted, 1):.3f}; mAP@0.5 of the instances shown {mean_ap:.3f}")


def score_objects(engine, items: list) -> ObjectScores:
    """Label precision/recall counts and the instances shown on 1_objects ``items`` (module docstring, 3)."""
    from detect_eval import COCO80
    from PIL import Image

    from mediaapp.models import load_taxonomy

    taxonomy = load_taxonomy()
    label_of = dict(zip(COCO80, taxonomy.classes))   # COCO name -> label name
    coco_of = {v: k for k, v in label_of.items()}
    out = ObjectScores(photos=len(items), ground_truth={str(path): objs for path, objs in items})
    for path, objects in items:
        with Image.open(path) as im:
            w, h = im.size
        gt, allowed = voc_truth(taxonomy, objects)
        labels = [lab for lab in engine_labels(engine, path) if lab["Confidence"] >= DEFAULT_THRESHOLD]
        seen = set()
        for lab in labels:
            out.labels += 1
            parents = {p["Name"] for p in lab["Parents"]}
            out.right += label_is_right(lab["Name"], parents, gt, allowed)
            seen |= {lab["Name"]} | parents
            for inst in lab["Instances"]:
                if lab["Name"] in coco_of and inst["Confidence"] >= DEFAULT_THRESHOLD:
                    b = inst["BoundingBox"]
                    out.detections.append((str(path), coco_of[lab["Name"]], inst["Confidence"] / 100,
                                           [b["Left"] * w, b["Top"] * h, (b["Left"] + b["Width"]) * w,
                                            (b["Top"] + b["Height"]) * h]))
        out.wanted += len(gt)
        out.hit += len(gt & seen)
    return out


def main() -> int:
    """Parse the arguments and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--testdata", default=str(REPO.parent / "shared" / "testdata"))
    ap.add_argument("--fit", action="store_true", help="fit and write resources/concepts/calibration.json first")
    ap.add_argument("--speed", action="store_true", help="also time the classifier per image")
    ap.add_argument("--fit-detector", action="store_true",
                    help="fit and write resources/concepts/detector_calibration_<model>.json first")
    args = ap.parse_args()
    testdata = Path(args.testdata)

    from detect_eval import load_ground_truth

    from mediaapp.analysis.local.classifier import ConceptClassifier
    from mediaapp.analysis.local.detector_calibration import DetectorCalibration
    from mediaapp.analysis.local.engine import LocalEngine
    from mediaapp.analysis.local.objects import ObjectDetector
    from mediaapp.ingest.decode import open_rgb
    from mediaapp.models.classifiers import checkpoint_path
    from mediaapp.models.torch_pickle import load_state_dict

    rows = imagenet_rows(testdata)
    fit_rows, held = split(rows)
    voc = load_ground_truth(testdata)
    voc_fit, voc_held = voc[0::2], voc[1::2]
    if args.fit_detector:
        from mediaapp.analysis.local.detector_calibration import calibration_file, load_detector_calibration

        detector = ObjectDetector()
        detector.__dict__["calibration"] = DetectorCalibration(None)  # fit on the raw scores
        doc = fit_detector_calibration(detector, voc_fit, testdata)
        out = REPO / "resources" / "concepts" / calibration_file(detector.spec.name)
        out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        load_detector_calibration.cache_clear()
        print(f"detector curve fitted on {len(voc_fit)} photos ({doc['samples']} boxes) -> {out}")
    classifier = ConceptClassifier()
    if args.fit:
        doc = fit_calibration(classifier, fit_rows, voc_fit, testdata)
        out = REPO / "resources" / "concepts" / "calibration.json"
        out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        print(f"fitted on {len(fit_rows)} + {len(voc_fit)} photos ({doc['samples']} label samples) -> {out}")
        classifier = ConceptClassifier()

    print(f"1. classifier {classifier.spec.version} on 6_imagenet ({len(rows)} photos)")
    top1 = top5 = 0
    times = []
    for row in rows:
        img = open_rgb(row["path"])
        start = time.perf_counter()
        pred = classifier.predict(img)
        times.append(time.perf_counter() - start)
        order = np.argsort(-pred.logits)[:5]
        top1 += order[0] == row["index"]
        top5 += row["index"] in order
    print(f"  top-1 {top1 / len(rows):.2f}  top-5 {top5 / len(rows):.2f}")
    from mediaapp.analysis.local.classifier import preprocess
    state = load_state_dict(checkpoint_path(classifier.spec))
    inp = classifier.spec.input
    batch = preprocess(open_rgb(rows[0]["path"]), int(inp["size"]), float(inp["crop"]), float(inp["mean"]),
                       float(inp["std"]))
    ref = numpy_reference(state, batch[0])
    got = classifier.run(batch).logits
    print(f"  ONNX vs numpy reference on {rows[0]['file']}: max |logit diff| {np.abs(ref - got).max():.2e}, "
          f"same top-5: {list(np.argsort(-ref)[:5]) == list(np.argsort(-got)[:5])}")
    if args.speed:
        print(f"  classifier median {statistics.median(times) * 1000:.1f} ms/image (after decoding)")

    engine = LocalEngine()
    print("2. held-out half, full local engine at the defaults")
    evaluate_imagenet(engine, held)
    print("3. 1_objects at the defaults")
    before = LocalEngine()
    before.__dict__["concepts"] = _NoConcepts(classifier)
    raw = LocalEngine()
    raw.__dict__["objects"] = ObjectDetector()
    raw.objects.__dict__["calibration"] = DetectorCalibration(None)
    product: dict[str, ObjectScores] = {}
    for items, which in ((voc_held, "held-out half"), (voc_fit, "calibration half")):
        print(score_objects(before, items).line(f"{which}, no concepts (calibrated detector + faces)"))
        print(score_objects(raw, items).line(f"{which}, + concepts, raw detector scores (uncalibrated)"))
        product[which] = score_objects(engine, items)
        print(product[which].line(f"{which}, + concepts, calibrated detector (the product)"))
    print((product["held-out half"] + product["calibration half"]).line("all, the product"))
    print("4. 1_objects two-fold: the calibration half scored with a curve fitted on the held-out half, pooled "
          "with section 3's held-out half, so no photo is scored by a curve fitted on it")
    swapped = LocalEngine()
    swapped.__dict__["objects"] = ObjectDetector()
    unfitted = ObjectDetector()
    unfitted.__dict__["calibration"] = DetectorCalibration(None)
    with tempfile.TemporaryDirectory() as tmp:
        curve = Path(tmp) / "swapped.json"
        curve.write_text(json.dumps(fit_detector_calibration(unfitted, voc_held, testdata)), encoding="utf-8")
        swapped.objects.__dict__["calibration"] = DetectorCalibration(curve)
    crossed = score_objects(swapped, voc_fit)
    print(crossed.line("calibration half, curve fitted on the held-out half"))
    print((crossed + product["held-out half"]).line("all, two-fold"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
