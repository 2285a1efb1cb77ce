"""Search sync: the change-feed consumer that keeps the search indexes up to date with the catalog.

It builds one ``IndexDocument`` per changed asset from the catalog (asset,
current detections, folders, detected text followed by the title and
description the file gives itself) and writes it to the embedded
index and, when one is configured, to the remote one (OpenSearch through
its durable ``QueuedIndex``). An asset leaves the feed (consumer
``mediaapp.catalog.feed.SEARCH``) only once the embedded index has it, so a
run killed before that point is completed by the next ``sync``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator

from mediaapp.catalog.db import Catalog
from mediaapp.catalog.feed import SEARCH
from mediaapp.catalog.similarity import SimilarityStore
from mediaapp.catalog.stacks import StackStore
from mediaapp.core.query import capture_date
from mediaapp.core.types import DetectionKind, IndexDocument
from mediaapp.search.factory import reindex
from mediaapp.search.index_base import IndexResult, SearchIndex, SearchUnavailableError
from mediaapp.services import moderation

#: Assets built and written per batch by ``sync``.
SYNC_BATCH = 500


class SearchSync:
    """Keeps ``local`` (the embedded index, always) and ``remote`` (None, or the configured one) in sync.

    Builds and writes are serialised (one lock), so an older document never
    overwrites a newer one. Every method is safe from any thread.
    """

    def __init__(self, catalog: Catalog, local: SearchIndex, remote: SearchIndex | None = None):
        self.catalog = catalog
        self.local = local
        self.remote = remote
        self.stacks = StackStore(catalog)
        self._lock = threading.RLock()

    @property
    def indexes(self) -> list[SearchIndex]:
        """The indexes written: the embedded one first."""
        return [self.local] if self.remote is None else [self.local, self.remote]

    def missing_documents(self) -> str | None:
        """Why the embedded index lacks documents it should have, or None.

        An index holding no document while the catalog holds images was
        deleted or emptied, or recreated for a new index schema (searches
        would silently find nothing); the answer says so, for the library to
        rebuild it. Not when every image
        is still marked in the change feed (a first run killed before it
        indexed anything): ``sync`` indexes them. Two counts: cheap.
        """
        images = self.catalog.asset_count()
        if images and not self.local.count() and len(self.catalog.feed.pending(SEARCH)) < images:
            return (f"the search index holds no images but the catalog holds {images} "
                    "(the index file was deleted or emptied, or made by another version of mediaapp)")
        return None

    def documents(self, sha256s: Iterable[str]) -> list[IndexDocument]:
        """Search documents of these assets, built from the catalog (unknown ones are skipped).

        A RAW+JPEG stack (``mediaapp.catalog.stacks``) has one document, its
        original's (the RAW): a member (the JPEG) asked for gives its
        original's document instead, and none of its own. The stack's document
        holds both files' detections (one of them was analysed) and words,
        and what the JPEG says of itself where the RAW says nothing. An asset
        whose EXIF has no date is dated by photoshop:DateCreated or IPTC
        Date Created (``core.query.capture_date``). An asset hidden from
        results (``catalog.similarity``: a near-duplicate not kept) has none.
        """
        shas = list(sha256s)
        originals = self.stacks.originals(shas)
        wanted = list(dict.fromkeys(originals.get(s, s) for s in shas))
        members = self.stacks.members(wanted)
        assets = self.catalog.assets([*wanted, *(m for ms in members.values() for m in ms)])
        detections = self.catalog.detections(assets)
        checked = moderation.checked(self.catalog, assets)  # answered DetectModerationLabels (any engine)
        similarity = SimilarityStore(self.catalog)
        hidden = similarity.hidden(wanted)  # near-duplicates the user hid: in no index
        docs = []
        for sha in wanted:
            asset = assets.get(sha)
            if asset is None or sha in hidden:
                continue
            dets = list(detections.get(sha, []))
            for member in members.get(sha, []):
                other = assets.get(member)
                if other is None:
                    continue
                dets += detections.get(member, [])
                asset.stack_paths += other.paths
                asset.taken_at = asset.taken_at or other.taken_at
                asset.title = asset.title if asset.title is not None else other.title
                asset.description = asset.description if asset.description is not None else other.description
                asset.rating = asset.rating if asset.rating is not None else other.rating
                asset.label = asset.label if asset.label is not None else other.label
                asset.date_created = asset.date_created if asset.date_created is not None else other.date_created
            asset.taken_at = capture_date(asset.taken_at, asset.date_created)  # no EXIF date: the file's own
            lines = [d.name for d in dets if d.kind is DetectionKind.TEXT and d.text_type == "LINE"]
            lines += [t for t in (asset.title, asset.description) if t]  # the file's own words are search words
            folders = sorted({os.path.dirname(p) for p in asset.paths})
            embedded = None
            if self.remote is not None:  # OpenSearch's k-NN; a stack is analysed through its JPEG
                embedded = next((e for s in (sha, *members.get(sha, [])) if (e := similarity.embedding(s))), None)
            docs.append(IndexDocument(asset, dets, folders, "\n".join(lines), moderation_checked=(
                sha in checked or any(m in checked for m in members.get(sha, []))),
                embedding=None if embedded is None else tuple(embedded[1].tolist())))
        return docs

    def iter_documents(self, batch: int = 500) -> Iterator[IndexDocument]:
        """Every asset's search document, built ``batch`` assets at a time."""
        shas = self.catalog.all_sha256s()
        emitted: set[str] = set()  # a stack's document comes once, whichever of its files is met first
        for i in range(0, len(shas), batch):
            for doc in self.documents(shas[i:i + batch]):
                if doc.asset.sha256 not in emitted:
                    emitted.add(doc.asset.sha256)
                    yield doc

    def update(self, sha256s: Iterable[str]) -> bool:
        """Rebuild these assets' documents in every index; assets no longer catalogued are deleted.

        A remote index that is down queues the change durably. The assets'
        marks are cleared only once the embedded index has them; an asset
        changed while its document was being built keeps its newer mark. A
        document an index rejects is recorded as an ``index`` error of its
        file (and stays marked when the embedded index rejected it). Returns
        False when the embedded index could not be written at all.
        """
        shas = list(dict.fromkeys(sha256s))
        if not shas:
            return True
        with self._lock:
            marks = self.catalog.feed.marks(SEARCH, shas)
            docs = self.documents(shas)
            gone = sorted(set(shas) - {d.asset.sha256 for d in docs})
            rejected: dict[str, str] = {}   # sha256 -> reason, from any index
            keep: set[str] = set()           # rejected by the embedded index: stay marked
            for index in self.indexes:
                try:
                    result = index.upsert(docs) if docs else None
                    if gone:
                        index.delete(gone)
                except SearchUnavailableError:
                    if index is self.local:
                        return False  # stay marked
                    continue
                for sha, reason in (result.failed if result else []):
                    rejected.setdefault(sha, f"{index.name}: {reason}")
                    if index is self.local:
                        keep.add(sha)
            paths = {d.asset.sha256: d.asset.paths[0] for d in docs if d.asset.paths}
            for sha, reason in rejected.items():
                self.catalog.record_error(paths.get(sha, sha), "index", reason, sha256=sha)
            self.catalog.clear_index_errors([s for s in shas if s not in rejected])
            self.catalog.feed.clear(SEARCH, {s: m for s, m in marks.items() if s not in keep})
        return True

    def sync(self) -> int:
        """Index every asset marked in the change feed; returns how many left the feed.

        Stops when a pass makes no progress (the embedded index is down, or
        rejects what is left: those stay marked, with an ``index`` error).
        """
        done = 0
        while True:
            pending = self.catalog.feed.pending(SEARCH)
            if not pending:
                return done
            for i in range(0, len(pending), SYNC_BATCH):
                if not self.update(pending[i:i + SYNC_BATCH]):
                    return done  # the embedded index is unavailable: the rest stays marked for later
            left = set(self.catalog.feed.pending(SEARCH))
            done += len(set(pending) - left)
            if left >= set(pending):
                return done

    def rebuild(self, target: SearchIndex | None = None,
                progress: Callable[[int], None] | None = None) -> IndexResult:
        """Fill ``target`` (default: the embedded index) from the catalog (``mediaapp.search.factory.reindex``).

        OpenSearch gets a new versioned index and an alias swap. No other
        document is written meanwhile (it would land in the old index).
        ``progress(done)`` gets the documents processed so far. Returns the
        ``IndexResult`` (``indexed``, and the rejected documents in
        ``failed``); raises ``SearchUnavailableError`` when ``target`` is
        unreachable.
        """
        with self._lock:
            return reindex(self.iter_documents(), target or self.local, progress=progress)

    def close(self) -> None:
        """Close every index."""
        for index in self.indexes:
            index.close()
