"""The GUI's background calls must not leak SQLite connections, file descriptors or memory.

Every ``QThreadPool`` run has a fresh Python thread state, so connections
kept per thread (``threading.local``) were opened anew for each call and
never closed: 20 refreshes of one page opened 31 connections, and a
100,000-row scroll ran out of file descriptors. The connection pools bound
them; this runs 1,000 background queries the way the grid does and checks
that nothing grows.
"""

from __future__ import annotations

import os
import sys

import pytest

from mediaapp.core.types import Query

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts /proc/self/fd")


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def test_a_thousand_background_queries_keep_files_and_connections_flat(qtbot, analysed):
    from mediaapp.ui.background import BackgroundRunner

    library = analysed.library
    runner = BackgroundRunner(max_threads=4)

    def page(ctx):
        # what the grid asks for one page: hits, their assets, and the boxes to draw
        hits = library.search(Query(limit=50)).hits
        shas = [h.sha256 for h in hits]
        library.assets(shas)
        library.matching_detections(Query(), shas)
        return len(hits)

    def run(n: int) -> list[int]:
        results: list[int] = []
        for _ in range(n):
            runner.run(page, on_success=results.append)
        qtbot.waitUntil(lambda: runner.idle, timeout=120_000)
        return results

    def connections() -> int:
        return library.catalog.open_connections + library.local_index.open_connections

    assert set(run(40)) == {analysed.library.catalog.asset_count()}  # warm: pools filled, caches built
    files_before, connections_before = _open_files(), connections()
    results = run(1000)
    assert len(results) == 1000
    # at most the pools' own connections: 4 readers and a writer each
    assert library.catalog.open_connections <= 5 and library.local_index.open_connections <= 5
    # files grow only with a pool connection opened late (its database and WAL handles), never per call
    opened = connections() - connections_before
    assert _open_files() - files_before <= 2 * opened + 2
    runner.shutdown()
