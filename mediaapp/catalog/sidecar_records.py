"""What the XMP sidecar writer (``mediaapp.services.sidecars``) wrote: one record per sidecar, and its scope.

Tables of catalog migration 9:

- ``sidecar_files``: per sidecar path, the asset it was written for, the
  entries mediaapp owns in it (``OwnedEntries``: a later write removes only
  those, everything else in the file belongs to other programs) and the
  file's ``st_size`` / ``st_mtime_ns`` right after our write (a file whose
  size or time differs was changed by another program since, and is read
  and merged again; one that matches is our own write, which the folder
  watcher ignores);
- ``sidecar_state``: small key/value facts of the writer (``scope``: the
  opt-in settings of its last run, so a newly opted-in folder gets every
  asset written once).

Paths are stored as ``core.filenames.to_stored`` keeps them (names that are
not valid UTF-8 survive).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from mediaapp.catalog.db import Catalog, now_iso
from mediaapp.core.filenames import from_stored, to_stored
from mediaapp.dbpool import chunks

__all__ = ["ERROR_STAGE", "OwnedEntries", "SidecarRecord", "SidecarRecords"]

#: The ``errors.stage`` of a sidecar that could not be written (recorded with ``Catalog.record_error``).
ERROR_STAGE = "sidecar"


@dataclass(frozen=True)
class OwnedEntries:
    """The entries of one sidecar that mediaapp wrote and owns (each a tuple of texts, in written order).

    ``subject``: ``dc:subject`` keywords; ``hierarchical``:
    ``lr:hierarchicalSubject`` paths (``A|B|C``); ``tags_list``:
    ``digiKam:TagsList`` paths (``A/B/C``); ``regions``: the ``mwg-rs:Name``
    of each MWG face region written.
    """

    subject: tuple[str, ...] = ()
    hierarchical: tuple[str, ...] = ()
    tags_list: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()

    def to_json(self) -> str:
        """The JSON object stored in ``sidecar_files.owned``."""
        return json.dumps({"subject": list(self.subject), "hierarchical": list(self.hierarchical),
                           "tags_list": list(self.tags_list), "regions": list(self.regions)},
                          ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> OwnedEntries:
        """Read ``to_json``'s text back; a missing key is empty. Raises ``ValueError`` for text that is not JSON."""
        data = json.loads(text)
        return cls(*(tuple(str(v) for v in data.get(k) or ()) for k in ("subject", "hierarchical", "tags_list",
                                                                       "regions")))

    def __bool__(self) -> bool:
        return bool(self.subject or self.hierarchical or self.tags_list or self.regions)


@dataclass(frozen=True)
class SidecarRecord:
    """One ``sidecar_files`` row: ``path``, ``sha256``, ``owned`` entries, ``size`` and ``mtime_ns`` after our write."""

    path: str
    sha256: str
    owned: OwnedEntries = field(default_factory=OwnedEntries)
    size: int = 0
    mtime_ns: int = 0


class SidecarRecords:
    """The sidecar writer's tables in ``catalog`` (see the module docstring); safe from any thread."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def get(self, paths: Iterable[str]) -> dict[str, SidecarRecord]:
        """Map path -> its record, for those of ``paths`` that have one."""
        wanted = [to_stored(p) for p in dict.fromkeys(paths)]
        out: dict[str, SidecarRecord] = {}
        with self.catalog.read() as conn:
            for chunk in chunks(wanted, 500):
                rows = conn.execute("SELECT path, sha256, owned, size, mtime_ns FROM sidecar_files WHERE path IN"
                                    " (SELECT value FROM json_each(?))", (json.dumps(chunk),))
                for r in rows:
                    path = from_stored(r[0])
                    out[path] = SidecarRecord(path, r[1], OwnedEntries.from_json(r[2]), r[3], r[4])
        return out

    def put(self, records: Iterable[SidecarRecord], done: Iterable[str] = ()) -> None:
        """Insert or replace these records (by path), and forget the ``sidecar`` errors of the assets ``done``
        (sha256s written without a failure): one transaction."""
        rows = [(to_stored(r.path), r.sha256, r.owned.to_json(), r.size, r.mtime_ns, now_iso()) for r in records]
        shas = list(dict.fromkeys(done))
        if not rows and not shas:
            return
        with self.catalog.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO sidecar_files (path, sha256, owned, size, mtime_ns, written_at)"
                             " VALUES (?,?,?,?,?,?)", rows)
            for chunk in chunks(shas, 500):
                conn.execute("DELETE FROM errors WHERE stage = ? AND sha256 IN (SELECT value FROM json_each(?))",
                             (ERROR_STAGE, json.dumps(chunk)))

    def stat_of(self, path: str) -> tuple[int, int] | None:
        """``(size, mtime_ns)`` recorded after our last write of ``path``, or None when we never wrote it."""
        with self.catalog.read() as conn:
            row = conn.execute("SELECT size, mtime_ns FROM sidecar_files WHERE path = ?",
                               (to_stored(path),)).fetchone()
        return (row[0], row[1]) if row else None

    def count(self) -> int:
        """How many sidecars mediaapp has written (records kept)."""
        with self.catalog.read() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM sidecar_files").fetchone()[0])

    def state(self, key: str) -> str | None:
        """The ``sidecar_state`` value of ``key``, or None."""
        with self.catalog.read() as conn:
            row = conn.execute("SELECT value FROM sidecar_state WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_state(self, key: str, value: str) -> None:
        """Set the ``sidecar_state`` value of ``key``."""
        with self.catalog.transaction() as conn:
            conn.execute("INSERT OR REPLACE INTO sidecar_state (key, value) VALUES (?, ?)", (key, value))

    def mark_all(self, consumer: str) -> None:
        """Mark every catalogued asset for the change-feed consumer ``consumer`` only (a new opt-in scope).

        Takes the next ``change_feed`` number as ``catalog.feed.mark_changed``
        does, so a run in progress keeps the newer mark; other consumers'
        marks are untouched.
        """
        with self.catalog.transaction() as conn:
            seq = conn.execute("UPDATE counters SET value = value + 1 WHERE name = 'change_feed'"
                               " RETURNING value").fetchone()[0]
            conn.execute("INSERT INTO change_feed (consumer, sha256, seq) SELECT ?, sha256, ? FROM assets WHERE true"
                         " ON CONFLICT (consumer, sha256) DO UPDATE SET seq = excluded.seq", (consumer, seq))
