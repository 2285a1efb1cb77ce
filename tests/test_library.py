"""The import pipeline end to end: catalog bookkeeping, caching, errors, resuming.

Analysis here uses ``replay_engine`` (recorded real Rekognition responses) so
the assertions are about the pipeline; the real engines have their own tests.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import replay_engine
from support import sha256_of

from mediaapp.catalog.feed import SEARCH, mark_changed
from mediaapp.core.types import Query
from mediaapp.library import Library
from mediaapp.services.indexing import SearchSync

ENGINE = "replay_engine:ReplayEngine"
BROKEN = {"broken.png", "truncated.jpg", "empty.jpg"}


def open_library(root, testdata, **engine_config):
    return Library(root, settings={"engines": [ENGINE], "workers": 2,
                                   "engine_config": {ENGINE: {"testdata": str(testdata), **engine_config}}})


@pytest.fixture(autouse=True)
def _reset_calls():
    replay_engine.CALLS.clear()


def test_import_catalogs_dedupes_reports_and_never_writes_originals(testdata, sample_folder, tmp_path):
    before = {p: sha256_of(p) for p in sample_folder.rglob("*") if p.is_file()}
    lib = open_library(tmp_path / "lib", testdata)
    try:
        report = lib.import_paths([sample_folder])
        assert report.imported == 5          # 6 good files, one of them a byte-identical copy
        assert report.duplicates == 1
        assert report.skipped == 1           # notes.txt
        assert {Path(p.path).name for p in report.failed} == BROKEN
        assert all(p.message for p in report.failed)
        # One error row per broken file, with a readable reason.
        errors = lib.errors()
        assert sorted(Path(e.path).name for e in errors) == sorted(BROKEN)
        assert next(e for e in errors if e.path.endswith("empty.jpg")).message == "empty file"
        # The copy is one asset with both paths; analysed once.
        sha = sha256_of(sample_folder / "cars" / "000004.jpg")
        asset = lib.assets([sha])[sha]
        assert [Path(p).name for p in asset.paths] == ["000004.jpg", "copy of 000004.jpg"]
        assert (asset.width, asset.height) == (500, 406)   # <size> in the VOC annotation
        assert Path(asset.thumbnail).is_file()
        assert report.analysed == 5 * 3 and len(replay_engine.CALLS) == 15
        assert len({c for c in replay_engine.CALLS}) == 15   # never the same (sha, api) twice
        # EXIF orientation 6 swaps the stored size.
        rot = lib.assets([sha256_of(sample_folder / "formats" / "rotation_6.jpg")]).popitem()[1]
        assert (rot.width, rot.height) == (231, 308)
        # Misnamed files import by content.
        assert lib.catalog.sha_for_path(str(sample_folder / "formats" / "this-is-a-jpeg.png"))
    finally:
        lib.close()
    assert {p: sha256_of(p) for p in before} == before


def test_reimport_unchanged_does_no_work_and_moves_cost_nothing(testdata, sample_folder, tmp_path):
    lib = open_library(tmp_path / "lib", testdata)
    lib.import_paths([sample_folder])
    lib.close()
    replay_engine.CALLS.clear()

    lib = open_library(tmp_path / "lib", testdata)
    try:
        report = lib.import_paths([sample_folder])
        assert (report.imported, report.duplicates, report.analysed) == (0, 0, 0)
        assert report.unchanged == 9 and report.cached == 15
        assert {Path(p.path).name for p in report.failed} == BROKEN   # still reported, not retried
        assert lib.pool._processes is None        # no worker was started: nothing hashed or decoded
        assert replay_engine.CALLS == []

        # Rename and copy: new paths, known bytes -> zero analysis calls.
        os.rename(sample_folder / "people" / "2007_000032.jpg", sample_folder / "people" / "renamed.jpg")
        (sample_folder / "more").mkdir()
        (sample_folder / "more" / "again.bmp").write_bytes((sample_folder / "formats" / "example.bmp").read_bytes())
        report = lib.import_paths([sample_folder])
        assert report.duplicates == 2 and report.imported == 0 and report.analysed == 0
        assert replay_engine.CALLS == []
        assert lib.catalog.sha_for_path(str(sample_folder / "people" / "2007_000032.jpg")) is None
        assert lib.catalog.sha_for_path(str(sample_folder / "people" / "renamed.jpg"))
    finally:
        lib.close()


def test_analysis_errors_are_per_image_and_the_run_continues(testdata, sample_folder, tmp_path):
    lib = open_library(tmp_path / "lib", testdata, fail_names=["example.bmp"])
    try:
        report = lib.import_paths([sample_folder], apis=["labels"])
        failed = [p for p in report.failed if p.stage.startswith("analysis:")]
        assert [(Path(p.path).name, p.stage) for p in failed] == [("example.bmp", "analysis:DetectLabels")]
        assert "invalid image format" in failed[0].message
        assert report.analysed == 4
        record = lib.show(sample_folder / "formats" / "example.bmp")
        assert "DetectLabels" not in record and record["errors"][0]["stage"] == "analysis:DetectLabels"

        # The engine refused these bytes for good: the next import does not send them again ...
        replay_engine.CALLS.clear()
        report = lib.import_paths([sample_folder], apis=["labels"])
        assert replay_engine.CALLS == [] and report.analysed == 0 and report.cached == 4
        assert [Path(p.path).name for p in report.failed if p.stage.startswith("analysis:")] == ["example.bmp"]
        # ... unless the user asks for a re-analysis.
        report = lib.import_paths([sample_folder], apis=["labels"], reanalyse=True)
        bmp = sha256_of(sample_folder / "formats" / "example.bmp")
        assert (bmp, "DetectLabels") in replay_engine.CALLS and report.analysed == 4
    finally:
        lib.close()


def test_search_and_show_after_import(testdata, sample_folder, tmp_path):
    lib = open_library(tmp_path / "lib", testdata)
    try:
        lib.import_paths([sample_folder])
        sha = sha256_of(sample_folder / "people" / "2007_000032.jpg")
        # The replayed DetectLabels response has Car (parents Vehicle, Transportation) for every image.
        page = lib.search(Query(labels=("Transportation",), limit=None))
        assert page.total == 5 and sha in {h.sha256 for h in page.hits}
        assert lib.search(Query(text="monday smiling")).total == 5     # words of the replayed DetectText
        assert lib.search(Query(text="000004")).total == 1                # file names are searchable
        assert lib.search(Query(persons=("Robert Redford",))).total == 5
        boxes = lib.matching_detections(Query(labels=("Car",)), [sha])[sha]
        assert boxes and all(d.name == "Car" and d.box for d in boxes)
        record = lib.show(sample_folder / "people" / "2007_000032.jpg")
        assert set(record) >= {"DetectLabels", "DetectText", "RecognizeCelebrities", "errors", "asset"}
        assert record["DetectText"]["TextDetections"][0]["DetectedText"] == "IT'S"
    finally:
        lib.close()


#: The analyses of the engine under test (the metadata engine reads every file too, first and quickly).
ANALYSES_SQL = "SELECT COUNT(*) FROM analyses WHERE engine != 'metadata'"


def test_killed_import_resumes_without_duplicates_or_gaps(testdata, tmp_path):
    photos = tmp_path / "photos"
    photos.mkdir()
    sources = sorted((testdata / "1_objects").rglob("*.jpg")) + sorted((testdata / "3_faces").rglob("*.jpg"))
    for i, src in enumerate(sources):
        (photos / f"{i:02d}_{src.name}").write_bytes(src.read_bytes())
    libdir = tmp_path / "lib"
    settings = {"engines": [ENGINE], "workers": 2,
                "engine_config": {ENGINE: {"testdata": str(testdata), "delay": 0.3}}}
    libdir.mkdir()
    (libdir / "settings.json").write_text(json.dumps(settings))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, "-m", "mediaapp.cli.main", "--library", str(libdir), "import", str(photos), "--quiet"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    catalog = libdir / "catalog.sqlite"
    deadline = time.monotonic() + 120
    import sqlite3
    while time.monotonic() < deadline:   # wait until some, not all, analyses are stored
        time.sleep(0.2)
        if catalog.exists():
            try:
                with sqlite3.connect(catalog) as conn:
                    if conn.execute(ANALYSES_SQL).fetchone()[0] >= 3:
                        break
            except sqlite3.OperationalError:
                pass
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with sqlite3.connect(catalog) as conn:
        partial = conn.execute(ANALYSES_SQL).fetchone()[0]
    settings["engine_config"][ENGINE]["delay"] = 0
    (libdir / "settings.json").write_text(json.dumps(settings))
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    lib = Library(libdir)
    try:
        good = [p for p in photos.iterdir() if not lib.catalog.errors(path=str(p))]
        shas = {lib.catalog.sha_for_path(str(p)) for p in good}
        assert None not in shas
        n_assets = lib.catalog.asset_count()
        assert n_assets == len(shas)
        with lib.catalog.read() as conn:
            rows = conn.execute(ANALYSES_SQL).fetchone()[0]
            # No duplicated detections: each asset has exactly the rows of its three responses.
            per_asset = conn.execute("SELECT COUNT(*) FROM detections GROUP BY sha256").fetchall()
        assert partial < rows == n_assets * 3
        assert len({r[0] for r in per_asset}) == 1 and len(per_asset) == n_assets
        assert lib.search(Query(limit=None)).total == n_assets
        # ... and every asset is searchable by what its analyses found, not only listed.
        assert lib.search(Query(labels=("Car",), limit=None)).total == n_assets
        assert lib.search(Query(text="monday", limit=None)).total == n_assets
    finally:
        lib.close()


def test_index_updates_lost_in_a_crash_are_made_at_the_next_open(testdata, sample_folder, tmp_path, monkeypatch):
    lib = open_library(tmp_path / "lib", testdata)
    with monkeypatch.context() as patch:
        patch.setattr(SearchSync, "update", lambda self, shas: False)  # the process dies before indexing
        lib.import_paths([sample_folder])
    assert lib.search(Query(limit=None)).total == 0 and len(lib.catalog.feed.pending(SEARCH)) == 5
    lib.close()
    lib = open_library(tmp_path / "lib", testdata)
    try:
        assert lib.catalog.feed.pending(SEARCH) == []
        assert lib.search(Query(labels=("Car",), limit=None)).total == 5
        # A vanished file's asset leaves the index through the same queue.
        (sample_folder / "formats" / "example.bmp").unlink()
        lib.import_paths([sample_folder])
        assert lib.search(Query(labels=("Car",), limit=None)).total == 4
    finally:
        lib.close()


def test_an_unreadable_folder_keeps_its_files_and_its_error_clears_once_readable(
        testdata, sample_folder, tmp_path, monkeypatch):
    import mediaapp.ingest.scan as scan

    lib = open_library(tmp_path / "lib", testdata)
    try:
        lib.import_paths([sample_folder])
        cars = str(sample_folder / "cars")
        real_scandir = scan.os.scandir

        def scandir(path="."):
            if os.fspath(path) == cars:
                raise PermissionError(13, "Permission denied", cars)
            return real_scandir(path)

        with monkeypatch.context() as patch:
            patch.setattr(scan.os, "scandir", scandir)
            report = lib.import_paths([sample_folder])
        assert [(p.path, p.stage) for p in report.failed if p.stage == "scan"] == [(cars, "scan")]
        assert "Permission denied" in next(e.message for e in lib.errors() if e.path == cars)
        sha = sha256_of(sample_folder / "cars" / "000004.jpg")
        assert len(lib.assets([sha])[sha].paths) == 2          # not forgotten while unreadable
        assert sha in {h.sha256 for h in lib.search(Query(text="000004")).hits}

        lib.import_paths([sample_folder])                      # readable again
        assert cars not in {e.path for e in lib.errors()}
    finally:
        lib.close()


def test_one_error_row_per_file_and_none_once_it_is_gone(testdata, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    bad = folder / "x.jpg"
    bad.write_bytes(b"")
    lib = open_library(tmp_path / "lib", testdata)
    try:
        lib.import_paths([folder])
        assert [(e.stage, e.message) for e in lib.errors()] == [("sniff", "empty file")]
        truncated = (testdata / "5_formats/broken/vips_truncated.jpg").read_bytes()
        bad.write_bytes(truncated)
        os.utime(bad, ns=(time.time_ns(), time.time_ns() + 10**9))  # a new mtime even on coarse clocks
        lib.import_paths([folder])
        assert [e.stage for e in lib.errors()] == ["decode"]    # replaced, not added
        bad.unlink()
        lib.import_paths([folder])
        assert lib.errors() == []
    finally:
        lib.close()


def test_an_unreadable_file_is_retried_on_the_next_import(testdata, sample_folder, tmp_path, monkeypatch):
    import mediaapp.ingest.media as media

    target = str(sample_folder / "formats" / "example.bmp")
    real_sniff = media.sniff_path

    def sniff(path):
        if os.fspath(path) == target:
            raise PermissionError(13, "Permission denied", target)
        return real_sniff(path)

    lib = open_library(tmp_path / "lib", testdata)
    try:
        with monkeypatch.context() as patch:
            patch.setattr(media, "sniff_path", sniff)
            report = lib.import_paths([sample_folder])
        assert [p.message for p in report.failed if p.path == target] == ["cannot read: Permission denied"]
        report = lib.import_paths([sample_folder])            # permissions fixed: size and mtime unchanged
        assert lib.catalog.sha_for_path(target) and report.imported == 1
        assert target not in {e.path for e in lib.errors()}
    finally:
        lib.close()


def test_folder_rules_choose_the_engines_per_folder(testdata, sample_folder, tmp_path):
    lib = Library(tmp_path / "lib", settings={
        "engines": [ENGINE], "workers": 2, "folder_engines": {str(sample_folder / "cars"): []},
        "engine_config": {ENGINE: {"testdata": str(testdata)}}})
    try:
        report = lib.import_paths([sample_folder], apis=["labels"])
        cars = sha256_of(sample_folder / "cars" / "000004.jpg")
        analysed = {sha for sha, _api in replay_engine.CALLS}
        assert cars not in analysed and len(analysed) == 4 and report.analysed == 4
        # An explicit engine list for the run overrides the folder rules.
        lib.import_paths([sample_folder / "cars"], engines=[ENGINE], apis=["labels"])
        assert (cars, "DetectLabels") in replay_engine.CALLS
    finally:
        lib.close()


def test_a_change_made_while_a_document_is_built_is_indexed(testdata, sample_folder, tmp_path, monkeypatch):
    from mediaapp.core.apis import flatten

    lib = open_library(tmp_path / "lib", testdata)
    try:
        lib.import_paths([sample_folder])
        sha = sha256_of(sample_folder / "cars" / "000004.jpg")
        text = {"TextDetections": [{"DetectedText": "Zanzibar", "Type": "LINE", "Id": 0, "Confidence": 99.0,
                                    "Geometry": {"BoundingBox": {"Width": 0.2, "Height": 0.1, "Left": 0.1,
                                                                 "Top": 0.1}}}]}
        build = SearchSync.documents

        def racing(self, shas):
            docs = build(self, shas)   # the document as it is now ...
            monkeypatch.setattr(SearchSync, "documents", build)
            # ... and meanwhile the asset changes (another thread stores a new response)
            self.catalog.store_analysis(sha256=sha, api="DetectText", engine=ENGINE, engine_version="replay-2",
                                        params="", response=text, detections=flatten("DetectText", text, ENGINE))
            return docs

        with lib.catalog.transaction() as conn:
            mark_changed(conn, [sha])                   # an earlier change queued the asset
        monkeypatch.setattr(SearchSync, "documents", racing)
        lib.reindex_assets([sha])
        assert sha in lib.catalog.feed.pending(SEARCH)       # the older document went in; the change stays queued
        assert lib.search(Query(text="zanzibar")).total == 0
        lib.sync_index()
        assert [h.sha256 for h in lib.search(Query(text="zanzibar")).hits] == [sha]
    finally:
        lib.close()


def test_a_setting_back_to_an_earlier_value_reuses_its_stored_answers(testdata, sample_folder, tmp_path):
    def run(min_confidence):
        lib = Library(tmp_path / "lib", settings={"engines": [ENGINE], "workers": 2, "min_confidence": min_confidence,
                                                  "engine_config": {ENGINE: {"testdata": str(testdata)}}})
        try:
            report = lib.import_paths([sample_folder], apis=["labels"])
            return report, lib.search(Query(labels=("Sidewalk",), limit=None)).total
        finally:
            lib.close()

    report, sidewalks = run(50.0)                      # Sidewalk is answered at 56.6
    assert report.analysed == 5 and sidewalks == 5
    report, sidewalks = run(90.0)                      # a new MinConfidence: a new request each
    assert report.analysed == 5 and sidewalks == 0
    replay_engine.CALLS.clear()
    report, sidewalks = run(50.0)                      # back: the answers stored at 50 show again, for free
    assert replay_engine.CALLS == [] and report.cached == 5 and sidewalks == 5


def test_a_document_the_index_rejects_is_an_error_and_stays_queued(testdata, sample_folder, tmp_path, monkeypatch):
    from mediaapp.search.index_base import IndexResult

    lib = open_library(tmp_path / "lib", testdata)
    try:
        sha = None
        real_upsert = lib.local_index.upsert

        def rejecting(docs):
            result = real_upsert([d for d in docs if d.asset.sha256 != sha])
            return IndexResult(result.indexed, result.failed + [(sha, "too large")] if any(
                d.asset.sha256 == sha for d in docs) else result.failed)

        sha = sha256_of(sample_folder / "cars" / "000004.jpg")
        monkeypatch.setattr(lib.local_index, "upsert", rejecting)
        lib.import_paths([sample_folder])
        [error] = [e for e in lib.errors() if e.stage == "index"]
        assert error.path.endswith("000004.jpg") and "too large" in error.message
        assert sha in lib.catalog.feed.pending(SEARCH) and lib.search(Query(text="000004")).total == 0
        monkeypatch.undo()
        lib.sync_index()
        assert lib.search(Query(text="000004")).total == 1
        assert lib.catalog.feed.pending(SEARCH) == [] and [e for e in lib.errors() if e.stage == "index"] == []
    finally:
        lib.close()
