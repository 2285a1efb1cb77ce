"""On-device DetectFaces: Rekognition ``FaceDetail`` dicts from dlib's 68 facial landmarks.

``face_details(image, faces)`` takes the faces the local engine already found
(``DlibFaceDetector.detect_faces``/``detect_and_embed``: BoundingBox and
Confidence) and places dlib's 68-point shape predictor
(``shape_predictor_68_face_landmarks.dat`` from ``face_recognition_models``,
trained on the iBUG 300-W landmarks, whose terms exclude commercial use: see
README, "Third-party model weights") in each box. From those points:

- ``Landmarks``: only the Rekognition types a 68-point landmark stands for
  (``LANDMARK_POINTS``). ``left``/``right`` are the image's, as the local
  engine's RecognizeCelebrities faces name them (``eyeLeft`` is the eye with
  the smaller X). ``leftPupil``/``rightPupil`` are left out: dlib places the
  eyelids and corners, not the pupil.
- ``Pose`` (degrees): a least-squares fit of ``MODEL_POINTS`` (a generic
  3D face, see there) to 14 landmarks under weak perspective (scaled
  orthographic projection: the face's depth is small next to its distance
  from the camera), the 2x3 projection made orthonormal by SVD
  (``fit_pose``). Signs: ``Yaw`` positive when the face turns towards the
  image's right, ``Pitch`` positive when it tilts up, ``Roll`` positive when
  it turns clockwise in the image (as the local engine's RecognizeCelebrities
  faces). Checked on synthetic projections of the model (exact to 0.5
  degrees); not checked against photos of known pose (none are at hand).
- ``Quality``: Brightness and Sharpness of the face box, the same measures
  as the local engine's other faces (``face_detector._quality``: mean luma;
  variance of the Laplacian of the crop resized to 100x100 px).
- ``EyesOpen``: the eye aspect ratio (EAR) of Soukupova and Cech, "Real-Time
  Eye Blink Detection using Facial Landmarks" (CVWW 2016):
  ``(|p2-p6| + |p3-p5|) / (2 |p1-p4|)`` over each eye's 6 points, averaged
  over both eyes; open when above ``EAR_THRESHOLD`` (0.15; see there).
- ``MouthOpen``: the inner lips' gap (points 61-67, 62-66, 63-65, averaged)
  over the mouth's width (48-54); open above ``MAR_THRESHOLD``.
- ``Smile``: the mouth corners' lift above the lips' centre line, in the
  face's own frame (the roll undone), over the mouth's width; smiling above
  ``SMILE_THRESHOLD``.

Each Value's ``Confidence`` is ``margin_confidence`` of how far the measure
lies from its threshold: a fixed logistic squashing (50 at the threshold), not
a calibrated probability. ``Emotions`` come from a small expression model when
it is in the model cache (``mediaapp.analysis.local.face_emotion``; the caller
passes it); ``AgeRange`` and ``Gender`` from a small age/gender model
likewise (``mediaapp.analysis.local.face_age``). Beard, glasses and the rest
are not answered: no model here gives them honestly.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from mediaapp.analysis.engine_base import EngineUnavailableError
from mediaapp.analysis.local.face_detector import _quality
from mediaapp.core.types import BoundingBox, Json

__all__ = [
    "ATTRIBUTES_VERSION",
    "EAR_THRESHOLD",
    "LANDMARK_POINTS",
    "MAR_THRESHOLD",
    "MODEL_POINTS",
    "SMILE_THRESHOLD",
    "attributes_from_points",
    "eye_aspect_ratio",
    "face_details",
    "fit_pose",
    "margin_confidence",
    "mouth_open_ratio",
    "smile_lift",
]

#: Version of this module's answers (part of the local engine's DetectFaces version, so the cache key).
ATTRIBUTES_VERSION = "attrs-1"

#: Eyes count as open when the mean eye aspect ratio is above this. Soukupova & Cech 2016 threshold their
#: baseline at 0.2; on the 25 open-eyed faces of testdata/3_faces dlib's points gave 0.13-0.42, and 0.2 called
#: 3 of them closed (broad smiles narrow the eyes: 0.13, 0.18, 0.196), 0.15 one (a laughing squint, 0.13).
EAR_THRESHOLD = 0.15
#: Logistic scale of the EAR's margin (``margin_confidence``): a margin of 0.05 gives Confidence 84.
EAR_SCALE = 0.03
#: The mouth counts as open when the inner lips' gap is more than this share of the mouth's width.
#: Chosen from the 25 faces of testdata/3_faces, whose lips were looked at one by one:
#: closed lips measure 0.00-0.04, parted lips (talking, teeth showing) 0.087 and more.
MAR_THRESHOLD = 0.06
MAR_SCALE = 0.02
#: A face counts as smiling when the mouth corners stand above the lips' centre line by more than this share of
#: the mouth's width. Chosen from the same 25 faces, each looked at and called smiling or not (see
#: ``benchmarks/face_attr_eval.py``, which prints the per-face figures): smiles measured 0.13-0.17, neutral
#: faces -0.08-0.06, and talking with the mouth open 0.09-0.10 (which is why the line is not lower).
SMILE_THRESHOLD = 0.12
SMILE_SCALE = 0.03

#: Rekognition landmark type -> the 0-based iBUG 300-W points (dlib's 68) whose mean stands for it. Point order:
#: 0-16 jaw from the image's left; 17-21 and 22-26 brows; 27-30 nose bridge to tip; 31-35 nostrils; 36-41 the
#: image-left eye (outer corner 36, upper lid 37-38, inner corner 39, lower lid 40-41); 42-47 the other eye
#: (inner corner 42, upper 43-44, outer 45, lower 46-47); 48-59 outer lips (corners 48 and 54, top 51,
#: bottom 57); 60-67 inner lips (62 top, 66 bottom).
LANDMARK_POINTS: dict[str, tuple[int, ...]] = {
    "eyeLeft": (36, 37, 38, 39, 40, 41), "eyeRight": (42, 43, 44, 45, 46, 47),
    "nose": (30,), "mouthLeft": (48,), "mouthRight": (54,),
    "leftEyeBrowLeft": (17,), "leftEyeBrowRight": (21,), "leftEyeBrowUp": (19,),
    "rightEyeBrowLeft": (22,), "rightEyeBrowRight": (26,), "rightEyeBrowUp": (24,),
    "leftEyeLeft": (36,), "leftEyeRight": (39,), "leftEyeUp": (37, 38), "leftEyeDown": (40, 41),
    "rightEyeLeft": (42,), "rightEyeRight": (45,), "rightEyeUp": (43, 44), "rightEyeDown": (46, 47),
    "noseLeft": (31,), "noseRight": (35,), "mouthUp": (51,), "mouthDown": (57,),
    "upperJawlineLeft": (0,), "midJawlineLeft": (4,), "chinBottom": (8,),
    "midJawlineRight": (12,), "upperJawlineRight": (16,),
}

#: A generic adult face in millimetres (x towards the image's right, y up, z towards the camera; origin the nose
#: tip), at the iBUG points it is fitted to. Derived here from rounded adult means of facial anthropometry
#: (Farkas, "Anthropometry of the Head and Face", 1994): outer eye corners 90 mm apart (ex-ex), inner 32 mm
#: (en-en), mouth 50 mm wide (ch-ch), nose 36 mm wide (al-al), nose tip to chin 70 mm, eyes 35 mm above the nose
#: tip; depths (z) are rough profile proportions (eye corners 30-40 mm behind the tip, mouth 25 mm, chin 30 mm,
#: jaw angles 90 mm). Good to about 10 mm: enough for a pose in degrees, not a fitted head model.
MODEL_POINTS: dict[int, tuple[float, float, float]] = {
    30: (0.0, 0.0, 0.0),          # nose tip (pronasale)
    33: (0.0, -15.0, -15.0),      # subnasale
    31: (-18.0, -10.0, -20.0), 35: (18.0, -10.0, -20.0),   # nostril wings (alare)
    36: (-45.0, 35.0, -40.0), 45: (45.0, 35.0, -40.0),     # outer eye corners (exocanthion)
    39: (-16.0, 35.0, -30.0), 42: (16.0, 35.0, -30.0),     # inner eye corners (endocanthion)
    48: (-25.0, -30.0, -25.0), 54: (25.0, -30.0, -25.0),   # mouth corners (cheilion)
    8: (0.0, -70.0, -30.0),       # chin (gnathion)
    27: (0.0, 45.0, -25.0),       # nasion (top of the nose bridge)
    4: (-55.0, -35.0, -75.0), 12: (55.0, -35.0, -75.0),    # jaw, below the ears towards the chin
}

_lock = threading.Lock()
_predictor: list[Any] = []


def margin_confidence(margin: float, scale: float) -> float:
    """Confidence (50-100) of a thresholded measure whose distance from its threshold is ``margin``.

    ``100 / (1 + exp(-|margin| / scale))``: 50 at the threshold, 73 one
    ``scale`` away, 95 three away. A fixed squashing, not calibrated.
    """
    return float(100.0 / (1.0 + math.exp(-abs(float(margin)) / float(scale))))


def eye_aspect_ratio(eye: np.ndarray) -> float:
    """The EAR of one eye's 6 points (``(6, 2)`` array in iBUG order p1..p6: corner, 2 upper, corner, 2 lower).

    ``(|p2-p6| + |p3-p5|) / (2 |p1-p4|)`` (Soukupova & Cech 2016); about
    0.25-0.35 for an open eye, under 0.15 for a closed one; 0 when the
    corners coincide.
    """
    width = float(np.linalg.norm(eye[0] - eye[3]))
    if width <= 0:
        return 0.0
    return float((np.linalg.norm(eye[1] - eye[5]) + np.linalg.norm(eye[2] - eye[4])) / (2.0 * width))


def mouth_open_ratio(points: np.ndarray) -> float:
    """The inner lips' mean gap (61-67, 62-66, 63-65) over the mouth's width (48-54) of 68 ``points`` ``(68, 2)``."""
    width = float(np.linalg.norm(points[48] - points[54]))
    if width <= 0:
        return 0.0
    gap = np.mean([np.linalg.norm(points[a] - points[b]) for a, b in ((61, 67), (62, 66), (63, 65))])
    return float(gap / width)


def smile_lift(points: np.ndarray) -> float:
    """How far the mouth corners (48, 54) stand above the lips' centre, over the mouth's width; 68 ``points``.

    Measured in the face's frame: along the perpendicular to the line
    through the eye centres (so a tilted head reads the same), the lips'
    centre being the mean of the outer top and bottom (51, 57). Positive:
    corners raised (a smile); negative: corners down.
    """
    left_eye, right_eye = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    axis = right_eye - left_eye
    norm = float(np.hypot(*axis))
    if norm <= 0:
        return 0.0
    u = axis / norm
    down = np.array([-u[1], u[0]])  # perpendicular to the eye line, towards the chin (image y grows down)
    width = float(np.linalg.norm(points[48] - points[54]))
    if width <= 0:
        return 0.0
    centre = (points[51] + points[57]) / 2.0
    corners = (points[48] + points[54]) / 2.0
    return float((centre - corners) @ down / width)


def fit_pose(points: np.ndarray) -> dict[str, float]:
    """Roll, Yaw and Pitch (degrees) of 68 image ``points`` ``(68, 2)`` (pixels, y down); see the module docstring.

    Weak-perspective fit: the centred ``MODEL_POINTS`` ``X`` and their image
    points ``x`` (y flipped up) give the least-squares 2x3 ``M`` with
    ``x = X M^T``; its closest matrix with orthonormal rows (SVD) is the top
    of the rotation, the third row their cross product. Euler angles from
    ``R = Rz(roll) Ry(yaw) Rx(pitch)``. Returns Rekognition's ``Pose`` dict.
    """
    ids = sorted(MODEL_POINTS)
    model = np.array([MODEL_POINTS[i] for i in ids], dtype=np.float64)
    image = np.array([points[i] for i in ids], dtype=np.float64) * np.array([1.0, -1.0])
    model -= model.mean(axis=0)
    image -= image.mean(axis=0)
    m_t, *_ = np.linalg.lstsq(model, image, rcond=None)
    u, _, vt = np.linalg.svd(m_t.T, full_matrices=False)
    top = u @ vt
    rot = np.vstack([top, np.cross(top[0], top[1])])
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, -rot[2, 0]))))
    pitch = math.degrees(math.atan2(rot[2, 1], rot[2, 2]))
    roll = math.degrees(math.atan2(rot[1, 0], rot[0, 0]))
    # Rx(+a) moves the nose down and Rz(+g) turns counter-clockwise (y up): Rekognition-style signs flip both.
    return {"Roll": float(-roll), "Yaw": float(yaw), "Pitch": float(-pitch)}


def _flag(value: bool, margin: float, scale: float) -> Json:
    return {"Value": bool(value), "Confidence": margin_confidence(margin, scale)}


def attributes_from_points(points: np.ndarray) -> Json:
    """``EyesOpen``, ``MouthOpen``, ``Smile`` and ``Pose`` of one face from its 68 ``points`` ``(68, 2)`` (pixels).

    Pure geometry (see the module docstring for each measure and threshold);
    raises ``ValueError`` unless ``points`` has shape ``(68, 2)``.
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.shape != (68, 2):
        raise ValueError(f"expected 68 (x, y) points, got shape {pts.shape}")
    ear = (eye_aspect_ratio(pts[36:42]) + eye_aspect_ratio(pts[42:48])) / 2.0
    mar = mouth_open_ratio(pts)
    lift = smile_lift(pts)
    return {
        "EyesOpen": _flag(ear > EAR_THRESHOLD, ear - EAR_THRESHOLD, EAR_SCALE),
        "MouthOpen": _flag(mar > MAR_THRESHOLD, mar - MAR_THRESHOLD, MAR_SCALE),
        "Smile": _flag(lift > SMILE_THRESHOLD, lift - SMILE_THRESHOLD, SMILE_SCALE),
        "Pose": fit_pose(pts),
    }


def _shape_predictor():
    """dlib's 68-point shape predictor, loaded once per process. Raises ``EngineUnavailableError``."""
    with _lock:
        if not _predictor:
            try:
                import dlib
                import face_recognition_models as frm
            except ImportError as exc:  # pragma: no cover - both are dependencies
                raise EngineUnavailableError(f"face landmarks need dlib and face_recognition_models: {exc}",
                                             code="EngineUnavailable") from exc
            path = frm.pose_predictor_model_location()
            try:
                _predictor.append((dlib, dlib.shape_predictor(path)))
            except RuntimeError as exc:
                raise EngineUnavailableError(f"cannot load the 68-point landmark model {path}: {exc}",
                                             code="EngineUnavailable") from exc
        return _predictor[0]


def landmarks68(arr: np.ndarray, box: BoundingBox) -> np.ndarray:
    """dlib's 68 landmarks ``(68, 2)`` (pixels) of the face in ``box`` (ratios) of the RGB array ``arr``."""
    height, width = arr.shape[:2]
    return _landmarks_in(arr, *_pixels(box, width, height))


def _pixels(box: BoundingBox, width: int, height: int) -> tuple[int, int, int, int]:
    """``box`` as dlib's inclusive pixel rectangle ``(left, top, right, bottom)`` in an image ``width`` x ``height``."""
    left, top = round(box.left * width), round(box.top * height)
    return (left, top, max(left, round((box.left + box.width) * width) - 1),
            max(top, round((box.top + box.height) * height) - 1))


def _landmarks_in(arr: np.ndarray, left: int, top: int, right: int, bottom: int) -> np.ndarray:
    dlib, predictor = _shape_predictor()
    with _lock:
        shape = predictor(np.ascontiguousarray(arr), dlib.rectangle(left, top, right, bottom))
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


#: Each face is read from a crop of its box grown by this share of its size on every side (the 68 points can fall
#: outside the detector's box: brows, chin), so the cost does not grow with the photo's size.
_CROP_MARGIN = 0.5


def face_details(image: Image.Image, faces: list[Json],
                 emotions: Callable[[Image.Image, BoundingBox], list[Json]] | None = None,
                 age_gender: Callable[[Image.Image, BoundingBox], Json] | None = None) -> Json:
    """The DetectFaces response for ``faces`` found in ``image`` (PIL, orientation applied).

    ``faces``: dicts with ``BoundingBox`` (ratios) and ``Confidence``, as the
    local face detector returns them. Returns ``{"FaceDetails": [...]}`` in
    the order of ``faces``; each FaceDetail has BoundingBox, Confidence,
    Landmarks (X/Y ratios of the image), Pose, Quality, EyesOpen, MouthOpen
    and Smile, and ``Emotions`` when ``emotions`` is given (``image``, face box
    -> Rekognition Emotions, e.g. ``EmotionClassifier.emotions``), and the
    keys ``age_gender`` returns when it is given (``AgeRange`` and ``Gender``,
    e.g. ``AgeGenderEstimator.age_gender``). Raises
    ``EngineUnavailableError`` when a model is missing and ``TypeError`` for a
    non-image.
    """
    if not isinstance(image, Image.Image):
        raise TypeError(f"expected a PIL.Image.Image, got {type(image).__name__}")
    if not faces:
        return {"FaceDetails": []}
    width, height = image.size
    details = []
    for face in faces:
        box = BoundingBox.from_rekognition(face["BoundingBox"])
        left, top, right, bottom = _pixels(box, width, height)
        mx, my = round((right - left + 1) * _CROP_MARGIN), round((bottom - top + 1) * _CROP_MARGIN)
        x0, y0 = max(left - mx, 0), max(top - my, 0)
        crop = image.crop((x0, y0, min(right + mx + 1, width), min(bottom + my + 1, height)))
        arr = np.asarray(crop if crop.mode == "RGB" else crop.convert("RGB"), dtype=np.uint8)
        pts = _landmarks_in(arr, left - x0, top - y0, right - x0, bottom - y0) + np.array([x0, y0])
        inner = BoundingBox((box.left * width - x0) / arr.shape[1], (box.top * height - y0) / arr.shape[0],
                            box.width * width / arr.shape[1], box.height * height / arr.shape[0])
        brightness, sharpness = _quality(arr, inner.clamped())
        detail: Json = {"BoundingBox": box.to_rekognition()}
        landmarks = [{"Type": kind, "X": float(pts[list(ids), 0].mean() / width),
                      "Y": float(pts[list(ids), 1].mean() / height)} for kind, ids in LANDMARK_POINTS.items()]
        attrs = attributes_from_points(pts)
        detail.update({
            "Smile": attrs["Smile"], "EyesOpen": attrs["EyesOpen"], "MouthOpen": attrs["MouthOpen"],
            "Landmarks": landmarks, "Pose": attrs["Pose"],
            "Quality": {"Brightness": brightness, "Sharpness": sharpness},
            "Confidence": float(face["Confidence"]),
        })
        if emotions is not None:
            detail["Emotions"] = emotions(image, box)
        if age_gender is not None:
            detail.update(age_gender(image, box))
        details.append(detail)
    return {"FaceDetails": details}
