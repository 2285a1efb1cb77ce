"""A test engine answering DetectModerationLabels with the on-device mapping over a stubbed classifier.

``scores`` maps a file name to the Open-NSFW score (0-1) the stub gives it (``default`` otherwise), so
the plumbing of positives is tested with no unsafe picture anywhere; ``unchecked`` names files it fails
on (never checked). Runs in threads of the test process. Name it ``"moderation_stub:StubModerationEngine"``.
"""

from __future__ import annotations

from pathlib import Path

from mediaapp.analysis.engine_base import AnalysisError, AnalysisParams, EngineBase, EngineDescriptor, ImageRef
from mediaapp.analysis.local.moderation import NsfwClassifier
from mediaapp.core.types import Api
from mediaapp.ingest.media import open_for_analysis

#: The engine's name in a library's settings.
STUB = "moderation_stub:StubModerationEngine"


class StubModerationEngine(EngineBase):
    """DetectModerationLabels through ``NsfwClassifier`` with a stub scorer (see the module docstring)."""

    descriptor = EngineDescriptor(name="stubmod", title="Stubbed moderation (tests)",
                                  apis=(Api.DETECT_MODERATION_LABELS,), default_apis=(Api.DETECT_MODERATION_LABELS,))
    executor = "thread"
    max_concurrency = 1

    def __init__(self, scores: dict | None = None, default: float = 0.02, unchecked: list | None = None):
        self.scores = dict(scores or {})
        self.default = float(default)
        self.unchecked = set(unchecked or [])

    def version(self, api: Api) -> str:
        return "stub-1"

    def analyse(self, api: Api, image: ImageRef, params: AnalysisParams) -> dict:
        name = Path(image.path or "").name
        if name in self.unchecked:
            raise AnalysisError("stub: not checked", "StubUnavailable")
        score = self.scores.get(name, self.default)
        return NsfwClassifier(scorer=lambda _img: score).detect_moderation_labels(open_for_analysis(image.path))
