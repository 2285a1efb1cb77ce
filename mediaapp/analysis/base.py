"""The analysis-engine interface every engine (local, rekognition) implements.

Every method returns a dict shaped exactly like the corresponding Amazon
Rekognition response (``DetectLabels``, ``DetectText``,
``RecognizeCelebrities``): confidences 0-100, BoundingBox values as ratios of
the orientation-corrected image. ``mediaapp.analysis.validate`` checks them
against botocore's service model.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from mediaapp.core.analysis import (
    CANCELLED,
    AnalysisCancelled,
    AnalysisError,
    AnalysisParams,
    EngineUnavailableError,
    ImageRef,
)
from mediaapp.core.types import Api, Json

__all__ = [
    "CANCELLED",
    "AnalysisCancelled",
    "AnalysisEngine",
    "AnalysisError",
    "AnalysisParams",
    "EngineBase",
    "EngineUnavailableError",
    "ImageRef",
]


@runtime_checkable
class AnalysisEngine(Protocol):
    """One engine that answers the three Rekognition image APIs.

    ``name`` is the engine id stored in the catalog (``local``,
    ``rekognition``). ``version(api)`` is the model version that answered,
    stored with every cached response so newer models never silently replace
    older results. Methods raise ``AnalysisError`` for a bad image and
    ``EngineUnavailableError`` when the engine cannot run at all.
    ``detect_labels`` / ``detect_text`` / ``recognize_celebrities`` are the
    per-API entry points (``EngineBase`` derives them from ``analyse``).
    """

    name: str

    def version(self, api: Api) -> str:
        """The model version string for ``api``."""

    def analyse(self, api: Api, image: ImageRef, params: AnalysisParams) -> Json:
        """Run ``api`` on ``image`` and return the Rekognition-shaped response dict."""

    def detect_labels(self, image: ImageRef, params: AnalysisParams | None = None) -> Json:
        """A DetectLabels response (Labels with Confidence 0-100, Instances, Parents, Categories)."""

    def detect_text(self, image: ImageRef) -> Json:
        """A DetectText response (TextDetections: LINEs and WORDs with Geometry in ratios)."""

    def recognize_celebrities(self, image: ImageRef) -> Json:
        """A RecognizeCelebrities response (CelebrityFaces and UnrecognizedFaces)."""


class EngineBase:
    """The Rekognition-named methods of ``AnalysisEngine``, derived from ``analyse``.

    Subclasses implement ``analyse(api, image, params)`` and ``version(api)``.
    ``params`` None means ``AnalysisParams()`` (engine defaults, MinConfidence
    50). Each method raises what ``analyse`` raises.
    """

    def detect_labels(self, image: ImageRef, params: AnalysisParams | None = None) -> Json:
        """Run DetectLabels on ``image``; returns its response dict."""
        return self.analyse(Api.DETECT_LABELS, image, params or AnalysisParams())

    def detect_text(self, image: ImageRef) -> Json:
        """Run DetectText on ``image``; returns its response dict."""
        return self.analyse(Api.DETECT_TEXT, image, AnalysisParams())

    def recognize_celebrities(self, image: ImageRef) -> Json:
        """Run RecognizeCelebrities on ``image``; returns its response dict."""
        return self.analyse(Api.RECOGNIZE_CELEBRITIES, image, AnalysisParams())

    def analyse(self, api: Api, image: ImageRef, params: AnalysisParams) -> Json:  # pragma: no cover - abstract
        """Run ``api`` on ``image``; subclasses implement it."""
        raise NotImplementedError
