"""Validation of Rekognition-shaped responses against botocore's service model.

Every engine (the cloud one and the on-device one) must answer exactly in
Amazon Rekognition's response schema. ``validate_response`` checks a response
in two layers:

1. **botocore's model.** The operation's output shape is taken from the
   ``rekognition`` service model that ships with botocore (loaded once per
   process) and the response is run through
   ``botocore.validate.ParamValidator``: member types, required members and
   unknown members, plus the model's ``min`` constraints.
2. **Checks ParamValidator does not do**, walking the same shape:

   - every string member whose shape has an ``enum`` holds one of its values
     (TextDetection ``Type``, ``KnownGender.Type``, Landmark ``Type``,
     emotion ``Type``, ``OrientationCorrection``...);
   - numeric ``max`` constraints from the model (``Percent`` is 0-100,
     ``Degree`` is -180..180), list ``max`` lengths and string ``max`` lengths;
     string ``pattern`` constraints (full match; a pattern Python's ``re``
     cannot compile is skipped);
   - numbers are finite and never ``bool`` (``bool`` is an ``int`` to Python,
     so ParamValidator accepts ``True`` for a float);
   - domain rules from the Rekognition API reference: ``Confidence``,
     ``MatchConfidence``, ``Similarity`` and ``SearchedFaceConfidence`` are
     percentages in [0, 100] (see ``PERCENT_MEMBERS``); every ``BoundingBox`` and every point
     (``Polygon`` points, face ``Landmarks``) is in ratios of the image size
     (see ``EDGE_TOLERANCE``);
   - required members (``REQUIRED_MEMBERS``): botocore's model marks none
     of these operations' output members required;
   - DetectText: ``Id`` values are unique, every WORD has a ``ParentId`` that
     names a LINE, and LINEs have no ``ParentId``.

Problems are collected, never short-circuited: ``ResponseValidationError``
lists every problem with its JSON path (``$.TextDetections[3].Confidence``).

``load_sample`` reads a stored sample response (awscli, botocore examples,
moto, async-aws) and unwraps the ``{"input": ..., "output": ...}`` form that
botocore's ``examples-1.json`` uses.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: How far outside the unit square a ratio may lie, in image widths/heights.
#: Rekognition documents that a BoundingBox "might be <0 or >1" when the
#: detected object reaches past the image edge (a face cut by the frame, a
#: label instance at the border); its own examples show values such as
#: -0.02. The tolerance is generous on purpose, because real cloud responses
#: go through this check too: a face half outside the frame is legitimate,
#: pixels (``Left: 120``) or percentages (``Width: 35``) are not, and any
#: tolerance below 1 rejects those. The rules, for a tolerance ``t``:
#:
#: - ``Width`` and ``Height`` in [0, 1 + t];
#: - ``Left`` and ``Top`` in [-t, 1] (a box cannot start past the far edge);
#: - the box reaches into the image: ``Left + Width >= 0`` and
#:   ``Top + Height >= 0``;
#: - points (``Polygon``, ``Landmarks``): ``X`` and ``Y`` in [-t, 1 + t].
EDGE_TOLERANCE = 0.5

#: Members that are percentages (0-100) wherever they appear, even where the
#: model types them as a plain ``Float`` (``SearchedFaceConfidence``). The
#: image-quality scores (``Brightness``, ``Sharpness``) are deliberately not
#: here: the API reference says 0-100, but AWS's own IndexFaces example in
#: botocore (``examples-1.json``) returns ``Sharpness: 160``, so real
#: responses may exceed it.
PERCENT_MEMBERS = frozenset({"Confidence", "MatchConfidence", "Similarity", "SearchedFaceConfidence"})

#: Members we require, by botocore shape name (wherever the shape appears).
#: botocore marks *no* output member of DetectLabels, DetectText or
#: RecognizeCelebrities as required (output shapes in AWS models rarely
#: are), so ParamValidator alone would accept ``{}`` for a TextDetection.
#: These are the members the service always returns for these shapes (the
#: API reference's response descriptions; every stored sample in the shared
#: test data has them), and the members the rest of the app reads.
REQUIRED_MEMBERS: dict[str, tuple[str, ...]] = {
    "DetectLabelsResponse": ("Labels",),
    "DetectTextResponse": ("TextDetections",),
    "RecognizeCelebritiesResponse": ("CelebrityFaces", "UnrecognizedFaces"),
    "DetectFacesResponse": ("FaceDetails",),
    "FaceDetail": ("BoundingBox", "Confidence"),  # what ties a face's attributes to its box (flatten_faces)
    "Label": ("Name", "Confidence"),
    "Instance": ("BoundingBox", "Confidence"),
    "Parent": ("Name",),
    "TextDetection": ("DetectedText", "Type", "Id", "Confidence", "Geometry"),
    "Geometry": ("BoundingBox", "Polygon"),
    "BoundingBox": ("Width", "Height", "Left", "Top"),
    "Point": ("X", "Y"),
    "Landmark": ("Type", "X", "Y"),
    "Celebrity": ("Name", "Id", "Face", "MatchConfidence"),
    "ComparedFace": ("BoundingBox", "Confidence"),
    "Emotion": ("Type", "Confidence"),
    "KnownGender": ("Type",),
    # Rekognition Video's Get* answers (a finished job): the status, the video's metadata, the findings,
    # each with its Timestamp (ms) and the image shape of what was found
    "GetLabelDetectionResponse": ("JobStatus", "VideoMetadata", "Labels"),
    "GetTextDetectionResponse": ("JobStatus", "VideoMetadata", "TextDetections"),
    "GetFaceDetectionResponse": ("JobStatus", "VideoMetadata", "Faces"),
    "GetCelebrityRecognitionResponse": ("JobStatus", "VideoMetadata", "Celebrities"),
    "GetContentModerationResponse": ("JobStatus", "VideoMetadata", "ModerationLabels"),
    "LabelDetection": ("Timestamp", "Label"),
    "TextDetectionResult": ("Timestamp", "TextDetection"),
    "FaceDetection": ("Timestamp", "Face"),
    "CelebrityRecognition": ("Timestamp", "Celebrity"),
    "ContentModerationDetection": ("Timestamp", "ModerationLabel"),
    "CelebrityDetail": ("Name", "Confidence"),
    "VideoMetadata": ("DurationMillis", "FrameHeight", "FrameWidth"),
}

#: Shapes whose ``X``/``Y`` members are ratio coordinates of the image.
POINT_SHAPES = frozenset({"Point", "Landmark"})

_NUMERIC_TYPES = frozenset({"integer", "long", "float", "double"})

#: Problems named in a ``ResponseValidationError``'s message (all stay in ``problems``): a hostile
#: response can have tens of thousands, and one reason per file must stay readable.
MAX_LISTED_PROBLEMS = 20


@dataclass(frozen=True)
class Problem:
    """One validation problem: ``path`` is a JSON path (``$.Labels[0].Name``), ``message`` says what is wrong."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class ResponseValidationError(ValueError):
    """A response does not match the Rekognition output shape or our domain rules.

    ``operation`` is the Rekognition operation name; ``problems`` lists every
    problem found (``Problem`` with ``path`` and ``message``); ``str()``
    names the first ``MAX_LISTED_PROBLEMS`` of them, one per line, and how
    many more there are.
    """

    def __init__(self, operation: str, problems: list[Problem]):
        self.operation = operation
        self.problems = list(problems)
        shown = self.problems[:MAX_LISTED_PROBLEMS]
        lines = "\n".join(f"  {p}" for p in shown)
        if len(self.problems) > len(shown):
            lines += f"\n  ... and {len(self.problems) - len(shown)} more"
        super().__init__(f"invalid {operation} response ({len(self.problems)} problem"
                         f"{'s' if len(self.problems) != 1 else ''}):\n{lines}")


_MODEL_LOCK = threading.Lock()
_MODEL = None


def service_model():
    """Return botocore's ``rekognition`` ServiceModel, loaded once per process (thread-safe)."""
    global _MODEL
    if _MODEL is None:
        with _MODEL_LOCK:
            if _MODEL is None:
                import botocore.session

                _MODEL = botocore.session.get_session().get_service_model("rekognition")
    return _MODEL


def output_shape(operation: str):
    """Return the botocore output shape of Rekognition ``operation`` (e.g. ``"DetectText"``).

    ``operation`` may be an ``Api`` member (its value is used). Raises
    ``ValueError`` for an operation the model does not define, or one with
    no output.
    """
    from botocore.model import OperationNotFoundError

    name = getattr(operation, "value", operation)
    try:
        shape = service_model().operation_model(name).output_shape
    except OperationNotFoundError as exc:
        raise ValueError(f"unknown Rekognition operation: {name!r}") from exc
    if shape is None:
        raise ValueError(f"Rekognition operation {name!r} has no output")
    return shape


def validate_response(operation: str, response: dict) -> None:
    """Check ``response`` against Rekognition ``operation``'s output shape and our domain rules.

    ``operation`` is the operation name (``"DetectLabels"``, ``"DetectText"``,
    ``"RecognizeCelebrities"``, or any other Rekognition operation) or an
    ``Api`` member. A top-level ``ResponseMetadata`` (boto3 adds it) is
    ignored. Returns None when the response is valid.

    Raises ``ResponseValidationError`` (a ``ValueError``) listing every
    problem with its JSON path, and ``ValueError`` for an unknown operation.
    See the module docstring for what is checked.
    """
    from botocore.validate import ParamValidator

    name = getattr(operation, "value", operation)
    shape = output_shape(name)
    if not isinstance(response, dict):
        raise ResponseValidationError(name, [Problem("$", f"expected an object, got {type(response).__name__}")])
    body = {k: v for k, v in response.items() if k != "ResponseMetadata"}

    problems = _botocore_problems(ParamValidator().validate(body, shape))
    _walk(body, shape, "$", problems)
    if name == "DetectText":
        _check_text_ids(body, problems)
    if problems:
        raise ResponseValidationError(name, problems)


#: The most items one Rekognition response holds, from the API reference, by
#: operation: (JSON member, TextDetection ``Type`` or None for every item,
#: maximum). DetectLabels returns at most 1,000 labels (``MaxLabels``' upper
#: bound); DetectText "can detect up to 100 words in an image" (and so at
#: most 100 lines, 200 items in all); RecognizeCelebrities returns "the 64 largest faces", known
#: and unrecognized together; DetectFaces "detects the 100 largest faces".
#: Our own engines are not held to these (on-device OCR may read more than
#: 100 words of a dense page); results imported from files are.
RESPONSE_MAXIMA: dict[str, tuple[tuple[tuple[str, ...], str | None, int], ...]] = {
    "DetectLabels": ((("Labels",), None, 1000),),
    "DetectText": ((("TextDetections",), "WORD", 100), (("TextDetections",), "LINE", 100),
                   (("TextDetections",), None, 200)),
    "RecognizeCelebrities": ((("CelebrityFaces", "UnrecognizedFaces"), None, 64),),
    "DetectFaces": ((("FaceDetails",), None, 100),),
}


def check_maxima(operation: str, response: dict) -> None:
    """Refuse a response holding more items than Rekognition ever returns (``RESPONSE_MAXIMA``).

    ``operation`` is the operation name or an ``Api`` member; ``response``
    any dict (cheap: run it before ``validate_response``, which reports
    members of the wrong type; they are not counted here). Raises
    ``ResponseValidationError`` naming each member over its maximum, with
    the count found. Operations without documented maxima pass.
    """
    name = getattr(operation, "value", operation)
    problems = []
    for members, item_type, maximum in RESPONSE_MAXIMA.get(name, ()):
        lists = [response.get(member) for member in members]
        items = [item for found in lists if isinstance(found, list) for item in found
                 if item_type is None or (isinstance(item, dict) and item.get("Type") == item_type)]
        if len(items) > maximum:
            what = " and ".join(members) + (f" of Type {item_type}" if item_type else "")
            problems.append(Problem(f"$.{members[0]}", f"{len(items)} {what}: Rekognition returns at most {maximum}"))
    if problems:
        raise ResponseValidationError(name, problems)


def load_sample(path: str | Path) -> dict:
    """Read a stored Rekognition response sample (JSON) and return the response dict.

    Samples come in two forms: the bare response (awscli examples, moto's
    canned responses, async-aws test fixtures) and botocore's example form
    ``{"input": {...}, "output": {...}}``, which is unwrapped to its
    ``output``. A top-level ``ResponseMetadata`` is dropped. Raises
    ``OSError`` when the file cannot be read, ``json.JSONDecodeError`` for
    bad JSON and ``ValueError`` when the JSON is not an object.
    """
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object, got {type(data).__name__}")
    if "output" in data and isinstance(data["output"], dict) and set(data) <= {"input", "output", "comments",
                                                                              "description", "id", "title"}:
        data = data["output"]
    data.pop("ResponseMetadata", None)
    return data


# -- botocore's report -------------------------------------------------------------

def _json_path(name: str) -> str:
    """Turn a botocore member name (``.Labels[0].Name``, ``''`` for the root) into ``$.Labels[0].Name``."""
    if not name:
        return "$"
    return "$" + (name if name.startswith((".", "[")) else "." + name)


def _botocore_problems(report) -> list[Problem]:
    """Convert botocore ``ValidationErrors`` into ``Problem``s.

    botocore keeps its errors as ``(reason, name, details)`` tuples in the
    private ``_errors`` list and formats them in ``_format_error``; both are
    read here so each problem gets its own path (for a missing or unknown
    member, the path of that member). When those internals change, the
    public text report is used instead, one problem per line, at ``$``.
    """
    if not report.has_errors():
        return []
    errors = getattr(report, "_errors", None)
    if not isinstance(errors, list):
        return [Problem("$", line) for line in report.generate_report().splitlines() if line]
    problems = []
    for error in errors:
        try:
            reason, name, details = error
        except (TypeError, ValueError):
            problems.append(Problem("$", str(error)))
            continue
        path = _json_path(name)
        if reason == "missing required field":
            problems.append(Problem(f"{path}.{details['required_name']}", "missing required member"))
        elif reason == "unknown field":
            problems.append(Problem(f"{path}.{details['unknown_param']}",
                                    "unknown member, must be one of: " + ", ".join(details["valid_names"])))
        elif reason == "invalid type":
            value = details.get("param")
            problems.append(Problem(path, f"invalid type {type(value).__name__} (value {value!r}), "
                                          f"valid types: {', '.join(details.get('valid_types', []))}"))
        elif reason in ("invalid range", "invalid length"):
            what = "value" if reason == "invalid range" else "length"
            problems.append(Problem(path, f"{what} {details.get('param')!r} is below the minimum "
                                          f"{details.get('min_allowed')!r}"))
        else:
            problems.append(Problem(path, report._format_error(error)))
    return problems


# -- our own checks -----------------------------------------------------------------

def _is_number(value: Any) -> bool:
    """True for int/float values that are not bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _walk(value: Any, shape, path: str, problems: list[Problem]) -> None:
    """Check ``value`` against ``shape`` for what ParamValidator skips; recurse into containers.

    Values of the wrong container type are left alone: ParamValidator has
    reported them already.
    """
    type_name = shape.type_name
    if type_name == "structure":
        if not isinstance(value, dict):
            return
        model_required = set(shape.metadata.get("required", []))  # ParamValidator reports those
        for key in REQUIRED_MEMBERS.get(shape.name, ()):
            if key not in value and key not in model_required:
                problems.append(Problem(f"{path}.{key}", f"missing required member of {shape.name}"))
        for key, member_value in value.items():
            member_shape = shape.members.get(key)
            if member_shape is None:
                continue  # unknown member: reported by ParamValidator
            member_path = f"{path}.{key}"
            _walk(member_value, member_shape, member_path, problems)
            if (key in PERCENT_MEMBERS and "max" not in member_shape.metadata  # else the model's max applies
                    and _is_number(member_value) and math.isfinite(member_value)):
                if not 0 <= member_value <= 100:
                    problems.append(Problem(member_path, f"{member_value!r} is not a percentage in [0, 100]"))
        if shape.name == "BoundingBox":
            _check_box(value, path, problems)
        elif shape.name in POINT_SHAPES:
            _check_point(value, path, problems)
    elif type_name == "list":
        if not isinstance(value, (list, tuple)):
            return
        maximum = shape.metadata.get("max")
        if maximum is not None and len(value) > maximum:
            problems.append(Problem(path, f"{len(value)} items, more than the maximum {maximum}"))
        for index, item in enumerate(value):
            _walk(item, shape.member, f"{path}[{index}]", problems)
    elif type_name == "map":
        if not isinstance(value, dict):
            return
        for key, item in value.items():
            _walk(item, shape.value, f"{path}.{key}", problems)
    elif type_name == "string":
        if not isinstance(value, str):
            return
        enum = getattr(shape, "enum", None) or []
        if enum and value not in enum:
            problems.append(Problem(path, f"{value!r} is not one of: {', '.join(enum)}"))
        maximum = shape.metadata.get("max")
        if maximum is not None and len(value) > maximum:
            problems.append(Problem(path, f"length {len(value)} is above the maximum {maximum}"))
        pattern = _pattern(shape.metadata.get("pattern"))
        if pattern is not None and pattern.fullmatch(value) is None:
            problems.append(Problem(path, f"{value!r} does not match the pattern {pattern.pattern!r}"))
    elif type_name in _NUMERIC_TYPES:
        if isinstance(value, bool):
            problems.append(Problem(path, f"a boolean ({value!r}) where a number belongs"))
            return
        if not _is_number(value):
            return  # ParamValidator reported the type
        if isinstance(value, float) and not math.isfinite(value):
            problems.append(Problem(path, f"{value!r} is not a finite number"))
            return
        maximum = shape.metadata.get("max")
        if maximum is not None and value > maximum:
            problems.append(Problem(path, f"{value!r} is above the maximum {maximum}"))
    elif type_name == "boolean":
        return


_PATTERNS: dict[str, re.Pattern | None] = {}


def _pattern(text: str | None) -> re.Pattern | None:
    """Compile a model ``pattern`` (cached); None when absent or not valid Python regex syntax."""
    if not text:
        return None
    if text not in _PATTERNS:
        try:
            _PATTERNS[text] = re.compile(text)
        except re.error:
            _PATTERNS[text] = None
    return _PATTERNS[text]


def _ratio(box: dict, key: str) -> float | None:
    """The finite numeric value of ``box[key]``, or None (missing/wrong types are reported elsewhere)."""
    value = box.get(key)
    if _is_number(value) and math.isfinite(value):
        return float(value)
    return None


def _check_box(box: dict, path: str, problems: list[Problem]) -> None:
    """Apply the ratio rules of ``EDGE_TOLERANCE`` to a BoundingBox dict at ``path``."""
    t = EDGE_TOLERANCE
    width, height, left, top = (_ratio(box, k) for k in ("Width", "Height", "Left", "Top"))
    for key, value in (("Width", width), ("Height", height)):
        if value is not None and not 0 <= value <= 1 + t:
            problems.append(Problem(f"{path}.{key}", f"{value!r} is not a ratio of the image size "
                                                     f"(allowed [0, {1 + t:g}])"))
    for key, value in (("Left", left), ("Top", top)):
        if value is not None and not -t <= value <= 1:
            problems.append(Problem(f"{path}.{key}", f"{value!r} is not a ratio of the image size "
                                                     f"(allowed [{-t:g}, 1])"))
    if left is not None and width is not None and left + width < 0:
        problems.append(Problem(path, "the box lies entirely left of the image"))
    if top is not None and height is not None and top + height < 0:
        problems.append(Problem(path, "the box lies entirely above the image"))


def _check_point(point: dict, path: str, problems: list[Problem]) -> None:
    """Check that a point's ``X`` and ``Y`` are ratios within ``EDGE_TOLERANCE`` of the unit square."""
    t = EDGE_TOLERANCE
    for key in ("X", "Y"):
        value = _ratio(point, key)
        if value is not None and not -t <= value <= 1 + t:
            problems.append(Problem(f"{path}.{key}", f"{value!r} is not a ratio of the image size "
                                                     f"(allowed [{-t:g}, {1 + t:g}])"))


def _check_text_ids(body: dict, problems: list[Problem]) -> None:
    """DetectText: unique Ids, WORD ParentId naming a LINE, no ParentId on LINEs."""
    detections = body.get("TextDetections")
    if not isinstance(detections, list):
        return
    seen: dict[int, int] = {}
    line_ids = set()
    for index, det in enumerate(detections):
        if not isinstance(det, dict):
            continue
        det_id = det.get("Id")
        if _is_number(det_id):
            if det_id in seen:
                problems.append(Problem(f"$.TextDetections[{index}].Id",
                                        f"Id {det_id} already used by $.TextDetections[{seen[det_id]}]"))
            else:
                seen[det_id] = index
            if det.get("Type") == "LINE":
                line_ids.add(det_id)
    for index, det in enumerate(detections):
        if not isinstance(det, dict):
            continue
        kind, parent = det.get("Type"), det.get("ParentId")
        path = f"$.TextDetections[{index}].ParentId"
        if kind == "WORD":
            if parent is None:
                problems.append(Problem(path, "a WORD needs the ParentId of its LINE"))
            elif _is_number(parent) and parent not in line_ids:
                problems.append(Problem(path, f"ParentId {parent} is not the Id of a LINE"))
        elif kind == "LINE" and parent is not None:
            problems.append(Problem(path, "a LINE has no ParentId"))
