"""Positives through the whole pipeline with a stubbed classifier: import, catalog, index, search, blur set.

Three ordinary photos; the stub scores one 0.95 (flagged), one 0.6 (reported, under the threshold), and
fails on the third (never checked). No unsafe picture is involved.
"""

from __future__ import annotations

import json

from moderation_stub import STUB

from mediaapp.core.types import MODERATION_UNCHECKED, Query
from mediaapp.search.index_base import FacetCount


def names(lib, query: Query) -> set[str]:
    return {hit.path.rsplit("/", 1)[-1] for hit in lib.search(query).hits}


def test_safe_only_and_moderation_filter_after_an_import(library):
    assert names(library, Query(safe_only=True)) == {"undecided.jpg", "never.jpg"}
    assert names(library, Query(moderation=("Explicit Nudity",))) == {"flagged.jpg"}
    assert names(library, Query(moderation=(MODERATION_UNCHECKED,))) == {"never.jpg"}


def test_facet_counts_flagged_and_unchecked(library):
    assert library.facets(Query(), "moderation") == [FacetCount("Explicit Nudity", 1),
                                                     FacetCount(MODERATION_UNCHECKED, 1)]


def test_blur_set_is_the_flagged_images(library):
    shas = {hit.path.rsplit("/", 1)[-1]: hit.sha256 for hit in library.search(Query()).hits}
    assert library.unsafe(shas.values()) == {shas["flagged.jpg"]}


def test_stored_answer_is_rekognition_shaped(library):
    hit = next(h for h in library.search(Query(moderation=("Explicit Nudity",))).hits)
    [answer] = library.show(hit.path)["analyses"]["DetectModerationLabels"]
    assert answer["Engine"] == STUB and answer["Current"]
    assert answer["Response"]["ModerationLabels"] == [{"Name": "Explicit Nudity", "ParentName": "", "TaxonomyLevel": 1,
                                             "Confidence": 95.0}]


def test_cli_safe_only_and_moderation(library, capsys):
    from mediaapp.cli.main import main

    root = str(library.root)
    library.close()  # the command opens the library itself
    assert main(["--library", root, "search", "--safe-only", "--sort", "name"]) == 0
    assert [p.rsplit("/", 1)[-1] for p in capsys.readouterr().out.split()] == ["never.jpg", "undecided.jpg"]
    assert main(["--library", root, "search", "--moderation", "explicit nudity", "--json"]) == 0
    [item] = json.loads(capsys.readouterr().out)
    assert item["path"].endswith("flagged.jpg")
    assert {"Kind": "moderation", "Name": "Explicit Nudity", "Confidence": 95.0,
            "Source": STUB} in item["detections"]
    assert main(["--library", root, "search", "--moderation", "unchecked"]) == 0
    assert capsys.readouterr().out.strip().endswith("never.jpg")
