"""The detector's animal boxes on the shared ImageNet photos, without and with ``fusion.resolve_animals``.

Usage::

    python benchmarks/animal_fusion_eval.py [--testdata DIR]

For each half of ``6_imagenet`` (``label_eval.split``: even rows in class
order are the half the rule's thresholds were read from, odd rows the
held-out half), the local engine's detector labels (calibrated, stored down
to the floor, 20) and the classifier's concept labels are computed once per
photo; the detector's instances of a COCO animal the classifier knows
(``fusion.COCO_ANIMAL_CONCEPTS``) shown at Confidence >= 50 are counted as
right (the animal's concept is the photo's class or one of its WordNet
ancestors) or wrong, before and after the rule. Every photo whose animal
boxes change is listed. Also printed: how many of the classifier's COCO-animal
concept labels at >= ``fusion.CLASSIFIER_SURE`` are right (the evidence the
rule trusts). ``1_objects`` (VOC) holds no animals, so its mAP is
unchanged by construction; ``benchmarks/label_eval.py`` prints it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

SHOWN = 50.0


def animal_boxes(labels: list[dict]) -> list[tuple[str, float]]:
    """``(Name, Confidence)`` of every COCO-animal instance in ``labels`` shown at >= 50."""
    from mediaapp.analysis.local.fusion import COCO_ANIMAL_CONCEPTS

    return [(lab["Name"], float(inst["Confidence"])) for lab in labels if lab["Name"] in COCO_ANIMAL_CONCEPTS
            for inst in lab["Instances"] if inst["Confidence"] >= SHOWN]


def main() -> int:
    """Print the counts per half (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--testdata", default=str(REPO.parent / "shared" / "testdata"))
    args = ap.parse_args()
    from label_eval import imagenet_rows, split, truth_names

    from mediaapp.analysis.local.classifier import CONFIDENCE_FLOOR
    from mediaapp.analysis.local.engine import LocalEngine
    from mediaapp.analysis.local.fusion import (
        CLASSIFIER_SURE,
        COCO_ANIMAL_CONCEPTS,
        classifier_view,
        resolve_animals,
    )
    from mediaapp.ingest.media import open_for_analysis

    engine = LocalEngine()
    data = engine.concepts.data
    crop = float(engine.concepts.spec.input["crop"])
    fit, held = split(imagenet_rows(Path(args.testdata)))
    for title, rows in (("fit half (thresholds read here)", fit), ("held-out half", held)):
        counts = {"before": [0, 0], "after": [0, 0]}  # [right, wrong]
        changed = []
        sure = [0, 0]  # [right, all] COCO-animal concept labels >= CLASSIFIER_SURE
        for row in rows:
            img = open_for_analysis(row["path"])
            detected = engine.objects.detect_labels(img, None, CONFIDENCE_FLOOR)["Labels"]
            concepts = engine.concepts.labels_for(engine.concepts.predict(img), CONFIDENCE_FLOOR)
            fused = resolve_animals(detected, concepts, engine.objects.taxonomy, classifier_view(img.size, crop))
            truth = truth_names(data, row["index"])
            for lab in concepts:
                if lab["Name"] in COCO_ANIMAL_CONCEPTS.values() and lab["Confidence"] >= CLASSIFIER_SURE:
                    sure[0] += lab["Name"] in truth
                    sure[1] += 1
            for when, labels in (("before", detected), ("after", fused)):
                for name, _ in animal_boxes(labels):
                    counts[when][COCO_ANIMAL_CONCEPTS[name] not in truth] += 1
            if animal_boxes(detected) != animal_boxes(fused):
                changed.append(f"{row['class']}: {fmt(animal_boxes(detected))} -> {fmt(animal_boxes(fused))}")
        print(f"{title}: {len(rows)} photos; COCO-animal boxes shown (>= {SHOWN:.0f}), right / wrong:")
        for when in ("before", "after"):
            print(f"  {when:6s} {counts[when][0]} / {counts[when][1]}")
        print(f"  classifier's COCO-animal labels >= {CLASSIFIER_SURE:.0f}: {sure[0]}/{sure[1]} right")
        for line in changed:
            print(f"  changed  {line}")
    return 0


def fmt(boxes: list[tuple[str, float]]) -> str:
    """``Name conf`` pairs, most confident first."""
    return ", ".join(f"{name} {conf:.0f}" for name, conf in sorted(boxes, key=lambda b: -b[1])) or "none"


if __name__ == "__main__":
    sys.exit(main())
