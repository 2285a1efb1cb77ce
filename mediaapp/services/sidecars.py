"""XMP sidecar writing: the change-feed consumer that puts mediaapp's labels and named faces next to the files.

Opt-in (``Settings.sidecars``, see ``mediaapp.settings.SIDECAR_DEFAULTS``):
off by default, on for the library or per folder (the deepest folder rule
wins). For every path of an asset that lies in a folder with sidecars on,
``SidecarWriter`` merges into that file's sidecar (``mediaapp.ingest.xmp_write``):

- the asset's current machine labels (``detections`` of kind ``label``)
  from every engine except ``metadata`` (those came from the file itself),
  with Confidence at least ``sidecars.min_confidence``: ``dc:subject`` (the
  name), ``lr:hierarchicalSubject`` and ``digiKam:TagsList`` (the label's
  Rekognition ``Parents``, nearest first, reversed: root first);
- its named people (``person`` detections with a box, from People and
  from celebrity recognition; not ``metadata``'s): MWG face regions.

Sidecar names (``sidecars.naming``): ``NAME.EXT.xmp`` (default: one per
file, never shared) or ``NAME.xmp``. A ``NAME.xmp`` that a RAW and another
file (its JPEG) share belongs to the RAW (``ingest.raw.RAW_EXTENSIONS``):
only the RAW's asset writes it. When two files share a stem and neither or
both are RAW, each gets ``NAME.EXT.xmp``, so two assets never fight over
one file. An upper-case ``NAME.XMP`` already there is written in place.

Driven by the catalog's change feed (consumer ``SIDECARS``, registered on
the first run with sidecars on: every asset is then marked). A run reads
the pending assets and their marks, writes, then clears the marks of the
assets done; an asset whose sidecar could not be written keeps its mark
(retried next run) and gets one ``sidecar`` error naming the file and the
reason, and the rest carry on. A run killed halfway leaves the rest marked:
the next run resumes. When the opt-in settings change (a folder turned on)
every asset is marked again for this consumer only.

The catalog keeps, per sidecar, the entries mediaapp owns there and the
file's size and modification time after the write
(``catalog.sidecar_records``). Every write reads the sidecar as it is now
and merges into it, so a sidecar another program changed since our write
(its size or time differs from the record) loses nothing; one already as
wanted is not written again. ``SidecarWriter.is_own_write`` tells the folder
watcher which file events are our own writes (size and time as recorded).
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mediaapp.catalog.db import Catalog
from mediaapp.catalog.sidecar_records import ERROR_STAGE, OwnedEntries, SidecarRecord, SidecarRecords
from mediaapp.catalog.stacks import StackStore
from mediaapp.core.types import METADATA_ENGINE, Asset, Detection, DetectionKind
from mediaapp.ingest.raw import RAW_EXTENSIONS
from mediaapp.ingest.xmp import XmpError
from mediaapp.ingest.xmp_write import TEMP_SUFFIX, FaceArea, Owned, SidecarContent, write_sidecar
from mediaapp.settings import Settings, sidecars_anywhere, sidecars_on_for

__all__ = ["SIDECARS", "SIDECAR_STAGE", "SidecarReport", "SidecarStatus", "SidecarWriter", "sidecar_content"]

#: The change-feed consumer name of the sidecar writer.
SIDECARS = "sidecars"

#: The ``errors.stage`` of a sidecar that could not be written.
SIDECAR_STAGE = ERROR_STAGE

#: Assets read and written per batch.
BATCH = 200

#: Own writes remembered in memory for ``is_own_write`` (older ones are looked up in the catalog).
_RECENT = 10_000

#: Progress callback: (assets done, assets in the run).
SidecarProgress = Callable[[int, int], None]


@dataclass
class SidecarReport:
    """One run's outcome: sidecars ``written``; ``unchanged`` (already as wanted, not rewritten); ``assets``
    handled; ``failed``: (sidecar path, reason) pairs; ``cancelled``: stopped early (the rest stays marked)."""

    written: int = 0
    unchanged: int = 0
    assets: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False


@dataclass(frozen=True)
class SidecarStatus:
    """``enabled``: sidecars on for the library or some folder; ``pending``: assets in opted-in folders waiting to
    be written; ``written``: sidecars mediaapp has written; ``failed``: assets whose last write failed."""

    enabled: bool
    pending: int
    written: int
    failed: int


def _path_part(name: str, separator: str) -> str:
    """A label name as one part of a keyword path: the path's ``separator`` inside it becomes a space."""
    return " ".join(name.replace(separator, " ").split())


def _root_first(parents: Sequence[str], known: dict[str, int]) -> list[str]:
    """A label's ``parents`` (Rekognition: nearest first) ordered root first, by each parent's own number of
    ancestors where it is a label of the image too (``known``), else by its place in the list."""
    depth = {p: known.get(p.casefold(), len(parents) - i - 1) for i, p in enumerate(parents)}
    return sorted(reversed(parents), key=lambda p: depth[p])


def sidecar_content(asset: Asset, detections: Sequence[Detection], min_confidence: float,
                    confidences: bool = False) -> SidecarContent:
    """What mediaapp writes into ``asset``'s sidecars, from its current ``detections`` (see the module docstring).

    Labels: one per name (ignoring case; its highest confidence, the first
    non-empty Parents), in the detections' order; ``min_confidence`` 0-100.
    A path's ancestors are ordered root first (``_root_first``).
    People: one region per name (the most confident box). ``confidences``:
    also list (name, confidence) of every label written. Pure.
    """
    labels: dict[str, tuple[str, float, tuple[str, ...]]] = {}
    people: dict[str, Detection] = {}
    for det in detections:
        if det.source == METADATA_ENGINE or not det.name.strip():
            continue
        key = det.name.casefold()
        if det.kind is DetectionKind.LABEL and det.confidence >= min_confidence:
            name, conf, parents = labels.get(key, (det.name, det.confidence, det.parents))
            labels[key] = (name, max(conf, det.confidence), parents or det.parents)
        elif det.kind is DetectionKind.PERSON and det.box is not None:
            if key not in people or det.confidence > people[key].confidence:
                people[key] = det
    known = {d.name.casefold(): len(d.parents) for d in detections if d.kind is DetectionKind.LABEL}
    paths = [(*_root_first(parents, known), name) for name, _, parents in labels.values()]
    regions = []
    for det in people.values():
        assert det.box is not None
        box = det.box.clamped()
        if box.width > 0 and box.height > 0:
            regions.append(FaceArea(det.name, box.left, box.top, box.width, box.height))
    return SidecarContent(
        subject=tuple(name for name, _, _ in labels.values()),
        hierarchical=tuple("|".join(_path_part(p, "|") for p in path) for path in paths),
        tags_list=tuple("/".join(_path_part(p, "/") for p in path) for path in paths),
        regions=tuple(regions),
        dimensions=(asset.width, asset.height) if asset.width > 0 and asset.height > 0 else None,
        confidences=tuple((name, round(conf, 2)) for name, conf, _ in labels.values()) if confidences else ())


def _owned(entries: OwnedEntries) -> Owned:
    return Owned(entries.subject, entries.hierarchical, entries.tags_list, entries.regions)


class _Folders:
    """Each folder's file names, listed once per run (for ``NAME.xmp`` decisions and ``.XMP`` spellings)."""

    def __init__(self) -> None:
        self._names: dict[str, list[str]] = {}

    def names(self, folder: str) -> list[str]:
        """The names in ``folder`` (none when it cannot be listed)."""
        if folder not in self._names:
            try:
                self._names[folder] = os.listdir(folder)
            except OSError:
                self._names[folder] = []
        return self._names[folder]

    def siblings(self, path: str) -> list[str]:
        """The other files of ``path``'s folder with the same stem (ignoring case), sidecars left out."""
        folder, name = os.path.split(path)
        stem = os.path.splitext(name)[0].casefold()
        return [os.path.join(folder, n) for n in self.names(folder)
                if n != name and os.path.splitext(n)[0].casefold() == stem and not n.lower().endswith(".xmp")]

    def existing(self, path: str) -> str:
        """``path``, or the spelling of it that exists in its folder with another case (``photo.XMP``)."""
        folder, name = os.path.split(path)
        names = self.names(folder)
        if name in names:
            return path
        return next((os.path.join(folder, n) for n in names if n.casefold() == name.casefold()), path)


def sidecar_paths(asset: Asset, options: dict[str, Any], folders: _Folders | None = None) -> list[tuple[str, str]]:
    """(original path, sidecar path) for each of ``asset``'s paths in a folder with sidecars on (see the module
    docstring for the naming). ``options``: ``Settings.sidecars``. A few ``scandir`` calls."""
    folders = folders or _Folders()
    out = []
    for path in asset.paths:
        if not sidecars_on_for(path, options):
            continue
        target = path + ".xmp"
        if options.get("naming") == "name.xmp":
            siblings = folders.siblings(path)
            raw = os.path.splitext(path)[1].lower() in RAW_EXTENSIONS
            raws = [s for s in siblings if os.path.splitext(s)[1].lower() in RAW_EXTENSIONS]
            if not siblings or (raw and not raws):
                target = os.path.splitext(path)[0] + ".xmp"
            elif not raw and len(raws) == 1:
                continue  # the RAW's NAME.xmp covers its JPEG
        out.append((path, folders.existing(target)))
    return out


class SidecarWriter:
    """Writes the sidecars of the assets the change feed marks (see the module docstring).

    ``catalog``: the library's catalog; ``settings``: returns the current
    ``Settings`` (read on each run). Runs are serialised (one lock); every
    method is safe from any thread.
    """

    def __init__(self, catalog: Catalog, settings: Callable[[], Settings]):
        self.catalog = catalog
        self.records = SidecarRecords(catalog)
        self.stacks = StackStore(catalog)
        self._settings = settings
        self._lock = threading.RLock()
        self._own: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._own_lock = threading.Lock()

    @property
    def options(self) -> dict[str, Any]:
        """The current ``sidecars`` settings (``mediaapp.settings.sidecar_options``'s shape)."""
        return dict(self._settings().sidecars)

    @property
    def enabled(self) -> bool:
        """Whether sidecars are on for the library or for any folder."""
        return sidecars_anywhere(self.options)

    def _prepare(self) -> dict[str, Any] | None:
        """The options of a run, or None when sidecars are off everywhere; registers the consumer and marks
        every asset again when the opt-in settings changed since the last run."""
        options = self.options
        if not sidecars_anywhere(options):
            return None
        new = self.catalog.feed.register(SIDECARS)  # a new consumer starts with every asset marked
        scope = json.dumps(options, sort_keys=True)
        if self.records.state("scope") != scope:
            if not new:
                self.records.mark_all(SIDECARS)
            self.records.set_state("scope", scope)
        return options

    def sync(self, progress: SidecarProgress | None = None, cancel: Callable[[], bool] | None = None) -> SidecarReport:
        """Write the sidecars of every asset the change feed marks; a no-op while sidecars are off everywhere.

        ``progress(done, total)`` after each batch; ``cancel()`` True stops
        between assets (the rest stays marked). Raises ``sqlite3.Error``
        when the catalog cannot be read or written; a sidecar that cannot
        be written is a ``failed`` entry (and a ``sidecar`` error of its file).
        """
        with self._lock:
            options = self._prepare()
            if options is None:
                return SidecarReport()
            return self._run(self.catalog.feed.pending(SIDECARS), options, progress, cancel)

    def write(self, paths: Iterable[str] | None = None, progress: SidecarProgress | None = None,
              cancel: Callable[[], bool] | None = None) -> SidecarReport:
        """``sync``, or with ``paths`` (files or folders, made absolute) the assets catalogued there, marked or not.

        Only folders with sidecars on are written. Raises as ``sync`` does.
        """
        if paths is None:
            return self.sync(progress, cancel)
        wanted = [os.path.abspath(os.path.expanduser(str(p))) for p in paths]
        with self._lock:
            options = self._prepare()
            if options is None:
                return SidecarReport()
            shas = sorted({sha for _, _, sha in self.catalog.known_files(under=wanted).values()})
            return self._run(shas, options, progress, cancel)

    def _run(self, shas: list[str], options: dict[str, Any], progress: SidecarProgress | None,
             cancel: Callable[[], bool] | None) -> SidecarReport:
        report = SidecarReport()
        folders = _Folders()
        for i in range(0, len(shas), BATCH):
            batch = shas[i:i + BATCH]
            marks = self.catalog.feed.marks(SIDECARS, batch)
            groups = self._stack_groups(batch)
            everyone = list(dict.fromkeys(g for sha in batch for g in groups[sha]))
            assets = self.catalog.assets(everyone)
            detections = self.catalog.detections(list(assets), (DetectionKind.LABEL, DetectionKind.PERSON))
            outcome: dict[str, bool] = {}  # sha256 -> its sidecars were all written
            records: list[SidecarRecord] = []
            handled: list[str] = []
            for sha in batch:
                if cancel is not None and cancel():
                    report.cancelled = True
                    break
                handled.append(sha)
                for member in groups[sha]:
                    asset = assets.get(member)
                    if member in outcome or asset is None:
                        continue  # a forgotten asset has nothing to write (its sidecars are left as they are)
                    stack_detections = [d for g in groups[sha] for d in detections.get(g, [])]
                    outcome[member] = self._write_asset(asset, stack_detections, options, folders, report, records)
                report.assets += 1
            done = [sha for sha in handled if sha in marks and all(outcome.get(g, True) for g in groups[sha])]
            self.records.put(records, [sha for sha, ok in outcome.items() if ok])
            self.catalog.feed.clear(SIDECARS, {sha: marks[sha] for sha in done})
            if progress is not None:
                progress(min(i + len(batch), len(shas)), len(shas))
            if report.cancelled:
                break
        return report

    def _stack_groups(self, shas: list[str]) -> dict[str, list[str]]:
        """Map each of ``shas`` to the assets of its RAW+JPEG stack (``catalog.stacks``), the original first;
        an asset in no stack is its own group. A stack is one picture: each of its files' sidecars carries
        the labels and people of the whole stack (it was analysed once, through one of them)."""
        originals = self.stacks.originals(shas)
        roots = list(dict.fromkeys(originals.get(s, s) for s in shas))
        members = self.stacks.members(roots)
        return {sha: [originals.get(sha, sha), *members.get(originals.get(sha, sha), [])] for sha in shas}

    def _write_asset(self, asset: Asset, detections: list[Detection], options: dict[str, Any], folders: _Folders,
                     report: SidecarReport, records: list[SidecarRecord]) -> bool:
        """Write ``asset``'s sidecars, adding the records to keep to ``records``; True when every one was written
        (or needed nothing)."""
        targets = sidecar_paths(asset, options, folders)
        if not targets:
            return True
        content = sidecar_content(asset, detections, float(options.get("min_confidence", 80.0)),
                                  bool(options.get("confidences")))
        known = self.records.get(t for _, t in targets)
        ok = True
        for original, target in targets:
            before = known.get(target)
            try:
                result = write_sidecar(target, content, _owned(before.owned) if before else Owned(), asset.paths)
            except (OSError, ValueError, XmpError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                message = f"cannot write the sidecar {os.path.basename(target)}: {reason}"
                if isinstance(exc, XmpError):
                    message = f"the sidecar {os.path.basename(target)} was left as it is: {reason}"
                self.catalog.record_error(original, SIDECAR_STAGE, message, sha256=asset.sha256)
                report.failed.append((target, message))
                ok = False
                continue
            owned = OwnedEntries(result.owned.subject, result.owned.hierarchical, result.owned.tags_list,
                                 result.owned.regions)
            record = SidecarRecord(target, asset.sha256, owned, result.size, result.mtime_ns)
            if (result.written or (result.size and record != before)) and (owned or before is not None):
                records.append(record)
            if result.written:
                self._remember(target, result.size, result.mtime_ns)
            report.written += int(result.written)
            report.unchanged += int(not result.written)
        return ok

    def _remember(self, path: str, size: int, mtime_ns: int) -> None:
        with self._own_lock:
            self._own[path] = (size, mtime_ns)
            self._own.move_to_end(path)
            while len(self._own) > _RECENT:
                self._own.popitem(last=False)

    def is_own_write(self, path: str | os.PathLike[str]) -> bool:
        """Whether the file event at ``path`` is mediaapp's own sidecar write (the folder watcher ignores it).

        True for a temporary file of a write in progress (``TEMP_SUFFIX``) and
        for a sidecar whose current size and modification time are those
        recorded after our last write of it. False for anything else, a file
        that is gone, or one another program changed since. A ``stat`` and at
        most one catalog read.
        """
        path = os.path.abspath(os.fspath(path))
        if os.path.basename(path).endswith(TEMP_SUFFIX):
            return True
        try:
            st = os.stat(path)
        except OSError:
            return False
        with self._own_lock:
            known = self._own.get(path)
        if known is None:
            known = self.records.stat_of(path)
        return known == (st.st_size, st.st_mtime_ns)

    def status(self) -> SidecarStatus:
        """Counts for ``mediaapp xmp status`` and the window (``SidecarStatus``). Reads the pending assets' paths."""
        options = self.options
        enabled = sidecars_anywhere(options)
        failed = len({p.path for p in self.catalog.errors() if p.stage == SIDECAR_STAGE})
        pending = 0
        if enabled:
            if SIDECARS in self.catalog.feed.consumers():
                shas = self.catalog.feed.pending(SIDECARS)
                scope_changed = self.records.state("scope") != json.dumps(options, sort_keys=True)
                if scope_changed:
                    shas = self.catalog.all_sha256s()
            else:
                shas = self.catalog.all_sha256s()
            for i in range(0, len(shas), BATCH):
                for asset in self.catalog.assets(shas[i:i + BATCH]).values():
                    pending += any(sidecars_on_for(p, options) for p in asset.paths)
        return SidecarStatus(enabled, pending, self.records.count(), failed)
