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
- ``meta.json``: which token is current, the model version and the catalog
  ``state`` the copy was made from (written last, atomically, so a reader
  never sees half a store).

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
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["PCA_DIMS", "PCA_MIN_ASSETS", "PCA_SAMPLE", "VectorStore", "fit_projection"]

#: Dimensions kept by the PCA reduction.
PCA_DIMS = 256
#: From this many assets on the vectors are reduced (below it the full vectors are small enough).
PCA_MIN_ASSETS = 4096
#: At most this many vectors (an even sample) fit the PCA.
PCA_SAMPLE = 20_000


def fit_projection(sample: np.ndarray, dims: int = PCA_DIMS) -> tuple[np.ndarray, np.ndarray]:
    """``(mean (D,), components (dims, D))`` of a PCA of ``sample`` (n, D) (numpy SVD of the centred sample)."""
    mean = sample.mean(axis=0)
    _u, _s, vt = np.linalg.svd(sample - mean, full_matrices=False)
    return mean.astype(np.float32), vt[:dims].astype(np.float32)


def _normalise_rows(m: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(m, axis=1, keepdims=True)
    return m / np.where(norms > 0, norms, 1)


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
              sample: np.ndarray | None = None) -> int:
        """Replace the copy with ``count`` vectors from ``batches`` (``(sha256s, float32 (b, D))``); returns rows.

        ``sample``: vectors to fit the PCA on when ``count >= PCA_MIN_ASSETS``
        (required then). ``state`` is stored for the caller's staleness check.
        Old files are removed after the switch (a reader holding them keeps
        its mapping). Raises ``OSError`` when the folder cannot be written.
        Writes of one store are serialised, across processes too (a GUI and
        a CLI import of one library): ``_file_lock``.
        """
        with self._write_lock, self._file_lock():
            return self._write(model_version, state, batches, count, sample)

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
               count: int, sample: np.ndarray | None) -> int:
        self.folder.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(6)
        projection = None
        if count >= PCA_MIN_ASSETS:
            if sample is None:
                raise ValueError("a PCA sample is needed from PCA_MIN_ASSETS vectors on")
            projection = fit_projection(sample)
        matrix_path, shas_path = self.folder / f"vectors-{token}.npy", self.folder / f"shas-{token}.npy"
        shas: list[str] = []
        out = None
        row = 0
        for batch_shas, batch in batches:
            if projection is not None:
                batch = (batch - projection[0]) @ projection[1].T
            batch = _normalise_rows(batch.astype(np.float32))
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
        if row < count:  # fewer rows came than announced (rows removed meanwhile): keep only those written
            full = np.load(matrix_path, mmap_mode="r")
            np.save(self.folder / f"vectors-{token}.tmp.npy", np.asarray(full[:row]))
            del full
            os.replace(self.folder / f"vectors-{token}.tmp.npy", matrix_path)
        np.save(shas_path, np.array(shas, dtype="S64"))
        tmp = self.folder / f"meta-{token}.json.tmp"  # its own name: another process's write cannot move it
        tmp.write_text(json.dumps({"token": token, "model_version": model_version, "state": state,
                                   "rows": row, "projected": projection is not None}), encoding="utf-8")
        os.replace(tmp, self.folder / "meta.json")
        current = str((self.meta() or {}).get("token") or token)  # never the copy meta.json points at
        for old in self.folder.glob("*.npy"):
            if token not in old.name and current not in old.name:
                try:
                    old.unlink(missing_ok=True)
                except OSError:  # still mapped by a reader (Windows refuses): the next write removes it
                    pass
        return row

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
