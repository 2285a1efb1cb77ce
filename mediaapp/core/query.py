"""The query language's normaliser: one reading of a ``Query`` for every backend and the box matcher.

``normalize_query`` turns a ``Query`` into a ``NormalizedQuery``: label and
person keys (``normalize_label``), text tokens (``tokenize``), inclusive date
bounds in ``normalize_taken_at`` form, the folder's path prefix in stored
form, and the minimum confidence rounded to float32 as OpenSearch stores
confidences. The SQLite and OpenSearch backends translate a
``NormalizedQuery`` into their own requests, and ``NormalizedQuery.draws``
decides which detections the UI boxes for the query, so what is drawn is
exactly what made an asset match.

Pure functions: no I/O.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from mediaapp.core.filenames import to_stored
from mediaapp.core.responses import FACE_ATTRIBUTES
from mediaapp.core.text import normalize_label, tokenize
from mediaapp.core.types import MODERATION_THRESHOLD, Detection, DetectionKind, Query, SearchCursor, SortOrder

__all__ = [
    "UNRATED_KEY",
    "NormalizedQuery",
    "capture_date",
    "date_bounds",
    "face_attribute_keys",
    "float32",
    "folder_prefix",
    "name_key",
    "name_tokens",
    "normalize_cursor",
    "normalize_query",
    "normalize_taken_at",
    "rating_key",
]

_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EXIF_DATE = re.compile(r"^(\d{4}):(\d{2}):(\d{2})")


def float32(value: float) -> float:
    """Round ``value`` to the nearest IEEE-754 single-precision float.

    OpenSearch stores ``float`` fields in 32 bits; rounding confidences the
    same way in SQLite keeps ``>= min_confidence`` comparisons and confidence
    orderings identical on both backends.
    """
    return cast(float, struct.unpack("<f", struct.pack("<f", float(value)))[0])


def normalize_taken_at(value: str | None) -> str | None:
    """Normalise an ISO 8601 ``taken_at`` to ``YYYY-MM-DDTHH:MM:SS.mmm`` or None.

    The wall-clock time is kept and any UTC offset dropped (EXIF times are
    local times; a photo "taken on 2 January" stays on 2 January). EXIF's
    ``YYYY:MM:DD HH:MM:SS`` spelling is accepted too. Unparseable text gives
    None, i.e. the asset counts as undated. The fixed-width form sorts
    lexicographically in time order, which both backends rely on.
    """
    if not value:
        return None
    text = value.strip()
    text = _EXIF_DATE.sub(r"\1-\2-\3", text)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=None).isoformat(timespec="milliseconds")


def capture_date(taken_at: str | None, date_created: str | None) -> str | None:
    """An asset's capture date: EXIF's ``taken_at``, else the date the file says it was created.

    ``date_created`` is photoshop:DateCreated, or IPTC Date/Time Created, as
    written (``Asset.date_created``): an XMP Date, which may stop at the
    year or the month (``2021``, ``2021-06``; read as its first day) or carry a
    UTC offset (kept as written; ``normalize_taken_at`` drops it when it
    compares). Text that is no date gives None. EXIF wins whenever it has a
    date: it is written by the camera at the shot, the other by a person or a
    program later.
    """
    if taken_at or not date_created:
        return taken_at
    text = date_created.strip()
    if re.fullmatch(r"\d{4}", text):
        text += "-01-01"
    elif re.fullmatch(r"\d{4}-\d{2}", text):
        text += "-01"
    return text if normalize_taken_at(text) is not None else None


def date_bounds(query: Query) -> tuple[str | None, str | None]:
    """The query's inclusive ``(lower, upper)`` bounds in ``normalize_taken_at`` form.

    A date-only upper bound (``2020-01-31``) means the end of that day
    (``2020-01-31T23:59:59.999``) so the whole day is included; a date-only
    lower bound means its midnight. Raises ``ValueError`` for a bound that is
    not ISO 8601.
    """
    lower = upper = None
    if query.taken_after:
        lower = normalize_taken_at(query.taken_after)
        if lower is None:
            raise ValueError(f"taken_after is not an ISO 8601 date: {query.taken_after!r}")
    if query.taken_before:
        text = query.taken_before.strip()
        if _DATE_ONLY.match(text):
            day = datetime.fromisoformat(text)
            upper = (day + timedelta(days=1) - timedelta(milliseconds=1)).isoformat(timespec="milliseconds")
        else:
            upper = normalize_taken_at(text)
        if upper is None:
            raise ValueError(f"taken_before is not an ISO 8601 date: {query.taken_before!r}")
    return lower, upper


def folder_prefix(folder: str) -> str:
    """The path prefix selecting ``folder`` and everything below it.

    Trailing separators are trimmed and exactly one is appended, so
    ``/a/b`` gives ``/a/b/`` and never matches ``/a/bc/x.jpg``. The separator
    is ``\\`` for a Windows-style folder (backslashes and no slash), else ``/``.
    """
    sep = "\\" if ("\\" in folder and "/" not in folder) else "/"
    return folder.rstrip("/\\") + sep


def name_key(stored_path: str) -> str:
    """The ``SortOrder.NAME`` key of an asset: its representative path's base name, case-folded.

    ``stored_path`` is in stored form (``core.filenames.to_stored``); the
    base name is what follows its last ``/`` or ``\\`` (the whole text when
    there is none, ``""`` for ``""``), then ``str.casefold`` makes it
    case-insensitive (``"IMG_1.JPG"`` and ``"img_1.jpg"`` give the same key).
    Both backends store this key and sort on it in binary (UTF-8) order.
    Never raises.
    """
    return stored_path.replace("\\", "/").rsplit("/", 1)[-1].casefold()


def name_tokens(name: str) -> list[str]:
    """The words of a label or person name used by the text word score.

    ``tokenize(normalize_label(name))``: both backends derive a name's words
    from its normalised key with this one function, so a query word scores
    the same detections on SQLite and OpenSearch. Example:
    ``name_tokens("Hot Dog") == ["hot", "dog"]``.
    """
    return tokenize(normalize_label(name))


def _keys(names: tuple[str, ...]) -> tuple[str, ...]:
    """The distinct non-empty ``normalize_label`` keys of ``names``, in order."""
    return tuple(dict.fromkeys(k for k in map(normalize_label, names) if k))


@dataclass(frozen=True, slots=True)
class NormalizedQuery:
    """A ``Query`` as every backend reads it (see ``mediaapp.core.types.Query`` for the semantics).

    ``labels`` / ``persons``: distinct ``normalize_label`` keys, in query
    order; ``tokens``: the text's tokens (empty: no text filter);
    ``min_confidence``: float32-rounded, 0-100; ``taken_after`` /
    ``taken_before``: inclusive bounds in ``normalize_taken_at`` form (None:
    unbounded); ``folder_prefix``: the stored-form prefix of the folder
    filter (None: no filter); ``after``: the keyset cursor (``normalize_cursor``)
    or None. ``moderation``: distinct ``normalize_label`` keys of ``Query.moderation``
    (``MODERATION_UNCHECKED`` kept as it is); ``safe_only`` and ``moderation_threshold`` (float32-rounded,
    0-100) as given.
    """

    labels: tuple[str, ...]
    persons: tuple[str, ...]
    tokens: tuple[str, ...]
    match_all: bool
    min_confidence: float
    taken_after: str | None
    taken_before: str | None
    folder_prefix: str | None
    sort: SortOrder
    limit: int | None
    offset: int
    after: SearchCursor | None = None
    moderation: tuple[str, ...] = ()
    safe_only: bool = False
    moderation_threshold: float = MODERATION_THRESHOLD
    #: ``Query.face_attributes``, checked against ``FACE_ATTRIBUTES`` and lower-cased, distinct, in query order.
    face_attributes: tuple[str, ...] = ()
    #: ``Query.min_rating`` as a float32 ``rating_key`` bound (None: no filter).
    min_rating: float | None = None
    #: ``Query.like``: the example's sha256, lower-case (None: no similarity ranking).
    like: str | None = None

    def attribute_matches(self, det: Detection) -> bool:
        """Whether ``det`` is the face-attribute row that stands for a face matching the attribute filter.

        It is the first queried attribute (``face_attributes[0]``) at
        ``min_confidence`` or more: one row per face, so each face is boxed
        once. The row alone cannot tell whether its face also has the other
        queried attributes or a queried name; with ``persons`` the person
        rows are drawn instead (``draws``).
        """
        return (det.kind is DetectionKind.FACE_ATTRIBUTE and bool(self.face_attributes)
                and det.name == self.face_attributes[0] and float32(det.confidence) >= self.min_confidence)

    def label_matches(self, det: Detection) -> bool:
        """Whether ``det`` is a label detection satisfying one of the label filters.

        Its name or one of its parents is one of ``labels``, at
        ``min_confidence`` or more (float32, as stored).
        """
        if det.kind is not DetectionKind.LABEL or float32(det.confidence) < self.min_confidence:
            return False
        return any(normalize_label(n) in self.labels for n in (det.name, *det.parents))

    def person_matches(self, det: Detection) -> bool:
        """Whether ``det`` is a person detection named one of ``persons`` (confidence is not compared)."""
        return det.kind is DetectionKind.PERSON and normalize_label(det.name) in self.persons

    def draws(self, det: Detection) -> bool:
        """Whether the UI boxes ``det`` for this query.

        With label, person or face-attribute filters: the boxed detections that
        satisfy one of them (``label_matches`` / ``person_matches`` /
        ``attribute_matches``, the last only without persons), i.e. that made the
        asset match. Without: every boxed label, face and person detection at
        ``min_confidence`` or more.
        """
        if det.box is None:
            return False
        if self.labels or self.persons or self.face_attributes:
            return (self.label_matches(det) or self.person_matches(det)
                    or (not self.persons and self.attribute_matches(det)))
        return det.kind in (DetectionKind.LABEL, DetectionKind.FACE, DetectionKind.PERSON) \
            and float32(det.confidence) >= self.min_confidence


#: ``rating_key`` of an unrated asset (no xmp:Rating, or 0, XMP's "unrated"): below every rating, so last.
UNRATED_KEY = -2.0


def rating_key(rating: float | None) -> float:
    """The ``SortOrder.RATING`` key of an asset's xmp:Rating (``Asset.rating``), as both backends store it.

    Ratings 1 to 5 (stars; fractions as written) and -1 (rejected) are kept,
    as float32; no rating and 0 (XMP's "unrated") give ``UNRATED_KEY``, so
    the order (descending) is 5 to 1 stars, rejected, then unrated. Never
    None, so neither backend needs a "missing" rule.
    """
    if rating is None or rating == 0:
        return UNRATED_KEY
    return float32(float(rating))


def normalize_cursor(cursor: SearchCursor | None, sort: SortOrder) -> SearchCursor | None:
    """``cursor`` as the backends compare it: a relevance score rounded to float32.

    Raises ``ValueError`` when the cursor belongs to another order than
    ``sort``, or its key is not of its order's type (a number for
    ``RELEVANCE``, text or None for ``DATE`` and ``OLDEST``, text for
    ``PATH`` and ``NAME``, a whole number of bytes for ``SIZE``, returned as
    an int).
    """
    if cursor is None:
        return None
    if cursor.sort != sort:
        raise ValueError(f"the cursor is for the {cursor.sort.value!r} order, not {sort.value!r}")
    key = cursor.key
    if sort == SortOrder.RELEVANCE:
        if isinstance(key, bool) or not isinstance(key, (int, float)):
            raise ValueError(f"a relevance cursor's key is a score, not {key!r}")
        return SearchCursor(sort, float32(key), cursor.sha256)
    if sort == SortOrder.SIZE:
        if isinstance(key, bool) or not isinstance(key, (int, float)) or not float(key).is_integer():
            raise ValueError(f"a size cursor's key is a whole number of bytes, not {key!r}")
        return SearchCursor(sort, int(key), cursor.sha256)
    if sort == SortOrder.RATING:
        if isinstance(key, bool) or not isinstance(key, (int, float)):
            raise ValueError(f"a rating cursor's key is a rating_key number, not {key!r}")
        return SearchCursor(sort, float32(key), cursor.sha256)
    if not (isinstance(key, str) or (key is None and sort in (SortOrder.DATE, SortOrder.OLDEST))):
        raise ValueError(f"a {sort.value} cursor's key cannot be {key!r}")
    return cursor


def normalize_query(query: Query) -> NormalizedQuery:
    """Read ``query`` once for every backend.

    Raises ``ValueError`` for a date bound that is not ISO 8601 or a cursor
    that does not fit the query's order (``normalize_cursor``).
    """
    lower, upper = date_bounds(query)
    return NormalizedQuery(
        labels=_keys(query.labels), persons=_keys(query.persons), tokens=tuple(tokenize(query.text)),
        match_all=query.match_all, min_confidence=float32(query.min_confidence), taken_after=lower,
        taken_before=upper, folder_prefix=folder_prefix(to_stored(query.folder)) if query.folder else None,
        sort=query.sort, limit=query.limit, offset=query.offset, after=normalize_cursor(query.after, query.sort),
        moderation=_keys(query.moderation), safe_only=query.safe_only,
        moderation_threshold=float32(query.moderation_threshold),
        face_attributes=face_attribute_keys(query.face_attributes),
        min_rating=None if query.min_rating is None else float32(query.min_rating),
        like=_like_key(query.like))


def _like_key(like: str | None) -> str | None:
    """``Query.like`` checked as a sha256 (64 hex digits), lower-cased. Raises ``ValueError`` otherwise."""
    if like is None:
        return None
    key = like.strip().lower()
    if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
        raise ValueError(f"'like' must be an asset's sha256 (64 hex digits), not {like!r}")
    return key


def face_attribute_keys(names: tuple[str, ...]) -> tuple[str, ...]:
    """``names`` lower-cased and stripped, distinct, in order; ``ValueError`` naming the accepted ones otherwise.

    Accepted: ``core.responses.FACE_ATTRIBUTES`` (``eyes-closed``, ``smiling``...).
    """
    keys = tuple(dict.fromkeys(n.strip().lower() for n in names if n.strip()))
    unknown = [k for k in keys if k not in FACE_ATTRIBUTES]
    if unknown:
        raise ValueError(f"unknown face attribute {unknown[0]!r}; expected one of {', '.join(FACE_ATTRIBUTES)}")
    return keys
