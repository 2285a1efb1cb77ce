"""Calibrated Confidence for the on-device object detector's instances.

The detectors' class scores (0-1) are not probabilities: on the shared VOC
photos many NanoDet boxes scoring 0.4-0.5 are right, and CenterNet's right
boxes start near 0.35, so reading the score as a Confidence of 40 hides true
detections behind the search default of 50. This module turns a raw score
into a Confidence 0-100 that estimates the chance the instance is right (its
box overlaps a not-yet-found object of its class with IoU >= 0.5, the
PASCAL VOC / mAP@0.5 criterion).

Each detector of ``resources/models/manifest.json`` has its own curve,
``resources/concepts/detector_calibration_<model name>.json``, in the same
format as the classifier's ``calibration.json`` (``x``: raw scores 0-1,
``y``: probability 0-1, read by linear interpolation; ``version``;
``model``: the detector version it was fitted for; ``fitted_on``: the shared
test photos it was fitted on, never the photos themselves). Each is fitted by
``benchmarks/label_eval.py --fit-detector`` (with ``MEDIAAPP_DETECTOR`` naming
the model) on half of ``1_objects``: Platt scaling (a logistic regression on
the logit of the raw score, Platt 1999), written out as knots. One curve for
all 80 classes: the labelled half holds 18 correct boxes over six classes,
far too few to fit a curve per class.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np


def calibration_file(model_name: str) -> str:
    """File name, under ``resources/concepts``, of the curve of the manifest detector ``model_name``."""
    return f"detector_calibration_{model_name}.json"


class DetectorCalibration:
    """A monotone curve from raw detector scores (0-1) to Confidence (0-100).

    ``path``: the calibration JSON (see the module docstring), or None / a
    missing file for no calibration (Confidence is then the raw score times
    100, as before calibration existed). Raises ``ValueError`` for a
    malformed curve (lists of unequal length, fewer than two knots, or not
    non-decreasing) and ``json.JSONDecodeError`` for a file that is not JSON.
    """

    def __init__(self, path: Path | None):
        self.document: dict[str, Any] = {}
        self.curve: tuple[np.ndarray, np.ndarray] | None = None
        if path is not None and Path(path).is_file():
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
            x, y = np.asarray(doc["x"], np.float64), np.asarray(doc["y"], np.float64)
            if x.shape != y.shape or x.ndim != 1 or x.size < 2 or np.any(np.diff(x) < 0) or np.any(np.diff(y) < 0):
                raise ValueError(f"{path}: the curve must be two equal-length non-decreasing lists")
            if x[0] > 0 or x[-1] < 1 or y.min() < 0 or y.max() > 1:
                raise ValueError(f"{path}: the curve must cover raw scores 0-1 with values 0-1")
            self.curve = (x, y)
            self.document = doc

    @property
    def model(self) -> str | None:
        """The detector version the curve was fitted for (``mb3-centernet-512@...``), None without a curve."""
        return self.document.get("model")

    def for_model(self, version: str) -> DetectorCalibration:
        """This curve if it was fitted for the detector ``version``, else no calibration (raw scores)."""
        return self if self.model == version else DetectorCalibration(None)

    @property
    def version(self) -> str:
        """The curve's version (``raw`` without a curve), part of the DetectLabels model version."""
        return str(self.document.get("version", "raw"))

    def confidence(self, raw: np.ndarray | float) -> np.ndarray:
        """Confidence 0-100 for raw scores 0-1 (clipped; linear between the knots; non-decreasing)."""
        raw = np.clip(np.asarray(raw, np.float64), 0.0, 1.0)
        if self.curve is None:
            return raw * 100.0
        return np.asarray(np.interp(raw, self.curve[0], self.curve[1]) * 100.0, np.float64)

    def raw_floor(self, confidence: float) -> float:
        """The largest raw score (0-1) below which no score reaches ``confidence`` (0-100).

        Used as the detector's pre-threshold: every box that can reach
        ``confidence`` once calibrated scores at least this much. Returns
        1.0 when no score reaches ``confidence``.
        """
        target = float(confidence)
        if self.curve is None:
            return min(max(target / 100.0, 0.0), 1.0)
        x, y = self.curve
        reached = np.flatnonzero(y * 100.0 >= target)
        if reached.size == 0:
            return 1.0
        k = int(reached[0])
        return float(x[k - 1]) if k > 0 else 0.0


@lru_cache(maxsize=8)
def load_detector_calibration(model_name: str) -> DetectorCalibration:
    """The curve shipped in ``resources/concepts`` for the detector ``model_name`` (read once per process);
    no calibration (raw scores) when none ships. Raises as ``DetectorCalibration`` for a malformed file."""
    from mediaapp.models.manifest import resources_dir
    return DetectorCalibration(resources_dir() / "concepts" / calibration_file(model_name))
