"""Domain types shared by every layer.

Pure Python: no Qt, no I/O. Units follow Amazon Rekognition throughout:
confidences are percentages from 0 to 100 and bounding boxes are ratios
(0-1) of the orientation-corrected image's width and height.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

#: The built-in engines' names, as the catalog stores them with every response and settings name them
#: (their descriptors are in ``mediaapp.analysis.registry``). The local engine is also the one whose face
#: records People stores.
LOCAL_ENGINE = "local"
CLOUD_ENGINE = "rekognition"
#: The engine that answers from what a file already says about itself (XMP, sidecars, IPTC): its keywords as
#: DetectLabels, its named face regions as RecognizeCelebrities (``mediaapp.analysis.metadata``). Every import
#: runs it (``mediaapp.analysis.registry.ALWAYS_RUN``); it is nobody's choice of engine.
METADATA_ENGINE = "metadata"

#: The confidence (0-100) at which a DetectModerationLabels label flags an image as unsafe by default: what
#: ``Query.safe_only`` leaves out, what the "Unsafe content" facet and ``Query.moderation`` count and what a blurred
#: thumbnail means. 80 is the upper edge of Yahoo's Open-NSFW guidance ("above 0.8: pornographic"; 0.2-0.8 is
#: undecided), the on-device model's scale; for Rekognition it is well above its own default MinConfidence of 50,
#: so undecided answers do not hide pictures. ``benchmarks/moderation_eval.py`` measures the false-positive rate
#: of ordinary photos at it.
MODERATION_THRESHOLD = 80.0
#: The moderation facet's entry (and ``Query.moderation`` value) for images no engine has checked for unsafe
#: content; no Rekognition moderation label is called this.
MODERATION_UNCHECKED = "unchecked"

#: A decoded JSON object (a Rekognition response, an OpenSearch request or answer, a stored document).
Json = dict[str, Any]


class Api(str, enum.Enum):
    """The Rekognition image APIs engines answer; each has its ``ApiSpec`` in ``mediaapp.core.apis``.

    The value is the Rekognition operation name, which is also the key used
    in the catalog, in ``mediaapp show --json`` and in the price table.
    """

    DETECT_LABELS = "DetectLabels"
    DETECT_TEXT = "DetectText"
    RECOGNIZE_CELEBRITIES = "RecognizeCelebrities"
    DETECT_FACES = "DetectFaces"
    DETECT_MODERATION_LABELS = "DetectModerationLabels"
    #: Rekognition Video's answers (the ``Get*`` of a Start*/Get* job), for video assets: the image APIs'
    #: findings per sampled frame, each with its ``Timestamp`` in milliseconds, plus ``VideoMetadata``.
    GET_LABEL_DETECTION = "GetLabelDetection"
    GET_TEXT_DETECTION = "GetTextDetection"
    GET_FACE_DETECTION = "GetFaceDetection"
    GET_CELEBRITY_RECOGNITION = "GetCelebrityRecognition"
    #: DetectModerationLabels' video counterpart: ModerationLabels, each with its Timestamp (ms).
    GET_CONTENT_MODERATION = "GetContentModeration"


class DetectionKind(str, enum.Enum):
    """What a flattened detection row describes.

    ``label``: a DetectLabels label or one of its Instances; ``text``: a
    DetectText LINE or WORD; ``face``: a face with no known identity;
    ``person``: a face with a name (RecognizeCelebrities or a local person).
    """

    LABEL = "label"
    TEXT = "text"
    FACE = "face"
    PERSON = "person"
    #: One attribute of one DetectFaces face (``name`` one of ``core.responses.FACE_ATTRIBUTES``, e.g.
    #: ``eyes-closed``; ``box`` the face's box, the same for every attribute of that face).
    FACE_ATTRIBUTE = "face_attribute"
    #: A DetectModerationLabels label (``name``; its ParentName, if any, in ``parents``); never boxed.
    MODERATION = "moderation"


@dataclass(frozen=True, slots=True)
class BoundingBox:
    """An axis-aligned box as ratios of the image size (Rekognition's BoundingBox).

    ``left``/``top`` are the top-left corner and ``width``/``height`` the
    extent, each a float in [0, 1] relative to the orientation-corrected
    image. Rekognition may return slightly negative or >1 values for boxes at
    the edge; ``clamped()`` trims them.
    """

    left: float
    top: float
    width: float
    height: float

    @classmethod
    def from_rekognition(cls, box: Json) -> BoundingBox:
        """Build from a Rekognition ``BoundingBox`` dict (keys Left, Top, Width, Height).

        Raises ``KeyError`` when a key is missing.
        """
        return cls(float(box["Left"]), float(box["Top"]),
                   float(box["Width"]), float(box["Height"]))

    def to_rekognition(self) -> Json:
        """Return the Rekognition dict form ``{"Width", "Height", "Left", "Top"}``."""
        return {"Width": self.width, "Height": self.height,
                "Left": self.left, "Top": self.top}

    def clamped(self) -> BoundingBox:
        """Return the box clipped to the unit square (width/height never negative)."""
        left = min(max(self.left, 0.0), 1.0)
        top = min(max(self.top, 0.0), 1.0)
        right = min(max(self.left + self.width, 0.0), 1.0)
        bottom = min(max(self.top + self.height, 0.0), 1.0)
        return BoundingBox(left, top, max(right - left, 0.0), max(bottom - top, 0.0))

    def to_pixels(self, width: int, height: int) -> tuple[int, int, int, int]:
        """Return ``(x, y, w, h)`` in pixels of an image ``width`` x ``height`` pixels."""
        box = self.clamped()
        return (round(box.left * width), round(box.top * height),
                round(box.width * width), round(box.height * height))


@dataclass(frozen=True, slots=True)
class Detection:
    """One flattened, searchable fact about an image.

    ``name`` is the label name, the detected text, or the person's name;
    ``confidence`` is 0-100; ``box`` is None for labels without an instance
    (scene labels) and for image-level facts. ``parents`` holds the label's
    Rekognition Parents names (ancestors), used so that searching ``Animal``
    finds a ``Dog``. ``text_type`` is ``LINE`` or ``WORD`` for text.
    ``source`` names the engine that produced it (``local``, ``rekognition``).
    """

    kind: DetectionKind
    name: str
    confidence: float
    box: BoundingBox | None = None
    parents: tuple[str, ...] = ()
    source: str = LOCAL_ENGINE
    api: str = ""
    text_type: str | None = None
    #: For a video's detection: when it was seen, milliseconds from the start (Rekognition Video's
    #: ``Timestamp``); None for still images.
    timestamp_ms: int | None = None


@dataclass(slots=True)
class Asset:
    """One distinct image, keyed by the SHA-256 of its bytes.

    ``paths`` lists every file path known to hold these bytes. ``width`` and
    ``height`` are pixels after EXIF orientation is applied. ``taken_at`` is
    EXIF DateTimeOriginal as ISO 8601 text (no timezone unless the file has
    one). ``gps`` is ``(latitude, longitude)`` in decimal degrees.

    What the file says about itself (XMP, its sidecars, IPTC-IIM; ``mediaapp.ingest.file_tags``), None
    when it does not say: ``title`` and ``description`` (dc:title, dc:description); ``rating`` (xmp:Rating,
    -1 rejected, 0 unrated, 1-5 stars); ``label`` (xmp:Label, a colour label's name such as ``Red``);
    ``date_created`` (photoshop:DateCreated, or IPTC Date/Time Created, ISO 8601 text as written).
    ``stack_paths``: when this is a RAW+JPEG stack's original (the RAW), the paths of the stack's other
    files (the JPEG or HEIF beside it, ``mediaapp.catalog.stacks``); empty otherwise.
    """

    sha256: str
    size: int
    format: str
    width: int
    height: int
    paths: list[str] = field(default_factory=list)
    taken_at: str | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    gps: tuple[float, float] | None = None
    thumbnail: str | None = None
    title: str | None = None
    description: str | None = None
    rating: float | None = None
    label: str | None = None
    date_created: str | None = None
    stack_paths: list[str] = field(default_factory=list)
    #: ``"image"`` or ``"video"`` (``mediaapp.ingest.media.MediaHandler.media``); for a video its
    #: ``duration_ms`` (milliseconds), ``codec`` (FFmpeg's name) and ``frame_rate`` (frames per second).
    media_kind: str = "image"
    duration_ms: int | None = None
    codec: str | None = None
    frame_rate: float | None = None

    @property
    def camera(self) -> str | None:
        """Make and model joined by a space, or None when neither is known.

        Many makers repeat the make in EXIF Model ("Canon" / "Canon EOS 5D
        Mark III"): when the model's first word is one of the make's words
        (case-insensitively) the make is left out instead of shown twice, so
        "NIKON CORPORATION" / "NIKON D810" reads "NIKON D810" and "EASTMAN
        KODAK COMPANY" / "KODAK LS743" reads "KODAK LS743".
        """
        make, model = (self.camera_make or "").strip(), (self.camera_model or "").strip()
        if make and model:
            if model.split()[0].casefold() in make.casefold().split():
                return model
            return f"{make} {model}"
        return make or model or None


@dataclass(slots=True)
class IndexDocument:
    """What a search backend indexes for one asset.

    Built by the library from the catalog; every backend must give the same
    answers for the same documents. ``folders`` are the parent directories of
    ``paths``; ``text`` is the detected LINE text joined by newlines, then the
    asset's own ``title`` and ``description`` (searchable words like the rest).
    """

    asset: Asset
    detections: list[Detection]
    folders: list[str] = field(default_factory=list)
    text: str = ""
    #: Whether some engine answered DetectModerationLabels for the asset (False: never checked for unsafe
    #: content; ``Query.safe_only`` keeps it, the moderation facet counts it as ``MODERATION_UNCHECKED``).
    moderation_checked: bool = False
    #: The asset's image embedding (L2-normalised floats, ``catalog.similarity``) for ``Query.like`` on a backend
    #: that indexes vectors (OpenSearch's ``knn_vector``); None: none stored, or not needed (the embedded index
    #: ranks from its own vector store, ``search/vectors.py``).
    embedding: tuple[float, ...] | None = None


class SortOrder(str, enum.Enum):
    """Result order; every order ends with sha256 ascending, so each position is unique.

    ``RELEVANCE``: best match first. ``DATE``: newest ``taken_at`` first,
    undated assets last. ``PATH``: representative path ascending.
    ``NAME``: the representative path's base name A to Z, case-insensitive
    (``core.query.name_key``). ``OLDEST``: oldest ``taken_at`` first,
    undated assets last. ``SIZE``: largest file first (bytes). ``RATING``:
    highest xmp:Rating first (``core.query.rating_key``: 5 to 1 stars, then
    rejected, then unrated). The value is the CLI's ``search --sort`` word.
    """

    RELEVANCE = "relevance"
    DATE = "date"
    PATH = "path"
    NAME = "name"
    OLDEST = "oldest"
    SIZE = "size"
    RATING = "rating"


@dataclass(frozen=True, slots=True)
class SearchCursor:
    """A position in one result order: the sort key of a hit, for keyset paging (``Query.after``).

    ``sort`` is the order the cursor belongs to; ``key`` the hit's sort
    value in it: for ``RELEVANCE`` its score (a float, 0-100, compared after
    rounding to float32 as the backends store confidences), for ``DATE`` and
    ``OLDEST`` its ``taken_at`` in ``core.query.normalize_taken_at`` form or
    None when undated, for ``PATH`` its representative path in stored form
    (``core.filenames.to_stored``), for ``NAME`` that path's
    ``core.query.name_key`` (text), for ``SIZE`` its size in bytes (an
    int), for ``RATING`` its ``core.query.rating_key`` (a float); ``sha256`` is the hit's sha256, the last
    key of every order, so a cursor names one position exactly.

    Backend-neutral: a cursor made by one backend pages on another (the
    library answers from its embedded index when OpenSearch is down). Get
    one from ``SearchPage.cursor``; it stays valid when the index changes
    (the next page starts after that key, wherever it now is).
    """

    sort: SortOrder
    key: float | int | str | None
    sha256: str


@dataclass(frozen=True, slots=True)
class Query:
    """A search over the library; the single query language of every backend.

    Semantics (the conformance suite holds both backends to them):

    - ``labels``: an asset matches a label L when one of its label detections
      has ``name == L`` or L among its ``parents`` (case-insensitive) with
      ``confidence >= min_confidence``. ``match_all`` True means every label
      must match (all of); False means at least one (any of).
    - ``text``: every token of ``text`` (see ``mediaapp.core.text.tokenize``)
      must appear among the asset's tokens: detected text, label names and
      parents, person names, file names, and the title and description the
      file gives itself (``Asset.title``, ``Asset.description``).
    - ``persons``: the asset has a person detection with one of these names.
    - ``face_attributes``: names from ``core.responses.FACE_ATTRIBUTES``
      (``eyes-closed``, ``smiling``, ``happy``...): one face of the asset has
      every one of them at ``min_confidence`` or more; with ``persons`` too,
      that face is one named one of ``persons`` (the DetectFaces face tied to
      the person's face by box overlap, ``core.responses.same_face``).
    - ``folder``: one of the asset's paths lies in this folder or below it.
    - ``taken_after`` / ``taken_before``: inclusive ISO 8601 bounds on
      ``taken_at``; assets without a date never match a date bound.
    - ``limit`` / ``offset``: the page; ``limit`` None means all.
    - ``after``: keyset paging. None starts at the first hit; a
      ``SearchCursor`` (the previous page's ``SearchPage.cursor``) starts
      right after that hit, and ``offset`` then counts from there. Its
      ``sort`` must be this query's (``ValueError`` otherwise). A page read
      this way costs the same anywhere in the results, where a large
      ``offset`` makes the backend walk past every hit before it.
      ``SearchPage.total`` still counts every match.
    - ``moderation``: the asset has a moderation detection (DetectModerationLabels) whose name or ParentName
      is one of these (case-insensitive; any of them) with confidence >= ``moderation_threshold``;
      ``MODERATION_UNCHECKED`` matches assets never checked (``IndexDocument.moderation_checked`` False).
    - ``safe_only``: leave out every asset with a moderation detection at ``moderation_threshold`` (0-100,
      default ``MODERATION_THRESHOLD``) or more; assets never checked are kept.
    - ``min_rating``: the asset's own xmp:Rating (``Asset.rating``) is at least this many stars (1-5);
      unrated assets never match, rejected ones (-1) only ``min_rating`` -1. None: no filter.
    - ``like``: "more like this": the sha256 of an example asset. The hits are the assets matching the other
      filters that have an image embedding, except the example, ordered by the cosine similarity of their
      embeddings to the example's (``SearchHit.score`` = 100 x cosine, float32, then sha256; ``sort`` is
      ignored, and a keyed order gives no cursor: page by ``offset``), at most
      ``LIKE_MAX_HITS`` of them (the k of a k-NN search). None: no such ranking.
    """

    text: str = ""
    labels: tuple[str, ...] = ()
    match_all: bool = True
    min_confidence: float = 0.0
    persons: tuple[str, ...] = ()
    face_attributes: tuple[str, ...] = ()
    folder: str | None = None
    taken_after: str | None = None
    taken_before: str | None = None
    sort: SortOrder = SortOrder.RELEVANCE
    limit: int | None = 100
    offset: int = 0
    after: SearchCursor | None = None
    moderation: tuple[str, ...] = ()
    safe_only: bool = False
    moderation_threshold: float = MODERATION_THRESHOLD
    min_rating: float | None = None
    like: str | None = None


#: The most hits a "more like this" query (``Query.like``) returns.
LIKE_MAX_HITS = 500


@dataclass(slots=True)
class SearchHit:
    """One matching asset: its sha256, a representative path, and its score.

    ``score`` is backend-specific and only orders results within one query.
    """

    sha256: str
    path: str
    score: float = 0.0


@dataclass(slots=True)
class SearchPage:
    """A page of hits plus ``total``, the number of assets matching in all.

    ``cursor`` is the position of the page's last hit (None when the page is
    empty): pass it as ``Query.after`` to read the page that follows.
    """

    hits: list[SearchHit]
    total: int
    cursor: SearchCursor | None = None


@dataclass(slots=True)
class ImportProblem:
    """A file or folder that failed one stage, with a readable reason."""

    path: str
    stage: str
    message: str


@dataclass(slots=True)
class ImportReport:
    """Counts for one import run.

    ``imported``: new files whose bytes were new; ``duplicates``: new paths
    whose bytes were already known; ``unchanged``: paths skipped by the
    size+mtime check; ``skipped``: files that are not images (by content and name); ``analysed``: (asset, api)
    analyses run (cache misses);
    ``cached``: analyses answered from the catalog; ``failed``: problems;
    ``cancelled``: the user stopped the run; ``budget_stopped``: an engine
    refused to spend more (its budget), the other engines went on;
    ``elsewhere``: analyses left to another import running at the same time,
    which had claimed them (``mediaapp.catalog.claims``); ``read``: images whose own
    metadata (XMP, sidecars, IPTC) was read this run (the ``metadata`` engine's
    answers count here, never in ``analysed`` or ``cached``).
    """

    imported: int = 0
    duplicates: int = 0
    unchanged: int = 0
    skipped: int = 0
    analysed: int = 0
    cached: int = 0
    failed: list[ImportProblem] = field(default_factory=list)
    cancelled: bool = False
    budget_stopped: bool = False
    elsewhere: int = 0
    read: int = 0
