"""The embedded index's vector store: every asset's image embedding in one memory-mapped matrix.

"More like this" ranks assets by the cosine similarity of their embeddings
(``mediaapp.catalog.similarity``). Reading 100k float16 vectors of 1280 from
the catalog per query would be far too slow, and keeping 100k x 1280 float32
in memory takes 512 MB, beyond the GUI's budget. So the store keeps a derived
copy beside the index file (``<index stem>-vectors/``):

- ``vectors-<token>.npy``: float32 ``(n, d)``, row-wise L2-normalised. Up to
  ``PCA_MIN_ASSETS`` assets the full vectors (d = 1280); from there on their
  projection on the first ``PCA_DIMS`` (256) principal components (fitted by
  SVD on up to ``PCA_SAMPLE`` vectors), 100 MB at 100k assets. Cosine in the
  projected space keeps the near neighbours' order (the classifier's
  features are highly correlated; 256 components keep most of their
  variance, see ``benchmarks/similar_eval.py``).
- ``shas-<token>.npy``: the rows' sha256s (``S64``).
- ``projection-<token>.npy`` (projected copies only): the fitted PCA, float32
  ``(1 + d, D)``: row 0 the mean, then the ``d`` components. Kept so that
  rows added later are projected exactly as the others were (``update``).
- ``sources-<token>.npy`` (only when some exist): ``S64 (k, 2)`` rows
  ``(row sha256, sha256 whose embedding it holds)`` for rows stored under
  another asset's sha256 (a RAW+JPEG stack's RAW holds its JPEG's vector,
  ``services/similar.py``), so ``update`` knows which embedding each row is.
- ``meta.json``: which token is current, the model version and the catalog
  ``state`` the copy was made from, whether it is projected and how many
  vectors the library held when the projection was fitted (``fitted_on``)
  (written last, atomically, so a reader never sees half a store).

**Two ways to write a copy.** ``write`` makes it from every vector (and
fits the projection anew); ``update`` makes it from the current copy: the
rows kept are copied from its matrix as they are (no re-projection) and only
the rows added are read, projected with the stored projection and
normalised, so an import of 10 photos into a 100k library costs one copy of
the matrix file (about 100 MB of sequential I/O) instead of reading 100k
embeddings from the catalog twice and an SVD. The caller decides when a
full ``write`` is due instead (``full_write_reason``): no usable copy, another
model version, a copy without its projection file (made before it was kept),
an unprojected copy reaching ``PCA_MIN_ASSETS`` or a projected one falling
below it, or a library that grew or shrank by more than ``REFIT_GROWTH``
since the projection was fitted. Both take the same locks and switch copies
the same way (new files first, ``meta.json`` last, old files removed after).

The matrix is opened with ``numpy.load(mmap_mode="r")``: the operating system
pages it in on demand and can drop it again, so it is not the process's own
memory. A query is one matrix-vector product (about 5 ms at 100k x 256) and
``argpartition``. Brute force was chosen over an ANN library (usearch,
hnswlib): exact, no extra dependency, and fast enough at the 100k target
(``benchmarks/similar_eval.py`` prints the p95).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PCA_DIMS", "PCA_MIN_ASSETS", "PCA_SAMPLE", "REFIT_GROWTH", "VectorStore", "fit_projection",
           "project"]

#: Dimensions kept by the PCA reduction.
PCA_DIMS = 256
#: From this many assets on the vectors are reduced (below it the full vectors are small enough).
PCA_MIN_ASSETS = 4096
#: At most this many vectors (an even sample) fit the PCA.
PCA_SAMPLE = 20_000
#: ``update`` is refused (a full ``write`` refits the projection) once the library holds more than this many
#: times the vectors it held when the projection was fitted, or fewer than that count divided by it. The
#: principal directions are those of the collection at fitting time; as it grows or changes (new subjects,
#: another camera) they drift, and vectors far from the fitted subspace lose more of their length in the
#: projection. Refitting at each doubling keeps the refits' total cost within twice that of the last one
#: (a geometric series), so a growing library refits O(log n) times in all, not at every import.
REFIT_GROWTH = 2.0


def fit_projection(sample: np.ndarray, dims: int = PCA_DIMS) -> tuple[np.ndarray, np.ndarray]:
    """``(mean (D,), components (dims, D))`` of a PCA of ``sample`` (n, D) (numpy SVD of the centred sample)."""
    mean = sample.mean(axis=0)
    _u, _s, vt = np.linalg.svd(sample - mean, full_matrices=False)
    return mean.astype(np.float32), vt[:dims].astype(np.float32)


def project(batch: np.ndarray, projection: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """Rows as stored: ``batch`` (n, D) projected by ``projection`` (``(mean (D,), components (d, D))``, None:
    kept whole), L2-normalised, float32 ``(n, d)`` (a zero row stays zero)."""
    if projection is not None:
        batch = (batch - projection[0]) @ projection[1].T
    return _normalise_rows(batch.astype(np.float32))


def _normalise_rows(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms > 0, norms, 1)


def _full_write_reason(folder: Path, meta: dict[str, Any] | None, model_version: str, count: int) -> str | None:
    """``VectorStore.full_write_reason`` for the copy ``meta`` describes in ``folder``."""
    if meta is None or not meta.get("token") or not meta.get("rows"):
        return "no copy"
    if meta.get("model_version") != model_version:
        return "model version"
    if not meta.get("projected"):
        return "reaches PCA_MIN_ASSETS" if count >= PCA_MIN_ASSETS else None
    if count < PCA_MIN_ASSETS:
        return "below PCA_MIN_ASSETS"
    fitted_on = meta.get("fitted_on")
    if not isinstance(fitted_on, int) or not (folder / f"projection-{meta['token']}.npy").exists():
        return "no projection"
    if count > fitted_on * REFIT_GROWTH or count * REFIT_GROWTH < fitted_on:
        return "refit"
    return None


class _Mismatch(Exception):
    """An embedding ``update`` fetched has another length than the copy's rows are made of."""


@dataclass
class _Loaded:
    token: str
    model_version: str
    matrix: np.ndarray          # (n, d) float32, memory-mapped
    shas: list[str]
    rows: dict[str, int]


class VectorStore:
    """The memory-mapped vector copy in ``folder`` (see the module docstring). Thread-safe.

    Written by the process that syncs the library (``write``), read by any
    (``nearest``); a reader picks up a new copy at its next query.
    """

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self._lock = threading.Lock()
        #: One ``write`` at a time (an import's refresh and a "more like this" may run at once): each removes
        #: the files of every other copy once its own is current.
        self._write_lock = threading.Lock()
        self._loaded: _Loaded | None = None

    def meta(self) -> dict[str, Any] | None:
        """The current ``meta.json`` (None: no copy yet, or unreadable)."""
        try:
            meta = json.loads((self.folder / "meta.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) else None

    def write(self, model_version: str, state: list[Any], batches: Iterable[tuple[list[str], np.ndarray]], count: int,
              sample: np.ndarray | None = None, sources: Mapping[str, str] | None = None) -> int:
        """Replace the copy with ``count`` vectors from ``batches`` (``(sha256s, float32 (b, D))``); returns rows.

        ``sample``: vectors (n, D) to fit the PCA on when ``count >=
        PCA_MIN_ASSETS`` (required then: ``ValueError`` without); the fitted
        projection is kept with the copy (``projection-<token>.npy``) and
        ``count`` recorded as ``fitted_on``. ``sources``: for rows stored
        under another sha256 than the embedding they hold, row sha256 ->
        that embedding's sha256 (kept for ``update``). ``state`` is stored for
        the caller's staleness check. Old files are removed after the switch
        (a reader holding them keeps its mapping). Raises ``OSError`` when
        the folder cannot be written. Writes of one store are serialised,
        across processes too (a GUI and a CLI import of one library):
        ``_file_lock``.
        """
        with self._write_lock, self._file_lock():
            return self._write(model_version, state, batches, count, sample, sources or {})

    def update(self, base: str, model_version: str, state: list[Any], wanted: Mapping[str, str], count: int,
               stale: Collection[str], fetch: Callable[[list[str]], Iterable[tuple[list[str], np.ndarray]]]
               ) -> int | None:
        """Replace the copy ``base`` (a token) with one of the rows ``wanted``, reading only the new ones; returns rows.

        ``wanted``: every row of the new copy, row sha256 -> the sha256 of the
        embedding it holds (the same, or another asset's; see ``sources`` of
        ``write``). ``count``: the vectors the library holds (the measure of
        ``full_write_reason``). ``stale``: sha256s whose embedding was stored
        again since ``base`` was made (their rows are read again).
        ``fetch(sha256s)`` yields ``(sha256s, float32 (b, D))`` of those
        embeddings (one left out: gone meanwhile, its row is dropped). A row
        of ``base`` holding the same embedding as ``wanted`` says is copied
        from the current matrix as it is; every other wanted row is fetched,
        projected with the stored projection (``project``) and appended.
        Same locks and switch as ``write`` (``meta.json`` last, old files
        removed after). Returns None, writing nothing, when the current copy
        is not ``base`` any more (another writer came first) or
        ``full_write_reason`` says a full ``write`` is due; also when a
        fetched embedding's length is not the copy's (the new files are
        removed). Raises ``OSError`` when the folder cannot be written.
        """
        with self._write_lock, self._file_lock():
            meta = self.meta()
            if meta is None or meta.get("token") != base or _full_write_reason(self.folder, meta, model_version,
                                                                               count) is not None:
                return None
            try:
                old = np.load(self.folder / f"vectors-{base}.npy", mmap_mode="r")
                names = [b.decode("ascii") for b in np.load(self.folder / f"shas-{base}.npy").tolist()]
                held = self._sources(base)
                projection = self._projection(base) if meta.get("projected") else None
            except (OSError, ValueError):
                return None
            if len(names) != len(old) or (meta.get("projected") and projection is None):
                return None
            keep = np.fromiter((i for i, name in enumerate(names)
                                if wanted.get(name) == held.get(name, name) and held.get(name, name) not in stale),
                               dtype=np.int64)
            kept = {names[i] for i in keep.tolist()}
            new_rows = {source: name for name, source in wanted.items() if name not in kept}
            token = secrets.token_hex(6)
            matrix_path = self.folder / f"vectors-{token}.npy"
            total = len(keep) + len(new_rows)
            out = np.lib.format.open_memmap(matrix_path, mode="w+", dtype=np.float32, shape=(total, old.shape[1]))
            try:
                block = max(1, (16 << 20) // (4 * old.shape[1]))  # 16 MB of rows at a time
                for at in range(0, len(keep), block):
                    part = keep[at:at + block]
                    out[at:at + len(part)] = old[part]
                shas = [names[i] for i in keep.tolist()]
                sources = {name: held[name] for name in shas if name in held}
                width = old.shape[1] if projection is None else projection[1].shape[1]  # D the rows are made of
                row = len(keep)
                for batch_sources, batch in (fetch(sorted(new_rows)) if new_rows else ()):
                    if batch.shape[1] != width:
                        raise _Mismatch
                    pairs = [(new_rows[src], i) for i, src in enumerate(batch_sources) if src in new_rows]
                    pairs = pairs[:total - row]
                    if not pairs:
                        continue
                    out[row:row + len(pairs)] = project(batch[[i for _name, i in pairs]], projection)
                    for name, i in pairs:
                        shas.append(name)
                        if batch_sources[i] != name:
                            sources[name] = batch_sources[i]
                    row += len(pairs)
            except BaseException as exc:  # nothing of this copy is left behind; the current one stays
                del out
                matrix_path.unlink(missing_ok=True)
                if isinstance(exc, _Mismatch):
                    return None
                raise
            out.flush()
            del out, old
            self._truncate(token, row, total)
            return self._publish(token, model_version, state, shas, projection, meta.get("fitted_on"), sources)

    def full_write_reason(self, model_version: str, count: int) -> str | None:
        """Why the current copy cannot be ``update``-d to ``count`` vectors of ``model_version`` (None: it can).

        The reasons (words for logs and tests): ``"no copy"``, ``"model
        version"``, ``"no projection"`` (a projected copy made before the
        projection was kept), ``"reaches PCA_MIN_ASSETS"`` (an unprojected
        copy: the projection must be fitted), ``"below PCA_MIN_ASSETS"`` (a
        full write keeps whole vectors again), ``"refit"`` (``REFIT_GROWTH``).
        """
        return _full_write_reason(self.folder, self.meta(), model_version, count)

    def projection(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The current copy's PCA: ``(mean float32 (D,), components float32 (d, D))`` (None: no copy, unprojected,
        or a projected copy made before the projection was kept)."""
        meta = self.meta()
        if meta is None or not meta.get("projected"):
            return None
        try:
            return self._projection(str(meta["token"]))
        except (OSError, ValueError):
            return None

    def _projection(self, token: str) -> tuple[np.ndarray, np.ndarray]:
        """The projection kept with copy ``token`` (raises ``OSError``/``ValueError`` when missing or unreadable)."""
        stacked = np.load(self.folder / f"projection-{token}.npy")
        if stacked.ndim != 2 or len(stacked) < 2:
            raise ValueError(f"projection-{token}.npy: not a (1 + d, D) matrix")
        return stacked[0], stacked[1:]

    def _sources(self, token: str) -> dict[str, str]:
        """Copy ``token``'s rows held under another sha256: row sha256 -> the embedding's (empty: none)."""
        path = self.folder / f"sources-{token}.npy"
        if not path.exists():
            return {}
        pairs = np.load(path)
        return {a.decode("ascii"): b.decode("ascii") for a, b in pairs.reshape(-1, 2).tolist()}

    @contextlib.contextmanager
    def _file_lock(self) -> Iterator[None]:
        """Hold the advisory lock ``<folder>/write.lock`` (blocking) while writing and cleaning up.

        POSIX: ``fcntl.flock`` (exclusive; released when the file is closed,
        also when the process dies). Windows: ``msvcrt.locking`` of the
        file's first byte, retried while another process holds it
        (``LK_LOCK`` itself gives up after 10 one-second tries). Advisory:
        only writers that take it are kept out; readers never take it.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "write.lock", "a+b") as fh:
            if sys.platform == "win32":  # pragma: no cover - Windows only (mypy checks the branch there)
                import msvcrt

                while True:
                    try:
                        fh.seek(0)
                        msvcrt.locking(fh.fileno(), msvcrt.LK_LOCK, 1)
                        break
                    except OSError:
                        continue
                try:
                    yield
                finally:
                    fh.seek(0)
                    msvcrt.locking(fh.fileno(), msvcrt.LK_UNLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _write(self, model_version: str, state: list[Any], batches: Iterable[tuple[list[str], np.ndarray]],
               count: int, sample: np.ndarray | None, sources: Mapping[str, str]) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(6)
        projection = None
        if count >= PCA_MIN_ASSETS:
            if sample is None:
                raise ValueError("a PCA sample is needed from PCA_MIN_ASSETS vectors on")
            projection = fit_projection(sample, PCA_DIMS)
        matrix_path = self.folder / f"vectors-{token}.npy"
        shas: list[str] = []
        out = None
        row = 0
        for batch_shas, batch in batches:
            batch = project(batch, projection)
            if out is None:
                out = np.lib.format.open_memmap(matrix_path, mode="w+", dtype=np.float32,
                                                shape=(count, batch.shape[1]))
            take = min(len(batch), count - row)
            out[row:row + take] = batch[:take]
            shas.extend(batch_shas[:take])
            row += take
        if out is None:
            out = np.lib.format.open_memmap(matrix_path, mode="w+", dtype=np.float32, shape=(0, 1))
        out.flush()
        del out
        self._truncate(token, row, count)
        return self._publish(token, model_version, state, shas, projection,
                             count if projection is not None else None,
                             {s: sources[s] for s in shas if s in sources and sources[s] != s})

    def _truncate(self, token: str, row: int, count: int) -> None:
        """Cut ``vectors-<token>.npy`` to its first ``row`` rows when fewer than the ``count`` announced came."""
        if row >= count:
            return
        matrix_path = self.folder / f"vectors-{token}.npy"
        full = np.load(matrix_path, mmap_mode="r")
        np.save(self.folder / f"vectors-{token}.tmp.npy", np.asarray(full[:row]))
        del full
        os.replace(self.folder / f"vectors-{token}.tmp.npy", matrix_path)

    def _publish(self, token: str, model_version: str, state: list[Any], shas: list[str],
                 projection: tuple[np.ndarray, np.ndarray] | None, fitted_on: int | None,
                 sources: Mapping[str, str]) -> int:
        """Write copy ``token``'s other files, make it current (``meta.json``, atomically, last) and remove the
        files of every other copy but the one ``meta.json`` names; returns its rows. Hold both write locks."""
        np.save(self.folder / f"shas-{token}.npy", np.array(shas, dtype="S64"))
        if projection is not None:
            np.save(self.folder / f"projection-{token}.npy",
                    np.concatenate([projection[0][None, :], projection[1]]).astype(np.float32))
        if sources:
            np.save(self.folder / f"sources-{token}.npy", np.array(sorted(sources.items()), dtype="S64"))
        tmp = self.folder / f"meta-{token}.json.tmp"  # its own name: another process's write cannot move it
        tmp.write_text(json.dumps({"token": token, "model_version": model_version, "state": state,
                                   "rows": len(shas), "projected": projection is not None,
                                   "fitted_on": fitted_on}), encoding="utf-8")
        os.replace(tmp, self.folder / "meta.json")
        current = str((self.meta() or {}).get("token") or token)  # never the copy meta.json points at
        for old in self.folder.glob("*.npy"):
            if token not in old.name and current not in old.name:
                try:
                    old.unlink(missing_ok=True)
                except OSError:  # still mapped by a reader (Windows refuses): the next write removes it
                    pass
        return len(shas)

    def _load(self) -> _Loaded | None:
        meta = self.meta()
        if meta is None:
            return None
        with self._lock:
            loaded = self._loaded
            if loaded is not None and loaded.token == meta["token"]:
                return loaded
            token = meta["token"]
            try:
                matrix = np.load(self.folder / f"vectors-{token}.npy", mmap_mode="r")
                shas = [s.decode("ascii") for s in np.load(self.folder / f"shas-{token}.npy").tolist()]
            except (OSError, ValueError):
                return None
            self._loaded = _Loaded(token, str(meta["model_version"]), matrix, shas,
                                   {s: i for i, s in enumerate(shas)})
            return self._loaded

    def model_version(self) -> str | None:
        """The model version of the current copy (None: no copy)."""
        loaded = self._load()
        return loaded.model_version if loaded else None

    def matrix(self) -> tuple[list[str], np.ndarray] | None:
        """``(sha256s, matrix (n, d) float32, memory-mapped)`` of the current copy (None: no copy)."""
        loaded = self._load()
        return None if loaded is None else (loaded.shas, loaded.matrix)

    def token(self) -> str | None:
        """The current copy's token: changes whenever the copy is rewritten (None: no copy)."""
        loaded = self._load()
        return loaded.token if loaded else None

    def rows_of(self, sha256s: Iterable[str]) -> np.ndarray:
        """Each sha256's row in the current copy, or -1 (int64 array aligned with ``sha256s``)."""
        loaded = self._load()
        rows = {} if loaded is None else loaded.rows
        return np.fromiter((rows.get(s, -1) for s in sha256s), dtype=np.int64)

    def scores(self, sha256: str, rows: np.ndarray) -> np.ndarray | None:
        """Cosine of ``sha256``'s vector with the vectors at ``rows`` (valid row numbers); None: no vector."""
        loaded = self._load()
        if loaded is None or sha256 not in loaded.rows:
            return None
        q = np.asarray(loaded.matrix[loaded.rows[sha256]], dtype=np.float32)
        if not len(rows):
            return np.empty(0, dtype=np.float32)
        order = np.argsort(rows, kind="stable")  # read the mapped file forwards
        out = np.empty(len(rows), dtype=np.float32)
        out[order] = loaded.matrix[rows[order]] @ q
        return out

    def row(self, sha256: str) -> int:
        """``sha256``'s row in the current copy, or -1."""
        loaded = self._load()
        return -1 if loaded is None else loaded.rows.get(sha256, -1)

    def vector(self, sha256: str) -> np.ndarray | None:
        """The stored (possibly projected) float32 vector of ``sha256`` (None: not in the current copy)."""
        loaded = self._load()
        if loaded is None or sha256 not in loaded.rows:
            return None
        return np.asarray(loaded.matrix[loaded.rows[sha256]], dtype=np.float32)

    def has(self, sha256: str) -> bool:
        """Whether ``sha256`` has a vector in the current copy."""
        loaded = self._load()
        return loaded is not None and sha256 in loaded.rows

    def nearest(self, sha256: str, allowed: Collection[str] | None = None, k: int | None = None,
                exclude_self: bool = True) -> list[tuple[str, float]]:
        """Assets most like ``sha256``: ``[(sha256, cosine -1..1)]``, most similar first (ties by sha256).

        ``allowed``: only these (None: every asset with a vector); ``k``: at
        most this many (None: all). Empty when ``sha256`` has no vector.
        """
        loaded = self._load()
        if loaded is None or sha256 not in loaded.rows:
            return []
        q = np.asarray(loaded.matrix[loaded.rows[sha256]], dtype=np.float32)
        if allowed is None:
            idx = None
            scores = loaded.matrix @ q
        else:
            idx = np.fromiter(sorted({loaded.rows[s] for s in allowed if s in loaded.rows}), dtype=np.int64)
            scores = loaded.matrix[idx] @ q if len(idx) else np.empty(0, dtype=np.float32)
        if exclude_self:
            own = loaded.rows[sha256]
            if idx is None:
                scores[own] = -np.inf
            else:
                scores[idx == own] = -np.inf
        n = len(scores)
        want = n if k is None else min(k + 1, n)
        top = np.argpartition(-scores, want - 1)[:want] if 0 < want < n else np.arange(n)
        rows = top if idx is None else idx[top]
        out = [(loaded.shas[int(r)], float(scores[int(t)])) for r, t in zip(rows, top) if np.isfinite(scores[int(t)])]
        out.sort(key=lambda p: (-p[1], p[0]))
        return out if k is None else out[:k]

    def close(self) -> None:
        """Drop the mapping (it is opened again on the next query)."""
        with self._lock:
            self._loaded = None
