"""The calibration curve (resources/concepts/calibration.json) and the stored confidence floor."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mediaapp.analysis.local.classifier import CONFIDENCE_FLOOR, ConceptData, concept_floor
from mediaapp.models.manifest import resources_dir


@pytest.fixture(scope="module")
def data() -> ConceptData:
    root = resources_dir() / "concepts"
    return ConceptData(root / "imagenet1k.json", root / "calibration.json")


def test_curve_is_monotone_and_spans_0_to_100(data):
    assert data.curve is not None
    grid = np.linspace(0, 1, 2001)
    conf = data.calibrate(grid)
    assert (np.diff(conf) >= 0).all()
    assert conf.min() >= 0 and conf.max() <= 100
    assert conf[-1] > 80 and conf[0] < 20


def test_calibration_lists_its_files_and_holds_no_photos(data, testdata):
    doc = json.loads((resources_dir() / "concepts" / "calibration.json").read_text())
    assert doc["fitted_on"] and all((testdata / f).is_file() for f in doc["fitted_on"])
    assert {p.suffix for p in (resources_dir() / "concepts").iterdir()} == {".json"}
    # Fitted on one half only: the held-out ImageNet photos are not in the list.
    imagenet = [f for f in doc["fitted_on"] if f.startswith("6_imagenet/")]
    assert 0 < len(imagenet) < len(list((testdata / "6_imagenet").glob("*.JPEG")))


def test_a_malformed_curve_is_refused(tmp_path):
    bad = tmp_path / "cal.json"
    bad.write_text(json.dumps({"x": [0, 0.5, 1], "y": [0, 0.9, 0.4]}))
    with pytest.raises(ValueError, match="non-decreasing"):
        ConceptData(resources_dir() / "concepts" / "imagenet1k.json", bad)


def test_floor_is_20_unless_the_user_asked_lower():
    assert CONFIDENCE_FLOOR == 20
    assert concept_floor(50) == 20
    assert concept_floor(10) == 10


def test_labels_below_the_floor_are_not_returned(classifier, imagenet):
    from mediaapp.ingest.decode import open_rgb

    path, _, _ = imagenet["n02085936"]  # Maltese dog
    prediction = classifier.predict(open_rgb(path))
    everything = classifier.labels_for(prediction, floor=0.0)
    stored = classifier.labels_for(prediction, floor=CONFIDENCE_FLOOR)
    assert stored and all(lab["Confidence"] >= CONFIDENCE_FLOOR for lab in stored)
    assert len(everything) > len(stored)
    assert {lab["Name"] for lab in stored} == {lab["Name"] for lab in everything
                                               if lab["Confidence"] >= CONFIDENCE_FLOOR}
    dog = next(lab for lab in stored if lab["Name"] == "Dog")
    maltese = next(lab for lab in stored if lab["Name"] == "Maltese Dog")
    assert dog["Confidence"] >= maltese["Confidence"] >= 50
