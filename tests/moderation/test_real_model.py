"""The real on-device model (Open-NSFW) on ordinary photos: no false positive at the default threshold.

Only false positives are tested: there are no unsafe pictures in the repository or the shared data.
``benchmarks/moderation_eval.py`` measures the rate over 1_objects, 3_faces and 6_imagenet.
"""

from __future__ import annotations

import pytest

from mediaapp.analysis.engine_base import AnalysisParams, ImageRef
from mediaapp.analysis.local.engine import LocalEngine
from mediaapp.analysis.validate import validate_response
from mediaapp.core.types import MODERATION_THRESHOLD, Api

PORTRAITS = ("obama.jpg", "biden.jpg", "two_people.jpg", "kit_with_rose.jpg", "rose_leslie_img1.jpg",
             "lin-manuel-miranda.png")


@pytest.mark.parametrize("name", PORTRAITS)
def test_ordinary_portraits_are_not_flagged(testdata, name):
    path = testdata / "3_faces" / "face_recognition" / name
    engine = LocalEngine(faces_enabled=False)
    response = engine.analyse(Api.DETECT_MODERATION_LABELS, ImageRef("0" * 64, str(path)), AnalysisParams())
    validate_response("DetectModerationLabels", response)
    assert [label for label in response["ModerationLabels"] if label["Confidence"] >= MODERATION_THRESHOLD] == []
    assert engine.version(Api.DETECT_MODERATION_LABELS).startswith("open-nsfw/1.")


def test_scores_are_probabilities_and_vary_by_picture(testdata):
    from mediaapp.analysis.local.moderation import NsfwClassifier
    from mediaapp.ingest.media import open_for_analysis

    model = NsfwClassifier()
    scores = [model.score(open_for_analysis(str(testdata / "3_faces" / "face_recognition" / n))) for n in PORTRAITS]
    assert all(0.0 <= s < MODERATION_THRESHOLD / 100 for s in scores)
    assert len({round(s, 6) for s in scores}) > 1  # a real model, not a constant
