"""OpenSearchIndex specifics on osmem-server: layout, rebuild, deep pages, connection options."""

from __future__ import annotations

import socket
import uuid

import pytest

from mediaapp.core.types import Query, SortOrder
from mediaapp.search import opensearch as osmod
from mediaapp.search.base import SearchUnavailableError
from mediaapp.search.opensearch import MAPPING_VERSION, OpenSearchIndex, _make_client
from mediaapp.search.sqlite import SqliteIndex


@pytest.fixture
def os_index(osmem_base):
    ix = OpenSearchIndex(osmem_base.url, index=f"mediaapp-test-{uuid.uuid4().hex[:8]}", replicas=0)
    yield ix
    ix.drop()
    ix.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_versioned_index_behind_alias(os_index, library):
    os_index.upsert(library[:2])
    aliases = os_index.client.indices.get_alias(name=os_index.alias)
    assert list(aliases) == [f"{os_index.alias}-v{MAPPING_VERSION}"]
    mapping = os_index.client.indices.get_mapping(index=os_index.alias)
    props = next(iter(mapping.values()))["mappings"]["properties"]
    assert props["detections"]["type"] == "nested"
    assert props["detections"]["properties"]["confidence"]["type"] == "float"
    assert props["tokens"]["analyzer"] == "mediaapp_tokens"
    src = os_index.client.get(index=os_index.alias, id=library[0].asset.sha256)["_source"]
    car = [d for d in src["detections"] if d["name"] == "Car"]
    assert len(car) == 15 and car[1]["box"]["width"] > 0 and car[0]["keys"] == ["car", "vehicle", "transportation"]


def test_rebuild_swaps_alias_without_losing_searches(os_index, library):
    os_index.upsert(library)
    old = set(os_index.client.indices.get_alias(name=os_index.alias))
    seen: list[int] = []
    result = os_index.rebuild(library[:5], progress=seen.append)
    assert result.indexed == 5 and seen == [5]
    new = set(os_index.client.indices.get_alias(name=os_index.alias))
    assert new.isdisjoint(old) and len(new) == 1
    assert all(not os_index.client.indices.exists(index=o) for o in old)
    assert os_index.count() == 5
    assert os_index.search(Query(labels=("Animal",))).total == 2


def test_deep_pages_use_search_after(os_index, library, monkeypatch, tmp_path):
    os_index.upsert(library)
    reference = SqliteIndex(tmp_path / "ref.sqlite")
    reference.upsert(library)
    calls: list[dict] = []
    real_search = os_index.client.search

    def spy(*args, **kwargs):
        calls.append(kwargs.get("body", {}))
        return real_search(*args, **kwargs)

    monkeypatch.setattr(osmod, "MAX_WINDOW", 3)
    monkeypatch.setattr(os_index.client, "search", spy)
    for q in (Query(sort=SortOrder.DATE, offset=4, limit=3), Query(sort=SortOrder.PATH, limit=None),
              Query(labels=("Person",), offset=1, limit=5)):
        calls.clear()
        got = os_index.search(q)
        want = reference.search(q)
        assert [h.sha256 for h in got.hits] == [h.sha256 for h in want.hits]
        assert got.total == want.total
        assert any("search_after" in c for c in calls) and all(c.get("size", 0) <= 3 for c in calls)
    reference.close()


def test_iter_sha256s_walks_everything(os_index, library):
    os_index.upsert(library)
    assert sorted(os_index.iter_sha256s(page=3)) == sorted(d.asset.sha256 for d in library)


def test_health_reports_cluster(os_index, library):
    health = os_index.health()
    assert health["ok"] is True and health["status"] in ("green", "yellow") and health["version"]
    assert health["documents"] is None  # no index yet, and a health check does not create one
    assert not os_index.client.indices.exists_alias(name=os_index.alias)
    os_index.upsert(library[:2])
    assert os_index.health()["documents"] == 2


def test_unreachable_cluster_raises_and_health_says_so():
    ix = OpenSearchIndex(f"http://127.0.0.1:{free_port()}", index="nowhere", timeout=2)
    with pytest.raises(SearchUnavailableError, match="127.0.0.1"):
        ix.search(Query())
    with pytest.raises(SearchUnavailableError):
        ix.upsert([])
    health = ix.health()
    assert health["ok"] is False and health["status"] == "unreachable" and health["message"]
    ix.close()


def test_client_options_basic_auth_and_tls():
    client = _make_client("https://search.example.invalid:9200", "ann", "secret", True, None, None, "es", 5)
    conn = client.transport.get_connection()
    assert conn.headers["authorization"] == "Basic YW5uOnNlY3JldA=="
    assert conn.pool.cert_reqs == "CERT_REQUIRED"  # verification is on by default
    insecure = _make_client("https://search.example.invalid:9200", None, None, False, None, None, "es", 5)
    assert insecure.transport.get_connection().pool.cert_reqs == "CERT_NONE"


def test_client_options_ca_bundle():
    import certifi

    client = _make_client("https://search.example.invalid:9200", None, None, True, certifi.where(), None, "es", 5)
    assert client.transport.get_connection().pool.ca_certs == certifi.where()


def test_client_options_sigv4(monkeypatch):
    from opensearchpy import AWSV4SignerAuth, RequestsHttpConnection

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    client = _make_client("https://search-demo.eu-west-1.es.amazonaws.com", None, None, True, None,
                          "eu-west-1", "es", 5)
    conn = client.transport.get_connection()
    assert isinstance(conn, RequestsHttpConnection)
    assert isinstance(conn.session.auth, AWSV4SignerAuth)
    import requests

    signed = conn.session.auth(requests.Request(
        "GET", "https://search-demo.eu-west-1.es.amazonaws.com/_cluster/health").prepare())
    assert signed.headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/es/aws4_request" in signed.headers["Authorization"]


def test_alias_name_taken_by_concrete_index(osmem_base):
    name = f"mediaapp-test-{uuid.uuid4().hex[:8]}"
    ix = OpenSearchIndex(osmem_base.url, index=name)
    ix.client.indices.create(index=name)
    try:
        with pytest.raises(SearchUnavailableError, match="not an alias"):
            ix.count()
    finally:
        ix.client.indices.delete(index=name)
        ix.close()
