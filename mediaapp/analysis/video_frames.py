"""On-device video analysis: the image analyses run on sampled frames, merged into Rekognition Video's answers.

A video asset gets the video ``Get*`` APIs in place of the image ones
(``mediaapp.core.apis.apis_for_media``). An on-device engine answers them
with ``analyse_video``: the frames ``mediaapp.ingest.media.frames_for_analysis``
samples (scene changes, every 2 s, at most 48; ``mediaapp.ingest.video``)
each go through the engine's own image analyses (``IMAGE_API_OF``: labels
for GetLabelDetection, text for GetTextDetection, faces for
GetFaceDetection and GetCelebrityRecognition, DetectModerationLabels for
GetContentModeration), and every frame's findings
are stored with the frame's ``Timestamp`` (ms) in the shape a finished
Rekognition Video job answers (``JobStatus`` ``SUCCEEDED``, ``VideoMetadata``;
see the API reference of ``GetLabelDetection``, ``GetTextDetection``,
``GetFaceDetection``, ``GetCelebrityRecognition`` and ``GetContentModeration``). Entries are in time
order, as Rekognition's default ``SortBy=TIMESTAMP`` gives them.

Rekognition's own video analysis (Start*/Get* jobs on an S3 object) is the
cloud runner's (``mediaapp.cloud.video_jobs``); this module never calls the network.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PIL import Image

from mediaapp.core.analysis import AnalysisError
from mediaapp.core.types import Api, Json
from mediaapp.ingest.decode import DecodeError
from mediaapp.ingest.media import frames_for_analysis
from mediaapp.ingest.video import MAX_SAMPLES, SAMPLE_EVERY_S, SCENE_CHANGE_MIN_DIFF, VideoInfo

__all__ = ["FRAMES_KEY", "FRAMES_VERSION", "IMAGE_API_OF", "analyse_video", "merge", "video_metadata"]

#: The image API whose answer on each frame makes each video API's entries.
IMAGE_API_OF: dict[Api, Api] = {
    Api.GET_LABEL_DETECTION: Api.DETECT_LABELS,
    Api.GET_TEXT_DETECTION: Api.DETECT_TEXT,
    Api.GET_FACE_DETECTION: Api.RECOGNIZE_CELEBRITIES,
    Api.GET_CELEBRITY_RECOGNITION: Api.RECOGNIZE_CELEBRITIES,
    Api.GET_CONTENT_MODERATION: Api.DETECT_MODERATION_LABELS,
}
#: The frame sampler's version, joined to the image models' versions in a video API's model version.
FRAMES_VERSION = "frames-1"
#: The sampling settings as a cache-key part (``LocalParams.key``): other settings analyse the videos again.
FRAMES_KEY = f"Frames=every{SAMPLE_EVERY_S:g}s,max{MAX_SAMPLES},scene{SCENE_CHANGE_MIN_DIFF:g}"

#: Answers one frame: ``(picture, image APIs) -> {api: response or AnalysisError}`` (an engine's own analyses).
AnalysePicture = Callable[[Image.Image, list[Api]], "dict[Api, Json | AnalysisError]"]


def video_metadata(info: VideoInfo) -> Json:
    """Rekognition's ``VideoMetadata`` of ``info``: Codec, DurationMillis, Format, FrameRate, FrameHeight, FrameWidth.

    ``Format`` is the sniffed container name (``MP4``, ``AVI``); the frame
    size is the displayed one; ``FrameRate`` is left out when unknown.
    """
    meta: Json = {"Codec": info.codec, "DurationMillis": info.duration_ms, "Format": info.format,
                  "FrameHeight": info.height, "FrameWidth": info.width}
    if info.frame_rate is not None:
        meta["FrameRate"] = float(info.frame_rate)
    return meta


def _celebrity_detail(celeb: Json) -> Json:
    """A RecognizeCelebrities ``Celebrity`` as Rekognition Video's ``CelebrityDetail``."""
    face = dict(celeb.get("Face") or {})
    detail: Json = {"Urls": list(celeb.get("Urls", [])), "Name": celeb["Name"], "Id": celeb.get("Id", ""),
                    "Confidence": float(celeb.get("MatchConfidence") or face.get("Confidence") or 0.0)}
    if "BoundingBox" in face:
        detail["BoundingBox"] = face["BoundingBox"]
    if face:
        detail["Face"] = face
    if "KnownGender" in celeb:
        detail["KnownGender"] = celeb["KnownGender"]
    return detail


def merge(api: Api, frames: Sequence[tuple[int, Json]], metadata: Json, version: str) -> Json:
    """The ``api`` (a video ``Get*``) answer made of each frame's image answer (``IMAGE_API_OF[api]``).

    ``frames``: ``(timestamp in ms, image response)`` in time order;
    ``metadata``: the ``VideoMetadata``; ``version``: the model version
    (``LabelModelVersion`` / ``TextModelVersion`` / ``ModerationModelVersion``). Raises ``ValueError``
    for an API that is not a video API.
    """
    out: Json = {"JobStatus": "SUCCEEDED", "VideoMetadata": metadata}
    if api is Api.GET_LABEL_DETECTION:
        out["Labels"] = [{"Timestamp": ts, "Label": label} for ts, r in frames for label in r.get("Labels", [])]
        out["LabelModelVersion"] = version
    elif api is Api.GET_TEXT_DETECTION:
        out["TextDetections"] = [{"Timestamp": ts, "TextDetection": det}
                                 for ts, r in frames for det in r.get("TextDetections", [])]
        out["TextModelVersion"] = version
    elif api is Api.GET_FACE_DETECTION:
        out["Faces"] = [{"Timestamp": ts, "Face": face} for ts, r in frames
                        for face in [c["Face"] for c in r.get("CelebrityFaces", []) if "Face" in c]
                        + list(r.get("UnrecognizedFaces", []))]
    elif api is Api.GET_CELEBRITY_RECOGNITION:
        out["Celebrities"] = [{"Timestamp": ts, "Celebrity": _celebrity_detail(c)}
                              for ts, r in frames for c in r.get("CelebrityFaces", [])]
    elif api is Api.GET_CONTENT_MODERATION:  # ContentModerationDetection: Timestamp, ModerationLabel
        out["ModerationLabels"] = [{"Timestamp": ts, "ModerationLabel": label}
                                   for ts, r in frames for label in r.get("ModerationLabels", [])]
        out["ModerationModelVersion"] = version
    else:
        raise ValueError(f"{api.value} is not a video API")
    return out


def analyse_video(apis: Sequence[Api], path: str, analyse_picture: AnalysePicture,
                  version: Callable[[Api], str]) -> dict[Api, Json | AnalysisError]:
    """Answer the video ``apis`` for the video at ``path`` from ``analyse_picture``'s answers on its sampled frames.

    ``version(api)`` gives each video API's model version. Each frame is
    analysed once for every image API the ``apis`` need. A frame whose
    analysis failed is left out of that API's answer; an API no frame could
    be analysed for gets the first frame's ``AnalysisError``. Raises
    ``AnalysisError`` (``InvalidImageFormatException``) when the video
    cannot be decoded, ``Unreadable`` when it cannot be read, and
    ``ValueError`` for an API that is not a video API.
    """
    unknown = [api.value for api in apis if api not in IMAGE_API_OF]
    if unknown:
        raise ValueError(f"{', '.join(unknown)} is not a video API")
    wanted = [IMAGE_API_OF[api] for api in apis]
    try:
        info, frames = frames_for_analysis(path)
    except DecodeError as exc:
        raise AnalysisError(f"cannot decode video: {exc}", "InvalidImageFormatException") from exc
    except OSError as exc:
        raise AnalysisError(f"cannot read the file: {exc.strerror or exc}", "Unreadable") from exc
    needed = list(dict.fromkeys(wanted))
    answers: dict[Api, list[tuple[int, Json]]] = {a: [] for a in needed}
    errors: dict[Api, AnalysisError] = {}
    pending = iter(frames)  # decoded as they are taken: one frame held at a time
    while True:
        try:
            frame = next(pending, None)
        except DecodeError as exc:
            raise AnalysisError(f"cannot decode video: {exc}", "InvalidImageFormatException") from exc
        except OSError as exc:
            raise AnalysisError(f"cannot read the file: {exc.strerror or exc}", "Unreadable") from exc
        if frame is None:
            break
        for image_api, result in analyse_picture(frame.image, needed).items():
            if isinstance(result, AnalysisError):
                errors.setdefault(image_api, result)
            else:
                answers[image_api].append((frame.timestamp_ms, result))
    metadata = video_metadata(info)
    out: dict[Api, Json | AnalysisError] = {}
    for api, image_api in zip(apis, wanted):
        if not answers[image_api] and image_api in errors:
            out[api] = errors[image_api]
        else:
            out[api] = merge(api, answers[image_api], metadata, version(api))
    return out
