"""OpenSearchIndex specifics on osmem-server: layout, rebuild, deep pages, connection options."""

from __future__ import annotations

import re
import socket
import time
import uuid

import pytest

from mediaapp.core.types import Query, SortOrder
from mediaapp.search import opensearch as osmod
from mediaapp.search.index_base import SearchUnavailableError
from mediaapp.search.opensearch import OpenSearchIndex
from mediaapp.search.opensearch_client import _make_client
from mediaapp.search.opensearch_mapping import MAPPING_VERSION, NAMES_VERSION, index_body, name_doc_id
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
    [concrete] = os_index.client.indices.get_alias(name=os_index.alias)
    assert re.fullmatch(rf"{os_index.alias}-v{MAPPING_VERSION}-\d{{14}}-[0-9a-f]{{6}}", concrete)
    mapping = os_index.client.indices.get_mapping(index=os_index.alias)[concrete]["mappings"]
    assert mapping["_meta"] == {"mediaapp_mapping_version": MAPPING_VERSION, "mediaapp_complete": False}
    props = mapping["properties"]
    assert props["detections"]["type"] == "nested"
    assert props["detections"]["properties"]["confidence"]["type"] == "float"
    assert props["tokens"]["analyzer"] == "mediaapp_tokens"
    src = os_index.client.get(index=os_index.alias, id=library[0].asset.sha256)["_source"]
    car = [d for d in src["detections"] if d["name"] == "Car"]
    assert len(car) == 15 and car[1]["box"]["width"] > 0 and car[0]["keys"] == ["car", "vehicle", "transportation"]
    coupe = next(d for d in src["detections"] if d["name"] == "Coupe")
    assert coupe["words"] == ["coupe", "sports", "car", "vehicle", "transportation"]
    # created empty on first use, never filled from the whole library: a reindex is due
    assert os_index.needs_reindex is True and "not been filled" in os_index.reindex_reason
    [names] = os_index.client.indices.get_alias(name=os_index.names_alias)
    assert re.fullmatch(rf"{os_index.names_alias}-v{NAMES_VERSION}-\d{{14}}-[0-9a-f]{{6}}", names)


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


def test_health_reports_cluster_and_reindex_state(os_index, library):
    health = os_index.health()
    assert health["ok"] is True and health["status"] in ("green", "yellow") and health["version"]
    assert health["cluster"] == "osmem" and f"cluster “osmem” is {health['status']}" in health["message"]
    assert health["documents"] is None  # no index yet, and a health check does not create one
    assert health["needs_reindex"] is True and "does not exist yet" in health["reindex_reason"]
    assert not os_index.client.indices.exists_alias(name=os_index.alias)
    os_index.upsert(library[:2])
    health = os_index.health()
    assert health["documents"] == 2 and health["needs_reindex"] is True
    assert "reindex needed: the index was created empty" in health["message"]
    os_index.rebuild(library)
    health = os_index.health()
    assert (health["documents"], health["needs_reindex"], health["reindex_reason"]) == (8, False, "")
    assert "reindex needed" not in health["message"]


def test_unreachable_cluster_raises_and_health_says_so():
    ix = OpenSearchIndex(f"http://127.0.0.1:{free_port()}", index="nowhere", timeout=2)
    with pytest.raises(SearchUnavailableError, match=r"127\.0\.0\.1"):
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


# -- versioned names and needs_reindex (issue 5, gap 4) --------------------------------------

def test_rebuilds_in_the_same_second_and_fresh_connections_agree(os_index, library, monkeypatch):
    os_index.upsert(library[:3])
    frozen = time.gmtime()
    monkeypatch.setattr(osmod.time, "gmtime", lambda *_: frozen)  # every name gets the same stamp
    names = []
    for part in (library[:4], library):
        assert os_index.rebuild(part).indexed == len(part)
        names.append(sorted(os_index.client.indices.get_alias(name=os_index.alias)))
    assert names[0] != names[1] and len(names[1]) == 1
    assert names[0][0].rsplit("-", 1)[0] == names[1][0].rsplit("-", 1)[0]  # same second, unique suffix
    fresh = OpenSearchIndex(os_index.url, index=os_index.alias)
    try:
        assert fresh.count() == len(library)
        assert fresh.needs_reindex is False and fresh.reindex_reason == ""
        mapping = fresh.client.indices.get_mapping(index=fresh.alias)[names[1][0]]["mappings"]
        assert mapping["_meta"] == {"mediaapp_mapping_version": MAPPING_VERSION, "mediaapp_complete": True}
    finally:
        fresh.close()


def test_old_mapping_version_needs_reindex_until_rebuilt(osmem_base, library):
    alias = f"mediaapp-test-{uuid.uuid4().hex[:8]}"
    ix = OpenSearchIndex(osmem_base.url, index=alias, replicas=0)
    old = f"{alias}-v1"  # how the first release named and marked its index
    ix.client.indices.create(index=old, body={"mappings": {"_meta": {"mediaapp_mapping_version": 1},
                                                           "properties": {"sha256": {"type": "keyword"}}},
                                              "aliases": {alias: {}}})
    try:
        assert ix.count() == 0
        assert ix.needs_reindex is True and "mapping version 1" in ix.reindex_reason
        assert ix.health()["needs_reindex"] is True and "version 1" in ix.health()["message"]
        ix.rebuild(library)
        assert ix.needs_reindex is False and not ix.client.indices.exists(index=old)
        assert ix.search(Query(labels=("Animal",))).total == 3
    finally:
        ix.drop()
        ix.close()


def test_concurrent_first_use_settles_on_one_index(os_index, library, monkeypatch):
    # Another process created its index behind the alias between our check and our create.
    other = f"{os_index.alias}-v{MAPPING_VERSION}-00000000000000-000000"
    real_exists_alias = os_index.client.indices.exists_alias
    calls = []

    def racing_exists_alias(name, **kw):
        calls.append(name)
        if name == os_index.alias and len([c for c in calls if c == name]) == 1:
            os_index.client.indices.create(index=other, body=index_body(replicas=0) |
                                           {"aliases": {os_index.alias: {}}})
            return False
        return real_exists_alias(name=name, **kw)

    monkeypatch.setattr(os_index.client.indices, "exists_alias", racing_exists_alias)
    os_index.upsert(library[:2])
    assert list(os_index.client.indices.get_alias(name=os_index.alias)) == [other]
    assert [i for i in os_index.client.indices.get_alias(index=f"{os_index.alias}-v*")] == [other]
    assert os_index.count() == 2


# -- a lost index (issue 5, gap 5) ------------------------------------------------------------

def _delete_behind_its_back(ix: OpenSearchIndex) -> None:
    for alias in (ix.alias, ix.names_alias):
        for concrete in list(ix.client.indices.get_alias(name=alias)):
            ix.client.indices.delete(index=concrete)


def test_index_deleted_between_searches(os_index, library, tmp_path):
    from mediaapp.library import Library

    lib = Library(tmp_path / "lib", index=os_index)
    try:
        lib.local_index.upsert(library)
        os_index.upsert(library)
        q = Query(labels=("Animal",))
        assert [h.sha256 for h in lib.search(q).hits] == [h.sha256 for h in lib.local_index.search(q).hits]
        _delete_behind_its_back(os_index)
        with pytest.raises(SearchUnavailableError, match="lost its documents"):
            os_index.search(q)
        # the library answers from its embedded index instead of raising NotFoundError
        assert [h.sha256 for h in lib.search(q).hits] == [h.sha256 for h in lib.local_index.search(q).hits]
        assert lib.facets(q) == lib.local_index.facets(q)
        # writes carry on into a re-created (empty, incomplete) index; never a concrete index
        # named like the alias, so later connections do not fail with "not an alias"
        assert os_index.upsert(library[:1]).indexed == 1
        assert not os_index.client.indices.exists(index=os_index.alias) or \
            os_index.client.indices.exists_alias(name=os_index.alias)
        with pytest.raises(SearchUnavailableError, match="lost its documents"):
            os_index.count()
        health = os_index.health()
        assert health["needs_reindex"] is True and health["documents"] == 1
        other = OpenSearchIndex(os_index.url, index=os_index.alias)  # another process sees it too
        assert other.count() == 1 and other.needs_reindex is True
        other.close()
        os_index.rebuild(library)
        assert [h.sha256 for h in lib.search(q).hits] == [h.sha256 for h in lib.local_index.search(q).hits]
        assert os_index.health()["needs_reindex"] is False
    finally:
        lib.close()


def test_index_deleted_before_a_write(os_index, library):
    os_index.upsert(library[:2])
    _delete_behind_its_back(os_index)
    with pytest.raises(SearchUnavailableError, match="lost its documents"):
        os_index.upsert(library[2:4])  # require_alias: the bulk does not auto-create an index
    assert not os_index.client.indices.exists(index=os_index.alias)
    os_index.delete([library[0].asset.sha256])  # the next call re-creates the index behind the alias
    assert os_index.client.indices.exists_alias(name=os_index.alias)
    with pytest.raises(SearchUnavailableError, match="lost its documents"):
        os_index.search(Query())  # which misses documents: reads fall back until a rebuild


def test_rebuild_by_another_process_is_noticed(os_index, library, monkeypatch):
    os_index.upsert(library)
    _delete_behind_its_back(os_index)
    for _ in range(2):  # the first notices the loss, the second finds an empty stand-in index
        with pytest.raises(SearchUnavailableError):
            os_index.search(Query())
    other = OpenSearchIndex(os_index.url, index=os_index.alias)
    other.rebuild(library)
    other.close()
    with pytest.raises(SearchUnavailableError):  # not re-checked yet
        os_index.search(Query())
    monkeypatch.setattr(osmod, "RECHECK_SECONDS", 0.0)
    assert os_index.search(Query()).total == len(library)


# -- bulk failures (issue 5, gap 6) -------------------------------------------------------------

def test_long_names_are_hashed_into_valid_ids(os_index, library):
    from mediaapp.core.types import Detection, DetectionKind, IndexDocument

    long_label = "Ünïcode label " * 60          # ~900 bytes of UTF-8
    long_person = "É" * 400                     # 800 bytes
    doc = IndexDocument(library[7].asset, [
        Detection(DetectionKind.LABEL, long_label, 90.0),
        Detection(DetectionKind.PERSON, long_person, 95.0)], library[7].folders, "")
    result = os_index.upsert([library[0], doc])
    assert (result.indexed, result.failed) == (2, [])
    assert all(len(name_doc_id(f, "x" * 600).encode()) <= 512 for f in ("labels", "persons"))
    assert name_doc_id("labels", "dog") == "labels:dog"
    assert os_index.facets(Query(folder="/lib/misc")) == [osmod.FacetCount(long_label.strip(), 1)]
    assert os_index.facets(Query(), "persons")[0].name == long_person


def test_whole_request_rejection_is_reported_per_document(os_index, library):
    from dataclasses import replace

    from mediaapp.core.types import IndexDocument

    # an _id over 512 bytes makes the server reject the whole bulk request with 400
    good = library[7]  # no labels: the request holds exactly these two documents
    bad = IndexDocument(replace(good.asset, sha256="f" * 600), [], ["/x"], "")
    result = os_index.upsert([good, bad])
    assert result.indexed == 0 and [sha for sha, _ in result.failed] == [good.asset.sha256, "f" * 600]
    assert all(reason.startswith("400 ") and "512 bytes" in reason for _sha, reason in result.failed)
    assert os_index.upsert([good]).indexed == 1  # the next batch goes through


# -- SigV4 without credentials (issue 5, gap 7) --------------------------------------------------

@pytest.fixture
def no_aws_credentials(monkeypatch, tmp_path):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def test_sigv4_without_credentials_fails_on_use_not_on_open(no_aws_credentials, tmp_path, library):
    from mediaapp.library import Library

    settings = {"index": {"backend": "opensearch", "url": "https://search-demo.eu-west-1.es.amazonaws.com",
                          "aws_region": "eu-west-1"}}
    lib = Library(tmp_path / "lib", settings=settings)  # used to raise here
    try:
        lib.local_index.upsert(library)
        assert lib.search(Query(labels=("Dog",))).total == 2  # answered by the embedded index
        with pytest.raises(SearchUnavailableError, match="no AWS credentials"):
            lib.index.search(Query())
        health = lib.index.health()
        assert health["ok"] is False and "no AWS credentials" in health["message"]
        lib.reindex_assets([library[0].asset.sha256])  # a write is queued, not raised
    finally:
        lib.close()
