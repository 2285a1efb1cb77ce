"""The ``metadata`` engine: answers from what each file already says about itself, in Rekognition's shapes.

Other programs (Lightroom, digiKam, darktable, Capture One, Bridge, a
photo agency) leave keywords, titles, ratings and named face regions in a
file's XMP, in its XMP sidecars and in its IPTC-IIM block
(``mediaapp.ingest.file_tags`` reads and merges them). This engine turns
them into the answers every engine gives, so the catalog, the search
projection, facets and both search backends treat them like any other:

- **DetectLabels**: one Label per keyword, ``Confidence`` 100, no
  ``Instances`` (a keyword says nothing of where), category ``File
  keywords`` (``KEYWORD_CATEGORY``). A hierarchical keyword
  ``Animal|Mammal|Dog`` is the Label ``Dog`` with ``Parents`` Mammal, Animal
  (nearest first), so a search for Animal finds it as it would find
  Rekognition's Dog;
- **RecognizeCelebrities**: each named MWG face region is a
  ``CelebrityFaces`` entry (``Name``, ``Face.BoundingBox`` in ratios,
  ``MatchConfidence`` 100, ``Id`` = ``core.embeddings.person_id(Name)``);
  an unnamed one is an ``UnrecognizedFaces`` entry;
- **extras** ``{"Metadata": {...}}``: title, description, rating, label and
  date created, which the import pipeline stores on the asset
  (``Catalog.store_file_metadata``), plus ``sources`` (what was read) and
  ``problems`` (a sidecar that is not XML, ...), recorded as errors of stage
  ``metadata`` of the file while the rest is stored.

Every import runs it on every image (``registry.ALWAYS_RUN``), whatever
engines a run names: it is free, reads a header and a few small files, and
never writes (originals and sidecars are opened read-only). It runs on
threads: no model to load, and the file was already opened once by the
ingest worker. Its cache key (``MetadataParams``) holds the path, size and
modification time of every sidecar of the image (found by ``prepare_ref``,
a few ``stat`` calls), so editing a sidecar in another program makes the
next import read it again; the embedded blocks are part of the image's
bytes, hence of its sha256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mediaapp.analysis.engine_base import (
    AnalysisError,
    AnalysisParams,
    EngineBase,
    EngineContext,
    EngineDescriptor,
    ImageRef,
    Results,
)
from mediaapp.core.embeddings import person_id
from mediaapp.core.types import METADATA_ENGINE, Api, Json
from mediaapp.ingest.decode import DecodeError
from mediaapp.ingest.file_tags import FileTags, Region, Sidecar, find_sidecars, read_file_tags

if TYPE_CHECKING:  # pragma: no cover
    from mediaapp.core.types import Asset

__all__ = ["ENGINE_VERSION", "KEYWORD_CATEGORY", "MetadataEngine", "MetadataParams", "MetadataRef",
           "celebrities_response", "labels_response"]

#: The version stored with every answer. Part of the cache key too (``MetadataParams``): a reader that takes
#: more from the files bumps it, and the next import reads every file again (it costs nothing).
ENGINE_VERSION = "metadata/3"  # 2: leaves out the entries mediaapp wrote into sidecars itself; 3: MP:RegionInfo

#: The category of every keyword Label (Rekognition's ``Label.Categories``), which tells them from machine labels.
KEYWORD_CATEGORY = "File keywords"

#: Labels in one answer at most (Rekognition's own MaxLabels ceiling is 1000).
MAX_KEYWORDS = 1000


@dataclass(frozen=True)
class MetadataRef(ImageRef):
    """``ImageRef`` plus ``sidecars``: the XMP sidecars of every path holding the image (``file_tags.Sidecar``),
    in precedence order, as ``prepare_ref`` found them."""

    sidecars: tuple[Sidecar, ...] = ()


def _sidecars(ref: ImageRef) -> tuple[Sidecar, ...]:
    """The sidecars ``prepare_ref`` found for ``ref`` (none for a plain ``ImageRef``)."""
    return ref.sidecars if isinstance(ref, MetadataRef) else ()


@dataclass(frozen=True)
class MetadataParams(AnalysisParams):
    """The metadata engine's cache key: ``sidecars`` is a digest of the sidecars' paths, sizes and times ("" for
    none). MaxLabels and MinConfidence do not apply (every keyword is certain), so they are not in it."""

    sidecars: str = ""

    def key(self, api: Api) -> str:
        """``Reader=<ENGINE_VERSION>;Sidecars=<digest or none>``, the same for both APIs."""
        return f"Reader={ENGINE_VERSION};Sidecars={self.sidecars or 'none'}"


def sidecar_digest(sidecars: Sequence[Sidecar]) -> str:
    """16 hex digits naming these sidecars as they are now (paths, sizes, mtimes); "" for none."""
    if not sidecars:
        return ""
    text = "\n".join(f"{s.path}\0{s.size}\0{s.mtime_ns}" for s in sidecars)
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]


class MetadataEngine(EngineBase):
    """Reads keywords, titles, ratings and named face regions the files carry (see the module docstring).

    Built from an empty config; options are not read. Raises
    ``AnalysisError`` (code ``Unreadable``) when the file cannot be read at
    all; a sidecar or embedded block that cannot be read is a problem in the
    extras, never an error of the whole answer.
    """

    descriptor = EngineDescriptor(
        name=METADATA_ENGINE, title="What the files say (keywords, XMP sidecars, IPTC)",
        apis=(Api.DETECT_LABELS, Api.RECOGNIZE_CELEBRITIES),
        default_apis=(Api.DETECT_LABELS, Api.RECOGNIZE_CELEBRITIES),
        cost_model="free: reads the files' own metadata on this computer")
    executor = "thread"
    max_concurrency = 4
    restores_answers = False

    def __init__(self, **config: Any):
        """Build the engine; ``config`` is accepted and ignored (the engine has no options)."""

    @classmethod
    def configure(cls, context: EngineContext) -> Json:
        """No options: ``{}``."""
        return {}

    @classmethod
    def request_params(cls, params: AnalysisParams, config: Json) -> MetadataParams:
        """A ``MetadataParams`` without sidecars; ``image_params`` adds each image's."""
        return MetadataParams()

    def prepare_ref(self, ref: ImageRef, asset: Asset) -> MetadataRef:
        """``ref`` with the sidecars of all of ``asset``'s paths (``file_tags.find_sidecars``: ``stat`` calls only)."""
        return MetadataRef(ref.sha256, ref.path, ref.s3_object, tuple(find_sidecars(asset.paths)))

    def image_params(self, params: AnalysisParams, ref: ImageRef) -> MetadataParams:
        """The cache key of ``ref``: its sidecars' digest (``sidecar_digest``)."""
        return MetadataParams(sidecars=sidecar_digest(_sidecars(ref)))

    def version(self, api: Api) -> str:
        """``ENGINE_VERSION`` for every API."""
        return ENGINE_VERSION

    def analyse(self, api: Api, image: ImageRef, params: AnalysisParams) -> Json:
        """One API's answer; see ``analyse_with_extras``. Raises ``AnalysisError``."""
        result = self.analyse_with_extras([api], image, params)[0][Api(api)]
        if isinstance(result, AnalysisError):
            raise result
        return result

    def analyse_many(self, apis: Sequence[Api], image: ImageRef, params: AnalysisParams) -> Results:
        """The answers of ``analyse_with_extras`` without the extras."""
        return self.analyse_with_extras(apis, image, params)[0]

    def analyse_with_extras(self, apis: Sequence[Api], image: ImageRef,
                            params: AnalysisParams) -> tuple[Results, Json | None]:
        """Read the file and its sidecars once; answer each of ``apis``; the extras hold ``{"Metadata": {...}}``.

        ``Metadata`` holds ``title``, ``description``, ``label``,
        ``date_created`` (text or None), ``rating`` (-1 to 5 or None),
        ``sources`` and ``problems`` (lists of text). An API this engine does
        not answer gets an ``AnalysisError`` (``UnsupportedOperation``).
        Raises ``AnalysisError`` (``Unreadable``) when the file cannot be read.
        """
        if image.path is None:
            raise AnalysisError("the metadata engine needs a local file", "Unreadable")
        sidecars = [s.path for s in _sidecars(image)]
        try:
            tags = read_file_tags(image.path, sidecars)
        except DecodeError as exc:
            raise AnalysisError(f"cannot read the file's metadata: {exc}", "Unreadable") from exc
        except OSError as exc:
            raise AnalysisError(f"cannot read the file: {exc.strerror or exc}", "Unreadable") from exc
        out: Results = {}
        for api in apis:
            if api is Api.DETECT_LABELS:
                out[api] = labels_response(tags.keywords)
            elif api is Api.RECOGNIZE_CELEBRITIES:
                out[api] = celebrities_response(tags.regions)
            else:
                out[api] = AnalysisError(f"the metadata engine does not answer {api.value}", "UnsupportedOperation")
        return out, {"Metadata": _extras(tags)}


def labels_response(keywords: Sequence[tuple[str, ...]]) -> Json:
    """A DetectLabels response with one Label per keyword path (root first), merged by leaf name ignoring case.

    Each Label: ``Name`` the leaf, ``Confidence`` 100.0, ``Instances`` [],
    ``Parents`` the ancestors nearest first (a leaf named under several
    hierarchies keeps each one's), ``Aliases`` [], ``Categories``
    ``[{"Name": KEYWORD_CATEGORY}]``. At most ``MAX_KEYWORDS`` Labels.
    """
    labels: dict[str, Json] = {}
    for path in keywords:
        if not path:
            continue
        name = path[-1]
        label = labels.get(name.casefold())
        if label is None:
            if len(labels) >= MAX_KEYWORDS:
                continue
            label = labels[name.casefold()] = {"Name": name, "Confidence": 100.0, "Instances": [], "Parents": [],
                                               "Aliases": [], "Categories": [{"Name": KEYWORD_CATEGORY}]}
        known = {p["Name"].casefold() for p in label["Parents"]} | {name.casefold()}
        for parent in reversed(path[:-1]):
            if parent.casefold() not in known:
                known.add(parent.casefold())
                label["Parents"].append({"Name": parent})
    return {"Labels": list(labels.values())}


def celebrities_response(regions: Sequence[Region]) -> Json:
    """A RecognizeCelebrities response from MWG face regions: named ones as ``CelebrityFaces``, the rest as
    ``UnrecognizedFaces``; every confidence 100.0, boxes in ratios (``Width``, ``Height``, ``Left``, ``Top``)."""
    named, unnamed = [], []
    for region in regions:
        face = {"BoundingBox": {"Width": region.width, "Height": region.height,
                                "Left": region.left, "Top": region.top}, "Confidence": 100.0}
        if region.name:
            named.append({"Name": region.name, "Id": person_id(region.name), "Urls": [],
                          "Face": face, "MatchConfidence": 100.0})
        else:
            unnamed.append(face)
    return {"CelebrityFaces": named, "UnrecognizedFaces": unnamed}


def _extras(tags: FileTags) -> Json:
    """The ``Metadata`` extras of one reading (see ``MetadataEngine.analyse_with_extras``)."""
    return {"title": tags.title, "description": tags.description, "rating": tags.rating, "label": tags.label,
            "date_created": tags.date_created, "sources": list(tags.sources), "problems": list(tags.problems)}
