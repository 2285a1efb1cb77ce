"""Resolve the object detector's animal confusions with the ImageNet classifier's evidence.

The COCO-80 detectors sometimes name one animal as another although the
classifier, looking at the whole picture, is sure of it (issue 10: NanoDet
calls the shared ImageNet Pembroke and schipperke "Cat" and the bloodhound
"Horse"; CenterNet, the default, calls the Persian cat "Dog"). ``resolve_animals``
corrects such instances before ``classifier.merge_labels`` fuses the two lists.

The rule, for an instance of a COCO animal ``A`` (``COCO_ANIMAL_CONCEPTS``):

0. *Seen*: at least ``MIN_IN_VIEW`` (half) of the instance's box lies in the
   classifier's view (``classifier_view``: the centred square it crops, 87.5%
   of the short side); the classifier cannot vouch for what it did not see.
1. *Evidence*: the classifier gives another COCO animal ``B`` with calibrated
   Confidence >= ``CLASSIFIER_SURE`` (90) and gives ``A`` below
   ``CLASSIFIER_ABSENT`` (20, i.e. not at all: concept labels are stored down
   to ``classifier.CONFIDENCE_FLOOR``, 20). With several such ``B`` the most
   confident wins.
2. *Duplicate box*: when the instance's box overlaps one of the detector's own
   ``B`` boxes with IoU >= ``SAME_BOX_IOU`` (0.5, the overlap at which
   mAP@0.5 counts two boxes as one object), it is the same
   animal named twice: the ``A`` instance is dropped.
3. *Lone box*: otherwise, when the detector has no ``B`` instance at all and the
   box covers at least ``MIN_BOX_SHARE`` (0.10) of the image, the instance is
   relabelled ``B`` (its box kept, Confidence = min(detector, classifier)).
4. Anything else is untouched. So a photo with a real cat and a real dog that
   the detector boxes apart keeps both (a ``B`` box elsewhere blocks step 3),
   small boxes (< 10% of the image, which an image-level classifier hardly
   weighs) are never relabelled, and a class the classifier knows nothing
   about (COCO's giraffe is not an ImageNet-1k class) is neither evidence nor
   relabelled. Step 0 matters for wide pictures: a real cat next to two dogs
   (the shared Persian cat and Pembroke photos side by side, 2.2:1) had the
   classifier at Dog 100 and no Cat, and the cat's box (36% of the picture,
   no Dog box found) lay only 20% in the classifier's view.

Where the thresholds come from (``benchmarks/label_eval.py``'s split:
the even-indexed half of ``6_imagenet`` in class order, the same photos as
``resources/concepts/calibration.json``'s ``fitted_on``; the held-out half is
only reported). On the fit half the four wrong animal boxes the classifier can
speak to (bloodhound "Horse", schipperke "Cat", Pembroke "Cat", West Highland
terrier "Cat") all had the classifier's Dog at 100 and their own class absent
(< 20), while every right animal box had its own class at >= 86; the fit
half's COCO-animal concept labels at >= 90 were 8 of 8 right. The wrong boxes
covered 15-21% of their images (the dogs are small in the frame), so a "large
box" condition would miss them: 0.10 keeps a margin below the smallest and
still leaves the fit half's small right boxes (birds, 2-8%) alone. The
wrong boxes lay 76-93% in the classifier's view; half is the plain "mostly
seen" line below that. The samples are few (4 wrong boxes). Before/after
counts per half, and the concept precision at >= 90, are printed by
``benchmarks/animal_fusion_eval.py``. The thresholds were read on NanoDet's
boxes and kept for CenterNet: its run of the same script (animal boxes shown,
right/wrong) went from 7/4 to 8/3 on the fit half and stayed 6/2 held out,
with no right box dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mediaapp.models import Taxonomy

#: COCO animal label (the detector's Name) -> the classifier's concept label that stands for it
#: (``resources/concepts/imagenet1k.json``: WordNet ancestors; COCO's "cow" is WordNet's Cattle).
#: Giraffe is absent: ImageNet-1k has no giraffe class, so the classifier cannot speak to it.
COCO_ANIMAL_CONCEPTS: dict[str, str] = {
    "Bird": "Bird", "Cat": "Cat", "Dog": "Dog", "Horse": "Horse", "Sheep": "Sheep",
    "Cow": "Cattle", "Elephant": "Elephant", "Bear": "Bear", "Zebra": "Zebra",
}

#: Part of the local engine's DetectLabels version (``LocalEngine.version``): answers stored before
#: this rule, or under another version of it, are known to be older.
FUSION_VERSION = "fuse-1"

#: Calibrated classifier Confidence (0-100) from which its animal overrides the detector's (see the module doc).
CLASSIFIER_SURE = 90.0

#: Below this classifier Confidence (0-100) the detector's own animal counts as unsupported (the stored floor).
CLASSIFIER_ABSENT = 20.0

#: IoU at which a box of the other animal is the same object (the mAP@0.5 / NMS convention).
SAME_BOX_IOU = 0.5

#: Smallest box (Width x Height, ratio of the image) that may be relabelled.
MIN_BOX_SHARE = 0.10

#: Share of a box's area that must lie in the classifier's view for its evidence to apply.
MIN_IN_VIEW = 0.5


def classifier_view(size: tuple[int, int], crop: float) -> dict:
    """The part of a ``size`` = (width, height) pixel picture the classifier sees, as a ``BoundingBox`` (ratios).

    ``classifier.preprocess`` scales the short side to ``input size / crop``
    and takes the centred ``input size`` square: a centred square of side
    ``crop`` x the short side. ``crop``: 0-1 (``resources/models/classifiers.json``,
    0.875). Raises ``ValueError`` for an empty picture.
    """
    w, h = size
    if w <= 0 or h <= 0:
        raise ValueError(f"empty picture {size}")
    side = crop * min(w, h)
    width, height = side / w, side / h
    return {"Width": width, "Height": height, "Left": (1 - width) / 2, "Top": (1 - height) / 2}


def _in_view(box: dict, view: dict | None) -> float:
    """Share (0-1) of ``box``'s area inside ``view`` (both ``BoundingBox`` ratios); 1 when ``view`` is None."""
    if view is None:
        return 1.0
    area = box["Width"] * box["Height"]
    iw = max(0.0, min(box["Left"] + box["Width"], view["Left"] + view["Width"]) - max(box["Left"], view["Left"]))
    ih = max(0.0, min(box["Top"] + box["Height"], view["Top"] + view["Height"]) - max(box["Top"], view["Top"]))
    return iw * ih / area if area > 0 else 0.0


def box_iou(a: dict, b: dict) -> float:
    """Intersection over union of two Rekognition ``BoundingBox`` dicts (ratios); 0 when disjoint."""
    iw = max(0.0, min(a["Left"] + a["Width"], b["Left"] + b["Width"]) - max(a["Left"], b["Left"]))
    ih = max(0.0, min(a["Top"] + a["Height"], b["Top"] + b["Height"]) - max(a["Top"], b["Top"]))
    inter = iw * ih
    union = a["Width"] * a["Height"] + b["Width"] * b["Height"] - inter
    return inter / union if union > 0 else 0.0


def _evidence(concepts: list[dict]) -> dict[str, float]:
    """COCO animal -> the classifier's Confidence (0-100) for its concept; 0 when not given."""
    by_name = {lab["Name"]: float(lab["Confidence"]) for lab in concepts}
    return {coco: by_name.get(concept, 0.0) for coco, concept in COCO_ANIMAL_CONCEPTS.items()}


def resolve_animals(labels: list[dict], concepts: list[dict], taxonomy: Taxonomy,
                    view: dict | None = None) -> list[dict]:
    """The detector's ``labels`` with its animal confusions resolved by the classifier's ``concepts``.

    ``labels``: DetectLabels ``Labels`` of the detector (leaf labels with
    ``Instances``, their taxonomy ancestors without), Confidence 0-100,
    ``BoundingBox`` ratios of the image. ``concepts``: the classifier's
    image-level labels (``ConceptClassifier.labels_for``). ``taxonomy``: the
    detector's ``mediaapp.models.Taxonomy`` (Parents / Aliases / Categories of
    a relabelled Name). ``view``: the classifier's view (``classifier_view``;
    None: the whole picture). Applies the module's rule; a label left with no
    Instances is removed, and the detector's ancestor labels are kept
    consistent (an ancestor no remaining label has is removed, a new one is
    added, each at its best child's Confidence). Returns a new list, most
    confident first, a label with Instances before its ancestors at equal Confidence (the input's
    order when nothing changes); the
    inputs are not modified. Raises nothing for well-formed labels.
    """
    from mediaapp.analysis.local.objects import label_entry

    evidence = _evidence(concepts)
    present = {lab["Name"] for lab in labels if lab.get("Instances") and lab["Name"] in evidence}
    changes: list[tuple[str, int, str | None, float]] = []  # (label, instance index, new Name or None, Confidence)
    for lab in labels:
        name = lab["Name"]
        if name not in present or evidence[name] >= CLASSIFIER_ABSENT:
            continue
        target, sure = max(((other, conf) for other, conf in evidence.items() if other != name),
                           key=lambda item: item[1])
        if sure < CLASSIFIER_SURE:
            continue
        target_boxes = [inst["BoundingBox"] for other in labels if other["Name"] == target
                        for inst in other.get("Instances", [])]
        for index, inst in enumerate(lab["Instances"]):
            box = inst["BoundingBox"]
            if _in_view(box, view) < MIN_IN_VIEW:
                continue
            if any(box_iou(box, other) >= SAME_BOX_IOU for other in target_boxes):
                changes.append((name, index, None, 0.0))
            elif not target_boxes and box["Width"] * box["Height"] >= MIN_BOX_SHARE:
                changes.append((name, index, target, min(float(inst["Confidence"]), sure)))
    if not changes:
        return list(labels)
    out = {lab["Name"]: {**lab, "Instances": [dict(i) for i in lab.get("Instances", [])]} for lab in labels}
    touched: set[str] = set()
    moved: dict[str, list[dict]] = {}
    for name, index, new_name, conf in changes:
        touched.add(name)
        inst = out[name]["Instances"][index]
        out[name]["Instances"][index] = {}  # placeholder, removed below (indexes stay valid)
        if new_name is not None:
            moved.setdefault(new_name, []).append({**inst, "Confidence": conf})
    for name in touched:
        out[name]["Instances"] = [i for i in out[name]["Instances"] if i]
    for target, instances in moved.items():
        if target in out:
            out[target]["Instances"] += instances
        else:
            out[target] = label_entry(target, 0.0, taxonomy, instances)
        touched.add(target)
    for name in list(touched):
        instances = out[name]["Instances"]
        if instances:
            out[name]["Confidence"] = max(float(i["Confidence"]) for i in instances)
        else:
            del out[name]
    _refresh_ancestors(out, touched, taxonomy)
    return sorted(out.values(), key=lambda lab: (-lab["Confidence"], not lab.get("Instances")))


def _refresh_ancestors(out: dict[str, dict], touched: set[str], taxonomy: Taxonomy) -> None:
    """Recompute, in place, the ancestor labels (no Instances) of the ``touched`` detector Names.

    An ancestor's Confidence is its best remaining instance-bearing child's,
    as ``objects.build_labels_response`` makes it; one left without children
    is removed, a missing one added.
    """
    from mediaapp.analysis.local.objects import label_entry

    ancestors = {parent for name in touched for parent in taxonomy.parents(name)}
    leaves = [lab for lab in out.values() if lab.get("Instances")]
    for parent in ancestors:
        own = out.get(parent)
        if own is not None and own.get("Instances"):
            continue  # a detector class in its own right (e.g. Person): not derived
        support = [float(lab["Confidence"]) for lab in leaves if parent in taxonomy.parents(lab["Name"])]
        if not support:
            out.pop(parent, None)
        elif own is None:
            out[parent] = label_entry(parent, max(support), taxonomy, [])
        else:
            own["Confidence"] = max(support)
