"""Unsafe content in videos: GetContentModeration on both engines, stored, validated and searched.

On-device: the local engine's video path (sampled frames, ``video_frames.analyse_video``) over a stubbed
Open-NSFW scorer that flags one scene of a video made with PyAV from two ordinary VOC photos
(``video_moderation_stub``): no unsafe picture is involved. Cloud: the rekognition engine's Rekognition Video job
through botocore's Stubber (the real service model), its pages merged, S3 on a moto server.
"""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pytest
from botocore.stub import ANY
from cloud.conftest import moto_server, s3_bucket  # noqa: F401  (the cloud suite's fixtures)
from cloud.stubs import StubbedRekognition
from PIL import Image
from video.video_support import write_video
from video_moderation_stub import VIDEO_STUB, StubVideoModerationEngine

from mediaapp.analysis.engine_base import AnalysisParams, ImageRef
from mediaapp.analysis.local.engine import LocalEngine
from mediaapp.analysis.rekognition import RekognitionEngine
from mediaapp.analysis.validate import ResponseValidationError, validate_response
from mediaapp.cloud import clients
from mediaapp.cloud.pricing import LEDGER_FILE, Ledger
from mediaapp.cloud.video_jobs import request_token
from mediaapp.core.apis import apis_for_media, flatten
from mediaapp.core.types import MODERATION_THRESHOLD, MODERATION_UNCHECKED, Api, DetectionKind, Query
from mediaapp.library import Library
from mediaapp.search.index_base import FacetCount

pytestmark = pytest.mark.slow

#: Two ordinary VOC photos: the stub flags frames that look like FLAGGED, never CLEAN.
CLEAN = "1_objects/voc/VOC2007/JPEGImages/000005.jpg"
FLAGGED = "1_objects/voc/VOC2007/JPEGImages/000004.jpg"
#: A real GetContentModeration page (aws-cli's example; it has a NextToken).
MODERATION_PAGE = "4_rekognition/awscli/get-content-moderation.json"


def _photo(testdata: Path, rel: str) -> Image.Image:
    return Image.open(testdata / rel).convert("RGB")


@pytest.fixture
def clips(testdata, tmp_path) -> Path:
    """``flagged.mp4``: 2 s of CLEAN then 2 s of FLAGGED (a scene change at 2 s); ``clean.mp4``: 2 s of CLEAN."""
    folder = tmp_path / "clips"
    folder.mkdir()
    clean, flagged = _photo(testdata, CLEAN), _photo(testdata, FLAGGED)
    write_video(folder / "flagged.mp4", [clean, clean, flagged, flagged])
    write_video(folder / "clean.mp4", [clean, clean])
    return folder


def _ref(path: Path) -> ImageRef:
    return ImageRef(hashlib.sha256(path.read_bytes()).hexdigest(), str(path))


def test_a_video_gets_get_content_moderation_in_place_of_detect_moderation_labels():
    assert apis_for_media([Api.DETECT_MODERATION_LABELS], "video") == [Api.GET_CONTENT_MODERATION]
    assert apis_for_media([Api.GET_CONTENT_MODERATION], "image") == []
    assert Api.GET_CONTENT_MODERATION in LocalEngine.descriptor.apis
    assert Api.GET_CONTENT_MODERATION in RekognitionEngine.descriptor.apis
    # opt-in in the cloud, as every paid API: never among an engine's defaults (a video gets it through
    # DetectModerationLabels, which is itself opt-in there)
    assert Api.GET_CONTENT_MODERATION not in RekognitionEngine.descriptor.default_apis
    assert Api.DETECT_MODERATION_LABELS not in RekognitionEngine.descriptor.default_apis


def test_on_device_answer_has_the_flagged_frame_at_its_time_and_validates(testdata, clips):
    engine = StubVideoModerationEngine(flag_like=str(testdata / FLAGGED))
    answer = engine.analyse(Api.GET_CONTENT_MODERATION, _ref(clips / "flagged.mp4"), AnalysisParams())
    validate_response("GetContentModeration", answer)
    assert engine.scored == [0.02, 0.95]   # one sampled frame per scene, the second flagged
    assert answer["JobStatus"] == "SUCCEEDED" and answer["ModerationModelVersion"] == "open-nsfw/stub+frames-1"
    assert answer["VideoMetadata"]["DurationMillis"] == 4000 and answer["VideoMetadata"]["Format"] == "MP4"
    assert answer["ModerationLabels"] == [{"Timestamp": 2000, "ModerationLabel": {
        "Name": "Explicit Nudity", "ParentName": "", "TaxonomyLevel": 1, "Confidence": 95.0}}]
    [row] = flatten(Api.GET_CONTENT_MODERATION, answer, "local")
    assert (row.kind, row.name, row.confidence, row.timestamp_ms, row.api, row.box) == (
        DetectionKind.MODERATION, "Explicit Nudity", 95.0, 2000, "GetContentModeration", None)
    # a clean video is answered too: checked, with no label
    clean = engine.analyse(Api.GET_CONTENT_MODERATION, _ref(clips / "clean.mp4"), AnalysisParams())
    validate_response("GetContentModeration", clean)
    assert clean["ModerationLabels"] == []


@pytest.mark.parametrize("name", ["photoprism_example.mp4", "photoprism_earth.avi"])
def test_the_real_model_on_the_shared_videos_answers_valid_shapes_and_flags_nothing(testdata, name):
    path = testdata / "7_video" / name
    engine = LocalEngine(faces_enabled=False)
    answer = engine.analyse(Api.GET_CONTENT_MODERATION, _ref(path), AnalysisParams())
    validate_response("GetContentModeration", answer)
    assert answer["ModerationModelVersion"].startswith("open-nsfw/1.") and answer["VideoMetadata"]["DurationMillis"]
    assert [e for e in answer["ModerationLabels"] if e["ModerationLabel"]["Confidence"] >= MODERATION_THRESHOLD] == []


def test_a_moderation_entry_without_its_timestamp_is_refused():
    answer = {"JobStatus": "SUCCEEDED", "ModerationLabels": [{"ModerationLabel": {"Name": "Violence",
                                                                                   "Confidence": 90.0}}],
              "VideoMetadata": {"DurationMillis": 1000, "FrameHeight": 10, "FrameWidth": 10}}
    with pytest.raises(ResponseValidationError, match="Timestamp"):
        validate_response("GetContentModeration", answer)
    with pytest.raises(ResponseValidationError, match="ModerationLabels"):
        validate_response("GetContentModeration", {"JobStatus": "SUCCEEDED", "VideoMetadata": answer["VideoMetadata"]})


@pytest.fixture
def video_library(testdata, tmp_path, clips):
    """A library whose two videos were imported with the stubbed on-device engine's moderation."""
    settings = {"engines": [VIDEO_STUB], "workers": 1, "apis": [Api.DETECT_MODERATION_LABELS.value],
                "engine_config": {VIDEO_STUB: {"flag_like": str(testdata / FLAGGED)}}}
    lib = Library(tmp_path / "lib", settings=settings)
    report = lib.import_paths([clips])
    assert report.imported == 2 and not report.failed
    yield lib
    lib.close()


def _names(lib: Library, query: Query) -> set[str]:
    return {hit.path.rsplit("/", 1)[-1] for hit in lib.search(query).hits}


def test_a_flagged_video_is_found_by_moderation_and_left_out_by_safe_only(video_library, clips):
    assert _names(video_library, Query(moderation=("Explicit Nudity",))) == {"flagged.mp4"}
    assert _names(video_library, Query(safe_only=True)) == {"clean.mp4"}
    # the clean video was checked: it is neither "unchecked" in the filter nor in the facet
    assert _names(video_library, Query(moderation=(MODERATION_UNCHECKED,))) == set()
    assert video_library.facets(Query(), "moderation") == [FacetCount("Explicit Nudity", 1)]
    shas = {hit.path.rsplit("/", 1)[-1]: hit.sha256 for hit in video_library.search(Query()).hits}
    assert video_library.unsafe(shas.values()) == {shas["flagged.mp4"]}

    shown = video_library.show(clips / "flagged.mp4")
    [stored] = shown["analyses"]["GetContentModeration"]
    assert stored["Engine"] == VIDEO_STUB and stored["Current"]
    validate_response("GetContentModeration", stored["Response"])
    assert [(e["Timestamp"], e["ModerationLabel"]["Name"]) for e in stored["Response"]["ModerationLabels"]] == [
        (2000, "Explicit Nudity")]
    assert "DetectModerationLabels" not in shown["analyses"]          # a video gets the video API only


def test_cli_moderation_and_safe_only_with_videos(video_library, capsys):
    from mediaapp.cli.main import main

    root = str(video_library.root)
    video_library.close()  # the command opens the library itself
    assert main(["--library", root, "search", "--safe-only"]) == 0
    assert [p.rsplit("/", 1)[-1] for p in capsys.readouterr().out.split()] == ["clean.mp4"]
    assert main(["--library", root, "search", "--moderation", "explicit nudity", "--json"]) == 0
    [item] = json.loads(capsys.readouterr().out)
    assert item["path"].endswith("flagged.mp4")
    assert any(d["Kind"] == "moderation" and d["Name"] == "Explicit Nudity" and d["Confidence"] == 95.0
               for d in item["detections"])
    assert main(["--library", root, "search", "--moderation", "unchecked"]) == 0
    assert capsys.readouterr().out.strip() == ""


# -- the cloud: Rekognition Video through the Stubber ---------------------------------------------------------

def test_rekognition_video_moderation_pages_are_merged_stored_and_searched(fake_aws, testdata, tmp_path, clips,
                                                                         s3_bucket):  # noqa: F811
    endpoint, bucket, _s3 = s3_bucket
    first = json.loads((testdata / MODERATION_PAGE).read_text(encoding="utf-8"))
    last = copy.deepcopy(first)
    del last["NextToken"]
    last["ModerationLabels"] = [{"Timestamp": 2500, "ModerationLabel": {
        "Confidence": 61.5, "ParentName": "", "Name": "Suggestive", "TaxonomyLevel": 1}}]
    rek = StubbedRekognition(s3_factory=lambda config: clients.default_client("s3", config))
    start = {"Video": ANY, "ClientRequestToken": ANY, "JobTag": ANY, "MinConfidence": ANY}
    rek.stubber.add_response("start_content_moderation", {"JobId": "job-moderation-1"}, start)
    rek.stubber.add_response("get_content_moderation", first)
    rek.stubber.add_response("get_content_moderation", last)
    video = clips / "flagged.mp4"
    (clips / "clean.mp4").unlink()
    config = {"tps": 1000, "max_concurrency": 1, "region": "us-east-1", "upload": "original", "bucket": bucket,
              "endpoint_url": endpoint}
    lib = Library(tmp_path / "lib", settings={"workers": 1, "engines": ["rekognition"],
                                              "engine_config": {"rekognition": config}})
    try:
        est = lib.costs.estimate([clips], ["moderation"], "rekognition")
        assert est.minutes_by_api == {"GetContentModeration": 1} and est.usd == pytest.approx(0.10)
        report = lib.import_paths([clips], apis=["moderation"])
        rek.stubber.assert_no_pending_responses()
        assert not report.failed
        starts = [c for c in rek.calls if c[0].startswith("Start")]
        assert [op for op, _ in starts] == ["StartContentModeration"]
        sha = hashlib.sha256(video.read_bytes()).hexdigest()
        assert starts[0][1]["ClientRequestToken"] == request_token(sha, "GetContentModeration",
                                                                   {"MinConfidence": 50.0})
        shown = lib.show(video)
        [stored] = shown["analyses"]["GetContentModeration"]
        assert stored["Engine"] == "rekognition"
        merged = stored["Response"]
        assert merged["JobStatus"] == "SUCCEEDED" and "NextToken" not in merged
        assert merged["ModerationLabels"] == first["ModerationLabels"] + last["ModerationLabels"]
        rows = flatten(Api.GET_CONTENT_MODERATION, merged, "rekognition")
        assert sorted((r.timestamp_ms, r.name, r.parents) for r in rows) == [
            (0, "Violence", ()), (0, "Weapon Violence", ("Violence",)), (2500, "Suggestive", ())]

        assert _names(lib, Query(moderation=("Weapon Violence",))) == {"flagged.mp4"}
        assert _names(lib, Query(moderation=("Violence",))) == {"flagged.mp4"}        # by its ParentName too
        assert _names(lib, Query(safe_only=True)) == set()                             # 97.4 >= 80: flagged
        assert _names(lib, Query(moderation=(MODERATION_UNCHECKED,))) == set()
        spent = Ledger(tmp_path / "lib" / LEDGER_FILE)
        assert spent.month_spend() == pytest.approx(0.10)                             # 1 minute x $0.10
        spent.close()
    finally:
        lib.close()
