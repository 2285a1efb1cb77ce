"""Every real Rekognition sample carried through a library import into the catalog, the index, ``mediaapp show
--json`` and the grid model's boxes; service refusals as error rows; a paid answer that fails validation kept and
not bought again; a cancel in the middle of an upload; exports naming the S3 key that really holds an image."""

from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

pytest.importorskip("pytestqt")

from mediaapp.analysis.validate import validate_response
from mediaapp.cloud import clients
from mediaapp.cloud.pricing import LEDGER_FILE, Ledger
from mediaapp.core.types import Query
from mediaapp.library import Library
from mediaapp.storage.s3 import MIB

from .stubs import SAMPLES, StubbedRekognition, run_cli, sample

PHOTO = "1_objects/voc/VOC2007/JPEGImages/000002.jpg"
PHOTOS = [PHOTO, "1_objects/voc/VOC2007/JPEGImages/000004.jpg"]
PNG = "3_faces/face_recognition/alex-lacamoire.png"
#: moto's canned answers (its source, as stored in 4_rekognition), served by the moto server over HTTP.
MOTO_CANNED = [("moto_canned/DetectLabels.json", "DetectLabels"), ("moto_canned/DetectText.json", "DetectText")]


def _sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def _folder(tmp_path, testdata, rels, name="photos"):
    folder = tmp_path / name
    folder.mkdir()
    for rel in rels:
        shutil.copy2(testdata / rel, folder / os.path.basename(rel))
    return folder


def _library(root, **cloud) -> Library:
    config = {"upload": "none", "tps": 1000, "max_concurrency": 1, **cloud}
    return Library(root, settings={"workers": 1, "engines": ["rekognition"],
                                   "engine_config": {"rekognition": config}})


def _expected(operation: str, response: dict) -> tuple[Query, list[dict]]:
    """The query a person would run for this response, and the boxes the grid must draw for it (from the sample)."""
    if operation == "DetectLabels":
        labels = response["Labels"]
        chosen = max(labels, key=lambda label: len(label.get("Instances", [])))["Name"]
        matching = [label for label in labels
                    if label["Name"] == chosen or chosen in [p["Name"] for p in label.get("Parents", [])]]
        return (Query(labels=(chosen,), min_confidence=0.0),
                [i["BoundingBox"] for label in matching for i in label.get("Instances", [])])
    if operation == "DetectText":
        words = [w for t in response["TextDetections"] if t["Type"] == "LINE" for w in t["DetectedText"].split()]
        return Query(text=max((w for w in words if w.isalpha()), key=len), min_confidence=0.0), []
    celeb = response["CelebrityFaces"][0]
    return Query(persons=(celeb["Name"],), min_confidence=0.0), [celeb["Face"]["BoundingBox"]]


def _boxes(detections) -> list[tuple]:
    return sorted(tuple(round(v, 6) for v in (d.box.left, d.box.top, d.box.width, d.box.height))
                  for d in detections)


def _rek_boxes(boxes: list[dict]) -> list[tuple]:
    return sorted(tuple(round(b[k], 6) for k in ("Left", "Top", "Width", "Height")) for b in boxes)


def _check_carried(qtbot, root, path, operation: str, expected: dict) -> None:
    """``expected`` (what Rekognition answered) is stored valid, indexed, shown by the CLI and boxed in the grid."""
    from PySide6.QtWidgets import QWidget

    from mediaapp.ui.asset_list import AssetListModel, Roles
    from mediaapp.ui.background import BackgroundRunner

    sha = _sha(path)
    query, boxes = _expected(operation, expected)
    lib = Library(root)
    try:
        stored = lib.show(path)[operation]
        validate_response(operation, stored)
        assert stored == expected
        page = lib.search(query)
        assert [h.sha256 for h in page.hits] == [sha]
        assert _boxes(lib.matching_detections(query, [sha])[sha]) == _rek_boxes(boxes)

        holder = QWidget()  # owns the runner and the model: qtbot deletes them before the interpreter exits
        qtbot.addWidget(holder)
        runner = BackgroundRunner(parent=holder)
        model = AssetListModel(runner, parent=holder)
        model.library = lib
        with qtbot.waitSignal(model.pageLoaded, timeout=30000):
            model.set_query(query)
        assert model.rowCount() == 1 and model.index(0).data(Roles.SHA256) == sha
        assert _boxes(model.index(0).data(Roles.DETECTIONS)) == _rek_boxes(boxes)
        runner.shutdown()
        model.loader.cancel_all()
    finally:
        lib.close()
    assert run_cli(["--library", str(root), "show", str(path), "--json"]) == 0


@pytest.mark.parametrize("rel, operation", SAMPLES)
def test_each_real_sample_is_carried_everywhere(qtbot, tmp_path, testdata, capsys, rel, operation):
    response = sample(testdata, rel)
    photos = _folder(tmp_path, testdata, [PHOTO])
    stub = StubbedRekognition()
    stub.respond(operation, response)
    lib = _library(tmp_path / "lib")
    try:
        report = lib.import_paths([photos], apis=[operation])  # engines from the settings: rekognition
        assert report.failed == [] and report.analysed == 1 and len(stub.calls) == 1
    finally:
        lib.close()
    capsys.readouterr()
    _check_carried(qtbot, tmp_path / "lib", photos / os.path.basename(PHOTO), operation, response)
    assert json.loads(capsys.readouterr().out)[operation] == response


@pytest.mark.parametrize("rel, operation", MOTO_CANNED)
def test_moto_canned_answers_over_http_are_carried_everywhere(qtbot, tmp_path, testdata, moto_server, capsys,
                                                                rel, operation):
    """No stub: the engine's real boto3 client asks the moto server, whose canned answers botocore parses."""
    photos = _folder(tmp_path, testdata, [PHOTO])
    lib = _library(tmp_path / "lib", endpoint_url=moto_server, region="us-east-1")
    try:
        report = lib.import_paths([photos], apis=[operation])
        assert report.failed == [] and report.analysed == 1
        stored = lib.show(photos / os.path.basename(PHOTO))[operation]
    finally:
        lib.close()
    canned = sample(testdata, rel)
    if operation == "DetectText":
        assert stored == canned
    else:  # the canned labels carry members the service model lacks (CssColor...); the parser drops them
        assert [(lb["Name"], lb["Confidence"]) for lb in stored["Labels"]] == \
            [(lb["Name"], lb["Confidence"]) for lb in canned["Labels"]]
        assert [i["BoundingBox"] for i in stored["Labels"][0]["Instances"]] == \
            [i["BoundingBox"] for i in canned["Labels"][0]["Instances"]]
    capsys.readouterr()
    _check_carried(qtbot, tmp_path / "lib", photos / os.path.basename(PHOTO), operation, stored)
    assert json.loads(capsys.readouterr().out)[operation] == stored


@pytest.mark.parametrize("code, words, resent", [
    ("ImageTooLargeException", "larger than Rekognition accepts", False),
    ("InvalidS3ObjectException", "could not read the uploaded copy in S3", True),
])
def test_service_refusals_become_error_rows(tmp_path, testdata, code, words, resent):
    photos = _folder(tmp_path, testdata, PHOTOS)
    stub = StubbedRekognition()
    for _ in PHOTOS:
        stub.fail("DetectLabels", code, "the service says no")
    lib = _library(tmp_path / "lib")
    try:
        report = lib.import_paths([photos], apis=["labels"])
        assert report.analysed == 0 and len(report.failed) == 2
        rows = [e for e in lib.errors() if e.stage == "analysis:DetectLabels"]
        assert sorted(os.path.basename(e.path) for e in rows) == sorted(os.path.basename(p) for p in PHOTOS)
        assert all(words in e.message and "the service says no" in e.message for e in rows), rows
        if resent:  # a transient refusal is asked again by the next import
            for _ in PHOTOS:
                stub.fail("DetectLabels", code, "the service says no")
        report = lib.import_paths([photos], apis=["labels"])
        assert len(stub.calls) == (4 if resent else 2) and len(report.failed) == 2
    finally:
        lib.close()


def test_a_paid_invalid_answer_is_kept_and_the_next_import_does_not_buy_it_again(tmp_path, testdata, capsys):
    broken = sample(testdata, "awscli/detect-text.json")
    broken["TextDetections"][1]["Confidence"] = 250.0  # passes the Stubber's shape check; a Percent is 0-100
    photos = _folder(tmp_path, testdata, [PHOTO])
    stub = StubbedRekognition()
    stub.respond("DetectText", broken)
    root = tmp_path / "lib"
    lib = _library(root)
    try:
        report = lib.import_paths([photos], apis=["text"])
        assert report.analysed == 0 and len(stub.calls) == 1
        [row] = [e for e in lib.errors() if e.stage == "analysis:DetectText"]
        assert "invalid DetectText" in row.message and "TextDetections[1].Confidence" in row.message
        report = lib.import_paths([photos], apis=["text"])  # the Stubber has nothing queued: a call would fail
        assert len(stub.calls) == 1 and "not bought again" in report.failed[0].message
    finally:
        lib.close()
    ledger = Ledger(root / LEDGER_FILE)
    try:
        assert ledger.month_calls(["DetectText"]) == 1 and ledger.quarantine_count() == 1
    finally:
        ledger.close()
    assert run_cli(["--library", str(root), "cloud", "usage"]) == 0
    out = capsys.readouterr().out
    assert "DetectText 1" in out and "1 paid answers failed validation" in out


def _noise_png(path, width=2400, height=2000) -> int:
    """A PNG of random pixels (incompressible: about 3 bytes a pixel); returns its size in bytes."""
    from PIL import Image

    Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)).save(path, compress_level=0)
    return path.stat().st_size


def test_cancel_during_an_import_upload_aborts_it_and_leaves_nothing(tmp_path, s3_bucket):
    from mediaapp.cloud.transfers import watch_uploads
    from mediaapp.tasks import CancelToken

    endpoint, bucket, s3 = s3_bucket
    photos = tmp_path / "photos"
    photos.mkdir()
    size = _noise_png(photos / "big.png")
    assert 12 * MIB < size < 15 * MIB  # uploaded as the original (Rekognition reads PNGs up to 15 MB from S3)
    stub = StubbedRekognition(s3_factory=lambda config: clients.default_client("s3", config))
    s3_calls: list[str] = []
    s3.meta.events.register("provide-client-params.s3.*", lambda model, **kw: s3_calls.append(model.name))
    token = CancelToken()
    sent: list[int] = []

    def on_bytes(n: int) -> None:
        sent.append(n)
        if sum(sent) >= 6 * MIB:  # inside the second 5 MiB part
            token.cancel()

    lib = _library(tmp_path / "lib", upload="original", bucket=bucket, endpoint_url=endpoint, region="us-east-1",
                   multipart_threshold_mb=5, multipart_chunk_mb=5)
    try:
        with watch_uploads(on_bytes=on_bytes, cancel=token) as watch:
            report = lib.import_paths([photos], apis=["labels"], cancel=token)
    finally:
        lib.close()
    assert report.cancelled and report.analysed == 0 and stub.calls == []
    assert 6 * MIB <= sum(sent) <= 10 * MIB < size
    assert watch.totals().files_uploaded == 0 and watch.totals().bytes_sent == sum(sent)
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


@pytest.mark.parametrize("cloud, suffixes", [
    ({"upload": "original"}, {".jpg", ".png"}),
    ({"upload": "proxy", "proxy_max_side": 256}, {"-p256.jpg"}),
    ({"upload": "proxy", "delete_after": True}, set()),
])
def test_export_names_the_key_that_really_holds_each_image(tmp_path, testdata, s3_bucket, cloud, suffixes):

    endpoint, bucket, s3 = s3_bucket
    photos = _folder(tmp_path, testdata, [PHOTO, PNG])
    stub = StubbedRekognition(s3_factory=lambda config: clients.default_client("s3", config))
    for _ in range(2):
        stub.respond("DetectLabels", sample(testdata, "botocore_examples/DetectLabels.json"))
    lib = _library(tmp_path / "lib", bucket=bucket, endpoint_url=endpoint, region="us-east-1", prefix="m", **cloud)
    try:
        assert lib.import_paths([photos], apis=["labels"]).failed == []
        report = lib.results.export(tmp_path / "out")
    finally:
        lib.close()
    assert report.images == 2
    in_bucket = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    exported = {}
    for name in (PHOTO, PNG):
        sha = _sha(photos / os.path.basename(name))
        record = json.loads((tmp_path / "out" / f"{sha}.json").read_text())
        exported[name] = record.get("s3_key")
        if suffixes:
            assert record["s3_bucket"] == bucket and record["s3_key"] in in_bucket
            assert record["s3_key"].startswith(f"m/{sha[:2]}/{sha}")
        else:
            assert "s3_key" not in record and "s3_bucket" not in record
    assert {k.rsplit(_sha(photos / os.path.basename(n)), 1)[1] for n, k in exported.items() if k} == suffixes
    assert len(in_bucket) == (0 if not suffixes else 2)
