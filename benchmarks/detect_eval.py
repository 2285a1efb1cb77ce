"""AP@0.5 per class and mAP@0.5 of the on-device object detector on the test photos.

Usage::

    python benchmarks/detect_eval.py [--model nanodet|centernet|all] [--testdata DIR]

Ground truth: the VOC XML files under ``1_objects/voc`` and the labelme JSON
files under ``1_objects/labelme_voc2011`` of the shared test data; VOC class
names are mapped to COCO names (aeroplane -> airplane, sofa -> couch,
tvmonitor -> tv, ...). The two truncated files (flagged ``truncated_file`` in
``voc_gt_summary.json``) are skipped. Objects marked ``difficult`` are
ignored (neither a hit nor a miss), as in the PASCAL VOC protocol.

Metric: for each class present in the ground truth, detections (score >=
0.05, after NMS) of all images are sorted by score; a detection is a true
positive when its IoU with a not-yet-matched ground-truth box of its class is
>= 0.5. AP is the area under the precision/recall curve with precision made
monotone (the VOC2010+ "all points" definition). mAP is the mean over
classes. Detections of COCO classes VOC does not annotate (cup, keyboard...)
are not counted, since no ground truth exists for them.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

#: VOC class name -> COCO class name (the 20 VOC classes are all in COCO).
VOC_TO_COCO = {"aeroplane": "airplane", "diningtable": "dining table", "motorbike": "motorcycle",
               "pottedplant": "potted plant", "sofa": "couch", "tvmonitor": "tv"}


def load_ground_truth(testdata: Path) -> list[tuple[Path, list[tuple[str, list[float], bool]]]]:
    """``[(image path, [(coco name, [x1, y1, x2, y2] pixels, difficult)])]`` for every usable photo."""
    root = testdata / "1_objects"
    items = []
    summary = json.loads((root / "voc" / "voc_gt_summary.json").read_text())
    for rel, entry in sorted(summary.items()):
        if entry.get("truncated_file"):
            continue
        xml_path = root / "voc" / rel.replace("JPEGImages", "Annotations").replace(".jpg", ".xml")
        objects = []
        for obj in ET.parse(xml_path).findall("object"):
            name = obj.findtext("name").strip()
            bb = obj.find("bndbox")
            box = [float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax")]
            objects.append((VOC_TO_COCO.get(name, name), box, (obj.findtext("difficult") or "0").strip() == "1"))
        items.append((root / "voc" / rel, objects))
    for js in sorted((root / "labelme_voc2011").glob("*.json")):
        doc = json.loads(js.read_text())
        objects = []
        for shape in doc["shapes"]:
            if shape.get("shape_type", "rectangle") != "rectangle":
                continue
            (xa, ya), (xb, yb) = shape["points"][:2]
            objects.append((VOC_TO_COCO.get(shape["label"], shape["label"]),
                            [min(xa, xb), min(ya, yb), max(xa, xb), max(ya, yb)], False))
        items.append((js.with_name(doc.get("imagePath") or js.stem + ".jpg"), objects))
    return items


def iou(a, b) -> float:
    """Intersection over union of two ``[x1, y1, x2, y2]`` boxes."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return iw * ih / union if union > 0 else 0.0


def average_precision(detections, ground_truth, threshold: float = 0.5) -> dict[str, float]:
    """Per-class AP. ``detections``: ``[(image, class, score, box)]``; ``ground_truth``: image -> objects."""
    classes = sorted({obj[0] for objs in ground_truth.values() for obj in objs})
    aps = {}
    for cls in classes:
        npos = sum(1 for objs in ground_truth.values() for obj in objs if obj[0] == cls and not obj[2])
        used = {img: [False] * len(objs) for img, objs in ground_truth.items()}
        tp, fp = [], []
        for img, _, _, box in sorted((d for d in detections if d[1] == cls), key=lambda d: -d[2]):
            best, best_j = 0.0, -1
            for j, (gcls, gbox, _) in enumerate(ground_truth[img]):
                if gcls == cls and (o := iou(box, gbox)) > best:
                    best, best_j = o, j
            if best >= threshold:
                if ground_truth[img][best_j][2]:
                    continue  # matched a difficult object: ignored
                if not used[img][best_j]:
                    used[img][best_j] = True
                    tp.append(1), fp.append(0)
                    continue
            tp.append(0), fp.append(1)
        tp_c, fp_c = np.cumsum(tp), np.cumsum(fp)
        recall = tp_c / max(npos, 1)
        precision = tp_c / np.maximum(tp_c + fp_c, 1e-12)
        mrec = np.concatenate([[0.0], recall, [1.0]])
        mpre = np.concatenate([[0.0], precision, [0.0]])
        for i in range(len(mpre) - 2, -1, -1):
            mpre[i] = max(mpre[i], mpre[i + 1])
        steps = np.nonzero(mrec[1:] != mrec[:-1])[0]
        aps[cls] = float(np.sum((mrec[steps + 1] - mrec[steps]) * mpre[steps + 1]))
    return aps


def operating_points(detections, ground_truth, thresholds=(0.3, 0.4, 0.5, 0.55, 0.6),
                     iou_threshold: float = 0.5) -> list[tuple[float, float, float]]:
    """``[(threshold, precision, recall)]`` over all classes when detections below ``threshold`` (0-1) are dropped.

    What a user filtering at a minimum confidence of ``100 * threshold`` sees;
    matching as in ``average_precision`` (difficult objects neither count
    nor penalise).
    """
    npos = sum(1 for objs in ground_truth.values() for obj in objs if not obj[2])
    out = []
    for t in thresholds:
        used = {img: [False] * len(objs) for img, objs in ground_truth.items()}
        tp = fp = 0
        for img, cls, _, box in sorted((d for d in detections if d[2] >= t), key=lambda d: -d[2]):
            best, best_j = 0.0, -1
            for j, (gcls, gbox, _) in enumerate(ground_truth[img]):
                if gcls == cls and (o := iou(box, gbox)) > best:
                    best, best_j = o, j
            if best >= iou_threshold and not used[img][best_j]:
                used[img][best_j] = True
                tp += 0 if ground_truth[img][best_j][2] else 1
            elif best < iou_threshold or not ground_truth[img][best_j][2]:
                fp += 1
        out.append((t, tp / max(tp + fp, 1), tp / max(npos, 1)))
    return out


def evaluate(model: str, testdata: Path, model_dir: Path | None) -> tuple[dict[str, float], float, int, list]:
    """Run ``model`` on every photo; returns (per-class AP, median ms per image, image count, operating points)."""
    from mediaapp.analysis.local.objects import ObjectDetector
    from mediaapp.ingest.decode import open_rgb
    from mediaapp.models import load_taxonomy

    coco_of = dict(zip(load_taxonomy().classes, COCO80))  # label name -> COCO name
    detector = ObjectDetector(model_dir=model_dir, model=model)
    detector.load()
    items = load_ground_truth(testdata)
    ground_truth = {str(path): objs for path, objs in items}
    detections, times = [], []
    for path, _ in items:
        img = open_rgb(path)
        start = time.perf_counter()
        found = detector.detect_objects(img, min_score=0.05)
        times.append(time.perf_counter() - start)
        for inst in found:
            detections.append((str(path), coco_of[inst.label], inst.confidence / 100.0, list(inst.box)))
    return (average_precision(detections, ground_truth), float(np.median(times) * 1000), len(items),
            operating_points(detections, ground_truth))


#: The 80 COCO class names in the detectors' class-index order (COCO spelling).
COCO80 = [n.replace("_", " ") for n in (
    "person bicycle car motorcycle airplane bus train truck boat traffic_light fire_hydrant stop_sign "
    "parking_meter bench bird cat dog horse sheep cow elephant bear zebra giraffe backpack umbrella "
    "handbag tie suitcase frisbee skis snowboard sports_ball kite baseball_bat baseball_glove skateboard "
    "surfboard tennis_racket bottle wine_glass cup fork knife spoon bowl banana apple sandwich orange "
    "broccoli carrot hot_dog pizza donut cake chair couch potted_plant bed dining_table toilet tv laptop "
    "mouse remote keyboard cell_phone microwave oven toaster sink refrigerator book clock vase scissors "
    "teddy_bear hair_drier toothbrush").split()]


def main() -> int:
    """Evaluate the chosen model(s) and print AP per class and mAP@0.5."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="all", help="nanodet, centernet or all (default)")
    ap.add_argument("--testdata", default=str(REPO.parent / "shared" / "testdata"))
    ap.add_argument("--models-dir", default=None, help="model cache (default: $MEDIAAPP_MODELS or the user data dir)")
    args = ap.parse_args()
    from mediaapp.models import all_models
    names = list(all_models()) if args.model == "all" else [args.model]
    results = {}
    for name in names:
        aps, ms, count, points = evaluate(name, Path(args.testdata),
                                          Path(args.models_dir) if args.models_dir else None)
        m_ap = float(np.mean(list(aps.values())))
        results[name] = m_ap
        print(f"\n{name}: {count} images, median {ms:.1f} ms/image (detect_objects on the decoded photo)")
        for cls, value in sorted(aps.items()):
            print(f"  AP@0.5 {cls:<14} {value:.3f}")
        print(f"  mAP@0.5 = {m_ap:.3f}  (target >= 0.45: {'met' if m_ap >= 0.45 else 'NOT met'})")
        print("  at a minimum confidence of:  " + "  ".join(f"{t * 100:5.0f}" for t, _, _ in points))
        print("    precision                  " + "  ".join(f"{p:5.2f}" for _, p, _ in points))
        print("    recall                     " + "  ".join(f"{r:5.2f}" for _, _, r in points))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
