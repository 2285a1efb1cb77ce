"""The values every analysis engine and its callers share: the image, the request, the errors.

Pure data with no I/O, so the layers below the engines (the cloud price
ledger and budget, the catalog) can use them too. The engine interface
itself is ``mediaapp.analysis.engine_base``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mediaapp.core.types import CLOUD_ENGINE, LOCAL_ENGINE, Api, Json

__all__ = [
    "CANCELLED",
    "CLOUD_ENGINE",
    "LOCAL_ENGINE",
    "AnalysisCancelled",
    "AnalysisError",
    "AnalysisParams",
    "EngineUnavailableError",
    "ImageRef",
]


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
    s3_object: dict[str, str] | None = None


#: ``AnalysisParams.extra`` key of the Rekognition face collection a cloud RecognizeCelebrities also names faces
#: from (``mediaapp.services.face_collection``); part of that API's cache key only.
FACE_COLLECTION = "FaceCollection"


@dataclass(frozen=True)
class AnalysisParams:
    """Request parameters that change an answer, and so are part of the cache key.

    ``max_labels``: DetectLabels MaxLabels (None = engine default);
    ``min_confidence``: DetectLabels MinConfidence, 0-100. ``extra``: request
    options (DetectLabels ``Features``); its ``FaceCollection`` (the
    Rekognition collection faces are named from) keys RecognizeCelebrities
    only.
    """

    max_labels: int | None = None
    min_confidence: float = 50.0
    extra: Json = field(default_factory=dict)

    def key(self, api: Api) -> str:
        """A stable text key of the parameters that apply to ``api``."""
        if api in (Api.DETECT_LABELS, Api.GET_LABEL_DETECTION):  # a video's labels: the same request options
            parts = [f"MaxLabels={self.max_labels}", f"MinConfidence={self.min_confidence:g}"]
            parts += [f"{k}={self.extra[k]}" for k in sorted(self.extra) if k != FACE_COLLECTION]
            return ";".join(parts)
        if api is Api.RECOGNIZE_CELEBRITIES and self.extra.get(FACE_COLLECTION):
            return f"{FACE_COLLECTION}={self.extra[FACE_COLLECTION]}"
        return ""
