"""A test engine: the real on-device engine's video path (``LocalEngine`` -> ``video_frames.analyse_video``) over a
stubbed Open-NSFW scorer that flags the frames looking like one given photo.

``flag_like`` is the path of an ordinary photo: a sampled frame whose 32x32 grey thumbnail differs from that
photo's by less than ``MAX_DIFF`` (mean absolute difference, 0-255) scores ``score``, every other frame
``default``. So one scene of a video made with PyAV is "unsafe" with no unsafe picture anywhere. Runs in threads
of the test process. Name it ``"video_moderation_stub:StubVideoModerationEngine"``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from mediaapp.analysis.engine_base import EngineDescriptor
from mediaapp.analysis.local.engine import LocalEngine
from mediaapp.analysis.local.moderation import NsfwClassifier
from mediaapp.core.types import Api

#: The engine's name in a library's settings.
VIDEO_STUB = "video_moderation_stub:StubVideoModerationEngine"
#: The largest mean absolute grey difference (0-255) of a frame still taken for ``flag_like``: a re-encoded frame
#: of the same photo differs by a few levels, another photo by tens.
MAX_DIFF = 12.0


def _thumb(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("L").resize((32, 32)), dtype=np.float32)


class StubVideoModerationEngine(LocalEngine):
    """DetectModerationLabels and GetContentModeration on-device with a stub scorer (see the module docstring)."""

    descriptor = EngineDescriptor(name="stubvideomod", title="Stubbed video moderation (tests)",
                                  apis=(Api.DETECT_MODERATION_LABELS, Api.GET_CONTENT_MODERATION),
                                  default_apis=(Api.DETECT_MODERATION_LABELS,))
    executor = "thread"
    max_concurrency = 1

    def __init__(self, flag_like: str | None = None, score: float = 0.95, default: float = 0.02):
        super().__init__(faces_enabled=False)
        self.reference = _thumb(Image.open(flag_like)) if flag_like else None
        self.flag_score, self.default = float(score), float(default)
        self.scored: list[float] = []  # every score given, in order (one per sampled frame)

    @classmethod
    def configure(cls, context) -> dict:
        """Its settings section only (``EngineBase.configure``), not the on-device engine's faces and people."""
        return dict(context.section)

    def _score(self, img: Image.Image) -> float:
        like = self.reference is not None and float(np.abs(_thumb(img) - self.reference).mean()) < MAX_DIFF
        self.scored.append(self.flag_score if like else self.default)
        return self.scored[-1]

    @property  # type: ignore[override]
    def moderation(self) -> NsfwClassifier:
        """The Open-NSFW mapping over the stub scorer."""
        return NsfwClassifier(scorer=self._score)
