"""Faces in videos with the on-device engine: every face per sampled frame in GetFaceDetection, and a person the
user named (``people``) in GetCelebrityRecognition, both valid Rekognition Video shapes with timestamps."""

from __future__ import annotations

import pytest
from PIL import Image
from video_support import write_video

from mediaapp.analysis.engine_base import AnalysisParams, ImageRef
from mediaapp.analysis.local.engine import LocalEngine
from mediaapp.analysis.validate import validate_response
from mediaapp.core.apis import flatten
from mediaapp.core.types import Api, DetectionKind
from mediaapp.ingest.decode import open_rgb

pytestmark = pytest.mark.slow

FACES = "3_faces/face_recognition"


def test_a_named_person_is_recognised_in_a_videos_frames(testdata, tmp_path):
    obama = open_rgb(testdata / FACES / "obama.jpg")
    portrait = open_rgb(testdata / FACES / "biden.jpg", max(obama.size))
    biden = Image.new("RGB", obama.size)                      # the same frame size, his face undistorted
    biden.paste(portrait, ((obama.width - portrait.width) // 2, (obama.height - portrait.height) // 2))
    clip = write_video(tmp_path / "people.mp4", [obama, obama, biden, biden], fps=5)
    [(_, embedding)] = LocalEngine().faces.detect_and_embed(obama)
    engine = LocalEngine(people={"Barack Obama": [embedding.tolist()]})
    apis = [Api.GET_FACE_DETECTION, Api.GET_CELEBRITY_RECOGNITION]
    results, extras = engine.analyse_with_extras(apis, ImageRef("f" * 64, str(clip)), AnalysisParams())
    assert extras is None                                  # no People face records from videos (yet)
    faces, celebrities = results[Api.GET_FACE_DETECTION], results[Api.GET_CELEBRITY_RECOGNITION]
    validate_response("GetFaceDetection", faces)
    validate_response("GetCelebrityRecognition", celebrities)
    face_times = sorted({f["Timestamp"] for f in faces["Faces"]})
    assert face_times[0] == 0 and face_times[-1] >= 1_900     # Obama's frames, then Biden's
    named = [(c["Timestamp"], c["Celebrity"]["Name"]) for c in celebrities["Celebrities"]]
    assert named and all(name == "Barack Obama" and ms < 2_000 for ms, name in named)
    rows = flatten(Api.GET_CELEBRITY_RECOGNITION, celebrities, "local")
    assert {(r.kind, r.name) for r in rows} == {(DetectionKind.PERSON, "Barack Obama")}
    assert all(r.box is not None and r.timestamp_ms is not None for r in rows)
