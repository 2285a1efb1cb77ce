"""Issue 10: the concept-label floor is its own setting (``label_floor``), outside the analysis cache key.

Checked on a real photo: the engine built with a higher floor stores fewer
low labels, while the request parameters (the cache key) stay the same.
"""

from __future__ import annotations

import pytest

from mediaapp.analysis.engine_base import EngineContext
from mediaapp.analysis.local.classifier import CONFIDENCE_FLOOR, concept_floor
from mediaapp.analysis.local.engine import LocalEngine
from mediaapp.analysis.validate import validate_response
from mediaapp.core.analysis import AnalysisParams, ImageRef
from mediaapp.core.apis import Api
from mediaapp.settings import Settings, SettingsError


def test_setting_defaults_to_the_classifier_floor_and_is_checked():
    assert Settings().label_floor == CONFIDENCE_FLOOR == 20.0
    assert Settings.from_mapping({"label_floor": 35}).label_floor == 35.0
    assert Settings().replace(label_floor=5).to_dict()["label_floor"] == 5.0
    with pytest.raises(SettingsError, match="label_floor"):
        Settings.from_mapping({"label_floor": 120})
    with pytest.raises(SettingsError, match="label_floor"):
        Settings.from_mapping({"label_floor": "low"})


def test_floor_is_the_lower_of_setting_and_min_confidence():
    assert concept_floor(50.0) == 20.0
    assert concept_floor(50.0, 35.0) == 35.0
    assert concept_floor(10.0, 35.0) == 10.0  # a run asking for less gets less
    assert concept_floor(50.0, None) == CONFIDENCE_FLOOR


def test_floor_reaches_the_engine_but_not_the_cache_key(tmp_path):
    configs = [LocalEngine.configure(EngineContext(settings=Settings(faces_enabled=False, label_floor=floor),
                                                   root=tmp_path))
               for floor in (20.0, 45.0)]
    assert [c["label_floor"] for c in configs] == [20.0, 45.0]
    params = AnalysisParams(None, 50.0)
    keys = [LocalEngine.request_params(params, c).key(Api.DETECT_LABELS) for c in configs]
    assert keys[0] == keys[1]  # changing the floor re-analyses nothing
    assert LocalEngine(**configs[1]).label_floor == 45.0


def test_engine_stores_concepts_down_to_the_setting(classifier, imagenet):
    """Joystick photo: with floor 20 some concept labels fall in [20, 45) (Control, Peripheral); with 45 none does."""
    path, _, _ = imagenet["n03602883"]
    low = {}
    for floor in (20.0, 45.0):
        engine = LocalEngine(faces_enabled=False, label_floor=floor)
        engine.__dict__["concepts"] = classifier  # the converted model of the test's own model folder
        response = engine.analyse(Api.DETECT_LABELS, ImageRef("0" * 64, str(path)), AnalysisParams(None, 50.0))
        validate_response("DetectLabels", response)
        confidences = [lab["Confidence"] for lab in response["Labels"] if not lab["Instances"]]
        assert all(c >= floor for c in confidences)
        low[floor] = [c for c in confidences if c < 45.0]
    assert low[20.0] and not low[45.0]
