"""What the local engine's face-attribute models share: the cached ONNX model and its lazily loaded session.

``CachedFaceModel`` is the base of ``face_age.AgeGenderEstimator`` and
``face_emotion.EmotionClassifier``: it resolves the model's pinned spec
(``resources/models/faces.json``) and cache folder, says whether the converted
model is cached, and loads one CPU ONNX Runtime session (one intra-op thread:
one small face at a time, and the worker processes share the cores) on first
use. Models are never fetched here: see ``mediaapp.models.faces.ensure_face_model``,
called by ``LocalEngine.prepare``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from mediaapp.analysis.engine_base import EngineUnavailableError
from mediaapp.analysis.local.sessions import cpu_session

__all__ = ["CachedFaceModel"]


class CachedFaceModel:
    """A face model named ``name`` in ``faces.json``, read from ``model_dir`` (default
    ``mediaapp.models.default_model_dir()``). ``label`` names it in the ``EngineUnavailableError``
    raised when it is not cached. Thread-safe; one ONNX session per instance."""

    def __init__(self, name: str, label: str, model_dir: Path | None = None):
        from mediaapp.models.faces import face_model

        self.spec = face_model(name)
        self.model_dir = Path(model_dir) if model_dir else None
        self._label = label
        self._session: Any = None
        self._lock = threading.Lock()

    @property
    def root(self) -> Path:
        """The model cache this model is read from."""
        from mediaapp.models import default_model_dir

        return self.model_dir or default_model_dir()

    @property
    def version(self) -> str:
        """The pinned model version (the spec's ``version``, e.g. ``emotion-mini-xception@human-models-3.0.4``)."""
        return self.spec.version

    def is_available(self) -> bool:
        """Whether the converted model is in the cache (cheap; no loading)."""
        from mediaapp.models.faces import face_model_cached

        return face_model_cached(self.root, self.spec.name)

    def _load(self) -> Any:  # an onnxruntime.InferenceSession
        """The session, loaded on first call. Raises ``EngineUnavailableError`` when the model is not cached."""
        with self._lock:
            if self._session is None:
                from mediaapp.models.fetch import model_path

                if not self.is_available():
                    raise EngineUnavailableError(f"the {self._label} model is not in {self.root}",
                                                 "ModelUnavailable")
                self._session = cpu_session(model_path(self.root, self.spec), threads=1)
            return self._session
