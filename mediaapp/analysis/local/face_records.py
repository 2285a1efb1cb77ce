"""Face records: what the local engine hands back besides its Rekognition responses.

A Rekognition response has no room for a face embedding, and the People
feature needs one per face (to name it, to cluster it) plus a small picture
of it (for the People panel). The worker process that analyses an image
already holds it decoded, so it builds both there and returns them as plain,
picklable data next to the responses (``ApiOutcome.extras``); the parent
process stores them (``mediaapp.services.people_service``).

One record per face, in the detector's order (largest face first)::

    {"Index": int,              # position in that order, 0-based
     "Face": ComparedFace dict, # BoundingBox (ratios), Confidence (0-100), Landmarks, Pose, Quality
     "Embedding": bytes,        # 128 little-endian float32 (512 bytes), dlib ResNet descriptor
     "Crop": str | None}        # crop file name relative to the crops folder, None if not written

dlib computes its descriptors in 32-bit floats, so float32 storage loses
nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
from PIL import Image

from mediaapp.core.embeddings import embedding_to_bytes
from mediaapp.core.types import BoundingBox, Json

__all__ = [
    "CROP_MARGIN",
    "FACE_CROP_SIDE",
    "compare_files",
    "crop_name",
    "face_records",
    "save_face_crop",
]

#: Side, in pixels, of the square JPEG crop saved per face. The People panel
#: draws faces at 96 logical pixels; 112 px keeps them sharp there while a
#: crop stays a few KB (measured on testdata/3_faces: 3-5 KB at quality 85).
FACE_CROP_SIDE = 112
#: Margin added around the detector's box on each side, as a fraction of the
#: box's larger side: the same 25% padding dlib uses for the aligned chip its
#: embedding is computed from (``faces._descriptor``), so the crop shows what
#: the embedding saw (forehead, chin) rather than the tight detector box.
CROP_MARGIN = 0.25
#: JPEG quality of the crops (Pillow's 1-95 scale); as for thumbnails.
CROP_JPEG_QUALITY = 85


def crop_name(sha256: str, index: int, example: bool = False) -> str:
    """The crop file of face ``index`` of image ``sha256``, relative to the crops folder.

    ``<first 2 hex>/<sha256>_<index>.jpg`` for library photos and
    ``<first 2 hex>/<sha256>_x<index>.jpg`` for enrolment examples, so an
    example photo that is also in the library never shares a file with it.
    Raises ``ValueError`` unless ``sha256`` is 64 lowercase hex characters
    (which also keeps the path inside the folder) and ``index`` >= 0.
    """
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError(f"not a lowercase hex SHA-256: {sha256!r}")
    if index < 0:
        raise ValueError(f"face index must be >= 0, got {index}")
    return f"{sha256[:2]}/{sha256}_{'x' if example else ''}{int(index)}.jpg"


def crop_box(box: BoundingBox, width: int, height: int, margin: float = CROP_MARGIN) -> tuple[int, int, int, int]:
    """The square pixel box ``(left, top, right, bottom)`` cropped for a face ``box`` (ratios).

    The square is centred on the face, its side the face's larger side (in
    pixels) times ``1 + 2 * margin``; it may reach past the image edges
    (Pillow pads such crops with black).
    """
    cx = (box.left + box.width / 2.0) * width
    cy = (box.top + box.height / 2.0) * height
    side = max(box.width * width, box.height * height, 1.0) * (1.0 + 2.0 * margin)
    left, top = round(cx - side / 2.0), round(cy - side / 2.0)
    size = max(1, round(side))
    return left, top, left + size, top + size


def save_face_crop(image: Image.Image, box: BoundingBox, path: str | os.PathLike, side: int = FACE_CROP_SIDE) -> str:
    """Write the square crop of the face ``box`` (ratios of ``image``) as a ``side`` px JPEG at ``path``.

    ``image`` is the orientation-corrected picture the box refers to. The
    file is written atomically (temporary file + rename) and an existing one
    is replaced. Returns the path. Raises ``OSError`` when it cannot be written.
    """
    from mediaapp.ingest.thumbnails import write_jpeg

    crop = image.crop(crop_box(box, image.width, image.height)).convert("RGB")
    return write_jpeg(crop.resize((side, side), Image.Resampling.LANCZOS), path, CROP_JPEG_QUALITY)


def face_records(image: Image.Image, pairs: Iterable[tuple[dict, np.ndarray]], sha256: str,
                 crops_dir: str | os.PathLike | None, example: bool = False) -> list[dict]:
    """Build the records (see the module docstring) of faces already detected and embedded in ``image``.

    ``pairs``: ``[(ComparedFace dict, embedding)]`` as returned by
    ``DlibFaceDetector.detect_and_embed`` on this same image. ``crops_dir``:
    where crops go (``crop_name`` below it); None writes none. A crop that
    cannot be written leaves ``Crop`` None: the face is still recorded.
    Raises ``ValueError`` for a malformed embedding or ``sha256``.
    """
    out = []
    for index, (face, embedding) in enumerate(pairs):
        name = None
        if crops_dir is not None:
            name = crop_name(sha256, index, example)
            try:
                save_face_crop(image, BoundingBox.from_rekognition(face["BoundingBox"]),
                               os.path.join(os.fspath(crops_dir), name))
            except OSError:
                name = None
        out.append({"Index": index, "Face": face, "Embedding": embedding_to_bytes(embedding), "Crop": name})
    return out


def example_faces(path: str, sha256: str, crops_dir: str | None) -> tuple[list[dict], str]:
    """Detect and embed the faces of one enrolment photo; the task ``mediaapp people add`` runs in a worker.

    Decodes ``path`` as the local engine does (``media.open_for_analysis``:
    its handler's picture at ``ANALYSIS_MAX_SIDE``, orientation applied), so an example and the same
    photo imported give the same embedding. Returns (records as
    ``face_records`` with example crop names, the detector version).
    Raises ``AnalysisError`` when the file cannot be decoded and
    ``EngineUnavailableError`` when dlib or its models are missing.
    """
    from mediaapp.analysis.engine_base import AnalysisError
    from mediaapp.analysis.local.face_detector import DlibFaceDetector
    from mediaapp.ingest.decode import DecodeError
    from mediaapp.ingest.media import open_for_analysis

    try:
        image = open_for_analysis(path)
    except (DecodeError, OSError) as exc:
        raise AnalysisError(f"cannot decode image: {exc}", "InvalidImageFormatException") from exc
    detector = DlibFaceDetector()
    return face_records(image, detector.detect_and_embed(image), sha256, crops_dir, example=True), detector.version


def compare_files(source: str, target: str, similarity_threshold: float) -> Json:
    """Rekognition CompareFaces on two image files, on-device: the task ``mediaapp faces compare`` runs.

    Both images are decoded as the local engine decodes them and their faces
    detected and embedded with dlib; the source's largest face is compared
    with every target face (``recognition.compare_faces``; Similarity 0-100,
    matches at ``similarity_threshold`` or more). The answer is checked
    against botocore's CompareFaces output shape. Raises ``AnalysisError``
    (code ``InvalidParameterException``, as Rekognition) when either image
    has no face or cannot be decoded, and ``EngineUnavailableError`` when
    dlib or its models are missing.
    """
    from mediaapp.analysis.engine_base import AnalysisError
    from mediaapp.analysis.local.face_detector import DlibFaceDetector
    from mediaapp.analysis.local.recognition import compare_faces
    from mediaapp.analysis.validate import validate_response
    from mediaapp.ingest.decode import DecodeError
    from mediaapp.ingest.media import open_for_analysis

    detector = DlibFaceDetector()
    found = []
    for role, path in (("source", source), ("target", target)):
        try:
            image = open_for_analysis(path)
        except (DecodeError, OSError) as exc:
            raise AnalysisError(f"cannot decode the {role} image {path}: {exc}",
                                "InvalidImageFormatException") from exc
        pairs = detector.detect_and_embed(image)
        if not pairs:
            raise AnalysisError(f"no face found in the {role} image {path}", "InvalidParameterException")
        found.append(pairs)
    (src, tgt) = found
    response = compare_faces([e for _, e in src], [e for _, e in tgt], similarity_threshold,
                             [f for f, _ in src], [f for f, _ in tgt])
    validate_response("CompareFaces", response)
    return response
