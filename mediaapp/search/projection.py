"""The projection every search backend stores: facts, tokens and normalised fields of one ``IndexDocument``.

Both backends (``mediaapp.search.sqlite`` and ``mediaapp.search.opensearch``)
derive what they store from ``project(doc)``, and read queries through
``mediaapp.core.query.normalize_query``, so they hold the same facts, tokens
and dates and answer the same hits.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from mediaapp.core.filenames import to_stored
from mediaapp.core.query import UNRATED_KEY, float32, name_key, normalize_taken_at, rating_key
from mediaapp.core.responses import same_face
from mediaapp.core.text import normalize_label, tokenize
from mediaapp.core.types import BoundingBox, DetectionKind, IndexDocument
from mediaapp.search.context_labels import context_labels
from mediaapp.search.label_aliases import aliases

__all__ = ["Projection", "project"]


@dataclass(slots=True)
class Projection:
    """What a backend stores for one asset, derived from an ``IndexDocument``.

    ``labels`` and ``persons`` map a normalised name (``normalize_label``) to
    ``(display spelling, highest float32 confidence)``; label entries include
    every parent name with its child's confidence; the ``Text`` and ``Document``
    labels the detected lines make honest (``search.context_labels``) are label
    facts too. ``aliases`` maps the normalised Aliases of each label's Name (a
    Parent's own come with its own label; ``search.label_aliases``) that are not
    in ``labels`` likewise: label queries match them, facet lists do not show
    them. ``tokens`` is the
    space-joined search tokens. ``taken_at`` is ``normalize_taken_at``'s form.
    ``path``, ``paths`` and ``folders`` are in stored form
    (``mediaapp.core.filenames.to_stored``: valid Unicode even for file
    names that are not UTF-8); hits turn them back with ``from_stored``.
    ``name_key`` is ``name_key(path)`` (the ``SortOrder.NAME`` key); ``size``
    is in bytes (the ``SortOrder.SIZE`` key). ``moderation`` maps a normalised moderation label name (and
    ParentName) to ``(display spelling, highest float32 confidence)`` like ``labels``; ``moderation_checked``
    is ``IndexDocument.moderation_checked``. Moderation names add no search tokens.
    """

    sha256: str
    path: str
    paths: list[str]
    folders: list[str]
    taken_at: str | None
    size: int
    format: str
    camera: str | None
    name_key: str = ""
    labels: dict[str, tuple[str, float]] = field(default_factory=dict)
    aliases: dict[str, tuple[str, float]] = field(default_factory=dict)
    persons: dict[str, tuple[str, float]] = field(default_factory=dict)
    tokens: str = ""
    text: str = ""
    moderation: dict[str, tuple[str, float]] = field(default_factory=dict)
    moderation_checked: bool = False
    #: One entry per DetectFaces face: ``(person key, {attribute: float32 confidence})``; the person key is the
    #: ``normalize_label`` name of the person detection tied to the face (``core.responses.same_face``: box
    #: IoU >= 0.5), ``""`` when none is. What ``Query.face_attributes`` searches, face by face.
    faces: list[tuple[str, dict[str, float]]] = field(default_factory=list)
    #: ``core.query.rating_key`` of the asset's xmp:Rating: the ``SortOrder.RATING`` key and ``min_rating``'s field.
    rating: float = UNRATED_KEY


def _text_of(doc: IndexDocument) -> str:
    """Detected text: ``doc.text``, or the LINE detections when it is empty."""
    if doc.text:
        return doc.text
    return "\n".join(d.name for d in doc.detections
                     if d.kind == DetectionKind.TEXT and (d.text_type or "LINE") == "LINE")


def project(doc: IndexDocument) -> Projection:
    """Derive the facts, tokens and normalised fields of ``doc``.

    Tokens are, in this order: the detected text (``doc.text``, or LINE
    detections when it is empty; WORDs repeat LINEs and are skipped), each
    distinct label name, parent and alias, each distinct person name, and the file
    name of every path. Faces without identity add nothing. Raises
    ``ValueError`` when the asset has no sha256.
    """
    asset = doc.asset
    if not asset.sha256:
        raise ValueError("asset has no sha256")
    labels: dict[str, tuple[str, float]] = {}
    persons: dict[str, tuple[str, float]] = {}
    moderation: dict[str, tuple[str, float]] = {}
    label_words: list[str] = []
    person_words: list[str] = []
    alias_table = aliases()
    alias_facts: dict[str, tuple[str, float]] = {}

    def add(target: dict[str, tuple[str, float]], words: list[str], name: str, conf: float) -> None:
        key = normalize_label(name)
        if not key:
            return
        old = target.get(key)
        if old is None:
            target[key] = (name.strip(), conf)
            words.append(name)
        elif conf > old[1]:
            target[key] = (old[0], conf)

    for det in [*doc.detections, *context_labels(doc.detections)]:  # + Text/Document from the text's lines
        conf = float32(det.confidence)
        if det.kind == DetectionKind.LABEL:
            add(labels, label_words, det.name, conf)
            for parent in det.parents:
                add(labels, label_words, parent, conf)
            for alias in alias_table.expand([det.name], det.parents):
                add(alias_facts, label_words, alias, conf)
        elif det.kind == DetectionKind.PERSON:
            add(persons, person_words, det.name, conf)
        elif det.kind == DetectionKind.MODERATION:
            for name in (det.name, *det.parents):
                add(moderation, [], name, conf)
    faces = _faces(doc)
    text = _text_of(doc)
    file_names = [os.path.basename(p.replace("\\", "/")) for p in asset.paths]
    tokens = tokenize("\n".join([text, *label_words, *person_words, *file_names]))
    stored = [to_stored(p) for p in asset.paths]
    path = stored[0] if stored else ""
    return Projection(
        sha256=asset.sha256, path=path, name_key=name_key(path),
        paths=stored, folders=[to_stored(f) for f in doc.folders],
        taken_at=normalize_taken_at(asset.taken_at), size=int(asset.size or 0),
        format=asset.format or "", camera=asset.camera,
        labels=labels, aliases={k: v for k, v in alias_facts.items() if k not in labels},
        persons=persons, tokens=" ".join(tokens), text=text,
        moderation=moderation, moderation_checked=bool(doc.moderation_checked), faces=faces,
        rating=rating_key(asset.rating))


def _faces(doc: IndexDocument) -> list[tuple[str, dict[str, float]]]:
    """``Projection.faces`` of ``doc``: its face-attribute rows grouped by (engine, box), each tied to a person."""
    persons = [d for d in doc.detections if d.kind == DetectionKind.PERSON and d.box is not None]
    grouped: dict[tuple[str, BoundingBox], dict[str, float]] = {}
    for det in doc.detections:
        if det.kind == DetectionKind.FACE_ATTRIBUTE and det.box is not None:
            attrs = grouped.setdefault((det.source, det.box), {})
            attrs[det.name] = max(attrs.get(det.name, 0.0), float32(det.confidence))
    out = []
    for (_, box), attrs in grouped.items():
        person = same_face(box, persons)
        out.append((normalize_label(person.name) if person is not None else "", attrs))
    return out
