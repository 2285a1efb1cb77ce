"""On-device face detection, landmarks and 128-d face embeddings with dlib.

Every face is returned as a dict shaped exactly like Amazon Rekognition's
``ComparedFace`` (the face of ``RecognizeCelebrities``' ``CelebrityFaces`` and
``UnrecognizedFaces``)::

    {"BoundingBox": {"Width", "Height", "Left", "Top"},   # ratios 0-1
     "Confidence": float,                                  # 0-100
     "Landmarks": [{"Type", "X", "Y"}, ...],               # ratios of the image
     "Pose": {"Roll", "Yaw", "Pitch"},                     # degrees
     "Quality": {"Brightness", "Sharpness"}}               # 0-100

Models are dlib's, shipped as files by the ``face_recognition_models``
package, loaded lazily once per process and shared by all detectors:

- detector: dlib's HOG + linear SVM frontal face detector
  (``dlib.get_frontal_face_detector``, an 80x80-pixel sliding window), or
  optionally the CNN MMOD detector ``mmod_human_face_detector.dat``;
- landmarks: dlib's 5-point shape predictor
  ``shape_predictor_5_face_landmarks.dat`` (two corners of each eye and the
  base of the nose);
- embeddings: dlib's ResNet ``dlib_face_recognition_resnet_model_v1.dat``
  (128-d descriptor of a 150x150 aligned face chip; dlib reports 99.38% on
  LFW with "same person" when the Euclidean distance is below 0.6).

Derived fields (all documented approximations, not Rekognition's models):

- ``Confidence``: ``score_to_confidence`` of the detector score.
- ``Landmarks``: ``eyeLeft``/``eyeRight`` are the eye centres (mean of the
  two corners dlib finds), ``eyeLeft`` being the eye on the image's left as
  in Rekognition's examples; ``nose`` is dlib's nose point, the *base* of
  the nose (Rekognition's is nearer the tip); ``mouthLeft``/``mouthRight``
  are *estimated* from the eyes (see ``_MOUTH_FRAME_X``; 5-point dlib has no
  mouth points), RMS error 0.15 eye distances. X/Y are ratios of the image
  and, as in Rekognition, may fall slightly outside 0-1 for faces cut by
  the edge.
- ``Pose`` in degrees: ``Roll`` is the angle of the eye line, positive when
  the face is turned clockwise in the image; ``Yaw`` is a rough estimate
  (not checked against ground truth; see ``_NOSE_DEPTH``) from how far the
  nose base sits off the eye midpoint,
  positive when the face turns towards the image's right; ``Pitch`` is not
  estimated and always 0.
- ``Quality``: see ``_quality``.

HOG versus CNN, measured on the 21 ``testdata/3_faces/face_recognition``
photos (downscaled to <= 1600 px, 2 shared CPU cores): both find the same 25
faces (one per single-person photo; 2 in ``two_people``/``kit_with_rose``;
3 in ``obama_and_biden``, where the third is a child in the corner) and none
on the VOC train photo ``000002.jpg``; HOG takes 0.01-0.3 s per photo, the
CNN 0.3-14 s (about 50x slower). HOG is therefore the default; the CNN
(``model="cnn"``) is kept for users with strongly non-frontal faces.
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
from PIL import Image

from mediaapp.analysis.engine_base import EngineUnavailableError
from mediaapp.core.embeddings import EMBEDDING_SIZE
from mediaapp.core.types import BoundingBox

__all__ = [
    "DEFAULT_MAX_SIDE",
    "EMBEDDING_MODEL_VERSION",
    "EMBEDDING_SIZE",
    "DlibFaceDetector",
    "embed_faces",
    "embedding_version",
    "score_to_confidence",
]

#: Longest side (pixels) of the copy the detector runs on. Boxes are ratios,
#: so scaling costs nothing downstream. HOG's window is 80x80 px; measured
#: on obama_small.jpg shrunk step by step, it finds face boxes of 52 px but not
#: 44 px, so in large photos faces smaller than about 50/1600 = 3% of the
#: longest side are missed. On the test photos 1600, 2000 and 2400 px found
#: exactly the same faces; 2000 px took about 2.5x longer than 1600 px.
DEFAULT_MAX_SIDE = 1600
#: Small images are enlarged by at most this factor before detection, so face
#: boxes down to about 25 px of the original are found in them (measured: a
#: 37 px face is found only with the enlargement). dlib's own examples
#: upsample once (2x) for the same reason.
DEFAULT_MAX_UPSCALE = 2.0
#: Name of the weights that produce the embeddings (face_recognition_models 0.3.0).
EMBEDDING_MODEL_VERSION = "dlib_face_recognition_resnet_model_v1"
#: Rekognition's RecognizeCelebrities answers for at most 64 faces; IndexFaces
#: for at most 100. The detector keeps the largest ``max_faces`` faces.
DEFAULT_MAX_FACES = 100

# Slope of the logistic that maps a detector margin to a 0-100 confidence
# (see score_to_confidence).
_CONFIDENCE_SLOPE = 3.0

# Mouth corners are not among dlib's 5 landmarks. They are placed at fixed
# coordinates of the face's eye frame (origin: midpoint of the two eye
# centres; x along the eye line; y perpendicular, towards the chin; unit: the
# distance between the eye centres). The means were measured with dlib's
# 68-point predictor (points 48 and 54) on the 25 faces of
# testdata/3_faces: left (-0.483, 1.073), right (0.501, 1.068), RMS error
# 0.15 eye distances; they are symmetrised here.
_MOUTH_FRAME_X = 0.49
_MOUTH_FRAME_Y = 1.07
# Depth of the nose base in front of the eye centres, in eye distances: an
# assumed adult proportion (roughly 25 mm ahead of the eye corners, eye
# centres roughly 62 mm apart), not measured here. Used for the rough yaw
# estimate: nose shift / apparent eye distance = depth * tan(yaw).
_NOSE_DEPTH = 0.4
# Face crops are resized to this square (pixels) before measuring sharpness,
# so the figure does not depend on the face's size in the photo.
_QUALITY_SIDE = 100
# Laplacian variance at which Sharpness is 63 (1 - 1/e). Measured on the 25
# test faces: the press photos score 55-100 (median 92); the same photos after
# a 2 px Gaussian blur score 4-76 (median 29), every face lower than before.
_SHARPNESS_SCALE = 150.0

_lock = threading.RLock()
_models: dict[str, Any] = {}


def _dlib():
    """Import dlib, raising ``EngineUnavailableError`` when it is not installed."""
    try:
        import dlib
    except ImportError as exc:  # pragma: no cover - dlib-bin is a dependency
        raise EngineUnavailableError("dlib is not installed (pip install dlib-bin)",
                                     code="EngineUnavailable") from exc
    return dlib


def _model_path(kind: str) -> str:
    """Path of the face_recognition_models file for ``kind``.

    Raises ``EngineUnavailableError`` when the package or the file is missing.
    """
    try:
        import face_recognition_models as frm
    except ImportError as exc:  # pragma: no cover - a dependency
        raise EngineUnavailableError("face_recognition_models is not installed",
                                     code="EngineUnavailable") from exc
    path = {
        "cnn": frm.cnn_face_detector_model_location,
        "sp5": frm.pose_predictor_five_point_model_location,
        "resnet": frm.face_recognition_model_location,
    }[kind]()
    import os

    if not os.path.isfile(path):
        raise EngineUnavailableError(f"face model file missing: {path}", code="EngineUnavailable")
    return path


def _model(kind: str):
    """Return the process-wide dlib model ``kind`` (hog, cnn, sp5, resnet), loading it once."""
    with _lock:
        model = _models.get(kind)
        if model is None:
            dlib = _dlib()
            if kind == "hog":
                model = dlib.get_frontal_face_detector()
            elif kind == "cnn":
                model = dlib.cnn_face_detection_model_v1(_model_path("cnn"))
            elif kind == "sp5":
                model = dlib.shape_predictor(_model_path("sp5"))
            elif kind == "resnet":
                model = dlib.face_recognition_model_v1(_model_path("resnet"))
            else:  # pragma: no cover - internal misuse
                raise ValueError(f"unknown model {kind!r}")
            _models[kind] = model
        return model


def embedding_version() -> str:
    """Version of the embedding model: ``EMBEDDING_MODEL_VERSION``.

    Embeddings depend on the ResNet weights file, not on the dlib release, so
    the version is the weights' name. Embeddings from different versions must
    not be compared; store it with them. Needs no model to be loaded.
    """
    return EMBEDDING_MODEL_VERSION


def score_to_confidence(score: float) -> float:
    """Map a dlib detector score to a Rekognition-style Confidence, 0-100.

    Both dlib detectors are linear scorers whose decision threshold is 0 (HOG:
    the SVM margin, about -0.5..3 in practice; CNN: the MMOD score, about 1.0
    to 1.2 for clear faces). The mapping is the logistic
    ``100 / (1 + exp(-3 * score))``: monotone increasing, 50 at the
    threshold, 95.3 at 1, 99.75 at 2. It is a fixed squashing, not a
    calibrated probability.
    """
    return float(100.0 / (1.0 + math.exp(-_CONFIDENCE_SLOPE * float(score))))


def _as_rgb_array(image: Image.Image) -> np.ndarray:
    """Return the image as a C-contiguous ``(h, w, 3)`` uint8 RGB array.

    Raises ``TypeError`` when ``image`` is not a PIL image.
    """
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL.Image.Image, got {type(image).__name__}")
    if image.mode != "RGB":
        image = image.convert("RGB")
    return np.ascontiguousarray(np.asarray(image, dtype=np.uint8))


class DlibFaceDetector:
    """Finds faces with dlib and describes them as Rekognition ``ComparedFace`` dicts.

    ``model``: ``"hog"`` (default) or ``"cnn"``; see the module docstring for
    the measurement behind the default.
    ``max_side``: the detector runs on a copy whose longest side is at most
    this many pixels (default ``DEFAULT_MAX_SIDE`` = 1600).
    ``max_upscale``: small images are enlarged towards ``max_side`` by at most
    this factor (default 2), so faces down to ~40 px are found in them.
    ``min_score``: detector score threshold (default 0, dlib's own; a score
    of 0 is Confidence 50).
    ``max_faces``: keep at most this many faces, the largest first.

    Landmarks, pose, quality and embeddings are always computed on the full
    resolution image. Instances are cheap; the models are shared by the
    process and loaded on first use. Calls are serialised by a process-wide
    lock because dlib's networks keep per-call buffers.
    Raises ``ValueError`` for an unknown ``model`` or non-positive sizes.
    """

    def __init__(self, model: str = "hog", max_side: int = DEFAULT_MAX_SIDE,
                 max_upscale: float = DEFAULT_MAX_UPSCALE, min_score: float = 0.0,
                 max_faces: int = DEFAULT_MAX_FACES):
        if model not in ("hog", "cnn"):
            raise ValueError(f"model must be 'hog' or 'cnn', not {model!r}")
        if max_side <= 0 or max_upscale <= 0 or max_faces <= 0:
            raise ValueError("max_side, max_upscale and max_faces must be positive")
        self.model = model
        self.max_side = int(max_side)
        self.max_upscale = float(max_upscale)
        self.min_score = float(min_score)
        self.max_faces = int(max_faces)

    @property
    def version(self) -> str:
        """The detector version, ``"dlib-<version>/hog"`` or ``"dlib-<version>/cnn"``.

        Raises ``EngineUnavailableError`` when dlib is missing.
        """
        return f"dlib-{_dlib().__version__}/{self.model}"

    # -- public API ---------------------------------------------------------

    def detect_faces(self, image: Image.Image) -> list[dict]:
        """Detect the faces in ``image`` (a PIL image, any mode, orientation already applied).

        Returns one Rekognition ``ComparedFace`` dict per face (see the module
        docstring), largest face first; ``[]`` when there is none.
        Raises ``TypeError`` for a non-image and ``EngineUnavailableError``
        when dlib or a model file is missing.
        """
        return [face for face, _ in self._detect(image, with_embeddings=False)]

    def detect_and_embed(self, image: Image.Image) -> list[tuple[dict, np.ndarray]]:
        """Detect faces and compute each one's 128-d embedding in one pass.

        Returns ``[(ComparedFace dict, embedding), ...]`` largest face first;
        each embedding is a float64 array of shape ``(128,)`` (see
        ``embed_faces``). Cheaper than ``detect_faces`` + ``embed_faces``
        because the landmarks are computed once, and slightly more faithful
        for faces cut by the image edge (the unclamped detector box is used).
        Raises like ``detect_faces``.
        """
        return self._detect(image, with_embeddings=True)

    def embed_faces(self, image: Image.Image, faces: list[dict]) -> list[np.ndarray]:
        """Same as the module function ``embed_faces``."""
        return embed_faces(image, faces)

    # -- internals ----------------------------------------------------------

    def _detect(self, image: Image.Image, with_embeddings: bool) -> list[tuple[dict, Any]]:
        """Run detection, landmarks, pose, quality (and optionally embeddings)."""
        arr = _as_rgb_array(image)
        height, width = arr.shape[:2]
        if width == 0 or height == 0:
            return []
        dlib = _dlib()
        scale = min(self.max_side / max(width, height), self.max_upscale)
        if abs(scale - 1.0) < 1e-3:
            scale, work = 1.0, arr
        else:
            size = (max(1, round(width * scale)), max(1, round(height * scale)))
            src = image if image.mode == "RGB" else Image.fromarray(arr)
            work = np.ascontiguousarray(np.asarray(
                src.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0), dtype=np.uint8))
        with _lock:
            if self.model == "hog":
                rects, scores, _ = _model("hog").run(work, 0, self.min_score)
                found = list(zip(rects, scores))
            else:
                found = [(d.rect, d.confidence) for d in _model("cnn")(work, 0)
                         if d.confidence >= self.min_score]
            detections = []
            for rect, score in found:
                full = dlib.rectangle(round(rect.left() / scale), round(rect.top() / scale),
                                      round((rect.right() + 1) / scale) - 1,
                                      round((rect.bottom() + 1) / scale) - 1)
                detections.append((full, float(score)))
            detections.sort(key=lambda d: -(d[0].width() * d[0].height()))
            detections = detections[: self.max_faces]
            out: list[tuple[dict, Any]] = []
            for rect, score in detections:
                shape = _model("sp5")(arr, rect)
                face = _compared_face(shape, rect, score, arr)
                emb = _descriptor(arr, shape) if with_embeddings else None
                out.append((face, emb))
        return out


def embed_faces(image: Image.Image, faces: list[dict]) -> list[np.ndarray]:
    """Compute a 128-d dlib ResNet embedding for each face of ``image``.

    ``faces``: dicts with a Rekognition ``BoundingBox`` (ratios), typically
    from ``DlibFaceDetector.detect_faces`` on the same image. For each box the
    5-point shape predictor places the eyes and nose, dlib aligns a 150x150
    chip with 25% padding from them (``compute_face_descriptor(img, shape)``,
    the alignment of ``dlib.get_face_chip``) and the ResNet maps it to a unit
    scale float64 vector of shape ``(128,)``. Two embeddings of the same person
    are usually closer than 0.6 in Euclidean distance (dlib's reference).

    Returns the embeddings in the order of ``faces``.
    Raises ``KeyError`` when a face has no BoundingBox, ``TypeError`` for a
    non-image and ``EngineUnavailableError`` when a model is missing.
    """
    arr = _as_rgb_array(image)
    height, width = arr.shape[:2]
    dlib = _dlib()
    out = []
    with _lock:
        for face in faces:
            box = BoundingBox.from_rekognition(face["BoundingBox"])
            left = round(box.left * width)
            top = round(box.top * height)
            rect = dlib.rectangle(left, top,
                                  max(left, round((box.left + box.width) * width) - 1),
                                  max(top, round((box.top + box.height) * height) - 1))
            out.append(_descriptor(arr, _model("sp5")(arr, rect)))
    return out


def _descriptor(arr: np.ndarray, shape) -> np.ndarray:
    """The ResNet embedding (float64, shape (128,)) of the face whose 5 landmarks are ``shape``."""
    vec = _model("resnet").compute_face_descriptor(arr, shape, 0, 0.25)
    return np.asarray(vec, dtype=np.float64).reshape(EMBEDDING_SIZE)


def _compared_face(shape, rect, score: float, arr: np.ndarray) -> dict:
    """Build the ComparedFace dict for one detection in the RGB array ``arr`` (pixels in, ratios out).

    dlib's 5-point model orders its points: 0, 1 outer and inner corner of the
    eye on the image's right; 2, 3 outer and inner corner of the eye on the
    image's left; 4 the base of the nose. Rekognition's ``eyeLeft`` is the eye
    with the smaller X (the subject's right eye), as in its documented
    examples.
    """
    height, width = arr.shape[:2]
    pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
    eye_left = pts[2:4].mean(axis=0)   # image-left eye centre
    eye_right = pts[0:2].mean(axis=0)  # image-right eye centre
    nose = pts[4]
    axis = eye_right - eye_left
    eye_dist = float(np.hypot(*axis)) or 1.0
    u = axis / eye_dist
    v = np.array([-u[1], u[0]])  # perpendicular, pointing down the face
    mid = (eye_left + eye_right) / 2.0
    mouth_left = mid + eye_dist * (-_MOUTH_FRAME_X * u + _MOUTH_FRAME_Y * v)
    mouth_right = mid + eye_dist * (_MOUTH_FRAME_X * u + _MOUTH_FRAME_Y * v)

    def landmark(kind: str, p: np.ndarray) -> dict:
        return {"Type": kind, "X": float(p[0] / width), "Y": float(p[1] / height)}

    roll = math.degrees(math.atan2(axis[1], axis[0]))
    nose_shift = float((nose - mid) @ u) / eye_dist
    yaw = math.degrees(math.atan2(nose_shift, _NOSE_DEPTH))

    box = BoundingBox(rect.left() / width, rect.top() / height,
                      rect.width() / width, rect.height() / height).clamped()
    brightness, sharpness = _quality(arr, box)
    return {
        "BoundingBox": box.to_rekognition(),
        "Confidence": score_to_confidence(score),
        "Landmarks": [
            landmark("eyeLeft", eye_left),
            landmark("eyeRight", eye_right),
            landmark("mouthLeft", mouth_left),
            landmark("mouthRight", mouth_right),
            landmark("nose", nose),
        ],
        "Pose": {"Roll": float(roll), "Yaw": float(yaw), "Pitch": 0.0},
        "Quality": {"Brightness": brightness, "Sharpness": sharpness},
    }


def _quality(arr: np.ndarray, box: BoundingBox) -> tuple[float, float]:
    """Brightness and Sharpness (both 0-100) of the face ``box`` of the RGB array ``arr``.

    Brightness: mean ITU-R 601 luma of the box, 0-255 scaled to 0-100.
    Sharpness: the box is resized to 100x100 px, filtered with the 4-neighbour
    Laplacian, and its variance ``var`` mapped by
    ``100 * (1 - exp(-var / 150))`` (monotone; the variance-of-Laplacian
    focus measure of Pech-Pacheco et al., ICPR 2000).
    """
    height, width = arr.shape[:2]
    x, y, w, h = box.to_pixels(width, height)
    rgb = arr[y:y + max(h, 1), x:x + max(w, 1)]
    if rgb.size == 0:
        return 0.0, 0.0
    crop = Image.fromarray(np.ascontiguousarray(rgb)).convert("L")
    brightness = float(np.asarray(crop, dtype=np.float64).mean() / 255.0 * 100.0)
    small = np.asarray(crop.resize((_QUALITY_SIDE, _QUALITY_SIDE), Image.Resampling.BILINEAR),
                       dtype=np.float32)
    lap = (small[1:-1, :-2] + small[1:-1, 2:] + small[:-2, 1:-1] + small[2:, 1:-1]
           - 4.0 * small[1:-1, 1:-1])
    sharpness = float(100.0 * (1.0 - math.exp(-float(lap.var()) / _SHARPNESS_SCALE)))
    return min(max(brightness, 0.0), 100.0), min(max(sharpness, 0.0), 100.0)
