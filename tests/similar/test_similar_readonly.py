""""More like this" in a library opened for reading only (``mediaapp search --like``) writes nothing: it answers
from the vector store as the last import left it, and says so when an embedding is not in it yet."""

from __future__ import annotations

import numpy as np
import pytest
from support import REPLAY_PHOTOS, replay_library

from mediaapp.catalog.similarity import SimilarityStore
from mediaapp.library import Library
from mediaapp.services.similar import NotImportedError

VERSION = "efficientnet-lite0@test"


def _files(folder) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")} if folder.exists() else {}


def test_like_in_a_reads_only_library_answers_from_the_stored_vectors_and_writes_nothing(testdata, tmp_path):
    root = replay_library(testdata, tmp_path)
    photos = tmp_path / "photos"
    paths = [photos / name for name in sorted(p.name for p in photos.iterdir())][:len(REPLAY_PHOTOS)]
    writer = Library(root)
    try:
        rng = np.random.default_rng(7)
        shas = [writer.catalog.sha_for_path(str(p)) for p in paths]
        store = SimilarityStore(writer.catalog)
        for sha in shas[:2]:                        # two embeddings, then the store is brought up to date
            store.store(sha, VERSION, rng.standard_normal(1280).astype(np.float32), None, None, None)
        assert writer.similar.refresh() == 2
        store.store(shas[2], VERSION, rng.standard_normal(1280).astype(np.float32), None, None, None)  # stale
        vector_dir = writer.local_index.vectors.folder
    finally:
        writer.close()
    before = _files(vector_dir)
    reader = Library(root, sync=False)
    try:
        assert reader.like(paths[0]) == shas[0]                       # in the store: answered
        with pytest.raises(NotImportedError, match="not in the similar-photos vectors yet"):
            reader.like(paths[2])                                      # stored since: not found, not rewritten
        assert _files(vector_dir) == before
    finally:
        reader.close()
    writer = Library(root)
    try:
        assert writer.like(paths[2]) == shas[2]                        # a library that writes refreshes first
        assert _files(vector_dir) != before
    finally:
        writer.close()
