"""Queries: search, facets, what the library knows of a file, and the boxes to draw for a query.

Searches go to the configured index and fall back to the embedded one when
the configured one is unavailable (a cluster that is down), so the same
query always answers. Everything else reads the catalog.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from pathlib import Path

from mediaapp.catalog.db import Catalog
from mediaapp.catalog.stacks import StackStore
from mediaapp.core.query import capture_date, normalize_query
from mediaapp.core.responses import detected_lines
from mediaapp.core.types import (
    METADATA_ENGINE,
    Api,
    Asset,
    Detection,
    DetectionKind,
    ImportProblem,
    Json,
    Query,
    SearchPage,
)
from mediaapp.search.index_base import FacetCount, SearchIndex, SearchUnavailableError

#: The asset fields ``show`` reports (``mediaapp show --json``'s ``asset``); a video's ``duration_ms``, ``codec`` and
#: ``frame_rate`` (None for images) follow its ``media_kind``.
SHOWN_ASSET_FIELDS = ("sha256", "size", "format", "width", "height", "paths", "taken_at", "camera_make",
                      "camera_model", "gps", "thumbnail", "title", "description", "rating", "label", "date_created",
                      "media_kind", "duration_ms", "codec", "frame_rate")


class Queries:
    """Questions to one library (``catalog``, the configured ``index`` and the embedded ``local`` one).

    Every method is safe from any thread and blocks (SQLite, or the network
    for OpenSearch): the GUI calls them off the GUI thread.
    """

    def __init__(self, catalog: Catalog, index: SearchIndex, local: SearchIndex):
        self.catalog = catalog
        self.index = index
        self.local = local
        self.stacks = StackStore(catalog)

    def search(self, query: Query) -> SearchPage:
        """Assets matching ``query`` (the configured backend, or the embedded one when it is down).

        Page with ``Query.after`` set to the previous page's
        ``SearchPage.cursor`` (keyset paging: every page costs the same,
        however deep). Cursors are the same on both backends, so paging
        started on OpenSearch carries on from the embedded index when the
        cluster goes down mid-way. Raises ``ValueError`` for a bad date bound
        or a cursor of another order, ``SearchUnavailableError`` when even the
        embedded index cannot be read.
        """
        try:
            return self.index.search(query)
        except SearchUnavailableError:
            return self.local.search(query)

    def facets(self, query: Query, field: str = "labels", limit: int = 100) -> list[FacetCount]:
        """Label (``field="labels"``) or person (``"persons"``) counts among the assets matching ``query``."""
        try:
            return self.index.facets(query, field, limit)
        except SearchUnavailableError:
            return self.local.facets(query, field, limit)

    def assets(self, sha256s: Iterable[str]) -> dict[str, Asset]:
        """Map sha256 -> Asset (unknown ones are left out).

        A RAW+JPEG stack's original (the RAW) has its other files' paths in
        ``Asset.stack_paths`` (the grid's "RAW+JPEG" badge). ``taken_at`` is
        the file's own date created when EXIF has none (``core.query.capture_date``),
        as the search indexes date it.
        """
        assets = self.catalog.assets(sha256s)
        for asset in assets.values():
            asset.taken_at = capture_date(asset.taken_at, asset.date_created)
        for sha, paths in self.stacks.member_paths(assets).items():
            assets[sha].stack_paths = paths
        return assets

    def _with_stacks(self, sha256s: Iterable[str]) -> tuple[list[str], dict[str, list[str]]]:
        """``sha256s`` plus the members of the stacks among them, and original -> members."""
        shas = list(dict.fromkeys(sha256s))
        members = self.stacks.members(shas)
        return [*shas, *(m for ms in members.values() for m in ms)], members

    @staticmethod
    def _merged(found: dict[str, list[Detection]], shas: Iterable[str],
                members: dict[str, list[str]]) -> dict[str, list[Detection]]:
        """``found`` for ``shas``, a stack original's list holding its members' detections after its own."""
        return {sha: [*found.get(sha, []), *(d for m in members.get(sha, []) for d in found.get(m, []))]
                for sha in shas if sha in found or sha in members}

    def detections(self, sha256s: Iterable[str], kinds: Iterable[DetectionKind] | None = None,
                   min_confidence: float = 0.0) -> dict[str, list[Detection]]:
        """Map sha256 -> current detections (optionally of ``kinds`` at ``min_confidence`` (0-100) or more).

        A RAW+JPEG stack's original gets its members' detections too (the
        stack was analysed through one of its files, ``mediaapp.catalog.stacks``).
        """
        asked = list(dict.fromkeys(sha256s))
        shas, members = self._with_stacks(asked)
        return self._merged(self.catalog.detections(shas, kinds, min_confidence), asked, members)

    def matching_detections(self, query: Query, sha256s: Iterable[str]) -> dict[str, list[Detection]]:
        """The boxed detections to draw for ``query``, by sha256 (``NormalizedQuery.draws``).

        With label or person filters: exactly the detections that made the
        asset match them, read as the search backends read the query
        (``mediaapp.core.query``). Without: every boxed label, face and
        person detection at ``query.min_confidence`` or more. Raises
        ``ValueError`` for a date bound that is not ISO 8601.
        """
        normalized = normalize_query(query)
        kinds = (DetectionKind.LABEL, DetectionKind.FACE, DetectionKind.PERSON, DetectionKind.FACE_ATTRIBUTE)
        asked = list(dict.fromkeys(sha256s))
        shas, members = self._with_stacks(asked)
        found = self._merged(self.catalog.detections(shas, kinds), asked, members)
        return {sha: [d for d in dets if normalized.draws(d)] for sha, dets in found.items()}

    def show(self, path: str | Path) -> Json:
        """What the library knows of one file: asset, stored responses by API name, what the file says, errors.

        ``asset`` holds ``SHOWN_ASSET_FIELDS`` (the file's own title,
        description, rating, label and date created among them). Each API
        name maps to the newest response of an analysis engine; what the
        file's own metadata says (the ``metadata`` engine) is kept apart
        from machine labels, under ``metadata``: ``keywords`` (``{"name":
        "Dog", "parents": ["Mammal", "Animal"]}``, nearest parent first) and
        ``people`` (the named face regions: ``{"name", "box"}``, the box in
        Rekognition's ratios). ``analyses``
        holds every stored response. A file in a RAW+JPEG stack has ``stack``
        (``_stack_of``): the RAW lists the analyses held under its JPEG, and
        shows them as its own where it has none. Raises ``KeyError`` when the
        path is not in the catalog and has no error.
        """
        path = os.path.abspath(os.path.expanduser(str(path)))
        sha = self.catalog.sha_for_path(path)
        errors = [dataclasses.asdict(e) for e in self.catalog.errors(path=path, sha256=sha)]
        if sha is None and not errors:
            raise KeyError(f"{path} is not in the library")
        out: Json = {"path": path, "sha256": sha, "errors": errors}
        if sha:
            asset = self.catalog.asset(sha)
            if asset is not None:
                fields = dataclasses.asdict(asset)
                out["asset"] = {k: fields[k] for k in SHOWN_ASSET_FIELDS}
            stored = self.catalog.responses(sha)
            for api in Api:
                machine = [e for e in stored.get(api.value, []) if e["Engine"] != METADATA_ENGINE]
                if machine:
                    out[api.value] = machine[0]["Response"]
            out["metadata"] = _file_metadata(stored)
            out["analyses"] = stored
            stack = self._stack_of(sha, out)
            if stack:
                out["stack"] = stack
        return out

    def _stack_of(self, sha: str, out: Json) -> Json:
        """The RAW+JPEG stack of the asset ``sha`` for ``show`` ({} when it is in none).

        For the stack's original (the RAW): ``{"original": sha, "members":
        [{"sha256", "paths", API name -> newest machine response}], "through":
        {API name: member sha256}}``. The stack is analysed once, usually
        through its JPEG (``mediaapp.catalog.stacks``), so an API the RAW has
        no machine answer of its own gets the member's at the top level of
        ``out`` too (changed in place), and ``through`` says whose it is. For
        a member (the JPEG): ``{"original": its RAW's sha256, "original_paths": [...]}``.
        """
        members = self.stacks.members([sha]).get(sha, [])
        if not members:
            original = self.stacks.originals([sha]).get(sha)
            if original is None:
                return {}
            asset = self.catalog.asset(original)
            return {"original": original, "original_paths": asset.paths if asset is not None else []}
        listed: list[Json] = []
        through: dict[str, str] = {}
        for member in members:
            asset = self.catalog.asset(member)
            entry: Json = {"sha256": member, "paths": asset.paths if asset is not None else []}
            stored = self.catalog.responses(member)
            for api in Api:
                machine = [e for e in stored.get(api.value, []) if e["Engine"] != METADATA_ENGINE]
                if machine:
                    entry[api.value] = machine[0]["Response"]
                    if api.value not in out:
                        out[api.value] = machine[0]["Response"]
                        through[api.value] = member
            listed.append(entry)
        return {"original": sha, "members": listed, "through": through}

    def text_of(self, sha256: str) -> list[str]:
        """The detected LINE texts of an asset (newest response of each engine), without repeats."""
        lines: list[str] = []
        for entry in self.catalog.responses(sha256).get(Api.DETECT_TEXT.value, []):
            lines += detected_lines(entry["Response"])
        return list(dict.fromkeys(lines))

    def catalogued_images(self, paths: Iterable[str | Path]) -> list[tuple[str, str, str | None]]:
        """``(sha256, path, taken_at)`` of each distinct catalogued image under ``paths`` (files or folders).

        ``path`` is the image's first path in sorted order; ``taken_at`` its
        capture date (ISO 8601) or None.
        """
        roots = [os.path.abspath(os.path.expanduser(str(p))) for p in paths]
        known = self.catalog.known_files(under=roots)
        first: dict[str, str] = {}
        for path, (_, _, sha) in sorted(known.items()):
            first.setdefault(sha, path)
        assets = self.catalog.assets(first)
        return [(sha, path, assets[sha].taken_at if sha in assets else None) for sha, path in first.items()]

    def asset_count(self) -> int:
        """How many assets the catalog holds."""
        return self.catalog.asset_count()

    def errors(self) -> list[ImportProblem]:
        """Every recorded problem, newest first."""
        return self.catalog.errors()

    def folders(self) -> list[tuple[str, int]]:
        """Folders with their file counts."""
        return self.catalog.folders()


def _file_metadata(stored: dict[str, list[Json]]) -> Json:
    """The keywords and named face regions of the newest ``metadata`` engine answers in ``stored`` (``show``)."""

    def newest(api: Api) -> Json:
        entry = next((e for e in stored.get(api.value, []) if e["Engine"] == METADATA_ENGINE), None)
        return entry["Response"] if entry else {}

    keywords = [{"name": label["Name"], "parents": [p["Name"] for p in label.get("Parents", [])]}
                for label in newest(Api.DETECT_LABELS).get("Labels", [])]
    people = [{"name": celeb["Name"], "box": celeb.get("Face", {}).get("BoundingBox")}
              for celeb in newest(Api.RECOGNIZE_CELEBRITIES).get("CelebrityFaces", [])]
    return {"keywords": keywords, "people": people}
