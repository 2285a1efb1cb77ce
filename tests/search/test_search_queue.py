"""QueuedIndex: durable queueing while the backend is down, replay when it is back."""

from __future__ import annotations

import uuid

import pytest
from support import free_port

from mediaapp.core.types import Query
from mediaapp.search.index_base import IndexResult, SearchUnavailableError
from mediaapp.search.opensearch import OpenSearchIndex
from mediaapp.search.opensearch_mapping import MAPPING_VERSION
from mediaapp.search.queue import QueuedIndex, doc_from_json, doc_to_json
from mediaapp.search.sqlite import SqliteIndex


class Flaky:
    """A SqliteIndex that can be switched off (raises SearchUnavailableError)."""

    name = "flaky"

    def __init__(self, path):
        self.real = SqliteIndex(path)
        self.up = True
        self.calls: list[str] = []

    def _check(self, op: str):
        self.calls.append(op)
        if not self.up:
            raise SearchUnavailableError("down for the test")

    def upsert(self, docs):
        docs = list(docs)
        self._check("upsert")
        return self.real.upsert(docs)

    def delete(self, shas):
        self._check("delete")
        self.real.delete(shas)

    def search(self, q):
        self._check("search")
        return self.real.search(q)

    def facets(self, q, field="labels", limit=100):
        self._check("facets")
        return self.real.facets(q, field, limit)

    def count(self):
        self._check("count")
        return self.real.count()

    def clear(self):
        self._check("clear")
        self.real.clear()

    def close(self):
        self.real.close()


def test_doc_json_round_trip(library):
    for doc in library:
        assert doc_from_json(doc_to_json(doc)) == doc


def test_writes_are_queued_durably_and_replayed(tmp_path, library):
    inner = Flaky(tmp_path / "inner.sqlite")
    q = QueuedIndex(inner, tmp_path / "queue.sqlite", replay_interval=0)
    assert q.upsert(library[:2]).indexed == 2
    inner.up = False
    result = q.upsert(library[2:6])
    assert result == IndexResult(0, [])
    q.delete([library[0].asset.sha256])
    assert q.pending_count() == 5
    with pytest.raises(SearchUnavailableError):
        q.search(Query())
    q.close()  # the app quits while the backend is down

    inner2 = Flaky(tmp_path / "inner.sqlite")
    q2 = QueuedIndex(inner2, tmp_path / "queue.sqlite", replay_interval=0)
    assert [op for _sha, op, *_ in q2.pending()] == ["upsert"] * 4 + ["delete"]
    assert q2.replay() == 5
    assert q2.pending_count() == 0
    assert sorted(h.sha256 for h in q2.search(Query(limit=None)).hits) == sorted(
        d.asset.sha256 for d in library[1:6])
    q2.close()


def test_latest_operation_per_asset_wins(tmp_path, library):
    inner = Flaky(tmp_path / "inner.sqlite")
    q = QueuedIndex(inner, tmp_path / "queue.sqlite", replay_interval=0)
    q.upsert(library[:1])
    inner.up = False
    q.delete([library[0].asset.sha256])
    q.upsert(library[:1])  # re-added after the delete
    q.upsert(library[1:2])
    q.delete([library[1].asset.sha256])  # removed after the add
    assert sorted(op for _s, op, *_ in q.pending()) == ["delete", "upsert"]
    inner.up = True
    q.replay()
    assert [h.sha256 for h in inner.real.search(Query()).hits] == [library[0].asset.sha256]
    q.close()


class Clock:
    """A monotonic clock the test moves by hand (seconds)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_next_successful_write_replays_first(tmp_path, library):
    inner = Flaky(tmp_path / "inner.sqlite")
    clock = Clock()
    q = QueuedIndex(inner, tmp_path / "queue.sqlite", replay_interval=3600, clock=clock)
    inner.up = False
    q.upsert(library[:3])
    inner.up = True
    clock.now += 3600  # the write back-off after the failure is over
    assert q.upsert(library[3:4]).indexed == 1
    assert q.pending_count() == 0 and inner.real.count() == 4
    assert inner.calls[-2:] == ["upsert", "upsert"]
    q.close()


def test_writes_back_off_after_the_backend_was_unavailable(tmp_path, library):
    """An unreachable cluster costs one attempt per ``replay_interval``, not one per write."""
    inner = Flaky(tmp_path / "inner.sqlite")
    clock = Clock()
    q = QueuedIndex(inner, tmp_path / "queue.sqlite", replay_interval=30, clock=clock)
    inner.up = False
    assert not q.backing_off
    assert q.upsert(library[0:1]) == IndexResult(0, [])
    assert inner.calls == ["upsert"]  # the failed write: the back-off starts now
    assert q.backing_off
    for i in range(1, 4):  # the import's next batches, within the interval: queued without contacting it
        clock.now += 9
        assert q.upsert(library[i:i + 1]) == IndexResult(0, [])
    q.delete([library[0].asset.sha256])
    assert inner.calls == ["upsert"]
    assert q.pending_count() == 4  # durable: the upserts of 1..3 and the delete of 0
    queued = QueuedIndex(Flaky(tmp_path / "other.sqlite"), tmp_path / "queue.sqlite")
    assert sorted(op for _sha, op, *_ in queued.pending()) == ["delete", "upsert", "upsert", "upsert"]
    queued.close()

    clock.now += 4  # 31 s after the failure: the next write tries a replay first; still down
    q.upsert(library[4:5])
    assert inner.calls == ["upsert", "delete"]  # one replay attempt, and no write after it failed
    assert q.backing_off and q.pending_count() == 5
    clock.now += 29.5  # the back-off counts from the failed replay
    q.upsert(library[5:6])
    assert inner.calls == ["upsert", "delete"] and q.pending_count() == 6

    inner.up = True
    clock.now += 0.5  # 30 s after the failed replay
    assert not q.backing_off
    assert q.upsert(library[6:7]).indexed == 1  # replays the queue, then writes through
    assert inner.calls == ["upsert", "delete", "delete", "upsert", "upsert"]
    assert q.pending_count() == 0
    assert sorted(h.sha256 for h in inner.real.search(Query(limit=None)).hits) == sorted(
        d.asset.sha256 for d in library[1:7])

    inner.up = False  # a write that worked ended the back-off: the next failure is seen at once
    q.delete([library[6].asset.sha256])
    assert inner.calls[-1] == "delete" and q.backing_off and q.pending_count() == 1
    q.close()


def test_reads_do_not_replay_while_writes_back_off_and_do_not_start_a_back_off(tmp_path, library):
    inner = Flaky(tmp_path / "inner.sqlite")
    clock = Clock()
    q = QueuedIndex(inner, tmp_path / "queue.sqlite", replay_interval=30, clock=clock)
    inner.up = False
    q.upsert(library[:2])
    inner.up = True
    clock.now += 10
    assert q.search(Query()).total == 0  # answered by the backend, without a replay before it
    assert inner.calls == ["upsert", "search"] and q.pending_count() == 2
    clock.now += 20  # back-off over: the read replays first
    assert q.search(Query()).total == 2
    assert inner.calls[2:] == ["upsert", "search"] and q.pending_count() == 0

    inner.up = False  # a failed read (which a reachable cluster that needs a reindex also gives)
    with pytest.raises(SearchUnavailableError):
        q.count()
    assert not q.backing_off
    inner.up = True
    assert q.upsert(library[2:3]).indexed == 1  # written through at once
    q.close()


def test_an_explicit_replay_ignores_the_back_off_and_ends_it(tmp_path, library):
    inner = Flaky(tmp_path / "inner.sqlite")
    clock = Clock()
    q = QueuedIndex(inner, tmp_path / "queue.sqlite", replay_interval=30, clock=clock)
    inner.up = False
    q.upsert(library[:1])
    with pytest.raises(SearchUnavailableError):
        q.replay()  # contacts the backend even while backing off
    assert inner.calls == ["upsert", "upsert"] and q.backing_off
    inner.up = True
    assert q.replay() == 1 and not q.backing_off
    assert q.upsert(library[1:2]).indexed == 1 and inner.calls[-1] == "upsert"
    q.close()


def test_rejected_documents_stay_queued_with_their_error(tmp_path, library):
    class Rejecting(Flaky):
        def upsert(self, docs):
            docs = list(docs)
            self._check("upsert")
            return IndexResult(0, [(d.asset.sha256, "mapper_parsing_exception") for d in docs])

    inner = Rejecting(tmp_path / "inner.sqlite")
    q = QueuedIndex(inner, tmp_path / "queue.sqlite", max_attempts=2)
    inner.up = False
    q.upsert(library[:1])
    inner.up = True
    assert q.replay() == 0
    assert q.replay() == 0
    assert q.replay() == 0  # attempts exhausted: not sent again, but kept
    assert inner.calls.count("upsert") == 3  # the failed write, then two replays
    [(sha, op, _at, attempts, error)] = q.pending()
    assert (sha, op, attempts, error) == (library[0].asset.sha256, "upsert", 2, "mapper_parsing_exception")
    q.close()


def server_indices(server, alias: str) -> set[str]:
    """Names of the concrete indices on ``server`` that start with ``alias``."""
    return {row["index"] for row in server.request("GET", "/_cat/indices?format=json")
            if row["index"].startswith(alias)}


def test_opensearch_stopped_then_started(tmp_path, library):
    from osmem_server import OsmemServer

    port = free_port()
    addr = f"127.0.0.1:{port}"
    server = OsmemServer.start(freeze=False, japanese=False, addr=addr)
    inner = OpenSearchIndex(f"http://{addr}", index=f"mediaapp-test-{uuid.uuid4().hex[:8]}",
                            replicas=0, timeout=3)
    q = QueuedIndex(inner, tmp_path / "index-queue.sqlite", replay_interval=0)
    try:
        assert q.upsert(library[:3]).indexed == 3
        server.close()
        q.upsert(library[3:6])
        q.delete([library[5].asset.sha256])
        assert q.pending_count() == 3
        with pytest.raises(SearchUnavailableError):
            q.search(Query())
        with pytest.raises(SearchUnavailableError):
            q.facets(Query())
        assert q.health()["ok"] is False and q.health()["pending"] == 3

        server = OsmemServer.start(freeze=False, japanese=False, addr=addr)  # back, but empty
        # A read replays the queue first, into a re-created empty index behind the alias (never a
        # concrete index auto-created under the alias's name); the first three assets are gone, so
        # the read says the backend is unusable and the library answers from SQLite instead.
        with pytest.raises(SearchUnavailableError, match="lost its documents"):
            q.search(Query(limit=None))
        assert q.pending_count() == 0
        assert inner.alias not in server_indices(server, inner.alias)
        versioned = sorted(inner.client.indices.get_alias(name=inner.alias))[0]
        assert versioned.startswith(f"{inner.alias}-v{MAPPING_VERSION}-")
        q.upsert(library[6:7])  # writes carry on meanwhile
        with pytest.raises(SearchUnavailableError, match="lost its documents"):
            q.facets(Query())
        health = q.health()
        assert health["ok"] is True and health["needs_reindex"] is True
        assert "lost its documents" in health["reindex_reason"] and health["documents"] == 3
        assert q.rebuild(library).indexed == len(library)
        page = q.search(Query(limit=None))
        assert sorted(h.sha256 for h in page.hits) == sorted(d.asset.sha256 for d in library)
        assert [f.name for f in q.facets(Query(labels=("Animal",)))][:1] == ["Animal"]
        assert q.health()["needs_reindex"] is False
    finally:
        q.close()
        server.close()
