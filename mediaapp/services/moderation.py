"""Unsafe content: which images and videos were checked for it (DetectModerationLabels, GetContentModeration)
and which are flagged.

Read from the catalog: an asset is *checked* when some engine's current
answer to DetectModerationLabels (an image) or GetContentModeration (a video)
is stored for it (an answer with no label included), and *flagged* when one of its current moderation detections
reaches the threshold (``mediaapp.core.types.MODERATION_THRESHOLD`` unless
told otherwise). The search index keeps the same facts
(``IndexDocument.moderation_checked``, the ``moderation`` detections) for
``--safe-only``, ``--moderation`` and the "Unsafe content" facet; the grid
asks ``flagged`` which thumbnails to blur.
"""

from __future__ import annotations

from collections.abc import Iterable

from mediaapp.catalog.db import Catalog
from mediaapp.catalog.stacks import StackStore
from mediaapp.core.types import MODERATION_THRESHOLD, Api, DetectionKind

__all__ = ["MODERATION_APIS", "checked", "flagged"]

#: The APIs whose stored answer means "checked for unsafe content": an image's and a video's.
MODERATION_APIS = (Api.DETECT_MODERATION_LABELS.value, Api.GET_CONTENT_MODERATION.value)

def checked(catalog: Catalog, sha256s: Iterable[str]) -> set[str]:
    """Those of ``sha256s`` with a current answer of any engine to a moderation API (``MODERATION_APIS``:
    DetectModerationLabels, or GetContentModeration for a video). Raises
    ``sqlite3.Error`` when the catalog cannot be read. See ``Catalog.answered``."""
    return catalog.answered(sha256s, MODERATION_APIS)


def flagged(catalog: Catalog, sha256s: Iterable[str], threshold: float = MODERATION_THRESHOLD) -> set[str]:
    """Those of ``sha256s`` with a current moderation detection at ``threshold`` (0-100) or more: the
    images "Blur unsafe thumbnails" blurs and ``--safe-only`` leaves out.

    A RAW+JPEG stack's original (``catalog.stacks``) is flagged when one of its
    members is: the stack is analysed once, usually through its JPEG, and the
    search index merges the members' detections into the original's document
    the same way (``services.indexing``)."""
    shas = list(sha256s)
    members = StackStore(catalog).members(shas)
    found = catalog.detections([*shas, *(m for ms in members.values() for m in ms)],
                               kinds=[DetectionKind.MODERATION], min_confidence=threshold)
    hit = {sha for sha, dets in found.items() if dets}
    return {sha for sha in shas if sha in hit or any(m in hit for m in members.get(sha, []))}
