"""Similar photos in the catalog: image embeddings, perceptual hashes and hidden near-duplicates.

Tables of catalog migration 13:

- ``asset_embeddings``: per (sha256, model version) the concept classifier's
  pooled features, L2-normalised (``ConceptClassifier.embed``), stored as
  little-endian float16 (1280 x 2 bytes per asset; float16 keeps about three
  significant digits, far finer than the cosine thresholds used on them).
- ``asset_hashes``: per sha256 the 64-bit ``imagehash`` pHash and dHash of the
  decoded analysis image (stored as signed SQLite integers) and its sharpness
  (variance of the Laplacian of the grey image, for the Duplicates view).
- ``asset_hidden``: near-duplicates the user chose to hide from results.

Only the parent process writes (``ImportPipeline`` stores what the local
engine sent back in its extras).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mediaapp.dbpool import chunks

if TYPE_CHECKING:
    from mediaapp.catalog.db import Catalog

__all__ = ["AssetHashes", "SimilarityStore", "from_signed64", "to_signed64"]


def to_signed64(value: int) -> int:
    """An unsigned 64-bit hash as the signed integer SQLite can store (two's complement)."""
    value &= 0xFFFFFFFFFFFFFFFF
    return value - (1 << 64) if value >= (1 << 63) else value


def from_signed64(value: int) -> int:
    """The unsigned 64-bit hash of a stored signed integer (inverse of ``to_signed64``)."""
    return value & 0xFFFFFFFFFFFFFFFF


@dataclass(frozen=True, slots=True)
class AssetHashes:
    """One asset's perceptual hashes (unsigned 64-bit ints) and sharpness (None: unknown)."""

    sha256: str
    phash: int
    dhash: int
    sharpness: float | None


def _now() -> str:
    from mediaapp.catalog.db import now_iso
    return now_iso()


class SimilarityStore:
    """The similarity tables of ``catalog`` (see the module docstring). Safe from any thread."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog

    def store(self, sha256: str, model_version: str, vector: np.ndarray | None,
              phash: int | None, dhash: int | None, sharpness: float | None) -> None:
        """Store an asset's embedding (any float array; kept as float16) and hashes (unsigned 64-bit ints).

        A None part is left as it was. Replaces earlier values of the same
        (sha256, model version). Raises ``ValueError`` for a non-1-d vector.
        ``stored_at`` is taken once the write lock is held, so embeddings
        commit in ``stored_at`` order (to the second) across processes: the
        vector store's incremental refresh finds what was stored again since
        its copy by that time (``stored_since``).
        """
        with self.catalog.transaction() as conn:
            now = _now()
            if vector is not None:
                v = np.asarray(vector, dtype="<f2")
                if v.ndim != 1 or not v.size:
                    raise ValueError("an embedding is a non-empty 1-d vector")
                conn.execute("INSERT OR REPLACE INTO asset_embeddings (sha256, model_version, dims, vector, stored_at)"
                             " VALUES (?, ?, ?, ?, ?)", (sha256, model_version, int(v.size), v.tobytes(), now))
            if phash is not None and dhash is not None:
                conn.execute("INSERT OR REPLACE INTO asset_hashes (sha256, phash, dhash, sharpness, stored_at)"
                             " VALUES (?, ?, ?, ?, ?)",
                             (sha256, to_signed64(phash), to_signed64(dhash), sharpness, now))

    def embedding(self, sha256: str, model_version: str | None = None) -> tuple[str, np.ndarray] | None:
        """``(model version, float32 vector)`` of ``sha256`` (the newest stored one unless a version is given)."""
        sql = "SELECT model_version, vector FROM asset_embeddings WHERE sha256 = ?"
        params: list[object] = [sha256]
        if model_version is not None:
            sql += " AND model_version = ?"
            params.append(model_version)
        with self.catalog.read() as conn:
            row = conn.execute(sql + " ORDER BY stored_at DESC LIMIT 1", params).fetchone()
        if row is None:
            return None
        return row[0], np.frombuffer(row[1], dtype="<f2").astype(np.float32)

    def latest_version(self) -> str | None:
        """The model version of the most recently stored embedding (None: none stored)."""
        with self.catalog.read() as conn:
            row = conn.execute("SELECT model_version FROM asset_embeddings ORDER BY stored_at DESC LIMIT 1").fetchone()
        return row[0] if row else None

    def state(self, model_version: str) -> tuple[int, str]:
        """``(count, newest stored_at)`` of ``model_version``'s embeddings: changes whenever they do."""
        with self.catalog.read() as conn:
            row = conn.execute("SELECT COUNT(*), MAX(stored_at) FROM asset_embeddings WHERE model_version = ?",
                               (model_version,)).fetchone()
        return int(row[0]), row[1] or ""

    def iter_embeddings(self, model_version: str, batch: int = 2000) -> Iterator[tuple[list[str], np.ndarray]]:
        """``(sha256s, float32 matrix (n, dims))`` batches of every embedding of ``model_version``, by sha256."""
        last = ""
        while True:
            # "+model_version": walk the primary key from ``last`` on (reads each row once). Without it SQLite picks
            # the version index and sorts all the remaining rows for every batch: quadratic, minutes at 100k.
            with self.catalog.read() as conn:
                rows = conn.execute("SELECT sha256, vector FROM asset_embeddings WHERE +model_version = ?"
                                    " AND sha256 > ? ORDER BY sha256 LIMIT ?", (model_version, last, batch)).fetchall()
            if not rows:
                return
            yield ([r[0] for r in rows],
                   np.stack([np.frombuffer(r[1], dtype="<f2") for r in rows]).astype(np.float32))
            last = rows[-1][0]

    def embeddings_of(self, model_version: str, sha256s: Iterable[str], batch: int = 500
                      ) -> Iterator[tuple[list[str], np.ndarray]]:
        """``(sha256s, float32 matrix (n, dims))`` batches of the ``model_version`` embeddings of ``sha256s`` only
        (at most ``batch`` a query, by sha256 within each); sha256s without one are left out."""
        for chunk in chunks(sorted(set(sha256s)), batch):
            marks = ",".join("?" * len(chunk))
            with self.catalog.read() as conn:
                rows = conn.execute("SELECT sha256, vector FROM asset_embeddings WHERE model_version = ? AND sha256 IN"
                                    f" ({marks}) ORDER BY sha256", [model_version, *chunk]).fetchall()
            if rows:
                yield ([r[0] for r in rows],
                       np.stack([np.frombuffer(r[1], dtype="<f2") for r in rows]).astype(np.float32))

    def stored_since(self, model_version: str, stored_at: str) -> set[str]:
        """The sha256s whose ``model_version`` embedding was stored at or after ``stored_at`` (ISO 8601 text as
        ``state`` gives it; "at" too, since it has whole seconds): replaced ones as well as new ones."""
        with self.catalog.read() as conn:
            return {r[0] for r in conn.execute("SELECT sha256 FROM asset_embeddings WHERE model_version = ? AND"
                                               " stored_at >= ?", (model_version, stored_at))}

    def embedded(self, model_version: str) -> set[str]:
        """The sha256s with an embedding of ``model_version``."""
        with self.catalog.read() as conn:
            return {r[0] for r in conn.execute("SELECT sha256 FROM asset_embeddings WHERE model_version = ?",
                                               (model_version,))}

    def prune(self) -> int:
        """Delete the rows of assets no longer in the catalog (their files were removed); returns how many."""
        with self.catalog.transaction() as conn:
            return sum(conn.execute(f"DELETE FROM {table} WHERE sha256 NOT IN (SELECT sha256 FROM assets)").rowcount
                       for table in ("asset_embeddings", "asset_hashes", "asset_hidden"))

    def hashes(self, sha256s: Iterable[str] | None = None) -> dict[str, AssetHashes]:
        """Map sha256 -> ``AssetHashes`` (all stored ones when ``sha256s`` is None)."""
        out: dict[str, AssetHashes] = {}
        with self.catalog.read() as conn:
            if sha256s is None:
                rows: Iterable[Any] = conn.execute("SELECT sha256, phash, dhash, sharpness FROM asset_hashes")
                out.update({r[0]: AssetHashes(r[0], from_signed64(r[1]), from_signed64(r[2]), r[3]) for r in rows})
                return out
            for chunk in chunks(list(dict.fromkeys(sha256s)), 500):
                rows = conn.execute("SELECT sha256, phash, dhash, sharpness FROM asset_hashes WHERE sha256 IN"
                                    f" ({','.join('?' * len(chunk))})", chunk)
                out.update({r[0]: AssetHashes(r[0], from_signed64(r[1]), from_signed64(r[2]), r[3]) for r in rows})
        return out

    def hide(self, sha256s: Iterable[str], keeper: str | None = None) -> list[str]:
        """Hide ``sha256s`` from search results (``keeper``: the asset kept in their place); returns them."""
        shas = [s for s in dict.fromkeys(sha256s) if s != keeper]
        now = _now()
        with self.catalog.transaction() as conn:
            conn.executemany("INSERT OR REPLACE INTO asset_hidden (sha256, keeper, hidden_at) VALUES (?, ?, ?)",
                             [(s, keeper, now) for s in shas])
        return shas

    def unhide(self, sha256s: Iterable[str]) -> None:
        """Show ``sha256s`` in results again."""
        with self.catalog.transaction() as conn:
            conn.executemany("DELETE FROM asset_hidden WHERE sha256 = ?", [(s,) for s in dict.fromkeys(sha256s)])

    def hidden(self, sha256s: Iterable[str] | None = None) -> set[str]:
        """The hidden sha256s (among ``sha256s``, or all)."""
        with self.catalog.read() as conn:
            if sha256s is None:
                return {r[0] for r in conn.execute("SELECT sha256 FROM asset_hidden")}
            out: set[str] = set()
            for chunk in chunks(list(dict.fromkeys(sha256s)), 500):
                out.update(r[0] for r in conn.execute(
                    f"SELECT sha256 FROM asset_hidden WHERE sha256 IN ({','.join('?' * len(chunk))})", chunk))
            return out
