"""Two processes (a GUI and a CLI import of one library) rewriting one vector store at once.

Each write removes the other copies' files once its own is current; without
a cross-process lock one process's clean-up deletes the files the other is
still writing, and ``meta.json`` then names files that are gone. Two real
processes (``multiprocessing``, fork) each rewrite the store many times and
check after every write of theirs that the copy ``meta.json`` names is
whole while it stays current.
"""

from __future__ import annotations

import multiprocessing
import sys
from pathlib import Path

import numpy as np
import pytest

from mediaapp.search.vectors import VectorStore

ROUNDS = 40


def _rewrite(folder: str, seed: int, out) -> None:
    """Rewrite the store ``ROUNDS`` times; put a list of problems (empty: none) on ``out``."""
    store = VectorStore(folder)
    shas = [f"{seed:02x}{i:062x}" for i in range(200)]
    matrix = np.random.default_rng(seed).standard_normal((200, 64)).astype(np.float32)
    problems: list[str] = []
    for _ in range(ROUNDS):
        try:
            store.write(f"v{seed}", ["state"], [(shas[:100], matrix[:100]), (shas[100:], matrix[100:])], len(shas))
            meta = store.meta() or {}
            token = meta.get("token")
            missing = [k for k in ("vectors", "shas") if not (Path(folder) / f"{k}-{token}.npy").exists()]
            if missing and (store.meta() or {}).get("token") == token:  # still current, yet its files are gone
                problems.append(f"meta.json names {token} but {missing} are gone")
        except Exception as exc:  # reported to the parent
            problems.append(repr(exc))
    out.put(problems)


@pytest.mark.skipif(sys.platform == "win32", reason="fork start method")
def test_two_processes_writing_at_once_leave_every_current_copy_whole(tmp_path):
    folder = str(tmp_path / "index-vectors")
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    procs = [ctx.Process(target=_rewrite, args=(folder, seed, out)) for seed in (1, 2)]
    for p in procs:
        p.start()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert results == [[], []]
    store = VectorStore(folder)
    loaded = store.matrix()
    assert loaded is not None and loaded[1].shape == (200, 64)
    assert sorted(p.name for p in Path(folder).glob("*.npy")) == sorted(
        f"{kind}-{store.token()}.npy" for kind in ("shas", "vectors"))
    store.close()
