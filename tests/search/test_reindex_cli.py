"""``mediaapp reindex`` end to end: a real library, the osmem-server cluster, and back to SQLite.

The library's catalog holds the conformance assets (partly real Rekognition
responses) stored as analyses, exactly what an import leaves behind, so the
documents the command indexes are built by ``Library`` from the catalog.
"""

from __future__ import annotations

import uuid

import pytest
from search_support import build_library, sha
from support import free_port

from mediaapp.cli.main import main
from mediaapp.core.types import Api, DetectionKind, Query, SortOrder
from mediaapp.library import Library
from mediaapp.search.queue import QueuedIndex
from mediaapp.settings import load_settings

API_OF = {DetectionKind.LABEL: Api.DETECT_LABELS, DetectionKind.TEXT: Api.DETECT_TEXT,
          DetectionKind.PERSON: Api.RECOGNIZE_CELEBRITIES, DetectionKind.FACE: Api.RECOGNIZE_CELEBRITIES}

QUERIES = [
    Query(), Query(labels=("Animal",)), Query(labels=("Dog", "Cat"), match_all=False, min_confidence=35),
    Query(text="jpg"), Query(text="animal", sort=SortOrder.DATE), Query(persons=("Robert Redford",)),
    Query(folder="/lib/pets", sort=SortOrder.PATH), Query(taken_after="2020-01-01", sort=SortOrder.DATE),
    Query(labels=("Person",), limit=2, offset=1), Query(text="hello google"),
]


@pytest.fixture
def library_root(testdata, tmp_path):
    """A library whose catalog and embedded index hold the eight conformance assets."""
    root = tmp_path / "lib"
    lib = Library(root, settings={"workers": 1})
    try:
        for doc in build_library(testdata):
            asset = doc.asset
            for path in asset.paths:
                lib.catalog.add_file(path=path, size=asset.size, mtime_ns=1, sha256=asset.sha256, asset={
                    "format": asset.format, "width": asset.width, "height": asset.height,
                    "taken_at": asset.taken_at, "camera_make": asset.camera_make, "camera_model": asset.camera_model})
            for api in dict.fromkeys(API_OF[d.kind] for d in doc.detections):
                dets = [d for d in doc.detections if API_OF[d.kind] == api]
                lib.catalog.store_analysis(sha256=asset.sha256, api=api.value, engine="rekognition",
                                           engine_version="test", params="{}", response={}, detections=dets)
        lib.reindex_assets(lib.catalog.all_sha256s())
        assert lib.local_index.count() == 8
    finally:
        lib.close()
    return root


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_reindex_to_opensearch_and_back(library_root, osmem_base, capsys):
    alias = f"mediaapp-test-{uuid.uuid4().hex[:8]}"
    code, out, err = run(capsys, "--library", library_root, "reindex", "--to", "opensearch",
                         "--url", osmem_base.url, "--index", alias)
    assert code == 0, err
    assert "indexed 8 of 8 assets into opensearch" in out and "failed 0" in out
    assert "reindex to opensearch" in err and "8/8" in err  # the tqdm bar
    assert load_settings(library_root)["index"] == {"backend": "opensearch", "url": osmem_base.url, "index": alias}

    lib = Library(library_root)
    try:
        assert isinstance(lib.index, QueuedIndex) and lib.index.count() == 8
        health = lib.index.health()
        assert health["ok"] and health["needs_reindex"] is False and health["documents"] == 8
        first = sorted(lib.index.inner.client.indices.get_alias(name=alias))
        for q in QUERIES:
            want = lib.local_index.search(q)
            got = lib.index.search(q)  # straight from the cluster, no fallback
            assert got.total == want.total, q
            assert [(h.sha256, h.path) for h in got.hits] == [(h.sha256, h.path) for h in want.hits], q
            assert [(h.sha256, h.path) for h in lib.search(q).hits] == [(h.sha256, h.path) for h in want.hits]
            for field in ("labels", "persons"):
                assert lib.facets(q, field) == lib.local_index.facets(q, field), q
        assert [h.sha256 for h in lib.search(Query(labels=("Animal",))).hits] == [sha(3), sha(7), sha(4)]
    finally:
        lib.close()

    # again: a new versioned index replaces the first, whose documents are not lost meanwhile
    code, out, _err = run(capsys, "--library", library_root, "reindex", "--to", "opensearch", "--quiet")
    assert code == 0 and "indexed 8 of 8" in out
    lib = Library(library_root)
    try:
        now = sorted(lib.index.inner.client.indices.get_alias(name=alias))
        assert now != first and not lib.index.inner.client.indices.exists(index=first[0])
        assert lib.index.search(Query(labels=("Animal",))).total == 3
        lib.index.inner.drop()
    finally:
        lib.close()

    code, out, _err = run(capsys, "--library", library_root, "reindex", "--to", "sqlite", "--quiet")
    assert code == 0 and "indexed 8 of 8 assets into sqlite" in out
    stored = load_settings(library_root)["index"]
    assert stored["backend"] == "sqlite" and stored["url"] == osmem_base.url  # kept for switching back
    lib = Library(library_root)
    try:
        assert lib.index is lib.local_index and lib.search(Query(labels=("Animal",))).total == 3
    finally:
        lib.close()


def test_reindex_failure_changes_nothing(library_root, capsys, monkeypatch):
    port = free_port()
    code, _out, err = run(capsys, "--library", library_root, "reindex", "--to", "opensearch",
                          "--url", f"http://127.0.0.1:{port}", "--quiet")
    assert code == 1
    assert "reindex failed, settings unchanged" in err and "connection refused" in err
    assert load_settings(library_root)["index"] == {"backend": "sqlite"}

    code, _out, err = run(capsys, "--library", library_root, "reindex", "--to", "opensearch")
    assert code == 2 and "needs --url" in err
    code, _out, err = run(capsys, "--library", library_root, "reindex", "--to", "opensearch",
                          "--url", "http://x", "--ca-bundle", "/nonexistent/ca.pem")
    assert code == 2 and "/nonexistent/ca.pem does not exist" in err


def test_reindex_saves_connection_flags_but_never_the_password(library_root, osmem_base, capsys, monkeypatch,
                                                               tmp_path):
    import certifi

    monkeypatch.setenv("MEDIAAPP_OPENSEARCH_PASSWORD", "not-in-settings")
    alias = f"mediaapp-test-{uuid.uuid4().hex[:8]}"
    code, _out, err = run(capsys, "--library", library_root, "reindex", "--to", "opensearch", "--quiet",
                         "--url", osmem_base.url, "--index", alias, "--username", "ann",
                         "--ca-bundle", certifi.where())
    assert code == 0, err  # osmem accepts any credentials over plain HTTP
    stored = load_settings(library_root)["index"]
    assert stored == {"backend": "opensearch", "url": osmem_base.url, "index": alias, "username": "ann",
                      "ca_certs": certifi.where()}
    assert "not-in-settings" not in (library_root / "settings.json").read_text()
    code, _out, err = run(capsys, "--library", library_root, "reindex", "--to", "opensearch", "--quiet",
                         "--no-verify")
    assert code == 0 and load_settings(library_root)["index"]["verify_certs"] is False
    lib = Library(library_root)
    lib.index.inner.drop()
    lib.close()


def test_library_never_serves_an_unfilled_or_lost_index(library_root, osmem_base):
    from mediaapp.search.index_base import SearchUnavailableError
    from mediaapp.settings import save_settings

    alias = f"mediaapp-test-{uuid.uuid4().hex[:8]}"
    settings = load_settings(library_root)
    settings["index"] = {"backend": "opensearch", "url": osmem_base.url, "index": alias}
    save_settings(library_root, settings)  # switched by hand, never reindexed
    q = Query(labels=("Animal",))
    lib = Library(library_root)
    try:
        lib.reindex_assets([sha(3)])  # an import writes one asset: the cluster index now exists, partial
        with pytest.raises(SearchUnavailableError, match="reindex needed: the index was created empty"):
            lib.index.search(q)
        assert [h.sha256 for h in lib.search(q).hits] == [sha(3), sha(7), sha(4)]  # from SQLite, complete
        seen = []
        assert lib.reindex(progress=seen.append) == 8 and seen[-1].done == seen[-1].total == 8
        assert [h.sha256 for h in lib.index.search(q).hits] == [sha(3), sha(7), sha(4)]  # the cluster now
    finally:
        lib.close()
    # the cluster restarts empty while the app is closed: the next session must not show an empty library
    for name in (alias, f"{alias}-names"):
        for concrete in list(osmem_base.request("GET", f"/_alias/{name}")):
            osmem_base.request("DELETE", f"/{concrete}")
    lib = Library(library_root)
    try:
        assert [h.sha256 for h in lib.search(q).hits] == [sha(3), sha(7), sha(4)]
        health = lib.index.health()
        assert health["needs_reindex"] is True and health["ok"] is True
        lib.index.inner.drop()
    finally:
        lib.close()
