"""Turning Rekognition-shaped responses into flat, searchable ``Detection``s.

Pure functions over the response dicts of DetectLabels, DetectText and
RecognizeCelebrities (the common language of every engine). Field names are
Rekognition's; see the API reference of each operation.
"""

from __future__ import annotations

from mediaapp.core.types import LOCAL_ENGINE, Api, BoundingBox, Detection, DetectionKind, Json

#: The name given to a face without a known identity (RecognizeCelebrities UnrecognizedFaces).
UNKNOWN_FACE = "Face"


def flatten(api: Api | str, response: Json, source: str = LOCAL_ENGINE) -> list[Detection]:
    """Flatten one response into detections.

    - DetectLabels: one row per label with ``box=None`` and the label's
      Confidence, plus one row per Instance with its BoundingBox and the
      instance's own Confidence; ``parents`` are the label's Parents names.
    - DetectText: one row per LINE and WORD (``text_type``) with
      ``Geometry.BoundingBox``.
    - RecognizeCelebrities: ``person`` rows for CelebrityFaces (Name,
      MatchConfidence, Face.BoundingBox) and ``face`` rows named ``Face`` for
      UnrecognizedFaces (their Confidence).

    ``source`` is the engine name stored with each row. Raises ``ValueError``
    for an unknown API; malformed entries raise ``KeyError``/``TypeError``
    (responses are validated before they get here).
    """
    api = Api(api)
    if api is Api.DETECT_LABELS:
        return _flatten_labels(response, source)
    if api is Api.DETECT_TEXT:
        return _flatten_text(response, source)
    return _flatten_celebrities(response, source)


def _flatten_labels(response: Json, source: str) -> list[Detection]:
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


def _flatten_text(response: Json, source: str) -> list[Detection]:
    out: list[Detection] = []
    api = Api.DETECT_TEXT.value
    for det in response.get("TextDetections", []):
        box = det.get("Geometry", {}).get("BoundingBox")
        out.append(Detection(DetectionKind.TEXT, det["DetectedText"], float(det.get("Confidence", 0.0)),
                             BoundingBox.from_rekognition(box) if box else None, (), source, api,
                             det.get("Type")))
    return out


def _flatten_celebrities(response: Json, source: str) -> list[Detection]:
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
