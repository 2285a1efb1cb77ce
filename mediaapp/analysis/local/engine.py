"""The ``local`` engine: on-device analysers answering in Rekognition's schema.

- DetectText: rapidocr (PP-OCR ONNX models bundled in its wheel).
- DetectLabels: the COCO object detector (``objects.py``) plus faces from dlib
  reported as ``Person``/``Face`` labels with Instances, the way Rekognition
  reports people.
- RecognizeCelebrities: faces from dlib as UnrecognizedFaces, or
  CelebrityFaces when a face matches a person the user has named.

Each analyser loads its model lazily, once per process.
"""

from __future__ import annotations

from functools import cached_property

from PIL import Image

from mediaapp.analysis.base import AnalysisError, AnalysisParams, EngineBase, EngineUnavailableError, ImageRef
from mediaapp.core.types import Api
from mediaapp.ingest.decode import DecodeError, open_rgb

#: Longest side (pixels) images are decoded at for analysis. The analysers
#: downscale further as their models need; 2048 keeps small text legible.
ANALYSIS_MAX_SIDE = 2048

#: Rekognition's Parents for the face-derived labels (as in its taxonomy).
FACE_LABEL_PARENTS = {"Person": [], "Face": [{"Name": "Person"}], "Head": [{"Name": "Person"}]}


class LocalEngine(EngineBase):
    """The on-device engine (name ``local``).

    ``faces_enabled`` False turns every face feature off (no detection, no
    recognition). ``people`` is an optional mapping name -> list of 128-d
    embeddings of named people, used by RecognizeCelebrities.
    """

    name = "local"
    executor = "process"

    def __init__(self, faces_enabled: bool = True, people: dict | None = None):
        self.faces_enabled = faces_enabled
        self.people = people or {}

    @cached_property
    def ocr(self):
        """The rapidocr text detector (loaded on first use)."""
        from mediaapp.analysis.local.ocr import RapidOcrTextDetector
        return RapidOcrTextDetector()

    @cached_property
    def faces(self):
        """The dlib face detector (loaded on first use)."""
        from mediaapp.analysis.local.faces import DlibFaceDetector
        return DlibFaceDetector()

    @cached_property
    def objects(self):
        """The COCO object detector (loaded on first use)."""
        from mediaapp.analysis.local.objects import ObjectDetector
        return ObjectDetector()

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

    def analyse(self, api: Api, image: ImageRef, params: AnalysisParams) -> dict:
        """Run one API; see ``analyse_many``."""
        result = self.analyse_many([api], image, params)[api]
        if isinstance(result, Exception):
            raise result
        return result

    def analyse_many(self, apis: list[Api], image: ImageRef, params: AnalysisParams) -> dict:
        """Decode ``image`` once and run each of ``apis``.

        Returns api -> response dict, or api -> ``AnalysisError`` for an API
        that failed (the others still answer). Raises ``AnalysisError`` when
        the image cannot be decoded at all.
        """
        if image.path is None:
            raise AnalysisError("the local engine needs a local file", "InvalidImageFormatException")
        try:
            img = open_rgb(image.path, max_side=ANALYSIS_MAX_SIDE)
        except (DecodeError, OSError) as exc:
            raise AnalysisError(f"cannot decode image: {exc}", "InvalidImageFormatException") from exc
        faces: list[dict] | None = None
        out: dict = {}
        for api in apis:
            try:
                if api is Api.DETECT_TEXT:
                    out[api] = self.ocr.detect_text(img)
                    continue
                if faces is None:
                    faces = self.faces.detect_faces(img) if self.faces_enabled else []
                if api is Api.DETECT_LABELS:
                    out[api] = self._labels(img, faces, params)
                else:
                    out[api] = self._celebrities(img, faces)
            except AnalysisError as exc:
                out[api] = exc
        return out

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

    def _celebrities(self, img: Image.Image, faces: list[dict]) -> dict:
        if self.people:
            from mediaapp.analysis.local.people import recognize
            return recognize(img, self.faces, self.people, faces=faces)
        return {"CelebrityFaces": [], "UnrecognizedFaces": faces}

