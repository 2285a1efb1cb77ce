"""Two rewrites of one vector store at once (an import's refresh while "more like this" refreshes) leave a
readable copy: each write removes the other copies' files once its own is current, so writes are serialised."""

from __future__ import annotations

import threading

import numpy as np

from mediaapp.search.vectors import VectorStore


def test_concurrent_writes_leave_a_store_that_loads(tmp_path):
    store = VectorStore(tmp_path / "vectors")
    shas = [f"{i:064x}" for i in range(40)]
    matrix = np.random.default_rng(0).standard_normal((40, 32)).astype(np.float32)
    errors: list[BaseException] = []

    def rewrite() -> None:
        for _ in range(40):
            try:
                store.write("v1", ["state"], [(shas, matrix)], len(shas))
            except BaseException as exc:  # collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=rewrite) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    assert errors == []
    loaded = store.matrix()
    assert loaded is not None                         # meta.json names files that exist
    assert loaded[0] == shas and loaded[1].shape == (40, 32)
    assert sorted(p.name for p in store.folder.iterdir() if p.suffix == ".npy") == sorted(
        f"{kind}-{store.token()}.npy" for kind in ("shas", "vectors"))
