"""Turning Rekognition-shaped responses into flat, searchable ``Detection``s.

``mediaapp.core.apis.flatten(api, response, source)`` picks each API's
function from its ``ApiSpec``; the functions are here.

Pure functions over the response dicts of DetectLabels, DetectText and
RecognizeCelebrities (the common language of every engine). Field names are
Rekognition's; see the API reference of each operation.
"""

from __future__ import annotations

from mediaapp.core.types import Api, BoundingBox, Detection, DetectionKind, Json

#: The name given to a face without a known identity (RecognizeCelebrities UnrecognizedFaces).
UNKNOWN_FACE = "Face"


def flatten_labels(response: Json, source: str) -> list[Detection]:
    """DetectLabels: one row per label with ``box=None`` and the label's Confidence (0-100), plus one row per
    Instance with its BoundingBox (ratios) and the instance's own Confidence; ``parents`` are the label's Parents
    names. ``source`` is the engine name stored with each row."""
    out: list[Detection] = []
    api = Api.DETECT_LABELS.value
    for label in response.get("Labels", []):
        name = label["Name"]
        parents = tuple(p["Name"] for p in label.get("Parents", []))
        out.append(Detection(DetectionKind.LABEL, name, float(label.get("Confidence", 0.0)),
                             None, parents, source, api))
        for inst in label.get("Instances", []):
            if "BoundingBox" not in inst:
                continue
            out.append(Detection(DetectionKind.LABEL, name,
                                 float(inst.get("Confidence", label.get("Confidence", 0.0))),
                                 BoundingBox.from_rekognition(inst["BoundingBox"]), parents, source, api))
    return out


def flatten_text(response: Json, source: str) -> list[Detection]:
    """DetectText: one row per LINE and WORD (``text_type``) with ``Geometry.BoundingBox`` (ratios)."""
    out: list[Detection] = []
    api = Api.DETECT_TEXT.value
    for det in response.get("TextDetections", []):
        box = det.get("Geometry", {}).get("BoundingBox")
        out.append(Detection(DetectionKind.TEXT, det["DetectedText"], float(det.get("Confidence", 0.0)),
                             BoundingBox.from_rekognition(box) if box else None, (), source, api,
                             det.get("Type")))
    return out


def flatten_celebrities(response: Json, source: str) -> list[Detection]:
    """RecognizeCelebrities: ``person`` rows for CelebrityFaces (Name, MatchConfidence, Face.BoundingBox) and
    ``face`` rows named ``Face`` for UnrecognizedFaces (their Confidence)."""
    out: list[Detection] = []
    api = Api.RECOGNIZE_CELEBRITIES.value
    for celeb in response.get("CelebrityFaces", []):
        box = celeb.get("Face", {}).get("BoundingBox")
        out.append(Detection(DetectionKind.PERSON, celeb["Name"], float(celeb.get("MatchConfidence", 0.0)),
                             BoundingBox.from_rekognition(box) if box else None, (), source, api))
    for face in response.get("UnrecognizedFaces", []):
        box = face.get("BoundingBox")
        out.append(Detection(DetectionKind.FACE, UNKNOWN_FACE, float(face.get("Confidence", 0.0)),
                             BoundingBox.from_rekognition(box) if box else None, (), source, api))
    return out


def detected_lines(response: Json) -> list[str]:
    """The LINE texts of a DetectText response, in response order."""
    return [d["DetectedText"] for d in response.get("TextDetections", []) if d.get("Type") == "LINE"]
