"""Video ingest (``mediaapp.ingest.video`` and its ``VideoHandler``): sniffing, headers, poster, sampled frames,
and one clear error for a damaged or oversized file. Real files: the shared videos and ones PyAV writes here."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from mediaapp.ingest import media, video
from mediaapp.ingest.decode import DecodeError
from mediaapp.ingest.ingest_worker import process_file

EARTH = "7_video/photoprism_earth.avi"
EXAMPLE = "7_video/photoprism_example.mp4"


def test_the_shared_videos_are_sniffed_and_probed(testdata):
    earth, example = testdata / EARTH, testdata / EXAMPLE
    assert media.sniff_path(earth).handler.kind == "video" and media.sniff_format(earth) == "AVI"
    assert media.sniff_format(example) == "MP4"
    info = video.probe_video(earth)
    assert (info.codec, info.width, info.height, info.frame_rate) == ("h264", 480, 270, 30.0)
    assert 29_900 <= info.duration_ms <= 30_100 and info.taken_at is None
    info = video.probe_video(example)
    assert (info.width, info.height) == (270, 480) and 2_300 <= info.duration_ms <= 2_500
    assert info.taken_at == "2020-05-11T14:18:35+00:00"       # the container's creation_time, UTC


def test_still_images_stay_the_image_handlers(testdata):
    assert media.sniff_path(testdata / "1_objects/voc/VOC2012/JPEGImages/2007_000032.jpg").handler.kind == "image"
    heif = next((p for p in (testdata / "5_formats").rglob("*") if p.suffix.lower() in (".heic", ".avif")), None)
    if heif is not None:
        assert media.sniff_path(heif).handler.kind == "image"
    assert video.sniff_video(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic") is None
    assert video.sniff_video(b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2") == "MP4"
    assert video.sniff_video(b"RIFF\x00\x00\x00\x00AVI LIST") == "AVI"
    assert video.sniff_video(b"RIFF\x00\x00\x00\x00WEBPVP8 ") is None


def test_describe_writes_the_poster_and_the_video_fields(testdata, tmp_path):
    result = process_file(str(testdata / EXAMPLE), str(tmp_path / "thumbs"))
    assert result.ok, result.error
    assert (result.media_kind, result.format, result.codec) == ("video", "MP4", "h264")
    assert (result.width, result.height) == (270, 480) and 2_300 <= result.duration_ms <= 2_500
    assert result.taken_at == "2020-05-11T14:18:35+00:00" and result.frame_rate > 0
    with Image.open(result.thumbnail) as thumb:
        assert max(thumb.size) == 320 and thumb.height > thumb.width   # a portrait poster


def test_the_poster_skips_a_black_start(planes_video):
    poster, info = video.poster_frame(planes_video)
    assert np.asarray(poster.convert("L")).mean() > 40                # the photo, not the black second
    assert info.taken_at == "2021-06-01T10:20:30+00:00"


def test_samples_keep_scene_changes_with_timestamps(planes_video, make_video):
    frames = video.sample_frames(planes_video, every_s=0.5)
    stamps = [f.timestamp_ms for f in frames]
    assert stamps[0] == 0 and stamps == sorted(stamps)
    assert len(frames) == 2 and 1_900 <= stamps[1] <= 2_100          # black, then the cut to the photo
    every = video.sample_frames(planes_video, every_s=0.5, min_diff=0)
    assert len(every) == 9                                           # 0-4 s every 0.5 s: nothing dropped
    grey = [Image.new("RGB", (64, 48), (v, v, v)) for v in range(0, 250, 10)]
    long = make_video("long.avi", grey, fps=5, seconds_each=2.0)     # 50 s, a new shade every 2 s
    capped = video.sample_frames(long, every_s=1.0, max_samples=10, min_diff=0)
    assert len(capped) == 10 and capped[-1].timestamp_ms >= 40_000    # stretched over the whole video


def test_a_frame_at_a_timestamp(planes_video):
    assert np.asarray(media.video_frame(planes_video, 500).convert("L")).mean() < 5
    assert np.asarray(media.video_frame(planes_video, 3_000).convert("L")).mean() > 40


@pytest.mark.parametrize("cut", [64, 20_000])
def test_a_cut_short_video_is_one_clear_error(testdata, tmp_path, cut):
    bad = tmp_path / "cut.mp4"
    bad.write_bytes((testdata / EXAMPLE).read_bytes()[:cut])
    result = process_file(str(bad), str(tmp_path / "thumbs"))
    assert result.error_stage == "decode" and "\n" not in result.error
    assert "FFmpeg" in result.error or "cut short" in result.error


def test_oversized_headers_are_refused_before_decoding(testdata, monkeypatch):
    monkeypatch.setattr(video, "MAX_PIXELS", 100 * 100)
    with pytest.raises(DecodeError, match="exceeds the limit"):
        video.probe_video(testdata / EARTH)
    monkeypatch.setattr(video, "MAX_PIXELS", 8192 * 8192)
    monkeypatch.setattr(video, "MAX_DURATION_S", 10)
    with pytest.raises(DecodeError, match="duration"):
        video.sample_frames(testdata / EARTH)


def test_an_audio_only_file_has_no_video_stream(tmp_path):
    import av
    path = tmp_path / "sound.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), dtype=np.float32), format="fltp", layout="mono")
        frame.sample_rate = 8000
        for _ in range(4):
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with pytest.raises(DecodeError, match="no video stream"):
        video.probe_video(path)


def test_the_grid_badge_and_the_timeline_read_a_videos_times():
    from mediaapp.core.types import Asset
    from mediaapp.ui.delegate import duration_badge
    from mediaapp.ui.detail import timestamp_text

    clip = Asset("0" * 64, 1, "MP4", 2, 2, media_kind="video", duration_ms=2_410)
    assert duration_badge(clip) == "0:02"
    assert duration_badge(Asset("1" * 64, 1, "AVI", 2, 2, media_kind="video", duration_ms=3_723_000)) == "1:02:03"
    assert duration_badge(Asset("2" * 64, 1, "JPEG", 2, 2)) is None
    assert timestamp_text(2_010) == "0:02.0" and timestamp_text(61_500) == "1:01.5"


@pytest.mark.parametrize(("name", "codec", "fmt"), [("clip.mkv", "mpeg4", "MKV"), ("clip.webm", "libvpx-vp9", "WEBM"),
                                                   ("clip.mov", "mpeg4", "MOV"), ("clip.flv", "flv", "FLV"),
                                                   ("clip.wmv", "wmv2", "WMV"), ("clip.avi", "mpeg4", "AVI")])
def test_each_container_is_sniffed_probed_and_sampled(make_video, name, codec, fmt):
    red, green = Image.new("RGB", (64, 48), (200, 10, 10)), Image.new("RGB", (64, 48), (10, 200, 10))
    clip = make_video(name, [red, green], codec=codec, fps=10)
    assert media.sniff_format(clip) == fmt and media.sniff_path(clip).handler.media == "video"
    assert 1_900 <= video.probe_video(clip).duration_ms <= 2_100
    frames = video.sample_frames(clip)
    assert frames[0].timestamp_ms == 0 and len(frames) == 2                 # red, then the cut to green
    assert frames[1].image.getpixel((32, 24))[1] > 150
