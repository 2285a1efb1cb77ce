"""Similar photos: "more like this" and near-duplicate groups, from the stored embeddings and hashes.

The local engine stores, per asset, the concept classifier's embedding and
the picture's perceptual hashes (``mediaapp.catalog.similarity``). This
service keeps the embedded index's vector store (``search/vectors.py``) in
step with them (``refresh``), resolves a file to the example of a
``Query.like`` search (``example``), and groups near-duplicates
(``duplicates``): bursts, resized or re-encoded copies and light edits, as
opposed to byte-identical copies, which are one asset already.

**When two assets are near-duplicates** (``is_near_duplicate``), with ``cos``
the cosine of their embeddings and ``ham`` the smaller Hamming distance of
their pHashes and dHashes (0-64 bits):

- ``cos >= COSINE_ALONE`` (0.82): the classifier sees the same picture; or
- ``cos >= COSINE_WITH_HASH`` (0.70) and ``ham <= HAMMING_WITH_COSINE`` (10):
  the same layout and tones (a burst, an edit that moves the embedding more)
  and the same content. A hash alone is never trusted: flat or dark pictures
  of different things share hashes.

Where the numbers come from (``benchmarks/similar_eval.py``, 90 shared
ImageNet photos with five copies each: half size, JPEG quality 40, 10% crop,
brightness +20% and -20%): the cosine of a photo and its copy is at least
0.79 (half size), 0.81 (crop), 0.82 (JPEG 40) and 0.91 (brightness); copies
of one photo are at least 0.75 apart, and those pairs are joined through the
original. Different photos stay at or below 0.56, and two different dogs of
the shared set at 0.50. So 0.82 alone leaves a wide margin to unrelated
photos, and the looser 0.70 only counts with hashes that agree (copies other
than crops have a Hamming distance of a few bits; unrelated pictures differ in
about half of the 64 bits, as random hashes do).
Pairwise precision 1.000 and recall 0.996 there.

Groups are the connected components of that relation (union-find), so a
burst whose first and last frames differ more still forms one group.
Candidate pairs come from the vector store's matrix in blocks of rows
(brute force, exact, at most ``BLOCK_CELLS`` similarities held at once):
``n^2 * d`` multiply-adds in all (about 100 s at 100k assets on the 2-core
test machine, ``similar_eval.py --grouping``; the window shows progress and
can stop); only the pairs over
``COSINE_WITH_HASH`` are looked at further.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mediaapp.catalog.db import Catalog
from mediaapp.catalog.similarity import AssetHashes, SimilarityStore
from mediaapp.catalog.stacks import StackStore
from mediaapp.ingest.file_tags import find_sidecars
from mediaapp.search.vectors import PCA_MIN_ASSETS, PCA_SAMPLE, VectorStore

__all__ = ["COSINE_ALONE", "COSINE_WITH_HASH", "HAMMING_WITH_COSINE", "DuplicateGroup", "DuplicateMember",
           "NotImportedError", "Similar", "group_pairs", "hamming", "is_near_duplicate", "near_pairs"]

#: Cosine at or above which two embeddings are the same picture whatever the hashes say (see the module docstring).
COSINE_ALONE = 0.82
#: Cosine two assets need at least when their hashes agree (``HAMMING_WITH_COSINE``).
COSINE_WITH_HASH = 0.70
#: Largest Hamming distance (bits of 64) of the closer of pHash and dHash that counts as "hashes agree".
HAMMING_WITH_COSINE = 10
#: Most similarities (float32) computed at once while grouping: 16M, 64 MB.
BLOCK_CELLS = 16_000_000


class NotImportedError(LookupError):
    """A path given as the example of "more like this" is not a catalogued file (message says which)."""


def hamming(a: int, b: int) -> int:
    """Bits in which two 64-bit hashes differ."""
    return int((a ^ b).bit_count())


def is_near_duplicate(cosine: float, hashes_a: AssetHashes | None, hashes_b: AssetHashes | None) -> bool:
    """Whether two assets are near-duplicates by the rule of the module docstring (hashes None: unknown)."""
    if cosine >= COSINE_ALONE:
        return True
    if cosine < COSINE_WITH_HASH or hashes_a is None or hashes_b is None:
        return False
    ham = min(hamming(hashes_a.phash, hashes_b.phash), hamming(hashes_a.dhash, hashes_b.dhash))
    return ham <= HAMMING_WITH_COSINE


def group_pairs(items: list[str], pairs: Iterable[tuple[int, int]]) -> list[list[str]]:
    """Connected components (union-find) of ``pairs`` of indexes into ``items``; only groups of 2 or more."""
    parent = list(range(len(items)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[str]] = {}
    for i, item in enumerate(items):
        groups.setdefault(find(i), []).append(item)
    return [g for g in groups.values() if len(g) > 1]


def near_pairs(shas: list[str], matrix: np.ndarray, hashes: dict[str, AssetHashes],
               progress: Callable[[int, int], None] | None = None,
               should_stop: Callable[[], bool] | None = None) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, of rows of ``matrix`` (L2-normalised, aligned with ``shas``) that are
    near-duplicates (``is_near_duplicate``), found block by block (see the module docstring)."""
    pairs: list[tuple[int, int]] = []
    n = len(shas)
    block = max(16, min(4096, BLOCK_CELLS // max(1, n)))
    for start in range(0, n, block):
        if should_stop is not None and should_stop():
            break
        part = np.asarray(matrix[start:start + block], dtype=np.float32)
        sims = part @ matrix.T
        rows, cols = np.nonzero(sims >= COSINE_WITH_HASH)
        for r, c in zip(rows.tolist(), cols.tolist()):
            i = start + r
            if c > i and is_near_duplicate(float(sims[r, c]), hashes.get(shas[i]), hashes.get(shas[c])):
                pairs.append((i, c))
        if progress is not None:
            progress(min(n, start + block), n)
    return pairs


@dataclass
class DuplicateMember:
    """One asset of a near-duplicate group: what the Duplicates view and ``duplicates --json`` show.

    ``size`` bytes; ``width``/``height`` pixels; ``taken_at`` ISO 8601 or None;
    ``sharpness`` variance of the Laplacian (higher: sharper; None unknown);
    ``similarity`` cosine (0-1) to the group's suggested keeper; ``hidden``
    whether it is hidden from results.
    """

    sha256: str
    path: str
    size: int
    width: int | None
    height: int | None
    taken_at: str | None
    sharpness: float | None
    similarity: float = 1.0
    hidden: bool = False


@dataclass
class DuplicateGroup:
    """Near-duplicates of one picture, the suggested keeper first (most pixels, then sharpest, then largest file)."""

    members: list[DuplicateMember] = field(default_factory=list)

    @property
    def keeper(self) -> DuplicateMember:
        """The suggested keeper (the first member)."""
        return self.members[0]


class Similar:
    """Similar photos of one library (see the module docstring). Blocks; safe from any thread."""

    def __init__(self, catalog: Catalog, vectors: VectorStore):
        self.catalog = catalog
        self.store = SimilarityStore(catalog)
        self.stacks = StackStore(catalog)
        self.vectors = vectors

    # -- the vector store ------------------------------------------------------
    def refresh(self, force: bool = False) -> int:
        """Bring the vector store up to date with the catalog's embeddings; returns the vectors it holds.

        Uses the newest model version's embeddings only. A RAW+JPEG stack
        (``catalog/stacks.py``) is searched as its original (the RAW), which
        is analysed through the JPEG: the JPEG's vector is stored under the
        RAW's sha256 when the RAW has none of its own. Cheap when nothing
        changed (one COUNT over the version's index, the stacks).

        When the embeddings changed, the store is updated in place of a
        rewrite (``VectorStore.update``) if its copy is of this model version
        and of the same stacks: only the embeddings added, and those stored
        again since the copy was made (``SimilarityStore.stored_since``), are
        read from the catalog; the rows of removed ones are left out. A full
        rewrite (every embedding read, the PCA fitted again) happens when
        ``force`` is set or ``VectorStore.full_write_reason`` gives one (no
        copy, another model version, the PCA to fit or to refit:
        ``REFIT_GROWTH``). Raises ``OSError`` when the store's folder cannot
        be written.
        """
        version = self.store.latest_version()
        if version is None:
            return 0
        pairs = self.stacks.pairs()
        digest = hashlib.sha256(repr(sorted(pairs.items())).encode()).hexdigest()[:16]
        state = [*self.store.state(version), digest]
        meta = self.vectors.meta()
        if not force and _current(meta, version, state):
            return int(meta.get("rows", 0)) if meta else 0
        have = self.store.embedded(version)
        alias = {m: o for m, o in pairs.items() if m in have and o not in have}
        # One row per photo, under its sha256; a stack's original without an embedding of its own holds one
        # member's (the largest sha256: rows come by sha256 and the last one wins), for a full write and an update.
        wanted = {alias.get(s, s): s for s in sorted(have)}
        count = len(wanted)
        for _attempt in range(2):  # a second try when another writer (another process) replaced the copy first
            if (force or meta is None or meta.get("model_version") != version
                    or not isinstance(meta.get("state"), list) or len(meta["state"]) != 3
                    or meta["state"][2] != digest or self.vectors.full_write_reason(version, count) is not None):
                break
            stale = self.store.stored_since(version, str(meta["state"][1]))
            rows = self.vectors.update(str(meta["token"]), version, state, wanted, count, stale,
                                       lambda shas: self.store.embeddings_of(version, shas))
            if rows is not None:
                return rows
            meta = self.vectors.meta()  # another writer came first: its copy may be this one
            if _current(meta, version, state):
                return int(meta.get("rows", 0)) if meta else 0

        def batches() -> Iterator[tuple[list[str], np.ndarray]]:
            for shas, matrix in self.store.iter_embeddings(version):
                keep = [i for i, s in enumerate(shas) if wanted.get(alias.get(s, s)) == s]
                if keep:
                    yield [alias.get(shas[i], shas[i]) for i in keep], matrix[keep]

        sample = None
        if count >= PCA_MIN_ASSETS:
            step = max(1, count // PCA_SAMPLE)
            sample = np.concatenate([m[::step] for _shas, m in self.store.iter_embeddings(version)])
        return self.vectors.write(version, state, batches(), count, sample,
                                  sources={row: source for row, source in wanted.items() if row != source})

    def example(self, path: str | Path, refresh: bool = True) -> str:
        """The sha256 of the catalogued file at ``path`` with an embedding, for ``Query.like``.

        ``refresh`` (default) first brings the vector store up to date
        (``refresh``, which may rewrite it); False answers from the store as
        it is and writes nothing (a library opened for reading only), so an
        embedding stored after the store's last rewrite is not found yet.
        Raises ``NotImportedError`` when ``path`` is not an imported file, or
        has no embedding in the store (not analysed by the local engine's
        DetectLabels, or, without ``refresh``, not in the store yet). A
        RAW+JPEG stack's JPEG gives its original's sha256: the stack is one
        photo, kept under the RAW's (``refresh``).
        """
        absolute = os.path.abspath(os.fspath(path))
        sha = self.catalog.sha_for_path(absolute)
        if sha is None:
            raise NotImportedError(f"{path}: not an imported file; import it first (mediaapp import)")
        if refresh:
            self.refresh()
        asked = sha
        if not self.vectors.has(sha):  # a RAW+JPEG stack's JPEG: its vector is kept as its original's (``refresh``)
            sha = self.stacks.originals([sha]).get(sha, sha)
        if not refresh and not self.vectors.has(sha) and (self.store.embedding(sha) is not None
                                                          or self.store.embedding(asked) is not None):
            raise NotImportedError(f"{path}: its embedding is not in the similar-photos vectors yet; any "
                                   f"import of the library (or mediaapp duplicates) brings them up to date")
        if not self.vectors.has(sha):
            raise NotImportedError(f"{path}: has no image embedding yet; analyse it with the local engine "
                                   f"(mediaapp import PATH --engine local --apis labels --reanalyse)")
        return sha

    # -- near-duplicates -------------------------------------------------------
    def duplicate_sets(self, progress: Callable[[int, int], None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> list[list[str]]:
        """Groups of near-duplicate sha256s (each group sorted by sha256, groups by their first).

        ``progress(done, total)`` after each block of rows; ``should_stop()``
        True ends the search early (the groups found so far are returned).
        """
        self.refresh()
        loaded = self.vectors.matrix()
        if loaded is None:
            return []
        shas, matrix = loaded
        pairs = near_pairs(shas, matrix, self._hashes(shas), progress, should_stop)
        groups = [sorted(g) for g in group_pairs(list(shas), pairs)]
        return sorted(groups, key=lambda g: g[0])

    def _hashes(self, sha256s: list[str]) -> dict[str, AssetHashes]:
        """Each asset's hashes; a stack original without its own has its analysed member's (see ``refresh``)."""
        found = self.store.hashes(sha256s)
        missing = [s for s in sha256s if s not in found]
        if missing:
            members = self.stacks.members(missing)
            theirs = self.store.hashes([m for ms in members.values() for m in ms])
            for original, ms in members.items():
                known = next((theirs[m] for m in ms if m in theirs), None)
                if known is not None:
                    found[original] = known
        return found

    def duplicates(self, progress: Callable[[int, int], None] | None = None,
                   should_stop: Callable[[], bool] | None = None) -> list[DuplicateGroup]:
        """``duplicate_sets`` with each member's file facts, the suggested keeper first (see ``DuplicateGroup``)."""
        sets = self.duplicate_sets(progress, should_stop)
        every = [s for g in sets for s in g]
        assets = self.catalog.assets(every)
        hashes = self._hashes(every)
        hidden = self.store.hidden(every)
        out = []
        for group in sets:
            members = []
            for sha in group:
                asset = assets.get(sha)
                if asset is None or not asset.paths:
                    continue
                h = hashes.get(sha)
                members.append(DuplicateMember(sha, asset.paths[0], asset.size, asset.width, asset.height,
                                               asset.taken_at, h.sharpness if h else None, hidden=sha in hidden))
            if len(members) < 2:
                continue
            members.sort(key=lambda m: (-(m.width or 0) * (m.height or 0), -(m.sharpness or 0.0), -m.size, m.sha256))
            keeper = self.vectors.vector(members[0].sha256)
            for m in members:
                other = self.vectors.vector(m.sha256)
                if keeper is not None and other is not None:
                    m.similarity = round(float(np.dot(keeper, other)), 4)
            out.append(DuplicateGroup(members))
        return out

    # -- what the user does with them -----------------------------------------
    def hide(self, sha256s: Iterable[str], keeper: str | None = None) -> list[str]:
        """Hide ``sha256s`` (not ``keeper``) from search results; returns those hidden. Undo with ``unhide``."""
        return self.store.hide(sha256s, keeper)

    def unhide(self, sha256s: Iterable[str]) -> None:
        """Show ``sha256s`` in search results again."""
        self.store.unhide(sha256s)

    def hidden(self, sha256s: Iterable[str] | None = None) -> set[str]:
        """The hidden sha256s (among ``sha256s``, or all)."""
        return self.store.hidden(sha256s)

    def move(self, paths: Iterable[str], folder: str | Path) -> tuple[list[tuple[str, str]], list[str]]:
        """Move the files at ``paths`` into ``folder`` (made if missing), with their XMP sidecars; record it.

        Only the paths given move: an asset's other paths (its byte-identical
        copies elsewhere) stay where they are and stay in the catalog. Each
        file's sidecars (``ingest/file_tags.sidecar_candidates``) go with it,
        renamed to its new name: ``NAME.EXT.xmp`` is moved; ``NAME.xmp`` is
        moved too unless another file of the same stem stays in the old
        folder (a RAW+JPEG pair split by the move), in which case it is
        copied, so both files keep their sidecar. A sidecar whose new name is
        taken stays behind, with one line in the problems.

        Never overwrites, even when a file appears in ``folder`` while
        moving: a name already there gets `` (2)``, `` (3)``... before its
        extension; each file is placed with ``os.link`` (fails rather than
        replaces), or across file systems copied to a temporary name in
        ``folder`` and then linked to its name (``_place``). Nothing is
        deleted but the old names of moved files. Returns ``(moves [(old,
        new)] for the media files, problems [one line per file that could
        not move]``).
        """
        target = Path(folder).expanduser().resolve()
        target.mkdir(parents=True, exist_ok=True)
        wanted = [Path(p) for p in paths]
        leaving = {str(p) for p in wanted}
        moves: list[tuple[str, str]] = []
        problems: list[str] = []
        for src in wanted:
            try:
                if src.parent.resolve() == target:
                    continue
                sidecars = find_sidecars([str(src)])
                dest = _place(src, target, src.name, keep=False, numbered=True)
            except OSError as exc:
                problems.append(f"{src}: cannot move it ({exc.strerror or exc})")
                continue
            moves.append((str(src), str(dest)))
            for sidecar in sidecars:
                problems += _carry_sidecar(Path(sidecar.path), src, dest, leaving)
        if moves:
            self.catalog.move_paths(moves)
        return moves, problems


def _current(meta: dict[str, object] | None, version: str, state: list[object]) -> bool:
    """Whether the vector store's ``meta`` says its copy was made from ``version``'s embeddings in ``state``."""
    return meta is not None and meta.get("model_version") == version and meta.get("state") == state


def _numbered(name: str, n: int) -> str:
    """``name`` with `` (n)`` before its extension (``a.jpg`` -> ``a (2).jpg``); ``n`` < 2 gives ``name``."""
    if n < 2:
        return name
    stem, ext = os.path.splitext(name)
    return f"{stem} ({n}){ext}"


def _place(src: Path, target: Path, name: str, *, keep: bool, numbered: bool) -> Path:
    """Put the file ``src`` into the folder ``target`` as ``name`` without ever replacing a file; returns its path.

    ``keep``: copy (``src`` stays), else move (``src``'s name is removed once
    the new one exists). ``numbered``: a taken name becomes `` (2)``,
    `` (3)``...; otherwise a taken name raises ``FileExistsError``. A move
    on one file system is ``os.link`` then ``os.unlink`` (``link`` fails
    with ``EEXIST`` rather than replace); a copy, or a move across file
    systems, writes a temporary file created with ``O_EXCL`` in ``target``
    (``tempfile.mkstemp``) and links it to its name the same way; where the
    file system has no hard links the name itself is created with
    ``O_EXCL`` and written. Raises ``OSError``; leaves no partial file.
    """
    n = 1
    if not keep:
        linked, n = _link_new_name(src, target, name, n, numbered,
                                   (errno.EXDEV, errno.EPERM, errno.ENOTSUP, errno.EMLINK))
        if linked is not None:
            _drop_source(src, linked)
            return linked
        # another file system, or no hard links: copy below
    fd, tmp = tempfile.mkstemp(prefix=".mediaapp-move-", dir=target)
    try:
        with open(src, "rb") as reader, os.fdopen(fd, "wb") as writer:
            shutil.copyfileobj(reader, writer)
        shutil.copystat(src, tmp)
        linked, n = _link_new_name(tmp, target, name, n, numbered, (errno.EPERM, errno.ENOTSUP, errno.EMLINK))
        dest = linked if linked is not None else _write_exclusive(tmp, target, name, n, numbered)
    finally:
        os.unlink(tmp)
    if not keep:
        _drop_source(src, dest)
    return dest


def _link_new_name(src: str | Path, target: Path, name: str, n: int, numbered: bool,
                   fallback: tuple[int, ...]) -> tuple[Path | None, int]:
    """Hard-link ``src`` into ``target`` as ``name`` (or, when ``numbered``, its first free `` (n)`` form from
    ``n`` on) without replacing a file: ``(new path, n used)``, or ``(None, n reached)`` when ``os.link``
    fails with an ``errno`` in ``fallback`` (the caller writes the file another way). A taken name raises
    ``FileExistsError`` unless ``numbered``; other ``OSError`` is raised."""
    while True:
        dest = target / (_numbered(name, n) if numbered else name)
        try:
            os.link(src, dest)
        except FileExistsError:
            if not numbered:
                raise
            n += 1
            continue
        except OSError as exc:
            if exc.errno not in fallback:
                raise
            return None, n
        return dest, n


def _drop_source(src: Path, dest: Path) -> None:
    """Remove the moved file's old name; when that fails, remove the new one instead (no copy left) and raise."""
    try:
        os.unlink(src)
    except OSError:
        os.unlink(dest)
        raise


def _write_exclusive(tmp: str, target: Path, name: str, n: int, numbered: bool) -> Path:
    """Copy ``tmp`` to a new name in ``target`` created with ``O_CREAT | O_EXCL`` (no hard links there)."""
    while True:
        dest = target / (_numbered(name, n) if numbered else name)
        try:
            fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if not numbered:
                raise
            n += 1
            continue
        try:
            with open(tmp, "rb") as reader, os.fdopen(fd, "wb") as writer:
                shutil.copyfileobj(reader, writer)
            shutil.copystat(tmp, dest)
        except OSError:
            os.unlink(dest)
            raise
        return dest


def _carry_sidecar(sidecar: Path, src: Path, dest: Path, leaving: set[str]) -> list[str]:
    """Move (or copy) the XMP sidecar ``sidecar`` of ``src``, now at ``dest``, next to it; the problems, if any.

    ``NAME.EXT.xmp`` becomes ``dest.name + ".xmp"`` (its case kept);
    ``NAME.xmp`` becomes ``dest``'s stem + ``.xmp`` and is copied, not
    moved, when another file of that stem (not in ``leaving``, the paths
    being moved) stays in ``src``'s folder and may be its owner too.
    """
    ext = sidecar.name[len(sidecar.name) - 4:]  # ".xmp" or ".XMP", as found
    if sidecar.name.lower() == (src.name + ".xmp").lower():
        name, shared = dest.name + ext, False
    else:
        name = os.path.splitext(dest.name)[0] + ext
        try:
            shared = any(other.stem == src.stem and other != src and other.suffix.lower() != ".xmp"
                         and str(other) not in leaving for other in src.parent.iterdir())
        except OSError:
            shared = True  # cannot tell: copy, which loses nothing
    try:
        _place(sidecar, dest.parent, name, keep=shared, numbered=False)
    except FileExistsError:
        return [f"{sidecar}: left where it is, {dest.parent / name} exists already"]
    except OSError as exc:
        return [f"{sidecar}: cannot move this sidecar ({exc.strerror or exc})"]
    return []
