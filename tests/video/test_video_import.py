"""Videos through the whole pipeline with the on-device engine: poster, duration, timestamped Get* answers that
validate against botocore's Rekognition Video shapes, found by label and by text, and a damaged video as one
error while the rest of the folder imports."""

from __future__ import annotations

import shutil

import pytest
from PIL import Image
from PySide6.QtCore import Qt
from video_support import VOC_PLANES, write_video

from mediaapp.analysis.validate import validate_response
from mediaapp.cli.main import main
from mediaapp.core.apis import flatten
from mediaapp.core.types import Api, DetectionKind, Query
from mediaapp.library import Library

pytestmark = pytest.mark.slow

VIDEO_APIS = ("GetLabelDetection", "GetTextDetection", "GetFaceDetection", "GetCelebrityRecognition")


@pytest.fixture(scope="module")
def imported(testdata, tmp_path_factory):
    """A library that imported the shared videos, a made one with aeroplanes, a cut-short one and a photo."""
    tmp = tmp_path_factory.mktemp("videos")
    folder = tmp / "clips"
    folder.mkdir()
    for name in ("photoprism_earth.avi", "photoprism_example.mp4"):
        shutil.copy(testdata / "7_video" / name, folder / name)
    photo = Image.open(testdata / VOC_PLANES).convert("RGB")
    write_video(folder / "planes.mp4", [Image.new("RGB", photo.size), photo, photo])
    text = Image.open(testdata / "2_text/tesseract/HelloGoogle.tif").convert("RGB")
    write_video(folder / "hello.avi", [text, text], fps=5)
    (folder / "cut.mp4").write_bytes((testdata / "7_video/photoprism_example.mp4").read_bytes()[:20_000])
    shutil.copy(testdata / VOC_PLANES, folder / "still.jpg")
    lib = Library(tmp / "lib", settings={"engines": ["local"], "workers": 1})
    report = lib.import_paths([folder])
    yield lib, folder, report
    lib.close()


def test_the_videos_import_with_poster_and_duration(imported):
    lib, folder, report = imported
    assert report.imported == 5
    assert [(p.path.rsplit("/", 1)[-1], p.stage) for p in report.failed] == [("cut.mp4", "decode")]
    assert "FFmpeg" in report.failed[0].message and report.failed[0].message.startswith("cannot decode MP4 video:")
    for name, duration in (("photoprism_earth.avi", 30_033), ("photoprism_example.mp4", 2_410),
                           ("planes.mp4", 3_000)):
        sha = lib.show(folder / name)["sha256"]
        asset = lib.assets([sha])[sha]
        assert asset.media_kind == "video" and abs(asset.duration_ms - duration) < 150, name
        with Image.open(asset.thumbnail) as poster:
            assert max(poster.size) == 320
    still = lib.show(folder / "still.jpg")["sha256"]
    assert lib.assets([still])[still].media_kind == "image"


def test_answers_are_rekognition_video_shapes_with_timestamps(imported):
    lib, folder, _ = imported
    for name in ("photoprism_earth.avi", "photoprism_example.mp4", "planes.mp4"):
        shown = lib.show(folder / name)
        assert not {"DetectLabels", "DetectText"} & set(shown)        # videos get the video APIs instead
        for api in VIDEO_APIS:
            response = shown[api]
            validate_response(api, response)
            assert response["JobStatus"] == "SUCCEEDED" and response["VideoMetadata"]["DurationMillis"] > 0
    labels = lib.show(folder / "planes.mp4")["GetLabelDetection"]
    planes = [entry for entry in labels["Labels"] if entry["Label"]["Name"] == "Airplane"]
    assert planes and all(900 <= entry["Timestamp"] <= 3_000 for entry in planes)   # not in the black second
    rows = flatten(Api.GET_LABEL_DETECTION, labels, "local")
    assert {r.timestamp_ms for r in rows if r.name == "Airplane"} == {e["Timestamp"] for e in planes}
    assert all(r.kind is DetectionKind.LABEL and r.api == "GetLabelDetection" for r in rows)


def test_videos_are_found_by_what_appears_in_them(imported, capsys):
    lib, folder, _ = imported
    hits = {h.path.rsplit("/", 1)[-1] for h in lib.search(Query(labels=("Airplane",))).hits}
    assert hits == {"planes.mp4", "still.jpg"}
    capsys.readouterr()
    assert main(["--library", str(lib.root), "search", "--label", "Airplane"]) == 0
    out = capsys.readouterr().out
    assert str(folder / "planes.mp4") in out and "photoprism" not in out
    hits = {h.path.rsplit("/", 1)[-1] for h in lib.search(Query(text="hello google")).hits}
    assert hits == {"hello.avi"}                                      # the words read in its frames


def test_the_detail_view_lists_a_videos_text(imported):
    from mediaapp.ui.detail import load_detail

    lib, folder, _ = imported
    path = str(folder / "hello.avi")
    data = load_detail(lib, lib.show(path)["sha256"], path, max_side=320)
    assert "Hello Google" in " ".join(data.text) and len(data.text) == len(set(data.text))   # each line once
    assert data.timeline and all(d.timestamp_ms is not None for d in data.timeline)


def test_the_detail_view_shows_a_timeline_and_a_picked_frame(imported, qtbot):
    from mediaapp.ui.background import BackgroundRunner
    from mediaapp.ui.detail import DetailView

    lib, folder, _ = imported
    path = str(folder / "planes.mp4")
    sha = lib.show(path)["sha256"]
    runner = BackgroundRunner()
    view = DetailView(runner)
    qtbot.addWidget(view)
    try:
        with qtbot.waitSignal(view.loaded, timeout=60_000):
            view.show_row(lib, sha, path)
        assert view.tabs.isTabVisible(view.timeline_tab) and view.canvas.detections == []   # no boxes on the poster
        rows = [view.timeline_list.item(i) for i in range(view.timeline_list.count())]
        plane_rows = [r for r in rows if "Airplane" in r.text()]
        assert plane_rows and plane_rows[0].text().startswith("0:0")
        view.canvas.set_image(None, None, "")
        view.timeline_list.setCurrentItem(plane_rows[0])                 # decoded on a worker, then shown
        qtbot.waitUntil(lambda: view.canvas.pixmap is not None, timeout=30_000)
        ms = plane_rows[0].data(Qt.ItemDataRole.UserRole)
        assert view.canvas.detections and all(d.timestamp_ms == ms and d.box is not None
                                              for d in view.canvas.detections)
        assert {d.name for d in view.canvas.detections} <= set(plane_rows[0].text().split("   ", 1)[1].split(", "))
        assert view.canvas.pixmap.toImage().pixelColor(10, 10).lightness() > 20       # the photo, not black
    finally:
        runner.shutdown()


def test_rekognition_without_a_bucket_leaves_videos_to_the_local_engine(testdata, tmp_path):
    folder = tmp_path / "clip"
    folder.mkdir()
    shutil.copy(testdata / "7_video/photoprism_example.mp4", folder / "clip.mp4")
    lib = Library(tmp_path / "lib", settings={"engines": ["rekognition"], "workers": 1})
    try:
        report = lib.import_paths([folder])
        shown = lib.show(folder / "clip.mp4")
    finally:
        lib.close()
    assert [(p.path, p.stage) for p in report.failed] == [("rekognition", "analysis:video")]
    assert report.failed[0].message == ("1 video(s) analysed on this computer instead: Rekognition Video reads "
                                        "videos from S3 only, and this library has no bucket (or uploads are off)")
    assert set(VIDEO_APIS) <= set(shown)                              # answered on-device, nothing sent


def test_video_apis_replace_image_apis_by_declaration():
    from mediaapp.core.apis import apis_for_media
    image = [Api.DETECT_LABELS, Api.DETECT_TEXT, Api.RECOGNIZE_CELEBRITIES, Api.DETECT_MODERATION_LABELS]
    assert apis_for_media(image, "video") == [Api.GET_LABEL_DETECTION, Api.GET_TEXT_DETECTION,
                                              Api.GET_FACE_DETECTION, Api.GET_CELEBRITY_RECOGNITION,
                                              Api.GET_CONTENT_MODERATION]
    assert apis_for_media([*image, Api.GET_TEXT_DETECTION], "image") == image
