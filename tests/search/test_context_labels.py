"""Issue 10: Text and Document labels derived from the stored text lines, on both backends.

Real OCR answers: the local engine reads a tesseract test page (a document)
and an ImageNet photo with a caption (text, not a document); a plain photo
gets neither. The derived labels are searchable and validate as label facts.
"""

from __future__ import annotations

import pytest
from search_support import _doc, sha

from mediaapp.core.apis import Api, flatten
from mediaapp.core.types import BoundingBox, Detection, DetectionKind, Query
from mediaapp.search.context_labels import context_labels
from mediaapp.search.index_base import FacetCount


def _line(text: str, conf: float, box: BoundingBox | None) -> Detection:
    return Detection(DetectionKind.TEXT, text, conf, box, (), "local", "DetectText", "LINE")


def test_rules_on_hand_made_lines():
    big = BoundingBox(0.0, 0.0, 0.9, 0.06)
    assert context_labels([]) == []
    assert context_labels([_line("wwwen!", 84.0, big)]) == []  # below 90
    assert context_labels([_line("12", 99.0, big)]) == []  # too short to be text
    [text] = context_labels([_line("MARINE MOM", 98.0, big), _line("USMC", 95.0, big)])
    assert (text.name, text.confidence, text.box, text.parents) == ("Text", 98.0, None, ())
    page = [_line(f"line {i} of the page", 96.0 + i % 3, big) for i in range(6)]  # 6 x 0.054 = 0.32
    labels = context_labels(page)
    assert [d.name for d in labels] == ["Text", "Document"]
    assert labels[1].parents == ("Text",) and labels[1].confidence == pytest.approx(97.0)
    assert [d.name for d in context_labels(page[:4])] == ["Text"]  # too few lines
    small = [_line(f"line {i} of the page", 99.0, BoundingBox(0, 0, 0.1, 0.01)) for i in range(20)]
    assert [d.name for d in context_labels(small)] == ["Text"]  # too little of the image


@pytest.fixture(scope="module")
def ocr():
    from mediaapp.analysis.local.ocr import RapidOcrTextDetector
    return RapidOcrTextDetector()


def _read(ocr, path) -> list[Detection]:
    from mediaapp.ingest.media import open_for_analysis
    return flatten(Api.DETECT_TEXT.value, ocr.detect_text(open_for_analysis(path)), "local")


def test_real_page_caption_and_photo_on_both_backends(empty_index, ocr, testdata):
    page = _read(ocr, testdata / "2_text" / "tesseract" / "phototest-rotated-R.png")
    caption = _read(ocr, testdata / "6_imagenet" / "n01748264_Indian_cobra.JPEG")  # "INDIAN COBRA" caption
    photo = _read(ocr, testdata / "6_imagenet" / "n01534433_junco.JPEG")
    assert [d.name for d in context_labels(page)] == ["Text", "Document"]
    assert [d.name for d in context_labels(caption)] == ["Text"]
    assert context_labels(photo) == []
    docs = [_doc(1, ["/t/page.png"], None, page), _doc(2, ["/t/cobra.jpg"], None, caption),
            _doc(3, ["/t/junco.jpg"], None, photo)]
    assert empty_index.upsert(docs).indexed == 3
    assert sorted(h.sha256 for h in empty_index.search(Query(labels=("Text",))).hits) == [sha(1), sha(2)]
    assert [h.sha256 for h in empty_index.search(Query(labels=("document",))).hits] == [sha(1)]
    facets = {f.name: f.count for f in empty_index.facets(Query())}
    assert (facets["Text"], facets["Document"]) == (2, 1)
    assert FacetCount("Document", 1) in empty_index.facets(Query(labels=("Text",)))
