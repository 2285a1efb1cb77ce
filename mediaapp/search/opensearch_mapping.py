"""The documents of the OpenSearch backend (``mediaapp.search.opensearch``): settings, mappings, sources.

Mapping (``index_body``), one document per asset, ``_id`` = sha256:

- asset fields: ``sha256``, ``path`` (representative), ``name_key`` (the
  path's ``core.query.name_key``, the name order's key), ``paths``,
  ``folders``, ``format``, ``camera`` (keywords), ``size`` (long, bytes),
  ``rating`` (float: ``core.query.rating_key``, the rating order's key),
  ``taken_at`` (date in ``normalize_taken_at``'s
  ``yyyy-MM-dd'T'HH:mm:ss.SSS`` form, wall-clock);
- ``detections``: nested objects for label, person and face detections with
  ``kind``, ``name``, ``parents`` (keywords as spelled), ``keys`` (the
  normalised name plus normalised parents: what label queries match and
  label facets count), ``alias_keys`` (a label's normalised Aliases,
  ``search.label_aliases``: label queries match them too, facets do not),
  ``words`` (``name_tokens`` of the name and, for labels, of the parents and Aliases:
  what the text word score matches), ``confidence`` (float) and ``box``
  (``left``/``top``/``width``/``height`` floats); text detections are not
  nested, their LINE text is ``text``;
- ``text``: the detected text, analysed with the standard analyzer (for
  people querying the cluster directly);
- ``tokens``: ``mediaapp.core.text.tokenize`` output joined by spaces, with a
  whitespace tokenizer + lowercase analyzer, so tokens are exactly SQLite's;
- ``persons``: normalised person names (keywords), ``person_names`` as spelled;
- ``faces``: nested, one object per DetectFaces face (``Projection.faces``): ``person`` (the tied
  person's normalised name, ``""`` for none) and one float field per attribute it has, named as in
  ``core.responses.FACE_ATTRIBUTES`` (``eyes-closed``: its float32 confidence);
- ``moderation_checked`` (boolean): ``IndexDocument.moderation_checked``; the moderation
  labels themselves are ``detections`` of kind ``moderation`` (``keys``: name and ParentName).
- ``embedding`` (``knn_vector``, ``EMBEDDING_DIMS``, cosine): ``IndexDocument.embedding``, for
  ``Query.like``; absent when the asset has none.

The names index (``names_body``) holds one document per normalised label
or person name, ``_id`` = ``name_doc_id(field, norm)``, with the display
spelling first seen.
"""

from __future__ import annotations

import hashlib
from typing import Any

from mediaapp.core.query import float32, name_tokens
from mediaapp.core.responses import FACE_ATTRIBUTES
from mediaapp.core.text import normalize_label
from mediaapp.core.types import DetectionKind, IndexDocument, Json
from mediaapp.search.context_labels import context_labels
from mediaapp.search.label_aliases import aliases
from mediaapp.search.projection import project

__all__ = [
    "EMBEDDING_DIMS",
    "MAPPING_VERSION",
    "MAX_ID_BYTES",
    "META_COMPLETE",
    "META_VERSION",
    "NAMES_VERSION",
    "index_body",
    "name_doc_id",
    "to_source",
]

#: Version of ``index_body``; bump it on any mapping change (then ``rebuild``). 2 added ``detections.words``,
#: 3 ``name_key``, 4 ``moderation_checked`` and moderation detections, 5 ``faces``, 6 ``rating``, 7 ``embedding``,
#: 8 label Aliases in ``detections.alias_keys``/``words`` (``search.label_aliases``), derived Text/Document
#: label detections (``search.context_labels``).
MAPPING_VERSION = 8
#: Dimensions of ``embedding`` (EfficientNet-Lite0's pooled features, ``ConceptClassifier.embed``); a document
#: whose embedding has another size goes without it.
EMBEDDING_DIMS = 1280
#: Version of the names index mapping (``names_body``).
NAMES_VERSION = 1
#: OpenSearch rejects a document ``_id`` longer than 512 bytes (UTF-8); the whole bulk request fails.
MAX_ID_BYTES = 512
#: ``_meta`` keys of the asset index mapping.
META_VERSION = "mediaapp_mapping_version"
META_COMPLETE = "mediaapp_complete"
_TOKENS_ANALYZER = "mediaapp_tokens"


def index_body(shards: int = 1, replicas: int | None = None, complete: bool = False) -> Json:
    """Settings and mappings of the asset index (see the module docstring).

    ``replicas`` None leaves the cluster default (use 0 on a single node).
    ``complete`` goes to ``_meta.mediaapp_complete``: True only for an index
    that ``rebuild`` fills from the whole library before the alias points at it.
    """
    settings: dict[str, Any] = {
        "number_of_shards": shards,
        "knn": True,  # the k-NN plugin's per-index switch: ``embedding`` is a vector field
        "analysis": {"analyzer": {_TOKENS_ANALYZER: {
            "type": "custom", "tokenizer": "whitespace", "filter": ["lowercase"]}}},
    }
    if replicas is not None:
        settings["number_of_replicas"] = replicas
    box = {"properties": {k: {"type": "float"} for k in ("left", "top", "width", "height")}}
    return {
        "settings": settings,
        "mappings": {
            "dynamic": "strict",
            "_meta": {META_VERSION: MAPPING_VERSION, META_COMPLETE: bool(complete)},
            "properties": {
                "sha256": {"type": "keyword"},
                "path": {"type": "keyword"},
                "name_key": {"type": "keyword"},
                "paths": {"type": "keyword"},
                "folders": {"type": "keyword"},
                "taken_at": {"type": "date", "format": "strict_date_hour_minute_second_millis"},
                "size": {"type": "long"},
                "rating": {"type": "float"},
                "format": {"type": "keyword"},
                "camera": {"type": "keyword"},
                "text": {"type": "text"},
                "tokens": {"type": "text", "analyzer": _TOKENS_ANALYZER},
                "persons": {"type": "keyword"},
                "person_names": {"type": "keyword"},
                "moderation_checked": {"type": "boolean"},
                # "more like this" (``Query.like``): cosine k-NN over the image embeddings (HNSW, Lucene engine,
                # which filters inside the graph search)
                "embedding": {"type": "knn_vector", "dimension": EMBEDDING_DIMS,
                              "method": {"name": "hnsw", "space_type": "cosinesimil", "engine": "lucene"}},
                "faces": {"type": "nested", "properties": {
                    "person": {"type": "keyword"},
                    **{name: {"type": "float"} for name in FACE_ATTRIBUTES},
                }},
                "detections": {"type": "nested", "properties": {
                    "kind": {"type": "keyword"},
                    "name": {"type": "keyword"},
                    "parents": {"type": "keyword"},
                    "keys": {"type": "keyword"},
                    "alias_keys": {"type": "keyword"},
                    "words": {"type": "keyword"},
                    "confidence": {"type": "float"},
                    "box": box,
                    "source": {"type": "keyword"},
                }},
            },
        },
    }


def names_body(replicas: int | None = None) -> Json:
    """The create-index body of the names index (display spellings of labels and persons); one shard."""
    settings: dict[str, Any] = {"number_of_shards": 1}
    if replicas is not None:
        settings["number_of_replicas"] = replicas
    return {"settings": settings,
            "mappings": {"dynamic": "strict", "_meta": {"mediaapp_names_version": NAMES_VERSION},
                         "properties": {"field": {"type": "keyword"}, "norm": {"type": "keyword"},
                                        "display": {"type": "keyword", "index": False}}}}


def name_doc_id(field: str, norm: str) -> str:
    """The names-index ``_id`` of a normalised name: ``field:norm``, hashed when too long.

    ``field`` is ``"labels"`` or ``"persons"``. A key longer than
    ``MAX_ID_BYTES`` UTF-8 bytes becomes ``field#sha256:<64 hex digits>``
    (the ``#`` keeps it apart from every readable key).
    """
    key = f"{field}:{norm}"
    if len(key.encode("utf-8")) <= MAX_ID_BYTES:
        return key
    return f"{field}#sha256:{hashlib.sha256(norm.encode('utf-8')).hexdigest()}"


def to_source(doc: IndexDocument) -> Json:
    """The ``_source`` indexed for ``doc`` (projection shared with SQLite).

    Raises ``ValueError`` when the asset has no sha256.
    """
    proj = project(doc)
    detections = []
    for det in [*doc.detections, *context_labels(doc.detections)]:  # + Text/Document (search.context_labels)
        if det.kind not in (DetectionKind.LABEL, DetectionKind.PERSON, DetectionKind.FACE, DetectionKind.MODERATION):
            continue
        names = [det.name, *det.parents] if det.kind in (DetectionKind.LABEL, DetectionKind.MODERATION) \
            else [det.name]
        alias_names = aliases().expand([det.name], det.parents) if det.kind == DetectionKind.LABEL else []
        keys = [normalize_label(n) for n in names]
        item: dict[str, Any] = {
            "kind": det.kind.value, "name": det.name, "parents": list(det.parents),
            "keys": [k for k in dict.fromkeys(keys) if k],
            "alias_keys": [k for k in dict.fromkeys(normalize_label(a) for a in alias_names) if k],
            "confidence": float32(det.confidence), "source": det.source}
        if det.kind not in (DetectionKind.FACE, DetectionKind.MODERATION):  # moderation names are no search words
            item["words"] = list(dict.fromkeys(w for n in [*names, *alias_names] for w in name_tokens(n)))
        if det.box is not None:
            item["box"] = {"left": det.box.left, "top": det.box.top,
                           "width": det.box.width, "height": det.box.height}
        detections.append(item)
    source: Json = {
        "sha256": proj.sha256, "path": proj.path, "name_key": proj.name_key, "paths": proj.paths,
        "folders": proj.folders,
        "taken_at": proj.taken_at, "size": proj.size, "format": proj.format, "camera": proj.camera,
        "rating": proj.rating, "text": proj.text, "tokens": proj.tokens,
        "persons": list(proj.persons), "person_names": [d for d, _c in proj.persons.values()],
        "detections": detections,
        "moderation_checked": proj.moderation_checked,
        "faces": [{"person": person, **attrs} for person, attrs in proj.faces],
    }
    if doc.embedding is not None and len(doc.embedding) == EMBEDDING_DIMS:
        source["embedding"] = [float(x) for x in doc.embedding]
    return source
