"""The deterministic network input used by the conversion-faithfulness check.

Shared by ``tools/make_reference.py`` (which fed it to the original TFJS
graph under Node once) and ``tests/models/test_convert.py`` (which feeds it
to the converted ONNX graph). No resampling is involved, so the input does
not depend on Pillow's resize filters: the decoded photo is cropped to the
network size and padded with black at the bottom/right, then converted to
the model's channel order, normalised and laid out as the manifest says.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mediaapp.ingest.decode import open_rgb
from mediaapp.models.manifest import ModelSpec

#: Real photos used for the reference outputs (paths inside the shared test data).
REFERENCE_IMAGES = (
    "1_objects/voc/VOC2007/JPEGImages/000004.jpg",
    "1_objects/voc/VOC2012/JPEGImages/2007_000032.jpg",
)


def reference_input(spec: ModelSpec, image_path: str | Path) -> np.ndarray:
    """Return the float32 batch (model input shape) for ``image_path`` under ``spec``'s preprocessing."""
    h_in, w_in = spec.input_size
    pixels = np.asarray(open_rgb(image_path), dtype=np.float32)
    canvas = np.zeros((h_in, w_in, 3), np.float32)
    h, w = min(h_in, pixels.shape[0]), min(w_in, pixels.shape[1])
    canvas[:h, :w] = pixels[:h, :w]
    if spec.input.get("channels", "RGB").upper() == "BGR":
        canvas = canvas[..., ::-1]
    canvas = (canvas - np.asarray(spec.input["mean"], np.float32)) / np.asarray(spec.input["std"], np.float32)
    if spec.input.get("layout", "NHWC").upper() == "NCHW":
        canvas = canvas.transpose(2, 0, 1)
    return np.ascontiguousarray(canvas[None], dtype=np.float32)
