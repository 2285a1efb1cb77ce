"""validate_response against the real Rekognition samples in testdata/4_rekognition.

Every stored sample response validates, except moto's canned DetectLabels,
which really disagrees with botocore's model (three defects in moto's canned
data, asserted one by one below). Mutations of real samples are rejected
with the JSON path of each problem.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from mediaapp.analysis.validate import (
    EDGE_TOLERANCE,
    ResponseValidationError,
    load_sample,
    validate_response,
)
from mediaapp.core.types import Api

REKOGNITION = "4_rekognition"

#: The samples of the three APIs the app uses (operation, path under 4_rekognition).
APP_SAMPLES = [
    ("DetectLabels", "awscli/detect-labels.json"),
    ("DetectText", "awscli/detect-text.json"),
    ("RecognizeCelebrities", "awscli/recognize-celebrities.json"),
    ("DetectLabels", "botocore_examples/DetectLabels.json"),
    ("RecognizeCelebrities", "asyncaws_tests/RecognizeCelebrities.json"),
    ("DetectText", "moto_canned/DetectText.json"),
]

#: Every other stored sample, by operation (the validator is generic).
OTHER_SAMPLES = [
    ("CompareFaces", "awscli/compare-faces.json"),
    ("DetectFaces", "awscli/detect-faces.json"),
    ("DetectModerationLabels", "awscli/detect-moderation-labels.json"),
    ("GetCelebrityInfo", "awscli/get-celebrity-info.json"),
    ("GetCelebrityRecognition", "awscli/get-celebrity-recognition.json"),
    ("GetContentModeration", "awscli/get-content-moderation.json"),
    ("GetFaceDetection", "awscli/get-face-detection.json"),
    ("GetFaceSearch", "awscli/get-face-search.json"),
    ("GetLabelDetection", "awscli/get-label-detection.json"),
    ("GetPersonTracking", "awscli/get-person-tracking.json"),
    ("IndexFaces", "awscli/index-faces.json"),
    ("ListFaces", "awscli/list-faces.json"),
    ("SearchFaces", "awscli/search-faces.json"),
    ("CompareFaces", "botocore_examples/CompareFaces.json"),
    ("DetectFaces", "botocore_examples/DetectFaces.json"),
    ("IndexFaces", "botocore_examples/IndexFaces.json"),
    ("ListFaces", "botocore_examples/ListFaces.json"),
    ("SearchFaces", "botocore_examples/SearchFaces.json"),
    ("SearchFacesByImage", "botocore_examples/SearchFacesByImage.json"),
    ("DetectModerationLabels", "asyncaws_tests/DetectModerationLabels.json"),
    ("GetCelebrityInfo", "asyncaws_tests/GetCelebrityInfo.json"),
]


def sample(testdata: Path, rel: str) -> dict:
    """Load one stored sample response."""
    return load_sample(testdata / REKOGNITION / rel)


def problems_of(operation: str, response: dict) -> dict[str, str]:
    """Validate and return the problems as {path: message}; fails when the response validates."""
    with pytest.raises(ResponseValidationError) as info:
        validate_response(operation, response)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.operation == operation
    for problem in err.problems:  # every problem is named in the message
        assert problem.path in str(err)
    return {p.path: p.message for p in err.problems}


@pytest.mark.parametrize("operation, rel", APP_SAMPLES + OTHER_SAMPLES)
def test_real_samples_validate(testdata, operation, rel):
    response = sample(testdata, rel)
    assert response  # not an empty dict
    validate_response(operation, response)


def test_api_enum_is_accepted(testdata):
    validate_response(Api.DETECT_TEXT, sample(testdata, "awscli/detect-text.json"))


def test_response_metadata_is_ignored(testdata):
    response = sample(testdata, "awscli/detect-text.json")
    response["ResponseMetadata"] = {"RequestId": "x", "HTTPStatusCode": 200, "RetryAttempts": 0}
    validate_response("DetectText", response)


def test_moto_canned_detect_labels_disagrees_with_botocore(testdata):
    """moto's canned DetectLabels (moto/rekognition/models.py) is not what the service returns.

    botocore's model (and the Rekognition API reference) name the colour
    members ``CSSColor`` and ``PixelPercent``; moto writes ``CssColor`` and
    ``PixelPercentage`` in the instance colours, and nests a second
    ``ImageProperties`` object inside ``ImageProperties``. The validator
    rightly rejects all three; once they are repaired the rest validates.
    """
    response = sample(testdata, "moto_canned/DetectLabels.json")
    found = problems_of("DetectLabels", response)
    colour = "$.Labels[0].Instances[0].DominantColors[0]"
    assert set(found) == {f"{colour}.CssColor", f"{colour}.PixelPercentage", "$.ImageProperties.ImageProperties"}
    assert "CSSColor" in found[f"{colour}.CssColor"]
    assert "PixelPercent" in found[f"{colour}.PixelPercentage"]

    repaired = copy.deepcopy(response)
    repaired["ImageProperties"] = repaired["ImageProperties"]["ImageProperties"]

    def fix_colours(colours):
        for c in colours:
            if "CssColor" in c:
                c["CSSColor"] = c.pop("CssColor")
            if "PixelPercentage" in c:
                c["PixelPercent"] = c.pop("PixelPercentage")

    for label in repaired["Labels"]:
        for instance in label["Instances"]:
            fix_colours(instance["DominantColors"])
    props = repaired["ImageProperties"]
    fix_colours(props["DominantColors"])
    fix_colours(props["Foreground"]["DominantColors"])
    fix_colours(props["Background"]["DominantColors"])
    validate_response("DetectLabels", repaired)


def test_load_sample_unwraps_botocore_examples(testdata, tmp_path):
    """botocore's examples-1.json holds {"input", "output"} pairs; load_sample returns the output."""
    examples = json.loads((testdata / REKOGNITION / "botocore_examples/examples-1.json").read_text())
    entry = examples["examples"]["DetectLabels"][0]
    assert set(entry) >= {"input", "output"}
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps(entry))
    loaded = load_sample(path)
    assert loaded == sample(testdata, "botocore_examples/DetectLabels.json")
    validate_response("DetectLabels", loaded)


def test_load_sample_rejects_non_objects(tmp_path):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    with pytest.raises(ValueError):
        load_sample(path)


def test_unknown_operation():
    with pytest.raises(ValueError, match="unknown Rekognition operation"):
        validate_response("DetectUnicorns", {})


def test_not_a_dict():
    with pytest.raises(ResponseValidationError):
        validate_response("DetectText", [])


# -- mutations of real samples -----------------------------------------------------------

def test_confidence_above_100(testdata):
    response = sample(testdata, "awscli/detect-text.json")
    response["TextDetections"][2]["Confidence"] = 130.0
    found = problems_of("DetectText", response)
    assert list(found) == ["$.TextDetections[2].Confidence"]
    assert "130" in found["$.TextDetections[2].Confidence"]


def test_negative_match_confidence(testdata):
    response = sample(testdata, "awscli/recognize-celebrities.json")
    response["CelebrityFaces"][1]["MatchConfidence"] = -1.0
    assert "$.CelebrityFaces[1].MatchConfidence" in problems_of("RecognizeCelebrities", response)


def test_searched_face_confidence_is_a_percentage(testdata):
    """SearchedFaceConfidence is a plain Float in the model; our domain rule bounds it."""
    response = sample(testdata, "botocore_examples/SearchFacesByImage.json")
    response["SearchedFaceConfidence"] = 250.0
    assert list(problems_of("SearchFacesByImage", response)) == ["$.SearchedFaceConfidence"]


def test_text_type_paragraph(testdata):
    response = sample(testdata, "awscli/detect-text.json")
    response["TextDetections"][0]["Type"] = "PARAGRAPH"
    found = problems_of("DetectText", response)
    assert "$.TextDetections[0].Type" in found
    assert "LINE" in found["$.TextDetections[0].Type"] and "WORD" in found["$.TextDetections[0].Type"]


@pytest.mark.parametrize("field, bad, path", [
    ("Landmarks", "nostril", "$.UnrecognizedFaces[0].Landmarks[0].Type"),
    ("KnownGender", "Robot", "$.CelebrityFaces[0].KnownGender.Type"),
    ("Emotions", "BORED", "$.CelebrityFaces[0].Face.Emotions[0].Type"),
    ("OrientationCorrection", "ROTATE_45", "$.OrientationCorrection"),
])
def test_enum_values(testdata, field, bad, path):
    response = sample(testdata, "asyncaws_tests/RecognizeCelebrities.json")
    if field == "Landmarks":
        response["UnrecognizedFaces"][0]["Landmarks"][0]["Type"] = bad
    elif field == "KnownGender":
        response["CelebrityFaces"][0]["KnownGender"] = {"Type": bad}
    elif field == "Emotions":
        response["CelebrityFaces"][0]["Face"]["Emotions"] = [{"Type": bad, "Confidence": 90.0}]
    else:
        response["OrientationCorrection"] = bad
    assert list(problems_of("RecognizeCelebrities", response)) == [path]


def test_enum_value_is_checked_once_valid(testdata):
    """The same mutation with a valid enum value passes (the enum test can fail)."""
    response = sample(testdata, "asyncaws_tests/RecognizeCelebrities.json")
    response["CelebrityFaces"][0]["KnownGender"] = {"Type": "Female"}
    response["CelebrityFaces"][0]["Face"]["Emotions"] = [{"Type": "CALM", "Confidence": 90.0}]
    validate_response("RecognizeCelebrities", response)


@pytest.mark.parametrize("member", ["DetectedText", "Type", "Id", "Confidence", "Geometry"])
def test_missing_required_text_member(testdata, member):
    response = sample(testdata, "moto_canned/DetectText.json")
    del response["TextDetections"][1][member]
    assert f"$.TextDetections[1].{member}" in problems_of("DetectText", response)


def test_missing_required_label_name(testdata):
    response = sample(testdata, "awscli/detect-labels.json")
    del response["Labels"][3]["Name"]
    assert list(problems_of("DetectLabels", response)) == ["$.Labels[3].Name"]


def test_missing_bounding_box_member(testdata):
    response = sample(testdata, "awscli/detect-labels.json")
    del response["Labels"][3]["Instances"][1]["BoundingBox"]["Height"]
    assert list(problems_of("DetectLabels", response)) == ["$.Labels[3].Instances[1].BoundingBox.Height"]


def test_missing_top_level_list():
    assert list(problems_of("DetectText", {"TextModelVersion": "3.0"})) == ["$.TextDetections"]


def test_string_where_float_belongs(testdata):
    response = sample(testdata, "awscli/detect-labels.json")
    response["Labels"][0]["Confidence"] = "99.1"
    found = problems_of("DetectLabels", response)
    assert list(found) == ["$.Labels[0].Confidence"]
    assert "str" in found["$.Labels[0].Confidence"]


def test_bool_where_number_belongs(testdata):
    """ParamValidator accepts True for a float (bool is an int); we do not."""
    response = sample(testdata, "awscli/detect-text.json")
    response["TextDetections"][0]["Geometry"]["BoundingBox"]["Left"] = True
    assert "$.TextDetections[0].Geometry.BoundingBox.Left" in problems_of("DetectText", response)


def test_nan_confidence(testdata):
    response = sample(testdata, "awscli/detect-text.json")
    response["TextDetections"][0]["Confidence"] = float("nan")
    assert list(problems_of("DetectText", response)) == ["$.TextDetections[0].Confidence"]


def test_unknown_member(testdata):
    response = sample(testdata, "awscli/detect-text.json")
    response["TextDetections"][0]["Text"] = "ESTD 1882"
    assert list(problems_of("DetectText", response)) == ["$.TextDetections[0].Text"]


def test_pose_degrees_max_from_model(testdata):
    response = sample(testdata, "awscli/recognize-celebrities.json")
    response["UnrecognizedFaces"][0]["Pose"]["Yaw"] = 200.0
    assert list(problems_of("RecognizeCelebrities", response)) == ["$.UnrecognizedFaces[0].Pose.Yaw"]


def test_celebrity_id_pattern_from_model(testdata):
    response = sample(testdata, "asyncaws_tests/RecognizeCelebrities.json")
    response["CelebrityFaces"][0]["Id"] = "not-an-id!"
    assert list(problems_of("RecognizeCelebrities", response)) == ["$.CelebrityFaces[0].Id"]


def test_pixel_box_is_rejected(testdata):
    """Pixels or percentages instead of ratios are caught."""
    response = sample(testdata, "awscli/detect-labels.json")
    box = response["Labels"][3]["Instances"][0]["BoundingBox"]
    box.update({"Left": 12.0, "Width": 35.0})
    found = problems_of("DetectLabels", response)
    base = "$.Labels[3].Instances[0].BoundingBox"
    assert set(found) == {f"{base}.Left", f"{base}.Width"}


def test_edge_tolerance(testdata):
    """Boxes a little past the edge (as Rekognition returns them) pass; beyond the tolerance they do not."""
    response = sample(testdata, "awscli/detect-labels.json")
    box = response["Labels"][3]["Instances"][0]["BoundingBox"]
    box.update({"Left": -0.05, "Top": 0.9, "Width": 0.2, "Height": 0.15})
    validate_response("DetectLabels", response)
    box.update({"Left": -EDGE_TOLERANCE - 0.01, "Width": 0.9})
    assert list(problems_of("DetectLabels", response)) == ["$.Labels[3].Instances[0].BoundingBox.Left"]


def test_box_outside_the_image(testdata):
    response = sample(testdata, "awscli/detect-labels.json")
    response["Labels"][3]["Instances"][0]["BoundingBox"].update({"Left": -0.4, "Width": 0.1})
    assert list(problems_of("DetectLabels", response)) == ["$.Labels[3].Instances[0].BoundingBox"]


def test_polygon_point_not_a_ratio(testdata):
    response = sample(testdata, "awscli/detect-text.json")
    response["TextDetections"][4]["Geometry"]["Polygon"][2]["Y"] = 250.0
    assert list(problems_of("DetectText", response)) == ["$.TextDetections[4].Geometry.Polygon[2].Y"]


def test_word_parent_must_be_a_line(testdata):
    response = sample(testdata, "awscli/detect-text.json")
    words = [d for d in response["TextDetections"] if d["Type"] == "WORD"]
    words[0]["ParentId"] = 3  # a WORD's Id, not a LINE's
    index = response["TextDetections"].index(words[0])
    assert list(problems_of("DetectText", response)) == [f"$.TextDetections[{index}].ParentId"]


def test_word_without_parent_and_duplicate_id(testdata):
    response = sample(testdata, "moto_canned/DetectText.json")
    detections = response["TextDetections"]
    last = len(detections) - 1
    del detections[last]["ParentId"]
    detections[last]["Id"] = 0
    found = problems_of("DetectText", response)
    assert set(found) == {f"$.TextDetections[{last}].ParentId", f"$.TextDetections[{last}].Id"}


def test_every_problem_is_listed(testdata):
    """Problems are collected, not stopped at the first."""
    response = sample(testdata, "awscli/detect-text.json")
    response["TextDetections"][0]["Confidence"] = 130.0
    response["TextDetections"][1]["Type"] = "PARAGRAPH"
    del response["TextDetections"][2]["Geometry"]
    response["TextDetections"][3]["Id"] = "3"
    found = problems_of("DetectText", response)
    assert {"$.TextDetections[0].Confidence", "$.TextDetections[1].Type",
            "$.TextDetections[2].Geometry", "$.TextDetections[3].Id"} <= set(found)
