"""Turning Rekognition-shaped responses into flat, searchable ``Detection``s.

``mediaapp.core.apis.flatten(api, response, source)`` picks each API's
function from its ``ApiSpec``; the functions are here.

Pure functions over the response dicts of DetectLabels, DetectText,
RecognizeCelebrities and DetectFaces (the common language of every engine). Field names are
Rekognition's; see the API reference of each operation.
"""

from __future__ import annotations

from dataclasses import replace

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


def flatten_moderation(response: Json, source: str) -> list[Detection]:
    """DetectModerationLabels: one ``moderation`` row per ModerationLabel (Name, Confidence 0-100), its
    ParentName (when not empty) as the one parent; no box (moderation labels are image-level)."""
    api = Api.DETECT_MODERATION_LABELS.value
    return [Detection(DetectionKind.MODERATION, label["Name"], float(label.get("Confidence", 0.0)), None,
                      (label["ParentName"],) if label.get("ParentName") else (), source, api)
            for label in response.get("ModerationLabels", []) if label.get("Name")]


def _at(rows: list[Detection], timestamp: object, api: Api) -> list[Detection]:
    """``rows`` as a video's: its ``api`` and ``timestamp_ms`` (Rekognition Video's ``Timestamp``, ms)."""
    stamp = int(timestamp) if isinstance(timestamp, (int, float)) else None
    return [replace(d, api=api.value, timestamp_ms=stamp) for d in rows]


def flatten_label_detection(response: Json, source: str) -> list[Detection]:
    """GetLabelDetection: for each ``Labels`` entry (a LabelDetection), ``flatten_labels``' rows of its
    ``Label`` (the label, then its Instances with their boxes), each with the entry's ``Timestamp`` (ms)."""
    out: list[Detection] = []
    for entry in response.get("Labels", []):
        if "Label" in entry:
            out += _at(flatten_labels({"Labels": [entry["Label"]]}, source), entry.get("Timestamp"),
                       Api.GET_LABEL_DETECTION)
    return out


def flatten_text_detection(response: Json, source: str) -> list[Detection]:
    """GetTextDetection: ``flatten_text``'s row of each ``TextDetections`` entry's ``TextDetection`` (LINE or
    WORD, with its box), with the entry's ``Timestamp`` (ms)."""
    out: list[Detection] = []
    for entry in response.get("TextDetections", []):
        if "TextDetection" in entry:
            out += _at(flatten_text({"TextDetections": [entry["TextDetection"]]}, source), entry.get("Timestamp"),
                       Api.GET_TEXT_DETECTION)
    return out


def flatten_face_detection(response: Json, source: str) -> list[Detection]:
    """GetFaceDetection: one ``face`` row named ``Face`` per ``Faces`` entry: its ``Face`` (a FaceDetail)
    BoundingBox and Confidence, with the entry's ``Timestamp`` (ms)."""
    out: list[Detection] = []
    for entry in response.get("Faces", []):
        face = entry.get("Face") or {}
        box = face.get("BoundingBox")
        row = Detection(DetectionKind.FACE, UNKNOWN_FACE, float(face.get("Confidence", 0.0)),
                        BoundingBox.from_rekognition(box) if box else None, (), source)
        out += _at([row], entry.get("Timestamp"), Api.GET_FACE_DETECTION)
    return out


def flatten_celebrity_recognition(response: Json, source: str) -> list[Detection]:
    """GetCelebrityRecognition: one ``person`` row per ``Celebrities`` entry: its ``Celebrity``'s Name,
    Confidence and BoundingBox (else its Face's), with the entry's ``Timestamp`` (ms)."""
    out: list[Detection] = []
    for entry in response.get("Celebrities", []):
        celeb = entry.get("Celebrity") or {}
        if not celeb.get("Name"):
            continue
        box = celeb.get("BoundingBox") or (celeb.get("Face") or {}).get("BoundingBox")
        row = Detection(DetectionKind.PERSON, celeb["Name"], float(celeb.get("Confidence", 0.0)),
                        BoundingBox.from_rekognition(box) if box else None, (), source)
        out += _at([row], entry.get("Timestamp"), Api.GET_CELEBRITY_RECOGNITION)
    return out


def flatten_content_moderation(response: Json, source: str) -> list[Detection]:
    """GetContentModeration: ``flatten_moderation``'s row of each ``ModerationLabels`` entry's
    ``ModerationLabel`` (a ContentModerationDetection's; Name, Confidence 0-100, ParentName as the parent, no
    box), with the entry's ``Timestamp`` (ms)."""
    out: list[Detection] = []
    for entry in response.get("ModerationLabels", []):
        if "ModerationLabel" in entry:
            out += _at(flatten_moderation({"ModerationLabels": [entry["ModerationLabel"]]}, source),
                       entry.get("Timestamp"), Api.GET_CONTENT_MODERATION)
    return out


def detected_lines(response: Json) -> list[str]:
    """The LINE texts of a DetectText response, in response order."""
    return [d["DetectedText"] for d in response.get("TextDetections", []) if d.get("Type") == "LINE"]


#: The face attributes ``Query.face_attributes`` and ``search --face-attribute`` accept, in display order:
#: from EyesOpen, Smile, MouthOpen (each Value True or False with its Confidence), Pose (``looking-away``),
#: and each of Rekognition's emotion types in lower case (their Confidence).
FACE_ATTRIBUTES = ("eyes-closed", "eyes-open", "smiling", "mouth-open", "looking-away",
                   "happy", "sad", "angry", "confused", "disgusted", "surprised", "calm", "fear")
#: ``looking-away`` holds when |Yaw| exceeds this many degrees (issue 11's definition)...
LOOKING_AWAY_YAW = 30.0
#: ... or |Pitch| exceeds this many degrees.
LOOKING_AWAY_PITCH = 20.0
#: Two face boxes are the same face when their intersection over union is at least this (``same_face``).
#: Boxes of one engine's DetectFaces and RecognizeCelebrities come from one detector (IoU 1 on-device);
#: 0.5 is the PASCAL VOC matching criterion, loose enough for another engine's or a file's face region.
SAME_FACE_IOU = 0.5


def face_attributes(face: Json) -> list[tuple[str, float]]:
    """The ``FACE_ATTRIBUTES`` one DetectFaces ``FaceDetail`` has, each with its confidence (0-100).

    ``EyesOpen`` Value True gives ``eyes-open``, False ``eyes-closed``, at its
    Confidence; ``Smile`` True gives ``smiling``; ``MouthOpen`` True gives
    ``mouth-open``; ``Pose`` with |Yaw| > 30 or |Pitch| > 20 degrees gives
    ``looking-away`` at the face's own Confidence (a pose is a measurement,
    not a classification); each ``Emotions`` entry gives its Type in lower
    case at its Confidence (``UNKNOWN`` is skipped). Missing members give
    nothing. Never raises for a validated FaceDetail.
    """
    out: list[tuple[str, float]] = []
    eyes = face.get("EyesOpen")
    if eyes is not None and "Value" in eyes:
        out.append(("eyes-open" if eyes["Value"] else "eyes-closed", float(eyes.get("Confidence", 0.0))))
    for member, name in (("Smile", "smiling"), ("MouthOpen", "mouth-open")):
        entry = face.get(member)
        if entry is not None and entry.get("Value"):
            out.append((name, float(entry.get("Confidence", 0.0))))
    pose = face.get("Pose")
    if pose is not None and (abs(float(pose.get("Yaw", 0.0))) > LOOKING_AWAY_YAW
                             or abs(float(pose.get("Pitch", 0.0))) > LOOKING_AWAY_PITCH):
        out.append(("looking-away", float(face.get("Confidence", 0.0))))
    for emotion in face.get("Emotions", []):
        name = str(emotion.get("Type", "")).lower()
        if name in FACE_ATTRIBUTES:
            out.append((name, float(emotion.get("Confidence", 0.0))))
    return out


def flatten_faces(response: Json, source: str) -> list[Detection]:
    """DetectFaces: per FaceDetail, one ``face_attribute`` row per attribute it has (``face_attributes``; every
    face has ``eyes-open`` or ``eyes-closed`` when EyesOpen is answered), each with the face's BoundingBox, so
    the rows of one face share a box. No ``face`` row: RecognizeCelebrities already gives one per face, and a
    second would box each face twice. A FaceDetail without a BoundingBox gives nothing."""
    out: list[Detection] = []
    api = Api.DETECT_FACES.value
    for face in response.get("FaceDetails", []):
        if "BoundingBox" not in face:
            continue
        box = BoundingBox.from_rekognition(face["BoundingBox"])
        out.extend(Detection(DetectionKind.FACE_ATTRIBUTE, name, conf, box, (), source, api)
                   for name, conf in face_attributes(face))
    return out


def box_iou(a: BoundingBox, b: BoundingBox) -> float:
    """Intersection over union of two boxes (ratios), 0-1; 0 when either is empty."""
    left, top = max(a.left, b.left), max(a.top, b.top)
    right = min(a.left + a.width, b.left + b.width)
    bottom = min(a.top + a.height, b.top + b.height)
    inter = max(right - left, 0.0) * max(bottom - top, 0.0)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def same_face(box: BoundingBox, persons: list[Detection]) -> Detection | None:
    """The person detection among ``persons`` whose box overlaps ``box`` most, if its IoU is ``SAME_FACE_IOU``
    or more (ties: the first); None otherwise. How a DetectFaces face is tied to a named face."""
    best, best_iou = None, 0.0
    for det in persons:
        iou = box_iou(box, det.box) if det.box is not None else 0.0
        if iou >= SAME_FACE_IOU and iou > best_iou:
            best, best_iou = det, iou
    return best
