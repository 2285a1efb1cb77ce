"""create_index and reindex (SQLite <-> OpenSearch)."""

from __future__ import annotations

import uuid

import pytest

from mediaapp.core.types import Query, SortOrder
from mediaapp.search.factory import PASSWORD_ENV, check_connection, create_index, opensearch_options, reindex
from mediaapp.search.opensearch import OpenSearchIndex
from mediaapp.search.queue import QueuedIndex
from mediaapp.search.sqlite import SqliteIndex


def test_sqlite_kind(tmp_path):
    ix = create_index("sqlite", tmp_path, {})
    try:
        assert isinstance(ix, SqliteIndex) and ix.path == tmp_path / "index.sqlite"
        assert (tmp_path / "index.sqlite").exists()
    finally:
        ix.close()


def test_opensearch_kind_is_queued(tmp_path):
    ix = create_index("OpenSearch", tmp_path, {"opensearch": {
        "url": "https://search.example.invalid:9200", "username": "u", "password": "p",
        "verify_certs": "false", "index": "photos", "timeout": "3"}})
    try:
        assert isinstance(ix, QueuedIndex) and isinstance(ix.inner, OpenSearchIndex)
        assert ix.queue_path == tmp_path / "index-queue.sqlite"
        assert ix.inner.alias == "photos" and ix.name == "opensearch"
        assert ix.inner.client.transport.get_connection().pool.cert_reqs == "CERT_NONE"
    finally:
        ix.close()


@pytest.mark.parametrize("kind,settings", [("opensearch", {}), ("elastic", {"url": "x"})])
def test_bad_settings(tmp_path, kind, settings):
    with pytest.raises(ValueError):
        create_index(kind, tmp_path, settings)


def test_reindex_to_opensearch_and_back(tmp_path, library, osmem_base):
    source = create_index("sqlite", tmp_path / "a", {})
    target = create_index("opensearch", tmp_path / "b",
                          {"url": osmem_base.url, "index": f"mediaapp-test-{uuid.uuid4().hex[:8]}"})
    back = SqliteIndex(tmp_path / "c" / "index.sqlite")
    try:
        source.upsert(library)
        target.upsert(library[:2])  # stale content that reindex must clear
        target.delete([library[0].asset.sha256])
        seen: list[int] = []
        docs = {d.asset.sha256: d for d in library}
        result = reindex((docs[s] for s in source.sha256s()), target, batch=3, progress=seen.append)
        assert (result.indexed, result.failed, seen) == (8, [], [3, 6, 8])
        result = reindex((docs[s] for s in source.sha256s()), back)
        assert result.indexed == 8
        for q in (Query(sort=SortOrder.DATE), Query(labels=("Animal",)), Query(folder="/lib/pets")):
            want = [h.sha256 for h in source.search(q).hits]
            assert [h.sha256 for h in target.search(q).hits] == want
            assert [h.sha256 for h in back.search(q).hits] == want
            assert target.facets(q) == source.facets(q) == back.facets(q)
    finally:
        if isinstance(target, QueuedIndex):
            target.inner.drop()
        for ix in (source, target, back):
            ix.close()


def test_password_comes_from_the_environment(tmp_path, monkeypatch):
    import base64

    settings = {"backend": "opensearch", "url": "https://search.example.invalid:9200", "username": "ann"}
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    ix = create_index("opensearch", tmp_path, settings)
    try:
        header = ix.inner.client.transport.get_connection().headers["authorization"]
        assert header == "Basic " + base64.b64encode(b"ann:s3cret").decode()
    finally:
        ix.close()
    assert opensearch_options(dict(settings, password="given"))["password"] == "given"  # explicit wins
    monkeypatch.delenv(PASSWORD_ENV)
    assert opensearch_options(settings)["password"] is None


def test_check_connection_reports_plain_words(osmem_base, tmp_path):
    alias = f"mediaapp-test-{uuid.uuid4().hex[:8]}"
    ok = check_connection({"backend": "opensearch", "url": osmem_base.url, "index": alias})
    assert ok["ok"] is True and ok["cluster"] == "osmem" and ok["needs_reindex"] is True
    assert "does not exist yet" in ok["message"]
    probe = OpenSearchIndex(osmem_base.url, index=alias)
    assert not probe.client.indices.exists_alias(name=alias)  # a health check creates nothing
    probe.close()

    from support import free_port

    port = free_port()
    down = check_connection({"url": f"http://127.0.0.1:{port}"}, timeout=2)
    assert down["ok"] is False and down["status"] == "unreachable"
    assert "connection refused" in down["message"] and f"127.0.0.1:{port}" in down["message"]
    tls = check_connection({"url": osmem_base.url.replace("http://", "https://")}, timeout=2)
    assert tls["ok"] is False and "does not speak TLS" in tls["message"]
    bad = check_connection({"url": ""})
    assert bad["ok"] is False and bad["status"] == "invalid" and "needs settings['url']" in bad["message"]


def test_reindex_rebuilds_an_opensearch_target(tmp_path, library, osmem_base):
    target = create_index("opensearch", tmp_path, {"url": osmem_base.url,
                                                   "index": f"mediaapp-test-{uuid.uuid4().hex[:8]}"})
    try:
        target.upsert(library[:3])
        before = set(target.inner.client.indices.get_alias(name=target.inner.alias))
        cleared = []
        target.inner.clear = lambda: cleared.append(True)  # a rebuild never empties the live index
        result = reindex(library[2:], target, batch=4)
        assert result.indexed == 6 and not cleared
        after = set(target.inner.client.indices.get_alias(name=target.inner.alias))
        assert after.isdisjoint(before) and target.count() == 6 and target.needs_reindex is False
    finally:
        target.inner.drop()
        target.close()
