"""The analysis-engine interface every engine (local, rekognition) implements.

Every method returns a dict shaped exactly like the corresponding Amazon
Rekognition response (``DetectLabels``, ``DetectText``,
``RecognizeCelebrities``): confidences 0-100, BoundingBox values as ratios of
the orientation-corrected image. ``mediaapp.analysis.validate`` checks them
against botocore's service model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from mediaapp.core.types import Api


class AnalysisError(Exception):
    """An engine could not analyse one image; the message is shown to the user.

    ``code`` is a short machine-readable reason (for Rekognition, the service
    error code such as ``InvalidImageFormatException``).
    """

    def __init__(self, message: str, code: str = "AnalysisError"):
        super().__init__(message)
        self.code = code


class EngineUnavailableError(AnalysisError):
    """The engine (or one of its models) cannot run here: missing weights, no credentials."""


#: The ``code`` of ``AnalysisCancelled``: the user stopped the run; not a fault of the image (no error row).
CANCELLED = "Cancelled"


class AnalysisCancelled(AnalysisError):
    """The run was cancelled while this image was being prepared (e.g. its upload was aborted).

    Nothing was bought; the image is analysed by the next import. Callers
    should not record it as a failure (``code`` is ``CANCELLED``).
    """

    def __init__(self, message: str = "cancelled"):
        super().__init__(message, CANCELLED)


@dataclass(frozen=True)
class ImageRef:
    """The image to analyse.

    ``sha256`` identifies the bytes; ``path`` is a local file holding them.
    ``s3_object`` is Rekognition's ``{"Bucket": ..., "Name": ...}`` when the
    bytes are also in S3. Engines read what they support; local engines use
    ``mediaapp.ingest.decode.open_rgb(ref.path)``.
    """

    sha256: str
    path: str | None = None
    s3_object: dict | None = None


@dataclass(frozen=True)
class AnalysisParams:
    """Request parameters that change an answer, and so are part of the cache key.

    ``max_labels``: DetectLabels MaxLabels (None = engine default);
    ``min_confidence``: DetectLabels MinConfidence, 0-100.
    """

    max_labels: int | None = None
    min_confidence: float = 50.0
    extra: dict = field(default_factory=dict)

    def key(self, api: Api) -> str:
        """A stable text key of the parameters that apply to ``api``."""
        if api is Api.DETECT_LABELS:
            parts = [f"MaxLabels={self.max_labels}", f"MinConfidence={self.min_confidence:g}"]
            parts += [f"{k}={self.extra[k]}" for k in sorted(self.extra)]
            return ";".join(parts)
        return ""


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

    def analyse(self, api: Api, image: ImageRef, params: AnalysisParams) -> dict:
        """Run ``api`` on ``image`` and return the Rekognition-shaped response dict."""

    def detect_labels(self, image: ImageRef, params: AnalysisParams | None = None) -> dict:
        """A DetectLabels response (Labels with Confidence 0-100, Instances, Parents, Categories)."""

    def detect_text(self, image: ImageRef) -> dict:
        """A DetectText response (TextDetections: LINEs and WORDs with Geometry in ratios)."""

    def recognize_celebrities(self, image: ImageRef) -> dict:
        """A RecognizeCelebrities response (CelebrityFaces and UnrecognizedFaces)."""


class EngineBase:
    """The Rekognition-named methods of ``AnalysisEngine``, derived from ``analyse``.

    Subclasses implement ``analyse(api, image, params)`` and ``version(api)``.
    ``params`` None means ``AnalysisParams()`` (engine defaults, MinConfidence
    50). Each method raises what ``analyse`` raises.
    """

    def detect_labels(self, image: ImageRef, params: AnalysisParams | None = None) -> dict:
        """Run DetectLabels on ``image``; returns its response dict."""
        return self.analyse(Api.DETECT_LABELS, image, params or AnalysisParams())

    def detect_text(self, image: ImageRef) -> dict:
        """Run DetectText on ``image``; returns its response dict."""
        return self.analyse(Api.DETECT_TEXT, image, AnalysisParams())

    def recognize_celebrities(self, image: ImageRef) -> dict:
        """Run RecognizeCelebrities on ``image``; returns its response dict."""
        return self.analyse(Api.RECOGNIZE_CELEBRITIES, image, AnalysisParams())

    def analyse(self, api: Api, image: ImageRef, params: AnalysisParams) -> dict:  # pragma: no cover - abstract
        """Run ``api`` on ``image``; subclasses implement it."""
        raise NotImplementedError
