"""A RAW+JPEG stack is one picture: when its JPEG (the file the stack is analysed through) is flagged as unsafe,
the grid's hit (the RAW) is blurred, as ``--safe-only`` leaves it out (``services.moderation.flagged``)."""

from __future__ import annotations

from support import open_replay_library, sha256_of, shoot_raw_jpeg

from mediaapp.core.types import Api, Detection, DetectionKind, Query


def test_a_stack_whose_jpeg_is_flagged_is_blurred_through_its_raw(testdata, tmp_path):
    raw, jpeg = shoot_raw_jpeg(testdata, tmp_path / "photos")
    lib = open_replay_library(testdata, tmp_path)
    try:
        assert lib.import_paths([raw.parent]).imported == 2
        raw_sha, jpeg_sha = sha256_of(raw), sha256_of(jpeg)
        label = {"Name": "Explicit Nudity", "ParentName": "", "Confidence": 95.0, "TaxonomyLevel": 1}
        api = Api.DETECT_MODERATION_LABELS.value
        lib.catalog.store_analysis(  # a moderation answer on the JPEG, as the pipeline stores it for the stack
            sha256=jpeg_sha, api=api, engine="recorded", engine_version="1", params="{}",
            response={"ModerationLabels": [label]},
            detections=[Detection(DetectionKind.MODERATION, "Explicit Nudity", 95.0, None, (), "recorded", api)])
        lib.sync_index()
        assert [h.sha256 for h in lib.search(Query()).hits] == [raw_sha]      # the stack's one hit is its RAW
        assert lib.search(Query(safe_only=True)).hits == []                    # --safe-only leaves it out...
        assert lib.unsafe([raw_sha]) == {raw_sha}                              # ...so its thumbnail is blurred
        assert lib.unsafe([jpeg_sha]) == {jpeg_sha}
    finally:
        lib.close()
