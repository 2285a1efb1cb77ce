"""Context labels the text analysis makes honest: ``Text`` and ``Document``, derived for search.

Where: in the search projection (``search/projection.py``, and OpenSearch's
``to_source``), from the asset's stored DetectText LINE detections (any
engine). Not in the local engine's DetectLabels answer: the engine answers
DetectText and DetectLabels in one run only when both are asked, and the
cache key of a DetectLabels answer does not say whether text was read with
it, so an answer made with ``--apis labels`` would lack them for good. In the
projection they follow whatever text is stored now, for old answers too.
They are label facts (searchable with ``--label Text``, counted as facets),
not stored detections: ``mediaapp show`` and the detail view list DetectText's
lines, not these labels.

Rules, checked with the local OCR on the shared test photos (``2_text``
pages vs ``6_imagenet``/``1_objects`` photos):

- ``Text``: at least one LINE with Confidence >= ``TEXT_MIN_CONFIDENCE`` (90)
  holding at least ``TEXT_MIN_CHARS`` (3) letters or digits; Confidence is
  the best such line's. (A bittern photo's "wwwen!" at 84 stays out; "INDIAN
  COBRA" on a photo's caption counts, as it is text.)
- ``Document`` (Parents: ``Text``): at least ``DOCUMENT_MIN_LINES`` (5) such
  lines whose boxes cover at least ``DOCUMENT_MIN_COVERAGE`` (0.25) of the
  image (sum of box areas, ratios); Confidence is their mean. The tesseract
  pages cover 0.47-0.57 with 8-119 lines; the photos at most 0.06 with 2
  lines; a big single number ("324", 0.96) is one line, not a document.
- ``Screenshot`` is not derived: neither the text nor the file gives an
  honest signal (a PNG without camera data is as often a scan or an export).

Outdoors and Indoors come from the classifier's WordNet hierarchy (``resources/concepts``, scene
classes only: see ``EXTRA`` in ``tools/build_concepts.py``);
Person, Portrait and Group from the faces (``analysis/local/classifier.face_context_labels``).
"""

from __future__ import annotations

from collections.abc import Iterable

from mediaapp.core.types import Detection, DetectionKind

__all__ = ["DOCUMENT_MIN_COVERAGE", "DOCUMENT_MIN_LINES", "TEXT_MIN_CHARS", "TEXT_MIN_CONFIDENCE",
           "context_labels"]

#: Lowest LINE Confidence (0-100) that counts as text.
TEXT_MIN_CONFIDENCE = 90.0
#: Fewest letters or digits in a LINE that counts as text.
TEXT_MIN_CHARS = 3
#: Fewest counted LINEs of a document.
DOCUMENT_MIN_LINES = 5
#: Smallest share of the image (sum of the counted LINEs' box areas, 0-1) a document's text covers.
DOCUMENT_MIN_COVERAGE = 0.25


def context_labels(detections: Iterable[Detection]) -> list[Detection]:
    """``Text`` and ``Document`` label detections (image-level, no box) derived from ``detections``' LINEs.

    Each derived row takes the ``source`` (engine) of the best line and
    ``api`` ``DetectText``. Returns ``[]`` when no line counts (module
    docstring). Videos' timestamped lines count like an image's.
    """
    lines = [d for d in detections
             if d.kind == DetectionKind.TEXT and (d.text_type or "LINE") == "LINE"
             and d.confidence >= TEXT_MIN_CONFIDENCE and sum(c.isalnum() for c in d.name) >= TEXT_MIN_CHARS]
    if not lines:
        return []
    best = max(lines, key=lambda d: d.confidence)
    out = [Detection(DetectionKind.LABEL, "Text", best.confidence, None, (), best.source, "DetectText")]
    coverage = sum(d.box.width * d.box.height for d in lines if d.box is not None)
    if len(lines) >= DOCUMENT_MIN_LINES and coverage >= DOCUMENT_MIN_COVERAGE:
        mean = sum(d.confidence for d in lines) / len(lines)
        out.append(Detection(DetectionKind.LABEL, "Document", mean, None, ("Text",), best.source, "DetectText"))
    return out
