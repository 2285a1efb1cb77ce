"""RAW+JPEG stacks: a camera's JPEG (or HEIF) beside the RAW of the same shot, kept as one stack.

Cameras set to "RAW+JPEG" write ``IMG_0001.CR2`` and ``IMG_0001.JPG`` side by
side. Lightroom, digiKam and Photo Mechanic show such a pair as one picture
whose original is the RAW; so does mediaapp when the setting "Stack RAW+JPEG
pairs" (``Settings.stack_raw_jpeg``) is on. The ``stacks`` table (catalog
migration 11) maps each *member* (the JPEG/HEIF's sha256) to its *original*
(the RAW's sha256). The member has no search document of its own: search
shows the stack once, as the RAW, carrying both files' detections.

Pairs are found by ``pair_files`` from the ``files`` table: in one folder,
the file names whose stem (the name up to its last dot) is equal ignoring
case, exactly one of them a RAW and exactly one a JPEG or HEIF (judged by the
format the media handler stored, ``assets.format``, which it found by
content). Three or more such files (``A.CR2``, ``A.JPG``, ``A.HEIC``), or two
RAWs, are left alone: which one is "the" JPEG is not known. A JPEG whose bytes
also lie at a path that is not such a pair (a copy in an export folder) is
not stacked, so that copy is still found on its own.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from mediaapp.catalog.feed import mark_changed
from mediaapp.core.filenames import from_stored, to_stored
from mediaapp.dbpool import chunks

if TYPE_CHECKING:
    from mediaapp.catalog.db import Catalog

__all__ = ["JPEG_FORMATS", "StackStore", "pair_files"]

#: The ``counters`` row (catalog migration 4) holding the setting the last whole-library restack applied (0 or 1).
_APPLIED = "stacks_enabled"

#: ``assets.format`` values (Pillow's format names, upper case) of the pictures a camera writes beside its RAW.
JPEG_FORMATS = frozenset({"JPEG", "MPO", "HEIF", "HEIC", "AVIF"})


def _is_raw(fmt: str, raw_formats: frozenset[str]) -> bool:
    return fmt.upper() in raw_formats


def pair_files(files: Iterable[tuple[str, str, str]], raw_formats: frozenset[str],
               unstackable: frozenset[str] | set[str] = frozenset()) -> dict[str, str]:
    """The stacks among ``files``: map member sha256 (JPEG/HEIF) -> original sha256 (RAW).

    ``files`` are ``(path, sha256, format)``: every catalogued file of the
    folders looked at, and every other path of the candidate JPEGs' bytes
    (a JPEG whose bytes also lie outside a pair is not stacked), or instead
    of those paths, the sha256s that have such a path (``unstackable``).
    ``raw_formats`` holds the upper-case ``assets.format`` values of RAW
    files (the RAW media handler names a format after its extension: ``DNG``,
    ``CR2``, ..., or ``RAW``). Pure; see the module docstring for the rule.
    """
    groups: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    by_sha: dict[str, set[str]] = {}
    for path, sha, fmt in files:
        folder, _sep, name = path.rpartition(os.sep)
        stem = name.rpartition(".")[0] or name  # "IMG_1.CR2" -> "IMG_1"; a name without a dot is its own stem
        groups.setdefault((folder, stem.casefold()), []).append((path, sha, fmt or ""))
        by_sha.setdefault(sha, set()).add(path)
    pairs: dict[str, str] = {}
    paired_paths: dict[str, set[str]] = {}
    for members in groups.values():
        if len(members) != 2:
            continue
        raws = [m for m in members if _is_raw(m[2], raw_formats)]
        jpegs = [m for m in members if m[2].upper() in JPEG_FORMATS]
        if len(raws) != 1 or len(jpegs) != 1 or raws[0][1] == jpegs[0][1]:
            continue
        member, original = jpegs[0][1], raws[0][1]
        if pairs.setdefault(member, original) != original:
            pairs[member] = ""  # the same JPEG bytes beside two different RAWs: ambiguous
        paired_paths.setdefault(member, set()).add(jpegs[0][0])
    return {m: o for m, o in pairs.items() if o and m not in unstackable and by_sha[m] <= paired_paths[m]}


class StackStore:
    """The ``stacks`` table of ``catalog``: read the stacks, and recompute them for some folders.

    Safe from any thread (it goes through the catalog's connections).
    """

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def originals(self, sha256s: Iterable[str]) -> dict[str, str]:
        """Map each stack member among ``sha256s`` to its original (non-members are left out)."""
        shas = list(dict.fromkeys(sha256s))
        out: dict[str, str] = {}
        with self.catalog.read() as conn:
            for chunk in chunks(shas, 500):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT member, original FROM stacks WHERE member IN ({marks})", chunk)
                out.update({r[0]: r[1] for r in rows})
        return out

    def members(self, sha256s: Iterable[str]) -> dict[str, list[str]]:
        """Map each stack original among ``sha256s`` to its members' sha256s (sorted)."""
        shas = list(dict.fromkeys(sha256s))
        out: dict[str, list[str]] = {}
        with self.catalog.read() as conn:
            for chunk in chunks(shas, 500):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(f"SELECT original, member FROM stacks WHERE original IN ({marks}) ORDER BY member",
                                    chunk)
                for r in rows:
                    out.setdefault(r[0], []).append(r[1])
        return out

    def answered(self, sha256s: Iterable[str], engine: str, apis: Iterable[str]) -> set[str]:
        """The sha256s among ``sha256s`` with a current answer of ``engine`` to one of ``apis`` (operation names)."""
        shas, names = list(dict.fromkeys(sha256s)), list(dict.fromkeys(apis))
        out: set[str] = set()
        if not names:
            return out
        with self.catalog.read() as conn:
            for chunk in chunks(shas, 500):
                out.update(r[0] for r in conn.execute(
                    f"SELECT DISTINCT sha256 FROM current_analyses WHERE sha256 IN ({','.join('?' * len(chunk))})"
                    f" AND engine = ? AND api IN ({','.join('?' * len(names))})", [*chunk, engine, *names]))
        return out

    def pairs(self) -> dict[str, str]:
        """Every stack: member sha256 -> original sha256."""
        with self.catalog.read() as conn:
            return {r[0]: r[1] for r in conn.execute("SELECT member, original FROM stacks")}

    def member_paths(self, sha256s: Iterable[str]) -> dict[str, list[str]]:
        """Map each stack original among ``sha256s`` to its members' paths (sorted)."""
        members = self.members(sha256s)
        flat = {m: o for o, ms in members.items() for m in ms}
        out: dict[str, list[str]] = {}
        with self.catalog.read() as conn:
            for chunk in chunks(list(flat), 500):
                for r in conn.execute(f"SELECT sha256, path FROM files WHERE sha256 IN ({','.join('?' * len(chunk))})"
                                      " ORDER BY path", chunk):
                    out.setdefault(flat[r[0]], []).append(from_stored(r[1]))
        return out

    def applied(self) -> bool | None:
        """The setting the last whole-library ``restack`` applied (True: stacking on), or None before the first."""
        with self.catalog.read() as conn:
            row = conn.execute("SELECT value FROM counters WHERE name = ?", (_APPLIED,)).fetchone()
        return None if row is None else bool(row[0])

    def restack(self, roots: Iterable[str] | None, raw_formats: frozenset[str], enabled: bool = True, *,
                folders_only: bool = False) -> set[str]:
        """Recompute the stacks of the files below ``roots`` (folders or files; None: the whole library).

        The files directly in each root's parent folder are looked at too, so
        a root that is one file of a pair (``IMG_1.CR2``) finds its JPEG.
        With ``folders_only`` the roots are folders and only the files
        directly in them are looked at (the folders an import changed).
        A whole-library run records ``enabled`` (``applied``).

        With ``enabled`` False every stack touching those files is removed
        ("Stack RAW+JPEG pairs" turned off). Stacks that appear or go mark
        both their assets in the change feed, in the same transaction, so
        the search indexes show the stack, or the two files, after the next
        sync. Returns the sha256s so marked.
        """
        conds, args = "", []
        if roots is not None:
            parts = []
            for root in (to_stored(r.rstrip(os.sep)) for r in roots):
                if folders_only:
                    parts.append("f.folder = ?")
                    args.append(root)
                    continue
                # a file's pair lies in its folder: a root's own folder is looked at too (not recursively)
                parts.append("f.folder = ? OR f.path LIKE ? ESCAPE '\\'")
                args += [os.path.dirname(root),
                         root.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + os.sep + "%"]
            if not parts:
                return set()
            conds = " WHERE " + " OR ".join(f"({p})" for p in parts)
        with self.catalog.transaction() as conn:
            rows = [(r[0], r[1], r[2] or "") for r in conn.execute(
                "SELECT f.path, f.sha256, a.format FROM files f JOIN assets a ON a.sha256 = f.sha256" + conds, args)]
            in_scope = {sha for _, sha, _ in rows}
            new: dict[str, str] = {}
            if enabled:
                here: dict[str, int] = {}  # the JPEGs' paths looked at, by sha256
                for _, sha, fmt in rows:
                    if fmt.upper() in JPEG_FORMATS:
                        here[sha] = here.get(sha, 0) + 1
                elsewhere: set[str] = set()  # JPEGs with a path outside ``roots`` too
                for chunk in chunks(sorted(here), 500):
                    elsewhere.update(r[0] for r in conn.execute(
                        f"SELECT sha256, COUNT(*) FROM files WHERE sha256 IN ({','.join('?' * len(chunk))})"
                        " GROUP BY sha256", chunk) if r[1] > here[r[0]])
                new = pair_files(rows, raw_formats, elsewhere)  # stored paths: the same folders and stems
            old: dict[str, str] = {}
            if roots is None:
                old = {r[0]: r[1] for r in conn.execute("SELECT member, original FROM stacks")}
                conn.execute("INSERT INTO counters (name, value) VALUES (?, ?)"
                             " ON CONFLICT (name) DO UPDATE SET value = excluded.value", (_APPLIED, int(enabled)))
            for chunk in chunks(sorted(in_scope) if roots is not None else [], 500):
                marks = ",".join("?" * len(chunk))
                old.update({r[0]: r[1] for r in conn.execute(
                    f"SELECT member, original FROM stacks WHERE member IN ({marks}) OR original IN ({marks})",
                    [*chunk, *chunk])})
            return self._apply(conn, old, new)

    def _apply(self, conn: sqlite3.Connection, old: Mapping[str, str], new: Mapping[str, str]) -> set[str]:
        """Replace the rows ``old`` by ``new`` (inside the caller's transaction); mark what changed."""
        changed: set[str] = set()
        for member, original in old.items():
            if new.get(member) != original:
                conn.execute("DELETE FROM stacks WHERE member = ?", (member,))
                changed |= {member, original}
        now = datetime.now(UTC).isoformat(timespec="seconds")
        for member, original in new.items():
            if old.get(member) != original:
                conn.execute("INSERT INTO stacks (member, original, created_at) VALUES (?, ?, ?)"
                             " ON CONFLICT (member) DO UPDATE SET original = excluded.original,"
                             " created_at = excluded.created_at", (member, original, now))
                changed |= {member, original}
        if changed:
            mark_changed(conn, sorted(changed))
        return changed
