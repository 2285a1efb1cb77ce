"""The catalog: migrations, content-keyed assets, cached analyses, errors."""

import sqlite3

import pytest

from mediaapp.catalog.db import Catalog
from mediaapp.catalog.migrations import LATEST
from mediaapp.core.types import BoundingBox, Detection, DetectionKind

SHA = "a" * 64


def _asset():
    return {"format": "JPEG", "width": 640, "height": 480, "taken_at": "2020-01-02T03:04:05"}


def test_schema_version_and_wal(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    with cat.read() as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # Re-opening migrates nothing and keeps the data.
    cat.add_file(path="/x/a.jpg", size=10, mtime_ns=1, sha256=SHA, asset=_asset())
    cat.close()
    again = Catalog(tmp_path / "c.sqlite")
    assert again.asset(SHA).paths == ["/x/a.jpg"]


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "c.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        Catalog(path)


def test_duplicate_bytes_are_one_asset_with_all_paths(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    assert cat.add_file(path="/x/a.jpg", size=10, mtime_ns=1, sha256=SHA, asset=_asset()) is True
    assert cat.add_file(path="/y/copy.jpg", size=10, mtime_ns=2, sha256=SHA, asset=_asset()) is False
    asset = cat.asset(SHA)
    assert asset.paths == ["/x/a.jpg", "/y/copy.jpg"] and asset.width == 640
    assert cat.asset_count() == 1
    assert cat.known_files(under=["/x"]) == {"/x/a.jpg": (10, 1, SHA)}
    assert cat.known_files(under=["/x/"]) == {"/x/a.jpg": (10, 1, SHA)}
    assert cat.remove_files(["/x/a.jpg"]) == []
    assert cat.remove_files(["/y/copy.jpg"]) == [SHA]
    assert cat.asset(SHA) is None


def test_folder_prefix_does_not_match_sibling(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    cat.add_file(path="/a/b/1.jpg", size=1, mtime_ns=1, sha256=SHA, asset=_asset())
    cat.add_file(path="/a/bc/2.jpg", size=1, mtime_ns=1, sha256="b" * 64, asset=_asset())
    cat.add_file(path="/a/b_/3.jpg", size=1, mtime_ns=1, sha256="c" * 64, asset=_asset())
    assert set(cat.known_files(under=["/a/b"])) == {"/a/b/1.jpg"}


def test_store_analysis_replaces_detections_and_keeps_old_versions(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    cat.add_file(path="/x/a.jpg", size=10, mtime_ns=1, sha256=SHA, asset=_asset())
    dog = Detection(DetectionKind.LABEL, "Dog", 91.5, BoundingBox(0.1, 0.2, 0.3, 0.4), ("Animal", "Pet"))
    cat.store_analysis(sha256=SHA, api="DetectLabels", engine="local", engine_version="v1", params="p",
                       response={"Labels": [{"Name": "Dog"}]}, detections=[dog])
    assert cat.cached_analysis(SHA, "DetectLabels", "local", "p") == ("v1", {"Labels": [{"Name": "Dog"}]})
    assert cat.cached_analysis(SHA, "DetectLabels", "local", "other") is None
    cat_ = Detection(DetectionKind.LABEL, "Cat", 80.0, None, ("Animal",))
    cat.store_analysis(sha256=SHA, api="DetectLabels", engine="local", engine_version="v2", params="p",
                       response={"Labels": [{"Name": "Cat"}]}, detections=[cat_])
    current = cat.detections([SHA])[SHA]
    assert [d.name for d in current] == ["Cat"] and current[0].parents == ("Animal",)
    assert cat.cached_analysis(SHA, "DetectLabels", "local", "p", engine_version="v1")[0] == "v1"
    assert [r["EngineVersion"] for r in cat.responses(SHA)["DetectLabels"]] == ["v2", "v1"]
    assert cat.cached_analysis(SHA, "DetectLabels", "local", "p")[0] == "v2"
    # Detections from another engine live side by side.
    cat.store_analysis(sha256=SHA, api="DetectLabels", engine="rekognition", engine_version="3.0", params="p",
                       response={"Labels": []}, detections=[dog])
    assert sorted(d.name for d in cat.detections([SHA])[SHA]) == ["Cat", "Dog"]
    assert [d.name for d in cat.detections([SHA], min_confidence=85)[SHA]] == ["Dog"]
    box = cat.detections([SHA], kinds=[DetectionKind.LABEL], min_confidence=85)[SHA][0].box
    assert box == BoundingBox(0.1, 0.2, 0.3, 0.4)


def test_failed_store_leaves_old_results(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    cat.add_file(path="/x/a.jpg", size=10, mtime_ns=1, sha256=SHA, asset=_asset())
    dog = Detection(DetectionKind.LABEL, "Dog", 91.5)
    cat.store_analysis(sha256=SHA, api="DetectLabels", engine="local", engine_version="v1", params="",
                       response={}, detections=[dog])
    bad = Detection(DetectionKind.LABEL, None, 50.0)  # NOT NULL name: the insert fails mid-transaction
    with pytest.raises(sqlite3.IntegrityError):
        cat.store_analysis(sha256=SHA, api="DetectLabels", engine="local", engine_version="v2", params="",
                           response={}, detections=[bad])
    assert [d.name for d in cat.detections([SHA])[SHA]] == ["Dog"]
    assert cat.cached_analysis(SHA, "DetectLabels", "local", "")[0] == "v1"


def test_errors_one_row_per_path_and_stage(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    cat.record_error("/x/bad.png", "decode", "corrupt", size=80, mtime_ns=5)
    cat.record_error("/x/bad.png", "decode", "corrupt again", size=80, mtime_ns=6)
    assert [(e.stage, e.message) for e in cat.errors()] == [("decode", "corrupt again")]
    assert cat.failed_files() == {"/x/bad.png": (80, 6)}
    # A later successful import of the path clears its ingest errors.
    cat.add_file(path="/x/bad.png", size=81, mtime_ns=7, sha256=SHA, asset=_asset())
    assert cat.errors() == []


def test_two_processes_migrating_an_old_catalog_at_once_make_each_step_once(tmp_path):
    """The second process read the old version before the first one's step committed: it must skip the step."""
    import sqlite3

    from mediaapp.catalog.migrations import LATEST, migrate

    class ReadBeforeTheOtherCommitted:
        """A connection whose first ``user_version`` read answers what it was before the other process migrated."""

        def __init__(self, conn: sqlite3.Connection, stale: int):
            self.conn, self.stale = conn, stale

        def execute(self, sql: str, *args):
            if sql == "PRAGMA user_version" and self.stale is not None:
                stale, self.stale = self.stale, None
                return self.conn.execute(f"SELECT {stale}")
            return self.conn.execute(sql, *args)

    path = tmp_path / "catalog.sqlite"
    first = sqlite3.connect(path, isolation_level=None)
    second = sqlite3.connect(path, isolation_level=None)
    try:
        migrate(first)  # the first process made every step, the last one included
        assert migrate(ReadBeforeTheOtherCommitted(second, LATEST - 1)) == LATEST - 1  # no "table already exists"
        assert second.execute("PRAGMA user_version").fetchone()[0] == LATEST
    finally:
        first.close()
        second.close()
