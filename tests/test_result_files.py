"""Result files from elsewhere: hostile structure, each engine kept, every engine exported, maxima, streaming.

Each test here failed on b6754a3: a string where an object belongs, a list
for ``Response`` or ``Params``, or JSON 5,000 levels deep aborted the whole
``import-results`` batch with a traceback and the good files after it were
never stored; on-device results were stored as ``rekognition`` and then
counted as paid answers; ``export`` wrote only ``rekognition`` results; and
responses larger than Rekognition ever returns were stored.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from mediaapp.analysis.validate import load_sample
from mediaapp.cli.main import main
from mediaapp.library import Library
from mediaapp.services.result_files import MAX_DEPTH, FileRecord, NotJsonError, RefusedRecord, read_records

ENGINE = "replay_engine:ReplayEngine"
PHOTOS = ("1_objects/voc/VOC2007/JPEGImages/000004.jpg", "1_objects/voc/VOC2007/JPEGImages/000005.jpg")


@pytest.fixture
def labels(testdata) -> dict:
    return load_sample(testdata / "4_rekognition/awscli/detect-labels.json")


@pytest.fixture
def words(testdata) -> dict:
    return load_sample(testdata / "4_rekognition/awscli/detect-text.json")


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _write(folder: Path, name: str, data: object | bytes) -> Path:
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else json.dumps(data).encode())
    return path


def _deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def test_hostile_files_get_one_clear_reason_each_and_the_good_ones_are_stored(tmp_path, labels):
    sha = "ab" * 32

    def entry(**fields) -> dict:
        return {"sha256": sha, "responses": {"DetectLabels": [fields]}}

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    bad = {
        "01-string.json": ("a record must be a JSON object, not a string", "hello"),
        "02-responses-list.json": ('"responses" must be an object keyed by operation, not an array',
                                   {"sha256": sha, "responses": [labels]}),
        "03-response-list.json": ("responses.DetectLabels[0].Response must be an object, not an array",
                                  entry(Response=[1, 2])),
        "04-params-list.json": ("responses.DetectLabels[0].Params must be a string, not an array",
                                entry(Params=["x"], Response=labels)),
        "05-deep.json": (f"nested more than {MAX_DEPTH} levels deep",
                         b'{"sha256": "' + sha.encode() + b'", "DetectLabels": ' + _deep(5000) + b"}"),
        "06-s3object-string.json": ("no sha256, and no S3 key", {"S3Object": "x", "DetectLabels": labels}),
        "07-operation-string.json": ("DetectLabels must be a response object, not a string",
                                     {"sha256": sha, "DetectLabels": "Car"}),
        "08-truncated.json": ("not valid JSON: the file ends in the middle",
                              json.dumps({"sha256": sha, "DetectLabels": labels}).encode()[:100]),
        "09-binary.json": ("not valid JSON: parse error: trailing garbage", b"7\x89PNG\r\n\x1a\n" + bytes(range(256))),
        "09-syntax.json": ("not valid JSON: lexical error", b'{"sha256": x}'),
        "09-trailing.json": ("not valid JSON: parse error: trailing garbage", b"[1, 2] garbage"),
        "10-empty.json": ("empty file", b""),
        "11-engine-code.json": ("unknown engine 'os:system'",
                                entry(Engine="os:system", Response=labels)),
    }
    for name, (_, data) in bad.items():
        _write(inbox, name, data)
    good = "cd" * 32
    _write(inbox, "99-good.json", {"sha256": good, "DetectLabels": labels})
    if sys.platform != "win32":
        os.mkfifo(inbox / "12-fifo.json")
    lib = Library(tmp_path / "lib", settings={"workers": 1})
    try:
        report = lib.results.import_([inbox])
    finally:
        lib.close()
    assert (report.stored, report.images) == (1, 1)
    reasons = {Path(p).name: r for p, r in report.problems}
    assert len(report.problems) == len(reasons)  # one reason per file
    for name, (expected, _) in bad.items():
        assert expected in reasons[name], (name, reasons[name])
    if sys.platform != "win32":
        assert "not a regular file" in reasons["12-fifo.json"]


def test_a_list_file_refuses_its_bad_records_and_stores_the_rest(tmp_path, labels):
    records = [{"sha256": "01" * 32, "DetectLabels": labels}, "bad", {"sha256": "02" * 32, "DetectLabels": labels}]
    body = json.dumps(records).encode()
    # a fourth record too deep to build, then a fifth good one
    body = body[:-1] + b", " + _deep(MAX_DEPTH + 1) + b', {"sha256": "' + b"03" * 32 + b'", "DetectLabels": ' + \
        json.dumps(labels).encode() + b"}]"
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    path = _write(inbox, "batch.json", body)
    lib = Library(tmp_path / "lib", settings={"workers": 1})
    try:
        report = lib.results.import_([path])
    finally:
        lib.close()
    assert report.stored == 3
    assert report.problems == [(f"{path} (record 2)", "a record must be a JSON object, not a string"),
                               (f"{path} (record 4)", f"record refused: nested more than {MAX_DEPTH} levels deep")]


def test_records_are_read_one_at_a_time_and_those_before_a_fault_are_kept():
    stream = io.BytesIO(b'[{"a": 1}, {"b": [1.5, true, null]}, {"c": ')
    reader = read_records(stream)
    assert next(reader) == FileRecord(0, {"a": 1}, in_list=True)
    assert next(reader) == FileRecord(1, {"b": [1.5, True, None]}, in_list=True)
    with pytest.raises(NotJsonError, match="ends in the middle"):
        next(reader)
    assert list(read_records(io.BytesIO(b'{"x": {"y": [1]}}'))) == [FileRecord(0, {"x": {"y": [1]}}, in_list=False)]
    # the object itself is one level: MAX_DEPTH levels in all are built, one more is refused
    [refused] = read_records(io.BytesIO(b'{"x": ' + _deep(MAX_DEPTH) + b"}"))
    assert refused.value == RefusedRecord(f"nested more than {MAX_DEPTH} levels deep")
    [kept] = read_records(io.BytesIO(b'{"x": ' + _deep(MAX_DEPTH - 1) + b"}"))
    assert not isinstance(kept.value, RefusedRecord)


def test_responses_beyond_rekognitions_maxima_are_refused(tmp_path, labels, words):
    label = labels["Labels"][0]
    too_many_labels = {**labels, "Labels": [{**label, "Name": f"L{i}"} for i in range(1001)]}
    line = next(d for d in words["TextDetections"] if d["Type"] == "LINE")
    word = next(d for d in words["TextDetections"] if d["Type"] == "WORD")
    text = [{**line, "Id": 0}] + [{**word, "Id": i, "ParentId": 0} for i in range(1, 102)]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _write(inbox, "labels.json", {"sha256": "01" * 32, "DetectLabels": too_many_labels})
    _write(inbox, "text.json", {"sha256": "02" * 32, "DetectText": {"TextDetections": text}})
    most = {**labels, "Labels": too_many_labels["Labels"][:1000]}
    _write(inbox, "fine.json", {"sha256": "03" * 32, "DetectLabels": most})
    lib = Library(tmp_path / "lib", settings={"workers": 1})
    try:
        report = lib.results.import_([inbox])
    finally:
        lib.close()
    reasons = {Path(p).name: r for p, r in report.problems}
    assert report.stored == 1 and reasons.keys() == {"labels.json", "text.json"}
    assert "1001 Labels: Rekognition returns at most 1000" in reasons["labels.json"]
    assert "101 TextDetections of Type WORD: Rekognition returns at most 100" in reasons["text.json"]


def test_every_engine_is_exported_and_each_keeps_its_engine_when_imported(tmp_path, testdata, labels, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    copies = [Path(shutil.copy(testdata / p, photos / Path(p).name)) for p in PHOTOS]
    settings = {"engines": [ENGINE], "workers": 1, "engine_config": {ENGINE: {"testdata": str(testdata)}}}
    source = Library(tmp_path / "a", settings=settings)
    try:
        source.import_paths([photos])
        inbox = tmp_path / "inbox"
        inbox.mkdir()
        _write(inbox, f"{_sha(copies[0])}.json", labels)  # a bare Rekognition answer for the first photo
        assert source.results.import_([inbox]).stored == 1
        report = source.results.export(tmp_path / "out")
    finally:
        source.close()
    assert report.engines == {ENGINE: 6, "rekognition": 1} and report.images == 2
    assert {p.stat().st_mode & 0o777 for p in (tmp_path / "out").glob("*.json")} == {0o600}  # as private as the library

    target = Library(tmp_path / "b", settings=settings)
    try:
        imported = target.results.import_([tmp_path / "out"])
        assert (imported.stored, imported.problems) == (7, [])
        stored = target.catalog.responses(_sha(copies[0]))
        assert sorted(e["Engine"] for e in stored["DetectLabels"]) == sorted([ENGINE, "rekognition"])
        assert [e["Engine"] for e in stored["DetectText"]] == [ENGINE]
        target.import_paths([photos], engines=[])
        est = target.costs.estimate([photos], ["labels", "text", "celebrities"])
        # only the one real Rekognition answer is free: the replayed ones are another engine's
        assert (est.images, est.cached, est.calls) == (2, 1, 5)
    finally:
        target.close()

    assert main(["--library", str(tmp_path / "a"), "export", str(tmp_path / "cli-out")]) == 0
    assert f"exported 7 responses of 2 images to {tmp_path / 'cli-out'} (rekognition: 1, {ENGINE}: 6)" \
        in capsys.readouterr().out
    assert main(["--library", str(tmp_path / "a"), "export", "--engine", "local", str(tmp_path / "none")]) == 0
    assert "holds no analysis results of engine 'local'" in capsys.readouterr().err


def test_the_answer_current_where_it_was_exported_is_current_where_it_is_imported(tmp_path, testdata, labels):
    from mediaapp.core.apis import flatten
    from mediaapp.core.types import Api

    photo = Path(shutil.copy(testdata / PHOTOS[0], tmp_path / "a.jpg"))
    sha = _sha(photo)
    fewer = {**labels, "Labels": labels["Labels"][:1]}
    source = Library(tmp_path / "a", settings={"workers": 1})
    try:
        source.import_paths([photo], engines=[])
        for version, response in (("rekognition/2.0", fewer), ("rekognition/3.0", labels)):
            source.catalog.store_analysis(sha256=sha, api="DetectLabels", engine="rekognition", engine_version=version,
                                          params="MaxLabels=None;MinConfidence=50", response=response,
                                          detections=flatten(Api.DETECT_LABELS, response, "rekognition"))
        source.results.export(tmp_path / "out")
    finally:
        source.close()
    target = Library(tmp_path / "b", settings={"workers": 1})
    try:
        assert target.results.import_([tmp_path / "out"]).stored == 2
        [current] = [e for e in target.catalog.responses(sha)["DetectLabels"] if e["Current"]]
        assert current["EngineVersion"] == "rekognition/3.0"
        assert len(target.catalog.detections([sha])[sha]) == len(flatten(Api.DETECT_LABELS, labels, "rekognition"))
    finally:
        target.close()


def test_a_bad_sha256_is_refused_and_a_list_file_name_names_no_record(tmp_path, labels):
    named = "ab" * 32
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    _write(inbox, "bad-sha.json", {"sha256": "not-a-digest", "DetectLabels": labels})
    _write(inbox, f"{named}.json", [{"DetectLabels": labels}])  # one record in a list: the name is not its id
    lib = Library(tmp_path / "lib", settings={"workers": 1})
    try:
        report = lib.results.import_([inbox])
        assert not lib.catalog.responses(named)
    finally:
        lib.close()
    reasons = {Path(p).name: r for p, r in report.problems}
    assert "sha256 must be 64 hexadecimal digits" in reasons["bad-sha.json"]
    assert "no sha256" in reasons[f"{named}.json (record 1)"] and report.stored == 0
