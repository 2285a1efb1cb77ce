"""On-device DetectText with rapidocr, answering in Amazon Rekognition's schema.

rapidocr runs PaddleOCR's PP-OCR models on onnxruntime. Its wheel bundles
three ONNX models in ``rapidocr/models`` (3.10.0: ``PP-OCRv6_det_small``
text detection, ``ch_ppocr_mobile_v2.0_cls_mobile`` 0/180-degree line
classifier, ``PP-OCRv6_rec_small`` recognition with an 18,708-character
Chinese/Latin/Japanese set stored in the model's metadata). Left to itself
rapidocr *downloads* any model it does not find with the right SHA-256; here
the three files are resolved from rapidocr's own ``config.yaml`` and
``default_models.yaml`` and passed as explicit ``model_path``s, which makes
rapidocr skip its downloader entirely. A missing file raises
``EngineUnavailableError``; nothing is ever fetched.

Pipeline of ``RapidOcrTextDetector.detect_text`` (all geometry is kept as
ratios of the image, so every resize and rotation below maps back for free):

1. **Downscale** so the longest side is at most ``max_side`` pixels
   (``OCR_MAX_SIDE``, 2048 by default, which is also the size the local
   engine decodes at) with Pillow's Lanczos filter; rapidocr's own cap
   (``max_side_len``, 2000) is switched off so nothing is resized twice.
2. **First pass**: detection, 0/180 line classification, recognition.
   rapidocr crops every detected quadrilateral and turns tall crops 90
   degrees, so a page turned 90 degrees clockwise is read as well as an
   upright one.
3. **Rotation retry** (``try_rotations``): when at least
   ``RETRY_MIN_LINES`` lines were read with a reportable score (at least
   ``RETRY_MIN_SCORE``) and at least ``RETRY_LOW_FRACTION`` of their
   characters lie in lines read with less than ``GOOD_LINE_SCORE``, the
   whole image is read again turned 180 degrees, and the reading with more
   characters in confident lines wins (the original on ties). The retry
   does not run the text detector again: a turned page has the same lines,
   turned, so the first pass's boxes are turned with it and only the
   classification and recognition run (``_DetectorTap``). On the 12 MP
   benchmark photos that saves a ~450 ms detection per retry: a retry of up
   to 5 lines now costs 50-100 ms, one of 27 lines about 700 ms (its
   recognition). Measured on
   tesseract's phototest page (225 characters): upright and turned 90
   degrees clockwise, the first pass reads 225/225 confidently; turned 180
   degrees, the 0/180 line classifier flips some lines the wrong way and
   only 103/225 are confident; turned 90 degrees counter-clockwise, 134/225.
   One 180-degree retry fixes both (225/225): it turns a 180-degree page
   upright and a counter-clockwise page into a clockwise one, which rapidocr
   reads natively; so 90/270-degree retries (also measured) add cost and
   nothing else. Photos: of 16 test photos (VOC, press photos, an iPhone
   HEIC), 13 never retry (nothing, or at most one line scoring 0.5 or more)
   and 3 pay one extra pass (two with real signs, one with texture read as
   three 0.5-0.6 lines).
4. **Small line images** (height at most ``SMALL_LINE_MAX_HEIGHT`` pixels:
   word crops, a cropped number) often defeat the detector, which needs a
   margin around text. For them the whole image is also recognised as one
   line (rapidocr with detection off); that reading replaces the detector's
   when its confidence is at least ``WHOLE_IMAGE_MIN_SCORE`` and higher than
   the single line the detector found (or it found none). Measured on the 10
   MMOCR word crops: the detector reads 4, whole-image recognition 8.

Response: LINEs first, in rapidocr's reading order (top to bottom, then left
to right), with ``Id`` 0..n-1, then the WORDs of each line in order, with the
following Ids and ``ParentId`` = their LINE's Id; this mirrors the awscli
DetectText example. Words are the whitespace-separated tokens of the line.
Word geometry comes from rapidocr's ``return_word_box`` (word boxes placed
from the recogniser's CTC column positions inside the line crop, mapped back
to the image); where those do not line up with the tokens (mixed Chinese and
Latin lines come back per character and are merged; anything else) or for
the whole-image reading, the line's quadrilateral is split proportionally to
character counts along the line's reading direction. A WORD's Confidence is
its LINE's: rapidocr pairs each word with the score of the line's i-th
*character* (its word list and per-character score list are zipped), which is
not a per-word score. Polygons are the four corners of the quadrilateral,
starting at the text's top-left in reading direction; BoundingBox is their
axis-aligned hull. All values are clamped to [0, 1].
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from mediaapp.analysis.engine_base import AnalysisError, EngineUnavailableError
from mediaapp.tasks import ORT_THREADS_ENV

#: Longest side (pixels) an image is read at. rapidocr's own default cap is
#: 2000; 2048 matches the local engine's decode size so nothing is resized twice.
OCR_MAX_SIDE = 2048

#: Longest side (pixels) the text *detector* sees on large images.
#: Recognition still reads each line from the ``max_side`` image, so only
#: finding lines gets cheaper. Smaller images keep rapidocr's own rule
#: (shortest side brought up to 736 px), which reads small pages better.
#: Measured (benchmarks/analysis_bench.py photos and the tesseract pages, one
#: thread): detecting at 1280 instead of 2048 takes the median photo from
#: 1787 to 563 ms and keeps word recall on the 3312x2550 scans 8071_093.3B /
#: 8087_054.3B at 0.998 / 0.963 (0.997 / 0.965 at 2048) and at 1.00 on
#: phototest + eurotext pasted at their own size into a 4000x3000 photo;
#: at 960 that recall falls to 0.86. PaddleOCR's own default is 960.
DET_MAX_SIDE = 1280

#: Default minimum LINE confidence (percent) for a line to be reported:
#: rapidocr's own default ``text_score`` of 0.5.
DEFAULT_MIN_CONFIDENCE = 50.0

#: A line read with at least this score (0-1) counts as confidently read.
GOOD_LINE_SCORE = 0.9

#: Share of characters (in lines scoring at least ``RETRY_MIN_SCORE``) lying
#: in lines below ``GOOD_LINE_SCORE`` that triggers the rotation retry; the
#: rotated phototest pages measure 12% and 23%, upright pages 0-1%.
RETRY_LOW_FRACTION = 0.05

#: Lines scoring below this (0-1) are ignored by the retry decision: on
#: photos, texture is often "read" as short text scoring 0.2-0.5. Equal to
#: rapidocr's default ``text_score``.
RETRY_MIN_SCORE = 0.5

#: Fewest lines (scoring at least ``RETRY_MIN_SCORE``) for a retry: a single
#: uncertain line on a photo is no sign of a rotated page.
RETRY_MIN_LINES = 2

#: Rotations (degrees counter-clockwise, as ``PIL.Image.rotate``) tried, in
#: order; see the module docstring for why 180 alone suffices.
RETRY_ROTATIONS = (180,)

#: Images at most this tall (pixels) are also read as one whole text line.
SMALL_LINE_MAX_HEIGHT = 96

#: Smallest score (0-1) for a whole-image reading to be reported.
WHOLE_IMAGE_MIN_SCORE = 0.8

#: Revision of this module's pre/post-processing; part of ``version`` so
#: cached answers are recomputed when the processing changes.
PROCESSING_REVISION = "r3"

_TASKS = ("Det", "Cls", "Rec")


@dataclass
class _Line:
    """One recognised line in one reading: text, score 0-1, quad (4x2 ratios), word quads."""

    text: str
    score: float
    quad: np.ndarray
    words: list[tuple[str, np.ndarray]] = field(default_factory=list)


# -- model files and the shared engine ----------------------------------------------

_MODEL_LOCK = threading.Lock()
_CALL_LOCK = threading.Lock()
_ENGINE = None
_MODEL_INFO: dict | None = None


def model_info() -> dict:
    """Describe the bundled models: ``{"package_version", "paths": {task: Path}, "names": {task: str}}``.

    Tasks are ``Det``, ``Cls`` and ``Rec``; paths point into the installed
    rapidocr package's ``models`` folder, named as rapidocr's own default
    configuration routes them. Cached. Raises ``EngineUnavailableError`` when
    rapidocr is not installed or its configuration cannot be read.
    """
    global _MODEL_INFO
    if _MODEL_INFO is not None:
        return _MODEL_INFO
    try:
        from importlib.metadata import version as package_version

        import rapidocr
        from rapidocr.inference_engine.base import FileInfo, InferSession
        from rapidocr.utils.parse_parameters import ParseParams

        __version__ = package_version("rapidocr")
    except ImportError as exc:
        raise EngineUnavailableError(f"rapidocr is not installed: {exc}", "OcrUnavailable") from exc
    package_dir = Path(rapidocr.__file__).resolve().parent
    try:
        cfg = ParseParams.load(package_dir / "config.yaml")
        paths, names = {}, {}
        for task in _TASKS:
            section = cfg[task]
            info = InferSession.get_model_url(FileInfo(section.engine_type, section.ocr_version,
                                                       section.task_type, section.lang_type,
                                                       section.model_type))
            file_name = Path(str(info["model_dir"])).name
            paths[task] = package_dir / "models" / file_name
            names[task] = Path(file_name).stem
    except Exception as exc:  # rapidocr's config layout changed
        raise EngineUnavailableError(f"cannot resolve rapidocr's bundled models: {exc}", "OcrUnavailable") from exc
    _MODEL_INFO = {"package_version": __version__, "paths": paths, "names": names}
    return _MODEL_INFO


def _engine():
    """The process-wide rapidocr engine, created on first use from the bundled model files.

    rapidocr's own downscaling (``Global.max_side_len``) is switched off:
    ``RapidOcrTextDetector.max_side`` is the only cap, applied with Pillow;
    the detector alone works at ``DET_MAX_SIDE`` on large images (see
    ``_detector_limits``). onnxruntime uses
    ``$MEDIAAPP_ORT_THREADS`` intra-op threads when set.

    Raises ``EngineUnavailableError`` when a model file is missing or
    onnxruntime cannot load it.
    """
    global _ENGINE
    if _ENGINE is not None:
        return _ENGINE
    with _MODEL_LOCK:
        if _ENGINE is not None:
            return _ENGINE
        info = model_info()
        missing = [str(p) for p in info["paths"].values() if not p.is_file()]
        if missing:
            raise EngineUnavailableError("rapidocr model files missing (they ship in its wheel; "
                                         f"nothing is downloaded): {', '.join(missing)}", "OcrUnavailable")
        from rapidocr import RapidOCR

        params = {f"{task}.model_path": str(path) for task, path in info["paths"].items()}
        # onnxruntime's CPU memory arena: rapidocr's config turns it off, which makes every detector run
        # allocate (and page-fault) its large activations afresh; with it on, the same runs give identical
        # outputs ~20% faster (400 vs 500 ms CPU per 1280x960 detection, one thread). It keeps the largest
        # run's memory for the worker's life (measured in benchmarks/analysis_bench.py's peak RSS).
        params.update({"Global.log_level": "error", "Global.text_score": 0.0,
                       "Global.max_side_len": 1_000_000, "EngineConfig.onnxruntime.enable_cpu_mem_arena": True})
        threads = os.environ.get(ORT_THREADS_ENV)
        if threads:  # a worker process's share of the cores (mediaapp.tasks.init_worker)
            params.update({"EngineConfig.onnxruntime.intra_op_num_threads": int(threads),
                           "EngineConfig.onnxruntime.inter_op_num_threads": 1})
        try:
            engine = RapidOCR(params=params)
            # Load the three ONNX sessions now so a broken install fails here, once.
            engine._load_det_model()
            engine._load_cls_model()
            engine._load_rec_model()
            # The detector normalises its input with these (x / 255 - mean) / std; as float32 arrays the
            # arithmetic stays in float32 (the model's input type) instead of going through a float64 copy of
            # the 1280x960x3 input: the same values, 15-30 ms less per detection.
            if engine.text_det.mean is not None and engine.text_det.std is not None:
                engine.text_det.mean = np.asarray(list(engine.text_det.mean), dtype=np.float32)
                engine.text_det.std = np.asarray(list(engine.text_det.std), dtype=np.float32)
        except Exception as exc:
            raise EngineUnavailableError(f"cannot load rapidocr models: {exc}", "OcrUnavailable") from exc
        _ENGINE = engine
    return _ENGINE


# -- geometry -------------------------------------------------------------------------

def _unrotate(points: np.ndarray, rotation: int) -> np.ndarray:
    """Map ratio points (N x 2) of an image turned ``rotation`` degrees CCW back to the original's ratios.

    ``PIL.Image.rotate(90, expand=True)`` sends original ``(x, y)`` (ratios)
    to ``(y, 1 - x)``; 180 to ``(1 - x, 1 - y)``; 270 to ``(1 - y, x)``.
    """
    x, y = points[:, 0], points[:, 1]
    if rotation == 0:
        return points.copy()
    if rotation == 90:
        return np.stack([1 - y, x], axis=1)
    if rotation == 180:
        return np.stack([1 - x, 1 - y], axis=1)
    if rotation == 270:
        return np.stack([y, 1 - x], axis=1)
    raise ValueError(f"rotation must be 0, 90, 180 or 270, not {rotation}")


def _split_quad(quad: np.ndarray, start: float, end: float) -> np.ndarray:
    """The part of a line quad between fractions ``start`` and ``end`` (0-1) of its reading direction.

    ``quad`` is 4 x 2 in pixels (top-left, top-right, bottom-right,
    bottom-left, as rapidocr orders it). The reading direction runs along
    the longer pair of edges: left to right for a wide quad, top to bottom
    for a tall one (the direction rapidocr assumes when it turns tall crops).
    The result keeps the corner order of ``quad``.
    """
    p0, p1, p2, p3 = quad
    if np.linalg.norm(p1 - p0) >= np.linalg.norm(p3 - p0):
        return np.array([p0 + start * (p1 - p0), p0 + end * (p1 - p0),
                         p3 + end * (p2 - p3), p3 + start * (p2 - p3)])
    return np.array([p0 + start * (p3 - p0), p1 + start * (p2 - p1),
                     p1 + end * (p2 - p1), p0 + end * (p3 - p0)])


def _proportional_words(text: str, quad: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Split a line quad (pixels) into its whitespace-separated tokens, proportionally to character offsets."""
    n = len(text)
    return [(m.group(), _split_quad(quad, m.start() / n, m.end() / n)) for m in re.finditer(r"\S+", text)]


def _match_words(text: str, items: list[tuple[str, np.ndarray]]) -> list[tuple[str, np.ndarray]] | None:
    """Align rapidocr word items (content, quad in pixels) with the line's whitespace tokens.

    Items equal to the tokens are used as they are; items that are pieces of
    tokens (per-character items of CJK or mixed lines) are merged, the
    merged quad running from the first piece's left corners to the last
    piece's right corners. Returns None when the items do not spell the
    tokens.
    """
    tokens = text.split()
    out, i = [], 0
    for token in tokens:
        spelled, first, last = "", None, None
        while i < len(items) and len(spelled) < len(token):
            content, quad = items[i]
            spelled += content.replace(" ", "")
            first = quad if first is None else first
            last = quad
            i += 1
        if spelled != token or first is None:
            return None
        out.append((token, np.array([first[0], last[1], last[2], first[3]])))
    return out if i == len(items) else None


def _geometry(quad: np.ndarray) -> dict:
    """Rekognition ``Geometry`` (BoundingBox + 4-point Polygon, ratios clamped to [0, 1]) of a quad."""
    pts = np.clip(quad.astype(float), 0.0, 1.0)
    left, top = float(pts[:, 0].min()), float(pts[:, 1].min())
    right, bottom = float(pts[:, 0].max()), float(pts[:, 1].max())
    return {"BoundingBox": {"Width": right - left, "Height": bottom - top, "Left": left, "Top": top},
            "Polygon": [{"X": float(x), "Y": float(y)} for x, y in pts]}


# -- the detector ------------------------------------------------------------------

class RapidOcrTextDetector:
    """DetectText on-device with rapidocr's bundled PP-OCR models.

    ``min_confidence`` (percent, 0-100): LINEs read with less are dropped
    (their WORDs with them). ``max_side`` (pixels): longest side images are
    read at. ``try_rotations``: re-read pages that look rotated (see the
    module docstring). Construction is cheap; the ONNX models load on the
    first ``detect_text`` and are shared by every instance in the process.
    """

    def __init__(self, min_confidence: float = DEFAULT_MIN_CONFIDENCE, max_side: int = OCR_MAX_SIDE,
                 try_rotations: bool = True):
        if not 0 <= min_confidence <= 100:
            raise ValueError(f"min_confidence is a percentage (0-100), got {min_confidence}")
        if max_side < 32:
            raise ValueError(f"max_side must be at least 32 pixels, got {max_side}")
        self.min_confidence = float(min_confidence)
        self.max_side = int(max_side)
        self.try_rotations = try_rotations

    @property
    def version(self) -> str:
        """Model version, e.g.
        ``rapidocr-3.10.0/PP-OCRv6_det_small+ch_ppocr_mobile_v2.0_cls_mobile+PP-OCRv6_rec_small/r1``.

        rapidocr's package version, the three bundled model names and
        ``PROCESSING_REVISION``; also the response's ``TextModelVersion``.
        Computed without loading the models. Raises
        ``EngineUnavailableError`` when rapidocr is not installed.
        """
        info = model_info()
        models = "+".join(info["names"][t] for t in _TASKS)
        return f"rapidocr-{info['package_version']}/{models}/{PROCESSING_REVISION}"

    def detect_text(self, image: Image.Image) -> dict:
        """Read the text of ``image``; return a Rekognition DetectText response dict.

        ``image`` is an orientation-corrected PIL image (any mode; converted
        to RGB), of any size. Returns ``{"TextDetections": [...],
        "TextModelVersion": version}``: LINEs then WORDs, ``Confidence``
        0-100, geometry in ratios of ``image``. Raises ``AnalysisError`` for
        an empty image or when rapidocr fails on it, and
        ``EngineUnavailableError`` when the models cannot be loaded.
        """
        if image.width < 1 or image.height < 1:
            raise AnalysisError("empty image", "InvalidImageFormatException")
        work = image if image.mode == "RGB" else image.convert("RGB")
        if max(work.size) > self.max_side:
            work = work.copy()
            work.thumbnail((self.max_side, self.max_side), Image.Resampling.LANCZOS)
        engine = _engine()
        try:
            lines = self._read(engine, work)
        except AnalysisError:
            raise
        except Exception as exc:  # onnxruntime/opencv errors on odd inputs
            raise AnalysisError(f"text detection failed: {type(exc).__name__}: {exc}") from exc
        return self._response(lines)

    # -- passes ------------------------------------------------------------------

    def _read(self, engine, work: Image.Image) -> list[_Line]:
        """All passes of the module docstring; returns the chosen lines (ratios of ``work``)."""
        best, detection = self._pass(engine, work, 0)
        if self.try_rotations and _needs_retry(best):
            best_score = _good_chars(best)
            for rotation in RETRY_ROTATIONS:
                # A turned page has the same text lines, turned: the retry crops them from the turned image
                # instead of running the detector again (about 450 ms of a 12 MP photo's ~1 s, one thread).
                candidate, _ = self._pass(engine, work.rotate(rotation, expand=True), rotation,
                                          detection if rotation == 180 else None)
                score = _good_chars(candidate)
                if score > best_score:
                    best, best_score = candidate, score
                if not _needs_retry(best):
                    break
        if work.height <= SMALL_LINE_MAX_HEIGHT:
            best = self._whole_image(engine, work, best)
        return best

    def _pass(self, engine, img: Image.Image, rotation: int,
              turned_from: _Detection | None = None) -> tuple[list[_Line], _Detection | None]:
        """One detection+classification+recognition pass on ``img`` (already turned by ``rotation``).

        With ``turned_from`` (the detection of the unturned image's pass;
        ``rotation`` 180 only) the text detector does not run: its boxes are
        turned instead (``_DetectorTap``). Returns the lines, with quads in
        ratios of the *unrotated* image, and this pass's detection.
        """
        bgr = np.ascontiguousarray(np.asarray(img)[:, :, ::-1])
        with _CALL_LOCK:  # rapidocr keeps per-call options on the shared engine; the tap is swapped in under it
            _detector_limits(engine, img.size)
            detector = engine.text_det
            tap = _DetectorTap(detector, turned_from)
            engine.text_det = tap
            try:
                result = engine(bgr, use_det=True, use_cls=True, use_rec=True, return_word_box=True,
                                return_single_char_box=False, text_score=0.0)
            finally:
                engine.text_det = detector
        lines: list[_Line] = []
        txts = getattr(result, "txts", None)
        boxes = getattr(result, "boxes", None)
        if not txts or boxes is None:
            return lines, tap.seen
        scores = list(result.scores)
        words_per_line = list(getattr(result, "word_results", None) or ())
        aligned = len(words_per_line) == len(txts)
        size = np.array([img.width, img.height], dtype=float)

        def to_ratios(quad_px: np.ndarray) -> np.ndarray:
            return _unrotate(quad_px / size, rotation)

        for index, (text, score) in enumerate(zip(txts, scores)):
            text = " ".join(str(text).split())
            if not text:
                continue
            quad = np.asarray(boxes[index], dtype=float).reshape(4, 2)
            words = None
            if aligned:
                items = []
                for item in words_per_line[index] or ():
                    try:
                        content, _conf, box = item
                        items.append((str(content), np.asarray(box, dtype=float).reshape(4, 2)))
                    except (TypeError, ValueError):
                        items = []
                        break
                words = _match_words(text, items) if items else None
            words = words or _proportional_words(text, quad)
            lines.append(_Line(text, float(score), to_ratios(quad),
                               [(word, to_ratios(word_quad)) for word, word_quad in words]))
        return lines, tap.seen

    def _whole_image(self, engine, work: Image.Image, lines: list[_Line]) -> list[_Line]:
        """For a small image, read it whole as one line and keep that reading when it is better."""
        if len(lines) > 1:
            return lines
        bgr = np.ascontiguousarray(np.asarray(work)[:, :, ::-1])
        with _CALL_LOCK:
            result = engine(bgr, use_det=False, use_cls=False, use_rec=True, return_word_box=False,
                            return_single_char_box=False, text_score=0.0)
        txts = getattr(result, "txts", None)
        if not txts:
            return lines
        text, score = " ".join(str(txts[0]).split()), float(result.scores[0])
        if not text or score < WHOLE_IMAGE_MIN_SCORE or (lines and lines[0].score >= score):
            return lines
        width, height = float(work.width), float(work.height)
        quad_px = np.array([[0.0, 0.0], [width, 0.0], [width, height], [0.0, height]])
        size = np.array([width, height])
        return [_Line(text, score, quad_px / size,
                      [(word, quad / size) for word, quad in _proportional_words(text, quad_px)])]

    # -- response ----------------------------------------------------------------

    def _response(self, lines: list[_Line]) -> dict:
        """Build the DetectText response from chosen lines (LINEs, then WORDs; see module docstring)."""
        kept = [line for line in lines if line.score * 100.0 >= self.min_confidence]
        detections = []
        for line_id, line in enumerate(kept):
            detections.append({"DetectedText": line.text, "Type": "LINE", "Id": line_id,
                               "Confidence": _percent(line.score), "Geometry": _geometry(line.quad)})
        next_id = len(kept)
        for line_id, line in enumerate(kept):
            for word, quad in line.words:
                detections.append({"DetectedText": word, "Type": "WORD", "Id": next_id, "ParentId": line_id,
                                   "Confidence": _percent(line.score), "Geometry": _geometry(quad)})
                next_id += 1
        return {"TextDetections": detections, "TextModelVersion": self.version}


@dataclass
class _Detection:
    """One run of rapidocr's text detector, as the detector answered it (copied before rapidocr changes it).

    ``shape``: its input's (height, width) in pixels; ``boxes``: float32
    N x 4 x 2 corner points in pixels of that input, clockwise from the
    text's top-left as rapidocr's DB post-processing orders them (None:
    nothing found); ``scores``: N floats (0-1); ``output_type``: rapidocr's
    ``TextDetOutput`` class. A copy, because rapidocr maps the boxes it got
    back to the unpadded image in place and drops those read as blank.
    """

    shape: tuple[int, int]
    boxes: np.ndarray | None
    scores: list[float]
    output_type: type


class _DetectorTap:
    """Stands in for ``engine.text_det`` (rapidocr's ``TextDetector``) during one pass.

    Called like the detector, with the BGR array rapidocr detects on (the
    image after rapidocr's own preprocessing and its symmetric top/bottom
    padding). It records a copy of the answer in ``seen``. With ``turned_from`` (an
    earlier pass's ``_Detection`` of the same image before a 180-degree
    turn), an input of the same shape is answered with those boxes turned
    180 degrees instead of running the model: a corner ``(x, y)`` moves to
    ``(width - x, height - y)`` and the corner order is rolled by two so
    every box again starts at its text's top-left; boxes are then put back
    in rapidocr's reading order (``TextDetector.sorted_boxes``). Attribute
    reads and writes other than ``seen`` go to the detector.
    """

    def __init__(self, detector, turned_from: _Detection | None = None):
        object.__setattr__(self, "_detector", detector)
        object.__setattr__(self, "_turned_from", turned_from)
        object.__setattr__(self, "seen", None)

    def __call__(self, img: np.ndarray):
        shape = (int(img.shape[0]), int(img.shape[1]))
        earlier = self._turned_from
        if earlier is not None and earlier.shape == shape and earlier.boxes is not None:
            height, width = shape
            boxes = earlier.boxes
            turned = np.roll(np.stack([width - boxes[..., 0], height - boxes[..., 1]], axis=-1), 2, axis=1)
            output = earlier.output_type(img, self._detector.sorted_boxes(turned[::-1]), earlier.scores[::-1],
                                         elapse=0.0)
        else:
            output = self._detector(img)
        boxes = None if output.boxes is None else np.array(output.boxes, dtype=np.float32, copy=True)
        object.__setattr__(self, "seen", _Detection(shape, boxes, list(output.scores or []), type(output)))
        return output

    def __getattr__(self, name: str):
        return getattr(self._detector, name)

    def __setattr__(self, name: str, value) -> None:
        setattr(self._detector, name, value)


def _detector_limits(engine, size: tuple[int, int]) -> None:
    """Set the text detector's input size rule for an image of ``size`` (w, h) pixels.

    Larger than ``DET_MAX_SIDE``: longest side down to ``DET_MAX_SIDE``
    (rapidocr's ``limit_type`` ``max``). Otherwise rapidocr's configured
    default (``min``: shortest side up to 736). rapidocr's ``TextDetector``
    reads these two attributes on every call; the caller holds ``_CALL_LOCK``.
    """
    detector = engine.text_det
    if max(size) > DET_MAX_SIDE:
        detector.limit_type, detector.limit_side_len = "max", DET_MAX_SIDE
    else:
        detector.limit_type, detector.limit_side_len = engine.cfg.Det.limit_type, engine.cfg.Det.limit_side_len


def _percent(score: float) -> float:
    """A rapidocr score (0-1) as a Rekognition confidence (0-100, clamped)."""
    return float(min(max(score * 100.0, 0.0), 100.0))


def _chars(line: _Line) -> int:
    """Number of non-space characters of a line."""
    return sum(1 for c in line.text if not c.isspace())


def _good_chars(lines: list[_Line]) -> int:
    """Characters in lines read with at least ``GOOD_LINE_SCORE``: the measure a reading is judged by."""
    return sum(_chars(line) for line in lines if line.score >= GOOD_LINE_SCORE)


def _needs_retry(lines: list[_Line]) -> bool:
    """True when a reading looks like a rotated page (see ``RETRY_LOW_FRACTION``, ``RETRY_MIN_LINES``)."""
    lines = [line for line in lines if line.score >= RETRY_MIN_SCORE]
    if len(lines) < RETRY_MIN_LINES:
        return False
    total = sum(_chars(line) for line in lines)
    return total > 0 and (total - _good_chars(lines)) / total >= RETRY_LOW_FRACTION
