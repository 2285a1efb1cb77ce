"""The analysis APIs as data: one ``ApiSpec`` per Rekognition operation every engine may answer.

An entry gives the operation (the ``Api`` member, whose value is the
operation name: the catalog's key, ``mediaapp show --json``'s key and the
price table's entry), its short ``--apis`` name, its title in dialogs,
whether a library analyses it by default, the detection kinds it adds to the
search projection, and the function that flattens its response into
``Detection`` rows. Adding an API is one ``Api`` member, one entry here with
its flatten function, and its price in ``resources/prices.json``;
``tests/core/test_flatten.py`` checks that every member has an entry.

Pure data and functions: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mediaapp.core.responses import (
    flatten_celebrities,
    flatten_celebrity_recognition,
    flatten_content_moderation,
    flatten_face_detection,
    flatten_faces,
    flatten_label_detection,
    flatten_labels,
    flatten_moderation,
    flatten_text,
    flatten_text_detection,
)
from mediaapp.core.types import LOCAL_ENGINE, Api, Detection, DetectionKind, Json

__all__ = ["API_SPECS", "ApiSpec", "apis_for_media", "default_apis", "engine_apis", "flatten", "on_by_default",
           "parse_api", "short_names", "spec"]


@dataclass(frozen=True)
class ApiSpec:
    """One analysis API: see the module docstring for what each field drives.

    ``default``: whether engines that cost nothing (on-device) run it when a
    run names no APIs; ``paid_default``: the same for engines that cost money
    (``EngineDescriptor.costs_money``), None meaning "as ``default``". An API
    cheap on-device but paid per image in the cloud (DetectFaces) is
    ``default=True, paid_default=False``: opt-in in the cloud.
    """

    api: Api
    short: str
    title: str
    kinds: tuple[DetectionKind, ...]
    flatten: Callable[[Json, str], list[Detection]]
    default: bool = True
    paid_default: bool | None = None
    #: What the API analyses: ``"image"`` or ``"video"`` (an asset's ``media_kind``); ``video``: for an image
    #: API, the video APIs a video asset gets in its place (``apis_for_media``); none: videos skip it.
    media: str = "image"
    video: tuple[Api, ...] = ()

    def on_by_default(self, paid: bool = False) -> bool:
        """Whether an engine runs this API when a run names none; ``paid``: the engine costs money."""
        return self.default if not paid or self.paid_default is None else self.paid_default


#: Every API, in the order dialogs and ``--apis`` list them.
API_SPECS: dict[Api, ApiSpec] = {s.api: s for s in (
    ApiSpec(Api.DETECT_LABELS, "labels", "Labels and objects", (DetectionKind.LABEL,), flatten_labels,
            video=(Api.GET_LABEL_DETECTION,)),
    ApiSpec(Api.DETECT_TEXT, "text", "Text (OCR)", (DetectionKind.TEXT,), flatten_text,
            video=(Api.GET_TEXT_DETECTION,)),
    ApiSpec(Api.RECOGNIZE_CELEBRITIES, "celebrities", "Faces and people",
            (DetectionKind.PERSON, DetectionKind.FACE), flatten_celebrities,
            video=(Api.GET_FACE_DETECTION, Api.GET_CELEBRITY_RECOGNITION)),
    ApiSpec(Api.DETECT_FACES, "faces", "Face details (eyes, smile, pose)",
            (DetectionKind.FACE_ATTRIBUTE,), flatten_faces, default=True, paid_default=False,
            video=(Api.GET_FACE_DETECTION,)),
    # On by default on-device (free, Open-NSFW); opt-in in the cloud (paid per image).
    ApiSpec(Api.DETECT_MODERATION_LABELS, "moderation", "Unsafe content (moderation)",
            (DetectionKind.MODERATION,), flatten_moderation, default=True, paid_default=False,
            video=(Api.GET_CONTENT_MODERATION,)),
    # Rekognition Video's Get* answers: a video asset gets them in place of the image APIs above (their
    # ``video``), so they are never asked for by name by default; each finding carries its Timestamp (ms).
    ApiSpec(Api.GET_LABEL_DETECTION, "video-labels", "Labels and objects in videos", (DetectionKind.LABEL,),
            flatten_label_detection, default=False, media="video"),
    ApiSpec(Api.GET_TEXT_DETECTION, "video-text", "Text in videos", (DetectionKind.TEXT,),
            flatten_text_detection, default=False, media="video"),
    ApiSpec(Api.GET_FACE_DETECTION, "video-faces", "Faces in videos", (DetectionKind.FACE,),
            flatten_face_detection, default=False, media="video"),
    ApiSpec(Api.GET_CELEBRITY_RECOGNITION, "video-people", "People in videos", (DetectionKind.PERSON,),
            flatten_celebrity_recognition, default=False, media="video"),
    ApiSpec(Api.GET_CONTENT_MODERATION, "video-moderation", "Unsafe content in videos", (DetectionKind.MODERATION,),
            flatten_content_moderation, default=False, media="video"),
)}


def spec(api: Api | str) -> ApiSpec:
    """The entry of ``api`` (a member or an operation name); ``ValueError`` for an unknown one."""
    return API_SPECS[Api(api)]


def parse_api(name: str) -> Api:
    """The ``Api`` for an operation name (``DetectLabels``) or a short ``--apis`` name (``labels``, any case).

    Raises ``ValueError`` naming the accepted names otherwise.
    """
    key = name.strip()
    for entry in API_SPECS.values():
        if key == entry.api.value or key.lower() == entry.short:
            return entry.api
    names = ", ".join(f"{s.short} ({s.api.value})" for s in API_SPECS.values())
    raise ValueError(f"unknown analysis {name!r}; expected one of {names}")


def short_names() -> str:
    """The short ``--apis`` names, comma-separated in registry order (``labels,text,celebrities``)."""
    return ",".join(s.short for s in API_SPECS.values())


def on_by_default(apis: tuple[Api, ...], paid: bool = False) -> tuple[Api, ...]:
    """Those of ``apis`` (an engine's) that run by default (``ApiSpec.on_by_default``): an engine descriptor's
    defaults. ``paid``: the engine costs money, so opt-in APIs (``paid_default=False``) are left out."""
    return tuple(a for a in apis if API_SPECS[a].on_by_default(paid))


def engine_apis(requested: list[Api], answers: tuple[Api, ...], defaults: tuple[Api, ...],
                named: bool) -> list[Api]:
    """What one engine runs of ``requested``: those it ``answers`` (its descriptor's ``apis``).

    ``named`` False (the run's APIs come from the library's settings, not
    from ``--apis`` or a dialog's choice): an API that is on by default on
    free engines but not in this engine's ``defaults`` (its descriptor's
    ``default_apis``: opt-in on a paid engine) is left out, so a library's
    default list never buys DetectFaces in the cloud. Order is kept.
    """
    return [a for a in requested if a in answers
            and (named or a in defaults or not API_SPECS[a].default)]


def apis_for_media(apis: list[Api], media: str) -> list[Api]:
    """The APIs an asset analysed as ``media`` (``"image"`` or ``"video"``) gets of the requested ``apis``.

    An image keeps the APIs whose ``ApiSpec.media`` is ``"image"``. A video
    gets each image API's ``ApiSpec.video`` APIs in its place (DetectLabels:
    GetLabelDetection) and keeps the video APIs asked for by name; an image
    API without video counterparts is dropped. Order is kept, duplicates dropped.
    """
    if media != "video":
        return [a for a in apis if API_SPECS[a].media == media]
    out: list[Api] = []
    for api in apis:
        entry = API_SPECS[api]
        out += [api] if entry.media == "video" else list(entry.video)
    return list(dict.fromkeys(out))


def default_apis() -> tuple[str, ...]:
    """The operation names a library analyses by default (``ApiSpec.default``), in order."""
    return tuple(s.api.value for s in API_SPECS.values() if s.default)


def flatten(api: Api | str, response: Json, source: str = LOCAL_ENGINE) -> list[Detection]:
    """Flatten one ``api`` response into detections with the API's own function (``ApiSpec.flatten``).

    ``source`` is the engine name stored with each row. Raises ``ValueError``
    for an unknown API; malformed entries raise ``KeyError``/``TypeError``
    (responses are validated before they get here).
    """
    return spec(api).flatten(response, source)
